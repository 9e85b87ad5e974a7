/**
 * The dashboard panel: one webview (createOrShow / revive), scripts only from dist/webview with a
 * nonce under a strict CSP, and a `ready` handshake — nothing is posted before the page says it
 * listens (also after a reload). Data comes from the agent; the page keeps it with setState.
 */
import * as vscode from 'vscode';
import type { ExtensionToWebview, WebviewToExtension } from '../agent/protocol/dashboard';
import { Methods } from '../agent/protocol/messages';
import type { AgentClient } from './agentClient';
import { readingKey, type ClientState } from './statusModel';

export const DASHBOARD_VIEW_TYPE = 'chase.dashboard';
const PAST_HOURS = 48;
const FUTURE_HOURS = 24;
/** GPU limits and power are sampled this often while the panel is visible. */
const GPU_SAMPLE_MS = 5_000;

export class DashboardPanel implements vscode.Disposable {
  private static current: DashboardPanel | undefined;
  private ready = false;
  /** The reading (source and period) the last series was sent for. */
  private seriesKey: string | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  static createOrShow(extensionUri: vscode.Uri, agent: AgentClient, log: vscode.LogOutputChannel): DashboardPanel {
    if (DashboardPanel.current) {
      DashboardPanel.current.panel.reveal(vscode.ViewColumn.Active);
      return DashboardPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, 'Chase: Carbon', vscode.ViewColumn.Active, webviewOptions(extensionUri));
    DashboardPanel.current = new DashboardPanel(panel, extensionUri, agent, log);
    return DashboardPanel.current;
  }

  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, agent: AgentClient, log: vscode.LogOutputChannel): void {
    panel.webview.options = webviewOptions(extensionUri);
    DashboardPanel.current?.dispose();
    DashboardPanel.current = new DashboardPanel(panel, extensionUri, agent, log);
  }

  /** The last start-time advice a task gave: shown now if the dashboard is open, else when it opens. */
  private static lastAdvice: Extract<ExtensionToWebview, { type: 'advice' }> | undefined;

  static showAdvice(advice: { command: string; text: string }): void {
    DashboardPanel.lastAdvice = { type: 'advice', atMs: Date.now(), ...advice };
    DashboardPanel.current?.post(DashboardPanel.lastAdvice);
  }

  static get isOpen(): boolean {
    return DashboardPanel.current !== undefined;
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly agent: AgentClient,
    private readonly log: vscode.LogOutputChannel,
  ) {
    panel.webview.html = dashboardHtml(panel.webview, extensionUri);
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((m: WebviewToExtension) => this.onMessage(m)),
      agent.onDidChangeState((s) => this.onState(s)),
      agent.onRunUpdated((run) => this.post({ type: 'run', atMs: Date.now(), run })),
      panel.onDidChangeViewState(() => this.updateSampling()),
    );
  }

  private onMessage(message: WebviewToExtension): void {
    switch (message.type) {
      case 'ready': {
        this.ready = true;
        const state = this.agent.currentState;
        if (state.kind === 'running') this.post({ type: 'status', atMs: Date.now(), status: state.carbon });
        if (DashboardPanel.lastAdvice) this.post(DashboardPanel.lastAdvice);
        void this.sendSeries();
        void this.sendLive();
        this.updateSampling();
        break;
      }
      case 'refresh':
        void this.sendSeries();
        break;
    }
  }

  private onState(state: ClientState): void {
    if (!this.ready) return;
    if (state.kind === 'running') {
      this.post({ type: 'status', atMs: Date.now(), status: state.carbon });
      // A new period (or another source): the series moved on. Other state changes (GPUs, staleness)
      // leave it as it is, so they cost no request.
      const key = readingKey(state.carbon);
      if (key !== undefined && key !== this.seriesKey) {
        this.seriesKey = key;
        void this.sendSeries();
      }
    }
  }

  private async sendSeries(): Promise<void> {
    try {
      const series = await this.agent.request(Methods.intensitySeries, { pastHours: PAST_HOURS, futureHours: FUTURE_HOURS });
      this.post({ type: 'series', series });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.log.warn(`dashboard: ${message}`);
      this.post({ type: 'error', message });
    }
  }

  private sampler: NodeJS.Timeout | undefined;

  /** Samples GPUs only while the panel is visible: no work for a hidden dashboard. */
  private updateSampling(): void {
    const want = this.ready && this.panel.visible;
    if (want && !this.sampler) this.sampler = setInterval(() => void this.sendGpus(), GPU_SAMPLE_MS);
    if (!want && this.sampler) {
      clearInterval(this.sampler);
      this.sampler = undefined;
    }
  }

  private async sendGpus(): Promise<void> {
    try {
      this.post({ type: 'gpus', atMs: Date.now(), gpus: await this.agent.request(Methods.gpus) });
    } catch (e) {
      this.log.debug(`dashboard: no GPU sample: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private async sendLive(): Promise<void> {
    await this.sendGpus();
    try {
      for (const run of await this.agent.request(Methods.runs)) this.post({ type: 'run', atMs: Date.now(), run });
    } catch (e) {
      this.log.debug(`dashboard: no runs: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private post(message: ExtensionToWebview): void {
    if (this.ready) void this.panel.webview.postMessage(message);
  }

  dispose(): void {
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = undefined;
    if (DashboardPanel.current === this) DashboardPanel.current = undefined;
    this.panel.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions & vscode.WebviewPanelOptions {
  return { enableScripts: true, retainContextWhenHidden: false, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')] };
}

function makeNonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < 32; i++) s += chars.charAt(Math.floor(Math.random() * chars.length));
  return s;
}

function dashboardHtml(webview: vscode.Webview, extensionUri: vscode.Uri): string {
  const nonce = makeNonce();
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', 'dashboard.js'));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', 'dashboard.css'));
  const csp = [`default-src 'none'`, `img-src ${webview.cspSource} data:`, `style-src ${webview.cspSource}`, `script-src 'nonce-${nonce}'`, `font-src ${webview.cspSource}`].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style.toString()}">
<title>Chase: Carbon</title>
</head>
<body>
<header>
  <h1>Grid carbon intensity</h1>
  <p id="status" role="status" aria-live="polite">Waiting for the agent…</p>
  <button id="refresh" type="button">Refresh</button>
</header>
<figure>
  <div class="chart-box"><canvas id="intensity-chart" role="img" aria-label="Carbon intensity, last 48 hours and next 24 hours"></canvas></div>
  <figcaption id="caption"></figcaption>
</figure>
<section aria-labelledby="gpu-heading">
  <h2 id="gpu-heading">GPU power</h2>
  <p id="gpu-status" class="note">No GPU sample yet.</p>
  <div class="chart-box small"><canvas id="gpu-chart" role="img" aria-label="Power limit (dashed) and power draw (solid) per GPU, watts, since the dashboard's first sample; shaded: the runs' phases, profiling and controlling"></canvas></div>
</section>
<section aria-labelledby="run-heading">
  <h2 id="run-heading">Runs</h2>
  <p id="run-status" class="note">No run yet: start a task of type "chase" (Tasks: Run Task).</p>
  <p id="run-projection" class="note" hidden></p>
  <p id="start-advice" class="note" hidden></p>
  <h3>Grid intensity and the run's power limit</h3>
  <div class="chart-box small"><canvas id="run-limit-chart" role="img" aria-label="Grid carbon intensity, grams per kilowatt-hour, and the run's power limit, watts, since the run started; shaded: its phases, profiling and controlling"></canvas></div>
  <h3>Carbon so far: the run against the same work at max power</h3>
  <div class="chart-box small"><canvas id="run-chart" role="img" aria-label="Cumulative carbon of the run and of the same work at its maximum power limit, grams; the area between them is the carbon saved so far"></canvas></div>
  <details id="run-table-view">
    <summary>Table view of the run</summary>
    <table id="run-timeline"><thead><tr><th scope="col">Since start</th><th scope="col">gCO₂/kWh</th><th scope="col">Limit W</th><th scope="col">Phase</th></tr></thead><tbody></tbody></table>
  </details>
  <div id="job" hidden>
    <h3>Distributed job</h3>
    <p id="job-headline" class="note"></p>
    <table id="job-nodes"><thead><tr><th scope="col">Node</th><th scope="col">Ranks</th><th scope="col">kWh</th><th scope="col">gCO₂</th><th scope="col">Limits</th></tr></thead><tbody></tbody></table>
    <table id="job-decisions"><thead><tr><th scope="col">Decision</th><th scope="col">Step</th><th scope="col">Limit W</th><th scope="col">For</th><th scope="col">Here</th></tr></thead><tbody></tbody></table>
  </div>
  <table id="runs-table"><thead><tr><th scope="col">Run</th><th scope="col">State</th><th scope="col">kWh</th><th scope="col">gCO₂</th><th scope="col">Saved g</th><th scope="col">Slowdown %</th><th scope="col">Limit W</th></tr></thead><tbody></tbody></table>
</section>
<details id="table-view">
  <summary>Table view</summary>
  <table id="intensity-table"><thead><tr><th scope="col">Time (UTC)</th><th scope="col">gCO₂/kWh</th><th scope="col">Kind</th></tr></thead><tbody></tbody></table>
</details>
<p id="attribution" class="attribution"></p>
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
}
