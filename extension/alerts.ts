/** Carbon alerts while runs are live (rules in alertModel.ts); "Mute for today" is kept in globalState. */
import * as vscode from 'vscode';
import type { AgentClient } from './agentClient';
import { ALERT_MIN_GAP_MS, cleanerWindow, endOfLocalDay, shouldAlert } from './alertModel';
import { effectiveLevels, formatIntensity, levelOf, UNIT, type IntensityLevel, type StatusExtras } from './statusModel';

const MUTED_KEY = 'chase.alerts.mutedUntilMs';

export class CarbonAlerts implements vscode.Disposable {
  private previousLevel: IntensityLevel | undefined;
  private lastAlertMs: number | undefined;
  private readonly subs: vscode.Disposable[];

  constructor(
    agent: AgentClient,
    private readonly memento: vscode.Memento,
    /** The user's level thresholds, applied over the grid's own (same as the status bar). */
    thresholds: () => StatusExtras['thresholds'] = () => undefined,
  ) {
    this.subs = [
      agent.onDidChangeState((s) => {
        if (s.kind !== 'running' || s.carbon.state !== 'ok' || s.carbon.stale) return;
        const carbon = s.carbon;
        const levels = effectiveLevels(carbon.levels, thresholds());
        const level = levelOf(carbon.intensityGPerKwh, levels);
        const now = Date.now();
        const live = agent.reportedLiveRuns;
        if (shouldAlert({ previousLevel: this.previousLevel, level, liveRuns: live.length, nowMs: now, lastAlertMs: this.lastAlertMs, mutedUntilMs: this.memento.get<number>(MUTED_KEY) })) {
          this.lastAlertMs = now;
          const runs = live.map((r) => `${r.command}${r.currentLimitMw ? ` (power limit now ${(r.currentLimitMw / 1000).toFixed(0)} W)` : ''}`).join('; ');
          void this.notify(`Grid carbon intensity is high: ${formatIntensity(s.carbon.intensityGPerKwh)} ${UNIT} in ${s.carbon.source.zone} (high above ${formatIntensity(levels!.highAboveGPerKwh)}). Chase holds its runs' GPUs at lower power while it lasts, within each run's slowdown budget: ${runs}.`);
        } else if (live.length > 0 && (this.lastAlertMs === undefined || now - this.lastAlertMs >= ALERT_MIN_GAP_MS) && now >= (this.memento.get<number>(MUTED_KEY) ?? 0)) {
          agent.intensitySeries({ pastHours: 0, futureHours: 6 }).then(
            (series) => {
              const clean = cleanerWindow(level, levels, series.forecast, series.nowMs);
              if (!clean || (this.lastAlertMs !== undefined && Date.now() - this.lastAlertMs < ALERT_MIN_GAP_MS)) return;
              this.lastAlertMs = Date.now();
              const at = new Date(clean.timestampMs).toISOString().slice(11, 16);
              void this.notify(`A cleaner window is expected at ${at} UTC (${formatIntensity(clean.intensityGPerKwh)} ${UNIT}, low for ${carbon.source.zone}): Chase will let your runs go faster then.`);
            },
            () => undefined,
          );
        }
        this.previousLevel = level;
      }),
    ];
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
