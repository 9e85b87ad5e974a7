/**
 * Activation only registers things; the agent starts without being awaited, and its state drives
 * the status bar. `deactivate` stops the agent so it can restore anything it changed.
 */
import * as vscode from 'vscode';
import { AgentClient } from './agentClient';
import { affectsConfig, readAgentSocket, readConfig, readLevelOverrides } from './config';
import { DASHBOARD_VIEW_TYPE, DashboardPanel } from './dashboard';
import { createStatusBarItem, renderStatusBar } from './statusBar';
import type { ClientState, StatusExtras } from './statusModel';
import { Methods, type AgentInfo, type AgentSettings, type EnergyBetweenParams, type EnergyBetweenResult } from '../agent/protocol/messages';
import { clearSecrets, isChaseSecret, promptForApiKey, readSecrets } from './secrets';
import { ChaseTaskProvider, TASK_TYPE } from './tasks';
import { CarbonAlerts } from './alerts';
import { CellEnergyProvider } from './notebookCells';
import { controlNotebookGpus } from './notebookControl';
import { exportRunCommand } from './exportRun';

/** What activate() returns: used by the extension-host tests and available to other extensions. */
export interface ChaseApi {
  readonly state: ClientState;
  readonly onDidChangeState: vscode.Event<ClientState>;
  agentInfo(): Promise<AgentInfo>;
  /** Energy and carbon of the GPUs over a past interval. */
  energyBetween(params: EnergyBetweenParams): Promise<EnergyBetweenResult>;
  /** How long activate() took, ms. */
  readonly activationMs: number;
}

let agent: AgentClient | undefined;

export function activate(context: vscode.ExtensionContext): ChaseApi {
  const t0 = performance.now();
  const log = vscode.window.createOutputChannel('Chase', { log: true });
  const item = createStatusBarItem();
  agent = new AgentClient(context.asAbsolutePath('dist/agent.js'), log, readAgentSocket);
  const client = agent;
  const extras: StatusExtras = { thresholds: readLevelOverrides() };
  let nextFor: number | undefined;
  const render = () => renderStatusBar(item, client.currentState, extras);
  render();
  const energyBetween = (params: EnergyBetweenParams) => client.request(Methods.energyBetween, params);
  const cellEnergy = new CellEnergyProvider({ energyBetween });

  context.subscriptions.push(
    log,
    item,
    client,
    client.onDidChangeState((state) => {
      render();
      // Once per reading: the next hours for the tooltip.
      if (state.kind === 'running' && state.carbon.state === 'ok' && state.carbon.timestampMs !== nextFor) {
        nextFor = state.carbon.timestampMs;
        client.request(Methods.intensitySeries, { pastHours: 0, futureHours: 6 }).then(
          (s) => {
            extras.next = { model: s.forecastModel, points: s.forecast };
            render();
          },
          () => undefined,
        );
      }
    }),
    client.onRunUpdated(() => {
      extras.runs = client.reportedLiveRuns;
      render();
    }),
    vscode.commands.registerCommand('chase.showDashboard', () => DashboardPanel.createOrShow(context.extensionUri, client, log)),
    vscode.commands.registerCommand('chase.restartAgent', () => client.restart()),
    vscode.commands.registerCommand('chase.showLog', () => log.show()),
    vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel) => DashboardPanel.revive(panel, context.extensionUri, client, log),
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      // The limits service's socket is handed to the agent at its start: a change restarts it.
      if (e.affectsConfiguration('chase.statusBar')) {
        extras.thresholds = readLevelOverrides();
        render();
      }
      if (e.affectsConfiguration('chase.agent.socket')) void applySettings('start');
      else if (affectsConfig(e)) void applySettings('configure');
    }),
    context.secrets.onDidChange((e) => {
      if (isChaseSecret(e.key)) void applySettings('configure');
    }),
    vscode.tasks.registerTaskProvider(TASK_TYPE, new ChaseTaskProvider(client)),
    new CarbonAlerts(client, context.globalState, () => extras.thresholds),
    cellEnergy,
    vscode.notebooks.registerNotebookCellStatusBarItemProvider('jupyter-notebook', cellEnergy),
    vscode.workspace.onDidChangeNotebookDocument((e) => {
      if (e.cellChanges.some((c) => c.executionSummary?.timing?.endTime)) cellEnergy.refreshSoon();
    }),
    vscode.commands.registerCommand('chase.controlNotebookGpus', () => controlNotebookGpus(client)),
    vscode.commands.registerCommand('chase.setApiKey', () => promptForApiKey(context.secrets)),
    vscode.commands.registerCommand('chase.clearApiKeys', () => clearSecrets(context.secrets)),
    vscode.commands.registerCommand('chase.exportRun', () => exportRunCommand(client, log)),
  );

  /** Settings plus the keys from SecretStorage, to the agent: at start, and on every change. */
  async function applySettings(how: 'start' | 'configure'): Promise<void> {
    const config = readConfig();
    if (!config.ok) return reportProblems(client, log, config.problems);
    const settings: AgentSettings = { ...config.settings, secrets: await readSecrets(context.secrets) };
    extras.replaySpeed = settings.carbon.replaySpeed; // the status bar labels a sped-up replay
    await (how === 'start' ? client.start(settings) : client.configure(settings));
  }
  // Not awaited: activation only registers; the agent comes up in the background.
  applySettings('start').catch((e: unknown) => log.error(`agent start: ${String(e)}`));

  const activationMs = performance.now() - t0;
  log.info(`Chase activated in ${activationMs.toFixed(1)} ms`);
  return {
    get state() {
      return client.currentState;
    },
    onDidChangeState: client.onDidChangeState,
    agentInfo: () => client.request(Methods.agentInfo),
    energyBetween,
    activationMs,
  };
}

function reportProblems(client: AgentClient, log: vscode.LogOutputChannel, problems: string[]): void {
  for (const p of problems) log.error(p);
  client.reportInvalidSettings(problems);
}

export function deactivate(): Promise<void> | undefined {
  return agent?.stop();
}
