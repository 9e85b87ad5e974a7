/**
 * The `chase` task type: a training command run under carbon-aware control by the agent.
 *
 *   { "type": "chase", "command": "python", "args": ["train.py"], "budgetPct": 2.5, "gpus": [0, 1], "policy": "default" }
 *
 * It runs in a pseudoterminal (CustomExecution) because the agent, not VS Code, owns the process:
 * the terminal streams the job's output, says once at the start if Chase can only advise, and ends
 * with a summary line (energy, carbon, saving against max power, slowdown) and the job's exit code.
 *
 * With `"launcher": "torchrun"` (and `nnodes`, `nprocPerNode`, `rdzvEndpoint`) the agent runs the
 * program under PyTorch's launcher on this node (launcherModel.ts); a distributed job then makes one
 * decision for all its nodes (docs/distributed.md), and the terminal shows its part and decisions.
 */
import * as vscode from 'vscode';
import { DEFAULT_BUDGET_PCT, Methods, type RunPolicyName, type RunSummary, type StartRunParams } from '../agent/protocol/messages';
import { checkParams } from '../agent/protocol/paramSchema';
import { profileReuseText, projectionOutcomeText, projectionText, runOutcomeText } from '../agent/protocol/runOutcome';
import type { AgentClient } from './agentClient';
import { readAdviceSettings } from './config';
import { adviceToShow } from './adviceModel';
import { DashboardPanel } from './dashboard';
import { launchCommand, launcherProblem, type LauncherFields } from './launcherModel';
import { decisionText, jobHeadline, jobLines } from '../agent/protocol/jobOutcome';
import type { DistributedRunSummary } from '../agent/protocol/messages';

export const TASK_TYPE = 'chase';

export interface ChaseTaskDefinition extends vscode.TaskDefinition, LauncherFields {
  type: typeof TASK_TYPE;
  command: string;
  args?: string[];
  budgetPct?: number;
  gpus?: number[];
  policy?: RunPolicyName;
  cwd?: string;
  /** The job's total work in progress units (steps), when known: the projection then covers the whole run. */
  totalUnits?: number;
  /** Profiling warm-up and window per limit, s (demo values on simulated GPUs; defaults 10 and 30). */
  profiling?: { warmupS?: number; windowS?: number };
}

/**
 * A tasks.json entry as the run it asks for, checked by the protocol's own schema of
 * `chase/startRun` (the agent checks the same): the params, or the problem in words.
 */
function runParams(d: vscode.TaskDefinition, folder?: string): { ok: true; value: StartRunParams } | { ok: false; problem: string } {
  if (typeof d.command !== 'string' || d.command.trim() === '') return { ok: false, problem: '"command" is required, e.g. "python".' };
  const launcher = launcherProblem(d as Partial<LauncherFields> & Record<string, unknown>);
  if (launcher) return { ok: false, problem: launcher };
  if (d.args !== undefined && !(Array.isArray(d.args) && d.args.every((a: unknown) => typeof a === 'string'))) return { ok: false, problem: '"args" must be a list of strings.' };
  const { command, args } = launchCommand(d as unknown as LauncherFields);
  const cwd: unknown = d.cwd ?? folder;
  return checkParams(Methods.startRun.params, {
    command,
    args,
    budgetPct: d.budgetPct ?? DEFAULT_BUDGET_PCT,
    ...(d.gpus !== undefined ? { gpus: d.gpus } : {}),
    ...(d.policy !== undefined ? { policy: d.policy } : {}),
    ...(d.totalUnits !== undefined ? { totalUnits: d.totalUnits } : {}),
    ...(d.profiling !== undefined ? { profiling: d.profiling } : {}),
    ...(cwd !== undefined ? { cwd } : {}),
  });
}

/** Checks a tasks.json entry; returns the problem in words, or undefined when it is usable. */
export function taskProblem(d: vscode.TaskDefinition): string | undefined {
  const r = runParams(d);
  return r.ok ? undefined : r.problem;
}

export function summaryLine(s: RunSummary): string {
  return `Chase: ${runOutcomeText(s)}; exit code ${s.exitCode ?? 'none'}`;
}

class ChaseRunTerminal implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  private readonly closeEmitter = new vscode.EventEmitter<number>();
  readonly onDidWrite = this.writeEmitter.event;
  readonly onDidClose = this.closeEmitter.event;
  private runId: string | undefined;
  private readonly subs: vscode.Disposable[] = [];
  private done = false;
  /** Said once per run: the stored profile is reused; the projection after profiling. */
  private saidReuse = false;
  private saidProjection = false;
  /** A distributed job: the headline last shown, and the last decision shown. */
  private jobShown: { headline: string; decisionId: number } = { headline: '', decisionId: 0 };

  constructor(
    private readonly def: ChaseTaskDefinition,
    private readonly agent: AgentClient,
    private readonly cwd: string | undefined,
  ) {}

  private write(text: string): void {
    this.writeEmitter.fire(text.replace(/\r?\n/g, '\r\n'));
  }

  private finish(code: number): void {
    if (this.done) return;
    this.done = true;
    for (const s of this.subs.splice(0)) s.dispose();
    this.closeEmitter.fire(code);
  }

  open(): void {
    if (!vscode.workspace.isTrusted) {
      this.write('Chase: this workspace is not trusted, so Chase runs no tasks and controls no GPUs here. Trust the workspace (Manage Workspace Trust) to use it.\n');
      return this.finish(1);
    }
    const params = runParams(this.def, this.cwd);
    if (!params.ok) {
      this.write(`Chase task: ${params.problem}\n`);
      return this.finish(2);
    }
    this.subs.push(
      this.agent.onRunOutput((o) => o.runId === this.runId && this.write(o.text)),
      this.agent.onRunUpdated((s) => {
        if (s.id !== this.runId) return;
        this.sayOnce(s);
        if (s.distributed) this.showJob(s.distributed);
        if (s.state !== 'finished' && s.state !== 'failed') return;
        if (s.error) this.write(`\nChase: ${s.error}\n`);
        if (s.distributed) this.write(`\n${jobLines(s.distributed, s.budgetPct).slice(1).map((l) => `Chase: ${l}\n`).join('')}`);
        this.write(`\n${summaryLine(s)}\n`);
        const off = projectionOutcomeText(s);
        if (off) this.write(`Chase: ${off}\n`);
        this.finish(typeof s.exitCode === 'number' ? s.exitCode : 1);
      }),
    );
    const p = params.value;
    this.write(`Chase: ${[p.command, ...p.args].join(' ')} — budget ${p.budgetPct} %, policy ${p.policy ?? 'default'}\n`);
    void this.adviseThenStart(p);
  }

  /**
   * Start-time advice (chase.advice.*), said once before the run starts: when a later start within
   * the window would cut its projected carbon by more than the threshold, "Start now" or "Start at
   * HH:MM" — the user's choice; dismissing it starts now. Chase never postpones on its own.
   */
  private async adviseThenStart(p: StartRunParams): Promise<void> {
    const { windowHours, thresholdPct } = readAdviceSettings();
    if (windowHours > 0) {
      const r = await this.agent
        .request(Methods.startAdvice, { command: p.command, args: p.args, budgetPct: p.budgetPct, windowHours, ...(p.gpus ? { gpus: p.gpus } : {}), ...(p.totalUnits !== undefined ? { totalUnits: p.totalUnits } : {}), ...(p.workload ? { workload: p.workload } : {}) })
        .catch(() => undefined);
      if (r?.unavailable) this.write(`Chase: no start-time advice: ${r.unavailable}.\n`);
      const advice = adviceToShow(r, thresholdPct, Date.now());
      if (advice) {
        this.write(`Chase: ${advice.text} (from ${advice.basis}).\n`);
        DashboardPanel.showAdvice({ command: [p.command, ...p.args].join(' '), text: advice.text });
        const later = `Start at ${advice.startAtText}`;
        const choice = await vscode.window.showInformationMessage(`Chase: ${advice.text}.`, 'Start now', later);
        if (this.done) return;
        if (choice === later) {
          this.write(`Chase: starting at ${advice.startAtText}, as you chose (close this terminal to cancel).\n`);
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.max(0, advice.startAtMs - Date.now()));
            this.subs.push({ dispose: () => clearTimeout(timer) });
          });
          if (this.done) return;
        }
      }
    }
    this.start(p);
  }

  private start(p: StartRunParams): void {
    this.agent
      .request(Methods.startRun, p)
      .then(
        (r) => {
          this.runId = r.runId;
          this.write(`Chase: run ${r.runId} on ${r.gpuUuids.length} GPU(s)${r.simulated ? ' — SIMULATED GPUs (no NVIDIA driver in use)' : ''}\n`);
          if (r.advise) this.write(`Chase: advise mode — limits are computed and shown but not applied. ${r.advise}\n`);
        },
        (e: unknown) => {
          this.write(`Chase: the run could not start: ${e instanceof Error ? e.message : String(e)}\n`);
          this.finish(1);
        },
      );
  }

  /** A reused profile, and the first projection, each said once (between the job's own lines). */
  private sayOnce(s: RunSummary): void {
    const reuse = profileReuseText(s);
    if (reuse && !this.saidReuse) {
      this.saidReuse = true;
      this.write(`\nChase: ${reuse}\n`);
    }
    if (s.projection && !this.saidProjection) {
      this.saidProjection = true;
      this.write(`\nChase: ${s.profileSource === 'stored' ? 'with the stored profile' : 'after profiling'}, ${projectionText(s.projection)}\n`);
    }
  }

  /** A distributed job's part, as it comes: its headline when it changes, each decision once. */
  private showJob(d: DistributedRunSummary): void {
    const headline = jobHeadline(d);
    if (headline !== this.jobShown.headline) this.write(`Chase: ${headline}\n`);
    this.jobShown.headline = headline;
    for (const x of d.decisions) {
      if (x.decisionId <= this.jobShown.decisionId) continue;
      this.write(`Chase: ${decisionText(x)}\n`);
      this.jobShown.decisionId = x.decisionId;
    }
  }

  close(): void {
    // The user closed the terminal: stop the job; the agent restores the GPUs.
    if (this.runId && !this.done) void this.agent.request(Methods.stopRun, { runId: this.runId }).catch(() => undefined);
    this.finish(130);
  }
}

export class ChaseTaskProvider implements vscode.TaskProvider {
  constructor(private readonly agent: AgentClient) {}

  /** Offers one task per Python file at the top of each workspace folder whose name suggests training. */
  async provideTasks(): Promise<vscode.Task[]> {
    const files = await vscode.workspace.findFiles('*train*.py', '**/node_modules/**', 20);
    return files.map((uri) => {
      const folder = vscode.workspace.getWorkspaceFolder(uri);
      const rel = vscode.workspace.asRelativePath(uri, false);
      return this.task({ type: TASK_TYPE, command: 'python3', args: [rel], budgetPct: DEFAULT_BUDGET_PCT }, folder ?? vscode.TaskScope.Workspace, `${rel} (carbon-aware)`);
    });
  }

  resolveTask(task: vscode.Task): vscode.Task | undefined {
    if (task.definition.type !== TASK_TYPE) return undefined;
    return this.task(task.definition as ChaseTaskDefinition, task.scope ?? vscode.TaskScope.Workspace, task.name);
  }

  private task(def: ChaseTaskDefinition, scope: vscode.WorkspaceFolder | vscode.TaskScope, name: string): vscode.Task {
    const cwd = typeof scope === 'object' ? scope.uri.fsPath : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const t = new vscode.Task(def, scope, name, TASK_TYPE, new vscode.CustomExecution(async () => new ChaseRunTerminal(def, this.agent, cwd)));
    t.presentationOptions = { reveal: vscode.TaskRevealKind.Always, panel: vscode.TaskPanelKind.Dedicated };
    return t;
  }
}
