/**
 * `chase-agent run --db FILE --workload KEY`: the first run profiles and stores the profile in the
 * history database; the second run of the same workload on the same GPU model reuses it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, runAgentCli, type CliResult } from './agentProcess';
import { HistoryReader } from '../../agent/store/history';
import type { RunProjection } from '../../agent/protocol/messages';

const demo = join(repoRoot, 'sample-workspace', 'train_demo.py');

function runAgent(args: string[], stateDir: string): Promise<CliResult> {
  return runAgentCli(['run', ...args], { CHASE_STATE_DIR: stateDir }, { timeoutMs: 60_000 });
}

const fast = ['--simulate', '--speed', '3600', '--warmup-s', '0.3', '--window-s', '1', '--json'];

describe('chase-agent run: stored profiles', () => {
  it('the second run of a workload reuses the profile the first stored (no profiling)', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'chase-prof-state-'));
    const db = join(mkdtempSync(join(tmpdir(), 'chase-prof-db-')), 'h.sqlite');
    const first = await runAgent([...fast, '--db', db, '--workload', 'demo-k', '--total-units', '1200', '--', 'python3', demo, '--epochs', '4', '--steps', '300', '--step-ms', '10'], stateDir);
    assert.equal(first.code, 0, first.stderr.slice(-2000));
    const s1 = JSON.parse(first.stdout) as Record<string, unknown>;
    assert.equal(s1.workloadKey, 'demo-k');
    assert.equal(s1.profileReused, false);
    assert.match(first.stderr, /profiled \d+ limits/);
    assert.match(first.stderr, /saved the profile of workload "demo-k" on NVIDIA A40 \(simulated\)/);
    // after profiling, the run projected its cost over its declared total work; at the end it was compared with the outcome
    const p1 = s1.projection as RunProjection;
    assert.equal(p1.basis, 'totalUnits');
    assert.equal(p1.unitsTotal, 1200);
    assert.ok(p1.carbonG > 0 && p1.carbonLowG <= p1.carbonG && p1.carbonG <= p1.carbonHighG && typeof p1.finishAtMs === 'number', JSON.stringify(p1));
    assert.equal(typeof s1.projectionErrorPct, 'number');
    const store = HistoryReader.open({ path: db });
    const rows = store.profiles({ workloadKey: 'demo-k' });
    const recorded = store.getRun(s1.id as string)?.meta;
    store.close();
    // the history keeps the PUE its figures include (none given: 1), the same projection, and how far off it was
    assert.deepEqual(recorded, { pue: 1, projection: p1, projectionErrorPct: s1.projectionErrorPct });
    assert.ok(rows.length >= 2 && rows.every((r) => r.gpuModel === 'NVIDIA A40 (simulated)'), JSON.stringify(rows));

    const second = await runAgent([...fast, '--db', db, '--workload', 'demo-k', '--pue', '1.5', '--', 'python3', demo, '--epochs', '1', '--steps', '200', '--step-ms', '10'], stateDir);
    assert.equal(second.code, 0, second.stderr.slice(-2000));
    const s2 = JSON.parse(second.stdout) as Record<string, unknown>;
    assert.equal(s2.profileReused, true);
    assert.match(second.stderr, /reusing the stored profile of workload "demo-k"/);
    assert.doesNotMatch(second.stderr, /profiled \d+ limits/);
    assert.equal(typeof s2.baselineCarbonG, 'number');
    // with the stored profile there is no profiling to wait for: the projection comes with control (no total: the next 24 h)
    assert.equal((s2.projection as RunProjection | undefined)?.basis, 'horizon');
    // --pue 1.5: the run's energy is the facility's, its GPUs' counters × 1.5, and the history says so
    const [c] = s2.energyCounters as Array<{ firstMj: number; lastMj: number }>;
    const gpuJ = (c.lastMj - c.firstMj) / 1000;
    assert.ok(Math.abs((s2.energyJ as number) / gpuJ - 1.5) < 0.01, `energy ${String(s2.energyJ)} J against the counters' ${gpuJ} J`);
    const reader = HistoryReader.open({ path: db });
    assert.equal(reader.getRun(s2.id as string)?.meta?.pue, 1.5);
    reader.close();
  });
});
