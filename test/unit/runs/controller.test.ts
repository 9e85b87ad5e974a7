/**
 * RunController on its own: a fake lease, a fake hourly carbon source, a clock the test moves, and a
 * modelled job whose speed and power follow the limit last applied. Profiling walks the limits and
 * ends in control; a stored profile skips it; one decision per carbon period; advise mode; a
 * refused write; no progress; drift; a decision made elsewhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunController, type ControllerDeps, type RunDecision, type RunProgress } from '../../../agent/runs/controller';
import { RunCarbon } from '../../../agent/runs/runCarbon';
import { MemoryProfileStore } from '../../../agent/runs/profileStore';
import type { LimitMeasurement } from '../../../agent/profile/profile';
import { HOUR_MS } from '../../../agent/protocol/units';
import { memoryLogger } from '../store/helpers';
import { fakeCarbon, fakeLease } from './fakes';

/** The modelled job: work per second and watts at each limit (between them, the nearest). */
const RATE: Record<number, number> = { 100_000: 60, 150_000: 85, 200_000: 95, 250_000: 99, 300_000: 100 };
const WATTS: Record<number, number> = { 100_000: 100, 150_000: 150, 200_000: 190, 250_000: 225, 300_000: 250 };
const nearest = (table: Record<number, number>, mw: number) => table[Number(Object.keys(table).reduce((a, b) => (Math.abs(Number(b) - mw) < Math.abs(Number(a) - mw) ? b : a)))];

const T0 = Date.parse('2026-03-10T00:00:00Z');
/** Dirty in the day's first half, clean in the second. */
const carbonOf = (hour: number) => (hour % 24 < 12 ? 400 : 100);

function harness(o: { lease?: ReturnType<typeof fakeLease>; profiles?: ControllerDeps['profiles']; policy?: ControllerDeps['policy']; speed?: number } = {}) {
  const lease = o.lease ?? fakeLease();
  const provider = fakeCarbon(carbonOf, T0);
  const decisions: RunDecision[] = [];
  const log = memoryLogger();
  const controller = new RunController({
    runId: 't',
    lease,
    limitRange: { minLimitMw: 100_000, maxLimitMw: 300_000 },
    carbon: new RunCarbon(provider),
    policy: o.policy ?? { name: 'default', budgetPct: 10 },
    profiler: { stepMw: 100_000, warmupMs: 1000, windowMs: 2000 },
    ...(o.profiles ? { profiles: o.profiles } : {}),
    log,
    onDecision: (d) => decisions.push(d),
  });
  // the job: runs at the limit in force (the maximum until one is set)
  const job = { atMs: T0, units: 0, energyJ: 0, speedUp: o.speed ?? 1 };
  const progress = (): RunProgress => ({ atMs: job.atMs, elapsedMs: job.atMs - T0, energyJ: job.energyJ, unitsDone: job.units, unitsAtMs: job.atMs, unit: 'steps' });
  /** Runs the job for `ms` (in `everyMs` ticks), stepping the controller after each. */
  const run = async (ms: number, everyMs: number) => {
    for (let t = 0; t < ms; t += everyMs) {
      const mw = lease.set.at(-1) ?? 300_000;
      job.atMs += everyMs;
      job.units += nearest(RATE, mw) * job.speedUp * (everyMs / 1000);
      job.energyJ += nearest(WATTS, mw) * (everyMs / 1000);
      await controller.step(progress());
    }
  };
  return { controller, lease, provider, decisions, log, job, run, progress };
}

test('profiling walks the limits from the maximum down, refines around the best, then controls with the measured (and stored) profile', async () => {
  const store = new MemoryProfileStore();
  const h = harness({ profiles: { store, gpuModel: 'NVIDIA A40', workloadKey: 'k' } });
  h.controller.begin({ state: 'permitted' });
  assert.equal(h.controller.state.kind, 'profiling');
  assert.equal(h.controller.phase, 'profiling');
  await h.run(30_000, 250);
  // 300 → 200 → 100 W (67 % slower: past the budget), then the half-steps around 200 W (least energy per
  // unit within 10 %); then the first decision
  assert.deepEqual(h.lease.set.slice(0, 5), [300_000, 200_000, 100_000, 150_000, 250_000]);
  assert.equal(h.controller.state.kind, 'controlling');
  assert.equal(h.controller.reusedProfile, false);
  assert.deepEqual(store.load('NVIDIA A40', 'k')?.measured.map((m) => m.powerLimitMw), [100_000, 150_000, 200_000, 250_000, 300_000], 'the profile was stored for the next run');
  assert.ok(h.log.lines.some((l) => /profiled 5 limits/.test(l)));
  const p = h.controller.profile;
  assert.ok(p && Math.abs(p.maxPoint.unitsPerS - 100) < 1 && Math.abs(p.maxPoint.avgPowerMw - 250_000) < 2000, 'rates and powers as the job ran');
  assert.equal(h.decisions.length, 1, 'the first decision comes at once');
  assert.deepEqual(h.lease.set.slice(5), [h.decisions[0].powerLimitMw]);
});

test('one decision per carbon period, each applied, asking the carbon source for history once per decision', async () => {
  const h = harness({ profiles: seeded() });
  h.controller.begin({ state: 'permitted' });
  assert.equal(h.controller.state.kind, 'controlling', 'a stored profile skips profiling');
  assert.equal(h.controller.reusedProfile, true);
  await h.run(24 * HOUR_MS - 10 * 60_000, 10 * 60_000);
  const hours = h.decisions.map((d) => (d.periodStartMs - T0) / HOUR_MS);
  assert.deepEqual(hours, Array.from({ length: 24 }, (_, i) => i), 'one decision per trace hour, in order');
  assert.ok(h.decisions.every((d) => d.applied && d.policy === 'default'));
  assert.deepEqual(h.lease.set, h.decisions.map((d) => d.powerLimitMw), 'each decision is what was applied');
  assert.equal(h.provider.calls.history, h.decisions.length);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const dirty = h.decisions.filter((d) => d.intensityGPerKwh === 400).map((d) => d.powerLimitMw);
  const clean = h.decisions.filter((d) => d.intensityGPerKwh === 100).map((d) => d.powerLimitMw);
  assert.ok(mean(dirty) < mean(clean), `lower limits when dirty (${mean(dirty)} vs ${mean(clean)} mW)`);
});

test('advise mode: every decision is computed and reported, none applied', async () => {
  const h = harness({ lease: fakeLease({ control: { state: 'advise', reason: 'no permission: run as root' } }), profiles: seeded() });
  h.controller.begin({ state: 'advise', reason: 'no permission: run as root' });
  await h.run(3 * HOUR_MS - 30 * 60_000, 30 * 60_000);
  assert.equal(h.controller.advise, 'no permission: run as root');
  assert.equal(h.decisions.length, 3);
  assert.ok(h.decisions.every((d) => !d.applied));
  assert.deepEqual(h.lease.set, []);
  assert.equal(h.controller.limitMw, h.decisions.at(-1)?.powerLimitMw, 'the advised limit is reported');
});

test('a refused write turns advise mode on, with the reason, and nothing is written after', async () => {
  const h = harness({ lease: fakeLease({ refuse: 'Insufficient Permissions: run the Chase service' }), profiles: seeded() });
  h.controller.begin({ state: 'permitted' });
  await h.run(2 * HOUR_MS - 30 * 60_000, 30 * 60_000);
  assert.equal(h.controller.advise, 'Insufficient Permissions: run the Chase service');
  assert.deepEqual(h.decisions.map((d) => d.applied), [false, false]);
  assert.ok(h.log.lines.some((l) => /limits not applied, advising only: Insufficient Permissions/.test(l)));
});

test('no progress while profiling: the maximum limit is kept, the run says why, and nothing is decided', async () => {
  const h = harness({ speed: 0 });
  h.controller.begin({ state: 'permitted' });
  await h.run(10_000, 250);
  assert.equal(h.controller.state.kind, 'profiling', 'the warm-up waits for the job to show progress');
  h.job.speedUp = 1;
  await h.run(250, 250); // progress once (start-up), then none in any measured window
  h.job.speedUp = 0;
  await h.run(60_000, 250);
  assert.equal(h.controller.state.kind, 'holding');
  assert.equal(h.controller.phase, 'controlling');
  assert.match(h.controller.problem ?? '', /No progress was seen while profiling .*keeps the maximum limit/);
  assert.equal(h.lease.set.at(-1), 300_000);
  assert.equal(h.decisions.length, 0);
});

test('drift: a job 10× slower than its stored profile for 3 periods in a row is profiled again; accounting keeps the old profile meanwhile', async () => {
  const fast = new MemoryProfileStore();
  fast.save('NVIDIA A40', 'k', measurements(10));
  const h = harness({ profiles: { store: fast, gpuModel: 'NVIDIA A40', workloadKey: 'k' } });
  h.controller.begin({ state: 'permitted' });
  const stored = h.controller.profile;
  await h.run(3 * HOUR_MS + 1, 10 * 60_000);
  assert.equal(h.controller.state.kind, 'profiling');
  assert.equal(h.controller.profile, stored, 'the old profile stays for the baseline until the new one is measured');
  assert.equal(h.controller.reusedProfile, true, 'and it is still the stored one');
  assert.ok(h.log.lines.some((l) => /more than 25 % off the profile's .* for 3 periods in a row/.test(l)));
  await h.run(30_000, 250);
  assert.equal(h.controller.state.kind, 'controlling');
  assert.equal(h.controller.reusedProfile, false, 'measured by this run now');
  assert.ok(Math.abs((fast.load('NVIDIA A40', 'k')?.maxPoint.unitsPerS ?? 0) - 100) < 1, 'the re-measured profile replaced the stored one');
});

test('a decision made elsewhere (the job\'s deciding node) is applied and reported as this run\'s', async () => {
  const h = harness({ profiles: seeded() });
  h.controller.begin({ state: 'permitted' });
  const d = await h.controller.applyDecision({ atMs: T0, periodStartMs: T0, intensityGPerKwh: 321, powerLimitMw: 175_000, policy: 'default' });
  assert.equal(d.applied, true);
  assert.deepEqual(h.lease.set, [175_000]);
  assert.deepEqual(h.decisions, [d]);
  assert.equal(h.controller.limitMw, 175_000);
});

test('chase-paper with its η: the policy is built by name and reported by its full name', async () => {
  const h = harness({ profiles: seeded(), policy: { name: 'chase-paper', budgetPct: 10, eta: 0.25 } });
  h.controller.begin({ state: 'permitted' });
  assert.equal(h.controller.policyName, 'chase-paper-eta0.25');
  await h.run(30 * 60_000, 30 * 60_000);
  assert.equal(h.decisions[0]?.policy, 'chase-paper-eta0.25');
});

/** The modelled job's own profile, `speed`× as fast. */
function measurements(speed: number): LimitMeasurement[] {
  return Object.keys(RATE).map((k) => ({ powerLimitMw: Number(k), elapsedMs: 10_000, energyJ: WATTS[Number(k)] * 10, units: RATE[Number(k)] * 10 * speed }));
}

function seeded(): ControllerDeps['profiles'] {
  const store = new MemoryProfileStore();
  store.save('NVIDIA A40', 'k', measurements(1));
  return { store, gpuModel: 'NVIDIA A40', workloadKey: 'k' };
}

test('on a distributed job\'s deciding node, step returns every move to broadcast: each profiling candidate, then each period\'s decision — exactly what it applied', async () => {
  const h = harness();
  h.controller.begin({ state: 'permitted' });
  const moves: Array<{ kind: string; powerLimitMw: number }> = [];
  for (let t = 0; t < 30_000 + 3 * HOUR_MS; t += 250) {
    const mw = h.lease.set.at(-1) ?? 300_000;
    h.job.atMs += 250;
    h.job.units += nearest(RATE, mw) * 0.25;
    h.job.energyJ += nearest(WATTS, mw) * 0.25;
    const move = await h.controller.step(h.progress());
    if (move) moves.push(move);
  }
  assert.deepEqual(moves.map((m) => m.powerLimitMw), h.lease.set, 'one move per limit set, in order');
  assert.deepEqual(moves.slice(0, 5).map((m) => m.kind), ['profile', 'profile', 'profile', 'profile', 'profile']);
  const control = moves.filter((m) => m.kind === 'control');
  assert.equal(control.length, h.decisions.length, 'one control move per decision');
  assert.ok(control.length >= 3, 'a decision each carbon period');
  assert.deepEqual(control.map((m) => m.powerLimitMw), h.decisions.map((d) => d.powerLimitMw));
});
