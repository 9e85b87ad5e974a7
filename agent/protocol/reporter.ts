/**
 * The wire between a training job's Python reporter (agent/runs/python/chase_reporter.py) and the
 * node agent that launched it (agent/runs/reporterServer.ts): newline-delimited JSON over a Unix
 * socket (mode 0600) or loopback TCP, at most {@link MAX_REPORTER_LINE_BYTES} per line.
 *
 * Version 1 (every reporter):
 *   job → agent  {"event":"hello","token":T,"pid":P}          agent → job {"ok":true,"runId":R,"v":2}
 *   job → agent  {"event":"step","steps":n,"samples":m}      (no answer)
 * Version 2 (`"v":2` in the hello) adds requests, each answered once, in order:
 *   job → agent  {"id":N,"op":OP,…params}                     agent → job {"id":N,"ok":true,…result}
 *                                                                         {"id":N,"ok":false,"error":E}
 *
 * The requests coordinate one distributed training job across nodes, each with its own agent
 * (docs/distributed.md). Who sends them:
 *   - the node's *leader*: the job process that speaks for its node (the lowest global rank among
 *     the ranks sharing this agent, i.e. local rank 0). The first connection of a run to send a
 *     leader op becomes the leader; no other connection of that run may send one while it lives.
 *   - the job's *coordinator*: global rank 0, itself the leader of its node; `job` makes it one.
 * Init (once, after every rank agreed to coordinate):  node (leaders) → job (rank 0) → join (leaders)
 * Each sync round (every `syncEverySteps` steps):       energy (leaders) → decide (rank 0) → apply (leaders)
 * Coordination abandoned (a rank timed out, rank 0's agent failed): leave (leaders); a refusal is told in join
 *
 * Units in the names: power mW, energy mJ, times epoch ms UTC, durations s where the job measures them.
 * No Node or DOM types here (see messages.ts).
 */
import * as v from 'valibot';
import { integerIn, numberIn, text, type ParamsSchema } from './paramSchema';
import { MAX_INTENSITY_G_PER_KWH } from './units';

/** The version this agent speaks: 1 = hello + steps, 2 = + requests. */
export const REPORTER_PROTOCOL_VERSION = 2;
/** Longest line either side accepts; a longer one closes the connection with an error. */
export const MAX_REPORTER_LINE_BYTES = 64 * 1024;
/** Largest job the protocol describes (ranks), and most nodes. */
export const MAX_WORLD_SIZE = 1 << 20;
export const MAX_NODES = 4096;
/** Default sync cadence: one coordination round every this many optimizer steps. */
export const DEFAULT_SYNC_EVERY_STEPS = 50;
export const MAX_SYNC_EVERY_STEPS = 100_000;
/** The environment variables the agent gives the job for coordination (beside CHASE_REPORTER, CHASE_RUN_TOKEN). */
export const SYNC_TIMEOUT_ENV = 'CHASE_SYNC_TIMEOUT_S';

/** Whether a node's agent may set its GPUs' limits (`advise`: it only shows them). */
export type NodeControl = 'permitted' | 'advise';
/** What rank 0 knows of a node in a sync round: its agent's control, or that it did not answer. */
export type NodeStatus = NodeControl | 'unreachable';

export interface ReporterNodeInfo {
  /** The GPU model of the run's GPUs on this node ("NVIDIA A40"). */
  gpuModel: string;
  gpuCount: number;
  /** The limit range every GPU of the run on this node accepts. */
  minLimitMw: number;
  maxLimitMw: number;
  control: NodeControl;
  /** Why `advise`, in words. */
  reason?: string;
}

export interface JobNode extends ReporterNodeInfo {
  nodeRank: number;
  /** How many of the job's ranks share this node's agent. */
  ranks: number;
}

export interface JobParams {
  /** The job's id, the same on every node (SLURM_JOB_ID, TORCHELASTIC_RUN_ID, or rank 0's random one). */
  jobId: string;
  worldSize: number;
  /** Every node, by nodeRank (rank 0's node first). */
  nodes: JobNode[];
}

export interface JobResult {
  syncEverySteps: number;
}

/** A node's place in a distributed job (what `join` tells its agent, and its summary shows). */
export interface JobPlace {
  jobId: string;
  worldSize: number;
  nodeRank: number;
  nodeCount: number;
  /** How many of the job's ranks share this agent. */
  localWorldSize: number;
  /** Whether this node is rank 0's (its agent decides for the job). */
  coordinator: boolean;
}

export interface JoinParams extends JobPlace {
  syncEverySteps: number;
  /** Set when the job will not be coordinated: why (e.g. mixed GPU models); each node then keeps its default limits. */
  refused?: string;
}

export interface EnergyParams {
  step: number;
}

export interface EnergyResult {
  /** The node's energy for this run so far (its GPUs' counters), mJ. */
  energyMj: number;
  control: NodeControl;
}

export interface NodeReport {
  energyMj: number;
  status: NodeStatus;
}

export interface DecideParams {
  step: number;
  /** Time since coordination started, the slowest rank's (MAX over ranks), s. */
  elapsedS: number;
  /** Work done by all ranks since their start (SUM over ranks): samples, or steps where no samples are given. */
  units: number;
  /** Each node's cumulative energy (its leader's report, summed into one all-reduce), by nodeRank. */
  nodes: NodeReport[];
}

export interface JobDecision {
  /** 1, 2, 3… in the order rank 0's agent made them. */
  decisionId: number;
  powerLimitMw: number;
  /** When the decision lapses if no newer one came (the follower's lease then restores), epoch ms. */
  validUntilMs: number;
  /** `profile`: a limit measured while profiling the job; `control`: the policy's choice for a carbon period. */
  kind: 'profile' | 'control';
  /** The grid's intensity where rank 0's agent decided: the other nodes account carbon with it and never ask the carbon source. */
  intensityGPerKwh: number;
}

export interface DecideResult {
  /** A new decision, or null: keep the last one. */
  decision: JobDecision | null;
}

export interface ApplyParams extends JobDecision {
  step: number;
}

export interface ApplyResult {
  /** False in advise mode (no permission on this node): the limit was only recorded. */
  applied: boolean;
  appliedMw?: number;
  reason?: string;
}

export interface LeaveParams {
  step: number;
  /** What went wrong, for the node's summary (e.g. a rank timed out in a sync round). */
  error: string;
}

export type Empty = Record<string, never>;

/** Who may send an op (see the module comment). */
export type ReporterRole = 'leader' | 'coordinator';

interface OpSpec<P, R> {
  role: ReporterRole;
  params: ParamsSchema<P>;
  /** Type carrier only. */
  result?: R;
}

function op<P, R>(role: ReporterRole, params: ParamsSchema<P>): OpSpec<P, R> {
  return { role, params };
}

const mw = numberIn(0, 10_000_000, 'a power in mW from 0 to 10 000 000');
const mj = numberIn(0, 1e18, 'an energy in mJ ≥ 0');
const step = integerIn(0, Number.MAX_SAFE_INTEGER, 'a step count ≥ 0');
const jobId = v.pipe(text('a job id of letters, digits and . _ : - (at most 200)', { minLength: 1, maxLength: 200 }), v.regex(/^[\w.:-]+$/, 'a job id of letters, digits and . _ : - (at most 200)'));
const worldSize = integerIn(2, MAX_WORLD_SIZE, `a world size from 2 to ${MAX_WORLD_SIZE}`);
const control = v.picklist(['permitted', 'advise'], '"permitted" or "advise"');
const nodeInfoEntries = {
  gpuModel: text('a GPU model name (at most 200 characters)', { minLength: 1, maxLength: 200 }),
  gpuCount: integerIn(1, 1024, 'a GPU count from 1 to 1024'),
  minLimitMw: mw,
  maxLimitMw: mw,
  control,
  reason: v.optional(text('a reason (at most 1000 characters)', { maxLength: 1000 })),
};
const empty = v.strictObject({}, 'no parameters') as unknown as ParamsSchema<Empty>;
/** One entry per node of the job, at least one. */
const perNode = <T extends v.GenericSchema>(item: T) => v.pipe(v.array(item, 'a list of nodes'), v.minLength(1, 'at least one node'), v.maxLength(MAX_NODES, `at most ${MAX_NODES} nodes`));

/** Every request op: who may send it and its parameters' schema (checked once, on arrival). */
export const ReporterOps = {
  /** leader → its agent: this node's GPUs (model, count, limit range, control). */
  node: op<Empty, ReporterNodeInfo>('leader', empty),
  /** coordinator → its agent: the job's nodes; the agent checks they can share one limit and answers the cadence (or refuses). */
  job: op<JobParams, JobResult>(
    'coordinator',
    v.strictObject({
      jobId,
      worldSize,
      nodes: perNode(v.strictObject({ ...nodeInfoEntries, nodeRank: integerIn(0, MAX_NODES - 1, 'a node rank'), ranks: integerIn(1, MAX_WORLD_SIZE, 'a rank count') })),
    }),
  ),
  /** leader → its agent: this node belongs to job J as node R of N (or coordination was refused, and why). */
  join: op<JoinParams, Empty>(
    'leader',
    v.strictObject({
      jobId,
      worldSize,
      nodeRank: integerIn(0, MAX_NODES - 1, 'a node rank'),
      nodeCount: integerIn(1, MAX_NODES, `a node count from 1 to ${MAX_NODES}`),
      localWorldSize: integerIn(1, MAX_WORLD_SIZE, 'a rank count'),
      coordinator: v.boolean('true or false'),
      syncEverySteps: integerIn(1, MAX_SYNC_EVERY_STEPS, `a step count from 1 to ${MAX_SYNC_EVERY_STEPS}`),
      refused: v.optional(text('a reason (at most 1000 characters)', { maxLength: 1000 })),
    }),
  ),
  /** leader → its agent (every sync round): the node's energy so far; also the job's heartbeat on this node. */
  energy: op<EnergyParams, EnergyResult>('leader', v.strictObject({ step })),
  /** coordinator → its agent (every sync round): the job's aggregated window; answers a new decision or null. */
  decide: op<DecideParams, DecideResult>(
    'coordinator',
    v.strictObject({
      step,
      elapsedS: numberIn(0, 1e9, 'a duration in s ≥ 0'),
      units: numberIn(0, 1e18, 'a work count ≥ 0'),
      nodes: perNode(v.strictObject({ energyMj: mj, status: v.picklist(['permitted', 'advise', 'unreachable'], '"permitted", "advise" or "unreachable"') })),
    }),
  ),
  /** leader → its agent: the decision rank 0 broadcast, applied at this step on every node. */
  apply: op<ApplyParams, ApplyResult>(
    'leader',
    v.strictObject({
      step,
      decisionId: integerIn(1, Number.MAX_SAFE_INTEGER, 'a decision id ≥ 1'),
      powerLimitMw: mw,
      validUntilMs: integerIn(0, 8.64e15, 'an epoch time in ms'),
      kind: v.picklist(['profile', 'control'], '"profile" or "control"'),
      intensityGPerKwh: numberIn(0, MAX_INTENSITY_G_PER_KWH, `an intensity in gCO₂/kWh from 0 to ${MAX_INTENSITY_G_PER_KWH}`),
    }),
  ),
  /** leader → its agent: the job stopped coordinating (a rank timed out, rank 0's agent failed); the node falls back to its default limits. */
  leave: op<LeaveParams, Empty>('leader', v.strictObject({ step, error: text('an error (at most 1000 characters)', { minLength: 1, maxLength: 1000 }) })),
} as const;

export type ReporterOpName = keyof typeof ReporterOps;
export type OpParams<K extends ReporterOpName> = (typeof ReporterOps)[K] extends OpSpec<infer P, unknown> ? P : never;
export type OpResult<K extends ReporterOpName> = (typeof ReporterOps)[K] extends OpSpec<unknown, infer R> ? R : never;
