/**
 * `chase-agent run [options] -- COMMAND [ARGS…]`: runs a training job under carbon-aware control
 * without VS Code, and prints a summary at the end. The job's exit code is passed through.
 */
import type { CliCommand } from './command';
import { gpuListArg, numberArg, parseCli, textArg, UsageError } from './command';
import { startGpuControl } from '../gpu/index';
import { ReplayProvider } from '../carbon/replay';
import { createProvider } from '../carbon/index';
import { secretsFromEnv } from '../carbon/secrets';
import { createLogger } from '../log';
import type { Run, RunPolicyName, RunSummary } from '../runs/run';
import { RunManager, type StartedRun } from '../runs/manager';
import { openRunHistory } from '../runs/record';
import { CARBON_SOURCE_KINDS, DEFAULT_BUDGET_PCT, type DistributedRunSummary, MAX_BUDGET_PCT, MAX_PROFILE_STEP_S, RUN_POLICY_NAMES, type CarbonSourceKind } from '../protocol/messages';
import { replayStartMs, SETTINGS } from '../protocol/settings';
import { DEFAULT_PUE } from '../protocol/accounting';
import { profileReuseText, projectionOutcomeText, runOutcomeText } from '../protocol/runOutcome';
import { projectionErrorPct } from '../runs/projection';
import { decisionText, jobLines, SHOWN_DECISIONS } from '../protocol/jobOutcome';
import { formatWatts } from '../protocol/format';
import type { HistoryStore } from '../store/history';
import { defaultHistoryPath } from '../store/paths';
import { processAlive } from '../process';

const POLICIES: readonly RunPolicyName[] = RUN_POLICY_NAMES;
/** --speed is chase.carbon.replaySpeed from the command line: the same default and range. */
const REPLAY_SPEED = SETTINGS['carbon.replaySpeed'];

const usage = `chase-agent run [options] -- COMMAND [ARGS…]
chase-agent run --pid PID [options]

Runs COMMAND (e.g. python train.py) with its GPUs under carbon-aware power control and prints a
summary when it ends. The job's exit code is passed through.
With --pid, attaches to a running process instead: its GPUs (--gpus, default all visible) are
controlled until it exits (exit status 0 then: another process's exit code cannot be read). Its
progress is unknown, so GPU activity stands in for it (progressSource "gpu-proxy": energy divided by
the maximum limit's power) — slowdown and savings are estimates.

Options:
  --budget-pct B     allowed slowdown against the maximum power limit, % (default ${DEFAULT_BUDGET_PCT})
  --gpus 0,1         GPU indices the job uses (default: all visible GPUs)
  --policy P         ${POLICIES.join(' | ')} (default: default)
  --eta X            η for --policy chase-paper (default 0.5)
  --simulate         simulated GPUs (measured A40 profile) instead of NVML
  --agent-socket P   let the privileged Chase service on socket P set the limits (env
                     CHASE_AGENT_SOCKET; \`chase-agent serve --socket P\`, docs/gpu.md)
  --provider P       carbon source: replay (default), static, electricitymaps, watttime, uk-neso
  --zone Z           grid zone (default GB); --trace FILE replays your own CSV
  --base-url URL     the carbon API's address (e.g. a proxy); set here, it counts as set by you, so
                     the API key goes there
  --speed N          replay the trace N× faster than real time (${REPLAY_SPEED.minimum} to ${REPLAY_SPEED.maximum}; default ${REPLAY_SPEED.default})
  --replay-start T   start the replay at this UTC hour of the trace, e.g. 2023-09-21T15:00Z
                     (default: today's date and hour in the trace's year)
  --total-units N    the job's total work in progress units (steps), when known
  --pue P            power usage effectiveness: energy and carbon are the GPUs' × P (default 1,
                     as CodeCarbon's; chase.accounting.pue in the editor)
  --warmup-s S, --window-s S   profiling warm-up and measurement window per limit (default 10, 30)
  --workload KEY     key of this workload's stored power profile (default: script name + args hash);
                     a later run with the same key on the same GPU model skips profiling
  --db FILE          history database: the run is recorded there (chase-agent runs list), and
                     profiles kept (default $CHASE_STATE_DIR/history.sqlite)
  --no-profile-store neither load nor save a profile (the run is still recorded)
  --json             print the summary as one JSON object (the job's stdout then goes to stderr)
API keys come from CHASE_ELECTRICITYMAPS_TOKEN, CHASE_WATTTIME_USERNAME / CHASE_WATTTIME_PASSWORD.`;

const OPTIONS = {
  'budget-pct': { type: 'string' },
  gpus: { type: 'string' },
  policy: { type: 'string', default: 'default' },
  eta: { type: 'string' },
  simulate: { type: 'boolean', default: false },
  provider: { type: 'string', default: 'replay' },
  zone: { type: 'string', default: 'GB' },
  'base-url': { type: 'string' },
  trace: { type: 'string' },
  speed: { type: 'string' },
  'replay-start': { type: 'string' },
  'total-units': { type: 'string' },
  pue: { type: 'string' },
  'warmup-s': { type: 'string' },
  'window-s': { type: 'string' },
  json: { type: 'boolean', default: false },
  workload: { type: 'string' },
  db: { type: 'string' },
  'no-profile-store': { type: 'boolean', default: false },
  pid: { type: 'string' },
  'agent-socket': { type: 'string' },
} as const;

/** Everything `run` was asked to do, parsed and bounded: nothing has started yet. */
export interface RunCliOptions {
  command?: { file: string; args: string[] };
  attachPid?: number;
  budgetPct: number;
  /** Explicit GPU indices (distinct); all visible ones when absent. */
  gpus?: number[];
  policy: RunPolicyName;
  eta?: number;
  simulate: boolean;
  provider: CarbonSourceKind;
  zone: string;
  /** The carbon API's base URL, set by the user on the command line. */
  baseUrl?: string;
  trace?: string;
  speed: number;
  /** Where the replay starts in the trace, epoch ms. */
  replayStartMs?: number;
  totalUnits?: number;
  pue: number;
  warmupMs?: number;
  windowMs?: number;
  json: boolean;
  workload?: string;
  db?: string;
  profileStore: boolean;
  /** The privileged limits service that sets the limits (else this process sets them, or advises). */
  agentSocket?: string;
}


/**
 * Parses and bounds `run`'s command line (throws UsageError): every value is checked here, before
 * GPU control, the reporter socket or the job start — a bad one must not leave them running.
 */
export function parseRunArgs(argv: string[]): RunCliOptions {
  const dash = argv.indexOf('--');
  const attaching = dash < 0 && argv.some((a) => a === '--pid' || a.startsWith('--pid='));
  if (!attaching && (dash < 0 || dash === argv.length - 1)) throw new UsageError('give the command to run after --, e.g. chase-agent run -- python train.py (or --pid PID to attach to a running process)');
  const [file, ...args] = attaching ? [] : argv.slice(dash + 1);
  const { values } = parseCli(attaching ? argv : argv.slice(0, dash), OPTIONS);
  const policy = values.policy as RunPolicyName;
  if (!POLICIES.includes(policy)) throw new UsageError(`--policy must be one of ${POLICIES.join(', ')} (got "${values.policy}")`);
  const provider = values.provider as CarbonSourceKind;
  if (!CARBON_SOURCE_KINDS.includes(provider)) throw new UsageError(`--provider must be one of ${CARBON_SOURCE_KINDS.join(', ')} (got "${values.provider}")`);
  let attachPid: number | undefined;
  if (values.pid !== undefined) {
    if (!attaching) throw new UsageError('give either --pid PID (attach) or a command after -- (launch), not both');
    attachPid = numberArg('pid', values.pid, undefined, { min: 1, max: 4_194_304, integer: true });
    if (!processAlive(attachPid)) throw new UsageError(`--pid ${attachPid}: no process with that PID is running. Check it with ps -p ${attachPid}.`);
  }
  if (values.simulate && values['agent-socket'] !== undefined) throw new UsageError('--simulate and --agent-socket exclude each other: simulated GPUs exist only inside this process');
  const optional = <T>(raw: string | undefined, read: (raw: string) => T): T | undefined => (raw === undefined ? undefined : read(raw));
  return {
    ...(attachPid !== undefined ? { attachPid } : { command: { file, args } }),
    budgetPct: numberArg('budget-pct', values['budget-pct'], DEFAULT_BUDGET_PCT, { min: 0, max: MAX_BUDGET_PCT }),
    gpus: optional(values.gpus, gpuListArg),
    policy,
    eta: optional(values.eta, (raw) => numberArg('eta', raw, undefined, { min: 0, max: 1 })),
    simulate: values.simulate,
    provider,
    zone: textArg('zone', values.zone, 100),
    baseUrl: optional(values['base-url'], (raw) => textArg('base-url', raw, 2000)),
    trace: optional(values.trace, (raw) => textArg('trace', raw)),
    speed: numberArg('speed', values.speed, REPLAY_SPEED.default, { min: REPLAY_SPEED.minimum, max: REPLAY_SPEED.maximum }),
    replayStartMs: optional(values['replay-start'], replayStartArg),
    totalUnits: optional(values['total-units'], (raw) => numberArg('total-units', raw, undefined, { above: 0, max: 1e15 })),
    pue: numberArg('pue', values.pue, DEFAULT_PUE, { min: SETTINGS['accounting.pue'].minimum, max: SETTINGS['accounting.pue'].maximum }),
    warmupMs: optional(values['warmup-s'], (raw) => numberArg('warmup-s', raw, undefined, { min: 0, max: MAX_PROFILE_STEP_S }) * 1000),
    windowMs: optional(values['window-s'], (raw) => numberArg('window-s', raw, undefined, { above: 0, max: MAX_PROFILE_STEP_S }) * 1000),
    json: values.json,
    workload: optional(values.workload, (raw) => textArg('workload', raw, 200)),
    db: optional(values.db, (raw) => textArg('db', raw)),
    profileStore: !values['no-profile-store'],
    agentSocket: optional(values['agent-socket'], (raw) => textArg('agent-socket', raw)),
  };
}

/** `--replay-start`: a UTC date and time (the setting chase.carbon.replayStart's form), as epoch ms. */
function replayStartArg(raw: string): number {
  const ms = replayStartMs(raw);
  if (ms === undefined) throw new UsageError(`--replay-start must be a UTC date and time such as 2023-09-21T15:00Z (got "${raw}")`);
  return ms;
}

export const runCommand: CliCommand = {
  name: 'run',
  summary: 'run a training command under carbon-aware GPU power control and print a summary',
  usage,
  async run(argv) {
    const o = parseRunArgs(argv);
    // the carbon source before GPU control: a bad trace or zone is refused with nothing to restore
    const provider = o.trace
      ? ReplayProvider.create({ zone: o.zone, traceFile: o.trace, speed: o.speed, ...(o.replayStartMs !== undefined ? { startMs: o.replayStartMs } : {}) })
      : createProvider(
          {
            provider: o.provider,
            zone: o.zone,
            replaySpeed: o.speed,
            ...(o.replayStartMs !== undefined ? { replayStart: new Date(o.replayStartMs).toISOString() } : {}),
            ...(o.baseUrl !== undefined ? { baseUrl: o.baseUrl, baseUrlSetBy: 'user' as const } : {}),
          },
          Date.now(),
          secretsFromEnv(process.env),
        );
    const log = createLogger('run');

    // Restores whatever a killed agent left behind before anything else, and installs the exit guards.
    const env: NodeJS.ProcessEnv = o.simulate
      ? { ...process.env, CHASE_GPU_BACKEND: 'simulated', CHASE_AGENT_SOCKET: '' }
      : { ...process.env, ...(o.agentSocket !== undefined ? { CHASE_AGENT_SOCKET: o.agentSocket } : {}) };
    const gpus = await startGpuControl({ env, log });
    const visible = gpus.visibility.devices.map((d) => d.index);
    const gpuIndices = o.gpus ?? visible;
    const unknown = gpuIndices.filter((i) => !visible.includes(i));
    if (gpuIndices.length === 0 || unknown.length > 0) {
      await gpus.stop();
      throw new UsageError(`--gpus ${o.gpus?.join(',') ?? ''}: GPU ${unknown.join(', ') || '(none)'} is not visible; visible GPUs: ${visible.join(', ') || 'none'}`);
    }
    // opened when the run is about to start (after its GPUs are claimed): a refused run touches no history
    let history: HistoryStore | undefined;
    let historyOpened = false;
    const runs = new RunManager({
      gpu: async () => gpus,
      carbon: () => provider,
      pue: () => o.pue,
      history: () => {
        if (!historyOpened) history = openRunHistory(o.db ?? defaultHistoryPath(), log);
        historyOpened = true;
        return history;
      },
      log,
      onOutput: ({ stream, text }) => (o.json || stream === 'stderr' ? process.stderr : process.stdout).write(text),
      onDecision: (_runId, d) =>
        log.info(
          `period ${new Date(d.periodStartMs).toISOString()}: ${d.intensityGPerKwh.toFixed(0)} g/kWh → ${formatWatts(d.powerLimitMw)}${d.applied ? '' : ' (advised, not applied)'}` +
            (d.forecastGPerKwh !== undefined ? ` (forecast ${d.forecastGPerKwh.toFixed(0)} g/kWh${d.expectedSavingG !== undefined ? `, expected saving ${d.expectedSavingG.toFixed(3)} g` : ''})` : ''),
        ),
    });
    // SIGINT/SIGTERM stop the job (the guard has restored the GPUs already); the run ends as it exits, recorded as stopped
    let runId: string | undefined;
    let signalled = false;
    const stopJob = (): void => {
      signalled = true;
      if (runId !== undefined) runs.stop(runId);
    };
    process.on('SIGINT', stopJob);
    process.on('SIGTERM', stopJob);
    let started: StartedRun;
    let summary: RunSummary;
    try {
      if (gpus.backend.simulated) log.info('GPUs are SIMULATED (no NVIDIA driver used): energy and power follow a measured A40 profile.');
      started = await runs.start({
        command: o.command?.file ?? '',
        args: o.command?.args ?? [],
        ...(o.attachPid !== undefined ? { pid: o.attachPid } : {}),
        gpus: gpuIndices,
        budgetPct: o.budgetPct,
        policy: o.policy,
        ...(o.eta !== undefined ? { eta: o.eta } : {}),
        ...(o.totalUnits !== undefined ? { totalUnits: o.totalUnits } : {}),
        ...(o.workload !== undefined ? { workload: o.workload } : {}),
        profiler: { ...(o.warmupMs !== undefined ? { warmupMs: o.warmupMs } : {}), ...(o.windowMs !== undefined ? { windowMs: o.windowMs } : {}) },
        profileStore: o.profileStore,
      });
      runId = started.runId;
      if (signalled) runs.stop(runId);
      summary = await started.finished;
    } finally {
      process.off('SIGINT', stopJob);
      process.off('SIGTERM', stopJob);
      await runs.dispose();
      await gpus.stop();
      history?.close();
    }
    process.stdout.write(o.json ? JSON.stringify(jsonSummary(summary, started.run)) + '\n' : humanSummary(summary, gpus.backend.simulated) + '\n');
    // An attached process is not our child: its exit code is unknown; it ending is success.
    if (o.attachPid !== undefined) return summary.state === 'failed' ? 1 : 0;
    return summary.exitCode ?? 1;
  },
};

function jsonSummary(s: RunSummary, run: Run) {
  return {
    id: s.id,
    command: s.command,
    state: s.state,
    ...(s.pid !== undefined ? { pid: s.pid } : {}),
    gpuUuids: s.gpuUuids,
    energyJ: s.energyJ,
    carbonG: s.carbonG,
    baselineCarbonG: s.baselineCarbonG ?? null,
    savedCarbonG: s.savedCarbonG ?? null,
    slowdownPct: s.slowdownPct ?? null,
    exitCode: s.exitCode ?? null,
    policy: s.policy,
    budgetPct: s.budgetPct,
    progressSource: s.progressSource ?? null,
    unitsDone: s.unitsDone,
    durationMs: (s.endedAtMs ?? s.startedAtMs) - s.startedAtMs,
    ...(run.workloadKey !== undefined ? { workloadKey: run.workloadKey, profileReused: run.reusedProfile } : {}),
    /** The first projection after profiling (projection.ts), and how far the outcome was from it, % of its carbon. */
    ...(s.firstProjection ? { projection: s.firstProjection, projectionErrorPct: projectionErrorPct(s.firstProjection.carbonG, s.carbonG) ?? null } : {}),
    /** Raw energy counters at the first and last sample, per GPU (mJ): energyJ is their sum of deltas. */
    energyCounters: run.energyCounters,
    ...(s.advise ? { advise: s.advise } : {}),
    ...(s.error ? { error: s.error } : {}),
    ...(s.distributed ? distributedJson(s.distributed) : {}),
  };
}

/**
 * A distributed job's part of the JSON summary (issue 15's contract): `decisions`, the limits this
 * node applied in the order rank 0's agent made them (the same on every node), and `distributed`,
 * the job and this node's place in it (on rank 0's node also the whole job and each node).
 */
function distributedJson(d: DistributedRunSummary) {
  const { decisions, ...job } = d;
  return { decisions, distributed: job };
}

export function humanSummary(s: RunSummary, simulated: boolean): string {
  return [
    s.command.startsWith('pid ') && (s.exitCode ?? undefined) === undefined
      ? `chase: ${s.command} (attached) ${s.state === 'failed' ? 'could not be controlled' : 'ended'}${simulated ? ' [simulated GPUs]' : ''}`
      : `chase: ${s.command} exited with ${s.exitCode ?? 'no code'}${simulated ? ' [simulated GPUs]' : ''}`,
    `chase: ${runOutcomeText(s)}`,
    ...[profileReuseText(s), projectionOutcomeText(s)].filter((x) => x !== undefined).map((x) => `chase: ${x}`),
    ...(s.progressSource === 'gpu-proxy' ? ['chase: progress: GPU activity as a proxy (gpu-proxy; the job reports no steps) — slowdown and savings are estimates'] : []),
    ...(s.advise ? [`chase: advise mode — limits were computed but not applied: ${s.advise}`] : []),
    ...(s.error ? [`chase: ${s.error}`] : []),
    ...(s.distributed ? [...jobLines(s.distributed, s.budgetPct), ...s.distributed.decisions.slice(-SHOWN_DECISIONS).map(decisionText)].map((l) => `chase: ${l}`) : []),
  ].join('\n');
}
