import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addReading, controlledLimits, followRun, MAX_RUN_POINTS, runTimeline, setStep, trackPhase, type PhaseBand, type RunSeriesData } from '../../../webview/model/runSeries';
import { restoreState, upsertRun, DASHBOARD_STATE_VERSION, MAX_TABLE_RUNS } from '../../../webview/model/dashboardState';
import type { RunSummary } from '../../../agent/protocol/messages';
import type { XY } from '../../../webview/model/gpuSeries';

const T0 = Date.UTC(2026, 11, 1, 10);
const s = (k: number) => T0 + k * 1000;
const summary = (over: Partial<RunSummary> = {}): RunSummary => ({
  id: 'r1', state: 'profiling', command: 'python3 train_demo.py', gpuUuids: ['GPU-0'], policy: 'default', budgetPct: 10, startedAtMs: T0, energyJ: 0, carbonG: 0, unitsDone: 0, ...over,
});

/** A run as the agent reports it: profiling 0–10 s at changing limits, then controlling. */
function demoRun(): { run: RunSeriesData; bands: PhaseBand[] } {
  const bands: PhaseBand[] = [];
  const updates: Array<[number, Partial<RunSummary>]> = [
    [1, { state: 'starting' }],
    [2, { state: 'profiling', currentLimitMw: 300_000, carbonG: 0.01 }],
    [6, { state: 'profiling', currentLimitMw: 250_000, carbonG: 0.03 }],
    [10, { state: 'controlling', currentLimitMw: 250_000, carbonG: 0.05, baselineCarbonG: 0.055 }],
    [14, { state: 'controlling', currentLimitMw: 200_000, carbonG: 0.07, baselineCarbonG: 0.08 }],
    [18, { state: 'finished', currentLimitMw: 200_000, carbonG: 0.09, baselineCarbonG: 0.105, exitCode: 0 }],
  ];
  let run: RunSeriesData | undefined;
  for (const [k, over] of updates) {
    const u = summary(over);
    trackPhase(bands, s(k), u);
    run = followRun(run, s(k), u, { intensityGPerKwh: 200 });
    if (k === 6) addReading(run, s(8), 320); // a dirtier period starts at 8 s, between two updates
  }
  return { run: run!, bands };
}

describe('run charts data', () => {
  it('the carbon so far and the max-power baseline grow as two lines (the baseline once a profile exists)', () => {
    const { run } = demoRun();
    assert.deepEqual(run.carbonG.map((p) => p.y), [0, 0.01, 0.03, 0.05, 0.07, 0.09]);
    assert.deepEqual(run.baselineCarbonG, [{ x: s(10), y: 0.055 }, { x: s(14), y: 0.08 }, { x: s(18), y: 0.105 }]);
    assert.equal(run.originMs, T0);
    assert.equal(run.lastMs, s(18));
  });

  it('the power limit and the grid intensity are stepped lines on the same time axis, up to the latest update', () => {
    const { run } = demoRun();
    // changes, then the tail at the latest time
    assert.deepEqual(run.limitW, [{ x: s(2), y: 300 }, { x: s(6), y: 250 }, { x: s(14), y: 200 }, { x: s(18), y: 200 }]);
    assert.deepEqual(run.intensityGPerKwh, [{ x: s(1), y: 200 }, { x: s(8), y: 320 }, { x: s(18), y: 320 }]);
  });

  it('marks the phases as bands: profiling, then controlling, ended by the run\'s end', () => {
    const { bands } = demoRun();
    assert.deepEqual(bands, [
      { runId: 'r1', phase: 'profiling', fromMs: s(2), toMs: s(10), open: false },
      { runId: 'r1', phase: 'controlling', fromMs: s(10), toMs: s(18), open: false },
    ]);
  });

  it('the table view lists each change with the phase then', () => {
    const { run, bands } = demoRun();
    assert.deepEqual(runTimeline(run, bands), [
      { atMs: s(1), intensityGPerKwh: 200 },
      { atMs: s(2), intensityGPerKwh: 200, limitW: 300, phase: 'profiling' },
      { atMs: s(6), intensityGPerKwh: 200, limitW: 250, phase: 'profiling' },
      { atMs: s(8), intensityGPerKwh: 320, limitW: 250, phase: 'profiling' },
      { atMs: s(14), intensityGPerKwh: 320, limitW: 200, phase: 'controlling' },
    ]);
  });

  it('the limits held while controlled: the one in force when control began, then each change; profiling\'s left out', () => {
    const { run, bands } = demoRun();
    assert.deepEqual(controlledLimits(run, bands), [250, 200]);
    assert.deepEqual(controlledLimits(run, bands.filter((b) => b.phase === 'profiling')), [], 'never controlled: none');
  });

  it('an update appends to the same arrays (the charts only redraw); nothing is added after the run ended', () => {
    const { run } = demoRun();
    const arrays = [run.carbonG, run.baselineCarbonG, run.limitW, run.intensityGPerKwh];
    const lengths = arrays.map((a) => a.length);
    assert.equal(followRun(run, s(20), summary({ state: 'finished', carbonG: 1 })), run);
    assert.equal(addReading(run, s(21), 100), false);
    assert.deepEqual(arrays.map((a) => a.length), lengths);
    const live = followRun(undefined, s(1), summary());
    const carbon = live.carbonG;
    assert.equal(followRun(live, s(2), summary({ carbonG: 0.5 })), live);
    assert.equal(live.carbonG, carbon);
    assert.deepEqual(carbon.at(-1), { x: s(2), y: 0.5 });
  });

  it('follows the run shown until it ends; a run started later takes over; an older one side by side does not flip the charts', () => {
    const first = followRun(undefined, s(1), summary({ id: 'a', startedAtMs: s(0) }));
    const newer = followRun(first, s(2), summary({ id: 'b', startedAtMs: s(2) }));
    assert.equal(newer.runId, 'b');
    assert.equal(followRun(newer, s(3), summary({ id: 'a', startedAtMs: s(0) })), newer, 'the older run\'s update leaves the newer run shown');
    const ended = followRun(newer, s(4), summary({ id: 'b', startedAtMs: s(2), state: 'finished' }));
    assert.equal(followRun(ended, s(5), summary({ id: 'a', startedAtMs: s(0) })).runId, 'a', 'once it ended, the live one is shown');
  });

  it('a long run keeps its whole span on the carbon lines, at a coarser resolution', () => {
    let run = followRun(undefined, s(0), summary({ state: 'controlling', carbonG: 0 }));
    for (let k = 1; k <= 3 * MAX_RUN_POINTS; k++) run = followRun(run, s(k), summary({ state: 'controlling', carbonG: k }));
    assert.ok(run.carbonG.length <= MAX_RUN_POINTS, `${run.carbonG.length} points`);
    assert.deepEqual(run.carbonG[0], { x: s(0), y: 0 });
    assert.deepEqual(run.carbonG.at(-1), { x: s(3 * MAX_RUN_POINTS), y: 3 * MAX_RUN_POINTS });
  });

  it('a stepped line ignores late points and moves its tail while the value holds', () => {
    const line: XY[] = [];
    setStep(line, s(0), 300);
    setStep(line, s(5), 300);
    setStep(line, s(3), 100);
    assert.deepEqual(line, [{ x: s(0), y: 300 }, { x: s(5), y: 300 }]);
  });
});

describe('dashboard state across reloads', () => {
  it('a state saved by an older page (another shape) is dropped, not misread', () => {
    const fresh = restoreState({ gpuSamples: [], runs: [{ atMs: 1, run: summary() }] });
    assert.deepEqual(fresh, { version: DASHBOARD_STATE_VERSION, gpuSamples: [], phases: [], runTable: [] });
    assert.deepEqual(restoreState(undefined), fresh);
    const saved = { ...fresh, runTable: [summary()] };
    assert.deepEqual(restoreState(JSON.parse(JSON.stringify(saved))), saved);
  });

  it('the runs table keeps each run once, newest summary, in the order first seen, at most 20', () => {
    const table: RunSummary[] = [];
    upsertRun(table, summary({ id: 'a' }));
    upsertRun(table, summary({ id: 'b' }));
    upsertRun(table, summary({ id: 'a', carbonG: 5 }));
    assert.deepEqual(table.map((r) => [r.id, r.carbonG]), [['a', 5], ['b', 0]]);
    for (let i = 0; i < 30; i++) upsertRun(table, summary({ id: `x${i}` }));
    assert.equal(table.length, MAX_TABLE_RUNS);
  });
});
