/**
 * The dashboard page. Talks only to the extension (postMessage): posts `ready`, then renders what
 * it is sent. Colours come from VS Code's theme CSS variables, so light, dark and high-contrast
 * themes need nothing special. State survives reloads through the webview state API.
 */
import { Chart, LineController, LineElement, PointElement, LinearScale, Filler, Legend, Tooltip } from 'chart.js';
import type { DashboardState, ExtensionToWebview, WebviewToExtension } from '../agent/protocol/dashboard';
import type { GpusResult, IntensitySeriesResult, RunSummary } from '../agent/protocol/messages';
import { JOULES_PER_KWH, runOutcomeText } from '../agent/protocol/runOutcome';
import { HOUR_MS } from '../agent/protocol/units';

Chart.register(LineController, LineElement, PointElement, LinearScale, Filler, Legend, Tooltip);

interface VsCodeApi {
  postMessage(message: WebviewToExtension): void;
  getState(): DashboardState | undefined;
  setState(state: DashboardState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const MAX_GPU_SAMPLES = 720; // one hour at the extension's 5 s sampling
const MAX_RUN_POINTS = 2000;
type Line = Chart<'line', Array<{ x: number; y: number }>>;
let chart: Line | undefined;
let gpuChart: Line | undefined;
let runChart: Line | undefined;
const state: Required<Pick<DashboardState, 'gpuSamples' | 'runs'>> & DashboardState = { gpuSamples: [], runs: [], ...vscode.getState() };

function save(): void {
  vscode.setState(state);
}

/** Keeps the newest `max` entries of a saved series, then saves the state. */
function appendCapped<T>(list: T[], item: T, max: number): void {
  list.push(item);
  list.splice(0, Math.max(0, list.length - max));
  save();
}

/** A small line chart with theme colours; x is minutes relative to the first point. */
function lineChart(id: string, yTitle: string): Line {
  const fg = themeColor('--vscode-foreground', '#333');
  const grid = themeColor('--vscode-editorWidget-border', 'rgba(128,128,128,0.3)');
  return new Chart(document.getElementById(id) as HTMLCanvasElement, {
    type: 'line',
    data: { datasets: [] },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      parsing: false,
      scales: {
        x: { type: 'linear', title: { display: true, text: 'minutes', color: fg }, ticks: { color: fg }, grid: { color: grid } },
        y: { title: { display: true, text: yTitle, color: fg }, ticks: { color: fg }, grid: { color: grid }, beginAtZero: true },
      },
      plugins: { legend: { labels: { color: fg } } },
    },
  });
}

const PALETTE = ['--vscode-charts-blue', '--vscode-charts-green', '--vscode-charts-purple', '--vscode-charts-orange', '--vscode-charts-red', '--vscode-charts-yellow'];

function renderGpus(): void {
  const samples = state.gpuSamples;
  if (samples.length === 0) return;
  const t0 = samples[0].atMs;
  const latest = samples[samples.length - 1].gpus;
  const datasets = latest.gpus.flatMap((g, k) => {
    const color = themeColor(PALETTE[k % PALETTE.length], '#1a85ff');
    const points = (pick: (x: GpusResult['gpus'][number]) => number) =>
      samples.flatMap((s) => s.gpus.gpus.filter((x) => x.uuid === g.uuid).map((x) => ({ x: (s.atMs - t0) / 60_000, y: pick(x) / 1000 })));
    return [
      { label: `GPU ${g.index} limit`, data: points((x) => x.powerLimitMw), borderColor: color, backgroundColor: color, borderDash: [6, 4], pointRadius: 2, borderWidth: 2 },
      { label: `GPU ${g.index} power`, data: points((x) => x.powerMw), borderColor: color, backgroundColor: color, pointRadius: 2, borderWidth: 1 },
    ];
  });
  gpuChart ??= lineChart('gpu-chart', 'W');
  gpuChart.data.datasets = datasets;
  gpuChart.update('none');
  const sim = latest.gpus.some((g) => g.simulated) ? ' — SIMULATED GPUs' : '';
  const advise = latest.gpus.find((g) => g.control === 'advise');
  setText('gpu-status', `${latest.gpus.map((g) => `GPU ${g.index} ${g.name}: limit ${(g.powerLimitMw / 1000).toFixed(0)} W, drawing ${(g.powerMw / 1000).toFixed(0)} W`).join('; ')}${sim}${advise ? ` — advise mode: ${advise.reason ?? ''}` : ''}`);
  document.body.dataset.gpuRendered = 'true';
}

function renderRuns(): void {
  const byId = new Map<string, RunSummary>();
  for (const r of state.runs) byId.set(r.run.id, r.run);
  const body = document.querySelector('#runs-table tbody');
  body?.replaceChildren(
    ...[...byId.values()].reverse().map((r) => {
      const tr = document.createElement('tr');
      const cells = [r.command, r.state, (r.energyJ / JOULES_PER_KWH).toFixed(4), r.carbonG.toFixed(1), r.savedCarbonG?.toFixed(1) ?? '–', r.slowdownPct?.toFixed(1) ?? '–', r.currentLimitMw ? (r.currentLimitMw / 1000).toFixed(0) : '–'];
      for (const c of cells) {
        const td = document.createElement('td');
        td.textContent = c;
        tr.appendChild(td);
      }
      return tr;
    }),
  );
  const last = state.runs[state.runs.length - 1]?.run;
  if (!last) return;
  const points = state.runs.filter((r) => r.run.id === last.id);
  const t0 = points[0].atMs;
  const x = (atMs: number) => (atMs - t0) / 60_000;
  const actualColor = themeColor('--vscode-charts-green', '#388a34');
  const baseColor = themeColor('--vscode-charts-red', '#e51400');
  runChart ??= lineChart('run-chart', 'gCO₂');
  runChart.data.datasets = [
    { label: 'this run', data: points.map((p) => ({ x: x(p.atMs), y: p.run.carbonG })), borderColor: actualColor, backgroundColor: actualColor, pointRadius: 0, borderWidth: 2 },
    { label: 'at max power (baseline)', data: points.filter((p) => p.run.baselineCarbonG !== undefined).map((p) => ({ x: x(p.atMs), y: p.run.baselineCarbonG! })), borderColor: baseColor, backgroundColor: baseColor, pointRadius: 0, borderWidth: 2, borderDash: [6, 4] },
  ];
  runChart.update('none');
  setText('run-status', `${last.command}: ${last.state}, ${runOutcomeText(last)}`);
}

function themeColor(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

/** A theme colour (#rgb, #rrggbb or rgb()) with transparency, for the band fill. */
function withAlpha(color: string, alpha: number): string {
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color.trim());
  if (hex) {
    const h = hex[1].length === 3 ? [...hex[1]].map((c) => c + c).join('') : hex[1];
    return `rgba(${parseInt(h.slice(0, 2), 16)}, ${parseInt(h.slice(2, 4), 16)}, ${parseInt(h.slice(4, 6), 16)}, ${alpha})`;
  }
  return color.replace(/^rgb\((.*)\)$/, `rgba($1, ${alpha})`);
}

function hoursFromNow(ms: number, nowMs: number): number {
  return (ms - nowMs) / HOUR_MS;
}

function formatUtc(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

function render(series: IntensitySeriesResult): void {
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
  if (chart) {
    // Update in place: no re-creation, no flicker.
    chart.data.datasets[0].data = actual;
    chart.data.datasets[1].data = forecast;
    chart.data.datasets[1].label = forecastLabel;
    chart.data.datasets[2].data = high;
    chart.data.datasets[3].data = low;
    chart.update('none');
  } else {
    const canvas = document.getElementById('intensity-chart') as HTMLCanvasElement;
    chart = new Chart(canvas, {
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
          y: { title: { display: true, text: 'gCO₂/kWh', color: fg }, ticks: { color: fg }, grid: { color: grid }, beginAtZero: true },
        },
        plugins: { legend: { labels: { color: fg, filter: (item, data) => item.text !== 'band low' && (data.datasets[item.datasetIndex ?? 0]?.data.length ?? 0) > 0 } } },
      },
    });
  }
  const last = series.actual[series.actual.length - 1];
  setText('status', last ? `${series.source.label}: ${last.intensityGPerKwh.toFixed(0)} gCO₂/kWh at ${formatUtc(last.timestampMs)} UTC` : series.source.label);
  setText('caption', `${series.source.label} — ${series.source.signal} signal, zone ${series.source.zone}. Solid: actual; dashed: ${forecastLabel.toLowerCase()}.`);
  setText('attribution', `Data: ${series.source.attribution}`);
  renderTable(series);
  document.body.dataset.chartRendered = 'true';
}

function renderTable(series: IntensitySeriesResult): void {
  const body = document.querySelector('#intensity-table tbody');
  if (!body) return;
  const rows = [
    ...series.actual.map((p) => [formatUtc(p.timestampMs), p.intensityGPerKwh.toFixed(1), 'actual']),
    ...series.forecast.map((p) => [formatUtc(p.timestampMs), p.intensityGPerKwh.toFixed(1), series.forecastModel === 'trace' ? 'trace' : 'forecast']),
  ];
  body.replaceChildren(
    ...rows.map((cells) => {
      const tr = document.createElement('tr');
      for (const c of cells) {
        const td = document.createElement('td');
        td.textContent = c;
        tr.appendChild(td);
      }
      return tr;
    }),
  );
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
      save();
      render(message.series);
      break;
    case 'gpus':
      appendCapped(state.gpuSamples, { atMs: message.atMs, gpus: message.gpus }, MAX_GPU_SAMPLES);
      renderGpus();
      break;
    case 'run':
      appendCapped(state.runs, { atMs: message.atMs, run: message.run }, MAX_RUN_POINTS);
      renderRuns();
      break;
    case 'status':
      if (message.status.state === 'error') setText('status', `No carbon data: ${message.status.message}`);
      break;
    case 'error':
      setText('status', `Error: ${message.message}`);
      break;
  }
});

document.getElementById('refresh')?.addEventListener('click', () => vscode.postMessage({ type: 'refresh' }));

function renderAll(): void {
  if (state.series) render(state.series);
  renderGpus();
  renderRuns();
}

// VS Code swaps the body's theme class (vscode-light / vscode-dark / vscode-high-contrast) and its CSS
// variables in place; chart.js keeps the colours it was given, so the charts are rebuilt.
let themeClass = document.body.className;
new MutationObserver(() => {
  if (document.body.className === themeClass) return;
  themeClass = document.body.className;
  for (const c of [chart, gpuChart, runChart]) c?.destroy();
  chart = gpuChart = runChart = undefined;
  renderAll();
  document.body.dataset.theme = themeClass.match(/vscode-(light|dark|high-contrast(-light)?)/)?.[1] ?? '';
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });

renderAll();
vscode.postMessage({ type: 'ready' });
