/** `chase-agent runs list | show | export` over a seeded history: twice through the built agent (dist/agent.js), the rest in-process. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CODECARBON_COLUMNS } from '../../agent/store/export';
import type { RunRecord } from '../../agent/store/types';
import { cliInProcess } from '../harness/cliInProcess';
import { seedHistory } from '../unit/store/fixtures/seed';
import { tempDir } from '../unit/store/helpers';
import { agentJs } from './agentProcess';

const run$ = promisify(execFile);

test('CLI: chase-agent runs list | show | export, --db and CHASE_STATE_DIR, errors that say what to do', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'history.sqlite');
    seedHistory(path);
    // once through the real entry point (registration in agent/cli/commands.ts)
    const real = await run$(process.execPath, [agentJs, 'runs', 'list', '--db', path]);
    assert.match(real.stdout, /^ID\s+STARTED \(UTC\)/);
    assert.match(real.stdout, /run-42\s+2026-03-01 12:00:00\s+1h00m\s+completed\s+2\.000\s+400\.0\s+60\.0 g \(13\.0 %\)/);

    const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => cliInProcess(['runs', ...args], env);
    const viaEnv = await cli(['list', '--json'], { CHASE_STATE_DIR: dir });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.deepEqual((JSON.parse(viaEnv.stdout) as RunRecord[]).map((r) => r.id), ['run-43', 'run-42']);
    const show = await cli(['show', 'run-42', '--db', path]);
    assert.match(show.stdout, /emissions 400 gCO₂ \(0\.40000 kg\)/);
    assert.match(show.stdout, /decisions 1/);
    const csv = await cli(['export', 'run-42', '--db', path]);
    assert.equal(csv.stdout.split('\n')[0], CODECARBON_COLUMNS.join(','));
    const out = join(dir, 'emissions.csv');
    assert.equal((await cli(['export', 'run-42', '--db', path, '--out', out])).code, 0);
    assert.equal((await cli(['export', 'run-43', '--db', path, '--out', out])).code, 0);
    assert.equal(readFileSync(out, 'utf8').trimEnd().split('\n').length, 3);
    const json = await cli(['export', 'run-42', '--format', 'json', '--db', path]);
    assert.equal((JSON.parse(json.stdout) as { run: RunRecord }).run.id, 'run-42');

    const missingRun = await cli(['show', 'nope', '--db', path]);
    assert.equal(missingRun.code, 1);
    assert.match(missingRun.stderr, /runs list shows the ids/);
    const badFormat = await cli(['export', 'run-42', '--format', 'xml', '--db', path]);
    assert.equal(badFormat.code, 2);
    assert.match(badFormat.stderr, /--format must be codecarbon or json/);
    // a fresh home (no database yet): an empty list, exit 0 — in both output forms
    const fresh = join(dir, 'fresh-home');
    const freshJson = await run$(process.execPath, [agentJs, 'runs', 'list', '--json'], { env: { ...process.env, CHASE_STATE_DIR: fresh } });
    assert.equal(freshJson.stdout, '[]\n');
    const freshText = await cli(['list'], { CHASE_STATE_DIR: fresh });
    assert.equal(freshText.code, 0, freshText.stderr);
    assert.match(freshText.stdout, /^No runs recorded yet\. \(The history is created at .*fresh-home.*history\.sqlite by the first run\.\)\n$/);
    const freshShow = await cli(['show', 'run-1'], { CHASE_STATE_DIR: fresh });
    assert.equal(freshShow.code, 1, 'show names a run: none there is an error');
    assert.match(freshShow.stderr, /no run history at/);
    const noDb = await cli(['list', '--db', join(dir, 'missing.sqlite')]);
    assert.equal(noDb.code, 1);
    assert.match(noDb.stderr, /no run history at .*--db FILE/);
    assert.equal((await cli(['frobnicate'])).code, 2);
  } finally {
    cleanup();
  }
});
