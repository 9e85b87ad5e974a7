/** Carbon alerts while runs are live (rules in alertModel.ts); "Mute for today" is kept in globalState. */
import * as vscode from 'vscode';
import { Methods } from '../agent/protocol/messages';
import type { AgentClient } from './agentClient';
import { CarbonAlertRules, endOfLocalDay } from './alertModel';
import type { StatusExtras } from './statusModel';

const MUTED_KEY = 'chase.alerts.mutedUntilMs';

export class CarbonAlerts implements vscode.Disposable {
  private readonly subs: vscode.Disposable[];

  constructor(
    agent: AgentClient,
    private readonly memento: vscode.Memento,
    /** The user's level thresholds, applied over the grid's own (same as the status bar). */
    thresholds: () => StatusExtras['thresholds'] = () => undefined,
  ) {
    const rules = new CarbonAlertRules({
      intensitySeries: (params) => agent.request(Methods.intensitySeries, params),
      liveRuns: () => agent.reportedLiveRuns,
      thresholds,
      mutedUntilMs: () => this.memento.get<number>(MUTED_KEY),
      nowMs: () => Date.now(),
      notify: (message) => void this.notify(message),
    });
    this.subs = [agent.onDidChangeState((s) => rules.onState(s))];
  }

  private async notify(message: string): Promise<void> {
    const choice = await vscode.window.showWarningMessage(message, 'Open Dashboard', 'Mute for today');
    if (choice === 'Open Dashboard') await vscode.commands.executeCommand('chase.showDashboard');
    if (choice === 'Mute for today') await this.memento.update(MUTED_KEY, endOfLocalDay(Date.now()));
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
  }
}
