/**
 * Replays a real carbon trace × a measured power profile: K jobs of the same size start at evenly
 * spaced periods of the trace; each policy decides a limit at the start of every period (seeing only
 * the past), the job runs at that limit's profiled throughput and power until the period ends or the
 * work is done (a partly used last period counts pro rata), and carbon per period is that period's
 * energy × its actual intensity. The oracle is planned with the actual intensities (oracle.ts).
 */
import type { Trace } from '../carbon/trace';
import { planOracle } from '../control/oracle';
import { deadlineMs, type Policy } from '../control/policy';
import { pointForLimit, type PowerProfile } from '../profile/profile';
import { joulesToKwh, millijoulesToJoules, MW_S_G_PER_KWH_TO_G } from '../protocol/accounting';
import { DAY_MS } from '../protocol/units';

export interface JobResult {
  carbonG: number;
  energyJ: number;
  timeS: number;
}

export interface JobSpec {
  /** Index of the trace period the job starts at. */
  startIndex: number;
  units: number;
}

export class SimulationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimulationError';
  }
}

export function runJob(trace: Trace, profile: PowerProfile, policy: Policy, job: JobSpec): JobResult {
  const ci = trace.intensitiesGPerKwh;
  const periodS = trace.stepMs / 1000;
  let t = job.startIndex;
  let done = 0;
  let timeS = 0;
  let energyMwS = 0;
  let carbon = 0;
  const eps = job.units * 1e-12;
  while (done < job.units - eps) {
    if (t >= ci.length) throw new SimulationError(`${trace.name}: the trace ends before the job does (policy ${policy.name}); use fewer --epochs or a longer trace`);
    const limit = policy.decide({
      nowMs: trace.timestampsMs[t],
      periodMs: trace.stepMs,
      history: ci.subarray(0, t),
      unitsDone: done,
      unitsTotal: job.units,
      elapsedMs: timeS * 1000,
    });
    const p = pointForLimit(profile, limit);
    const len = Math.min(periodS, (job.units - done) / p.unitsPerS);
    done += len * p.unitsPerS;
    timeS += len;
    energyMwS += p.avgPowerMw * len;
    carbon += ci[t] * p.avgPowerMw * len;
    t++;
  }
  return { carbonG: carbon * MW_S_G_PER_KWH_TO_G, energyJ: millijoulesToJoules(energyMwS), timeS };
}

export function runOracleJob(trace: Trace, profile: PowerProfile, job: JobSpec, budgetPct: number): JobResult {
  const r = planOracle(profile, trace.intensitiesGPerKwh.subarray(job.startIndex), trace.stepMs / 1000, job.units, deadlineMs(profile, job.units, budgetPct) / 1000);
  return { carbonG: r.carbonG, energyJ: r.energyJ, timeS: r.timeS };
}

/**
 * K start periods spread evenly over the trace, leaving `warmupPeriods` of history before the first
 * (for MaxCI and the forecasters) and room for the slowest possible job after the last.
 */
export function jobStarts(trace: Trace, profile: PowerProfile, units: number, count: number, warmupPeriods: number): number[] {
  const slowest = Math.min(...profile.candidates.map((p) => p.unitsPerS)); // no policy can be slower
  const span = Math.ceil((units / slowest) / (trace.stepMs / 1000)) + 1;
  const last = trace.intensitiesGPerKwh.length - span;
  if (last < warmupPeriods) throw new SimulationError(`${trace.name}: ${trace.intensitiesGPerKwh.length} periods are too few for ${warmupPeriods} periods of history plus a job of up to ${span} periods`);
  if (count <= 1) return [warmupPeriods];
  const out: number[] = [];
  for (let k = 0; k < count; k++) out.push(warmupPeriods + Math.round((k * (last - warmupPeriods)) / (count - 1)));
  return out;
}

export interface PolicySummary {
  policy: string;
  carbonReductionPct: number;
  slowdownPct: number;
  carbonG: number;
  energyKwh: number;
  hours: number;
}

export interface SimulationOptions {
  units: number;
  starts: number;
  budgetPct: number;
  warmupPeriods?: number;
}

/**
 * Runs every policy (and the oracle, named 'oracle') over the same jobs; means over jobs, with
 * reduction and slowdown taken per job against `max-power` (which must be among the policies).
 */
export function simulate(trace: Trace, profile: PowerProfile, policies: Policy[], options: SimulationOptions): { jobs: number; policies: PolicySummary[] } {
  const warm = options.warmupPeriods ?? Math.round((7 * DAY_MS) / trace.stepMs);
  const starts = jobStarts(trace, profile, options.units, options.starts, warm);
  const baseline = policies.find((p) => p.name === 'max-power');
  if (!baseline) throw new SimulationError('the max-power policy is the baseline and must be simulated');
  const base = starts.map((s) => runJob(trace, profile, baseline, { startIndex: s, units: options.units }));
  const summarise = (name: string, results: JobResult[]): PolicySummary => {
    const mean = (f: (r: JobResult, i: number) => number) => results.reduce((a, r, i) => a + f(r, i), 0) / results.length;
    return {
      policy: name,
      carbonReductionPct: mean((r, i) => (1 - r.carbonG / base[i].carbonG) * 100),
      slowdownPct: mean((r, i) => (r.timeS / base[i].timeS - 1) * 100),
      carbonG: mean((r) => r.carbonG),
      energyKwh: mean((r) => joulesToKwh(r.energyJ)),
      hours: mean((r) => r.timeS / 3600),
    };
  };
  const out: PolicySummary[] = policies.map((p) =>
    p === baseline ? summarise(p.name, base) : summarise(p.name, starts.map((s) => runJob(trace, profile, p, { startIndex: s, units: options.units }))),
  );
  out.push(summarise('oracle', starts.map((s) => runOracleJob(trace, profile, { startIndex: s, units: options.units }, options.budgetPct))));
  return { jobs: starts.length, policies: out };
}
