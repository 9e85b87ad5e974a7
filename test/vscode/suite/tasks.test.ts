import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { summaryLine, taskProblem } from '../../../extension/tasks';
import { chaseApi, EXTENSION_ID, isOk, waitForState } from './helpers';

/** Writes the tasks into the workspace's tasks.json, as a user would, and waits until VS Code resolves them. */
async function defineTasks(tasks: Array<vscode.TaskDefinition & { label: string }>): Promise<vscode.Task[]> {
  const folder = vscode.workspace.workspaceFolders![0].uri;
  await vscode.workspace.fs.writeFile(vscode.Uri.joinPath(folder, '.vscode', 'tasks.json'), Buffer.from(JSON.stringify({ version: '2.0.0', tasks }, null, 2)));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const found = (await vscode.tasks.fetchTasks({ type: 'chase' })).filter((t) => tasks.some((d) => d.label === t.name));
    if (found.length === tasks.length || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 300));
  }
}

function runTask(task: vscode.Task): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`task ${task.name} did not end in 60 s`)), 60_000);
    const sub = vscode.tasks.onDidEndTaskProcess((e) => {
      if (e.execution.task.name !== task.name) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(e.exitCode);
    });
    vscode.tasks.executeTask(task).then(undefined, reject);
  });
}

describe('the chase task type', () => {
  const demo = join(vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath, 'sample-workspace', 'train_demo.py');

  it('runs a training command through the agent and passes its exit code through', async () => {
    await waitForState(await chaseApi(), isOk(), 'a running agent');
    const [task] = await defineTasks([{ label: 'chase-demo-exit-5', type: 'chase', command: 'python3', args: [demo, '--epochs', '1', '--steps', '40', '--step-ms', '5', '--exit-code', '5'], budgetPct: 2.5 }]);
    assert.ok(task, 'VS Code resolved the tasks.json entry');
    assert.equal(await runTask(task), 5);
  });

  it("the job gets none of the agent's credentials (issue 12, finding 7)", async () => {
    const api = await chaseApi();
    // What a user may have exported before starting VS Code: the agent inherits the extension host's
    // environment. The sentinel shows the job did get that environment (else this test proves nothing).
    const secrets = { CHASE_ELECTRICITYMAPS_TOKEN: 'em-task-4d1f', CHASE_WATTTIME_PASSWORD: 'wt-task-88c2', CHASE_ZEUSD_TOKEN: 'zd-task-19ab' };
    const check = `import os, sys
leaked = [k for k in ${JSON.stringify(Object.keys(secrets))} if k in os.environ]
print("leaked:", leaked)
sys.exit(3 if leaked else 0 if os.environ.get("CHASE_TASK_ENV_SENTINEL") == "inherited" else 4)`;
    Object.assign(process.env, secrets, { CHASE_TASK_ENV_SENTINEL: 'inherited' });
    try {
      await vscode.commands.executeCommand('chase.restartAgent');
      await waitForState(api, isOk(), 'the restarted agent');
      const [task] = await defineTasks([{ label: 'chase-job-env', type: 'chase', command: 'python3', args: ['-c', check] }]);
      assert.ok(task);
      const code = await runTask(task);
      assert.equal(code, 0, `exit ${code} (3: a secret reached the job; 4: the job did not inherit the agent's environment)`);
    } finally {
      for (const k of [...Object.keys(secrets), 'CHASE_TASK_ENV_SENTINEL']) delete process.env[k];
      await vscode.commands.executeCommand('chase.restartAgent');
      await waitForState(api, isOk(), 'the agent restarted without them');
    }
  });

  it('a bad tasks.json entry ends with a message, not a hang', async () => {
    const [task] = await defineTasks([{ label: 'chase-bad-budget', type: 'chase', command: 'python3', budgetPct: -1 }]);
    assert.ok(task);
    assert.equal(await runTask(task), 2);
    assert.match(taskProblem({ type: 'chase', command: 'python3', budgetPct: -1 }) ?? '', /budgetPct/);
    assert.match(taskProblem({ type: 'chase', command: '' }) ?? '', /command/);
    assert.match(taskProblem({ type: 'chase', command: 'python', policy: 'greedy' }) ?? '', /policy/);
    // the demo's profiling windows and total work go through the same schema as chase/startRun
    assert.equal(taskProblem({ type: 'chase', command: 'python3', profiling: { warmupS: 1, windowS: 4 }, totalUnits: 4500 }), undefined);
    assert.equal(taskProblem({ type: 'chase', command: 'python3', profiling: { windowS: 0 } }), 'profiling.windowS must be a number of seconds above 0, at most 3600 (got 0)');
    assert.match(taskProblem({ type: 'chase', command: 'python3', profiling: { window: 4 } }) ?? '', /unknown field "profiling\.window"/);
    assert.match(taskProblem({ type: 'chase', command: 'python3', totalUnits: -3 }) ?? '', /totalUnits/);
  });

  it('the provider offers tasks for training scripts and resolves tasks.json entries', async () => {
    const tasks = await vscode.tasks.fetchTasks({ type: 'chase' });
    assert.ok(Array.isArray(tasks));
    const summary = summaryLine({ id: 'r', state: 'finished', command: 'python train.py', gpuUuids: [], policy: 'default', budgetPct: 2.5, startedAtMs: 0, energyJ: 7_200_000, carbonG: 250, baselineCarbonG: 290, savedCarbonG: 40, slowdownPct: 2.4, unitsDone: 10, exitCode: 0 });
    assert.equal(summary, 'Chase: 2.00 kWh, 250 gCO₂ — saved 13.8 % (40.0 g) vs max power, slowdown 2.4 % of 2.5 % budget; exit code 0');
  });
});
