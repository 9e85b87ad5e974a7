/**
 * Machine-wide GPU claims (agent/gpu/safety/claims.ts) and the guard's leases (guard.ts, limits.ts):
 * a GPU belongs to one run at a time across agents; a lease restores its own GPUs only; a stale
 * claim of a dead agent is taken over and its GPU goes back to NVML's default limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GpuClaims, GpuClaimedError, type ClaimRecord } from '../../../agent/gpu/safety/claims';
import { PowerLimitGuard, GpuControlRefusedError } from '../../../agent/gpu/safety/guard';
import { LimitJournal } from '../../../agent/gpu/safety/journal';
import { SimulatedBackend } from '../../../agent/gpu/backends/simulated';
import { loadDefaultProfile } from '../../../agent/gpu/profile';
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
    assert.equal(r.tookOver?.runId, 'run-dead', JSON.stringify(stale));
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

test('leases: taking over a stale claim on a throttled GPU restores NVML\'s default at the end, not the throttled limit', async () => {
  const dir = tempDir('chase-claims-');
  const backend = new SimulatedBackend({ profile: loadDefaultProfile(), count: 1 });
  const [g] = backend.devices();
  backend.setPowerLimitSync(0, 175000); // what a killed agent with another state dir left
  writeFileSync(join(dir, `chase-gpu-${g.uuid}.claim`), JSON.stringify({ version: 1, uuid: g.uuid, runId: 'run-killed', pid: 7, user: 'bob', agentPid: deadPid(), claimedAtMs: 0 }));
  const log = memoryLogger();
  const journal = new LimitJournal(tempDir('chase-lease-'));
  const guard = new PowerLimitGuard(backend, { journal, log, claims: new GpuClaims(dir) });
  const lease = await guard.claim([g.uuid], { runId: 'run-new', pid: process.pid });
  assert.ok(log.lines.some((l) => /claim of run run-killed of pid 7 \(user bob\) on it is stale .* restores NVML's default 300000 mW/.test(l)), log.lines.join('\n'));
  assert.equal(journal.read()[0]?.previousLimitMw, 300000, 'journaled: a crash of this agent too still restores the default');
  await lease.setLimit(150000);
  await lease.release();
  assert.equal(await backend.getPowerLimit(0), 300000);
  assert.equal(existsSync(join(dir, `chase-gpu-${g.uuid}.claim`)), false, 'claim released');
});
