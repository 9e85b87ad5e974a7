/**
 * The extension's one status value and how it looks. Pure (no `vscode` import) so that every state
 * is unit-tested; extension/statusBar.ts applies the result to the real StatusBarItem.
 *
 * States: starting → running(carbon status from the agent) ⇄ agent-down(restarting with backoff)
 *         any → invalid-settings (until the settings are fixed).
 */
import type { CarbonStatus, ForecastPoint, GpusResult, IntensityLevels, IntensityTrend, RunSummary } from '../agent/protocol/messages';
import { formatCarbon, formatGrams, formatIntensity, formatUtc, formatUtcClock, formatWatts, INTENSITY_UNIT as UNIT } from '../agent/protocol/format';

/** What the tooltip adds to the state when known: live runs, and the next hours of expected intensity. */
export interface StatusExtras {
  /** User-set thresholds (g/kWh), replacing the grid's percentiles where given. */
  thresholds?: { lowBelowGPerKwh?: number; highAboveGPerKwh?: number };
  runs?: RunSummary[];
  next?: { model: string; points: ForecastPoint[] };
  /** `chase.carbon.replaySpeed` as sent to the agent: a sped-up replay is labelled so, never passed off as the live grid. */
  replaySpeed?: number;
}

export type IntensityLevel = 'low' | 'medium' | 'high';

/** The grid's own levels with the user's thresholds applied on top (either side may be set alone). */
export function effectiveLevels(levels: IntensityLevels | undefined, thresholds: StatusExtras['thresholds']): IntensityLevels | undefined {
  const low = thresholds?.lowBelowGPerKwh ?? levels?.lowBelowGPerKwh;
  const high = thresholds?.highAboveGPerKwh ?? levels?.highAboveGPerKwh;
  if (low === undefined || high === undefined) return undefined;
  const custom = thresholds?.lowBelowGPerKwh !== undefined || thresholds?.highAboveGPerKwh !== undefined;
  return { lowBelowGPerKwh: low, highAboveGPerKwh: high, basis: custom ? 'your chase.statusBar settings' + (levels ? `, else ${levels.basis}` : '') : levels!.basis };
}

export function levelOf(intensityGPerKwh: number, levels: IntensityLevels | undefined): IntensityLevel | undefined {
  if (!levels) return undefined;
  return intensityGPerKwh < levels.lowBelowGPerKwh ? 'low' : intensityGPerKwh > levels.highAboveGPerKwh ? 'high' : 'medium';
}

/**
 * Which reading a carbon status is (source and period): what is derived from a reading (the intensity
 * series, the next hours' forecast) is asked for once per key, however often the state changes in
 * between (GPU samples, staleness flips). Undefined without a reading.
 */
export function readingKey(carbon: CarbonStatus): string | undefined {
  return carbon.state === 'ok' ? `${carbon.source.kind}:${carbon.source.label}@${carbon.timestampMs}` : undefined;
}

/** One value per reading ({@link readingKey}): loaded on the first ask for a new reading, the same promise after. */
export class PerReading<T> {
  private key: string | undefined;
  private value: Promise<T | undefined> | undefined;

  /** `load` failing leaves undefined for this reading: the next reading asks again. */
  constructor(private readonly load: () => Promise<T>) {}

  get(carbon: CarbonStatus): Promise<T | undefined> | undefined {
    const key = readingKey(carbon);
    if (key === undefined) return undefined;
    if (key !== this.key) {
      this.key = key;
      this.value = this.load().catch(() => undefined);
    }
    return this.value;
  }
}

export type ClientState =
  | { kind: 'starting' }
  | { kind: 'running'; carbon: CarbonStatus; gpus?: GpusResult }
  | { kind: 'agent-down'; message: string; retryInMs?: number }
  | { kind: 'invalid-settings'; problems: string[] };

export interface StatusView {
  /** With codicons, e.g. "$(pulse) 128 gCO₂/kWh · replay GB 2023". */
  text: string;
  /** Markdown; command links are trusted (`command:chase.…`). */
  tooltipMarkdown: string;
  accessibilityLabel: string;
  severity: 'normal' | 'warning' | 'error';
  /** The grid-relative level of a fresh reading, for the text colour. */
  level?: IntensityLevel;
  command: string;
}

/**
 * The level shown by the icon as well as by the colour: high-contrast themes draw status bar items
 * in the theme's own colours, and colour alone does not reach everyone.
 */
const LEVEL_ICON: Record<IntensityLevel, string> = { low: '$(pulse)', medium: '$(pulse)', high: '$(flame)' };
const TREND_ARROW: Record<IntensityTrend, string> = { rising: '$(arrow-up)', falling: '$(arrow-down)', steady: '$(arrow-right)' };
const TREND_WORDS: Record<IntensityTrend, string> = { rising: 'rising', falling: 'falling', steady: 'steady' };

const SHOW_LOG = '[Show log](command:chase.showLog)';
const RESTART = '[Restart agent](command:chase.restartAgent)';
const SETTINGS = '[Open settings](command:workbench.action.openSettings?%5B%22chase.%22%5D)';

/** Escapes text from the agent before it goes into trusted markdown. */
export function escapeMarkdown(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+!|<>]/g, (c) => '\\' + c);
}

export function statusView(state: ClientState, extras: StatusExtras = {}): StatusView {
  switch (state.kind) {
    case 'starting':
      return {
        text: '$(sync~spin) Chase',
        tooltipMarkdown: 'Chase: starting the agent…',
        accessibilityLabel: 'Chase: starting the agent',
        severity: 'normal',
        command: 'chase.showLog',
      };
    case 'invalid-settings':
      return {
        text: '$(error) Chase: settings',
        tooltipMarkdown: `**Chase cannot use the current settings**\n\n${state.problems.map((p) => `- ${escapeMarkdown(p)}`).join('\n')}\n\n${SETTINGS}`,
        accessibilityLabel: `Chase settings problem: ${state.problems.join(' ')}`,
        severity: 'error',
        command: 'workbench.action.openSettings',
      };
    case 'agent-down': {
      const retry = state.retryInMs !== undefined ? ` Restarting in ${Math.ceil(state.retryInMs / 1000)} s.` : '';
      return {
        text: '$(error) Chase: agent stopped',
        tooltipMarkdown: `**The Chase agent is not running.**${retry}\n\n${escapeMarkdown(state.message)}\n\n${RESTART} · ${SHOW_LOG}`,
        accessibilityLabel: `Chase agent stopped: ${state.message}`,
        severity: 'error',
        command: 'chase.showLog',
      };
    }
    case 'running': {
      const carbon = state.carbon.state === 'ok' ? { ...state.carbon, levels: effectiveLevels(state.carbon.levels, extras.thresholds) } : state.carbon;
      const view = carbonView(carbon, extras.replaySpeed);
      const parts = [view.tooltipMarkdown];
      if (state.carbon.state === 'ok' && extras.next && extras.next.points.length > 0) parts.push(nextHoursLine(extras.next));
      if (extras.runs && extras.runs.length > 0) parts.push(runLines(extras.runs));
      if (state.gpus) parts.push(gpuLines(state.gpus));
      return { ...view, tooltipMarkdown: parts.join('\n\n') };
    }
  }
}

/** The speed-up of a replay not played in real time (rounded for display), else undefined: a live source has none. */
function replaySpeedUp(carbon: CarbonStatus, replaySpeed: number | undefined): number | undefined {
  if (carbon.source?.kind !== 'replay' || replaySpeed === undefined || replaySpeed === 1) return undefined;
  return Number(replaySpeed.toPrecision(4));
}

function carbonView(carbon: CarbonStatus, replaySpeed?: number): StatusView {
  if (carbon.state === 'error') {
    const source = carbon.source ? ` (${carbon.source.label})` : '';
    return {
      text: `$(error) Chase: no carbon data`,
      tooltipMarkdown: `**No carbon intensity${escapeMarkdown(source)}**\n\n${escapeMarkdown(carbon.message)}\n\n${SETTINGS} · ${SHOW_LOG}`,
      accessibilityLabel: `Chase: no carbon intensity. ${carbon.message}`,
      severity: 'error',
      command: 'chase.showLog',
    };
  }
  const value = formatIntensity(carbon.intensityGPerKwh);
  const speedUp = replaySpeedUp(carbon, replaySpeed);
  const stale = carbon.stale ? ' (stale)' : '';
  const level = carbon.stale ? undefined : levelOf(carbon.intensityGPerKwh, carbon.levels);
  const arrow = carbon.trend && !carbon.stale ? ` ${TREND_ARROW[carbon.trend]}` : '';
  const levelLine = carbon.levels
    ? `Level: **${level ?? 'unknown'}** for this grid (low below ${formatIntensity(carbon.levels.lowBelowGPerKwh)}, high above ${formatIntensity(carbon.levels.highAboveGPerKwh)} ${UNIT}: ${escapeMarkdown(carbon.levels.basis)})`
    : undefined;
  const lines = [
    `**Grid carbon intensity: ${value} ${UNIT}**${stale}`,
    '',
    `Source: ${escapeMarkdown(carbon.source.label)} (${carbon.source.signal} signal, zone ${escapeMarkdown(carbon.source.zone)})`,
    `Period: ${formatUtc(carbon.timestampMs)}, ${Math.round(carbon.periodMs / 60_000)} min${carbon.trend ? `; next period ${TREND_WORDS[carbon.trend]}` : ''}`,
    ...(speedUp ? [`$(debug-continue) **Sped-up replay ×${speedUp}**: the recorded trace plays ${speedUp} times faster than real time (a demo, not the live grid); times are the replay's own clock. \`chase.carbon.replaySpeed\`: 1 plays it in real time.`] : []),
    ...(levelLine ? [levelLine] : []),
    ...(carbon.notes ?? []).map((n) => `$(info) ${escapeMarkdown(n)}`),
    ...(carbon.stale ? [`$(warning) Stale: ${escapeMarkdown(carbon.staleReason ?? 'the source has not answered for longer than its period')}`] : []),
    '',
    `Data: ${escapeMarkdown(carbon.source.attribution)}`,
    '',
    '[Open dashboard](command:chase.showDashboard)',
  ];
  return {
    text: `${carbon.stale ? '$(warning)' : LEVEL_ICON[level ?? 'medium']} ${value} ${UNIT}${arrow}${stale} · ${carbon.source.label}${speedUp ? ` ×${speedUp}` : ''}`,
    tooltipMarkdown: lines.join('\n\n').replace(/\n\n\n\n/g, '\n\n'),
    accessibilityLabel: `Carbon intensity ${value} grams CO2 per kilowatt-hour${stale}${level ? `, ${level} for this grid` : ''}${carbon.trend ? `, ${TREND_WORDS[carbon.trend]}` : ''}, ${carbon.source.label}${speedUp ? `, replayed ${speedUp} times faster than real time` : ''}`,
    severity: carbon.stale ? 'warning' : 'normal',
    ...(level ? { level } : {}),
    command: 'chase.showDashboard',
  };
}

/** One tooltip paragraph: which GPUs, whether simulated, and whether Chase may set their limits. */
export function gpuLines(r: GpusResult): string {
  if (r.gpus.length === 0) return `GPUs: none found. ${escapeMarkdown(r.notes.join(' '))}`;
  const names = [...new Set(r.gpus.map((g) => g.name))].join(', ');
  const simulated = r.gpus.some((g) => g.simulated) ? ' — **simulated** (no NVIDIA driver in use)' : '';
  const advise = r.gpus.find((g) => g.control === 'advise');
  const control = advise ? `$(eye) Advise mode: Chase shows the limits it would set but cannot apply them. ${escapeMarkdown(advise.reason ?? '')}` : 'Power-limit control: permitted.';
  return `GPUs: ${r.gpus.length} × ${escapeMarkdown(names)}${simulated}\n\n${control}`;
}

/** "Next hours (trace): 14:00 201 · 15:00 190 · …" */
export function nextHoursLine(next: NonNullable<StatusExtras['next']>): string {
  const pts = next.points.slice(0, 6).map((p) => `${formatUtcClock(p.timestampMs)} ${formatIntensity(p.intensityGPerKwh)}`);
  return `Next hours (${escapeMarkdown(next.model)}, ${UNIT}, UTC): ${pts.join(' · ')}`;
}

/** One line per live run: its limit now, carbon so far and saving. */
export function runLines(runs: RunSummary[]): string {
  return runs
    .map((r) => {
      const limit = r.currentLimitMw !== undefined ? formatWatts(r.currentLimitMw) : 'profiling';
      const saved = r.savedCarbonG !== undefined ? `, saved ${formatGrams(r.savedCarbonG)}` : '';
      const advise = r.advise ? ' (advise only)' : '';
      return `$(play) ${escapeMarkdown(r.command)}: ${limit}${advise}, ${formatCarbon(r.carbonG)}${saved}`;
    })
    .join('\n\n');
}
