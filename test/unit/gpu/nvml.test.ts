import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Nvml, NvmlArchitecture, nvmlLibraryCandidates } from '../../../agent/gpu/nvml';
import {
  GRANT_CONTROL_HELP,
  NvmlDriverNotLoadedError,
  NvmlError,
  NvmlGpuLostError,
  NvmlInvalidArgumentError,
  NvmlLibraryNotFoundError,
  NvmlLibRmVersionMismatchError,
  NvmlNoPermissionError,
  NvmlNotFoundError,
  NvmlNotSupportedError,
  NvmlReturn,
  NvmlUninitializedError,
  NvmlUnknownError,
  nvmlError,
} from '../../../agent/gpu/errors';
import { fakeNvmlLibrary, standardGpus, tempDir, writeFakeState, readFakeLimits } from './fakeNvml';
import { NVML_H_ARCHITECTURES, NVML_H_RETURN_CODES } from './fixtures/nvmlHeader';

// One Nvml per process: the fake keeps its state in the loaded library, re-read at each nvmlInit_v2
// (when not initialized), so each test rewrites the state file and re-inits.
const stateFile = join(tempDir(), 'state.txt');
process.env.FAKE_NVML_STATE = stateFile;
writeFakeState(stateFile, standardGpus());
const nvml = Nvml.load([fakeNvmlLibrary()]);

function reinit(errors: { fn: string; code: number; index?: number }[] = []): void {
  if (nvml.isInitialized) nvml.shutdown();
  writeFakeState(stateFile, standardGpus(), errors);
  nvml.init();
}

test('every NVML call the agent makes returns the fake GPU state through koffi', () => {
  reinit();
  assert.equal(nvml.deviceCount(), 3);
  const h = nvml.handleByIndex(0);
  assert.equal(nvml.name(h), 'NVIDIA A40');
  assert.equal(nvml.uuid(h), 'GPU-11111111-aaaa-0000');
  assert.equal(nvml.pciBusId(h), '00000000:01:00.0');
  assert.equal(nvml.architecture(h), 7);
  assert.equal(nvml.powerUsageMw(h), 250000);
  assert.equal(nvml.powerLimitMw(h), 300000);
  assert.deepEqual(nvml.limitConstraintsMw(h), { minMw: 100000, maxMw: 300000 });
  assert.equal(nvml.defaultLimitMw(h), 300000);
  assert.equal(nvml.enforcedLimitMw(h), 300000);
  assert.deepEqual(nvml.utilization(h), { gpuPercent: 97, memoryPercent: 40 });
  assert.deepEqual(nvml.runningComputeProcesses(h), [{ pid: 4242, usedGpuMemoryBytes: 1048576, gpuInstanceId: 0xffffffff, computeInstanceId: 0xffffffff }]);
  assert.deepEqual(nvml.runningComputeProcesses(nvml.handleByIndex(1)), []);
  assert.equal(nvml.persistenceMode(h), true);
  assert.deepEqual(nvml.migMode(h), { current: false, pending: false });
  const byUuid = nvml.handleByUuid('GPU-22222222-bbbb-0001');
  assert.equal(nvml.uuid(byUuid), 'GPU-22222222-bbbb-0001');
  assert.throws(() => nvml.handleByUuid('GPU-nope'), NvmlNotFoundError);
});

test('the energy counter (mJ) advances with power over time; set limit changes power and persists', async () => {
  reinit();
  const h = nvml.handleByIndex(1);
  // Bracket each read with clock readings: 250 W over the time between the reads = 250 mJ/ms.
  const before0 = Date.now();
  const e0 = nvml.totalEnergyMj(h);
  const after0 = Date.now();
  await new Promise((r) => setTimeout(r, 60));
  const before1 = Date.now();
  const e1 = nvml.totalEnergyMj(h);
  const after1 = Date.now();
  const lo = 250 * (before1 - after0 - 2);
  const hi = 250 * (after1 - before0 + 2);
  assert.ok(e1 - e0 >= lo && e1 - e0 <= hi, `energy delta ${e1 - e0} outside [${lo}, ${hi}]`);
  nvml.setPowerLimitMw(h, 150000);
  assert.equal(nvml.powerLimitMw(h), 150000);
  assert.equal(nvml.powerUsageMw(h), 150000, 'power drawn is capped by the new limit');
  assert.equal(readFakeLimits(stateFile)['GPU-22222222-bbbb-0001'], 150000, 'the fake persisted the limit for other processes');
  assert.throws(() => nvml.setPowerLimitMw(h, 50000), NvmlInvalidArgumentError);
  // P100: no energy counter before Volta
  assert.throws(() => nvml.totalEnergyMj(nvml.handleByIndex(2)), NvmlNotSupportedError);
});

test('NVML return codes become typed errors at the edge, keeping code, function and cause', () => {
  const cases: [number, new (...a: never[]) => NvmlError][] = [
    [NvmlReturn.ERROR_UNINITIALIZED, NvmlUninitializedError],
    [NvmlReturn.ERROR_INVALID_ARGUMENT, NvmlInvalidArgumentError],
    [NvmlReturn.ERROR_NOT_SUPPORTED, NvmlNotSupportedError],
    [NvmlReturn.ERROR_NO_PERMISSION, NvmlNoPermissionError],
    [NvmlReturn.ERROR_DRIVER_NOT_LOADED, NvmlDriverNotLoadedError],
    [NvmlReturn.ERROR_GPU_IS_LOST, NvmlGpuLostError],
    [NvmlReturn.ERROR_LIB_RM_VERSION_MISMATCH, NvmlLibRmVersionMismatchError],
    [NvmlReturn.ERROR_NOT_FOUND, NvmlNotFoundError],
    [12345, NvmlUnknownError],
  ];
  for (const [code, cls] of cases) {
    reinit([{ fn: 'nvmlDeviceGetPowerUsage', code, index: 0 }]);
    const h = nvml.handleByIndex(0);
    assert.throws(
      () => nvml.powerUsageMw(h, 'GPU 0'),
      (e: unknown) => {
        assert.ok(e instanceof cls, `code ${code} → ${(e as Error).name}`);
        assert.ok(e instanceof NvmlError);
        assert.equal(e.nvmlCode, code);
        assert.equal(e.functionName, 'nvmlDeviceGetPowerUsage');
        assert.match(String((e.cause as Error).message), new RegExp(`nvmlDeviceGetPowerUsage returned ${code}`));
        return true;
      },
    );
    assert.equal(nvml.powerUsageMw(nvml.handleByIndex(1)), 250000, 'an error injected for GPU 0 leaves GPU 1 alone');
  }
  // nvmlInit_v2 itself failing (driver not loaded / version mismatch)
  nvml.shutdown();
  writeFakeState(stateFile, standardGpus(), [{ fn: 'nvmlInit_v2', code: NvmlReturn.ERROR_LIB_RM_VERSION_MISMATCH }]);
  assert.throws(() => nvml.init(), NvmlLibRmVersionMismatchError);
  assert.throws(() => nvml.deviceCount(), NvmlUninitializedError, 'calls before a successful init are UNINITIALIZED');
});

test('error messages say what to do; NO_PERMISSION names zeusd and the system service, never root VS Code', () => {
  for (const code of Object.values(NvmlReturn)) {
    if (code === NvmlReturn.SUCCESS) continue;
    const e = nvmlError(code, 'nvmlDeviceSetPowerManagementLimit', 'text', 'GPU 0');
    assert.ok(e.message.length > 30, `message for ${code}`);
    assert.ok(e.message.includes('nvmlDeviceSetPowerManagementLimit'));
    assert.equal(e.nvmlCode, code);
  }
  const perm = nvmlError(NvmlReturn.ERROR_NO_PERMISSION, 'nvmlDeviceSetPowerManagementLimit', 'Insufficient Permissions', 'GPU 0');
  assert.ok(perm instanceof NvmlNoPermissionError);
  assert.equal(perm.code, 'ERROR_NO_PERMISSION');
  assert.ok(perm.message.includes(GRANT_CONTROL_HELP));
  assert.match(perm.message, /zeusd/);
  assert.match(perm.message, /chase-agent serve/);
  assert.doesNotMatch(perm.message, /run (VS Code|code|the editor) as root|sudo code/i);
  assert.match(nvmlError(NvmlReturn.ERROR_GPU_IS_LOST, 'f').message, /reset|reboot/);
  assert.match(nvmlError(NvmlReturn.ERROR_LIB_RM_VERSION_MISMATCH, 'f').message, /Reboot|reload/);
  assert.match(nvmlError(NvmlReturn.ERROR_DRIVER_NOT_LOADED, 'f').message, /modprobe|driver/);
});

test('a missing library is a typed NvmlLibraryNotFoundError, not a crash', () => {
  assert.throws(() => Nvml.load(['/nonexistent/libnvidia-ml.so.1']), (e: unknown) => e instanceof NvmlLibraryNotFoundError && /CHASE_NVML_LIBRARY/.test(e.message));
  assert.throws(() => Nvml.load(['libdefinitely-not-nvml.so.9']), NvmlLibraryNotFoundError);
  assert.deepEqual(nvmlLibraryCandidates('linux', { CHASE_NVML_LIBRARY: '/x/lib.so' }), ['/x/lib.so']);
  assert.deepEqual(nvmlLibraryCandidates('linux', {}), ['libnvidia-ml.so.1']);
  assert.equal(nvmlLibraryCandidates('win32', {})[0], 'nvml.dll');
});

test('SM clock (nvmlDeviceGetClockInfo, NVML_CLOCK_SM): the activity proxy falls when the limit caps power', () => {
  reinit();
  const h = nvml.handleByIndex(0);
  // The fake's clock: 1740 MHz × drawn power / maximum limit; GPU 0 draws its 250 W demand under a 300 W limit.
  assert.equal(nvml.smClockMhz(h), 1450);
  nvml.setPowerLimitMw(h, 150_000);
  assert.equal(nvml.smClockMhz(h), 870);
  nvml.setPowerLimitMw(h, 300_000);
  assert.equal(nvml.utilization(h).gpuPercent, 97);
});

test('every nvmlReturn_t and architecture in the newest nvml.h (API 13) has a name and its own advice', () => {
  const ours = Object.fromEntries(Object.entries(NvmlReturn).map(([k, v]) => [`NVML_${k}`, v]));
  assert.deepEqual(ours, NVML_H_RETURN_CODES);
  for (const [name, code] of Object.entries(NVML_H_RETURN_CODES)) {
    if (code === 0) continue;
    const e = nvmlError(code, 'nvmlDeviceGetPowerUsage', undefined, 'GPU 0');
    assert.doesNotMatch(e.message, /unknown NVML error \(code/, `${name} falls through to the generic message`);
    assert.equal(e.code, name.slice('NVML_'.length));
  }
  assert.match(nvmlError(30, 'f').message, /reset is not supported/);
  assert.ok(nvmlError(30, 'f') instanceof NvmlNotSupportedError);
  assert.ok(nvmlError(999, 'f') instanceof NvmlUnknownError);
  for (const [name, arch] of Object.entries(NVML_H_ARCHITECTURES)) {
    assert.ok(NvmlArchitecture[arch], `${name} (${arch}) has no name`);
  }
  assert.equal(NvmlArchitecture[13], 'Rubin');
  // a code newer than this table still gets a message with the number
  assert.match(nvmlError(31, 'f').message, /unknown NVML error \(code 31\)/);
});

test('process list on drivers without _v3: falls back symbol by symbol (470: _v2, same struct; older: v1 struct, 16 bytes)', () => {
  const procs = [
    { pid: 4242, mem: 1048576 },
    { pid: 777, mem: 2097152 },
  ];
  const expected = procs.map((p) => ({ pid: p.pid, usedGpuMemoryBytes: p.mem, gpuInstanceId: 0xffffffff, computeInstanceId: 0xffffffff }));
  const cases = [
    [470, 'nvmlDeviceGetComputeRunningProcesses_v2'],
    [418, 'nvmlDeviceGetComputeRunningProcesses'],
    [535, 'nvmlDeviceGetComputeRunningProcesses_v3'],
  ] as const;
  for (const [driver, symbol] of cases) {
    const file = join(tempDir(), 'state.txt');
    writeFakeState(file, [{ ...standardGpus()[0], procs }]);
    process.env.FAKE_NVML_STATE = file;
    const lib = driver === 535 ? nvml : Nvml.load([fakeNvmlLibrary(driver)]);
    if (lib.isInitialized) lib.shutdown();
    lib.init();
    try {
      assert.deepEqual(lib.runningComputeProcesses(lib.handleByIndex(0)), expected, `driver ${driver}`);
      assert.equal(lib.symbols.computeProcesses, symbol, `driver ${driver}`);
    } finally {
      lib.shutdown();
      process.env.FAKE_NVML_STATE = stateFile;
    }
  }
  // errors name the symbol that was bound
  const old = Nvml.load([fakeNvmlLibrary(470)]);
  const file = join(tempDir(), 'state.txt');
  writeFakeState(file, standardGpus(), [{ fn: 'nvmlDeviceGetComputeRunningProcesses_v2', code: NvmlReturn.ERROR_GPU_IS_LOST }]);
  process.env.FAKE_NVML_STATE = file;
  old.init();
  try {
    assert.throws(() => old.runningComputeProcesses(old.handleByIndex(0)), (e: unknown) => e instanceof NvmlGpuLostError && e.functionName === 'nvmlDeviceGetComputeRunningProcesses_v2');
  } finally {
    old.shutdown();
    process.env.FAKE_NVML_STATE = stateFile;
  }
});
