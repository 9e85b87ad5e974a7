/** Applies a {@link StatusView} to the one status bar item. The only place that touches it. */
import * as vscode from 'vscode';
import { statusView, type ClientState, type StatusExtras } from './statusModel';

export function createStatusBarItem(): vscode.StatusBarItem {
  const item = vscode.window.createStatusBarItem('chase.carbon', vscode.StatusBarAlignment.Right, 100);
  item.name = 'Chase carbon intensity';
  return item;
}

export function renderStatusBar(item: vscode.StatusBarItem, state: ClientState, extras: StatusExtras = {}): void {
  const view = statusView(state, extras);
  item.text = view.text;
  const tooltip = new vscode.MarkdownString(view.tooltipMarkdown, true);
  tooltip.isTrusted = { enabledCommands: ['chase.showDashboard', 'chase.restartAgent', 'chase.showLog', 'workbench.action.openSettings'] };
  item.tooltip = tooltip;
  item.accessibilityInformation = { label: view.accessibilityLabel, role: 'button' };
  item.command = view.command;
  item.backgroundColor =
    view.severity === 'error'
      ? new vscode.ThemeColor('statusBarItem.errorBackground')
      : view.severity === 'warning'
        ? new vscode.ThemeColor('statusBarItem.warningBackground')
        : undefined;
  // Text colour by grid-relative level; theme colours so light, dark and high-contrast all work.
  item.color = view.level === 'low' ? new vscode.ThemeColor('charts.green') : view.level === 'high' ? new vscode.ThemeColor('charts.red') : undefined;
  item.show();
}
