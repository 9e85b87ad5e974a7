/**
 * The one place where the extension ⇄ agent wire is declared: method names, parameter and result
 * shapes, error codes. Both sides import this file; nothing else names a method string.
 *
 * Units are in the names and there is one unit per quantity: intensities in g/kWh, times as epoch
 * ms UTC, durations in ms, power in mW, energy in mJ.
 *
 * The transport is JSON-RPC (vscode-languageserver / vscode-languageclient). Only custom requests
 * and notifications are used; the LSP `initialize` carries {@link AgentInitializationOptions}.
 *
 * This project has no Node or DOM types on purpose: the agent, the extension and the webview all
 * compile against it.
 *
 * Every request's parameters have one schema (valibot), declared with the method in {@link Methods}:
 * the agent checks each request against it once, on arrival, and answers JSON-RPC InvalidParams
 * (-32602) with a line that names the field, what it must be and what came (paramSchema.ts).
 */
import * as v from 'valibot';
import { absolutePath, integerIn, noParams, numberIn, text, type ParamsSchema } from './paramSchema';
import { CARBON_SOURCE_KINDS, DEFAULT_EMISSION_FACTOR_TYPE, SETTING_ORIGINS, validateSettings, type CarbonSourceKind, type EmissionFactorType, type SettingOrigin } from './settings';
import { DAY_MS } from './units';
import type { JobPlace } from './reporter';

export { CARBON_SOURCE_KINDS, DEFAULT_EMISSION_FACTOR_TYPE, SETTING_ORIGINS, type CarbonSourceKind, type EmissionFactorType, type SettingOrigin };

/** Carbon-intensity signal kinds: average (Electricity Maps, UK NESO, traces) or marginal (WattTime MOER). */
export type SignalKind = 'average' | 'marginal';

export interface CarbonSourceInfo {
  kind: CarbonSourceKind;
  /** Short label for the status bar, e.g. "replay GB 2023". */
  label: string;
  /** Grid zone / region id as the source names it, e.g. "GB", "DE-LU". */
  zone: string;
  signal: SignalKind;
  /** Licence / attribution line the UI must show with the data. */
  attribution: string;
}

export interface IntensityPoint {
  /** Start of the period, epoch ms UTC (in the agent's clock; replayed traces are mapped to now). */
  timestampMs: number;
  intensityGPerKwh: number;
}

export interface ForecastPoint extends IntensityPoint {
  /** Uncertainty band (e.g. 10th/90th percentile), when the forecaster gives one. */
  lowGPerKwh?: number;
  highGPerKwh?: number;
}

/** Which way intensity is heading: the next period's expected value against the current one (±3 %). */
export type IntensityTrend = 'rising' | 'falling' | 'steady';

/**
 * What counts as a low or high intensity on this grid: by default the 33rd and 67th percentiles of
 * the grid's own last 30 days (so "high" in Germany and in Great Britain mean different numbers).
 */
export interface IntensityLevels {
  lowBelowGPerKwh: number;
  highAboveGPerKwh: number;
  /** How the thresholds were made, for the tooltip: "percentiles 33/67 of the last 30 days". */
  basis: string;
}

/** The agent's current view of the grid, pushed whenever it changes. */
export type CarbonStatus =
  | {
      state: 'ok';
      source: CarbonSourceInfo;
      intensityGPerKwh: number;
      /** Start of the period the reading belongs to, epoch ms UTC. */
      timestampMs: number;
      /** Length of one period of the source (its granularity). */
      periodMs: number;
      /** When the agent obtained the reading, epoch ms UTC. */
      fetchedAtMs: number;
      /** True when the reading is older than the source's period allows (offline fallback). */
      stale: boolean;
      /** Human explanation when stale (what failed, what is shown instead). */
      staleReason?: string;
      trend?: IntensityTrend;
      levels?: IntensityLevels;
      /** What the user should know about this reading or source (e.g. "forecast not in your plan: using Chase's own"). */
      notes?: string[];
    }
  | {
      state: 'error';
      /** The source the user asked for, when known. */
      source?: CarbonSourceInfo;
      /** What is wrong and what to do about it, in words a user can act on. */
      message: string;
      code: AgentErrorCode;
    };

export interface IntensitySeriesParams {
  pastHours: number;
  futureHours: number;
}

/** The longest series one request may ask for, either way: two weeks. */
export const MAX_SERIES_HOURS = 24 * 14;
const seriesHours = numberIn(0, MAX_SERIES_HOURS, `a number of hours from 0 to ${MAX_SERIES_HOURS}`);
/** Absent: the last 48 hours and the next 24. */
const intensitySeriesParams: ParamsSchema<IntensitySeriesParams> = v.nullish(
  v.strictObject({ pastHours: seriesHours, futureHours: seriesHours }, 'an object {pastHours, futureHours}'),
  { pastHours: 48, futureHours: 24 },
);

export interface IntensitySeriesResult {
  source: CarbonSourceInfo;
  /** The agent's "now", epoch ms UTC. */
  nowMs: number;
  /** Actual readings up to now, oldest first. */
  actual: IntensityPoint[];
  /** Expected readings after now, oldest first. For a replayed trace these are the trace's own values. */
  forecast: ForecastPoint[];
  /** Who made `forecast`: "trace" (known future of a replay), or a forecaster's name. */
  forecastModel: string;
}

/**
 * Settings the extension hands to the agent (in `initialize` and on every change). Each field's
 * setting, default, bounds and message are declared once, in settings.ts (`SETTINGS`).
 */
export interface CarbonSettings {
  /** Which provider. Only `replay` and `static` need no network. */
  provider: CarbonSourceKind;
  /** Grid zone, e.g. "GB". For `replay` one of the embedded traces unless `traceFile` is set. */
  zone: string;
  /** A CSV trace to replay instead of the embedded one (absolute path). */
  traceFile?: string;
  /** Replay speed-up: 1 = real time, 3600 = one trace hour per second. */
  replaySpeed: number;
  /** Power usage effectiveness applied to every energy and carbon figure (accounting.ts `facilityEnergyJ`); 1 when absent. */
  pue?: number;
  /** Where in the trace a replay starts, a UTC date and time ("2023-09-21T15:00Z"); absent: today's date and hour in the trace's year. */
  replayStart?: string;
  /** For `static`. */
  staticIntensityGPerKwh?: number;
  /** For `replay` with `traceFile`: the CSV's time and intensity column names (else detected). */
  traceTimeColumn?: string;
  traceValueColumn?: string;
  /** Location instead of `zone` (Electricity Maps `lat`/`lon`, WattTime region-from-loc), degrees. */
  latitude?: number;
  longitude?: number;
  /** Electricity Maps: operational (`direct`) or life-cycle emission factors; DEFAULT_EMISSION_FACTOR_TYPE when absent. */
  emissionFactorType?: EmissionFactorType;
  /** Electricity Maps: ask for measured values only (no estimates). */
  disableEstimations?: boolean;
  /** Override the web API's base URL (proxies, tests): `chase.carbon.apiBaseUrl`. */
  baseUrl?: string;
  /**
   * Who set `baseUrl`. A provider holding an API key sends it to a host other than its own only when
   * this is "user" (user settings, the CLI's --base-url); absent counts as not the user.
   */
  baseUrlSetBy?: SettingOrigin;
  /** UK NESO: a region id 1–17 (e.g. 13 = London) instead of the national figure. */
  ukRegionId?: number;
  /** UK NESO: an outward postcode (e.g. "RG10") instead of the national figure. */
  ukPostcode?: string;
}

/** API credentials. Held in memory only: never logged, never written to disk. */
export interface CarbonSecrets {
  electricityMapsToken?: string;
  wattTimeUsername?: string;
  wattTimePassword?: string;
}

/** Prometheus `/metrics` endpoint of this agent (`chase.metrics.*`). Off when absent. */
export interface MetricsSettings {
  enabled: boolean;
  /** Interface to bind; 127.0.0.1 (loopback) unless configured. */
  host: string;
  /** TCP port, 1–65535. */
  port: number;
}

export interface AgentSettings {
  carbon: CarbonSettings;
  secrets?: CarbonSecrets;
  metrics?: MetricsSettings;
}

export interface AgentInitializationOptions {
  settings: AgentSettings;
}

/** The settings check (settings.ts) as the schema of `chase/configure`: its messages name the VS Code setting. */
const agentSettings: ParamsSchema<AgentSettings> = v.pipe(
  v.unknown(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const checked = validateSettings(dataset.value);
    if (typeof checked !== 'string') return checked;
    addIssue({ message: checked });
    return NEVER;
  }),
);

export interface AgentInfo {
  version: string;
  pid: number;
  /** Node version the agent runs under (VS Code's own Node or the system's). */
  nodeVersion: string;
  startedAtMs: number;
  /** The Prometheus endpoint while it serves (chase.metrics.enabled). */
  metricsUrl?: string;
  /** What the user should know about the agent's optional parts (e.g. the metrics port was taken). */
  notes?: string[];
}

export interface Configured {
  status: CarbonStatus;
}

/** One GPU as the agent sees it. Power in mW, energy in mJ. */
export interface GpuStatus {
  index: number;
  uuid: string;
  name: string;
  backend: 'nvml' | 'zeusd' | 'simulated';
  /** Simulated GPUs are always labelled so in the UI. */
  simulated: boolean;
  powerLimitMw: number;
  defaultLimitMw: number;
  minLimitMw: number;
  maxLimitMw: number;
  powerMw: number;
  energyMj?: number;
  /** `permitted`: Chase may set limits. `advise`: it only computes and shows them; `reason` says how to grant control. */
  control: 'permitted' | 'advise';
  reason?: string;
}

export interface GpusResult {
  gpus: GpuStatus[];
  /** Why the backend is what it is (no driver found, zeusd unreachable, …). */
  notes: string[];
}

/** Every run policy, for task and CLI validation. */
export const RUN_POLICY_NAMES = ['default', 'max-power', 'static-best', 'energy-only', 'chase-paper'] as const;
export type RunPolicyName = (typeof RUN_POLICY_NAMES)[number];
/**
 * Largest slowdown budget, %: a run may take at most twice as long as at the maximum power limit.
 * Beyond that, the policy would be "energy only" (there is such a policy: `energy-only`).
 */
export const MAX_BUDGET_PCT = 100;
/** The slowdown budget, %, when nobody gives one (the paper's +2.5 % time): tasks, the notebook command, the CLI. */
export const DEFAULT_BUDGET_PCT = 2.5;
export type RunState = 'starting' | 'profiling' | 'controlling' | 'finished' | 'failed';
/** Where a run's progress comes from, best first; `gpu-proxy` is a labelled guess. */
export type ProgressFormat = 'tqdm' | 'lightning' | 'hf-trainer' | 'keras' | 'reporter' | 'gpu-proxy';

export interface StartRunParams {
  /** The program and its arguments, e.g. "python", ["train.py"] (empty when attaching by `pid`). */
  command: string;
  args: string[];
  /** Attach to this running process instead of launching `command`; its GPUs come from NVML's process list unless `gpus` is given. */
  pid?: number;
  cwd?: string;
  env?: Record<string, string>;
  /** Allowed slowdown against the maximum power limit, %. */
  budgetPct: number;
  /** GPU indices; default all visible GPUs not controlled by another run. */
  gpus?: number[];
  policy?: RunPolicyName;
  /** Total work in progress units (steps), when known. */
  totalUnits?: number;
  /**
   * Key of the workload's stored power profile (with the GPU model): a run with a known key skips
   * profiling. Default: the script name + a hash of the command line.
   */
  workload?: string;
  /**
   * Profiling warm-up and measurement window per candidate limit, s (defaults 10 and 30). Short
   * windows suit demos on simulated GPUs; on a real GPU they measure noise.
   */
  profiling?: { warmupS?: number; windowS?: number };
}

/** Longest profiling warm-up or window per limit: an hour (the defaults are 10 s and 30 s). */
export const MAX_PROFILE_STEP_S = 3600;

/** Largest PID Linux hands out (PID_MAX_LIMIT, 2^22). */
const MAX_PID = 4_194_304;
/** Most GPUs one run may list (NVML numbers at most 64 devices per host). */
export const MAX_GPUS = 64;
const startRunParams: ParamsSchema<StartRunParams> = v.pipe(
  v.strictObject(
    {
      command: text('a program to run, e.g. "python" (empty only with pid)'),
      args: v.pipe(v.array(text('a string'), 'a list of strings, e.g. ["train.py", "--epochs", "3"]'), v.maxLength(4096, 'a list of at most 4096 strings')),
      pid: v.optional(integerIn(1, MAX_PID, 'the id of a running process (a whole number ≥ 1)')),
      cwd: v.optional(absolutePath('an absolute folder path')),
      env: v.optional(
        v.pipe(
          v.record(v.pipe(text('an environment variable name', { minLength: 1, maxLength: 256 }), v.regex(/^[^=]+$/, 'an environment variable name (no "=")')), text('a string value', { maxLength: 131_072 }), 'an object of NAME: "value" strings'),
          v.check((env) => Object.keys(env).length <= 1024, 'at most 1024 variables'),
        ),
      ),
      budgetPct: numberIn(0, MAX_BUDGET_PCT, `a number from 0 to ${MAX_BUDGET_PCT} (the allowed slowdown, %)`),
      gpus: v.optional(
        v.pipe(
          v.array(integerIn(0, MAX_GPUS - 1, `a GPU index from 0 to ${MAX_GPUS - 1}`), 'a list of GPU indices, e.g. [0, 1]'),
          v.maxLength(MAX_GPUS, `a list of at most ${MAX_GPUS} GPU indices`),
          v.check((gpus) => new Set(gpus).size === gpus.length, 'a list of distinct GPU indices (each GPU once)'),
        ),
      ),
      policy: v.optional(v.picklist(RUN_POLICY_NAMES, `one of ${RUN_POLICY_NAMES.join(', ')}`)),
      totalUnits: v.optional(v.pipe(v.number('a number of progress units > 0'), v.finite('a number of progress units > 0'), v.gtValue(0, 'a number of progress units > 0'), v.maxValue(1e15, 'at most 1e15 progress units'))),
      workload: v.optional(text('a workload key of 1 to 200 characters', { minLength: 1, maxLength: 200 })),
      profiling: v.optional(
        v.strictObject(
          {
            warmupS: v.optional(numberIn(0, MAX_PROFILE_STEP_S, `a number of seconds from 0 to ${MAX_PROFILE_STEP_S}`)),
            windowS: v.optional(v.pipe(numberIn(0, MAX_PROFILE_STEP_S, `a number of seconds above 0, at most ${MAX_PROFILE_STEP_S}`), v.gtValue(0, `a number of seconds above 0, at most ${MAX_PROFILE_STEP_S}`))),
          },
          'an object {warmupS?, windowS?} (seconds)',
        ),
      ),
    },
    'an object {command, args, budgetPct, …}',
  ),
  v.forward(
    v.check((p) => (p.pid === undefined) !== (p.command.trim() === ''), 'a program to run, e.g. "python" — or empty with pid, to attach to a running process (not both)'),
    ['command'],
  ),
);

/** `chase/startAdvice`: would starting this run later, within `windowHours`, cut its projected carbon? */
export interface StartAdviceParams {
  command: string;
  args: string[];
  budgetPct: number;
  gpus?: number[];
  totalUnits?: number;
  workload?: string;
  /** How far ahead a start is considered, hours of the carbon clock. */
  windowHours: number;
}

export const MAX_ADVICE_WINDOW_H = 48;

const startAdviceParams: ParamsSchema<StartAdviceParams> = v.strictObject(
  {
    command: text('a program, e.g. "python"'),
    args: v.pipe(v.array(text('a string'), 'a list of strings'), v.maxLength(4096, 'a list of at most 4096 strings')),
    budgetPct: numberIn(0, MAX_BUDGET_PCT, `a number from 0 to ${MAX_BUDGET_PCT} (the allowed slowdown, %)`),
    gpus: v.optional(v.pipe(v.array(integerIn(0, MAX_GPUS - 1, `a GPU index from 0 to ${MAX_GPUS - 1}`), 'a list of GPU indices'), v.maxLength(MAX_GPUS, `at most ${MAX_GPUS} GPU indices`))),
    totalUnits: v.optional(v.pipe(v.number('a number of progress units > 0'), v.finite('a number of progress units > 0'), v.gtValue(0, 'a number of progress units > 0'), v.maxValue(1e15, 'at most 1e15 progress units'))),
    workload: v.optional(text('a workload key of 1 to 200 characters', { minLength: 1, maxLength: 200 })),
    windowHours: numberIn(0, MAX_ADVICE_WINDOW_H, `a number of hours from 0 to ${MAX_ADVICE_WINDOW_H}`),
  },
  'an object {command, args, budgetPct, windowHours, …}',
);

/** The advice, or why there is none. Times epoch ms; carbon in g. */
export interface StartAdviceResult {
  /** Why no advice can be given (no stored profile, no total work…); absent when there is advice. */
  unavailable?: string;
  /** What the run's length estimate comes from. */
  basis?: string;
  advice?: {
    nowCarbonG: number;
    bestCarbonG: number;
    cutPct: number;
    /** When to start (wall clock), and the same moment in the carbon clock (a sped-up replay's own time) for display. */
    startAtMs: number;
    startAtCarbonMs: number;
  };
}

export interface StartRunResult {
  runId: string;
  gpuUuids: string[];
  simulated: boolean;
  /** Set when Chase can only advise (no permission to set limits): the reason and how to grant it. */
  advise?: string;
}

/** A run's accounting, live and at the end. Energy in J, carbon in g, times epoch ms. */
export interface RunSummary {
  id: string;
  state: RunState;
  command: string;
  pid?: number;
  gpuUuids: string[];
  policy: string;
  budgetPct: number;
  progressSource?: ProgressFormat;
  startedAtMs: number;
  endedAtMs?: number;
  energyJ: number;
  carbonG: number;
  /** Same work at the maximum limit (from the profile); absent until a profile exists. */
  baselineCarbonG?: number;
  baselineEnergyJ?: number;
  savedCarbonG?: number;
  slowdownPct?: number;
  unitsDone: number;
  currentLimitMw?: number;
  advise?: string;
  exitCode?: number | null;
  error?: string;
  /** chase.accounting.pue the run's energy and carbon include (the facility's energy = the GPUs' × this). */
  pue?: number;
  /** Where the power profile in use came from: measured by this run, or the workload's stored one (no profiling). */
  profileSource?: 'measured' | 'stored';
  /** The workload's key in the profile store (with the GPU model). */
  workloadKey?: string;
  /** What the run is projected to cost, once it has a profile (projection.ts); updated once per carbon period. */
  projection?: RunProjection;
  /** The first projection made after profiling, kept to compare with the outcome at the end. */
  firstProjection?: RunProjection;
  /** Set when the run's job is one part of a distributed job (docs/distributed.md). */
  distributed?: DistributedRunSummary;
}

/** A run's projected totals (agent/runs/projection.ts). Energy in J, carbon in g, times epoch ms (wall clock). */
export interface RunProjection {
  /** When it was made. */
  atMs: number;
  /** `totalUnits`: the job's declared total work; `horizon`: the work of the next `horizonHours` (no total known). */
  basis: 'totalUnits' | 'horizon';
  horizonHours?: number;
  /** The work projected, in progress units (done + remaining). */
  unitsTotal: number;
  /** The limit the remaining work is assumed to run at. */
  powerLimitMw: number;
  energyJ: number;
  baselineEnergyJ: number;
  /** Projected carbon, and its band from the forecast's band (equal to it where the forecast has none). */
  carbonG: number;
  carbonLowG: number;
  carbonHighG: number;
  baselineCarbonG: number;
  savedCarbonG: number;
  savedLowG: number;
  savedHighG: number;
  slowdownPct: number;
  /** When the work is projected to be done (only with a known total). */
  finishAtMs?: number;
}

/** One decision of a distributed job, as a node applied it: every node lists the same ones, in the same order. */
export interface JobDecisionSummary {
  /** 1, 2, 3… in the order the job's deciding agent (global rank 0's) made them. */
  decisionId: number;
  /** The optimizer step at which every rank received it. */
  step: number;
  powerLimitMw: number;
  /** `profile`: a limit measured while profiling the job; `control`: the policy's choice for a carbon period. */
  kind: 'profile' | 'control';
  /** Applied to this node's GPUs, or only advised (no permission here). */
  applied: boolean;
  /** When this node applied it, epoch ms. */
  atMs: number;
}

/** A node of a distributed job, as the deciding node sees it. */
export interface JobNodeSummary {
  nodeRank: number;
  /** The job's ranks on that node. */
  ranks: number;
  energyJ: number;
  carbonG: number;
  /** Whether that node's agent applies the decisions, only advises, or stopped answering. */
  status: 'permitted' | 'advise' | 'unreachable';
  advise?: string;
}

/** A node's part in a distributed job: its place (job id, world size, node rank and count, ranks here, whether it decides), its state and decisions. */
export interface DistributedRunSummary extends JobPlace {
  /** `coordinated` while decisions come; `refused` (e.g. mixed GPU models), `failed` (a rank timed out) or `lapsed` (no decision or heartbeat in time): the node's GPUs are back at their maximum. */
  state: 'coordinated' | 'refused' | 'failed' | 'lapsed';
  /** Why, when not coordinated. */
  reason?: string;
  /** The decisions this node applied (the most recent 500). */
  decisions: JobDecisionSummary[];
  /** On the deciding node: the whole job — its energy, carbon, baseline and slowdown — and each node. */
  job?: {
    energyJ: number;
    carbonG: number;
    baselineCarbonG?: number;
    savedCarbonG?: number;
    slowdownPct?: number;
    unitsDone: number;
    nodes: JobNodeSummary[];
  };
}

export interface RunOutput {
  runId: string;
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface RecentRunsParams {
  /** At most this many, newest first. Default 50. */
  limit?: number;
}

const recentRunsParams: ParamsSchema<RecentRunsParams> = v.nullish(
  v.strictObject({ limit: v.optional(integerIn(1, 1000, 'a whole number from 1 to 1000')) }, 'an object {limit?}'),
  {},
);

/** A run from the history database. Energy in J, carbon in g, times epoch ms. */
export interface RecentRun {
  id: string;
  command: string;
  startedAtMs: number;
  endedAtMs?: number;
  status: 'running' | 'completed' | 'failed' | 'stopped' | 'interrupted';
  energyJ: number;
  carbonG: number;
  /** Against the max-power baseline, when the run had a profile. */
  savedCarbonG?: number;
  zone?: string;
}

export interface RecentRunsResult {
  runs: RecentRun[];
  /** The history database the runs come from. */
  dbPath: string;
}

/** `codecarbon`: CodeCarbon's emissions.csv (created, or appended to one with the same header); `json`: everything about the run. */
export type RunExportFormat = 'codecarbon' | 'json';

export interface ExportRunParams {
  runId: string;
  format: RunExportFormat;
  /** Absolute path the agent writes (on the agent's machine). Never through a symbolic link. */
  outFile: string;
  /**
   * Replace an existing file (the user confirmed it, e.g. in a save dialog). Without it an existing
   * JSON file is refused; a CodeCarbon CSV with the same header is appended to either way.
   */
  overwrite?: boolean;
}

/** Run ids the agent makes are short (`run-…`); anything longer is not one. */
const runId = text('a run id (chase/recentRuns lists them)', { minLength: 1, maxLength: 200 });
const exportRunParams: ParamsSchema<ExportRunParams> = v.strictObject(
  {
    runId,
    format: v.picklist(['codecarbon', 'json'], '"codecarbon" or "json"'),
    outFile: absolutePath('an absolute file path on the agent\'s machine'),
    overwrite: v.optional(v.boolean('true or false')),
  },
  'an object {runId, format, outFile, overwrite?}',
);

export interface StopRunParams {
  runId: string;
}
const stopRunParams: ParamsSchema<StopRunParams> = v.strictObject({ runId }, 'an object {runId}');

export interface ExportRunResult {
  outFile: string;
  written: 'created' | 'appended';
  /** A CSV with other columns was there: moved to this file first (CodeCarbon's own rule). */
  backupFile?: string;
}

/** A process using GPUs (NVML's compute process list), e.g. a Jupyter kernel. */
export interface GpuProcess {
  pid: number;
  gpuIndices: number[];
  /** The process's command line, when this host lets the agent read it. */
  commandLine?: string;
}

export interface EnergyBetweenParams {
  /** Wall-clock interval, epoch ms (e.g. a notebook cell's execution start and end). */
  fromMs: number;
  toMs: number;
}

/** Longest interval one energyBetween may ask about (the agent keeps one day of samples anyway). */
export const MAX_ENERGY_RANGE_MS = 31 * DAY_MS;
/** Epoch ms of 2100-01-01: later times are a unit mistake (µs, ns), not a notebook cell. */
const MAX_EPOCH_MS = 4_102_444_800_000;
const epochMs = numberIn(0, MAX_EPOCH_MS, 'a time in epoch milliseconds (1970 to 2100)');
const energyBetweenParams: ParamsSchema<EnergyBetweenParams> = v.pipe(
  v.strictObject({ fromMs: epochMs, toMs: epochMs }, 'an object {fromMs, toMs}'),
  v.forward(v.check((p) => p.toMs > p.fromMs, 'later than fromMs'), ['toMs']),
  v.forward(v.check((p) => p.toMs - p.fromMs <= MAX_ENERGY_RANGE_MS, `at most ${MAX_ENERGY_RANGE_MS / DAY_MS} days after fromMs`), ['toMs']),
);

export interface EnergyBetweenResult {
  /** Energy of all GPUs the agent sees, J. */
  energyJ: number;
  /** Carbon of that energy at the intensity of the time it was used, g. */
  carbonG: number;
  /** How much of the interval the agent's samples cover, ms (less when the agent started later). */
  coveredMs: number;
  gpuCount: number;
  simulated: boolean;
}

/** Application error codes (JSON-RPC `error.code`), outside the ranges JSON-RPC and LSP reserve. */
export const AgentErrorCodes = {
  /** A setting has a value the agent cannot use; the message names the setting. */
  invalidSettings: 3001,
  /** The carbon source could not be read (missing/corrupt trace, unreachable API, bad key). */
  carbonSourceUnavailable: 3002,
  /** The requested zone is not known to the provider. */
  unknownZone: 3003,
  /** A run could not start: bad command, GPU already controlled by another run, unknown GPU. */
  runRefused: 3004,
  /** No live run with that id. */
  unknownRun: 3005,
  /** The run history cannot be read (none yet, locked, newer schema); the message says what to do. */
  historyUnavailable: 3006,
  /** An export could not be written (the file exists, is a symbolic link, a device or a pipe, or is not writable). */
  exportFailed: 3007,
  /** GPU control did not start in this agent; the agent log says why. */
  gpuUnavailable: 3008,
} as const;
export type AgentErrorCode = (typeof AgentErrorCodes)[keyof typeof AgentErrorCodes];
const AGENT_ERROR_CODES: readonly number[] = Object.values(AgentErrorCodes);
/** Whether a JSON-RPC error code is one of the agent's own (not JSON-RPC's or LSP's). */
export const isAgentErrorCode = (code: number): code is AgentErrorCode => AGENT_ERROR_CODES.includes(code);

/**
 * Method names and their direction. `RequestMethod<P, R>` ties a name to its types and to the schema
 * of its parameters (the agent registers handlers through it, so the compiler checks both sides).
 */
export interface RequestMethod<P, R> {
  readonly method: string;
  readonly params: ParamsSchema<P>;
  readonly _result?: R;
}
export interface NotificationMethod<P> {
  readonly method: string;
  readonly _params?: P;
}
/** Declares a request: its name and the schema of its parameters (also for limits.ts). */
export const request = <P, R>(method: string, params: ParamsSchema<P>): RequestMethod<P, R> => ({ method, params });
export const notification = <P>(method: string): NotificationMethod<P> => ({ method });

export const Methods = {
  /** extension → agent: the agent's version and process. */
  agentInfo: request<void, AgentInfo>('chase/agentInfo', noParams),
  /** extension → agent: the current carbon status (also pushed by `carbonStatusChanged`). */
  carbonStatus: request<void, CarbonStatus>('chase/carbonStatus', noParams),
  /** extension → agent: actual intensity of the last hours and the expected intensity of the next. */
  intensitySeries: request<IntensitySeriesParams, IntensitySeriesResult>('chase/intensitySeries', intensitySeriesParams),
  /** extension → agent: the GPUs, their limits and whether Chase may control them. */
  gpus: request<void, GpusResult>('chase/gpus', noParams),
  /** extension → agent: new settings; answers with the status under them (or InvalidParams naming the setting). */
  configure: request<AgentSettings, Configured>('chase/configure', agentSettings),
  /** extension → agent: processes running on the GPUs (to pick a notebook kernel to control). */
  gpuProcesses: request<void, GpuProcess[]>('chase/gpuProcesses', noParams),
  /** extension → agent: energy and carbon of the GPUs in a past interval (notebook cells). */
  energyBetween: request<EnergyBetweenParams, EnergyBetweenResult>('chase/energyBetween', energyBetweenParams),
  /** extension → agent: launch a training command under carbon-aware control. */
  startRun: request<StartRunParams, StartRunResult>('chase/startRun', startRunParams),
  /** extension → agent: stop a run's process (SIGTERM, then SIGKILL); its GPUs are restored. */
  stopRun: request<StopRunParams, void>('chase/stopRun', stopRunParams),
  /** extension → agent: live runs. */
  runs: request<void, RunSummary[]>('chase/runs', noParams),
  startAdvice: request<StartAdviceParams, StartAdviceResult>('chase/startAdvice', startAdviceParams),
  /** extension → agent: runs from the history database, newest first. */
  recentRuns: request<RecentRunsParams, RecentRunsResult>('chase/recentRuns', recentRunsParams),
  /** extension → agent: the agent writes one run from its history to a file (CodeCarbon CSV or JSON). */
  exportRun: request<ExportRunParams, ExportRunResult>('chase/exportRun', exportRunParams),
  /** agent → extension: a run's process wrote output. */
  runOutput: notification<RunOutput>('chase/runOutput'),
  /** agent → extension: a run's accounting changed (every few seconds) or it ended (state finished/failed). */
  runUpdated: notification<RunSummary>('chase/runUpdated'),
  /** agent → extension: the carbon status changed (new reading, source switch, error, staleness). */
  carbonStatusChanged: notification<CarbonStatus>('chase/carbonStatusChanged'),
} as const;
