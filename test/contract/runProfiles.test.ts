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

const demo = join(repoRoot, 'sample-workspace', 'train_demo.py');

function runAgent(args: string[], stateDir: string): Promise<CliResult> {
  return runAgentCli(['run', ...args], { CHASE_STATE_DIR: stateDir }, { timeoutMs: 60_000 });
}

const fast = ['--simulate', '--speed', '3600', '--warmup-s', '0.3', '--window-s', '1', '--json'];

describe('chase-agent run: stored profiles', () => {
  it('the second run of a workload reuses the profile the first stored (no profiling)', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'chase-prof-state-'));
    const db = join(mkdtempSync(join(tmpdir(), 'chase-prof-db-')), 'h.sqlite');
    const first = await runAgent([...fast, '--db', db, '--workload', 'demo-k', '--', 'python3', demo, '--epochs', '4', '--steps', '300', '--step-ms', '10'], stateDir);
    assert.equal(first.code, 0, first.stderr.slice(-2000));
    const s1 = JSON.parse(first.stdout) as Record<string, unknown>;
    assert.equal(s1.workloadKey, 'demo-k');
    assert.equal(s1.profileReused, false);
    assert.match(first.stderr, /profiled \d+ limits/);
    assert.match(first.stderr, /saved the profile of workload "demo-k" on NVIDIA A40 \(simulated\)/);
    const store = HistoryReader.open({ path: db });
    const rows = store.profiles({ workloadKey: 'demo-k' });
    store.close();
    assert.ok(rows.length >= 2 && rows.every((r) => r.gpuModel === 'NVIDIA A40 (simulated)'), JSON.stringify(rows));

    const second = await runAgent([...fast, '--db', db, '--workload', 'demo-k', '--', 'python3', demo, '--epochs', '1', '--steps', '200', '--step-ms', '10'], stateDir);
    assert.equal(second.code, 0, second.stderr.slice(-2000));
    const s2 = JSON.parse(second.stdout) as Record<string, unknown>;
    assert.equal(s2.profileReused, true);
    assert.match(second.stderr, /reusing the stored profile of workload "demo-k"/);
    assert.doesNotMatch(second.stderr, /profiled \d+ limits/);
    assert.equal(typeof s2.baselineCarbonG, 'number');
  });
});
