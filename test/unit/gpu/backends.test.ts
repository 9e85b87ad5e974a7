import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SimulatedBackend } from '../../../agent/gpu/backends/simulated';
import { NvmlBackend, type NvmlBackendOptions } from '../../../agent/gpu/backends/nvml';
import { driverPrivilege, permissionProbeFromEnv } from '../../../agent/gpu/privilege';
import { NvmlReturn } from '../../../agent/gpu/errors';
import { spawnSync } from 'node:child_process';
import { Nvml } from '../../../agent/gpu/nvml';
import { pointAtLimit } from '../../../agent/profile/profile';
import { loadDefaultProfile } from '../../../agent/profile/zeus';
import { openGpuBackend } from '../../../agent/gpu/index';
import { EnergyMeter } from '../../../agent/gpu/energy';
import { GpuSampler } from '../../../agent/gpu/sampler';
import { resolveVisibleDevices } from '../../../agent/gpu/visibility';
import type { GpuControl, GpuInfo } from '../../../agent/gpu/backend';
import { fakeEnv, fakeNvmlLibrary, standardGpus, tempDir, writeFakeState } from './fakeNvml';

// ---- simulated -----------------------------------------------------------------------------------

test('simulated: power and speed follow the A40 ResNet-50 b128 profile and respond to limits', async () => {
  const profile = loadDefaultProfile();
  assert.equal(profile.measured.length, 9);
  assert.equal(profile.gpu, 'A40');
  assert.deepEqual(profile.measured[0], { powerLimitMw: 100000, avgPowerMw: 114709.16054489874, unitsPerS: 1 / 11009.39, measured: true });
  const sim = new SimulatedBackend({ profile, count: 2, now: () => 0 });
  const [g] = sim.devices();
  assert.match(g.name, /simulated/);
  assert.equal(sim.simulated, true);
  assert.deepEqual([g.minLimitMw, g.maxLimitMw, g.defaultLimitMw], [100000, 300000, 300000]);
  assert.equal(sim.powerMw(0), 244261);
  const fastEpoch = sim.epochMs(0);
  await sim.setPowerLimit(0, 150000);
  assert.equal(sim.powerMw(0), 144261);
  assert.ok(sim.epochMs(0) > fastEpoch * 1.5, 'slower at 150 W');
  // halfway between the CSV's 200 W and 225 W rows (179.22631615034337 W, 198.38104893564224 W)
  assert.equal(Math.round(pointAtLimit(profile, 212500).avgPowerMw), Math.round(((Number('179.22631615034337') + Number('198.38104893564224')) / 2) * 1000));
  assert.throws(() => sim.setPowerLimitSync(0, 50000), /outside/);
});

test('simulated: energy ∝ power × time on the injected clock, including across a limit change', async () => {
  let now = 1_000_000;
  const sim = new SimulatedBackend({ profile: loadDefaultProfile(), now: () => now });
  const p300 = sim.powerMw(0);
  assert.equal(sim.readSync(0).energyMj, 0);
  now += 10_000; // 10 s at 300 W
  assert.equal(sim.readSync(0).energyMj, p300 * 10);
  await sim.setPowerLimit(0, 150000);
  const p150 = sim.powerMw(0);
  now += 20_000; // 20 s at 150 W
  const r = sim.readSync(0);
  assert.equal(r.energyMj, p300 * 10 + p150 * 20);
  assert.equal(r.powerLimitMw, 150000);
  assert.equal((await sim.control(0)).state, 'permitted');
});

// ---- nvml backend ---------------------------------------------------------------------------------

test('nvml backend: enumerates, detects the energy counter per GPU, probes control by writing (advise on NO_PERMISSION), MIG → advise', async () => {
  const state = join(tempDir(), 'state.txt');
  const gpus = standardGpus();
  gpus[1].mig = 1;
  writeFakeState(state, gpus, [{ fn: 'nvmlDeviceSetPowerManagementLimit', code: 4, index: 2 }]);
  process.env.FAKE_NVML_STATE = state;
  // the capability cannot be told (as on Windows): the write-back probe decides
  const backend = new NvmlBackend(Nvml.load([fakeNvmlLibrary()]), { privilege: () => undefined });
  try {
    const [a, b, p] = backend.devices();
    assert.deepEqual([a.name, a.busId, a.architecture, a.energyCounter], ['NVIDIA A40', '00000000:01:00.0', 'Ampere', true]);
    assert.deepEqual([p.architecture, p.energyCounter, p.minLimitMw, p.defaultLimitMw], ['Pascal', false, 125000, 250000]);
    assert.equal(b.migEnabled, true);
    assert.deepEqual(await backend.control(0), { state: 'permitted' });
    const mig = await backend.control(1);
    assert.equal(mig.state, 'advise');
    const denied = await backend.control(2);
    assert.equal(denied.state, 'advise');
    assert.match(denied.state === 'advise' ? denied.reason : '', /root \/ CAP_SYS_ADMIN.*zeusd.*chase-agent serve/s);
    const r = backend.readSync(2);
    assert.equal(r.energyMj, undefined, 'pre-Volta: no counter reading');
    assert.equal(r.powerMw, 200000);
    const d = backend.details(0);
    assert.equal(d.processes?.[0].pid, 4242);
    assert.equal(d.enforcedLimitMw, 300000);
  } finally {
    await backend.close();
  }
});

test('nvml backend: the permission probe reads the capability first and writes nothing (CHASE_NVML_PERMISSION_PROBE=write forces the write-back)', async () => {
  const state = join(tempDir(), 'state.txt');
  // Any write would fail: a probe that wrote would report this error instead of the capability.
  writeFakeState(state, standardGpus(), [{ fn: 'nvmlDeviceSetPowerManagementLimit', code: NvmlReturn.ERROR_UNKNOWN }]);
  process.env.FAKE_NVML_STATE = state;
  const lib = Nvml.load([fakeNvmlLibrary()]);
  const probe = async (options: NvmlBackendOptions): Promise<GpuControl[]> => {
    const backend = new NvmlBackend(lib, options);
    try {
      return await Promise.all([0, 2].map((i) => backend.control(i)));
    } finally {
      await backend.close();
    }
  };
  assert.deepEqual(await probe({ privilege: () => ({ admin: true, why: 'CAP_SYS_ADMIN in the initial user namespace' }) }), [{ state: 'permitted' }, { state: 'permitted' }]);
  const [denied] = await probe({ privilege: () => ({ admin: false, why: 'no CAP_SYS_ADMIN in its effective capability set' }) });
  assert.equal(denied.state, 'advise');
  assert.match(denied.state === 'advise' ? denied.reason : '', /without root \/ CAP_SYS_ADMIN \(no CAP_SYS_ADMIN in its effective capability set\).*zeusd.*chase-agent serve/s);
  const [written] = await probe({ permissionProbe: 'write', privilege: () => ({ admin: true, why: 'x' }) });
  assert.match(written.state === 'advise' ? written.reason : '', /internal driver error/, 'probe "write" wrote the current limit back');
  assert.throws(() => permissionProbeFromEnv({ CHASE_NVML_PERMISSION_PROBE: 'maybe' }), (e: unknown) => e instanceof Error && e.message === 'CHASE_NVML_PERMISSION_PROBE must be auto or write (got "maybe").');
  assert.equal(permissionProbeFromEnv({}), 'auto');
});

test('driver privilege: CAP_SYS_ADMIN (CapEff bit 21) in the initial user namespace, read from /proc', async () => {
  const files = (capEff: string, uidMap = '         0          0 4294967295\n') => (p: string): string =>
    p === '/proc/self/status' ? `Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\nCapBnd:\t000001ffffffffff\n` : uidMap;
  assert.deepEqual(driverPrivilege('linux', files('000001ffffffffff')), { admin: true, why: 'CAP_SYS_ADMIN in the initial user namespace' });
  assert.equal(driverPrivilege('linux', files('00000000a80425fb'))?.admin, false, "Docker's default set has no CAP_SYS_ADMIN");
  assert.equal(driverPrivilege('linux', files('0000000000200000'))?.admin, true, 'CAP_SYS_ADMIN alone');
  assert.match(driverPrivilege('linux', files('000001ffffffffff', '         0       1000          1\n'))?.why ?? '', /user namespace/);
  assert.equal(driverPrivilege('win32', files('000001ffffffffff')), undefined);
  assert.equal(driverPrivilege('linux', () => { throw new Error('EACCES'); }), undefined);
  // the real /proc: this process, and (when it can) the same code as an unprivileged user
  assert.equal(typeof driverPrivilege()?.admin, 'boolean', 'this process\'s own /proc/self/status and uid_map are read');
  if (process.getuid?.() === 0) {
    const script = `process.stdout.write(JSON.stringify(require(${JSON.stringify(join(__dirname, '..', '..', '..', 'agent', 'gpu', 'privilege.js'))}).driverPrivilege()))`;
    const child = spawnSync(process.execPath, ['-e', script], { uid: 65534, gid: 65534, encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout), { admin: false, why: 'no CAP_SYS_ADMIN in its effective capability set' }, 'uid 65534 (nobody)');
  }
});

test('nvml backend: a lost GPU is reported and skipped, the others stay usable', async () => {
  const state = join(tempDir(), 'state.txt');
  writeFakeState(state, standardGpus(), [{ fn: 'nvmlDeviceGetUUID', code: 15, index: 1 }]);
  process.env.FAKE_NVML_STATE = state;
  const backend = new NvmlBackend(Nvml.load([fakeNvmlLibrary()]));
  try {
    assert.deepEqual(backend.devices().map((d) => d.index), [0, 2]);
    assert.match(backend.unavailable.join(), /GPU 1: .*fallen off the bus/);
    assert.equal(backend.readSync(2).powerMw, 200000);
    assert.throws(() => backend.readSync(1), /No GPU with index 1/);
  } finally {
    await backend.close();
  }
});

test('openGpuBackend: a missing library gives simulated GPUs with a note, no crash', async () => {
  const env = { ...fakeEnv(join(tempDir(), 'none.txt'), tempDir()), CHASE_NVML_LIBRARY: '/nonexistent/libnvidia-ml.so.1', CHASE_SIMULATED_GPUS: '2' };
  const { backend, notes, visibility } = await openGpuBackend({ env });
  assert.equal(backend.kind, 'simulated');
  assert.equal(backend.simulated, true);
  assert.equal(visibility.devices.length, 2);
  assert.match(notes.join(' '), /No NVIDIA driver found/);
  assert.match(notes.join(' '), /simulated/);
  await assert.rejects(openGpuBackend({ env: { ...env, CHASE_GPU_BACKEND: 'nvml' } }), /NVML library could not be found/);
});

// ---- energy meter, sampler, visibility -------------------------------------------------------------

test('energy meter: counter deltas where supported, else trapezoid integration of polled power', () => {
  const counter = new EnergyMeter(true);
  counter.update({ timestampMs: 0, powerMw: 100000, energyMj: 5000, powerLimitMw: 1 });
  counter.update({ timestampMs: 1000, powerMw: 100000, energyMj: 105000, powerLimitMw: 1 });
  assert.deepEqual([counter.totalMj, counter.source], [100000, 'counter']);
  const integrated = new EnergyMeter(false);
  integrated.update({ timestampMs: 0, powerMw: 100000, powerLimitMw: 1 });
  integrated.update({ timestampMs: 2000, powerMw: 200000, powerLimitMw: 1 });
  assert.deepEqual([integrated.totalMj, integrated.source], [300000, 'integrated']);
  // a counter that disappears switches to integration
  counter.update({ timestampMs: 2000, powerMw: 100000, powerLimitMw: 1 });
  assert.equal(counter.source, 'integrated');
  assert.equal(counter.totalMj, 200000);
});

test('sampler: ticks on the injected timer and reports energy per GPU', async () => {
  let now = 0;
  const sim = new SimulatedBackend({ profile: loadDefaultProfile(), count: 2, now: () => now });
  let tick: (() => void) | undefined;
  const sampler = new GpuSampler(sim, sim.devices(), { periodMs: 100, setInterval: (fn) => (tick = fn), clearInterval: () => (tick = undefined) });
  sampler.start();
  await sampler.sampleOnce();
  now += 1000;
  await sampler.sampleOnce();
  const [s0] = sampler.latest();
  assert.equal(s0.energyMj, sim.powerMw(0));
  assert.equal(s0.energySource, 'counter');
  assert.ok(tick);
  sampler.stop();
  assert.equal(tick, undefined);
});

test('CUDA_VISIBLE_DEVICES: indices, UUIDs and prefixes; stops at an unknown entry; MIG instances refused', () => {
  const all = standardGpus().map((g, index) => ({ index, uuid: g.uuid }) as GpuInfo);
  assert.equal(resolveVisibleDevices(all, {}).devices.length, 3);
  assert.deepEqual(resolveVisibleDevices(all, { CUDA_VISIBLE_DEVICES: '2,0', CUDA_DEVICE_ORDER: 'PCI_BUS_ID' }).devices.map((d) => d.index), [2, 0]);
  const byIndex = resolveVisibleDevices(all, { CUDA_VISIBLE_DEVICES: '1' });
  assert.match(byIndex.warnings.join(), /CUDA_DEVICE_ORDER/);
  assert.deepEqual(resolveVisibleDevices(all, { CUDA_VISIBLE_DEVICES: 'GPU-33333333,GPU-11111111-aaaa-0000' }).devices.map((d) => d.index), [2, 0]);
  assert.deepEqual(resolveVisibleDevices(all, { CUDA_VISIBLE_DEVICES: '22222222-bbbb' }).devices.map((d) => d.index), [1]);
  const stop = resolveVisibleDevices(all, { CUDA_VISIBLE_DEVICES: '0,7,1', CUDA_DEVICE_ORDER: 'PCI_BUS_ID' });
  assert.deepEqual(stop.devices.map((d) => d.index), [0]);
  assert.match(stop.warnings.join(), /"7" matches no GPU/);
  assert.deepEqual(resolveVisibleDevices(all, { CUDA_VISIBLE_DEVICES: '' }).devices, []);
  const mig = resolveVisibleDevices(all, { CUDA_VISIBLE_DEVICES: 'MIG-4f8e3a52-1111-2222-3333-444444444444' });
  assert.deepEqual(mig.devices, []);
  assert.match(mig.refused.join(), /MIG instance.*whole physical GPU/);
});
