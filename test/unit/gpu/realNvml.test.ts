/**
 * Debian's real libnvidia-ml.so.1 — 535 (`libnvidia-ml1`, bookworm non-free) and 470
 * (`libnvidia-tesla-470-ml1`) — fetched and unpacked, never installed, by
 * scripts/fetch-real-nvml.sh (scripts/setup.sh and .ci/run call it; cache: CHASE_NVML_CACHE, else
 * ~/.cache/chase/nvml). No kernel driver runs here, so nvmlInit fails: these tests check that every
 * entry point the agent binds resolves against the real libraries, and that the failure to start
 * says why and leaves the agent on simulated GPUs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { NVML_BINDINGS, Nvml } from '../../../agent/gpu/nvml';
import { NvmlDriverNotLoadedError, NvmlReturn } from '../../../agent/gpu/errors';
import { openGpuBackend } from '../../../agent/gpu/index';
import { fakeEnv, tempDir } from './fakeNvml';

const CACHE = process.env.CHASE_NVML_CACHE || join(homedir(), '.cache', 'chase', 'nvml');
// Debian ships these packages for amd64 (and arm64); the fetch script skips other machines.
const supported = process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64');

function realLibrary(branch: '535' | '470'): string {
  const path = join(CACHE, branch, 'libnvidia-ml.so.1');
  assert.ok(existsSync(path), `${path} is missing: run scripts/fetch-real-nvml.sh (scripts/setup.sh does)`);
  return path;
}

/** What each branch binds where symbols are versioned; every other entry point binds its only name. */
const EXPECTED: Record<'535' | '470', Partial<Record<string, string>>> = {
  '535': { init: 'nvmlInit_v2', pciInfo: 'nvmlDeviceGetPciInfo_v3', computeProcesses: 'nvmlDeviceGetComputeRunningProcesses_v3' },
  '470': { init: 'nvmlInit_v2', pciInfo: 'nvmlDeviceGetPciInfo_v3', computeProcesses: 'nvmlDeviceGetComputeRunningProcesses_v2' },
};

for (const branch of ['535', '470'] as const) {
  test(`real NVML ${branch}: every binding resolves; nvmlInit without a kernel driver fails with what to do`, { skip: !supported && `Debian ships libnvidia-ml for amd64/arm64 only (this is ${process.platform}-${process.arch})` }, () => {
    const path = realLibrary(branch);
    const version = readFileSync(join(CACHE, branch, 'VERSION'), 'utf8').trim();
    assert.ok(version.startsWith(`${branch}.`), `${path} is version ${version}`);
    const nvml = Nvml.load([path]);
    try {
      for (const [name, candidates] of NVML_BINDINGS) {
        const bound = nvml.symbols[name];
        assert.ok(bound, `${name}: none of ${candidates.join(', ')} is exported by ${branch}`);
        assert.equal(bound, EXPECTED[branch][name] ?? candidates[0], `${name} on ${branch}`);
      }
      // nvmlErrorString is the library's own: the texts Chase keeps as the cause
      assert.equal(nvml.errorString(NvmlReturn.ERROR_NO_PERMISSION), 'Insufficient Permissions');
      assert.equal(nvml.errorString(NvmlReturn.ERROR_DRIVER_NOT_LOADED), 'Driver Not Loaded');
      assert.throws(
        () => nvml.init(),
        (e: unknown) => {
          assert.ok(e instanceof NvmlDriverNotLoadedError, String(e));
          assert.equal(e.functionName, 'nvmlInit_v2');
          assert.match(e.message, /^nvmlInit_v2: the NVIDIA kernel driver is not loaded\. Install or load it \(`sudo modprobe nvidia`; check `dmesg`\), then restart the agent\. Chase shows simulated GPUs meanwhile\.$/);
          assert.match(String((e.cause as Error).message), /returned 9 ERROR_DRIVER_NOT_LOADED \("Driver Not Loaded"\)/);
          return true;
        },
      );
      assert.equal(nvml.isInitialized, false);
    } finally {
      nvml.unload();
    }
  });

  test(`real NVML ${branch}: the agent falls back to simulated GPUs and says why`, { skip: !supported && 'no Debian libnvidia-ml here' }, async () => {
    const env = { ...fakeEnv(join(tempDir(), 'none.txt'), tempDir()), CHASE_NVML_LIBRARY: realLibrary(branch) };
    const { backend, notes } = await openGpuBackend({ env });
    try {
      assert.equal(backend.kind, 'simulated');
      assert.match(notes.join('\n'), new RegExp(`NVML \\(${realLibrary(branch).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\) could not start: nvmlInit_v2: the NVIDIA kernel driver is not loaded`));
      assert.match(notes.join('\n'), /Showing 1 simulated GPU/);
    } finally {
      await backend.close();
    }
    await assert.rejects(openGpuBackend({ env: { ...env, CHASE_GPU_BACKEND: 'nvml' } }), /kernel driver is not loaded/);
  });
}
