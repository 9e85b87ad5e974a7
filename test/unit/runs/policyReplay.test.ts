/**
 * A Run's control loop over a replayed carbon trace, on a simulated A40, with a fast injected clock:
 * 24 trace hours in ~12 s. The job is simulated in the test — its progress follows the simulated
 * GPU's limit exactly (epochs at the A40 profile's time per epoch) and is reported to the Run — so
 * the measured slowdown is the policy's, not the test machine's noise. A pre-built profile (the same
 * A40 data) is passed, so profiling is skipped.
 *
 * Checks: the chosen limits follow intensity (lower on average in the dirtier half of the periods),
 * the final slowdown is within the budget + 1 point, and carbon is saved against max power.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Run, type RunDecision } from '../../../agent/runs/run';
import { RunCarbon } from '../../../agent/runs/runCarbon';
import { ReplayProvider } from '../../../agent/carbon/replay';
import { SimulatedBackend } from '../../../agent/gpu/backends/simulated';
import { loadDefaultProfile } from '../../../agent/profile/zeus';
import { PowerLimitGuard } from '../../../agent/gpu/safety/guard';
import { LimitJournal } from '../../../agent/gpu/safety/journal';
import type { Logger } from '../../../agent/log';
import { tempDir } from '../gpu/fakeNvml';

const log: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Trace ms per wall ms. */
const K = 7200;
const BUDGET_PCT = 10;
const HOURS = 24;
const START = '2026-03-10T00:00:00Z';

test(`over ${HOURS} replayed hours the limits follow intensity and the slowdown stays within the budget + 1 point`, async () => {
  // A fixed day of the trace (the replay maps the clock's start to the same hour of the year), so
  // the test sees the same intensities whatever the date it runs on.
  const wall0 = Date.now();
  const t0 = Date.parse(process.env.CHASE_TEST_REPLAY_START ?? START);
  const clock = () => t0 + (Date.now() - wall0) * K;
  const profile = loadDefaultProfile();
  const backend = new SimulatedBackend({ profile, count: 1, now: clock });
  const guard = new PowerLimitGuard(backend, { journal: new LimitJournal(tempDir('chase-replay-')), log });
  const lease = await guard.claim([backend.devices()[0].uuid], { runId: 'replay', pid: process.pid });
  const totalUnits = (HOURS * 3_600_000) / backend.epochMs(0); // a day of work at the maximum limit
  const decisions: RunDecision[] = [];
  const run = new Run(
    { id: 'replay', command: { file: 'sleep', args: ['600'] }, gpuIndices: [0], budgetPct: BUDGET_PCT, policy: 'default', profile, totalUnits, sampleMs: 20 },
    // Speed 1 on the provider: the injected clock is already the trace's clock.
    { backend, lease, carbon: new RunCarbon(ReplayProvider.create({ zone: 'GB', speed: 1, originMs: t0 })), log, now: clock, onDecision: (d) => decisions.push(d) },
  );
  const finished = run.start();
  // The job: epochs at the simulated GPU's current speed, reported every 5 wall ms.
  let done = 0;
  let last = clock();
  const job = setInterval(() => {
    const t = clock();
    const units = Math.min(totalUnits - done, (t - last) / backend.epochMs(0));
    last = t;
    if (units > 0) {
      done += units;
      run.reportSteps(units, undefined);
    }
    if (done >= totalUnits) {
      clearInterval(job);
      run.stop(100);
    }
  }, 5);
  const s = await finished;
  clearInterval(job);

  assert.equal(s.progressSource, 'reporter');
  assert.ok(Math.abs(s.unitsDone - totalUnits) < 1e-6 * totalUnits);
  assert.ok(decisions.length >= HOURS, `a decision per trace hour (${decisions.length})`);
  // Every decision is recorded with its inputs: the forecast it was made on and the saving it expects.
  for (const d of decisions) {
    assert.ok(d.forecastGPerKwh !== undefined && d.forecastGPerKwh > 0, 'forecast recorded');
    assert.ok(d.expectedSavingG !== undefined && Number.isFinite(d.expectedSavingG), 'expected saving recorded');
    if (d.powerLimitMw >= 299_000) assert.ok(Math.abs(d.expectedSavingG) < 1e-9, 'no saving expected at the maximum limit');
  }
  const sorted = decisions.map((d) => d.intensityGPerKwh).sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const dirty = decisions.filter((d) => d.intensityGPerKwh > median).map((d) => d.powerLimitMw);
  const clean = decisions.filter((d) => d.intensityGPerKwh <= median).map((d) => d.powerLimitMw);
  console.log(
    `# ${decisions.length} decisions, intensity ${sorted[0].toFixed(0)}–${sorted[sorted.length - 1].toFixed(0)} g/kWh; mean limit dirty half ${(mean(dirty) / 1000).toFixed(1)} W, clean half ${(mean(clean) / 1000).toFixed(1)} W; slowdown ${s.slowdownPct!.toFixed(2)} % (budget ${BUDGET_PCT} %); carbon ${s.carbonG.toFixed(0)} g vs ${s.baselineCarbonG!.toFixed(0)} g at max power (saved ${((100 * s.savedCarbonG!) / s.baselineCarbonG!).toFixed(1)} %)`,
  );
  assert.ok(dirty.length > 0 && clean.length > 0, 'the trace has dirtier and cleaner periods');
  assert.ok(mean(dirty) < mean(clean), 'lower limits in the dirtier periods on average');
  assert.ok(s.slowdownPct! <= BUDGET_PCT + 1, `slowdown ${s.slowdownPct} % within the budget + 1 point`);
  assert.ok(s.savedCarbonG! > 0, 'carbon saved against the max-power baseline');
});
