/**
 * The history database's schema, as an ordered list of migrations. `PRAGMA user_version` holds the
 * number of migrations applied; opening a file runs the missing ones, each in its own transaction.
 * Append new migrations at the end; never edit one that has shipped.
 *
 * Units are in the column names (mw, mj, j, g, ms, pct), as on the wire.
 */
import type { SqliteDb } from './sqlite';

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    description: 'GPUs, per-GPU samples, intensity readings, runs, decisions',
    sql: `
      CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE gpus(id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE, name TEXT, gpu_index INTEGER);
      -- res_s: the resolution of the row (1 = a raw 1 Hz sample, 60 = a 1-min mean, ...)
      CREATE TABLE samples(
        gpu_id INTEGER NOT NULL, ts_ms INTEGER NOT NULL, power_mw INTEGER NOT NULL, limit_mw INTEGER NOT NULL,
        energy_mj INTEGER, util_pct REAL, res_s INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY(gpu_id, ts_ms)) WITHOUT ROWID;
      -- vintage_ms: 0 for an actual reading; for a forecast point, when the forecast was made
      CREATE TABLE intensity(
        zone TEXT NOT NULL, source TEXT NOT NULL, ts_ms INTEGER NOT NULL, vintage_ms INTEGER NOT NULL DEFAULT 0,
        g_per_kwh REAL NOT NULL, low_g_per_kwh REAL, high_g_per_kwh REAL,
        PRIMARY KEY(zone, source, ts_ms, vintage_ms)) WITHOUT ROWID;
      CREATE INDEX intensity_ts ON intensity(ts_ms);
      CREATE TABLE runs(
        id TEXT PRIMARY KEY, command TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER,
        gpus TEXT NOT NULL DEFAULT '[]', policy TEXT, budget_pct REAL,
        energy_j REAL NOT NULL DEFAULT 0, carbon_g REAL NOT NULL DEFAULT 0, baseline_carbon_g REAL,
        slowdown_pct REAL, exit_code INTEGER, status TEXT NOT NULL);
      CREATE INDEX runs_start ON runs(start_ms);
      CREATE TABLE decisions(
        id INTEGER PRIMARY KEY, run_id TEXT, ts_ms INTEGER NOT NULL, intensity_g_per_kwh REAL,
        forecast_g_per_kwh REAL, limit_mw INTEGER NOT NULL, expected_saving_g REAL);
      CREATE INDEX decisions_run ON decisions(run_id, ts_ms);
      CREATE INDEX decisions_ts ON decisions(ts_ms);
    `,
  },
  {
    version: 2,
    description: 'power-limit profiles; zone, carbon source and free-form metadata on runs',
    sql: `
      ALTER TABLE runs ADD COLUMN zone TEXT;
      ALTER TABLE runs ADD COLUMN source TEXT;
      ALTER TABLE runs ADD COLUMN meta TEXT;
      CREATE TABLE profiles(
        gpu_model TEXT NOT NULL, workload_key TEXT NOT NULL, limit_mw INTEGER NOT NULL,
        epoch_ms REAL NOT NULL, energy_j REAL NOT NULL, updated_ms INTEGER NOT NULL,
        PRIMARY KEY(gpu_model, workload_key, limit_mw)) WITHOUT ROWID;
    `,
  },
];

export const SCHEMA_VERSION = migrations[migrations.length - 1].version;

export class FutureSchemaError extends Error {
  constructor(
    readonly found: number,
    readonly known: number,
  ) {
    super(`schema version ${found} is newer than this agent knows (${known})`);
    this.name = 'FutureSchemaError';
  }
}

/** Applies the migrations after the file's user_version, up to `target`. Returns the versions applied. */
export function migrate(db: SqliteDb, target = SCHEMA_VERSION): number[] {
  const current = Number(db.pragma('user_version'));
  if (current > SCHEMA_VERSION) throw new FutureSchemaError(current, SCHEMA_VERSION);
  if (current === 0 && Number(db.pragma('page_count')) <= 1) {
    // Must precede the first table: lets retention give freed pages back to the file system.
    db.exec('PRAGMA auto_vacuum = INCREMENTAL');
  }
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= current || m.version > target) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.exec(`PRAGMA user_version = ${m.version}`);
    });
    applied.push(m.version);
  }
  return applied;
}
