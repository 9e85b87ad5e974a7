/**
 * PowerLimitGuard: the only way the agent changes a GPU power limit. It enforces the invariant
 * "never leave a GPU throttled":
 *
 *   - every change is journaled durably (journal.ts) *before* it is applied;
 *   - limits are clamped to the GPU's constraints (and the clamp is logged);
 *   - one serialized command queue per GPU; one limit across the GPUs of a data-parallel job
 *     (`setLimitForGroup`, so no GPU becomes the straggler);
 *   - only GPUs visible to the job (CUDA_VISIBLE_DEVICES) are touched; MIG instances and GPUs in
 *     MIG mode are refused; GPUs in advise mode are refused with the reason;
 *   - runs take GPUs through leases (`claim`, limits.ts): a GPU belongs to one run machine-wide
 *     (claims.ts), and releasing a lease restores that run's GPUs only;
 *   - every limit is restored on `restoreAll()` (shutdown), on SIGINT/SIGTERM/SIGHUP, on uncaught
 *     exceptions and synchronously in `process.on('exit')` (the languageclient watchdog calls
 *     process.exit when the editor dies; async work would never run);
 *   - `restoreLeftovers()` (call it first, at startup) restores what a killed agent left behind.
 *
 * State machine per GPU: untouched → (claim) claimed → (setLimit) journaled → applied →
 * (lease release) untouched. After `restoreAll*()` (agent shutdown) the guard is closed: queued and
 * new changes and claims are refused.
 */
import type { GpuBackend, GpuControl, GpuInfo } from '../backend';
import { GpuError } from '../errors';
import { describeError, type Logger } from '../../log';
import { MIG_REFUSAL } from '../visibility';
import type { JournalEntry, LimitJournal } from './journal';
import { describeHolder, GpuClaimedError, type ClaimHolder, type GpuClaims, type StaleClaim } from './claims';
import type { ClaimRequest, GpuLease, GpuLimits, GroupLimitResult, SetLimitResult } from '../limits';
import { currentUserName } from '../../process';

export type { GroupLimitResult, SetLimitResult } from '../limits';

export class GpuControlRefusedError extends GpuError {
  constructor(message: string, code: 'ADVISE_MODE' | 'MIG' | 'NOT_VISIBLE' | 'CLOSED' | 'NO_COMMON_RANGE') {
    super(message, code);
    this.name = 'GpuControlRefusedError';
  }
}

export interface RestoreReport {
  restored: JournalEntry[];
  failed: { entry: JournalEntry; error: string }[];
  /** Entries kept for a later start (their GPU is not reachable through this backend). */
  kept: { entry: JournalEntry; reason: string }[];
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface PowerLimitGuardOptions {
  journal: LimitJournal;
  log: Logger;
  /** The GPUs this agent may control (after CUDA_VISIBLE_DEVICES); default: all the backend's. */
  visible?: GpuInfo[];
  now?: () => number;
  /** Machine-wide claims (claims.ts); none for simulated GPUs, which exist per process. */
  claims?: GpuClaims;
}

export class PowerLimitGuard implements GpuLimits {
  readonly label = 'this agent';
  private readonly queues = new Map<string, Promise<unknown>>();
  /** GPUs this process has changed (UUID → the limit to restore). */
  private readonly owned = new Map<string, { index: number; restoreMw: number }>();
  /** GPUs leased to a run of this process (UUID → who). */
  private readonly claimed = new Map<string, ClaimHolder>();
  private readonly visible: GpuInfo[];
  private closed = false;

  constructor(
    readonly backend: GpuBackend,
    private readonly options: PowerLimitGuardOptions,
  ) {
    this.visible = options.visible ?? backend.devices();
  }

  private get log(): Logger {
    return this.options.log;
  }

  /** Restores every limit a dead agent journaled. Synchronous: run it before anything else. */
  restoreLeftovers(): RestoreReport {
    const report: RestoreReport = { restored: [], failed: [], kept: [] };
    const byUuid = new Map(this.backend.devices().map((d) => [d.uuid, d]));
    for (const entry of this.options.journal.orphaned()) {
      if (entry.backend === 'simulated') {
        // Simulated GPUs vanish with their process: nothing to restore.
        this.options.journal.remove([entry.uuid]);
        continue;
      }
      const device = byUuid.get(entry.uuid);
      const holder = this.options.claims?.holder(entry.uuid);
      if (holder && holder.agentPid !== process.pid) {
        // That agent took this GPU over from the dead one and restores NVML's default at its end.
        const reason = `GPU ${entry.uuid} is in use by ${describeHolder(holder)}; left at ${entry.newLimitMw} mW by agent pid ${entry.ownerPid}, it is restored when that run ends.`;
        this.log.info(reason);
        report.kept.push({ entry, reason });
        continue;
      }
      if (!device || this.backend.simulated) {
        const reason = `GPU ${entry.uuid} is not reachable through ${this.backend.label}; its limit (${entry.newLimitMw} mW, was ${entry.previousLimitMw} mW) will be restored at a later start.`;
        this.log.warn(reason);
        report.kept.push({ entry, reason });
        continue;
      }
      try {
        this.backend.setPowerLimitSync(device.index, entry.previousLimitMw);
        this.options.journal.remove([entry.uuid]);
        this.options.claims?.clearStale(entry.uuid);
        report.restored.push(entry);
        this.log.info(`restored GPU ${device.index} (${entry.uuid}) to ${entry.previousLimitMw} mW, left at ${entry.newLimitMw} mW by agent pid ${entry.ownerPid}`);
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        report.failed.push({ entry, error });
        this.log.error(`could not restore GPU ${entry.uuid} to ${entry.previousLimitMw} mW (left by agent pid ${entry.ownerPid})`, e);
      }
    }
    return report;
  }

  private find(uuid: string): GpuInfo {
    const d = this.visible.find((v) => v.uuid === uuid);
    if (d) return d;
    if (/^MIG-/i.test(uuid)) throw new GpuControlRefusedError(`${uuid} ${MIG_REFUSAL}`, 'MIG');
    const known = this.backend.devices().some((v) => v.uuid === uuid);
    throw new GpuControlRefusedError(
      known
        ? `GPU ${uuid} is not visible to this job (CUDA_VISIBLE_DEVICES=${process.env.CUDA_VISIBLE_DEVICES ?? ''}), so Chase leaves it alone.`
        : `No GPU ${uuid} on this host; \`chase-agent gpus\` lists the GPUs.`,
      'NOT_VISIBLE',
    );
  }

  private checkOpen(): void {
    if (this.closed) throw new GpuControlRefusedError('The agent is shutting down and has restored power limits; no new limits are applied.', 'CLOSED');
  }

  private async checkControllable(d: GpuInfo): Promise<void> {
    this.checkOpen();
    if (d.migEnabled) throw new GpuControlRefusedError(`GPU ${d.index} (${d.uuid}) is in MIG mode: ${MIG_REFUSAL}`, 'MIG');
    const control = await this.backend.control(d.index);
    if (control.state === 'advise') throw new GpuControlRefusedError(`GPU ${d.index} (${d.uuid}) is in advise mode: ${control.reason}`, 'ADVISE_MODE');
  }

  private clamp(d: { minLimitMw: number; maxLimitMw: number }, requestedMw: number, what: string): { mw: number; clamped: boolean } {
    const mw = Math.round(Math.min(d.maxLimitMw, Math.max(d.minLimitMw, requestedMw)));
    const clamped = mw !== Math.round(requestedMw);
    if (clamped) this.log.warn(`power limit ${requestedMw} mW for ${what} is outside its constraints ${d.minLimitMw}-${d.maxLimitMw} mW; clamped to ${mw} mW`);
    return { mw, clamped };
  }

  /** Runs `task` after every earlier command for this GPU (one queue per GPU). */
  private enqueue<T>(uuid: string, task: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(uuid) ?? Promise.resolve();
    const next = prev.then(task, task);
    this.queues.set(
      uuid,
      next.catch(() => undefined),
    );
    return next;
  }

  private apply(d: GpuInfo, mw: number): Promise<void> {
    return this.enqueue(d.uuid, async () => {
      if (this.closed) throw new GpuControlRefusedError('The agent is shutting down; limit not applied.', 'CLOSED');
      const owned = this.owned.get(d.uuid);
      // Already at this limit (a run re-applies its limit every period): no journal write, no set.
      if (owned && (await this.backend.getPowerLimit(d.index)) === mw) return;
      const previous = owned ? owned.restoreMw : await this.backend.getPowerLimit(d.index);
      // Journal first: if the agent dies between these lines, the next start restores `previous`;
      // then the claim, for an agent with another state dir that takes the GPU over after we die.
      const entry = this.options.journal.record({ uuid: d.uuid, backend: this.backend.kind, index: d.index, previousLimitMw: previous, newLimitMw: mw }, this.options.now?.());
      if (!owned && this.claimed.has(d.uuid)) this.noteRestore(d, entry.previousLimitMw);
      this.owned.set(d.uuid, { index: d.index, restoreMw: entry.previousLimitMw });
      await this.backend.setPowerLimit(d.index, mw);
      this.log.info(`GPU ${d.index} (${d.uuid}): power limit ${mw} mW (restores to ${entry.previousLimitMw} mW)`);
    });
  }

  /** Sets one GPU's limit, clamped to its constraints. */
  async setLimit(uuid: string, requestedMw: number): Promise<SetLimitResult> {
    const d = this.find(uuid);
    await this.checkControllable(d);
    const { mw, clamped } = this.clamp(d, requestedMw, `GPU ${d.index} (${d.uuid})`);
    await this.apply(d, mw);
    return { uuid, index: d.index, requestedMw, appliedMw: mw, clamped };
  }

  /**
   * One limit for all GPUs of a data-parallel job: clamped to the range every GPU accepts, so all
   * run at the same limit. If any GPU fails, the others go back to their previous limit and the
   * error is thrown: the group never ends up with mixed limits.
   */
  async setLimitForGroup(uuids: string[], requestedMw: number): Promise<GroupLimitResult> {
    const devices = [...new Set(uuids)].map((u) => this.find(u));
    if (devices.length === 0) throw new GpuControlRefusedError('setLimitForGroup needs at least one GPU.', 'NOT_VISIBLE');
    for (const d of devices) await this.checkControllable(d);
    const range = { minLimitMw: Math.max(...devices.map((d) => d.minLimitMw)), maxLimitMw: Math.min(...devices.map((d) => d.maxLimitMw)) };
    if (range.minLimitMw > range.maxLimitMw) {
      throw new GpuControlRefusedError(`GPUs ${devices.map((d) => d.index).join(', ')} have no power limit in common (${range.minLimitMw} > ${range.maxLimitMw} mW); give them separate limits.`, 'NO_COMMON_RANGE');
    }
    const { mw, clamped } = this.clamp(range, requestedMw, `GPU group ${devices.map((d) => d.index).join(',')}`);
    const before = new Map<string, number>();
    for (const d of devices) before.set(d.uuid, await this.backend.getPowerLimit(d.index));
    const outcomes = await Promise.allSettled(devices.map((d) => this.apply(d, mw)));
    const failures = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [`GPU ${devices[i].index}: ${o.reason instanceof Error ? o.reason.message : String(o.reason)}`] : []));
    if (failures.length > 0) {
      await Promise.allSettled(devices.map((d, i) => (outcomes[i].status === 'fulfilled' ? this.apply(d, before.get(d.uuid) as number) : Promise.resolve())));
      throw new GpuError(`Could not set ${mw} mW on every GPU of the group, so the group was put back to its previous limits. ${failures.join('; ')}`, 'GROUP_FAILED');
    }
    return { requestedMw, appliedMw: mw, clamped, results: devices.map((d) => ({ uuid: d.uuid, index: d.index, requestedMw, appliedMw: mw, clamped })) };
  }

  control(index: number): Promise<GpuControl> {
    return this.backend.control(index);
  }

  /** Leases GPUs to a run of this agent's user (the privileged service uses `claimFor` with the peer's user). */
  claim(uuids: string[], request: ClaimRequest): Promise<GpuLease> {
    return this.claimFor(uuids, { ...request, user: currentUserName() });
  }

  /**
   * Claims the GPUs for one run, in this process and machine-wide (all or none), and returns the
   * lease through which the run sets and finally restores their limits. A stale claim of a dead
   * agent is taken over (adoptStale: what that agent may have left throttled is restored when this
   * lease ends).
   */
  async claimFor(uuids: string[], holder: ClaimHolder): Promise<GpuLease> {
    this.checkOpen();
    const devices = [...new Set(uuids)].map((u) => this.find(u));
    if (devices.length === 0) throw new GpuControlRefusedError('A run needs at least one GPU.', 'NOT_VISIBLE');
    const taken: GpuInfo[] = [];
    try {
      for (const d of devices) {
        const mine = this.claimed.get(d.uuid);
        if (mine) throw new GpuClaimedError(`GPU ${d.index} (${d.uuid}) is already controlled by another run: ${describeHolder(mine)}. A GPU belongs to one run at a time.`, mine);
        let tookOver: StaleClaim | undefined;
        try {
          tookOver = this.options.claims?.acquire(d.uuid, holder, { label: `GPU ${d.index} (${d.uuid})`, nowMs: this.options.now?.() }).tookOver;
        } catch (e) {
          if (e instanceof GpuClaimedError) throw e;
          throw new GpuError(`Could not claim GPU ${d.index} (${d.uuid}) in ${this.options.claims?.dir}: ${describeError(e)}`, 'CLAIM_FAILED', { cause: e });
        }
        this.claimed.set(d.uuid, holder);
        taken.push(d);
        if (tookOver) await this.adoptStale(d, tookOver);
      }
    } catch (e) {
      for (const d of taken) this.unclaim(d.uuid);
      throw e;
    }
    return this.lease(devices.map((d) => d.uuid), holder);
  }

  private lease(uuids: string[], holder: ClaimHolder): GpuLease {
    let released: Promise<void> | undefined;
    return {
      uuids,
      control: async () => {
        for (const uuid of uuids) {
          try {
            await this.checkControllable(this.find(uuid));
          } catch (e) {
            if (e instanceof GpuControlRefusedError) return { state: 'advise', reason: e.message };
            throw e;
          }
        }
        return { state: 'permitted' };
      },
      setLimit: (mw) => {
        if (released) return Promise.reject(new GpuControlRefusedError(`Run ${holder.runId} has ended; its GPUs are restored and no longer its own.`, 'CLOSED'));
        return this.setLimitForGroup(uuids, mw);
      },
      // a GPU whose restore failed stays claimed (and journaled): the exit handler and the next
      // start retry, and no other run takes its throttled limit for the original meanwhile
      release: () =>
        (released ??= this.restore(uuids).then(() => {
          for (const u of uuids) if (!this.owned.has(u)) this.unclaim(u);
        })),
    };
  }

  /**
   * Took over a dead agent's claim. If that agent changed the GPU's limit (its journal may be in
   * another state dir, out of our reach), this lease restores the limit it recorded from before —
   * or NVML's default when it recorded none we can trust — rather than the limit it left.
   */
  private async adoptStale(d: GpuInfo, stale: StaleClaim): Promise<void> {
    const who = describeHolder(stale.holder);
    const targetMw = stale.changed ? (stale.restoreMw ?? d.defaultLimitMw) : undefined;
    const current = await this.backend.getPowerLimit(d.index);
    if (targetMw === undefined || current === targetMw || (await this.backend.control(d.index)).state !== 'permitted') {
      this.log.info(`GPU ${d.index} (${d.uuid}): took over the claim of ${who}, which is gone${stale.changed ? '' : ' (it had changed no limit)'}`);
      return;
    }
    // Journaled like a change of ours: if this agent dies too, its next start still restores it.
    const entry = this.options.journal.record({ uuid: d.uuid, backend: this.backend.kind, index: d.index, previousLimitMw: targetMw, newLimitMw: current }, this.options.now?.());
    this.owned.set(d.uuid, { index: d.index, restoreMw: entry.previousLimitMw });
    this.noteRestore(d, entry.previousLimitMw);
    const what = stale.restoreMw !== undefined ? 'its limit from before that agent' : "NVML's default";
    this.log.warn(`GPU ${d.index} (${d.uuid}) is at ${current} mW, and the claim of ${who} on it is stale (that agent is gone): it set this limit, so this run restores ${what}, ${targetMw} mW, at its end.`);
  }

  /** Records the limit to restore in our claim; the journal already has it, so a failure only costs other state dirs that knowledge. */
  private noteRestore(d: GpuInfo, restoreMw: number): void {
    try {
      this.options.claims?.recordRestore(d.uuid, restoreMw);
    } catch (e) {
      this.log.warn(`GPU ${d.index} (${d.uuid}): could not note the limit to restore in its claim: ${describeError(e)}`);
    }
  }

  private unclaim(uuid: string): void {
    this.claimed.delete(uuid);
    try {
      this.options.claims?.release(uuid);
    } catch (e) {
      this.log.warn(`could not remove the claim on GPU ${uuid}: ${describeError(e)}`);
    }
  }

  /** Bookkeeping once a GPU is back at its limit from before Chase: its journal entry goes only now. */
  private restored(uuid: string, o: { index: number; restoreMw: number }): void {
    this.owned.delete(uuid);
    this.log.info(`GPU ${o.index} (${uuid}): power limit restored to ${o.restoreMw} mW`);
    try {
      this.options.journal.remove([uuid]);
    } catch (e) {
      // The GPU is restored; a stale entry only makes a later start set the same limit again.
      this.log.warn(`GPU ${o.index} (${uuid}) is restored, but its journal entry could not be removed: ${describeError(e)}`);
    }
  }

  private restoreFailed(uuid: string, o: { restoreMw: number }, e: unknown): void {
    this.log.error(`could not restore GPU ${uuid} to ${o.restoreMw} mW; the next agent start will retry`, e);
  }

  /** Restores these GPUs (a run's) through their queues, after pending commands; the guard stays open for other runs. */
  async restore(uuids: readonly string[]): Promise<void> {
    const pending = uuids.flatMap((uuid) => {
      const o = this.owned.get(uuid);
      if (!o) return [];
      return [
        this.enqueue(uuid, async () => {
          await this.backend.setPowerLimit(o.index, o.restoreMw);
          this.restored(uuid, o);
        }).catch((e: unknown) => this.restoreFailed(uuid, o, e)),
      ];
    });
    await Promise.all(pending);
  }

  /** Agent shutdown: restores every limit this process changed and frees every claim; the guard is closed afterwards. */
  async restoreAll(): Promise<void> {
    this.closed = true;
    await this.restore([...this.owned.keys()]);
    for (const uuid of [...this.claimed.keys()]) if (!this.owned.has(uuid)) this.unclaim(uuid);
  }

  /**
   * Restores every limit this process changed and frees its claims without yielding: safe in
   * `process.on('exit')` and signal handlers. Idempotent.
   */
  restoreAllSync(): void {
    this.closed = true;
    for (const [uuid, o] of [...this.owned.entries()]) {
      try {
        this.backend.setPowerLimitSync(o.index, o.restoreMw);
        this.restored(uuid, o);
      } catch (e) {
        this.restoreFailed(uuid, o, e);
      }
    }
    for (const uuid of [...this.claimed.keys()]) if (!this.owned.has(uuid)) this.unclaim(uuid);
  }

  /**
   * Restores limits on process exit, SIGINT/SIGTERM/SIGHUP and uncaught exceptions. On a signal,
   * after restoring, the signal is re-raised with its default action unless someone else also
   * handles it (then exiting is theirs to do; 'exit' restores again, idempotently).
   * Returns a function that removes the handlers.
   */
  installExitHandlers(proc: NodeJS.Process = process): () => void {
    const onExit = (): void => this.restoreAllSync();
    const onCrash = (): void => this.restoreAllSync();
    const onSignal = (signal: NodeJS.Signals): void => {
      this.log.warn(`${signal}: restoring GPU power limits`);
      this.restoreAllSync();
      if (proc.listenerCount(signal) === 1) {
        uninstall();
        proc.kill(proc.pid, signal);
      }
    };
    proc.on('exit', onExit);
    proc.on('uncaughtExceptionMonitor', onCrash);
    for (const s of SIGNALS) proc.on(s, onSignal);
    const uninstall = (): void => {
      proc.off('exit', onExit);
      proc.off('uncaughtExceptionMonitor', onCrash);
      for (const s of SIGNALS) proc.off(s, onSignal);
    };
    return uninstall;
  }
}
