/**
 * The dashboard page. Talks only to the extension (postMessage): posts `ready`, then renders what
 * it is sent. Colours come from VS Code's theme CSS variables, so light, dark and high-contrast
 * themes need nothing special. State survives reloads through the webview state API.
 *
 * The data behind the live charts (GPU power, the run) lives in webview/model (no DOM, unit-tested):
 * each message appends to the arrays chart.js draws; the charts only add or swap a dataset when a
 * GPU or a run appears. This file draws: charts, their time axes and phase bands, texts and tables.
 */
import { Chart, LineController, LineElement, PointElement, LinearScale, Filler, Legend, Tooltip, type ChartDataset, type Plugin } from 'chart.js';
import type { ExtensionToWebview, WebviewToExtension } from '../agent/protocol/dashboard';
import type { GpusResult, IntensitySeriesResult, RunSummary } from '../agent/protocol/messages';
import { profileReuseText, projectionOutcomeText, projectionText, runOutcomeText } from '../agent/protocol/runOutcome';
import { joulesToKwh, milliwattsToWatts } from '../agent/protocol/accounting';
import { formatAmount, formatIntensity, formatUtc, formatUtcDateTime, formatWatts, INTENSITY_UNIT } from '../agent/protocol/format';
import { HOUR_MS } from '../agent/protocol/units';
import { MAX_GPU_SAMPLES, restoreState, upsertRun, type DashboardState } from './model/dashboardState';
import { GpuSeries, type GpuLine, type XY } from './model/gpuSeries';
import { addReading, controlledLimits, followRun, isEnded, runTimeline, trackPhase, type PhaseBand, type RunPhase } from './model/runSeries';
import { formatElapsed, timeAxis, type TimeAxis } from './model/timeAxis';
import { jobRows } from './model/jobRows';

Chart.register(LineController, LineElement, PointElement, LinearScale, Filler, Legend, Tooltip);

interface VsCodeApi {
  postMessage(message: WebviewToExtension): void;
  getState(): unknown;
  setState(state: DashboardState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const state = restoreState(vscode.getState());
const gpuSeries = new GpuSeries(MAX_GPU_SAMPLES);
for (const s of state.gpuSamples) gpuSeries.add(s);

/** The state is written at most this often: it holds an hour of GPU samples, and messages come every few seconds. */
const SAVE_EVERY_MS = 1000;
let saveTimer: ReturnType<typeof setTimeout> | undefined;
function saveSoon(): void {
  saveTimer ??= setTimeout(() => {
    saveTimer = undefined;
    vscode.setState(state);
  }, SAVE_EVERY_MS);
}

type Line = Chart<'line', XY[]>;

/** A chart over elapsed time, with its current axis and the phase bands it marks. */
interface LiveChart {
  chart: Line;
  axis: TimeAxis;
}

let intensityChart: Chart<'line', XY[]> | undefined;
let gpuChart: LiveChart | undefined;
let runLimitChart: LiveChart | undefined;
let runCarbonChart: LiveChart | undefined;

function themeColor(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

/** A theme colour (#rgb, #rrggbb or rgb()) with transparency, for fills. */
function withAlpha(color: string, alpha: number): string {
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color.trim());
  if (hex) {
    const h = hex[1].length === 3 ? [...hex[1]].map((c) => c + c).join('') : hex[1];
    return `rgba(${parseInt(h.slice(0, 2), 16)}, ${parseInt(h.slice(2, 4), 16)}, ${parseInt(h.slice(4, 6), 16)}, ${alpha})`;
  }
  return color.replace(/^rgb\((.*)\)$/, `rgba($1, ${alpha})`);
}

const PALETTE = ['--vscode-charts-blue', '--vscode-charts-green', '--vscode-charts-purple', '--vscode-charts-orange', '--vscode-charts-red', '--vscode-charts-yellow'];
const PHASE_COLOUR: Record<RunPhase, [string, string]> = { profiling: ['--vscode-charts-yellow', '#bf8803'], controlling: ['--vscode-charts-blue', '#1a85ff'] };

/** Shades the phases (profiling, controlling) behind the lines, each labelled where it is wide enough. */
function phaseBands(bands: () => PhaseBand[]): Plugin<'line'> {
  const fg = themeColor('--vscode-descriptionForeground', '#717171');
  const fill = Object.fromEntries(Object.entries(PHASE_COLOUR).map(([p, [name, fallback]]) => [p, withAlpha(themeColor(name, fallback), 0.14)])) as Record<RunPhase, string>;
  return {
    id: 'phaseBands',
    beforeDatasetsDraw(chart) {
      const { ctx, chartArea: area, scales } = chart;
      const x = scales.x;
      ctx.save();
      ctx.font = `11px ${getComputedStyle(document.body).fontFamily}`;
      ctx.textBaseline = 'top';
      for (const b of bands()) {
        const from = Math.max(area.left, x.getPixelForValue(b.fromMs));
        const to = Math.min(area.right, x.getPixelForValue(b.toMs));
        if (to < from) continue;
        ctx.fillStyle = fill[b.phase];
        ctx.fillRect(from, area.top, Math.max(2, to - from), area.bottom - area.top);
        if (to - from > ctx.measureText(b.phase).width + 8) {
          ctx.fillStyle = fg;
          ctx.fillText(b.phase, from + 4, area.top + 4);
        }
      }
      ctx.restore();
    },
  };
}

const Y_AXIS_WIDTH_PX = 64;

/** A line chart over elapsed time (webview/model/timeAxis.ts picks units and ticks); `y2Title` adds a right-hand axis. */
function liveChart(id: string, yTitle: string, bands: () => PhaseBand[], y2Title?: string): LiveChart {
  const fg = themeColor('--vscode-foreground', '#333');
  const grid = themeColor('--vscode-editorWidget-border', 'rgba(128,128,128,0.3)');
  const live: LiveChart = { axis: timeAxis(0, 0, 0, ''), chart: undefined as unknown as Line };
  // grace: a line at its maximum does not run along the chart's top edge. Fixed widths (and the same
  // room on the right without a right-hand axis): stacked live charts put the same time at the same x.
  const yAxis = (title: string) => ({
    type: 'linear' as const,
    title: { display: true, text: title, color: fg },
    ticks: { color: fg },
    grid: { color: grid },
    beginAtZero: true,
    grace: '5%',
    afterFit: (scale: { width: number }) => {
      scale.width = Y_AXIS_WIDTH_PX;
    },
  });
  live.chart = new Chart(document.getElementById(id) as HTMLCanvasElement, {
    type: 'line',
    data: { datasets: [] },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      layout: { padding: { right: y2Title ? 0 : Y_AXIS_WIDTH_PX } },
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      scales: {
        x: {
          type: 'linear',
          title: { display: true, text: '', color: fg },
          grid: { color: grid },
          // The ticks are the axis's own (round steps from the origin), not chart.js's guess.
          afterBuildTicks: (scale) => {
            scale.ticks = live.axis.ticks.map((t) => ({ value: t.valueMs }));
          },
          ticks: { color: fg, autoSkip: false, maxRotation: 0, callback: (v) => live.axis.ticks.find((t) => t.valueMs === v)?.label ?? '' },
        },
        y: yAxis(yTitle),
        ...(y2Title ? { y2: { ...yAxis(y2Title), position: 'right' as const, grid: { drawOnChartArea: false } } } : {}),
      },
      plugins: {
        legend: { labels: { color: fg } },
        tooltip: { callbacks: { title: (items) => (items.length > 0 ? `${formatElapsed((items[0].parsed.x ?? live.axis.originMs) - live.axis.originMs)} (${live.axis.title})` : '') } },
      },
    },
    plugins: [phaseBands(bands)],
  });
  return live;
}

function setAxis(live: LiveChart, axis: TimeAxis): void {
  live.axis = axis;
  const x = live.chart.options.scales!.x!;
  x.min = axis.minMs;
  x.max = axis.maxMs;
  (x as { title: { text: string } }).title.text = axis.title;
  // What the axis reads, on the canvas (the UI test checks it; the chart itself is pixels)
  live.chart.canvas.dataset.timeAxis = `${axis.title} (${axis.ticks.map((t) => t.label).join(', ')})`;
}

/** A dot on a line's latest point only: the value now, and a first sample is visible before there is a line. */
const lastPointOnly = { pointRadius: (c: { dataIndex: number; dataset: { data: unknown[] } }) => (c.dataIndex === c.dataset.data.length - 1 ? 3 : 0) };

// ---- GPU power: limit and draw per GPU ----------------------------------------------------------

function gpuDataset(line: GpuLine): ChartDataset<'line', XY[]> {
  const color = themeColor(PALETTE[line.gpuIndex % PALETTE.length], '#1a85ff');
  const limit = line.kind === 'limit';
  // The limit holds between samples (a step); the draw is measured at each sample.
  return { label: line.label, data: line.points, borderColor: color, backgroundColor: color, borderDash: limit ? [6, 4] : [], borderWidth: limit ? 2 : 1, ...lastPointOnly, stepped: limit ? 'after' : false };
}

function drawGpus(latest: GpusResult | undefined): void {
  if (gpuSeries.originMs === undefined || !latest) return;
  gpuChart ??= liveChart('gpu-chart', 'W', () => state.phases);
  const datasets = gpuChart.chart.data.datasets;
  const shown = new Set(datasets.map((d) => d.data));
  // Only the lines of GPUs that appeared or went are added or removed; the others grow in place.
  for (let i = datasets.length - 1; i >= 0; i--) if (!gpuSeries.lines.some((l) => l.points === datasets[i].data)) datasets.splice(i, 1);
  for (const l of gpuSeries.lines) if (!shown.has(l.points)) datasets.push(gpuDataset(l));
  setAxis(gpuChart, timeAxis(gpuSeries.originMs, gpuSeries.firstMs!, gpuSeries.lastMs!, 'since the first sample'));
  gpuChart.chart.update('none');
  const sim = latest.gpus.some((g) => g.simulated) ? ' — SIMULATED GPUs' : '';
  const advise = latest.gpus.find((g) => g.control === 'advise');
  setText('gpu-status', `${latest.gpus.map((g) => `GPU ${g.index} ${g.name}: limit ${formatWatts(g.powerLimitMw)}, drawing ${formatWatts(g.powerMw)}`).join('; ')}${sim}${advise ? ` — advise mode: ${advise.reason ?? ''}` : ''}`);
  document.body.dataset.gpuRendered = 'true';
}

// ---- The run: intensity and its power limit on one axis; its carbon against max power -----------

const runBands = () => state.phases.filter((b) => b.runId === state.run?.runId);

/** Points the run charts' datasets at the run's arrays (a new run swaps them; an update only redraws). */
function attachRun(): void {
  const run = state.run;
  if (!run) return;
  const orange = themeColor('--vscode-charts-orange', '#d18616');
  const blue = themeColor('--vscode-charts-blue', '#1a85ff');
  const green = themeColor('--vscode-charts-green', '#388a34');
  const red = themeColor('--vscode-charts-red', '#e51400');
  runLimitChart ??= liveChart('run-limit-chart', INTENSITY_UNIT, runBands, 'power limit, W');
  runLimitChart.chart.data.datasets = [
    { label: 'grid intensity (gCO₂/kWh)', data: run.intensityGPerKwh, yAxisID: 'y', borderColor: orange, backgroundColor: orange, borderWidth: 2, ...lastPointOnly, stepped: 'after' },
    { label: 'power limit (W)', data: run.limitW, yAxisID: 'y2', borderColor: blue, backgroundColor: blue, borderWidth: 2, borderDash: [6, 4], ...lastPointOnly, stepped: 'after' },
  ];
  runCarbonChart ??= liveChart('run-chart', 'gCO₂ so far', runBands);
  runCarbonChart.chart.data.datasets = [
    { label: 'this run', data: run.carbonG, borderColor: green, backgroundColor: green, borderWidth: 2, ...lastPointOnly },
    // Filled down to "this run": the area is the carbon saved so far.
    { label: 'same work at max power', data: run.baselineCarbonG, borderColor: red, backgroundColor: withAlpha(green, 0.18), borderWidth: 2, borderDash: [6, 4], ...lastPointOnly, fill: '-1' },
  ];
}

function drawRun(): void {
  const run = state.run;
  if (!run) return;
  if (!runLimitChart || !runCarbonChart) attachRun();
  const axis = timeAxis(run.originMs, run.originMs, run.lastMs, 'since the run started');
  for (const live of [runLimitChart!, runCarbonChart!]) {
    setAxis(live, axis);
    live.chart.update('none');
  }
  const last = state.runTable.find((r) => r.id === run.runId);
  if (last) {
    const reuse = profileReuseText(last);
    setText('run-status', `${last.command}: ${last.state}${reuse ? ` (${reuse})` : ''} — ${runOutcomeText(last)}`);
    // after profiling: what the run will cost; at its end: how far off that was
    const projection = last.projection ? projectionText(last.projection) : isEnded(last.state) ? projectionOutcomeText(last) : undefined;
    const p = document.getElementById('run-projection');
    if (p) {
      p.hidden = projection === undefined;
      p.textContent = projection ? projection.charAt(0).toUpperCase() + projection.slice(1) : '';
      if (last.projection) p.dataset.projectedCarbonG = String(last.projection.carbonG);
    }
  }
  const limitCanvas = document.getElementById('run-limit-chart');
  if (limitCanvas) limitCanvas.dataset.controlledLimits = controlledLimits(run, state.phases).join(',');
  renderJob(last?.distributed, last?.budgetPct ?? 0);
  renderRunTimeline();
  document.body.dataset.runRendered = 'true';
}

/**
 * The run chart as a table (its intensity and limit changes): filled only while its <details> is
 * open, and then only with the changes after the last row shown (a change, once shown, stays as it was).
 */
let timelineShownToMs: number | undefined;
function renderRunTimeline(): void {
  const run = state.run;
  const body = document.querySelector('#run-timeline tbody');
  if (!run || !body || !(document.getElementById('run-table-view') as HTMLDetailsElement | null)?.open) return;
  if (timelineShownToMs === undefined) body.replaceChildren();
  const rows = runTimeline(run, state.phases).filter((r) => timelineShownToMs === undefined || r.atMs > timelineShownToMs);
  body.append(...rows.map((r) => tableRow([formatElapsed(r.atMs - run.originMs), r.intensityGPerKwh?.toFixed(0) ?? '–', r.limitW?.toFixed(0) ?? '–', r.phase ?? '–'])));
  if (rows.length > 0) timelineShownToMs = rows[rows.length - 1].atMs;
}
document.getElementById('run-table-view')?.addEventListener('toggle', () => renderRunTimeline());

/** The followed run's distributed job, when it is one: its ranks and nodes, each node's energy, the decision sequence. */
function renderJob(d: RunSummary['distributed'], budgetPct: number): void {
  const section = document.getElementById('job');
  if (!section) return;
  section.hidden = d === undefined;
  if (!d) return;
  const rows = jobRows(d, budgetPct);
  setText('job-headline', rows.lines.join(' — '));
  document.querySelector('#job-nodes tbody')?.replaceChildren(...rows.nodes.map(tableRow));
  (document.getElementById('job-nodes') as HTMLElement | null)?.toggleAttribute('hidden', rows.nodes.length === 0);
  document.querySelector('#job-decisions tbody')?.replaceChildren(...rows.decisions.map(tableRow));
}

function renderRunsTable(): void {
  document.querySelector('#runs-table tbody')?.replaceChildren(
    ...[...state.runTable].reverse().map((r) =>
      tableRow([r.command, r.state, formatAmount(joulesToKwh(r.energyJ)), formatAmount(r.carbonG), r.savedCarbonG !== undefined ? formatAmount(r.savedCarbonG) : '–', r.slowdownPct?.toFixed(1) ?? '–', r.currentLimitMw ? milliwattsToWatts(r.currentLimitMw).toFixed(0) : '–']),
    ),
  );
}

// ---- Grid intensity: the last 48 hours and the next 24 ------------------------------------------

function hoursFromNow(ms: number, nowMs: number): number {
  return (ms - nowMs) / HOUR_MS;
}

function renderSeries(series: IntensitySeriesResult): void {
  const now = series.nowMs;
  const actual = series.actual.map((p) => ({ x: hoursFromNow(p.timestampMs, now), y: p.intensityGPerKwh }));
  const forecast = series.forecast.map((p) => ({ x: hoursFromNow(p.timestampMs, now), y: p.intensityGPerKwh }));
  // Join the two lines: the forecast starts from the last actual point.
  if (actual.length > 0) forecast.unshift(actual[actual.length - 1]);
  const fg = themeColor('--vscode-foreground', '#333');
  const grid = themeColor('--vscode-editorWidget-border', 'rgba(128,128,128,0.3)');
  const actualColor = themeColor('--vscode-charts-blue', '#1a85ff');
  const forecastColor = themeColor('--vscode-charts-orange', '#d18616');
  const forecastLabel = series.forecastModel === 'trace' ? 'Next 24 h (recorded trace)' : `Forecast (${series.forecastModel})`;

  // Uncertainty band (when the forecaster gives one): the area between high and low.
  const withBand = series.forecast.filter((p) => p.lowGPerKwh !== undefined && p.highGPerKwh !== undefined);
  const high = withBand.map((p) => ({ x: hoursFromNow(p.timestampMs, now), y: p.highGPerKwh! }));
  const low = withBand.map((p) => ({ x: hoursFromNow(p.timestampMs, now), y: p.lowGPerKwh! }));
  const bandColor = withAlpha(forecastColor, 0.18);
  const datasets = [
    { label: 'Actual', data: actual, borderColor: actualColor, backgroundColor: actualColor, pointRadius: 0, borderWidth: 2, tension: 0.2 },
    { label: forecastLabel, data: forecast, borderColor: forecastColor, backgroundColor: forecastColor, pointRadius: 0, borderWidth: 2, borderDash: [6, 4], tension: 0.2 },
    { label: 'Forecast band (10–90 %)', data: high, borderColor: 'transparent', backgroundColor: bandColor, pointRadius: 0, fill: '+1', tension: 0.2 },
    { label: 'band low', data: low, borderColor: 'transparent', backgroundColor: bandColor, pointRadius: 0, fill: false, tension: 0.2 },
  ];
  if (intensityChart) {
    // Update in place: no re-creation, no flicker.
    intensityChart.data.datasets[0].data = actual;
    intensityChart.data.datasets[1].data = forecast;
    intensityChart.data.datasets[1].label = forecastLabel;
    intensityChart.data.datasets[2].data = high;
    intensityChart.data.datasets[3].data = low;
    intensityChart.update('none');
  } else {
    const canvas = document.getElementById('intensity-chart') as HTMLCanvasElement;
    intensityChart = new Chart(canvas, {
      type: 'line',
      data: { datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: false,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        scales: {
          x: {
            type: 'linear',
            title: { display: true, text: 'hours from now', color: fg },
            ticks: { color: fg, stepSize: 6, callback: (v) => (Number(v) === 0 ? 'now' : `${Number(v) > 0 ? '+' : ''}${v} h`) },
            grid: { color: grid },
          },
          y: { title: { display: true, text: INTENSITY_UNIT, color: fg }, ticks: { color: fg }, grid: { color: grid }, beginAtZero: true },
        },
        plugins: { legend: { labels: { color: fg, filter: (item, data) => item.text !== 'band low' && (data.datasets[item.datasetIndex ?? 0]?.data.length ?? 0) > 0 } } },
      },
    });
  }
  const last = series.actual[series.actual.length - 1];
  setText('status', last ? `${series.source.label}: ${formatIntensity(last.intensityGPerKwh)} ${INTENSITY_UNIT} at ${formatUtc(last.timestampMs)}` : series.source.label);
  setText('caption', `${series.source.label} — ${series.source.signal} signal, zone ${series.source.zone}. Solid: actual; dashed: ${forecastLabel.toLowerCase()}.`);
  setText('attribution', `Data: ${series.source.attribution}`);
  renderIntensityTable(series);
  document.body.dataset.chartRendered = 'true';
}

function renderIntensityTable(series: IntensitySeriesResult): void {
  document.querySelector('#intensity-table tbody')?.replaceChildren(
    ...[
      ...series.actual.map((p) => [formatUtcDateTime(p.timestampMs), p.intensityGPerKwh.toFixed(1), 'actual']),
      ...series.forecast.map((p) => [formatUtcDateTime(p.timestampMs), p.intensityGPerKwh.toFixed(1), series.forecastModel === 'trace' ? 'trace' : 'forecast']),
    ].map(tableRow),
  );
}

function tableRow(cells: string[]): HTMLTableRowElement {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    td.textContent = c;
    tr.appendChild(td);
  }
  return tr;
}

function setText(id: string, text: string): void {
  const el = document.getElementById(id);
  if (el) el.textContent = text;
}

window.addEventListener('message', (event: MessageEvent<ExtensionToWebview>) => {
  const message = event.data;
  switch (message.type) {
    case 'series':
      state.series = message.series;
      renderSeries(message.series);
      break;
    case 'gpus': {
      const sample = { atMs: message.atMs, gpus: message.gpus };
      state.gpuSamples.push(sample);
      if (state.gpuSamples.length > MAX_GPU_SAMPLES) state.gpuSamples.shift();
      gpuSeries.add(sample);
      drawGpus(message.gpus);
      break;
    }
    case 'run': {
      upsertRun(state.runTable, message.run);
      trackPhase(state.phases, message.atMs, message.run);
      const shown = state.run;
      state.run = followRun(shown, message.atMs, message.run, state.reading);
      if (state.run !== shown) {
        attachRun();
        timelineShownToMs = undefined;
      }
      drawRun();
      renderRunsTable();
      break;
    }
    case 'status':
      if (message.status.state === 'error') {
        setText('status', `No carbon data: ${message.status.message}`);
        break;
      }
      state.reading = { atMs: message.atMs, intensityGPerKwh: message.status.intensityGPerKwh };
      if (state.run && addReading(state.run, message.atMs, message.status.intensityGPerKwh)) drawRun();
      break;
    case 'advice': {
      // Said, never acted on: the task asked the user, who chose when it starts.
      const p = document.getElementById('start-advice');
      if (p) {
        p.hidden = false;
        p.textContent = `Start-time advice for ${message.command}: ${message.text}.`;
      }
      break;
    }
    case 'error':
      setText('status', `Error: ${message.message}`);
      break;
  }
  saveSoon();
});

document.getElementById('refresh')?.addEventListener('click', () => vscode.postMessage({ type: 'refresh' }));

function renderAll(): void {
  if (state.series) renderSeries(state.series);
  drawGpus(state.gpuSamples[state.gpuSamples.length - 1]?.gpus);
  attachRun();
  drawRun();
  renderRunsTable();
}

// VS Code swaps the body's theme class (vscode-light / vscode-dark / vscode-high-contrast) and its CSS
// variables in place; chart.js keeps the colours it was given, so the charts are rebuilt.
let themeClass = document.body.className;
new MutationObserver(() => {
  if (document.body.className === themeClass) return;
  themeClass = document.body.className;
  for (const c of [intensityChart, gpuChart?.chart, runLimitChart?.chart, runCarbonChart?.chart]) c?.destroy();
  intensityChart = undefined;
  gpuChart = runLimitChart = runCarbonChart = undefined;
  renderAll();
  document.body.dataset.theme = themeClass.match(/vscode-(light|dark|high-contrast(-light)?)/)?.[1] ?? '';
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });

renderAll();
vscode.postMessage({ type: 'ready' });
