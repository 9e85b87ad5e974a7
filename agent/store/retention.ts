/**
 * Retention: per-GPU samples are downsampled with age (means over coarser buckets), everything
 * time-stamped is dropped after `retentionDays`, and the file is kept under `maxBytes` by dropping
 * the oldest samples first. Runs (their totals) and profiles are kept: they are small and they are
 * the user's record.
 *
 * Every step works per GPU on the (gpu_id, ts_ms) primary key and in bounded chunks, so that no
 * transaction holds the database lock for long (readers wait for it).
 */
import type { SqliteDb } from './sqlite';
import { DAY_MS } from '../protocol/units';

export interface DownsampleTier {
  /** Rows older than this (ms before now) are folded into ... */
  olderThanMs: number;
  /** ... means over buckets of this length (ms, a multiple of 1000). */
  resolutionMs: number;
}

export interface RetentionPolicy {
  /** Ascending by age. Default: raw 1 Hz for 24 h, 1-min means up to 7 days, 15-min means after. */
  tiers: DownsampleTier[];
  /** Samples, intensity readings and decisions older than this are deleted. Default 90. */
  retentionDays: number;
  /** Upper bound of the file size. Default 256 MiB. */
  maxBytes: number;
}


export const defaultRetention: RetentionPolicy = {
  tiers: [
    { olderThanMs: DAY_MS, resolutionMs: 60_000 },
    { olderThanMs: 7 * DAY_MS, resolutionMs: 15 * 60_000 },
  ],
  retentionDays: 90,
  maxBytes: 256 * 1024 * 1024,
};

export interface RetentionReport {
  downsampledRows: number;
  insertedRows: number;
  deletedRows: number;
  /** Rows dropped to respect maxBytes. */
  evictedRows: number;
  sizeBytes: number;
}

/** Fine rows (per GPU) folded in one transaction: ~20 k rows, tens of ms — readers barely wait. */
const CHUNK_ROWS = 20_000;

export function validateRetention(p: RetentionPolicy): void {
  let prevAge = 0;
  let prevRes = 1000;
  for (const t of p.tiers) {
    if (!(t.resolutionMs >= 1000 && t.resolutionMs % 1000 === 0)) throw new Error(`retention tier resolution must be a whole number of seconds (got ${t.resolutionMs} ms)`);
    if (!(t.olderThanMs > prevAge) || !(t.resolutionMs > prevRes)) throw new Error('retention tiers must grow in age and in resolution');
    prevAge = t.olderThanMs;
    prevRes = t.resolutionMs;
  }
  if (!(p.retentionDays > 0)) throw new Error(`retentionDays must be positive (got ${p.retentionDays})`);
  if (!(p.maxBytes >= 1024 * 1024)) throw new Error(`maxBytes must be at least 1 MiB (got ${p.maxBytes})`);
}

export function fileSizeBytes(db: SqliteDb): number {
  return Number(db.pragma('page_count')) * Number(db.pragma('page_size'));
}

function usedBytes(db: SqliteDb): number {
  return (Number(db.pragma('page_count')) - Number(db.pragma('freelist_count'))) * Number(db.pragma('page_size'));
}

/**
 * Folds the rows of one GPU finer than `resolutionMs` and older than `beforeMs` into means per
 * bucket. Energy keeps the counter's last value in the bucket; power, limit and utilization are means.
 */
export function downsampleGpu(db: SqliteDb, gpuId: number, resolutionMs: number, beforeMs: number): { folded: number; inserted: number } {
  const resS = resolutionMs / 1000;
  const cutoff = Math.floor(beforeMs / resolutionMs) * resolutionMs;
  let folded = 0;
  let inserted = 0;
  for (;;) {
    const first = db.get<{ t: number | null }>('SELECT min(ts_ms) AS t FROM samples WHERE gpu_id = ? AND ts_ms < ? AND res_s < ?', [gpuId, cutoff, resS]);
    if (!first || first.t === null) break;
    const from = Math.floor(first.t / resolutionMs) * resolutionMs;
    // At most ~CHUNK_ROWS fine rows per transaction, ending on a bucket boundary.
    const nth = db.get<{ t: number }>('SELECT ts_ms AS t FROM samples WHERE gpu_id = ? AND ts_ms >= ? AND ts_ms < ? AND res_s < ? ORDER BY ts_ms LIMIT 1 OFFSET ?', [gpuId, from, cutoff, resS, CHUNK_ROWS]);
    const to = nth ? Math.min(cutoff, Math.max(from + resolutionMs, Math.floor(nth.t / resolutionMs) * resolutionMs)) : cutoff;
    db.transaction(() => {
      const ins = db.run(
        `INSERT INTO samples(gpu_id, ts_ms, power_mw, limit_mw, energy_mj, util_pct, res_s)
         SELECT gpu_id, (ts_ms / :r) * :r AS b, CAST(round(avg(power_mw)) AS INTEGER), CAST(round(avg(limit_mw)) AS INTEGER),
                max(energy_mj), avg(util_pct), :rs
         FROM samples WHERE gpu_id = :g AND ts_ms >= :from AND ts_ms < :to AND res_s < :rs
         GROUP BY b ORDER BY b
         ON CONFLICT(gpu_id, ts_ms) DO UPDATE SET power_mw = excluded.power_mw, limit_mw = excluded.limit_mw,
           energy_mj = excluded.energy_mj, util_pct = excluded.util_pct, res_s = excluded.res_s`,
        { ':r': resolutionMs, ':rs': resS, ':g': gpuId, ':from': from, ':to': to },
      );
      // The new bucket rows carry res_s = resS, so this only removes the finer rows just folded.
      const del = db.run('DELETE FROM samples WHERE gpu_id = ? AND ts_ms >= ? AND ts_ms < ? AND res_s < ?', [gpuId, from, to, resS]);
      inserted += ins.changes;
      folded += del.changes;
    });
  }
  return { folded, inserted };
}

/** Runs the whole policy once. Call it every few minutes from the writer (it is incremental). */
export function applyRetention(db: SqliteDb, policy: RetentionPolicy, nowMs: number): RetentionReport {
  const report: RetentionReport = { downsampledRows: 0, insertedRows: 0, deletedRows: 0, evictedRows: 0, sizeBytes: 0 };
  const gpuIds = db.all<{ id: number }>('SELECT id FROM gpus ORDER BY id').map((r) => r.id);
  for (const tier of policy.tiers) {
    for (const g of gpuIds) {
      const r = downsampleGpu(db, g, tier.resolutionMs, nowMs - tier.olderThanMs);
      report.downsampledRows += r.folded;
      report.insertedRows += r.inserted;
    }
  }
  const horizon = nowMs - policy.retentionDays * DAY_MS;
  db.transaction(() => {
    for (const g of gpuIds) report.deletedRows += db.run('DELETE FROM samples WHERE gpu_id = ? AND ts_ms < ?', [g, horizon]).changes;
    report.deletedRows += db.run('DELETE FROM intensity WHERE ts_ms < ?', [horizon]).changes;
    report.deletedRows += db.run('DELETE FROM decisions WHERE ts_ms < ?', [horizon]).changes;
  });
  // Size bound: drop the oldest tenth of the sample history (all GPUs) until the data fits in 90 %
  // of maxBytes; intensity readings and decisions only once no samples are left.
  for (let guard = 0; guard < 1000 && usedBytes(db) > policy.maxBytes * 0.9; guard++) {
    const span = db.get<{ lo: number | null; hi: number | null }>('SELECT min(lo) AS lo, max(hi) AS hi FROM (SELECT (SELECT min(ts_ms) FROM samples WHERE gpu_id = gpus.id) AS lo, (SELECT max(ts_ms) FROM samples WHERE gpu_id = gpus.id) AS hi FROM gpus)');
    if (span && span.lo !== null && span.hi !== null) {
      const until = span.lo + Math.max(60_000, (span.hi - span.lo) / 10);
      db.transaction(() => {
        for (const g of gpuIds) report.evictedRows += db.run('DELETE FROM samples WHERE gpu_id = ? AND ts_ms < ?', [g, until]).changes;
      });
      continue;
    }
    const t = db.get<{ lo: number | null; hi: number | null }>('SELECT min(lo) AS lo, max(hi) AS hi FROM (SELECT min(ts_ms) AS lo, max(ts_ms) AS hi FROM decisions UNION ALL SELECT min(ts_ms), max(ts_ms) FROM intensity)');
    if (!t || t.lo === null || t.hi === null) break;
    const until = t.lo + Math.max(60_000, (t.hi - t.lo) / 10);
    db.transaction(() => {
      report.evictedRows += db.run('DELETE FROM intensity WHERE ts_ms < ?', [until]).changes;
      report.evictedRows += db.run('DELETE FROM decisions WHERE ts_ms < ?', [until]).changes;
    });
  }
  if (Number(db.pragma('freelist_count')) > 0) db.exec('PRAGMA incremental_vacuum');
  report.sizeBytes = fileSizeBytes(db);
  return report;
}
