/**
 * A run's rows in the history database (docs/history.md), written the same way whichever face
 * started it (`chase/startRun`, `chase-agent run`): the run when it starts ("running"), its totals
 * as it goes, each decision, and its end with its totals and a status — `completed` (exit code 0), `failed` (could
 * not start, or a non-zero exit code), `stopped` (asked to stop: `chase/stopRun`, SIGINT/SIGTERM to
 * `chase-agent run`, the agent shutting down). A run its agent never finished (killed) is marked
 * `interrupted` by the next agent that opens the history. History is a record, not a
 * precondition: when it cannot be written the run goes on, with a warning.
 */
import type { CarbonProvider } from '../carbon/provider';
import { createLogger, describeError, type Logger } from '../log';
import type { RunSummary } from '../protocol/messages';
import { HistoryStore } from '../store/history';
import type { RunStatus } from '../store/types';
import type { RunDecision } from './controller';
import { projectionErrorPct } from './projection';
import { DEFAULT_PUE } from '../protocol/accounting';

/**
 * The run's `meta` in the history: the PUE its figures include (exports state it), the first
 * projection made after profiling, (at the end) how far off it was, and — for one node of a
 * distributed job — its place in the job; on rank 0's node also the whole job, its totals and each
 * node, so the job is recorded once with its nodes (its decisions are the run's decision rows).
 */
function runMeta(s: RunSummary, final: boolean): { meta: Record<string, unknown> } {
  const p = s.firstProjection;
  const errorPct = final && p ? projectionErrorPct(p.carbonG, s.carbonG) : undefined;
  const d = s.distributed;
  const distributed = d && { jobId: d.jobId, worldSize: d.worldSize, nodeRank: d.nodeRank, nodeCount: d.nodeCount, coordinator: d.coordinator, state: d.state, decisions: d.decisions.length, ...(d.reason ? { reason: d.reason } : {}), ...(d.job ? { job: d.job } : {}) };
  return { meta: { pue: s.pue ?? DEFAULT_PUE, ...(p ? { projection: p } : {}), ...(errorPct !== undefined ? { projectionErrorPct: errorPct } : {}), ...(distributed ? { distributed } : {}) } };
}

/**
 * Opens the history database for recording (the one writer), after marking the runs a killed agent
 * left "running" as interrupted. Undefined — with a warning saying why — when it cannot be opened
 * (e.g. another agent records in it), and when CHASE_HISTORY=off.
 */
export function openRunHistory(path: string, log: Logger, env: NodeJS.ProcessEnv = process.env): HistoryStore | undefined {
  if (env.CHASE_HISTORY === 'off') return undefined;
  try {
    const store = HistoryStore.open({ path, log: createLogger('history') });
    store.markInterruptedRuns();
    return store;
  } catch (e) {
    log.warn(`run history is off: cannot open ${path}: ${describeError(e)}. Runs are not recorded and profiles not stored; use another CHASE_STATE_DIR (or --db FILE) to record them.`);
    return undefined;
  }
}

/** The status a run ends with in the history. */
export function historyStatus(s: RunSummary, stopped: boolean): RunStatus {
  if (s.state === 'failed') return 'failed';
  if (stopped) return 'stopped';
  return typeof s.exitCode === 'number' && s.exitCode !== 0 ? 'failed' : 'completed';
}

export class RunRecorder {
  constructor(
    private readonly store: () => HistoryStore | undefined,
    private readonly log: Logger,
  ) {}

  started(s: RunSummary, provider: CarbonProvider): void {
    this.write(s.id, (store) =>
      store.startRun({ id: s.id, command: s.command, startMs: s.startedAtMs, gpuUuids: s.gpuUuids, policy: s.policy, budgetPct: s.budgetPct, energyJ: 0, carbonG: 0, status: 'running', zone: provider.info.zone, source: provider.info.label, ...runMeta(s, false) }),
    );
  }

  decided(runId: string, d: RunDecision): void {
    this.write(runId, (store) =>
      store.recordDecision({
        runId,
        timestampMs: d.atMs,
        intensityGPerKwh: d.intensityGPerKwh,
        powerLimitMw: d.powerLimitMw,
        ...(d.forecastGPerKwh !== undefined ? { forecastGPerKwh: d.forecastGPerKwh } : {}),
        ...(d.expectedSavingG !== undefined ? { expectedSavingG: d.expectedSavingG } : {}),
      }),
    );
  }

  /** The totals so far, so that a run whose agent is killed keeps what it had used (it is then marked interrupted). */
  progressed(s: RunSummary): void {
    const totals = { energyJ: s.energyJ, carbonG: s.carbonG, ...(s.baselineCarbonG !== undefined ? { baselineCarbonG: s.baselineCarbonG } : {}), ...(s.slowdownPct !== undefined ? { slowdownPct: s.slowdownPct } : {}), ...runMeta(s, false) };
    // a busy database is retried at the next update (and the end writes the totals anyway): no warning each time
    this.write(s.id, (store) => store.updateRun(s.id, totals), 'debug');
  }

  finished(s: RunSummary, stopped: boolean): void {
    this.write(s.id, (store) =>
      store.finishRun(s.id, {
        endMs: s.endedAtMs ?? Date.now(),
        status: historyStatus(s, stopped),
        energyJ: s.energyJ,
        carbonG: s.carbonG,
        ...(s.baselineCarbonG !== undefined ? { baselineCarbonG: s.baselineCarbonG } : {}),
        ...(s.slowdownPct !== undefined ? { slowdownPct: s.slowdownPct } : {}),
        ...(typeof s.exitCode === 'number' ? { exitCode: s.exitCode } : {}),
        ...runMeta(s, true),
      }),
    );
  }

  private write(runId: string, what: (store: HistoryStore) => void, level: 'warn' | 'debug' = 'warn'): void {
    const store = this.store();
    if (!store) return;
    try {
      what(store);
    } catch (e) {
      this.log[level](`history: could not record run ${runId}: ${describeError(e)}`);
    }
  }
}
