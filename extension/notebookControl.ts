/**
 * "Chase: Control This Notebook's GPUs" (notebook toolbar): puts the GPUs of the notebook's kernel
 * under carbon-aware control with a budget, by attaching a run to the kernel process. VS Code does
 * not expose a kernel's PID, so the user picks it among the processes NVML lists on the GPUs (kernels
 * show as ipykernel / jupyter); a PID can also be typed.
 */
import * as vscode from 'vscode';
import { DEFAULT_BUDGET_PCT, MAX_BUDGET_PCT, Methods } from '../agent/protocol/messages';
import type { AgentClient } from './agentClient';

export async function controlNotebookGpus(agent: AgentClient): Promise<void> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage('Chase: this workspace is not trusted, so Chase controls no GPUs here.');
    return;
  }
  const processes = await agent.request(Methods.gpuProcesses).catch(() => []);
  const kernelFirst = [...processes].sort((a, b) => Number(/ipykernel|jupyter/.test(b.commandLine ?? '')) - Number(/ipykernel|jupyter/.test(a.commandLine ?? '')));
  const typed = { label: '$(edit) Enter a PID…', pid: undefined as number | undefined };
  const pick = await vscode.window.showQuickPick(
    [...kernelFirst.map((p) => ({ label: `PID ${p.pid}`, description: `GPU ${p.gpuIndices.join(', ')}`, detail: p.commandLine, pid: p.pid as number | undefined })), typed],
    {
      title: "Chase: control this notebook's GPUs",
      placeHolder: processes.length > 0 ? 'Pick the kernel process (ipykernel)' : 'No process is using the GPUs now (simulated GPUs list none): enter the kernel PID',
    },
  );
  if (!pick) return;
  let pid = pick.pid;
  if (pid === undefined) {
    const raw = await vscode.window.showInputBox({ title: 'Kernel process id', prompt: 'In the notebook: import os; os.getpid()', validateInput: (v) => (/^\d+$/.test(v.trim()) ? undefined : 'a process id, e.g. 12345') });
    if (!raw) return;
    pid = Number(raw.trim());
  }
  const budget = await vscode.window.showInputBox({ title: 'Slowdown budget, %', value: String(DEFAULT_BUDGET_PCT), validateInput: (v) => (v.trim() !== '' && Number(v) >= 0 && Number(v) <= MAX_BUDGET_PCT ? undefined : `a number from 0 to ${MAX_BUDGET_PCT}, e.g. ${DEFAULT_BUDGET_PCT}`) });
  if (budget === undefined) return;
  try {
    const r = await agent.request(Methods.startRun, { command: '', args: [], pid, budgetPct: Number(budget) });
    const advise = r.advise ? ` Advise mode: ${r.advise}` : '';
    void vscode.window.showInformationMessage(`Chase: the kernel (PID ${pid}) is under carbon-aware control on ${r.gpuUuids.length} GPU(s) with a ${budget} % budget until it exits.${r.simulated ? ' (simulated GPUs)' : ''}${advise}`);
  } catch (e) {
    void vscode.window.showErrorMessage(`Chase: ${e instanceof Error ? e.message : String(e)}`);
  }
}
