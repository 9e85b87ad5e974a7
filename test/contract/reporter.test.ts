/** The Python reporter (a real python3; stdlib only, torch.distributed for the multi-rank case) against the agent's ReporterServer. A contract test: it spawns Python. */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { connect } from 'node:net';
import { ReporterServer, type ReporterStep } from '../../agent/runs/reporterServer';
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
