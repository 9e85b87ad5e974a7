/** `chase-agent gpus` as a user runs it: the built agent (dist/agent.js) on the fake NVML library, or on none. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { GpuListResult } from '../../agent/cli/gpus';
import { fakeEnv, standardGpus, tempDir, writeFakeState } from '../unit/gpu/fakeNvml';
import { agentJs } from './agentProcess';

function gpus(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [agentJs, 'gpus', ...args], { env, timeout: 15000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('chase-agent gpus --json: NVML GPUs with limits in mW, energy in mJ, advise mode with the reason', async () => {
  const state = join(tempDir(), 'state.txt');
  writeFakeState(state, standardGpus(), [{ fn: 'nvmlDeviceSetPowerManagementLimit', code: 4 }]);
  const r = await gpus(['--json'], fakeEnv(state, tempDir()));
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as GpuListResult;
  assert.equal(out.backend.kind, 'nvml');
  assert.equal(out.backend.simulated, false);
  assert.equal(out.gpus.length, 3);
  const [a, , p] = out.gpus;
  assert.deepEqual(
    [a.index, a.uuid, a.name, a.backend, a.powerLimitMw, a.defaultLimitMw, a.minLimitMw, a.maxLimitMw, a.powerMw],
    [0, 'GPU-11111111-aaaa-0000', 'NVIDIA A40', 'nvml', 300000, 300000, 100000, 300000, 250000],
  );
  assert.equal(typeof a.energyMj, 'number');
  assert.equal(p.energyMj, null, 'P100 has no energy counter');
  assert.equal(a.control, 'advise');
  assert.match(a.controlReason ?? '', /zeusd/);
  assert.match(a.controlReason ?? '', /chase-agent serve/);
});

test('chase-agent gpus: permitted with privileges; text output; CUDA_VISIBLE_DEVICES narrows the list', async () => {
  const state = join(tempDir(), 'state.txt');
  writeFakeState(state, standardGpus());
  const env = fakeEnv(state, tempDir(), { CUDA_VISIBLE_DEVICES: 'GPU-33333333' });
  const json = JSON.parse((await gpus(['--json'], env)).stdout) as GpuListResult;
  assert.deepEqual(json.gpus.map((g) => [g.index, g.control]), [[2, 'permitted']]);
  const text = await gpus([], env);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /GPU 2: Tesla P100-PCIE-16GB/);
  assert.match(text.stdout, /control: permitted/);
  assert.equal((await gpus(['--bogus'], env)).code, 2);
});

test('chase-agent gpus with no NVIDIA driver: simulated GPUs, said so, exit 0', async () => {
  const env = fakeEnv(join(tempDir(), 'none.txt'), tempDir(), { CHASE_NVML_LIBRARY: '/nonexistent/libnvidia-ml.so.1' });
  const r = await gpus([], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /SIMULATED/);
  assert.match(r.stdout, /No NVIDIA driver found/);
  assert.match(r.stdout, /NVIDIA A40 \(simulated\)/);
  const json = JSON.parse((await gpus(['--json'], env)).stdout) as GpuListResult;
  assert.equal(json.backend.kind, 'simulated');
  assert.equal(json.gpus[0].backend, 'simulated');
  assert.equal(json.gpus[0].powerMw, 244261);
});
