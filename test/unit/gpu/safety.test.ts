import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs, { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LimitJournal } from '../../../agent/gpu/safety/journal';
import { defaultStateDir } from '../../../agent/paths';
import { GpuControlRefusedError, PowerLimitGuard } from '../../../agent/gpu/safety/guard';
import { SimulatedBackend } from '../../../agent/gpu/backends/simulated';
import { loadDefaultProfile } from '../../../agent/profile/zeus';
import type { GpuBackend, GpuControl, GpuInfo } from '../../../agent/gpu/backend';
import { fakeEnv, readFakeLimits, runFixture, standardGpus, startFixture, tempDir, writeFakeState } from './fakeNvml';
import { memoryLogger } from '../store/helpers';

function simBackend(count = 2): SimulatedBackend {
  return new SimulatedBackend({ profile: loadDefaultProfile(), count });
}

const A = 'GPU-11111111-aaaa-0000';
const B = 'GPU-22222222-bbbb-0001';
const P = 'GPU-33333333-cccc-0002';

// ---- journal -------------------------------------------------------------------------------------

test('journal: durable JSON file under CHASE_STATE_DIR, keeps the pre-Chase limit across changes', () => {
  const dir = tempDir();
  const j = new LimitJournal(dir);
  assert.deepEqual(j.read(), []);
  j.record({ uuid: A, backend: 'nvml', index: 0, previousLimitMw: 300000, newLimitMw: 200000 });
  j.record({ uuid: A, backend: 'nvml', index: 0, previousLimitMw: 200000, newLimitMw: 150000 });
  const [entry] = j.read();
  assert.equal(entry.previousLimitMw, 300000, 'restores to what it was before Chase, not the last throttled value');
  assert.equal(entry.newLimitMw, 150000);
  assert.equal(entry.ownerPid, process.pid);
  assert.deepEqual(j.orphaned(), [], 'our own live entries are not leftovers');
  assert.ok(existsSync(join(dir, 'power-limits.json')));
  j.remove([A]);
  assert.deepEqual(j.read(), []);
  assert.equal(defaultStateDir({ CHASE_STATE_DIR: '/s' }, 'linux'), '/s');
  assert.equal(defaultStateDir({ XDG_STATE_HOME: '/x' }, 'linux'), join('/x', 'chase'));
  assert.match(defaultStateDir({}, 'linux'), /\.local[/\\]state[/\\]chase$/);
});

test('journal: entries of a dead pid or another boot are orphaned', () => {
  const dir = tempDir();
  writeFileSync(
    join(dir, 'power-limits.json'),
    JSON.stringify({
      version: 1,
      entries: [
        { uuid: A, backend: 'nvml', index: 0, previousLimitMw: 300000, newLimitMw: 200000, ownerPid: 2 ** 22 + 7, updatedAtMs: 0 },
        { uuid: B, backend: 'nvml', index: 1, previousLimitMw: 300000, newLimitMw: 200000, ownerPid: process.pid, bootId: 'another-boot', updatedAtMs: 0 },
        { uuid: P, backend: 'nvml', index: 2, previousLimitMw: 250000, newLimitMw: 200000, ownerPid: process.pid, updatedAtMs: 0 },
      ],
    }),
  );
  const orphaned = new LimitJournal(dir).orphaned().map((e) => e.uuid);
  assert.ok(orphaned.includes(A));
  assert.ok(!orphaned.includes(P));
  if (existsSync('/proc/sys/kernel/random/boot_id')) assert.ok(orphaned.includes(B));
});

// ---- guard (in process, simulated backend) -------------------------------------------------------

test('journal: agents writing at once (a service and a CLI run) lose no entry', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const writers = 4;
  const perWriter = 25;
  // each writer records its own GPUs as fast as it can, the way several agents journal before limit changes
  const script = `
    const { LimitJournal } = require(process.env.JOURNAL_MODULE);
    const j = new LimitJournal(process.env.JOURNAL_DIR);
    for (let i = 0; i < ${perWriter}; i++) {
      j.record({ uuid: 'GPU-' + process.env.WRITER + '-' + i, backend: 'nvml', index: i, previousLimitMw: 300000, newLimitMw: 200000 });
    }`;
  const env = { ...process.env, JOURNAL_MODULE: join(__dirname, '../../../agent/gpu/safety/journal.js'), JOURNAL_DIR: dir };
  const exits = await Promise.all(Array.from({ length: writers }, (_, w) => new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, ['-e', script], { env: { ...env, WRITER: String(w) }, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('exit', resolve);
  })));
  assert.deepEqual(exits, Array(writers).fill(0));
  const entries = new LimitJournal(dir).read();
  assert.equal(entries.length, writers * perWriter, `${writers * perWriter - entries.length} entries were lost`);
  assert.equal(existsSync(join(dir, 'power-limits.json.lock')), false, 'the lock is released');
});

test('journal: a lock left by a dead process is taken over; a live holder gets a clear error after the wait', () => {
  const dir = tempDir();
  const lock = join(dir, 'power-limits.json.lock');
  writeFileSync(lock, '999999999\n'); // no such pid
  const journal = new LimitJournal(dir, { lockWaitMs: 200 });
  journal.record({ uuid: A, backend: 'nvml', index: 0, previousLimitMw: 300000, newLimitMw: 200000 });
  assert.equal(journal.read().length, 1);
  assert.equal(existsSync(lock), false);
  writeFileSync(lock, `${process.ppid}\n`); // alive, and not us
  assert.throws(() => journal.record({ uuid: B, backend: 'nvml', index: 1, previousLimitMw: 300000, newLimitMw: 200000 }), /locked by process \d+.*delete/s);
  assert.equal(journal.read().length, 1, 'nothing written without the lock');
});

test('journal: a full disk (ENOSPC) while locking fails that one write clearly, and leaves no lock that stalls the next', (t) => {
  const dir = tempDir();
  const journal = new LimitJournal(dir); // the default 5 s wait: a stale lock would cost it
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
  const write = t.mock.method(fs, 'writeSync');
  write.mock.mockImplementationOnce(() => {
    throw enospc;
  });
  assert.throws(() => journal.record({ uuid: A, backend: 'nvml', index: 0, previousLimitMw: 300000, newLimitMw: 200000 }), /no space left on device.*Free space/s);
  assert.deepEqual(readdirSync(dir), [], 'no empty lock and no temp file left behind');
  const t0 = Date.now();
  journal.record({ uuid: A, backend: 'nvml', index: 0, previousLimitMw: 300000, newLimitMw: 200000 });
  journal.remove([A]);
  assert.ok(Date.now() - t0 < 1000, `the next writes went through at once (${Date.now() - t0} ms)`);
  assert.deepEqual(journal.read(), []);
});

test('journal: an empty lock (left by an older agent on a full disk) is taken over at once, not after a 5 s stall', () => {
  const dir = tempDir();
  const lock = join(dir, 'power-limits.json.lock');
  writeFileSync(lock, '');
  const past = new Date(Date.now() - 2000);
  utimesSync(lock, past, past);
  const t0 = Date.now();
  new LimitJournal(dir).record({ uuid: A, backend: 'nvml', index: 0, previousLimitMw: 300000, newLimitMw: 200000 });
  assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
  assert.equal(new LimitJournal(dir).read().length, 1);
});

test('guard: a journal that cannot be updated after a restore reports the GPU restored, not "could not restore"', async (t) => {
  const backend = simBackend(1);
  const [gpu] = backend.devices();
  const log = memoryLogger();
  const guard = new PowerLimitGuard(backend, { journal: new LimitJournal(tempDir()), log });
  const lease = await guard.claim([gpu.uuid], { runId: 'r', pid: process.pid });
  await lease.setLimit(150000);
  t.mock.method(fs, 'writeSync', () => {
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  });
  await lease.release();
  t.mock.restoreAll();
  assert.equal(await backend.getPowerLimit(0), 300000);
  assert.ok(!log.lines.some((l) => /could not restore/.test(l)), log.lines.join('\n'));
  assert.ok(log.lines.some((l) => /restored to 300000 mW/.test(l)) && log.lines.some((l) => /is restored, but its journal entry could not be removed/.test(l)), log.lines.join('\n'));
});

test('guard: a limit outside the constraints is clamped and the clamp is logged; journaled before applied', async () => {
  const backend = simBackend(1);
  const [gpu] = backend.devices();
  const log = memoryLogger();
  const journal = new LimitJournal(tempDir());
  const guard = new PowerLimitGuard(backend, { journal, log });
  const low = await guard.setLimit(gpu.uuid, 20000);
  assert.deepEqual([low.appliedMw, low.clamped], [100000, true]);
  assert.equal(await backend.getPowerLimit(0), 100000);
  assert.ok(log.lines.some((l) => l.startsWith('warn') && /20000 mW .*clamped to 100000 mW/.test(l)), log.lines.join('\n'));
  const high = await guard.setLimit(gpu.uuid, 999000);
  assert.deepEqual([high.appliedMw, high.clamped], [300000, true]);
  const ok = await guard.setLimit(gpu.uuid, 175000);
  assert.deepEqual([ok.appliedMw, ok.clamped], [175000, false]);
  assert.equal(journal.read()[0].previousLimitMw, 300000);
  assert.equal(journal.read()[0].newLimitMw, 175000);
  await guard.restoreAll();
  assert.equal(await backend.getPowerLimit(0), 300000);
  assert.deepEqual(journal.read(), []);
  await assert.rejects(guard.setLimit(gpu.uuid, 200000), GpuControlRefusedError, 'closed after restoreAll');
});

test('guard: one limit across a data-parallel group (common range), per-GPU queues serialize commands', async () => {
  const backend = simBackend(2);
  const [g0, g1] = backend.devices();
  g1.minLimitMw = 150000; // a GPU with a narrower range: the group gets the common range
  const guard = new PowerLimitGuard(backend, { journal: new LimitJournal(tempDir()), log: memoryLogger() });
  const r = await guard.setLimitForGroup([g0.uuid, g1.uuid], 120000);
  assert.equal(r.appliedMw, 150000);
  assert.equal(r.clamped, true);
  assert.deepEqual([await backend.getPowerLimit(0), await backend.getPowerLimit(1)], [150000, 150000]);
  // many concurrent commands on one GPU apply in call order: the last one wins
  await Promise.all([200000, 210000, 220000, 230000].map((mw) => guard.setLimit(g0.uuid, mw)));
  assert.equal(await backend.getPowerLimit(0), 230000);
  guard.restoreAllSync();
  assert.deepEqual([await backend.getPowerLimit(0), await backend.getPowerLimit(1)], [300000, 300000]);
});

test('guard: a failing GPU puts the rest of the group back, so limits never diverge', async () => {
  const backend = simBackend(2);
  const [g0, g1] = backend.devices();
  const realSet = backend.setPowerLimit.bind(backend);
  backend.setPowerLimit = async (index: number, mw: number) => {
    if (index === 1 && mw !== 300000) throw new Error('GPU is lost');
    return realSet(index, mw);
  };
  const guard = new PowerLimitGuard(backend, { journal: new LimitJournal(tempDir()), log: memoryLogger() });
  await assert.rejects(guard.setLimitForGroup([g0.uuid, g1.uuid], 200000), /put back to its previous limits.*GPU 1: GPU is lost/);
  assert.equal(await backend.getPowerLimit(0), 300000);
});

test('guard: advise mode, MIG and invisible GPUs are refused with clear messages', async () => {
  const backend = simBackend(3);
  const devices = backend.devices();
  devices[1].migEnabled = true;
  const advise: GpuControl = { state: 'advise', reason: 'no permission: use zeusd or chase-agent serve' };
  const wrapped: GpuBackend = Object.assign(Object.create(backend) as GpuBackend, {
    control: async (i: number): Promise<GpuControl> => (i === 2 ? advise : backend.control(i)),
  });
  const visible: GpuInfo[] = [devices[0], devices[1], devices[2]];
  const guard = new PowerLimitGuard(wrapped, { journal: new LimitJournal(tempDir()), log: memoryLogger(), visible });
  await assert.rejects(guard.setLimit(devices[1].uuid, 200000), (e: unknown) => e instanceof GpuControlRefusedError && e.code === 'MIG' && /MIG mode/.test(e.message));
  await assert.rejects(guard.setLimit(devices[2].uuid, 200000), (e: unknown) => e instanceof GpuControlRefusedError && e.code === 'ADVISE_MODE' && /zeusd/.test(e.message));
  await assert.rejects(guard.setLimit('MIG-4f8e3a52-0000', 200000), (e: unknown) => e instanceof GpuControlRefusedError && e.code === 'MIG');
  const narrow = new PowerLimitGuard(backend, { journal: new LimitJournal(tempDir()), log: memoryLogger(), visible: [devices[0]] });
  await assert.rejects(narrow.setLimit(devices[2].uuid, 200000), (e: unknown) => e instanceof GpuControlRefusedError && e.code === 'NOT_VISIBLE');
});

// ---- real processes on the fake NVML -------------------------------------------------------------

function fakeSetup(): { state: string; dir: string; env: NodeJS.ProcessEnv } {
  const root = tempDir();
  const state = join(root, 'state.txt');
  const dir = join(root, 'state-dir');
  writeFakeState(state, standardGpus());
  return { state, dir, env: fakeEnv(state, dir, { CUDA_VISIBLE_DEVICES: `${A},${B}` }) };
}

test('kill -9 after throttling: the next agent start restores the limits before anything else', { timeout: 20000 }, async (t) => {
  const { state, dir, env } = fakeSetup();
  const agent = await startFixture(['throttle', '180000', 'hold'], env, 'applied');
  t.after(() => agent.child.kill('SIGKILL'));
  assert.deepEqual(readFakeLimits(state), { [A]: 180000, [B]: 180000, [P]: 250000 }, 'only the visible GPUs are throttled');
  const journal = new LimitJournal(dir);
  assert.equal(journal.read().length, 2, 'both changes were journaled');
  agent.child.kill('SIGKILL');
  const killed = await agent.exited;
  assert.equal(killed.signal, 'SIGKILL');
  assert.equal(readFakeLimits(state)[A], 180000, 'SIGKILL leaves the GPU throttled');
  const next = await runFixture(['restore'], env);
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stdout, /restored \{"restored":2,"failed":0,"kept":0\}/);
  assert.deepEqual(readFakeLimits(state), { [A]: 300000, [B]: 300000, [P]: 250000 });
  assert.deepEqual(journal.read(), []);
});

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  test(`${signal}: limits restored, then the process ends by the signal`, { timeout: 20000 }, async (t) => {
    const { state, dir, env } = fakeSetup();
    const agent = await startFixture(['throttle', '150000', 'hold'], env, 'applied');
    t.after(() => agent.child.kill('SIGKILL'));
    assert.equal(readFakeLimits(state)[A], 150000);
    agent.child.kill(signal);
    const r = await agent.exited;
    assert.equal(r.signal, signal);
    assert.deepEqual(readFakeLimits(state), { [A]: 300000, [B]: 300000, [P]: 250000 });
    assert.deepEqual(new LimitJournal(dir).read(), []);
  });
}

test('process.exit(): limits restored synchronously in the exit handler', async () => {
  const { state, dir, env } = fakeSetup();
  const r = await runFixture(['throttle', '140000', 'exit'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /applied .*"appliedMw":140000/);
  assert.deepEqual(readFakeLimits(state), { [A]: 300000, [B]: 300000, [P]: 250000 });
  assert.deepEqual(new LimitJournal(dir).read(), []);
});

test('uncaught exception: limits restored before the process dies', async () => {
  const { state, env } = fakeSetup();
  const r = await runFixture(['throttle', '160000', 'throw'], env);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /simulated agent crash/);
  assert.deepEqual(readFakeLimits(state), { [A]: 300000, [B]: 300000, [P]: 250000 });
});

test('a limit outside the constraints is clamped and logged (real process, fake NVML)', async () => {
  const { state, env } = fakeSetup();
  const r = await runFixture(['throttle', '50000', 'exit'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /"appliedMw":100000,"clamped":true/);
  assert.match(r.stderr, /\[warn\] fixture: power limit 50000 mW .* clamped to 100000 mW/);
  assert.equal(readFakeLimits(state)[A], 300000);
});

test('permission refused: the agent stays in advise mode and refuses with how to grant control', async () => {
  const { state, env } = fakeSetup();
  writeFakeState(state, standardGpus(), [{ fn: 'nvmlDeviceSetPowerManagementLimit', code: 4 }]);
  const r = await runFixture(['throttle', '150000', 'exit'], env);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /advise mode: The agent runs without root \/ CAP_SYS_ADMIN/);
  assert.match(r.stderr, /zeusd/);
  assert.match(r.stderr, /chase-agent serve/);
  assert.equal(readFileSync(state, 'utf8').includes('limit=150000'), false);
});
