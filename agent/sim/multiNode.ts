/**
 * One synchronous data-parallel job on N nodes (one GPU each, same model), replayed against a real
 * carbon trace and a measured power profile — coordinated (one decision for the whole job, as
 * chase_reporter and rank 0's agent make it) or uncoordinated (each node's agent profiles and
 * decides alone, as before issue 15). Used by bench/distributed.
 *
 * The job's physics: every step waits for the slowest GPU, so the job's rate is min over nodes of
 * the profile's rate at each node's limit; a node faster than that computes at its limit's power for
 * the share of the time it is busy and waits at the barrier at `waitPowerMw` for the rest. Carbon is
 * each second's energy × the intensity of its trace period.
 *
 * The agents' logic is the real one: OnlineProfiler (runs/profiler.ts) walks the limits from the
 * maximum down with a warm-up and a measurement window each, profileFromMeasurements builds the
 * profile from what was measured, and the budgeted optimizer (control/policy.ts, `default`) decides
 * at every period boundary, seeing only past intensities. What differs:
 *   coordinated    one profiler and one policy, fed the job's energy (SUM over nodes) and the job's
 *                  time; every node applies its limit at the same moment; one carbon-source call
 *                  per decision.
 *   uncoordinated  one profiler and one policy per node, fed that node's own energy and the job's
 *                  progress (all that node's reporter sees), started `skewS[k]` seconds after the job
 *                  (agents and first steps never start at once); each node applies its own limit,
 *                  so a node measuring one limit is slowed by another node measuring a lower one,
 *                  and each node calls the carbon source itself.
 * Not modelled: re-profiling on drift, forecasts that differ between nodes (both would only add to
 * the uncoordinated nodes' disagreement).
 */
import type { Trace } from '../carbon/trace';
import { MW_S_G_PER_KWH_TO_G } from '../protocol/accounting';
import { budgetedPolicy, type Policy } from '../control/policy';
import { pointForLimit, profileFromMeasurements, type PowerProfile } from '../profile/profile';
import type { Forecaster } from '../forecast/types';
import { OnlineProfiler, DEFAULT_PROFILER } from '../runs/profiler';

export type Coordination = 'coordinated' | 'uncoordinated';

export interface MultiNodeJob {
  nodes: number;
  /** Trace period the job starts at (its first second is that period's first). */
  startIndex: number;
  /** Work per node, in the profile's unit (data parallel: each node does its shard). */
  units: number;
  budgetPct: number;
  /** Uncoordinated only: when each node's agent starts, s after the job (length `nodes`). */
  skewS?: number[];
  /** Power of a GPU waiting at the step barrier, mW. */
  waitPowerMw: number;
  forecaster: () => Forecaster;
  /** Profiling warm-up and window per limit (defaults: the agent's, 10 s and 30 s). */
  warmupS?: number;
  windowS?: number;
  /**
   * Optimizer steps per profile unit, the progress the agents see (default 10 000: an ImageNet epoch,
   * 1.28 M images, at batch 128). The profiler wants several units per window, as a reporter gives.
   */
  stepsPerUnit?: number;
}

export interface MultiNodeResult {
  carbonG: number;
  energyJ: number;
  timeS: number;
  /** Carbon-source calls the job's agents made for their decisions. */
  carbonCalls: number;
  /** Seconds during which the nodes ran at different limits. */
  mixedLimitsS: number;
}

/** One agent's logic: profile first, then a policy decision at every period boundary. */
class Controller {
  private readonly profiler: OnlineProfiler;
  private policy: Policy | undefined;
  limitMw: number;
  decisions = 0;
  private lastPeriod = -1;

  constructor(
    private readonly profile: PowerProfile,
    private readonly job: MultiNodeJob,
    private readonly startS: number,
  ) {
    const limits = profile.measured.map((p) => p.powerLimitMw);
    this.limitMw = profile.maxPoint.powerLimitMw;
    this.profiler = new OnlineProfiler({
      ...DEFAULT_PROFILER,
      minLimitMw: Math.min(...limits),
      maxLimitMw: Math.max(...limits),
      budgetPct: job.budgetPct,
      ...(job.warmupS !== undefined ? { warmupMs: job.warmupS * 1000 } : {}),
      ...(job.windowS !== undefined ? { windowMs: job.windowS * 1000 } : {}),
    });
  }

  get profiling(): boolean {
    return this.policy === undefined;
  }

  /** Advances with what this agent sees at second `tS` of the job; may change `limitMw`. */
  tick(tS: number, energyJ: number, units: number, trace: Trace): void {
    if (tS < this.startS) return;
    const atMs = (tS - this.startS) * 1000;
    if (!this.policy) {
      const e = this.profiler.tick({ atMs, energyJ, units, unitsAtMs: atMs });
      if (e?.kind === 'limit') this.limitMw = e.limitMw;
      else if (e?.kind === 'window') {
        const next = this.profiler.record(e.window, atMs);
        if (next !== undefined) this.limitMw = next;
      }
      if (this.profiler.done) {
        this.policy = budgetedPolicy(profileFromMeasurements('measured', this.profile.unit, [...this.profiler.measurements]), { budgetPct: this.job.budgetPct, forecaster: this.job.forecaster() });
        this.lastPeriod = -1; // decide at once, then at every boundary
      }
      if (this.policy === undefined) return;
    }
    const periodS = trace.stepMs / 1000;
    const period = this.job.startIndex + Math.floor(tS / periodS);
    if (period === this.lastPeriod) return;
    this.lastPeriod = period;
    this.decisions++;
    this.limitMw = this.policy.decide({
      nowMs: trace.timestampsMs[period],
      periodMs: trace.stepMs,
      history: trace.intensitiesGPerKwh.subarray(0, period),
      unitsDone: units,
      unitsTotal: this.job.units,
      elapsedMs: atMs,
    });
  }
}

export class MultiNodeError extends Error {
  override readonly name = 'MultiNodeError';
}

export function runMultiNodeJob(trace: Trace, unitProfile: PowerProfile, mode: Coordination, unitJob: MultiNodeJob): MultiNodeResult {
  const k = unitJob.stepsPerUnit ?? 10_000;
  const profile = inSteps(unitProfile, k);
  const job = { ...unitJob, units: unitJob.units * k };
  const n = job.nodes;
  const skew = job.skewS ?? new Array<number>(n).fill(0);
  const controllers = mode === 'coordinated' ? [new Controller(profile, job, 0)] : skew.map((s) => new Controller(profile, job, s));
  const limitOf = (k: number) => controllers[mode === 'coordinated' ? 0 : k].limitMw;
  const ci = trace.intensitiesGPerKwh;
  const periodS = trace.stepMs / 1000;
  const nodeEnergyMwS = new Float64Array(n);
  let carbon = 0;
  let done = 0;
  let t = 0;
  let mixed = 0;
  while (done < job.units * (1 - 1e-12)) {
    const period = job.startIndex + Math.floor(t / periodS);
    if (period >= ci.length) throw new MultiNodeError(`${trace.name}: the trace ends before the job does; start it earlier or make it shorter`);
    // seconds per tick: fine while any agent profiles (windows of seconds), coarse once all decide per period
    const dt = controllers.some((c) => c.profiling) ? 1 : Math.min(60, periodS - (t % periodS));
    const points = Array.from({ length: n }, (_, k) => pointForLimit(profile, limitOf(k)));
    const rate = Math.min(...points.map((p) => p.unitsPerS));
    const used = Math.min(dt, (job.units - done) / rate);
    let powerMw = 0;
    points.forEach((p, k) => {
      const busy = rate / p.unitsPerS;
      const w = busy * p.avgPowerMw + (1 - busy) * job.waitPowerMw;
      nodeEnergyMwS[k] += w * used;
      powerMw += w;
    });
    if (points.some((p) => p.powerLimitMw !== points[0].powerLimitMw)) mixed += used;
    carbon += ci[period] * powerMw * used;
    done += rate * used;
    t += used;
    const totalJ = nodeEnergyMwS.reduce((a, b) => a + b, 0) / 1000;
    controllers.forEach((c, k) => c.tick(t, mode === 'coordinated' ? totalJ : nodeEnergyMwS[k] / 1000, done, trace));
  }
  return {
    carbonG: carbon * MW_S_G_PER_KWH_TO_G,
    energyJ: nodeEnergyMwS.reduce((a, b) => a + b, 0) / 1000,
    timeS: t,
    carbonCalls: controllers.reduce((a, c) => a + c.decisions, 0),
    mixedLimitsS: mixed,
  };
}

/** A profile whose unit is 1/k of `p`'s (epochs → steps). */
function inSteps(p: PowerProfile, k: number): PowerProfile {
  const scale = <T extends { unitsPerS: number }>(x: T): T => ({ ...x, unitsPerS: x.unitsPerS * k });
  return { ...p, unit: 'step', measured: p.measured.map(scale), candidates: p.candidates.map(scale), efficient: p.efficient.map(scale), frontier: p.frontier.map(scale), maxPoint: scale(p.maxPoint) };
}

/** The same job with every node at the maximum limit all along: the baseline. */
export function runMaxPowerJob(profile: PowerProfile, trace: Trace, job: Pick<MultiNodeJob, 'nodes' | 'startIndex' | 'units'>): { carbonG: number; energyJ: number; timeS: number } {
  const p = profile.maxPoint;
  const ci = trace.intensitiesGPerKwh;
  const periodS = trace.stepMs / 1000;
  let left = job.units;
  let carbon = 0;
  let timeS = 0;
  for (let period = job.startIndex; left > 0; period++) {
    if (period >= ci.length) throw new MultiNodeError(`${trace.name}: the trace ends before the job does`);
    const len = Math.min(periodS, left / p.unitsPerS);
    carbon += ci[period] * p.avgPowerMw * job.nodes * len;
    left -= len * p.unitsPerS;
    timeS += len;
  }
  return { carbonG: carbon * MW_S_G_PER_KWH_TO_G, energyJ: (p.avgPowerMw * job.nodes * timeS) / 1000, timeS };
}
