import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, unlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Database } from 'node-sqlite3-wasm';
import { HistoryReader, HistoryStore } from '../../../agent/store/history';
import { journalOf, lockDirOf, pidsDirOf, rollbackHotJournal } from '../../../agent/store/journal';
import { spawnSync } from 'node:child_process';
import { migrate, migrations, SCHEMA_VERSION } from '../../../agent/store/schema';
import { SqliteDb } from '../../../agent/store/sqlite';
import { defaultHistoryPath } from '../../../agent/store/paths';
import type { GpuSampleRecord, RunRecord } from '../../../agent/store/types';
import { DAY, HOUR, memoryLogger, tempDir } from './helpers';

const T0 = Date.UTC(2026, 0, 1);
const GPU = ['GPU-aaaa', 'GPU-bbbb'];

function sample(t: number, gpu: string, powerW = 200): GpuSampleRecord {
  return { timestampMs: t, gpuUuid: gpu, powerMw: powerW * 1000, powerLimitMw: 250_000, energyMj: Math.round(t / 1000) * powerW * 1000, utilizationPct: 90 };
}

const run = (id: string, startMs: number): RunRecord => ({ id, command: 'python train.py', startMs, gpuUuids: GPU, policy: 'chase', budgetPct: 5, energyJ: 0, carbonG: 0, status: 'running', zone: 'GB', source: 'replay', meta: { project: 'demo' } });

test('round trip: runs, samples, intensity (actual and forecast vintage), decisions, profiles', () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'h.sqlite');
    const store = HistoryStore.open({ path, flushIntervalMs: 0, retentionIntervalMs: 0, log: memoryLogger() });
    assert.deepEqual(store.openReport.migrated, migrations.map((m) => m.version));
    store.registerGpu({ uuid: GPU[0], name: 'NVIDIA A40', index: 0 });
    store.startRun(run('r1', T0));
    store.addSamples([0, 1, 2].flatMap((s) => GPU.map((g) => sample(T0 + s * 1000, g))));
    store.recordIntensity({ zone: 'GB', source: 'replay', timestampMs: T0, intensityGPerKwh: 200 }, { zone: 'GB', source: 'svr', timestampMs: T0 + HOUR, intensityGPerKwh: 180, forecastVintageMs: T0, lowGPerKwh: 150, highGPerKwh: 210 });
    store.recordDecision({ runId: 'r1', timestampMs: T0, intensityGPerKwh: 200, forecastGPerKwh: 180, powerLimitMw: 200_000, expectedSavingG: 1.5 });
    assert.equal(store.queuedRows, 9);
    assert.equal(store.flush(), 9);
    store.saveProfile([{ gpuModel: 'A40', workloadKey: 'resnet50', powerLimitMw: 300_000, epochMs: 1000, energyJ: 300, updatedMs: T0 }]);
    store.finishRun('r1', { endMs: T0 + 3000, status: 'completed', exitCode: 0, energyJ: 1200, carbonG: 0.07, baselineCarbonG: 0.08, slowdownPct: 1.2 });
    store.close();

    const reader = HistoryReader.open({ path });
    try {
      const r = reader.getRun('r1');
      assert.equal(r?.status, 'completed');
      assert.equal(r?.exitCode, 0);
      assert.deepEqual(r?.gpuUuids, GPU);
      assert.deepEqual(r?.meta, { project: 'demo' });
      assert.equal(reader.listRuns().length, 1);
      const s = reader.runSamples('r1');
      assert.equal(s.length, 6);
      assert.deepEqual(s[0], { ...sample(T0, GPU[0]), resolutionMs: 1000 });
      assert.equal(reader.intensity({ fromMs: T0, toMs: T0 + 2 * HOUR }).length, 1, 'actual readings only by default');
      const all = reader.intensity({ fromMs: T0, toMs: T0 + 2 * HOUR, forecasts: true });
      assert.deepEqual(all[1], { zone: 'GB', source: 'svr', timestampMs: T0 + HOUR, intensityGPerKwh: 180, forecastVintageMs: T0, lowGPerKwh: 150, highGPerKwh: 210 });
      assert.deepEqual(reader.decisions({ runId: 'r1' }), [{ runId: 'r1', timestampMs: T0, intensityGPerKwh: 200, forecastGPerKwh: 180, powerLimitMw: 200_000, expectedSavingG: 1.5 }]);
      assert.equal(reader.profiles({ gpuModel: 'A40' })[0].energyJ, 300);
      assert.equal(reader.gpus()[0].name, 'NVIDIA A40');
      assert.equal(reader.integrityCheck(), 'ok');
      assert.equal(reader.lastSampleMs(), T0 + 2000);
      assert.equal(existsSync(lockDirOf(path)), false, 'no statement keeps the lock after a query returns');
    } finally {
      reader.close();
    }
  } finally {
    cleanup();
  }
});

test('retention: 1 Hz for 24 h, 1-min means to 7 days, 15-min after, deleted after retentionDays; bounded by maxBytes', () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'h.sqlite');
    const now = T0 + 10 * DAY;
    const store = HistoryStore.open({ path, flushIntervalMs: 0, retentionIntervalMs: 0, retention: { retentionDays: 9 }, log: memoryLogger() });
    const at = (ageMs: number, n: number): GpuSampleRecord[] => Array.from({ length: n }, (_, i) => sample(now - ageMs + i * 1000, GPU[0], 100 + (i % 2) * 100));
    store.addSamples([...at(HOUR, 120), ...at(2 * DAY, 120), ...at(8 * DAY, 1800), ...at(9.5 * DAY, 60)]);
    store.flush();
    const report = store.applyRetention(now);
    const rows = store.samples({ fromMs: 0, toMs: now + 1 });
    const byAge = (ageMs: number, span: number) => rows.filter((r) => r.timestampMs >= now - ageMs - 60_000 && r.timestampMs < now - ageMs + span);
    assert.equal(byAge(HOUR, 120_000).length, 120, 'last 24 h stay at 1 Hz');
    assert.ok(byAge(HOUR, 120_000).every((r) => r.resolutionMs === 1000));
    const twoDays = byAge(2 * DAY, 120_000);
    assert.ok(twoDays.length >= 2 && twoDays.length <= 3, `2 min of 1 Hz → 2–3 one-minute means (got ${twoDays.length})`);
    assert.ok(twoDays.every((r) => r.resolutionMs === 60_000 && r.powerMw === 150_000), 'means of 100 W/200 W alternating');
    const eightDays = byAge(8 * DAY, 1_800_000);
    assert.ok(eightDays.length >= 2 && eightDays.length <= 4 && eightDays.every((r) => r.resolutionMs === 900_000), `30 min → 15-min means (got ${eightDays.map((r) => r.resolutionMs).join(',')})`);
    assert.equal(byAge(9.5 * DAY, 60_000).length, 0, 'older than retentionDays: gone');
    assert.equal(report.deletedRows >= 1, true);
    assert.equal(store.applyRetention(now).downsampledRows, 0, 'idempotent');
    const input = at(2 * DAY, 120);
    for (const r of twoDays) {
      const inBucket = input.filter((x) => x.timestampMs >= r.timestampMs && x.timestampMs < r.timestampMs + 60_000);
      assert.equal(r.energyMj, Math.max(...inBucket.map((x) => x.energyMj ?? 0)), 'energy keeps the last counter value of the bucket');
    }
    store.close();
  } finally {
    cleanup();
  }
});

test('size bound: the oldest samples go first until the file fits maxBytes', () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'h.sqlite');
    const now = T0 + 3 * DAY;
    const store = HistoryStore.open({ path, flushIntervalMs: 0, retentionIntervalMs: 0, retention: { maxBytes: 1024 * 1024, tiers: [{ olderThanMs: 10 * DAY, resolutionMs: 60_000 }] }, log: memoryLogger() });
    const samples: GpuSampleRecord[] = [];
    for (let i = 0; i < 60_000; i++) samples.push(sample(now - 2 * DAY + i * 1000, GPU[i % 2]));
    store.addSamples(samples);
    store.flush();
    assert.ok(store.sizeBytes() > 1024 * 1024);
    const report = store.applyRetention(now);
    assert.ok(report.evictedRows > 0);
    assert.ok(report.sizeBytes <= 1024 * 1024, `file ${report.sizeBytes} B ≤ 1 MiB`);
    const left = store.samples({ fromMs: 0, toMs: now });
    assert.ok(left.length > 0 && left[0].timestampMs > samples[0].timestampMs, 'newest kept, oldest evicted');
    store.close();
  } finally {
    cleanup();
  }
});

test('migrates a version-1 file to the current schema, keeping its rows', () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'old.sqlite');
    const db = new SqliteDb(path);
    assert.deepEqual(migrate(db, 1), [1]);
    db.run("INSERT INTO runs(id, command, start_ms, status) VALUES ('old-run', 'train', ?, 'completed')", [T0]);
    db.close();
    const log = memoryLogger();
    const store = HistoryStore.open({ path, flushIntervalMs: 0, retentionIntervalMs: 0, log });
    assert.deepEqual(store.openReport.migrated, migrations.filter((m) => m.version > 1).map((m) => m.version));
    assert.equal(store.schemaVersion(), SCHEMA_VERSION);
    assert.equal(store.getRun('old-run')?.command, 'train');
    assert.equal(store.getRun('old-run')?.zone, undefined);
    store.saveProfile([{ gpuModel: 'A40', workloadKey: 'k', powerLimitMw: 1, epochMs: 1, energyJ: 1, updatedMs: 1 }]);
    assert.ok(log.lines.some((l) => l.includes('schema migrated')));
    store.close();
  } finally {
    cleanup();
  }
});

test('a future-version database is moved aside with a message naming both paths; a fresh one starts', () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'h.sqlite');
    const db = new Database(path);
    db.exec(`CREATE TABLE x(y); PRAGMA user_version = ${SCHEMA_VERSION + 5}`);
    db.close();
    const log = memoryLogger();
    const store = HistoryStore.open({ path, flushIntervalMs: 0, retentionIntervalMs: 0, log, now: () => T0 });
    const moved = store.openReport.movedAside;
    assert.ok(moved);
    assert.match(moved.to, /h\.sqlite\.future-v\d+-20260101T000000Z$/);
    assert.ok(existsSync(moved.to), 'the old file is kept');
    const warn = log.lines.find((l) => l.startsWith('warn'));
    assert.ok(warn?.includes(path) && warn.includes(moved.to), warn);
    assert.equal(store.schemaVersion(), SCHEMA_VERSION);
    store.close();
    const old = new Database(moved.to);
    assert.equal((old.get('PRAGMA user_version') as { user_version: number }).user_version, SCHEMA_VERSION + 5);
    old.close();
  } finally {
    cleanup();
  }
});

test('a corrupt file (garbage, or a damaged page) is moved aside, never dropped', () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'h.sqlite');
    writeFileSync(path, Buffer.alloc(8192, 0x5a));
    const log = memoryLogger();
    const store = HistoryStore.open({ path, flushIntervalMs: 0, retentionIntervalMs: 0, log });
    assert.match(store.openReport.movedAside?.to ?? '', /\.corrupt-/);
    assert.ok(log.lines.some((l) => l.includes('moved to') && l.includes(path)));
    store.close();
    assert.equal(readdirSync(dir).filter((f) => f.includes('.corrupt-')).length, 1);

    // a valid header but a damaged b-tree page
    const path2 = join(dir, 'h2.sqlite');
    const s2 = HistoryStore.open({ path: path2, flushIntervalMs: 0, retentionIntervalMs: 0, log });
    s2.addSamples(Array.from({ length: 3000 }, (_, i) => sample(T0 + i * 1000, GPU[0])));
    s2.close();
    const raw = new Database(path2);
    const pageSize = (raw.get('PRAGMA page_size') as { page_size: number }).page_size;
    raw.close();
    const fd = openSync(path2, 'r+');
    writeSync(fd, Buffer.alloc(64, 0xff), 0, 64, 5 * pageSize);
    closeSync(fd);
    const s3 = HistoryStore.open({ path: path2, flushIntervalMs: 0, retentionIntervalMs: 0, log });
    assert.match(s3.openReport.movedAside?.to ?? '', /h2\.sqlite\.corrupt-/);
    s3.close();
  } finally {
    cleanup();
  }
});

test('node-sqlite3-wasm leaves hot journals alone (the reason for journal.ts); our rollback restores the pre-transaction state', () => {
  const { dir, cleanup } = tempDir();
  try {
    const a = join(dir, 'a.db');
    const db = new Database(a);
    db.exec('PRAGMA cache_size = 5; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)');
    db.exec('BEGIN');
    for (let i = 0; i < 2000; i++) db.run('INSERT INTO t(v) VALUES (?)', 'x'.repeat(200));
    db.exec('COMMIT');
    db.exec('BEGIN');
    db.run("UPDATE t SET v = 'y' || substr(v, 2)"); // spills pages into the file before COMMIT
    for (let i = 0; i < 1000; i++) db.run('INSERT INTO t(v) VALUES (?)', 'z'.repeat(300));
    // the state a crash leaves: the database half-written, the journal, (the lock)
    const b = join(dir, 'b.db');
    const c = join(dir, 'c.db');
    for (const copy of [b, c]) {
      copyFileSync(a, copy);
      copyFileSync(journalOf(a), journalOf(copy));
    }
    db.exec('ROLLBACK');
    db.close();

    const plain = new Database(b);
    const torn = plain.get("SELECT count(*) AS n, sum(substr(v, 1, 1) = 'y') AS y FROM t") as { n: number; y: number };
    plain.close();
    assert.ok(torn.y > 0 || torn.n !== 2000, 'the VFS does not roll back: a torn transaction is visible (if this fails, the VFS got fixed)');

    const played = rollbackHotJournal(c);
    assert.ok(played && played.pages > 0);
    assert.equal(existsSync(journalOf(c)), false);
    const fixed = new Database(c);
    assert.deepEqual(fixed.get("SELECT count(*) AS n, sum(substr(v, 1, 1) = 'y') AS y FROM t"), { n: 2000, y: 0 });
    assert.deepEqual(fixed.get('PRAGMA integrity_check'), { integrity_check: 'ok' });
    fixed.close();
  } finally {
    cleanup();
  }
});

test('a lock left by a killed process is broken at once (holder dead) or after staleLockMs (holder unknown), and its journal rolled back', () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'h.sqlite');
    const store = HistoryStore.open({ path, flushIntervalMs: 0, retentionIntervalMs: 0, log: memoryLogger() });
    store.startRun(run('r1', T0));
    store.close();
    const log = memoryLogger();

    // a live registered process (our parent stands in for a CLI reading) holds the lock: wait for it
    mkdirSync(lockDirOf(path));
    writeFileSync(join(pidsDirOf(path), String(process.ppid)), 'reader');
    assert.throws(() => HistoryReader.open({ path, busyTimeoutMs: 200, staleLockMs: 60_000, log }), /stayed locked/);
    // ... unless it held it far longer than any Chase transaction does
    const old = (Date.now() - 120_000) / 1000;
    utimesSync(lockDirOf(path), old, old);
    let reader = HistoryReader.open({ path, busyTimeoutMs: 200, staleLockMs: 60_000, log });
    assert.equal(reader.getRun('r1')?.id, 'r1');
    reader.close();
    assert.ok(log.lines.some((l) => l.includes('stale database lock') && l.includes(lockDirOf(path))));
    unlinkSync(join(pidsDirOf(path), String(process.ppid)));

    // the holder is registered but dead (kill -9): broken at once, no waiting
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    mkdirSync(lockDirOf(path));
    writeFileSync(join(pidsDirOf(path), String(dead)), 'writer');
    const t = Date.now();
    reader = HistoryReader.open({ path, busyTimeoutMs: 5000, staleLockMs: 60_000, log });
    assert.ok(Date.now() - t < 2000);
    assert.equal(reader.getRun('r1')?.id, 'r1');
    reader.close();
    assert.equal(existsSync(lockDirOf(path)), false);
    assert.equal(existsSync(join(pidsDirOf(path), String(dead))), false, 'dead PIDs are pruned');

    // ... also when a breaker died mid-recovery and left its mutex behind
    mkdirSync(lockDirOf(path));
    writeFileSync(join(pidsDirOf(path), String(dead)), 'writer');
    mkdirSync(`${path}.recover`);
    writeFileSync(`${path}.recover/pid`, String(dead));
    const t2 = Date.now();
    reader = HistoryReader.open({ path, busyTimeoutMs: 5000, staleLockMs: 60_000, log });
    assert.ok(Date.now() - t2 < 2000);
    reader.close();
    assert.equal(existsSync(`${path}.recover`), false);
  } finally {
    cleanup();
  }
});

test('one writer: a second agent on the same database is refused with a message', () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'h.sqlite');
    HistoryStore.open({ path, flushIntervalMs: 0, retentionIntervalMs: 0, log: memoryLogger() }).close();
    writeFileSync(join(pidsDirOf(path), String(process.ppid)), 'writer');
    assert.throws(() => HistoryStore.open({ path, flushIntervalMs: 0, retentionIntervalMs: 0, log: memoryLogger() }), /another Chase agent \(pid \d+\) is already recording/);
    const reader = HistoryReader.open({ path });
    reader.close();
  } finally {
    cleanup();
  }
});

test('default path: CHASE_STATE_DIR, then XDG_STATE_HOME/chase, then ~/.local/state/chase', () => {
  assert.equal(defaultHistoryPath({ CHASE_STATE_DIR: '/s' }, '/home/u'), join('/s', 'history.sqlite'));
  assert.equal(defaultHistoryPath({ XDG_STATE_HOME: '/x' }, '/home/u'), join('/x', 'chase', 'history.sqlite'));
  if (process.platform !== 'win32') assert.equal(defaultHistoryPath({}, '/home/u'), '/home/u/.local/state/chase/history.sqlite');
});
