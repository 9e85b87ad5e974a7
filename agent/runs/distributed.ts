/**
 * A run's part in a distributed training job (docs/distributed.md): the node agent's answers to the
 * job's reporter requests (agent/protocol/reporter.ts), one NodeCoordination per run.
 *
 * Every node: `node` (this node's GPUs), `join` (its place in the job), `energy` each round (also
 * the job's heartbeat here), `apply` (a decision rank 0 broadcast), `leave` (coordination ended).
 * Rank 0's node also: `job` (checks the nodes can share one limit, makes the JobDecider) and
 * `decide` each round (the job's aggregates in, a decision out). Only rank 0's agent decides and asks
 * the carbon source; the others apply what it decided and account carbon with the intensity the
 * decision carries (FollowedProvider).
 *
 * State machine (DistributedRunSummary.state):
 *   alone ──join──▶ coordinated ──leave──▶ failed
 *              │         │  ▲
 *              │         │  └──apply──┐        (a late decision renews the lease)
 *              │         └──lease lapses──▶ lapsed
 *              └──join(refused)──▶ refused
 * Out of coordination (refused, failed, lapsed) the node's GPUs go back to their maximum and stay
 * there until the next decision (lapsed) or the end of the run: half a job deciding for itself
 * would only run the job at mixed limits.
 *
 * The lease: a coordinated node expects a heartbeat from its ranks (a step line or a request) and a
 * decision that is still valid (`validUntilMs`); without either for `leasePeriods` carbon periods
 * (rank 0's agent gone, a rank stopped, the network cut) the node puts its GPUs back.
 */
import type { CarbonReading, CarbonProvider } from '../carbon/provider';
import type { Logger } from '../log';
import type { DistributedRunSummary, JobDecisionSummary, JobNodeSummary } from '../protocol/messages';
import type { ApplyParams, ApplyResult, DecideParams, DecideResult, EnergyParams, EnergyResult, JobDecision, JobNode, JobParams, JobResult, JoinParams, LeaveParams, NodeStatus, ReporterNodeInfo } from '../protocol/reporter';
import { carbonOfEnergyG, millijoulesToJoules } from '../protocol/accounting';
import { ReporterRefusal, type ReporterHandler } from './reporterServer';
import { SYNC_TIMEOUT_ENV, type ReporterOpName } from '../protocol/reporter';

/** What a node's coordination needs from its run (run.ts provides it). */
export interface CoordinatedRun {
  readonly runId: string;
  /** The run's GPUs: model, count, the range they all accept, whether this agent may set them. */
  nodeInfo(): Promise<ReporterNodeInfo>;
  /** The run's energy so far, mJ. */
  energyMj(): number;
  /** From now on the run's limits come from the job: it stops deciding for itself. */
  follow(): void;
  /** Applies one limit to the run's GPUs (in advise mode: records it); says which. */
  applyLimit(limitMw: number, decision: JobDecision): Promise<{ applied: boolean; appliedMw?: number; reason?: string }>;
  /** Out of the job's control: the GPUs' maximum limit, and why (for the run's summary). */
  holdMaximum(reason: string): Promise<void>;
}

/** One round of the whole job, as rank 0's agent sees it. */
export interface JobRound {
  /** Wall clock of rank 0's agent, epoch ms. */
  atMs: number;
  /** The job's time since its run started here, ms (the slowest rank's, MAX over ranks). */
  elapsedMs: number;
  /** The job's energy so far (SUM over nodes), J. */
  energyJ: number;
  /** The job's work so far (SUM over ranks). */
  unitsDone: number;
}

/** Rank 0's agent's decision-making for the whole job (run.ts builds it on a RunController). */
export interface JobDecider {
  /** One round: the limit the job moves to now (a profiling candidate, or a period's decision), if any. */
  round(r: JobRound): Promise<{ powerLimitMw: number; kind: JobDecision['kind'] } | undefined>;
  /** The grid's intensity at `atMs` (the carbon source, asked at most once per period). */
  intensityAt(atMs: number): Promise<number>;
  /** The job's totals against the same work at the maximum limit (once a profile exists). */
  totals(): Omit<NonNullable<DistributedRunSummary['job']>, 'nodes'>;
}

export interface NodeCoordinationDeps {
  run: CoordinatedRun;
  log: Logger;
  /** Rank 0's node only: builds the job's decider once the nodes are known. */
  decider?: (nodes: JobNode[]) => JobDecider;
  /** The followed carbon source of this run, when it is one (FollowedProvider). */
  followed?: FollowedProvider;
  syncEverySteps: number;
  /** A carbon period in wall ms (the lease counts periods). */
  periodWallMs: number;
  /** Periods without a heartbeat or a valid decision before the node's GPUs go back (default 3). */
  leasePeriods?: number;
  now?: () => number;
}

/** Decisions a summary keeps (a week-long job decides every period). */
const KEPT_DECISIONS = 500;

interface NodeBook {
  ranks: number;
  energyMj: number;
  carbonG: number;
  status: NodeStatus;
  advise?: string;
}

export class NodeCoordination {
  private state: DistributedRunSummary['state'] | 'alone' = 'alone';
  private reason: string | undefined;
  private place: JoinParams | undefined;
  private readonly decisions: JobDecisionSummary[] = [];
  private lastHeartbeatMs = 0;
  private validUntilMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  // rank 0's node: the job's decider, its decision count, each node's book
  private decider: JobDecider | undefined;
  private decisionId = 0;
  private nodes: NodeBook[] = [];
  private lastDecision: JobDecision | undefined;

  constructor(private readonly deps: NodeCoordinationDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The reporter's handler for this run. */
  handler(): ReporterHandler {
    return {
      node: () => this.deps.run.nodeInfo(),
      job: (p) => this.job(p),
      join: (p) => this.join(p),
      energy: (p) => this.energy(p),
      decide: (p) => this.decide(p),
      apply: (p) => this.apply(p),
      leave: (p) => this.leave(p),
    };
  }

  /** A step line from one of the job's ranks on this node: the job is alive here. */
  heartbeat(): void {
    this.lastHeartbeatMs = this.now();
  }

  /** What the run's summary shows of the job; undefined until the node joined one. */
  get summary(): DistributedRunSummary | undefined {
    const p = this.place;
    if (!p || this.state === 'alone') return undefined;
    return {
      jobId: p.jobId,
      worldSize: p.worldSize,
      nodeRank: p.nodeRank,
      nodeCount: p.nodeCount,
      localWorldSize: p.localWorldSize,
      coordinator: p.coordinator,
      state: this.state,
      ...(this.reason ? { reason: this.reason } : {}),
      decisions: [...this.decisions],
      ...(this.decider ? { job: { ...this.decider.totals(), nodes: this.nodeSummaries() } } : {}),
    };
  }

  /** The run ended: no more lease checks; a followed carbon source stops waiting. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.deps.followed?.own();
  }

  private job(p: JobParams): JobResult {
    const kinds = new Map<string, number[]>();
    for (const n of p.nodes) {
      const key = `${n.gpuCount} × ${n.gpuModel} (${n.minLimitMw / 1000}–${n.maxLimitMw / 1000} W)`;
      kinds.set(key, [...(kinds.get(key) ?? []), n.nodeRank]);
    }
    if (new Set(p.nodes.map((n) => `${n.gpuModel}|${n.minLimitMw}|${n.maxLimitMw}`)).size > 1) {
      const which = [...kinds.entries()].map(([k, ranks]) => `node${ranks.length > 1 ? 's' : ''} ${ranks.join(', ')}: ${k}`).join('; ');
      throw new ReporterRefusal(
        `the job's nodes have different GPUs (${which}). Chase gives every GPU of a job one power limit, so it coordinates a job only on one GPU model with one limit range; this job runs at the GPUs' default limits. Run it on nodes with the same GPUs (e.g. a Slurm --constraint or a Kubernetes node selector).`,
      );
    }
    if (!this.deps.decider) throw new ReporterRefusal('this agent cannot decide for a distributed job (no carbon source or GPU control); each node keeps its default limits');
    this.decider = this.deps.decider(p.nodes);
    this.nodes = p.nodes.map((n) => ({ ranks: n.ranks, energyMj: 0, carbonG: 0, status: n.control, ...(n.reason ? { advise: n.reason } : {}) }));
    return { syncEverySteps: this.deps.syncEverySteps };
  }

  private async join(p: JoinParams): Promise<Record<string, never>> {
    this.place = p;
    this.heartbeat();
    this.deps.run.follow();
    if (p.refused) {
      this.state = 'refused';
      this.reason = p.refused;
      this.deps.log.warn(`run ${this.deps.run.runId}: distributed job ${p.jobId} is not coordinated: ${p.refused}`);
      this.deps.followed?.own();
      await this.deps.run.holdMaximum(p.refused);
      return {};
    }
    this.state = 'coordinated';
    this.deps.log.info(`run ${this.deps.run.runId}: node ${p.nodeRank} of ${p.nodeCount} of distributed job ${p.jobId} (${p.worldSize} ranks, ${p.localWorldSize} here)${p.coordinator ? ': this agent decides for the job' : ": following rank 0's decisions"}`);
    const everyMs = Math.max(100, Math.min(5_000, this.deps.periodWallMs / 4));
    this.timer ??= setInterval(() => void this.checkLease(), everyMs);
    this.timer.unref?.();
    return {};
  }

  private async energy(_p: EnergyParams): Promise<EnergyResult> {
    this.heartbeat();
    const info = await this.deps.run.nodeInfo();
    return { energyMj: this.deps.run.energyMj(), control: info.control };
  }

  private async decide(p: DecideParams): Promise<DecideResult> {
    this.heartbeat();
    const decider = this.decider;
    if (!decider) throw new ReporterRefusal('decide before job: rank 0 must describe the job first');
    const atMs = this.now();
    const intensity = await decider.intensityAt(atMs);
    // each node's book: the energy it reported, its carbon at this round's intensity, its state
    p.nodes.forEach((n, k) => {
      const book = this.nodes[k];
      if (!book) return;
      if (n.status !== 'unreachable') {
        book.carbonG += carbonOfEnergyG(millijoulesToJoules(Math.max(0, n.energyMj - book.energyMj)), intensity);
        book.energyMj = Math.max(book.energyMj, n.energyMj);
      }
      if (n.status !== book.status) this.deps.log.warn(`distributed job: node ${k} is now ${n.status === 'advise' ? 'advising only (its agent may not set limits)' : n.status}`);
      book.status = n.status;
      if (n.status !== 'advise') delete book.advise;
    });
    const energyJ = millijoulesToJoules(this.nodes.reduce((a, b) => a + b.energyMj, 0));
    const next = await decider.round({ atMs, elapsedMs: p.elapsedS * 1000, energyJ, unitsDone: p.units });
    if (!next) return { decision: null };
    const decision: JobDecision = {
      decisionId: ++this.decisionId,
      powerLimitMw: next.powerLimitMw,
      validUntilMs: Math.round(atMs + this.leaseMs),
      kind: next.kind,
      intensityGPerKwh: intensity,
    };
    this.lastDecision = decision;
    return { decision };
  }

  private async apply(p: ApplyParams): Promise<ApplyResult> {
    this.heartbeat();
    if (this.state === 'alone' || this.state === 'refused' || this.state === 'failed') {
      throw new ReporterRefusal(`this node is not coordinated (${this.state === 'alone' ? 'it has not joined the job' : this.state}${this.reason ? `: ${this.reason}` : ''}); decision ${p.decisionId} is not applied`);
    }
    if (this.state === 'lapsed') {
      this.deps.log.info(`run ${this.deps.run.runId}: decision ${p.decisionId} renews the job's lease on this node`);
      this.state = 'coordinated';
      this.reason = undefined;
    }
    const { step, ...decision } = p;
    this.deps.followed?.follow(decision.intensityGPerKwh);
    const r = await this.deps.run.applyLimit(decision.powerLimitMw, decision);
    this.validUntilMs = Math.max(this.validUntilMs, decision.validUntilMs);
    this.decisions.push({ decisionId: decision.decisionId, step, powerLimitMw: decision.powerLimitMw, kind: decision.kind, applied: r.applied, atMs: this.now() });
    if (this.decisions.length > KEPT_DECISIONS) this.decisions.shift();
    return r;
  }

  private async leave(p: LeaveParams): Promise<Record<string, never>> {
    if (this.state === 'alone' || this.state === 'refused') return {};
    this.state = 'failed';
    this.reason = p.error;
    this.deps.log.warn(`run ${this.deps.run.runId}: the distributed job stopped coordinating at step ${p.step}: ${p.error}`);
    this.deps.followed?.own();
    await this.deps.run.holdMaximum(`the distributed job stopped coordinating: ${p.error}`);
    return {};
  }

  private get leaseMs(): number {
    return (this.deps.leasePeriods ?? 3) * this.deps.periodWallMs;
  }

  /** No heartbeat, or no valid decision, for the lease's length: this node's GPUs go back. */
  private async checkLease(): Promise<void> {
    if (this.state !== 'coordinated') return;
    const now = this.now();
    const silentMs = now - this.lastHeartbeatMs;
    const expired = this.validUntilMs > 0 && now > this.validUntilMs;
    if (silentMs <= this.leaseMs && !expired) return;
    this.state = 'lapsed';
    this.reason = silentMs > this.leaseMs
      ? `no heartbeat from the job's ranks on this node for ${(silentMs / 1000).toFixed(1)} s (${this.deps.leasePeriods ?? 3} carbon periods)`
      : `no new decision from rank 0's agent since the last one lapsed at ${new Date(this.validUntilMs).toISOString()}`;
    this.deps.log.warn(`run ${this.deps.run.runId}: the job's lease on this node lapsed — ${this.reason}; its GPUs go back to their maximum limit`);
    await this.deps.run.holdMaximum(`the job's lease lapsed: ${this.reason}`);
  }

  private nodeSummaries(): JobNodeSummary[] {
    return this.nodes.map((b, nodeRank) => ({
      nodeRank,
      ranks: b.ranks,
      energyJ: millijoulesToJoules(b.energyMj),
      carbonG: b.carbonG,
      status: b.status,
      ...(b.advise ? { advise: b.advise } : {}),
    }));
  }

  /** Rank 0's node: the last decision made (tests, logs). */
  get lastJobDecision(): JobDecision | undefined {
    return this.lastDecision;
  }
}

/**
 * The carbon source of a node that expects to follow a distributed job (its node rank is known and
 * not 0: env GROUP_RANK, NODE_RANK or SLURM_NODEID): the intensity comes with rank 0's decisions, so
 * the whole job asks the carbon source once per decision. Until the first decision comes (the job is
 * starting) a reading waits — at most `graceMs`, or until the node learns it will not be coordinated
 * (`own`) — and then asks the source itself.
 */
export class FollowedProvider implements CarbonProvider {
  private mode: 'waiting' | 'following' | 'own' = 'waiting';
  private intensity: number | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly deadlineMs: number;

  constructor(
    private readonly source: CarbonProvider,
    graceMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.deadlineMs = now() + graceMs;
  }

  get info() {
    return this.source.info;
  }

  get periodMs(): number {
    return this.source.periodMs;
  }

  /** A decision came with rank 0's intensity. */
  follow(intensityGPerKwh: number): void {
    this.intensity = intensityGPerKwh;
    this.mode = 'following';
    this.wake();
  }

  /** This node will not be coordinated (refused, failed, the run ended): ask the source itself from now on. */
  own(): void {
    if (this.mode === 'following') return;
    this.mode = 'own';
    this.wake();
  }

  async latest(nowMs: number): Promise<CarbonReading> {
    if (this.mode === 'waiting') await this.firstDecision();
    if (this.mode === 'following' && this.intensity !== undefined) {
      const periodStart = Math.floor(nowMs / this.periodMs) * this.periodMs;
      return { timestampMs: periodStart, intensityGPerKwh: this.intensity, fetchedAtMs: nowMs, stale: false, note: "the intensity rank 0's agent decided with" };
    }
    return this.source.latest(nowMs);
  }

  history(fromMs: number, toMs: number) {
    return this.source.history(fromMs, toMs);
  }

  forecast(fromMs: number, hours: number) {
    return this.source.forecast(fromMs, hours);
  }

  dispose(): void {
    this.own();
    this.source.dispose?.();
  }

  private firstDecision(): Promise<void> {
    const left = this.deadlineMs - this.now();
    if (left <= 0) {
      this.own();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.own();
        done();
      }, left);
      this.waiters.add(done);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** The node rank a job's environment gives this node (GROUP_RANK, NODE_RANK, SLURM_NODEID), when it is one of several. */
export function expectedNodeRank(env: NodeJS.ProcessEnv): number | undefined {
  const several = Number(env.WORLD_SIZE) > 1 || Number(env.SLURM_NNODES) > 1;
  if (!several) return undefined;
  for (const name of ['GROUP_RANK', 'NODE_RANK', 'SLURM_NODEID']) {
    const raw = env[name];
    if (raw !== undefined && /^\d{1,6}$/.test(raw)) return Number(raw);
  }
  return undefined;
}

/** The job's sync timeout (CHASE_SYNC_TIMEOUT_S, chase_reporter's default 60 s), ms: how long a node waits for its ranks to join. */
export function syncTimeoutMs(env: NodeJS.ProcessEnv): number {
  const s = Number(env[SYNC_TIMEOUT_ENV]);
  return (Number.isFinite(s) && s > 0 ? Math.min(s, 24 * 3600) : DEFAULT_SYNC_TIMEOUT_S) * 1000;
}

/** chase_reporter's default sync timeout, s (agent/runs/python/chase_reporter.py _DEFAULT_SYNC_TIMEOUT_S). */
const DEFAULT_SYNC_TIMEOUT_S = 60;

/**
 * A reporter handler registered before its run exists (the run's environment needs the reporter's
 * token first): each request goes to `get()`'s handler, or is refused while there is none.
 */
export function lateHandler(get: () => ReporterHandler | undefined): ReporterHandler {
  const forward = <K extends ReporterOpName>(op: K): ReporterHandler[K] =>
    ((params: never, peer: never) => {
      const h = get();
      if (!h) throw new ReporterRefusal('the run is not ready for coordination yet');
      return (h[op] as (p: never, q: never) => unknown)(params, peer);
    }) as ReporterHandler[K];
  return { node: forward('node'), job: forward('job'), join: forward('join'), energy: forward('energy'), decide: forward('decide'), apply: forward('apply'), leave: forward('leave') };
}
