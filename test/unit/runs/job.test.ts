/**
 * JobProcess with real processes (Node itself as the job): output as it comes and in lines (\r
 * too), the exit code, 128 + signal, a command that cannot start, stop (SIGTERM, then SIGKILL), and
 * attaching by PID (a dead PID fails; a process that goes away ends the job; stop lets it go).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { JobProcess, describeJob, type JobEvents } from '../../../agent/runs/job';
import { processAlive } from '../../../agent/process';
import { waitFor } from '../../contract/waitFor';

const node = process.execPath;

function recorder() {
  const seen = { output: '', lines: [] as string[], ended: undefined as { exitCode: number | null; failure?: string } | undefined, endedCount: 0 };
  const events: JobEvents = {
    output: (_stream, text) => (seen.output += text),
    line: (line) => seen.lines.push(line),
    ended: (exitCode, failure) => {
      seen.endedCount++;
      seen.ended = { exitCode, ...(failure ? { failure } : {}) };
    },
  };
  return { seen, events, ended: () => waitFor(() => seen.ended, 'the job to end') };
}

test('a launched job: output as it comes, lines split on \\r and \\n, its exit code', async () => {
  const r = recorder();
  const job = JobProcess.start({ kind: 'launch', file: node, args: ['-e', 'process.stdout.write("a 1/3\\rb 2/3\\nc"); process.exitCode = 3'], env: process.env }, r.events);
  assert.equal(job.attached, false);
  assert.ok(job.pid !== undefined);
  assert.deepEqual(await r.ended(), { exitCode: 3 });
  assert.equal(r.seen.output, 'a 1/3\rb 2/3\nc');
  assert.deepEqual(r.seen.lines, ['a 1/3', 'b 2/3', 'c'], 'the last partial line is flushed at exit');
  assert.equal(job.poll(), false);
});

test('the job gets exactly the environment it is given', async () => {
  const r = recorder();
  JobProcess.start({ kind: 'launch', file: node, args: ['-e', 'console.log(JSON.stringify([process.env.ONLY, process.env.HOME ?? null]))'], env: { ONLY: 'this' } }, r.events);
  await r.ended();
  assert.deepEqual(JSON.parse(r.seen.lines[0]), ['this', null]);
});

test('stop: SIGTERM ends the job with 128 + 15; a job that ignores it is killed after the grace period', async () => {
  const polite = recorder();
  const a = JobProcess.start({ kind: 'launch', file: node, args: ['-e', 'console.log("up"); setInterval(() => {}, 1000)'], env: process.env }, polite.events);
  await waitFor(() => polite.seen.lines.includes('up') || undefined, 'the job to start');
  a.stop(10_000);
  assert.deepEqual(await polite.ended(), { exitCode: 143 });

  const stubborn = recorder();
  const b = JobProcess.start({ kind: 'launch', file: node, args: ['-e', 'process.on("SIGTERM", () => console.log("ignored")); console.log("up"); setInterval(() => {}, 1000)'], env: process.env }, stubborn.events);
  await waitFor(() => stubborn.seen.lines.includes('up') || undefined, 'the job to start');
  b.stop(200);
  assert.deepEqual(await stubborn.ended(), { exitCode: 137 });
  assert.ok(stubborn.seen.lines.includes('ignored'));
  assert.equal(stubborn.seen.endedCount, 1);
});

test('a command that cannot start ends the job as a failure that says what to check', async () => {
  const r = recorder();
  JobProcess.start({ kind: 'launch', file: 'no-such-trainer-binary', args: [], env: process.env }, r.events);
  const ended = await r.ended();
  assert.equal(ended.exitCode, null);
  assert.match(ended.failure ?? '', /Could not start "no-such-trainer-binary": .*Check the command and that it is on PATH/);
});

test('attaching: a PID that is not running fails at once; a live one ends when it goes away; stop lets it go', async () => {
  const gone = spawnSync(node, ['-e', '']).pid;
  const dead = recorder();
  JobProcess.start({ kind: 'attach', pid: gone }, dead.events);
  assert.match(dead.seen.ended?.failure ?? '', new RegExp(`No process with PID ${gone} is running.*ps -p ${gone}`), 'synchronously');

  const proc = spawn(node, ['-e', 'process.stdin.resume()'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const pid = proc.pid ?? 0;
  const r = recorder();
  const job = JobProcess.start({ kind: 'attach', pid }, r.events);
  assert.equal(job.attached, true);
  assert.equal(job.pid, pid);
  assert.equal(job.command, `pid ${pid}`);
  assert.equal(job.poll(), true);
  proc.stdin.end();
  await waitFor(() => !processAlive(pid) || undefined, 'the process to exit');
  assert.equal(job.poll(), false);
  assert.deepEqual(r.seen.ended, { exitCode: null });

  const other = spawn(node, ['-e', 'process.stdin.resume()'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const kept = recorder();
  JobProcess.start({ kind: 'attach', pid: other.pid ?? 0 }, kept.events).stop(100);
  assert.deepEqual(kept.seen.ended, { exitCode: null });
  assert.equal(processAlive(other.pid ?? 0), true, 'an attached process is not ours to kill');
  other.stdin.end();
});

test('how a job is shown', () => {
  assert.equal(describeJob({ kind: 'launch', file: 'python3', args: ['train.py', '--epochs', '3'] }), 'python3 train.py --epochs 3');
  assert.equal(describeJob({ kind: 'attach', pid: 42 }), 'pid 42');
});
