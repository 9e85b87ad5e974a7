/**
 * Machine-wide GPU claims: one run controls a GPU at a time, whichever agent it runs in (the
 * extension's agent, a `chase-agent run`, the privileged service on behalf of a user) and whatever
 * state directory that agent uses. A claim is a small JSON file per GPU UUID,
 * `chase-gpu-<uuid>.claim`, in a directory every agent on the host shares:
 *
 *   env CHASE_CLAIMS_DIR, else /run/lock (Linux: world-writable with the sticky bit, emptied at
 *   boot — the FHS place for lock files), else the system temp directory.
 *
 * A claim names the agent process that will restore the GPU (`agentPid` + its start time), the
 * process it was taken for (`pid`), the user and the run; once that agent changes the GPU's limit it
 * adds `restoreMw`, the limit from before (journal first, then the claim, then NVML). It is *stale*
 * when that agent is gone (dead pid, a reused pid with another start time, another boot); a stale
 * claim is taken over, and the taker learns what the dead agent may have left behind (StaleClaim):
 * nothing, when it recorded no change; else the GPU goes back to its recorded `restoreMw` — trusted
 * only from a claim file of root or of the taker's own user — or to NVML's default limit (guard.ts).
 *
 * Simulated GPUs exist per process and take no file claims (their UUIDs repeat in every process).
 *
 * State machine per GPU: free → (acquire) held by us → (release) free; held by a live agent →
 * refused with who holds it; held by a dead agent → (acquire) taken over → held by us.
 */
import { accessSync, constants, mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { currentBootId, currentUserName, processStartTime, sameProcessAlive, sleepSync } from '../../process';
import { createExclusive, readExclusive } from './exclusiveFile';
import { GpuError } from '../errors';

/** Who holds a GPU: shown to whoever is refused it. */
export interface ClaimHolder {
  /** The run (or lease) the GPU belongs to. */
  runId: string;
  /** The process the claim is for: the job, or the agent that launches it. */
  pid: number;
  user: string;
}

export interface ClaimRecord extends ClaimHolder {
  version: 1;
  uuid: string;
  /** The agent process that restores the GPU when the claim ends. */
  agentPid: number;
  /** agentPid's start time (processStartTime): a reused pid is not the claimant. */
  agentStart?: string;
  bootId?: string;
  claimedAtMs: number;
  /** Set when the agent first changed the GPU's limit: the limit before it. */
  restoreMw?: number;
}

/** A dead agent's claim that was taken over, and what it may have left behind. */
export interface StaleClaim {
  holder: ClaimRecord;
  /** Whether that agent may have changed the GPU's limit (unreadable claims: assume it did). */
  changed: boolean;
  /** The limit before it did, when it recorded one in a claim file this agent can trust. */
  restoreMw?: number;
}

/** A GPU another run holds; the message says whose it is and what to do. */
export class GpuClaimedError extends GpuError {
  constructor(
    message: string,
    readonly holder?: ClaimHolder,
  ) {
    super(message, 'CLAIMED');
    this.name = 'GpuClaimedError';
  }
}

/** `who` in refusals: "run R of pid N (user U)". */
export function describeHolder(h: ClaimHolder): string {
  return `run ${h.runId} of pid ${h.pid} (user ${h.user})`;
}

export function defaultClaimsDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.CHASE_CLAIMS_DIR) return env.CHASE_CLAIMS_DIR;
  if (platform === 'linux') {
    try {
      accessSync('/run/lock', constants.W_OK | constants.X_OK);
      return '/run/lock';
    } catch {
      /* no /run/lock, or not writable for this user: fall back */
    }
  }
  return tmpdir();
}

/** A claim file being written by an older agent, or damaged: how long it may stay unreadable before it counts as stale. */
const UNREADABLE_GRACE_MS = 2_000;
/** The takeover mutex: held for a read, an unlink and a link; older than this, its holder died. */
const TAKEOVER_STALE_MS = 10_000;

export class GpuClaims {
  constructor(readonly dir: string = defaultClaimsDir()) {}

  private file(uuid: string): string {
    return join(this.dir, `chase-gpu-${uuid.replace(/[^A-Za-z0-9-]/g, '_')}.claim`);
  }

  /** The live claim on `uuid`, if any (a stale one counts as none). */
  holder(uuid: string): ClaimRecord | undefined {
    const r = this.read(uuid);
    return r.kind === 'live' ? r.record : undefined;
  }

  /**
   * Claims `uuid` for this agent. Throws GpuClaimedError when a live agent holds it. Returns the
   * stale claim it took over, if any (its agent may have left the GPU throttled).
   */
  acquire(uuid: string, holder: ClaimHolder, { label = `GPU ${uuid}`, nowMs = Date.now() }: { label?: string; nowMs?: number } = {}): { tookOver?: StaleClaim } {
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    const record: ClaimRecord = { version: 1, uuid, ...holder, agentPid: process.pid, agentStart: processStartTime(process.pid), bootId: currentBootId(), claimedAtMs: nowMs };
    const path = this.file(uuid);
    let tookOver: StaleClaim | undefined;
    for (let attempt = 0; attempt < 50; attempt++) {
      // 0644: anyone may read who holds a GPU; only the claimant (or root) may remove it
      if (createExclusive(path, JSON.stringify(record) + '\n', 0o644)) return tookOver ? { tookOver } : {};
      const seen = this.read(uuid);
      if (seen.kind === 'live') {
        if (seen.record.agentPid === process.pid && seen.record.agentStart === record.agentStart) {
          throw new GpuClaimedError(`${label} is already controlled by another run in this agent: ${describeHolder(seen.record)}. A GPU belongs to one run at a time.`, seen.record);
        }
        throw new GpuClaimedError(
          `${label} is already controlled by another run: ${describeHolder(seen.record)}, agent pid ${seen.record.agentPid}, since ${new Date(seen.record.claimedAtMs).toISOString()}. ` +
            'A GPU belongs to one run at a time: wait for that run to end, or choose another GPU.',
          seen.record,
        );
      }
      if (seen.kind === 'stale') {
        tookOver ??= staleClaim(seen);
        if (this.takeOver(uuid, path, seen.content, label)) continue;
      }
      // being written, or another agent is taking the stale claim over: look again shortly
      if (seen.kind !== 'gone') sleepSync(Math.min(50, 5 + attempt * 5));
      // 'gone': released meanwhile — try again at once
    }
    throw new GpuClaimedError(`Could not claim ${label}: its claim file ${path} kept changing (several agents claiming at once). Try again.`);
  }

  /**
   * Notes in our claim the limit `uuid` had before this agent first changed it, so that an agent
   * taking the claim over after we die knows what to restore. Atomic (temp file + rename).
   */
  recordRestore(uuid: string, restoreMw: number): void {
    const r = this.read(uuid);
    if (r.kind !== 'live' || r.record.agentPid !== process.pid || r.record.restoreMw !== undefined) return;
    const path = this.file(uuid);
    const tmp = `${path}.${process.pid}.restore.tmp`;
    writeFileSync(tmp, JSON.stringify({ ...r.record, restoreMw }) + '\n', { mode: 0o644 });
    renameSync(tmp, path);
  }

  /** Releases our claim on `uuid` (never another agent's, e.g. one that took ours over meanwhile). */
  release(uuid: string): void {
    const r = this.read(uuid);
    if ((r.kind === 'live' || r.kind === 'stale') && r.record.agentPid === process.pid && r.record.agentStart === processStartTime(process.pid)) {
      try {
        unlinkSync(this.file(uuid));
      } catch {
        /* already gone */
      }
    }
  }

  /** Removes a stale claim (restoreLeftovers cleaning up after a dead agent). */
  clearStale(uuid: string): void {
    const r = this.read(uuid);
    if (r.kind === 'stale') {
      try {
        this.takeOver(uuid, this.file(uuid), r.content, `GPU ${uuid}`);
      } catch {
        /* another user's stale file (sticky directory): the next claim reports it */
      }
    }
  }

  private read(uuid: string): { kind: 'gone' } | { kind: 'unreadable' } | { kind: 'live' | 'stale'; record: ClaimRecord; content: string; known: boolean; fileUid: number } {
    const path = this.file(uuid);
    const f = readExclusive(path);
    if (!f) return { kind: 'gone' };
    let record: ClaimRecord | undefined;
    try {
      const parsed = JSON.parse(f.content) as ClaimRecord;
      if (parsed && parsed.version === 1 && Number.isInteger(parsed.agentPid) && Number.isInteger(parsed.pid)) record = parsed;
    } catch {
      /* empty, partial or foreign content */
    }
    if (!record) {
      // A symlink, or content no Chase agent writes (createExclusive never exposes a partial file):
      // stale after a grace period, in case an agent of an older version is writing it right now.
      const unknown: ClaimRecord = { version: 1, uuid, runId: '(unknown)', pid: 0, user: '(unknown)', agentPid: 0, claimedAtMs: f.mtimeMs };
      return f.symlink || Date.now() - f.mtimeMs > UNREADABLE_GRACE_MS ? { kind: 'stale', record: unknown, content: f.content, known: false, fileUid: f.uid } : { kind: 'unreadable' };
    }
    const boot = currentBootId();
    const otherBoot = record.bootId !== undefined && boot !== undefined && record.bootId !== boot;
    return { kind: !otherBoot && sameProcessAlive(record.agentPid, record.agentStart) ? 'live' : 'stale', record, content: f.content, known: true, fileUid: f.uid };
  }

  /**
   * Removes a stale claim so a new one can be linked in. Under a short mutex, so that two agents
   * taking over the same stale claim cannot remove each other's fresh claim: the stale content is
   * read again under the mutex and only removed if unchanged.
   */
  private takeOver(uuid: string, path: string, staleContent: string, label: string): boolean {
    const mutex = `${path}.takeover`;
    if (!createExclusive(mutex, `${process.pid}\n`, 0o644)) {
      const m = readExclusive(mutex);
      if (m && Date.now() - m.mtimeMs > TAKEOVER_STALE_MS) {
        try {
          unlinkSync(mutex);
        } catch {
          /* someone else cleared it */
        }
      }
      return false; // another agent is taking over right now: the caller reads the claim again
    }
    try {
      const again = readExclusive(path);
      if (again && again.content === staleContent) {
        try {
          unlinkSync(path);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EPERM' || (e as NodeJS.ErrnoException).code === 'EACCES') {
            const holder = this.read(uuid);
            const who = holder.kind === 'stale' ? describeHolder(holder.record) : 'an agent that is gone';
            throw new GpuClaimedError(
              `${label} was claimed by ${who}, which is no longer running, but its claim file ${path} belongs to another user and cannot be removed by ${currentUserName()}. ` +
                `Remove it as that user or as root (rm ${path}); the next Chase start on this GPU then restores its default power limit.`,
            );
          }
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
      return true;
    } finally {
      try {
        unlinkSync(mutex);
      } catch {
        /* gone */
      }
    }
  }
}

/**
 * What a taken-over claim says about the GPU: an agent that recorded no change left nothing; a
 * recorded `restoreMw` is believed only from a file of root or of this agent's own user (anyone can
 * write a claim file in /run/lock, and a planted one must not choose the limit a root service sets).
 */
function staleClaim(seen: { record: ClaimRecord; known: boolean; fileUid: number }): StaleClaim {
  if (!seen.known) return { holder: seen.record, changed: true };
  const r = seen.record.restoreMw;
  if (r === undefined) return { holder: seen.record, changed: false };
  const trusted = seen.fileUid === 0 || seen.fileUid === process.getuid?.();
  return { holder: seen.record, changed: true, ...(trusted && Number.isFinite(r) && r > 0 ? { restoreMw: r } : {}) };
}
