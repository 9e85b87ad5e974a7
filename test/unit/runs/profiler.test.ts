/**
 * OnlineProfiler's events: the first tick asks for the maximum limit, a warm-up waits for progress,
 * a window is handed out when measured and the profiler waits for it to be recorded — the window
 * recorded is the one that counts (e.g. the same window aggregated across a job's nodes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OnlineProfiler } from '../../../agent/runs/profiler';

const options = { minLimitMw: 100_000, maxLimitMw: 300_000, budgetPct: 10, stepMw: 100_000, warmupMs: 1000, windowMs: 2000, minUnitsPerWindow: 5 };

test('limit, warm-up, window, record: the recorded window is the one kept, and the next candidate follows', () => {
  const p = new OnlineProfiler(options);
  assert.equal(p.done, false);
  assert.deepEqual(p.tick({ atMs: 0, energyJ: 0, units: 0, unitsAtMs: undefined }), { kind: 'limit', limitMw: 300_000 });
  assert.equal(p.tick({ atMs: 1500, energyJ: 10, units: 0, unitsAtMs: undefined }), undefined, 'no progress yet: still warming up');
  assert.equal(p.tick({ atMs: 2000, energyJ: 20, units: 10, unitsAtMs: 2000 }), undefined, 'measuring from here');
  const e = p.tick({ atMs: 4000, energyJ: 520, units: 210, unitsAtMs: 4000 });
  assert.deepEqual(e, { kind: 'window', window: { powerLimitMw: 300_000, elapsedMs: 2000, energyJ: 500, units: 200 } });
  assert.equal(p.tick({ atMs: 9000, energyJ: 600, units: 300, unitsAtMs: 9000 }), undefined, 'waits for the window to be recorded');
  // the job's nodes together: energy summed, time the longest
  const aggregated = { powerLimitMw: 300_000, elapsedMs: 2100, energyJ: 1500, units: 600 };
  assert.equal(p.record(aggregated, 9000), 200_000, 'then the next candidate');
  assert.deepEqual(p.measurements, [aggregated]);
  assert.equal(p.record(aggregated, 9000), undefined, 'a window is recorded once');
  assert.equal(p.measurements.length, 1);
});

test('a window without work counts for nothing, and profiling ends with what was measured', () => {
  const p = new OnlineProfiler({ ...options, minLimitMw: 200_000 });
  const first = p.tick({ atMs: 0, energyJ: 0, units: 0, unitsAtMs: undefined });
  let limitMw = first?.kind === 'limit' ? first.limitMw : 0;
  let units = 0;
  const windows = [];
  for (let at = 1000; !p.done && at <= 60_000; at += 1000) {
    units += limitMw === 300_000 ? 100 : 0; // the job stalls below the maximum
    const e = p.tick({ atMs: at, energyJ: at, units, unitsAtMs: at });
    if (e?.kind !== 'window') continue;
    windows.push(e.window);
    limitMw = p.record(e.window, at) ?? limitMw;
  }
  assert.equal(p.done, true);
  assert.deepEqual(p.measurements.map((m) => m.powerLimitMw), [300_000]);
  assert.ok(windows.some((w) => w.units === 0), 'the stalled window was handed out, and dropped');
});
