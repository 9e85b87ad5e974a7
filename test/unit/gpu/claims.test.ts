/**
 * Machine-wide GPU claims (agent/gpu/safety/claims.ts) and the guard's leases (guard.ts, limits.ts):
 * a GPU belongs to one run at a time across agents; a lease restores its own GPUs only; a stale
 * claim of a dead agent is taken over, and a GPU that agent throttled goes back to the limit it
 * recorded from before (NVML's default when none can be trusted), not to the throttled one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GpuClaims, GpuClaimedError, type ClaimRecord } from '../../../agent/gpu/safety/claims';
import { PowerLimitGuard, GpuControlRefusedError } from '../../../agent/gpu/safety/guard';
import { LimitJournal } from '../../../agent/gpu/safety/journal';
import { SimulatedBackend } from '../../../agent/gpu/backends/simulated';
import { loadDefaultProfile } from '../../../agent/profile/zeus';
import { processStartTime } from '../../../agent/process';
import { tempDir } from './fakeNvml';
import { memoryLogger } from '../store/helpers';

const U0 = 'GPU-11111111-aaaa-0000';
const holder = { runId: 'run-a', pid: process.pid, user: 'alice' };

/** A pid that was alive a moment ago and is not any more. */
function deadPid(): number {
  return Number(spawnSync('python3', ['-c', 'import os; print(os.getpid())'], { encoding: 'utf8' }).stdout.trim());
}

function claimFile(dir: string): string {
  return join(dir, `chase-gpu-${U0}.claim`);
}

function writeClaim(dir: string, fields: Partial<ClaimRecord>): void {
  const rec: ClaimRecord = { version: 1, uuid: U0, runId: 'run-old', pid: 1, user: 'bob', agentPid: 1, claimedAtMs: 0, ...fields };
  writeFileSync(claimFile(dir), JSON.stringify(rec));
}

test('claims: one holder at a time, refused with the run, pid and user; released only by its own agent', () => {
  const dir = tempDir('chase-claims-');
  const claims = new GpuClaims(dir);
  assert.deepEqual(claims.acquire(U0, holder, { label: 'GPU 0' }), {});
  assert.equal(claims.holder(U0)?.runId, 'run-a');
  assert.throws(() => claims.acquire(U0, { ...holder, runId: 'run-b' }, { label: 'GPU 0' }), (e: unknown) => e instanceof GpuClaimedError && /GPU 0 is already controlled by another run in this agent: run run-a of pid \d+ \(user alice\)/.test(e.message));
  claims.release(U0);
  assert.equal(existsSync(claimFile(dir)), false);
  // another live agent's claim (our parent process stands in for it): refused, and never removed by us
  writeClaim(dir, { agentPid: process.ppid, agentStart: processStartTime(process.ppid), pid: 4242, runId: 'run-x', user: 'bob' });
  assert.throws(() => new GpuClaims(dir).acquire(U0, holder, { label: 'GPU 0 (x)' }), (e: unknown) => e instanceof GpuClaimedError && /GPU 0 \(x\) is already controlled by another run: run run-x of pid 4242 \(user bob\), agent pid \d+/.test(e.message) && e.holder?.pid === 4242);
  claims.release(U0);
  assert.ok(existsSync(claimFile(dir)), 'release leaves another agent\'s claim alone');
});

test('claims: a dead agent\'s, another boot\'s or a reused pid\'s claim is stale and taken over, saying whose it was', () => {
  for (const stale of [{ agentPid: deadPid() }, { agentPid: process.ppid, bootId: 'another-boot' }, { agentPid: process.ppid, agentStart: '1' }]) {
    if (stale.bootId && !existsSync('/proc/sys/kernel/random/boot_id')) continue;
    const dir = tempDir('chase-claims-');
    writeClaim(dir, { ...stale, runId: 'run-dead' });
    const claims = new GpuClaims(dir);
    assert.equal(claims.holder(U0), undefined, `stale: ${JSON.stringify(stale)}`);
    const r = claims.acquire(U0, holder);
    assert.equal(r.tookOver?.holder.runId, 'run-dead', JSON.stringify(stale));
    assert.equal(r.tookOver?.changed, false, 'it recorded no change');
    assert.equal(claims.holder(U0)?.runId, 'run-a');
  }
});

test('claims: an empty or foreign claim file is stale after a short grace; a symlink is never followed', () => {
  const dir = tempDir('chase-claims-');
  writeFileSync(claimFile(dir), '');
  const past = new Date(Date.now() - 60_000);
  utimesSync(claimFile(dir), past, past);
  assert.ok(new GpuClaims(dir).acquire(U0, holder).tookOver, 'an old empty claim names nobody alive');

  const dir2 = tempDir('chase-claims-');
  const target = join(dir2, 'precious.txt');
  writeFileSync(target, 'keep me');
  symlinkSync(target, claimFile(dir2));
  new GpuClaims(dir2).acquire(U0, holder);
  assert.equal(spawnSync('cat', [target], { encoding: 'utf8' }).stdout, 'keep me', 'the link target is untouched');
  assert.match(spawnSync('cat', [claimFile(dir2)], { encoding: 'utf8' }).stdout, /"runId":"run-a"/);
});

test('claims: many claimants at once over a stale claim: exactly one wins', () => {
  const dir = tempDir('chase-claims-');
  writeClaim(dir, { agentPid: deadPid() });
  const script = `
    const { GpuClaims } = require(process.env.CLAIMS_MODULE);
    try { new GpuClaims(process.env.CLAIMS_DIR).acquire('${U0}', { runId: 'r' + process.pid, pid: process.pid, user: 'u' }); console.log('won'); setTimeout(() => {}, 1000); }
    catch (e) { console.log(e.code === 'CLAIMED' ? 'refused' : 'error ' + e.message); }`;
  const env = { ...process.env, CLAIMS_MODULE: join(__dirname, '../../../agent/gpu/safety/claims.js'), CLAIMS_DIR: dir };
  const runs = Array.from({ length: 2 }, () => spawnSync(process.execPath, ['-e', `
    const { spawn } = require('node:child_process');
    const kids = Array.from({ length: 4 }, () => spawn(process.execPath, ['-e', process.env.SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] }));
    let out = ''; let left = kids.length;
    for (const k of kids) { k.stdout.on('data', (d) => (out += d)); k.on('exit', () => { if (--left === 0) console.log(out.trim().split('\\n').sort().join(',')); }); }
  `], { env: { ...env, SCRIPT: script }, encoding: 'utf8' }).stdout.trim());
  // each batch of 4 raced on the claim (the first batch over the stale file, later ones over a live or freed one)
  const first = runs[0].split(',');
  assert.equal(first.filter((r) => r === 'won').length, 1, runs[0]);
  assert.equal(first.filter((r) => r.startsWith('error')).length, 0, runs[0]);
  for (const r of runs) assert.ok(r.split(',').filter((x) => x === 'won').length <= 1, r);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.endsWith('.takeover')), [], 'no temp or mutex files left');
});

// ---- guard leases (simulated GPUs: in-process claims only) ------------------------------------------

function simGuard(count = 2) {
  const backend = new SimulatedBackend({ profile: loadDefaultProfile(), count });
  const log = memoryLogger();
  return { backend, log, guard: new PowerLimitGuard(backend, { journal: new LimitJournal(tempDir('chase-lease-')), log }) };
}

test('leases: releasing one run\'s lease restores its GPUs only; the guard stays open for the next run', async () => {
  const { backend, guard } = simGuard(2);
  const [g0, g1] = backend.devices();
  const a = await guard.claim([g0.uuid], { runId: 'A', pid: process.pid });
  const b = await guard.claim([g1.uuid], { runId: 'B', pid: process.pid });
  await a.setLimit(150000);
  await b.setLimit(160000);
  await assert.rejects(guard.claim([g0.uuid], { runId: 'C', pid: process.pid }), (e: unknown) => e instanceof GpuClaimedError && /already controlled by another run: run A of pid/.test(e.message));
  await a.release();
  assert.equal(await backend.getPowerLimit(0), 300000, 'A\'s GPU restored');
  assert.equal(await backend.getPowerLimit(1), 160000, 'B keeps its limit');
  await assert.rejects(a.setLimit(120000), GpuControlRefusedError, 'a released lease sets nothing');
  const c = await guard.claim([g0.uuid], { runId: 'C', pid: process.pid });
  assert.deepEqual(await c.control(), { state: 'permitted' });
  await c.setLimit(130000);
  assert.equal(await backend.getPowerLimit(0), 130000, 'a later run on the same GPU controls it');
  await guard.restoreAll();
  assert.deepEqual([await backend.getPowerLimit(0), await backend.getPowerLimit(1)], [300000, 300000]);
  await assert.rejects(guard.claim([g0.uuid], { runId: 'D', pid: process.pid }), (e: unknown) => e instanceof GpuControlRefusedError && e.code === 'CLOSED');
});

test('leases: a claim is all or none', async () => {
  const { backend, guard } = simGuard(2);
  const [g0, g1] = backend.devices();
  await guard.claim([g1.uuid], { runId: 'B', pid: process.pid });
  await assert.rejects(guard.claim([g0.uuid, g1.uuid], { runId: 'C', pid: process.pid }), GpuClaimedError);
  await guard.claim([g0.uuid], { runId: 'D', pid: process.pid }); // GPU 0 was not left claimed by C
});

for (const c of [
  { what: 'the limit it recorded from before', restoreMw: 280000, expectMw: 280000, says: /restores its limit from before that agent, 280000 mW/ },
  { what: "NVML's default when its claim recorded a change but no limit", restoreMw: undefined, unreadable: true, expectMw: 300000, says: /restores NVML's default, 300000 mW/ },
]) {
  test(`leases: taking over a stale claim of an agent that throttled the GPU restores ${c.what}, not the throttled limit`, async () => {
    const dir = tempDir('chase-claims-');
    const backend = new SimulatedBackend({ profile: loadDefaultProfile(), count: 1 });
    const [g] = backend.devices();
    backend.setPowerLimitSync(0, 175000); // what a killed agent with another state dir left
    const file = join(dir, `chase-gpu-${g.uuid}.claim`);
    writeFileSync(file, c.unreadable ? '{"version":1,"trunc' : JSON.stringify({ version: 1, uuid: g.uuid, runId: 'run-killed', pid: 7, user: 'bob', agentPid: deadPid(), claimedAtMs: 0, restoreMw: c.restoreMw }));
    if (c.unreadable) utimesSync(file, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const log = memoryLogger();
    const journal = new LimitJournal(tempDir('chase-lease-'));
    const guard = new PowerLimitGuard(backend, { journal, log, claims: new GpuClaims(dir) });
    const lease = await guard.claim([g.uuid], { runId: 'run-new', pid: process.pid });
    assert.ok(log.lines.some((l) => /is at 175000 mW, and the claim of run .* on it is stale/.test(l) && c.says.test(l)), log.lines.join('\n'));
    assert.equal(journal.read()[0]?.previousLimitMw, c.expectMw, 'journaled at once: a crash of this agent too still restores it');
    await lease.setLimit(150000);
    await lease.release();
    assert.equal(await backend.getPowerLimit(0), c.expectMw);
    assert.equal(existsSync(file), false, 'claim released');
  });
}

test('leases: a stale claim whose agent changed nothing leaves the limit as it is (e.g. set by an administrator)', async () => {
  const dir = tempDir('chase-claims-');
  const backend = new SimulatedBackend({ profile: loadDefaultProfile(), count: 1 });
  const [g] = backend.devices();
  backend.setPowerLimitSync(0, 250000);
  writeFileSync(join(dir, `chase-gpu-${g.uuid}.claim`), JSON.stringify({ version: 1, uuid: g.uuid, runId: 'run-idle', pid: 7, user: 'bob', agentPid: deadPid(), claimedAtMs: 0 }));
  const guard = new PowerLimitGuard(backend, { journal: new LimitJournal(tempDir('chase-lease-')), log: memoryLogger(), claims: new GpuClaims(dir) });
  const lease = await guard.claim([g.uuid], { runId: 'run-new', pid: process.pid });
  await lease.setLimit(150000);
  assert.match(spawnSync('cat', [join(dir, `chase-gpu-${g.uuid}.claim`)], { encoding: 'utf8' }).stdout, /"restoreMw":250000/, 'the claim records what to restore once this agent changes the limit');
  await lease.release();
  assert.equal(await backend.getPowerLimit(0), 250000);
});

test('claims: a restore limit recorded in a claim file of another (non-root) user is not trusted', { skip: process.getuid?.() === 0 ? false : 'needs root to write a file owned by another user' }, () => {
  const dir = tempDir('chase-claims-');
  writeClaim(dir, { agentPid: deadPid(), restoreMw: 100000 });
  chownSync(claimFile(dir), 65534, 65534);
  const stale = new GpuClaims(dir).acquire(U0, holder).tookOver;
  assert.deepEqual([stale?.changed, stale?.restoreMw], [true, undefined], 'a planted claim cannot choose the limit: NVML\'s default is used');
});
