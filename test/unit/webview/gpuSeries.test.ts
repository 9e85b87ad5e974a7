import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GpuSeries, type GpuSample } from '../../../webview/model/gpuSeries';
import type { GpuStatus } from '../../../agent/protocol/messages';

const T0 = Date.UTC(2026, 11, 1, 10);
const gpu = (index: number, limitW: number, drawW: number): GpuStatus => ({
  index, uuid: `GPU-${index}`, name: 'NVIDIA A40 (simulated)', backend: 'simulated', simulated: true,
  powerLimitMw: limitW * 1000, defaultLimitMw: 300_000, minLimitMw: 100_000, maxLimitMw: 300_000, powerMw: drawW * 1000, control: 'permitted',
});
const sample = (k: number, gpus: GpuStatus[]): GpuSample => ({ atMs: T0 + k * 5000, gpus: { gpus, notes: [] } });

describe('GPU chart data', () => {
  it('has a limit line and a draw line per GPU, in W over epoch ms', () => {
    const s = new GpuSeries(720);
    const change = s.add(sample(0, [gpu(0, 300, 280), gpu(1, 250, 240)]));
    assert.deepEqual(s.lines.map((l) => l.label), ['GPU 0 limit', 'GPU 0 draw', 'GPU 1 limit', 'GPU 1 draw']);
    assert.deepEqual(change.added, s.lines);
    assert.deepEqual(s.lines[2].points, [{ x: T0, y: 250 }]);
    assert.deepEqual(s.lines[3].points, [{ x: T0, y: 240 }]);
  });

  it('a sample appends one point per line to the same arrays: nothing is rebuilt', () => {
    const s = new GpuSeries(720);
    for (let k = 0; k < 100; k++) s.add(sample(k, [gpu(0, 300, 280), gpu(1, 250, 240)]));
    const arrays = s.lines.map((l) => l.points);
    const written = s.pointsWritten;
    const change = s.add(sample(100, [gpu(0, 200, 190), gpu(1, 250, 240)]));
    assert.deepEqual(change, { added: [], removed: [] });
    assert.ok(s.lines.every((l, i) => l.points === arrays[i]), 'the chart keeps drawing the same arrays');
    assert.equal(s.pointsWritten - written, 4, 'two points per GPU, not all 101 samples again');
    assert.deepEqual(s.lines[0].points.at(-1), { x: T0 + 100 * 5000, y: 200 });
    assert.equal(s.lines[0].points.length, 101);
  });

  it('holds the newest samples only; the origin of the axis stays at the first sample', () => {
    const s = new GpuSeries(10);
    for (let k = 0; k < 25; k++) s.add(sample(k, [gpu(0, 300, 280)]));
    assert.equal(s.lines[0].points.length, 10);
    assert.equal(s.firstMs, T0 + 15 * 5000);
    assert.equal(s.lastMs, T0 + 24 * 5000);
    assert.equal(s.originMs, T0);
  });

  it('a GPU that appears is added; one no longer reported goes when its last point leaves the window', () => {
    const s = new GpuSeries(3);
    s.add(sample(0, [gpu(0, 300, 280)]));
    const appeared = s.add(sample(1, [gpu(0, 300, 280), gpu(1, 300, 100)]));
    assert.deepEqual(appeared.added.map((l) => l.label), ['GPU 1 limit', 'GPU 1 draw']);
    s.add(sample(2, [gpu(0, 300, 280)]));
    assert.deepEqual(s.add(sample(3, [gpu(0, 300, 280)])).removed, []);
    const gone = s.add(sample(4, [gpu(0, 300, 280)]));
    assert.deepEqual(gone.removed.map((l) => l.label).sort(), ['GPU 1 draw', 'GPU 1 limit']);
    assert.deepEqual(s.lines.map((l) => l.label), ['GPU 0 limit', 'GPU 0 draw']);
  });

  it('ignores a sample older than the last one (lines stay in time order)', () => {
    const s = new GpuSeries(720);
    s.add(sample(2, [gpu(0, 300, 280)]));
    s.add(sample(1, [gpu(0, 200, 180)]));
    assert.equal(s.lines[0].points.length, 1);
  });
});
