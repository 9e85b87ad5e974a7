/**
 * The agent's history: {@link HistoryStore} (the one writer, the agent) and {@link HistoryReader}
 * (the CLI, exports, the extension's "Export run"). See docs/history.md.
 *
 *   const store = HistoryStore.open({ path: defaultHistoryPath(), log });
 *   store.addSamples(samples);          // queued; flushed in one transaction every flushIntervalMs
 *   store.recordIntensity(reading);     // queued
 *   store.startRun({...}); store.updateRun(id, {...}); store.finishRun(id, {...});   // written now
 *   store.close();                      // flushes
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { SQLiteValue } from 'node-sqlite3-wasm';
import { createLogger, describeError, type Logger } from '../log';
import { journalOf, liveProcesses } from './journal';
import { applyRetention, defaultRetention, fileSizeBytes, validateRetention, type RetentionPolicy, type RetentionReport } from './retention';
import { FutureSchemaError, migrate, SCHEMA_VERSION } from './schema';
import { BusyError, SqliteDb, type Row } from './sqlite';
import { HistoryUnavailableError } from '../errors';
import type { DecisionRecord, GpuRecord, GpuSampleRecord, IntensityRecord, ProfileRecord, RunRecord, RunUpdate, StoredGpuSample } from './types';

const num = (v: SQLiteValue | undefined): number | undefined => (v === null || v === undefined ? undefined : Number(v));
const str = (v: SQLiteValue | undefined): string | undefined => (v === null || v === undefined ? undefined : String(v));
const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

function rowToRun(r: Row): RunRecord {
  const run: RunRecord = {
    id: String(r.id),
    command: String(r.command),
    startMs: Number(r.start_ms),
    gpuUuids: JSON.parse(String(r.gpus ?? '[]')) as string[],
    energyJ: Number(r.energy_j),
    carbonG: Number(r.carbon_g),
    status: String(r.status) as RunRecord['status'],
  };
  const opt: Partial<RunRecord> = {
    endMs: num(r.end_ms),
    policy: str(r.policy),
    budgetPct: num(r.budget_pct),
    baselineCarbonG: num(r.baseline_carbon_g),
    slowdownPct: num(r.slowdown_pct),
    exitCode: num(r.exit_code),
    zone: str(r.zone),
    source: str(r.source),
    meta: r.meta === null || r.meta === undefined ? undefined : (JSON.parse(String(r.meta)) as Record<string, unknown>),
  };
  for (const [k, v] of Object.entries(opt)) if (v !== undefined) (run as unknown as Record<string, unknown>)[k] = v;
  return run;
}

export interface ReaderOptions {
  path: string;
  log?: Logger;
  busyTimeoutMs?: number;
  staleLockMs?: number;
}

/** Read access. Safe while the agent writes: every query waits its turn for the lock. */
export class HistoryReader {
  protected constructor(protected readonly db: SqliteDb) {}

  /** Opens an existing database for reading; throws a user-facing error when there is none. */
  static open(o: ReaderOptions): HistoryReader {
    const path = resolve(o.path);
    if (!existsSync(path)) throw new HistoryUnavailableError(`No runs recorded yet: no run history at ${path} (the agent creates it on its first run: run a training script through Chase, the "chase" task; or use --db FILE or CHASE_STATE_DIR to point elsewhere)`);
    const db = new SqliteDb(path, { readOnly: true, mustExist: true, busyTimeoutMs: o.busyTimeoutMs, staleLockMs: o.staleLockMs, log: o.log });
    try {
      const v = Number(db.pragma('user_version'));
      if (v > SCHEMA_VERSION) throw new FutureSchemaError(v, SCHEMA_VERSION);
      if (v < SCHEMA_VERSION) throw new HistoryUnavailableError(`the history at ${path} has schema version ${v}; start the agent once to upgrade it to ${SCHEMA_VERSION}`);
    } catch (e) {
      db.close();
      if (e instanceof FutureSchemaError) throw new HistoryUnavailableError(`the history at ${path} was written by a newer Chase (schema ${e.found} > ${e.known}); update chase-agent to read it`);
      throw e;
    }
    return new HistoryReader(db);
  }

  get path(): string {
    return this.db.path;
  }

  listRuns(o: { limit?: number; sinceMs?: number } = {}): RunRecord[] {
    return this.db.all('SELECT * FROM runs WHERE start_ms >= ? ORDER BY start_ms DESC, id LIMIT ?', [o.sinceMs ?? 0, o.limit ?? 1000]).map(rowToRun);
  }

  getRun(id: string): RunRecord | undefined {
    const r = this.db.get('SELECT * FROM runs WHERE id = ?', [id]);
    return r ? rowToRun(r) : undefined;
  }

  gpus(): GpuRecord[] {
    return this.db.all('SELECT uuid, name, gpu_index FROM gpus ORDER BY id').map((r) => {
      const g: GpuRecord = { uuid: String(r.uuid) };
      if (r.name !== null) g.name = String(r.name);
      if (r.gpu_index !== null) g.index = Number(r.gpu_index);
      return g;
    });
  }

  /** Samples of the given GPUs (all when omitted) in [fromMs, toMs), oldest first per GPU. */
  samples(o: { fromMs: number; toMs: number; gpuUuids?: string[] }): StoredGpuSample[] {
    const gpus = this.db.all<{ id: number; uuid: string }>('SELECT id, uuid FROM gpus ORDER BY id').filter((g) => !o.gpuUuids || o.gpuUuids.includes(g.uuid));
    const out: StoredGpuSample[] = [];
    this.db.read(() => {
      for (const g of gpus) {
        // Rows come out already in the record's shape (aliases, the uuid bound in): no per-row mapping.
        const rows = this.db.all<StoredGpuSample>(
          `SELECT ts_ms AS timestampMs, ? AS gpuUuid, power_mw AS powerMw, limit_mw AS powerLimitMw, energy_mj AS energyMj,
                  util_pct AS utilizationPct, res_s * 1000 AS resolutionMs
           FROM samples WHERE gpu_id = ? AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms`,
          [g.uuid, g.id, o.fromMs, o.toMs],
        );
        for (const r of rows) {
          if (r.energyMj === null) delete r.energyMj;
          if (r.utilizationPct === null) delete r.utilizationPct;
          out.push(r);
        }
      }
    });
    return out;
  }

  /** Samples of a run's GPUs over its lifetime (to now while it runs). */
  runSamples(id: string, nowMs = Date.now()): StoredGpuSample[] {
    const run = this.getRun(id);
    if (!run) return [];
    return this.samples({ fromMs: run.startMs, toMs: (run.endMs ?? nowMs) + 1, gpuUuids: run.gpuUuids.length > 0 ? run.gpuUuids : undefined });
  }

  /** Time of the newest sample of any GPU, or undefined when there is none. */
  lastSampleMs(): number | undefined {
    const r = this.db.get<{ t: number | null }>('SELECT max((SELECT max(ts_ms) FROM samples WHERE gpu_id = gpus.id)) AS t FROM gpus');
    return r?.t ?? undefined;
  }

  decisions(o: { runId?: string; fromMs?: number; toMs?: number } = {}): DecisionRecord[] {
    const rows = o.runId !== undefined
      ? this.db.all('SELECT * FROM decisions WHERE run_id = ? ORDER BY ts_ms', [o.runId])
      : this.db.all('SELECT * FROM decisions WHERE ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms', [o.fromMs ?? 0, o.toMs ?? Number.MAX_SAFE_INTEGER]);
    return rows.map((r) => {
      const d: DecisionRecord = { timestampMs: Number(r.ts_ms), powerLimitMw: Number(r.limit_mw) };
      if (r.run_id !== null) d.runId = String(r.run_id);
      if (r.intensity_g_per_kwh !== null) d.intensityGPerKwh = Number(r.intensity_g_per_kwh);
      if (r.forecast_g_per_kwh !== null) d.forecastGPerKwh = Number(r.forecast_g_per_kwh);
      if (r.expected_saving_g !== null) d.expectedSavingG = Number(r.expected_saving_g);
      return d;
    });
  }

  /** Intensity readings in [fromMs, toMs); actual readings only unless `forecasts` is set. */
  intensity(o: { fromMs: number; toMs: number; zone?: string; forecasts?: boolean }): IntensityRecord[] {
    const rows = this.db.all(
      `SELECT * FROM intensity WHERE ts_ms >= ? AND ts_ms < ? AND (? IS NULL OR zone = ?) AND (? OR vintage_ms = 0) ORDER BY ts_ms, vintage_ms`,
      [o.fromMs, o.toMs, o.zone ?? null, o.zone ?? null, o.forecasts ? 1 : 0],
    );
    return rows.map((r) => {
      const i: IntensityRecord = { zone: String(r.zone), source: String(r.source), timestampMs: Number(r.ts_ms), intensityGPerKwh: Number(r.g_per_kwh) };
      if (Number(r.vintage_ms) !== 0) i.forecastVintageMs = Number(r.vintage_ms);
      if (r.low_g_per_kwh !== null) i.lowGPerKwh = Number(r.low_g_per_kwh);
      if (r.high_g_per_kwh !== null) i.highGPerKwh = Number(r.high_g_per_kwh);
      return i;
    });
  }

  profiles(o: { gpuModel?: string; workloadKey?: string } = {}): ProfileRecord[] {
    return this.db
      .all('SELECT * FROM profiles WHERE (? IS NULL OR gpu_model = ?) AND (? IS NULL OR workload_key = ?) ORDER BY gpu_model, workload_key, limit_mw', [o.gpuModel ?? null, o.gpuModel ?? null, o.workloadKey ?? null, o.workloadKey ?? null])
      .map((r) => ({ gpuModel: String(r.gpu_model), workloadKey: String(r.workload_key), powerLimitMw: Number(r.limit_mw), epochMs: Number(r.epoch_ms), energyJ: Number(r.energy_j), updatedMs: Number(r.updated_ms) }));
  }

  schemaVersion(): number {
    return Number(this.db.pragma('user_version'));
  }

  sizeBytes(): number {
    return fileSizeBytes(this.db);
  }

  integrityCheck(): string {
    return String(this.db.pragma('integrity_check'));
  }

  close(): void {
    this.db.close();
  }
}

export interface StoreOptions extends ReaderOptions {
  retention?: Partial<RetentionPolicy>;
  /** Queued rows are written at least this often (ms). Default 1000. 0: only on flush()/close(). */
  flushIntervalMs?: number;
  /** Flush at once when this many rows are queued. Default 5000. */
  maxQueuedRows?: number;
  /** Run retention this often (ms). Default 10 min. 0: only on applyRetention(). */
  retentionIntervalMs?: number;
  now?: () => number;
}

export interface OpenReport {
  /** Set when the previous file could not be used and was renamed to this path. */
  movedAside?: { from: string; to: string; reason: string };
  migrated: number[];
}

/** Where an unusable database goes: `<path>.<reason>-<UTC timestamp>`. */
export function asidePath(path: string, reason: string, nowMs: number): string {
  const stamp = new Date(nowMs).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${path}.${reason}-${stamp}`;
}

/**
 * The one writer (the agent). Samples, intensity readings and decisions are queued and written in
 * one transaction per flush; runs and profiles are written at once.
 */
export class HistoryStore extends HistoryReader {
  readonly openReport: OpenReport;
  readonly retention: RetentionPolicy;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly gpuIds = new Map<string, number>();
  private samplesQ: GpuSampleRecord[] = [];
  private intensityQ: IntensityRecord[] = [];
  private decisionsQ: DecisionRecord[] = [];
  private readonly maxQueuedRows: number;
  private flushTimer: NodeJS.Timeout | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;
  private lastFlushError = '';

  private constructor(db: SqliteDb, o: StoreOptions, report: OpenReport, log: Logger) {
    super(db);
    this.openReport = report;
    this.log = log;
    this.now = o.now ?? Date.now;
    this.retention = { ...defaultRetention, ...o.retention };
    validateRetention(this.retention);
    this.maxQueuedRows = o.maxQueuedRows ?? 5000;
    for (const r of db.all<{ id: number; uuid: string }>('SELECT id, uuid FROM gpus')) this.gpuIds.set(r.uuid, r.id);
    const flushMs = o.flushIntervalMs ?? 1000;
    if (flushMs > 0) {
      this.flushTimer = setInterval(() => this.tryFlush(), flushMs);
      this.flushTimer.unref();
    }
    const retentionMs = o.retentionIntervalMs ?? 10 * 60_000;
    if (retentionMs > 0) {
      this.retentionTimer = setInterval(() => {
        try {
          this.applyRetention();
        } catch (e) {
          if (!(e instanceof BusyError)) this.log.warn(`history retention failed (will retry): ${describeError(e)}`);
        }
      }, retentionMs);
      this.retentionTimer.unref();
    }
  }

  /**
   * Opens (creating or upgrading) the history database. A file that is not a readable SQLite
   * database, fails its integrity check, or has a newer schema than this agent knows is renamed to
   * `<path>.corrupt-<time>` / `<path>.future-v<N>-<time>` — never deleted — with a warning naming
   * both paths, and a fresh database is started.
   */
  static override open(o: StoreOptions): HistoryStore {
    const log = o.log ?? createLogger('history');
    const path = resolve(o.path);
    const now = o.now ?? Date.now;
    mkdirSync(dirname(path), { recursive: true });
    const other = liveProcesses(path).find((p) => p.role === 'writer');
    if (other) throw new Error(`another Chase agent (pid ${other.pid}) is already recording history in ${path}; stop it, or give this one another CHASE_STATE_DIR`);
    const report: OpenReport = { migrated: [] };
    const sqliteOptions = { busyTimeoutMs: o.busyTimeoutMs, staleLockMs: o.staleLockMs, log };
    let db: SqliteDb | undefined;
    let problem: { reason: string; detail: string } | undefined;
    try {
      db = new SqliteDb(path, sqliteOptions);
      const found = Number(db.pragma('user_version'));
      if (found > SCHEMA_VERSION) {
        problem = { reason: `future-v${found}`, detail: `it has schema version ${found} but this agent knows up to ${SCHEMA_VERSION} (written by a newer Chase)` };
      } else if (found > 0) {
        const check = String(db.pragma('quick_check'));
        if (check !== 'ok') problem = { reason: 'corrupt', detail: `its integrity check failed: ${check}` };
      }
    } catch (e) {
      if (e instanceof BusyError) {
        db?.close();
        throw e;
      }
      problem = { reason: 'corrupt', detail: `it cannot be read as a SQLite database: ${describeError(e)}` };
    }
    if (problem) {
      db?.close();
      const to = asidePath(path, problem.reason, now());
      renameSync(path, to);
      if (existsSync(journalOf(path))) renameSync(journalOf(path), `${to}-journal`);
      log.warn(`the history database ${path} could not be used — ${problem.detail}. It was moved to ${to} (nothing was deleted); starting a new history at ${path}.`);
      report.movedAside = { from: path, to, reason: problem.detail };
      db = new SqliteDb(path, sqliteOptions);
    }
    const opened = db as SqliteDb;
    try {
      report.migrated = migrate(opened);
      if (report.migrated.length > 0) log.info(`history database ${path}: schema migrated to version ${SCHEMA_VERSION} (applied ${report.migrated.join(', ')})`);
      opened.exec('PRAGMA synchronous = FULL');
      return new HistoryStore(opened, o, report, log);
    } catch (e) {
      opened.close();
      throw e;
    }
  }

  /** The small integer id of a GPU (registered on first use). */
  registerGpu(g: GpuRecord): number {
    const known = this.gpuIds.get(g.uuid);
    if (known !== undefined && g.name === undefined && g.index === undefined) return known;
    this.db.run(
      `INSERT INTO gpus(uuid, name, gpu_index) VALUES (?, ?, ?)
       ON CONFLICT(uuid) DO UPDATE SET name = coalesce(excluded.name, name), gpu_index = coalesce(excluded.gpu_index, gpu_index)`,
      [g.uuid, g.name ?? null, g.index ?? null],
    );
    const id = Number(this.db.get<{ id: number }>('SELECT id FROM gpus WHERE uuid = ?', [g.uuid])?.id);
    this.gpuIds.set(g.uuid, id);
    return id;
  }

  addSamples(samples: readonly GpuSampleRecord[]): void {
    for (const s of samples) this.samplesQ.push(s);
    this.maybeFlush();
  }

  recordIntensity(...readings: IntensityRecord[]): void {
    for (const r of readings) this.intensityQ.push(r);
    this.maybeFlush();
  }

  recordDecision(d: DecisionRecord): void {
    this.decisionsQ.push(d);
    this.maybeFlush();
  }

  get queuedRows(): number {
    return this.samplesQ.length + this.intensityQ.length + this.decisionsQ.length;
  }

  private maybeFlush(): void {
    if (this.queuedRows >= this.maxQueuedRows) this.tryFlush();
  }

  /** Flushes without waiting for the lock; on failure the rows stay queued for the next try. */
  private tryFlush(): void {
    try {
      this.flush(false);
      this.lastFlushError = '';
    } catch (e) {
      if (e instanceof BusyError) return;
      const msg = describeError(e);
      if (msg !== this.lastFlushError) this.log.warn(`could not write history (rows stay queued, retrying): ${msg}`);
      this.lastFlushError = msg;
    }
  }

  /** Writes every queued row in one transaction. Returns the number of rows written. */
  flush(wait = true): number {
    if (this.queuedRows === 0) return 0;
    const samples = this.samplesQ;
    const intensity = this.intensityQ;
    const decisions = this.decisionsQ;
    const added: string[] = [];
    this.db.transaction(() => {
      // GPUs seen for the first time are registered in the same transaction (one commit, not one each)
      for (const s of samples) {
        if (this.gpuIds.has(s.gpuUuid)) continue;
        this.registerGpu({ uuid: s.gpuUuid });
        added.push(s.gpuUuid);
      }
      const ins = `INSERT INTO samples(gpu_id, ts_ms, power_mw, limit_mw, energy_mj, util_pct, res_s) VALUES (?, ?, ?, ?, ?, ?, 1)
        ON CONFLICT(gpu_id, ts_ms) DO UPDATE SET power_mw = excluded.power_mw, limit_mw = excluded.limit_mw, energy_mj = excluded.energy_mj, util_pct = excluded.util_pct`;
      for (const s of samples) {
        this.db.run(ins, [this.gpuIds.get(s.gpuUuid) as number, Math.round(s.timestampMs), Math.round(s.powerMw), Math.round(s.powerLimitMw), s.energyMj === undefined ? null : Math.round(s.energyMj), orNull(s.utilizationPct)]);
      }
      for (const r of intensity) {
        this.db.run(
          `INSERT INTO intensity(zone, source, ts_ms, vintage_ms, g_per_kwh, low_g_per_kwh, high_g_per_kwh) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT DO UPDATE SET g_per_kwh = excluded.g_per_kwh, low_g_per_kwh = excluded.low_g_per_kwh, high_g_per_kwh = excluded.high_g_per_kwh`,
          [r.zone, r.source, Math.round(r.timestampMs), Math.round(r.forecastVintageMs ?? 0), r.intensityGPerKwh, orNull(r.lowGPerKwh), orNull(r.highGPerKwh)],
        );
      }
      for (const d of decisions) {
        this.db.run('INSERT INTO decisions(run_id, ts_ms, intensity_g_per_kwh, forecast_g_per_kwh, limit_mw, expected_saving_g) VALUES (?, ?, ?, ?, ?, ?)', [
          orNull(d.runId),
          Math.round(d.timestampMs),
          orNull(d.intensityGPerKwh),
          orNull(d.forecastGPerKwh),
          Math.round(d.powerLimitMw),
          orNull(d.expectedSavingG),
        ]);
      }
    }, wait, () => {
      for (const u of added) this.gpuIds.delete(u); // rolled back: those ids do not exist
    });
    this.samplesQ = [];
    this.intensityQ = [];
    this.decisionsQ = [];
    return samples.length + intensity.length + decisions.length;
  }

  startRun(run: RunRecord): void {
    this.db.run(
      `INSERT INTO runs(id, command, start_ms, end_ms, gpus, policy, budget_pct, energy_j, carbon_g, baseline_carbon_g, slowdown_pct, exit_code, status, zone, source, meta)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        run.id,
        run.command,
        Math.round(run.startMs),
        orNull(run.endMs),
        JSON.stringify(run.gpuUuids),
        orNull(run.policy),
        orNull(run.budgetPct),
        run.energyJ,
        run.carbonG,
        orNull(run.baselineCarbonG),
        orNull(run.slowdownPct),
        orNull(run.exitCode),
        run.status,
        orNull(run.zone),
        orNull(run.source),
        run.meta === undefined ? null : JSON.stringify(run.meta),
      ],
    );
  }

  /** Updates the given fields of a run (totals while it runs, end/exit/status when it ends). */
  updateRun(id: string, u: RunUpdate): void {
    const cols: Record<keyof RunUpdate, string> = {
      command: 'command', startMs: 'start_ms', endMs: 'end_ms', gpuUuids: 'gpus', policy: 'policy', budgetPct: 'budget_pct', energyJ: 'energy_j', carbonG: 'carbon_g',
      baselineCarbonG: 'baseline_carbon_g', slowdownPct: 'slowdown_pct', exitCode: 'exit_code', status: 'status', zone: 'zone', source: 'source', meta: 'meta',
    };
    const sets: string[] = [];
    const values: (string | number | null)[] = [];
    for (const [k, v] of Object.entries(u) as [keyof RunUpdate, unknown][]) {
      if (v === undefined) continue;
      sets.push(`${cols[k]} = ?`);
      values.push(k === 'gpuUuids' || k === 'meta' ? JSON.stringify(v) : (v as string | number));
    }
    if (sets.length === 0) return;
    const r = this.db.run(`UPDATE runs SET ${sets.join(', ')} WHERE id = ?`, [...values, id]);
    if (r.changes === 0) throw new Error(`no run with id ${id}`);
  }

  finishRun(id: string, u: RunUpdate & { endMs: number; status: RunRecord['status'] }): void {
    this.flush();
    this.updateRun(id, u);
  }

  /**
   * Runs left "running" by an agent that died become "interrupted" (call once at start-up). Their
   * end is the last moment that agent was seen with them — its last sample of the run's GPUs or its
   * last decision for the run, else the start — so that their listed duration stops growing.
   */
  markInterruptedRuns(): number {
    const left = this.db.all<{ id: string; start_ms: number; gpus: string | null }>("SELECT id, start_ms, gpus FROM runs WHERE status = 'running'");
    if (left.length === 0) return 0;
    this.db.transaction(() => {
      for (const r of left) {
        const uuids = JSON.parse(r.gpus ?? '[]') as string[];
        const lastSample = uuids.length === 0 ? null : this.db.get<{ t: number | null }>(
          `SELECT max(ts_ms) AS t FROM samples WHERE ts_ms >= ? AND gpu_id IN (SELECT id FROM gpus WHERE uuid IN (${uuids.map(() => '?').join(', ')}))`,
          [r.start_ms, ...uuids],
        )?.t;
        const lastDecision = this.db.get<{ t: number | null }>('SELECT max(ts_ms) AS t FROM decisions WHERE run_id = ?', [r.id])?.t;
        const endMs = Math.max(Number(r.start_ms), Number(lastSample ?? 0), Number(lastDecision ?? 0));
        this.db.run("UPDATE runs SET status = 'interrupted', end_ms = ? WHERE id = ?", [endMs, r.id]);
      }
    });
    return left.length;
  }

  saveProfile(points: ProfileRecord[]): void {
    this.db.transaction(() => {
      for (const p of points) {
        this.db.run(
          `INSERT INTO profiles(gpu_model, workload_key, limit_mw, epoch_ms, energy_j, updated_ms) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT DO UPDATE SET epoch_ms = excluded.epoch_ms, energy_j = excluded.energy_j, updated_ms = excluded.updated_ms`,
          [p.gpuModel, p.workloadKey, Math.round(p.powerLimitMw), p.epochMs, p.energyJ, Math.round(p.updatedMs)],
        );
      }
    });
  }

  applyRetention(nowMs = this.now()): RetentionReport {
    this.flush();
    return applyRetention(this.db, this.retention, nowMs);
  }

  override close(): void {
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    try {
      this.flush();
    } catch (e) {
      this.log.warn(`could not write the last ${this.queuedRows} history rows at shutdown: ${describeError(e)}`);
    }
    super.close();
  }
}
