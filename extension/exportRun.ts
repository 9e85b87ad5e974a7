/**
 * "Chase: Export Run…": pick a run from the agent's history, pick a file, and the AGENT writes it
 * (CodeCarbon emissions.csv or JSON). The extension never opens the history database itself.
 */
import * as vscode from 'vscode';
import { homedir } from 'node:os';
import type { AgentClient } from './agentClient';
import { Methods, type RecentRun, type RunExportFormat } from '../agent/protocol/messages';
import { formatCarbon, formatGrams, formatWh } from '../agent/protocol/format';

interface RunItem extends vscode.QuickPickItem {
  run: RecentRun;
}

/** One QuickPick line per run: command, start time, energy, carbon, saving, status. */
export function runItem(run: RecentRun): RunItem {
  const started = new Date(run.startedAtMs).toLocaleString();
  const parts = [formatWh(run.energyJ), formatCarbon(run.carbonG)];
  if (run.savedCarbonG !== undefined) parts.push(`saved ${formatGrams(run.savedCarbonG)}`);
  parts.push(run.status);
  return { label: run.command, description: started, detail: parts.join(' · '), run };
}

/** The format follows the file name the user chose: .json → JSON, anything else → CodeCarbon CSV. */
export function formatFor(path: string): RunExportFormat {
  return path.toLowerCase().endsWith('.json') ? 'json' : 'codecarbon';
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function exportRunCommand(client: AgentClient, log: vscode.LogOutputChannel): Promise<void> {
  let runs: RecentRun[];
  try {
    runs = (await client.request(Methods.recentRuns, {})).runs;
  } catch (e) {
    const msg = messageOf(e);
    log.warn(`Export Run: ${msg}`);
    void vscode.window.showErrorMessage(`Chase: cannot list runs. ${msg}`);
    return;
  }
  if (runs.length === 0) {
    void vscode.window.showInformationMessage('Chase: no runs in the history yet. Run a training script through Chase (the "chase" task) first.');
    return;
  }
  const picked = await vscode.window.showQuickPick(runs.map(runItem), { title: 'Chase: Export Run', placeHolder: 'Which run?', matchOnDescription: true, matchOnDetail: true });
  if (!picked) return;
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(homedir());
  const target = await vscode.window.showSaveDialog({
    title: `Export run ${picked.run.id}`,
    defaultUri: vscode.Uri.joinPath(folder, 'emissions.csv'),
    filters: { 'CodeCarbon CSV': ['csv'], JSON: ['json'] },
    saveLabel: 'Export',
  });
  if (!target) return;
  if (target.scheme !== 'file') {
    void vscode.window.showErrorMessage(`Chase: the agent can only write local files; choose a file on this machine (got ${target.toString()}).`);
    return;
  }
  const format = formatFor(target.fsPath);
  try {
    // the save dialog has asked the user before replacing an existing file
    const r = await client.request(Methods.exportRun, { runId: picked.run.id, format, outFile: target.fsPath, overwrite: true });
    log.info(`exported run ${picked.run.id} (${format}) to ${r.outFile} (${r.written})`);
    const how = r.written === 'appended' ? 'Appended a row for' : 'Exported';
    const moved = r.backupFile ? ` The file there had other columns; it was moved to ${r.backupFile} (as CodeCarbon does).` : '';
    const open = await vscode.window.showInformationMessage(`Chase: ${how} run ${picked.run.id} to ${r.outFile}.${moved}`, 'Open');
    if (open) await vscode.window.showTextDocument(vscode.Uri.file(r.outFile));
  } catch (e) {
    const msg = messageOf(e);
    log.error(`Export Run: ${msg}`);
    void vscode.window.showErrorMessage(`Chase: export failed. ${msg}`);
  }
}
