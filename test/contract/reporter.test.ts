/** The Python reporter (a real python3; stdlib only, torch.distributed for the multi-rank case) against the agent's ReporterServer. A contract test: it spawns Python. */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { connect } from 'node:net';
import { jobPythonPath, REQUEST_BURST, ReporterRefusal, ReporterServer, reporterPythonDir, type ReporterHandler, type ReporterStep } from '../../agent/runs/reporterServer';
import { requirePythonModules, runPython as runSystemPython } from '../systemPython';

const pythonDir = join(__dirname, '..', '..', '..', 'agent', 'runs', 'python');

/** Async on purpose: the server under test runs on this process's event loop. */
function runPython(code: string, env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn('python3', ['-c', code], { env: { ...process.env, PYTHONPATH: pythonDir, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

for (const transport of ['unix', 'tcp'] as const) {
  describe(`reporter over ${transport}`, () => {
    const steps: ReporterStep[] = [];
    const server = new ReporterServer((s) => steps.push(s));
    after(() => server.stop());

    it('credits each step(samples=…) to the run whose token the process holds', async () => {
      await server.start(transport);
      const env = server.register('run-1');
      server.register('run-2');
      const r = await runPython('import chase_reporter\nfor _ in range(5): chase_reporter.step(samples=32)\nprint(chase_reporter.enabled())', { ...env });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'True');
      // the lines may still be in flight when python exits: wait for them, with a deadline
      const deadline = Date.now() + 5000;
      while (steps.length < 5 && Date.now() < deadline) await new Promise((res) => setImmediate(res));
      assert.equal(steps.length, 5);
      assert.ok(steps.every((s) => s.runId === 'run-1' && s.samples === 32 && s.steps === 1));
    });

    it('a wrong token: one warning on stderr, training goes on, nothing credited', async () => {
      const before = steps.length;
      const env = { ...server.register('run-3'), CHASE_RUN_TOKEN: 'ab'.repeat(24) };
      const r = await runPython('import chase_reporter\nfor _ in range(3): chase_reporter.step(samples=1)\nprint("trained")', env);
      assert.equal(r.status, 0);
      assert.equal(r.stdout.trim(), 'trained');
      assert.equal(r.stderr.match(/chase_reporter:/g)?.length, 1, r.stderr);
      assert.match(r.stderr, /wrong token/);
      assert.equal(steps.length, before);
    });
  });
}

describe('reporter edge cases', () => {
  it('outside Chase the reporter does nothing', async () => {
    const r = await runPython('import chase_reporter\nchase_reporter.step(samples=1)\nprint(chase_reporter.enabled())', { CHASE_REPORTER: '', CHASE_RUN_TOKEN: '' });
    assert.equal(r.status, 0);
    assert.equal(r.stdout.trim(), 'False');
    assert.equal(r.stderr, '');
  });

  it('an unreachable agent: one warning, no exception', async () => {
    const r = await runPython('import chase_reporter\nfor _ in range(3): chase_reporter.step()\nprint("ok")', { CHASE_REPORTER: 'unix:/nonexistent/chase.sock', CHASE_RUN_TOKEN: 'ab' });
    assert.equal(r.stdout.trim(), 'ok');
    assert.equal(r.stderr.match(/chase_reporter:/g)?.length, 1);
  });

  it('malformed JSON closes the connection with an error line', async () => {
    const server = new ReporterServer(() => undefined);
    await server.start('tcp');
    const { CHASE_REPORTER } = server.register('r');
    const port = Number(CHASE_REPORTER.split(':').pop());
    const reply = await new Promise<string>((resolve) => {
      let got = '';
      const s = connect(port, '127.0.0.1', () => s.write('{not json\n'));
      s.on('data', (d) => (got += d.toString()));
      s.on('close', () => resolve(got));
    });
    assert.match(reply, /"ok":false.*malformed JSON/);
    await server.stop();
  });

  it('counts the samples of real PyTorch batches: (images, labels) from a DataLoader, dicts, bare tensors', async () => {
    requirePythonModules(['torch'], ['python3-torch']);
    // _batch_size is what the Lightning callback reports per batch (Lightning and transformers are not
    // packaged for Debian, so their callback classes themselves are not run here)
    const code = [
      'import torch, chase_reporter',
      'data = torch.utils.data.TensorDataset(torch.zeros(10, 3, 8, 8), torch.zeros(10, dtype=torch.long))',
      'batches = [chase_reporter._batch_size(b) for b in torch.utils.data.DataLoader(data, batch_size=4)]',
      'print(batches, chase_reporter._batch_size({"input_ids": torch.zeros(5, 7)}), chase_reporter._batch_size(torch.zeros(6)), chase_reporter._batch_size(object()))',
    ].join('\n');
    const r = await runSystemPython(['-c', code], { PYTHONPATH: pythonDir });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '[4, 4, 2] 5 6 None');
  });
});

/** A raw client of the reporter socket (TCP): sends lines, reads answers one by one. */
async function rawClient(address: string): Promise<{ send(o: unknown): void; sendRaw(s: string): void; next(): Promise<Record<string, unknown>>; closed: Promise<void>; end(): void }> {
  const port = Number(address.split(':').pop());
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const lines: string[] = [];
  const waiters: Array<(l: string) => void> = [];
  let buf = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  return {
    send: (o) => socket.write(JSON.stringify(o) + '\n'),
    sendRaw: (s) => socket.write(s),
    next: () => new Promise((r) => (lines.length > 0 ? r(JSON.parse(lines.shift()!)) : waiters.push((l) => r(JSON.parse(l))))),
    closed,
    end: () => socket.end(),
  };
}

describe('reporter protocol 2 (requests) on the agent side', () => {
  const node = { gpuModel: 'NVIDIA A40', gpuCount: 2, minLimitMw: 100_000, maxLimitMw: 300_000, control: 'permitted' as const };
  const seen: string[] = [];
  const handler: ReporterHandler = {
    node: () => (seen.push('node'), node),
    job: () => (seen.push('job'), { syncEverySteps: 7 }),
    join: () => (seen.push('join'), {}),
    energy: (p) => (seen.push(`energy ${p.step}`), { energyMj: 42, control: 'permitted' }),
    decide: () => {
      throw new TypeError("Cannot read properties of null (reading 'x')");
    },
    apply: () => {
      throw new ReporterRefusal('GPU 0 was released: the run has ended');
    },
    leave: () => ({}),
  };

  it('a job\'s PYTHONPATH: the user\'s entries first, the reporter\'s folder appended once', () => {
    assert.equal(jobPythonPath(undefined), reporterPythonDir);
    assert.equal(jobPythonPath(''), reporterPythonDir);
    assert.equal(jobPythonPath(['/a', '/b'].join(delimiter)), ['/a', '/b', reporterPythonDir].join(delimiter));
    assert.equal(jobPythonPath([reporterPythonDir, '/a'].join(delimiter)), ['/a', reporterPythonDir].join(delimiter));
    assert.ok(existsSync(join(reporterPythonDir, 'chase_reporter.py')), 'the folder holds the module');
  });

  it('answers requests in order, by id; the first leader op makes a connection its node\'s leader; others are refused', async () => {
    const server = new ReporterServer(() => undefined);
    await server.start('tcp');
    try {
      const env = server.register('run-a', { handler });
      const a = await rawClient(env.CHASE_REPORTER);
      a.send({ event: 'hello', token: env.CHASE_RUN_TOKEN, pid: 11, v: 2 });
      assert.deepEqual(await a.next(), { ok: true, runId: 'run-a', v: 2 });
      a.send({ id: 1, op: 'node' });
      a.send({ event: 'step', steps: 1 });
      a.send({ id: 2, op: 'energy', step: 3 });
      assert.deepEqual(await a.next(), { id: 1, ok: true, ...node });
      assert.deepEqual(await a.next(), { id: 2, ok: true, energyMj: 42, control: 'permitted' });
      // a second process of the same job may report steps, but not speak for the node
      const b = await rawClient(env.CHASE_REPORTER);
      b.send({ event: 'hello', token: env.CHASE_RUN_TOKEN, pid: 12, v: 2 });
      await b.next();
      b.send({ id: 1, op: 'energy', step: 3 });
      assert.deepEqual(await b.next(), { id: 1, ok: false, error: 'energy: another process of this job (pid 11) already speaks for this node; only the node\'s local rank 0 may' });
      // decide before job: only the coordinator may
      a.send({ id: 3, op: 'decide', step: 1, elapsedS: 1, units: 1, nodes: [{ energyMj: 1, status: 'permitted' }] });
      assert.match(String((await a.next()).error), /^decide: only the job's coordinator \(global rank 0, after "job"\) may$/);
      a.send({ id: 4, op: 'job', jobId: 'j1', worldSize: 2, nodes: [{ ...node, nodeRank: 0, ranks: 1 }] });
      assert.deepEqual(await a.next(), { id: 4, ok: true, syncEverySteps: 7 });
      // an internal error in the handler never reaches the job as such; a refusal does, as written
      a.send({ id: 5, op: 'decide', step: 1, elapsedS: 1, units: 1, nodes: [{ energyMj: 1, status: 'permitted' }] });
      const internal = await a.next();
      assert.equal(internal.ok, false);
      assert.doesNotMatch(String(internal.error), /Cannot read properties/);
      assert.match(String(internal.error), /internal error in chase-agent \(reporter op decide\)/);
      a.send({ id: 6, op: 'apply', step: 1, decisionId: 1, powerLimitMw: 200_000, validUntilMs: 1, kind: 'control', intensityGPerKwh: 200 });
      assert.deepEqual(await a.next(), { id: 6, ok: false, error: 'GPU 0 was released: the run has ended' });
      // once the leader leaves, another process may take its place
      a.end();
      await a.closed;
      b.send({ id: 2, op: 'energy', step: 4 });
      assert.equal((await b.next()).ok, true);
      b.end();
      assert.deepEqual(seen, ['node', 'energy 3', 'job', 'energy 4']);
    } finally {
      await server.stop();
    }
  });

  it('checks each request: id, op, parameters (one line naming the field), and a run with no coordination', async () => {
    const server = new ReporterServer(() => undefined);
    await server.start('tcp');
    try {
      const env = server.register('run-b', { handler });
      const c = await rawClient(env.CHASE_REPORTER);
      c.send({ event: 'hello', token: env.CHASE_RUN_TOKEN, v: 2 });
      await c.next();
      c.send({ op: 'node' });
      assert.deepEqual(await c.next(), { id: null, ok: false, error: 'a request needs "id", a whole number ≥ 0' });
      c.send({ id: 1, op: 'reboot' });
      assert.match(String((await c.next()).error), /^unknown op "reboot" \(this agent speaks reporter protocol 2: node, job, join, energy, decide, apply, leave\)$/);
      c.send({ id: 2, op: 'apply', step: 1, decisionId: 1, powerLimitMw: -5, validUntilMs: 1, kind: 'control', intensityGPerKwh: 200 });
      assert.equal((await c.next()).error, 'apply: powerLimitMw must be a power in mW from 0 to 10 000 000 (got -5)');
      c.send({ id: 3, op: 'energy', step: 1, extra: true });
      assert.match(String((await c.next()).error), /^energy: unknown field "extra"/);
      c.send({ id: 4, op: 'constructor' });
      assert.match(String((await c.next()).error), /^unknown op "constructor"/);
      c.end();
      const plain = server.register('run-c');
      const d = await rawClient(plain.CHASE_REPORTER);
      d.send({ event: 'hello', token: plain.CHASE_RUN_TOKEN, v: 2 });
      await d.next();
      d.send({ id: 1, op: 'node' });
      assert.deepEqual(await d.next(), { id: 1, ok: false, error: 'this agent does not coordinate distributed jobs for run run-c: each node decides alone' });
      d.end();
    } finally {
      await server.stop();
    }
  });

  it('bounds requests per connection: a burst beyond the bucket is answered "rate limited" without reaching the handler', async () => {
    let clock = 1_000_000;
    let calls = 0;
    const server = new ReporterServer(() => undefined, () => clock);
    await server.start('tcp');
    try {
      const env = server.register('run-d', { handler: { ...handler, energy: () => (calls++, { energyMj: 1, control: 'permitted' }) } });
      const c = await rawClient(env.CHASE_REPORTER);
      c.send({ event: 'hello', token: env.CHASE_RUN_TOKEN, v: 2 });
      await c.next();
      const n = REQUEST_BURST + 50;
      for (let i = 0; i < n; i++) c.send({ id: i, op: 'energy', step: i });
      const answers = [];
      for (let i = 0; i < n; i++) answers.push(await c.next());
      assert.equal(answers.filter((a) => a.ok === true).length, REQUEST_BURST);
      assert.match(String(answers[n - 1].error), /^rate limited: at most 100 requests per second/);
      assert.equal(calls, REQUEST_BURST);
      clock += 1000; // a second later the bucket has refilled by REQUESTS_PER_S
      c.send({ id: n, op: 'energy', step: n });
      assert.equal((await c.next()).ok, true);
      c.end();
    } finally {
      await server.stop();
    }
  });

  it('a line over 64 KiB closes the connection with one error line', async () => {
    const server = new ReporterServer(() => undefined);
    await server.start('tcp');
    try {
      const env = server.register('run-e', { handler });
      const c = await rawClient(env.CHASE_REPORTER);
      c.send({ event: 'hello', token: env.CHASE_RUN_TOKEN, v: 2 });
      await c.next();
      c.sendRaw(JSON.stringify({ id: 1, op: 'node', pad: 'x'.repeat(70 * 1024) }) + '\n');
      assert.deepEqual(await c.next(), { ok: false, error: 'line too long (over 65536 bytes)' });
      await c.closed;
    } finally {
      await server.stop();
    }
  });
});
