/**
 * Findings 8 and 9 (issue 12), command line: bad values used to be checked after GPU control and the
 * reporter socket had started (the process printed the error and never exited), or were read as
 * something else ("" as 0, 0x10 as 16, `-1` as "ambiguous", GPU 0 twice). Each is now one line and
 * exit code 2 within seconds, before anything starts: the fake GPUs' limits never move and the job
 * never runs.
 *
 * Checked against the build before the fix (CHASE_AGENT_JS=<old dist/agent.js>): the four finding-8
 * cases were killed after 15 s, still running.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cliInProcess, fakeGpuHost, INTERNAL_TEXT, runCli } from './harness';

const host = fakeGpuHost();
/** The job leaves this file behind if it ever runs. */
const ranMarker = join(host.dir, 'the-job-ran');
const job = ['--', 'touch', ranMarker];

/** Every case: exit 2 with one line naming the problem, quickly, nothing started. */
function assertRefused(r: { code: number | null; stderr: string }, ms: number, message: RegExp): void {
  assert.equal(r.code, 2, `exit code (null: killed after hanging ${ms} ms); stderr: ${r.stderr.slice(-600)}`);
  assert.match(r.stderr.split('\n')[0], message);
  assert.doesNotMatch(r.stderr, INTERNAL_TEXT);
  assert.doesNotMatch(r.stderr, /ambiguous/);
  assert.ok(ms < 10_000, `took ${ms} ms`);
  assert.deepEqual(host.limits(), host.originalLimits, 'no limit moved');
  assert.ok(!existsSync(ranMarker), 'the job never started');
}

// The built agent, as a user runs it: these hung after printing their error (finding 8).
describe('chase-agent run: bad values end the process at once (finding 8)', { concurrency: 3 }, () => {
  const cases: Array<[string[], RegExp]> = [
    [['run', '--eta', 'NaN', ...job], /--eta must be a number ≥ 0 and ≤ 1 \(got "NaN"\)/],
    [['run', '--total-units', 'x', ...job], /--total-units must be a number > 0/],
    [['run', '--warmup-s', 'NaN', ...job], /--warmup-s must be a number ≥ 0 and ≤ 3600/],
    [['run', '--window-s', 'abc', ...job], /--window-s must be a number > 0 and ≤ 3600/],
    [['run', '--budget-pct', '-1', ...job], /--budget-pct must be a number ≥ 0 and ≤ 100 \(got "-1"\)/],
  ];
  for (const [args, message] of cases) {
    it(`${args.join(' ')} → exit 2 at once`, async () => {
      const r = await runCli(host, args);
      assertRefused(r, r.ms, message);
    });
  }
});

// The same entry point (agent/main.ts main) in this process: quicker, same parsing (finding 9).
describe('bad values are refused with one line, not read as something else (finding 9)', () => {
  const cases: Array<[string[], RegExp]> = [
    [['run', '--budget-pct', '', ...job], /--budget-pct must be a number ≥ 0 and ≤ 100 \(got ""\)/],
    [['run', '--budget-pct', '0x10', ...job], /--budget-pct must be a number ≥ 0 and ≤ 100 \(got "0x10"\)/],
    [['run', '--budget-pct', '1e308', ...job], /--budget-pct must be a number ≥ 0 and ≤ 100/],
    [['run', '--gpus', '0,0', ...job], /--gpus lists GPU 0 twice/],
    [['run', '--gpus', '0,-1', ...job], /--gpus must be a whole number ≥ 0/],
    [['run', '--speed', '0', ...job], /--speed must be a number ≥ 0\.001 and ≤ 1000000/],
    // below chase.carbon.replaySpeed's minimum: the CLI and the setting accept the same range
    [['run', '--speed', '0.0005', ...job], /--speed must be a number ≥ 0\.001 and ≤ 1000000 \(got "0\.0005"\)/],
    [['run', '--policy', 'constructor', ...job], /--policy must be one of/],
    [['run', '--provider', 'bogus', ...job], /--provider must be one of/],
    [['run', '--pid', '12abc'], /--pid must be a whole number ≥ 1/],
    [['run', '--bogus', ...job], /unknown option --bogus/],
    [['run', '--budget-pct'], /give the command to run after --/],
    [['simulate', '--trace', 'x', '--profile', 'y', '--workload', 'w', '--batch', '0x80'], /--batch must be a whole number ≥ 1/],
    [['simulate', '--trace', 'x', '--profile', 'y', '--workload', 'w', '--batch', '8', '--starts', '1e9'], /--starts must be a whole number ≥ 1 and ≤ 10000/],
    [['forecast-bench', '--trace', 'x', '--warmup-days', '-1'], /--warmup-days must be a number ≥ 0/],
    [['forecast-bench', '--trace', 'x', '--horizons', '1,,6'], /--horizons must be a number > 0/],
    [['carbon', '--static', '1e308', '--provider', 'static'], /--static must be a number of g\/kWh from 0 to 3000 \(got 1e\+308\)/],
    [['carbon', '--lat', '91', '--lon', '0'], /--lat must be a number of degrees from -90 to 90 \(got 91\)/],
    [['runs', 'list', '--limit', '-5'], /--limit must be a whole number ≥ 1/],
    [['gpus', '--jsn'], /unknown option --jsn/],
    // issue 14 item 6: every subcommand on parseCli, whose errors are one line naming the flag
    [['carbon', '--zone', '--json'], /^chase-agent carbon: --zone needs a value before the next option \(a value that starts with "-" is written --zone=VALUE\)$/],
    [['gpus', '--json=yes'], /^chase-agent gpus: --json takes no value \(write --json alone\)$/],
    [['serve', '--stdio', '--bogus'], /^chase-agent serve: unknown option --bogus$/],
    [['serve', '--socket'], /^chase-agent serve: --socket needs a value$/],
    [['runs', '--json', 'list', '--limit', '0'], /^chase-agent runs: --limit must be a whole number ≥ 1/],
  ];
  for (const [args, message] of cases) {
    it(`${args.join(' ')} → exit 2, one line`, async () => {
      const t0 = Date.now();
      const r = await cliInProcess(args, host.env);
      assertRefused(r, Date.now() - t0, message);
    });
  }
});
