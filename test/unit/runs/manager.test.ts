/**
 * RunManager in this process, on simulated GPUs with their guard, a replayed trace one hour per
 * second, and a history database in a temporary folder: what both faces (`chase/startRun`,
 * `chase-agent run`) get from it. A run is recorded with its totals and decisions, and as `stopped`
 * when stopped; the job's environment has the reporter, the simulated feed and the task's variables
 * but not the agent's secrets; refusals launch nothing; advise mode is known when `start` answers.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RunManager, type RunRequest } from '../../../agent/runs/manager';
import { historyProfileStore } from '../../../agent/runs/profileStore';
import { ReplayProvider } from '../../../agent/carbon/replay';
import { startGpuControl, type GpuControlHandle } from '../../../agent/gpu/index';
import type { GpuLimits } from '../../../agent/gpu/limits';
import { LimitJournal } from '../../../agent/gpu/safety/journal';
import { HistoryStore } from '../../../agent/store/history';
import { RunRefusedError } from '../../../agent/errors';
import { packageRoot } from '../../../agent/paths';
import type { RunOutput } from '../../../agent/protocol/messages';
import { memoryLogger, tempDir } from '../store/helpers';
import { waitFor } from '../../contract/waitFor';

const demo = join(packageRoot, 'sample-workspace', 'train_demo.py');
const reporterDir = join(packageRoot, 'agent', 'runs', 'python');
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function setup(o: { limits?: (g: GpuControlHandle) => GpuLimits; seedProfile?: boolean } = {}) {
  const { dir, cleanup } = tempDir('chase-manager-');
  const log = memoryLogger();
  const opened = await startGpuControl({ env: { CHASE_GPU_BACKEND: 'simulated', CHASE_SIMULATED_GPUS: '2' }, log, journal: new LimitJournal(join(dir, 'state')) });
  const gpu: GpuControlHandle = o.limits ? { ...opened, limits: o.limits(opened) } : opened;
  const history = HistoryStore.open({ path: join(dir, 'history.sqlite'), log });
  if (o.seedProfile) {
    // the demo's own rates (10 ms a step at the maximum), so runs control from their first period
    historyProfileStore(history).save('NVIDIA A40 (simulated)', 'demo', [300_000, 200_000, 150_000].map((mw, k) => ({ powerLimitMw: mw, elapsedMs: 10_000, energyJ: (mw / 1000) * 8, units: [900, 850, 600][k] })));
  }
  const output: RunOutput[] = [];
  const decisions: string[] = [];
  const manager = new RunManager({
    gpu: async () => gpu,
    carbon: () => ReplayProvider.create({ zone: 'GB', speed: 3600 }),
    history: () => history,
    log,
    onOutput: (x) => output.push(x),
    onDecision: (runId) => decisions.push(runId),
    updateEveryMs: 100,
  });
  cleanups.push(async () => {
    await manager.dispose();
    await opened.stop();
    history.close();
    cleanup();
  });
  return { manager, history, output, decisions, log, gpu };
}

const demoRun = (args: string[], extra: Partial<RunRequest> = {}): RunRequest => ({ command: 'python3', args: [demo, ...args], budgetPct: 10, gpus: [0], workload: 'demo', ...extra });

test('a run is recorded with its totals and its decisions; the reporter\'s steps count', async () => {
  const s = await setup({ seedProfile: true });
  const started = await s.manager.start(demoRun(['--epochs', '1', '--steps', '250', '--step-ms', '10', '--reporter', '--batch', '4'], { env: { PYTHONPATH: reporterDir } }));
  assert.equal(s.history.getRun(started.runId)?.status, 'running', 'recorded when it starts');
  assert.deepEqual(s.manager.list().map((r) => r.id), [started.runId]);
  const end = await started.finished;
  assert.equal(end.state, 'finished');
  assert.equal(end.exitCode, 0);
  assert.equal(end.progressSource, 'reporter');
  assert.equal(end.unitsDone, 1000, '250 steps of 4 samples, through the reporter socket');
  const rec = s.history.getRun(started.runId);
  assert.ok(rec);
  assert.equal(rec.status, 'completed');
  assert.equal(rec.exitCode, 0);
  assert.equal(rec.energyJ, end.energyJ);
  assert.equal(rec.carbonG, end.carbonG);
  assert.ok(end.energyJ > 0 && rec.baselineCarbonG !== undefined && rec.baselineCarbonG === end.baselineCarbonG, 'the stored profile gave a baseline');
  assert.ok(s.decisions.length >= 1, 'decided at least once');
  s.history.flush();
  assert.equal(s.history.decisions({ runId: started.runId }).length, s.decisions.length, 'every decision recorded');
  assert.equal(s.manager.liveCount, 0);
  assert.ok(s.output.some((o) => o.runId === started.runId && o.text.includes('training finished')));
});

test('a live run\'s totals reach the history as it goes; stopped, it is recorded as stopped (not failed), with the exit code its job got', async () => {
  const s = await setup();
  const started = await s.manager.start(demoRun(['--epochs', '100', '--steps', '100', '--step-ms', '10']));
  const live = await waitFor(() => {
    const r = s.history.getRun(started.runId);
    return r && r.energyJ > 0 ? r : undefined;
  }, 'the run\'s energy in the history');
  assert.equal(live.status, 'running', 'what a killed agent would leave: the totals so far');
  assert.equal(s.manager.stop(started.runId), true);
  const end = await started.finished;
  assert.equal(end.exitCode, 143);
  assert.equal(s.history.getRun(started.runId)?.status, 'stopped');
  assert.equal(s.manager.stop(started.runId), false, 'no longer live');
});

test('the job\'s environment: the reporter, the simulated feed, the task\'s variables, unbuffered Python — not the agent\'s secrets', async () => {
  const s = await setup();
  process.env.CHASE_ELECTRICITYMAPS_TOKEN = 'secret-of-the-agent';
  cleanups.push(() => void delete process.env.CHASE_ELECTRICITYMAPS_TOKEN);
  const script = 'const e = process.env; console.log(JSON.stringify({ ...e, feedThere: require("fs").existsSync(e.CHASE_SIM_THROUGHPUT_FILE) }))';
  const started = await s.manager.start({ command: process.execPath, args: ['-e', script], budgetPct: 5, gpus: [1], env: { FROM_TASK: 'yes', CHASE_WATTTIME_PASSWORD: 'task-given-secret' } });
  await started.finished;
  const env = JSON.parse(s.output.filter((o) => o.runId === started.runId).map((o) => o.text).join('')) as Record<string, string | boolean>;
  assert.equal(env.FROM_TASK, 'yes');
  assert.equal(env.PYTHONUNBUFFERED, '1');
  assert.match(String(env.CHASE_REPORTER), /^unix:/);
  assert.match(String(env.CHASE_RUN_TOKEN), /^[0-9a-f]{48}$/);
  assert.equal(env.feedThere, true);
  assert.equal(env.CHASE_ELECTRICITYMAPS_TOKEN, undefined);
  assert.equal(env.CHASE_WATTTIME_PASSWORD, undefined, 'a task cannot hand the job a Chase secret either');
  assert.equal(env.CUDA_VISIBLE_DEVICES, undefined, 'simulated GPUs: no CUDA device to narrow down');
  assert.equal(existsSync(String(env.CHASE_SIM_THROUGHPUT_FILE)), false, 'the feed is removed when the run ends');
});

test('refusals say why and launch nothing: unknown GPU, a GPU another run holds, a dead PID, a missing folder, no carbon source', async () => {
  const s = await setup();
  const refused = async (r: RunRequest, message: RegExp) => assert.rejects(s.manager.start(r), (e: unknown) => e instanceof RunRefusedError && message.test(e.message));
  await refused(demoRun([], { gpus: [7] }), /GPU 7 is not visible to this agent; visible: 0, 1\./);
  const first = await s.manager.start(demoRun(['--epochs', '100'], { gpus: [0] }));
  await refused(demoRun([], { gpus: [0] }), /GPU 0 .* is already controlled by another run: run run-\w+ of pid \d+/);
  await refused(demoRun([], { gpus: [1], pid: 4_000_000, command: '', args: [] }), /No process with PID 4000000 is running/);
  await refused(demoRun([], { gpus: [1], cwd: '/no/such/folder' }), /The working folder \/no\/such\/folder does not exist/);
  s.manager.stop(first.runId);
  await first.finished;
  const runs = s.history.listRuns();
  assert.deepEqual(runs.map((r) => r.id), [first.runId], 'only the run that started was recorded');

  const none = new RunManager({ gpu: async () => s.gpu, carbon: () => undefined, log: s.log });
  await assert.rejects(none.start(demoRun([])), /no working carbon source; fix chase\.carbon\.\*/);
  const noGpu = new RunManager({ gpu: async () => undefined, carbon: () => ReplayProvider.create({ zone: 'GB', speed: 1 }), log: s.log });
  await assert.rejects(noGpu.start(demoRun([])), /GPU control is not available in this agent/);
});

test('advise mode is known when start answers', async () => {
  const reason = 'Setting power limits needs root: run the Chase service (docs/gpu.md)';
  const s = await setup({
    limits: (g) => ({
      label: 'advise only',
      control: async () => ({ state: 'advise', reason }),
      claim: async (uuids, request) => ({ ...(await g.limits.claim(uuids, request)), control: async () => ({ state: 'advise', reason }) }),
      restoreAll: () => g.limits.restoreAll(),
    }),
  });
  const started = await s.manager.start(demoRun(['--epochs', '1', '--steps', '20', '--step-ms', '5']));
  assert.equal(started.advise, reason);
  assert.equal((await started.finished).advise, reason);
});
