/** Run.attachPid on simulated GPUs: a dead PID fails at once (it used to leave start() pending forever). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Run } from '../../../agent/runs/run';
import { RunCarbon } from '../../../agent/runs/runCarbon';
import { ReplayProvider } from '../../../agent/carbon/replay';
import { SimulatedBackend } from '../../../agent/gpu/backends/simulated';
import { loadDefaultProfile } from '../../../agent/profile/zeus';
import { PowerLimitGuard } from '../../../agent/gpu/safety/guard';
import { LimitJournal } from '../../../agent/gpu/safety/journal';
import type { Logger } from '../../../agent/log';
import { tempDir } from '../gpu/fakeNvml';

const log: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

test('attaching to a PID that is not running ends the run as failed, with what to do', async () => {
  const dead = spawnSync('python3', ['-c', 'import os; print(os.getpid())'], { encoding: 'utf8' });
  const pid = Number(dead.stdout.trim());
  const backend = new SimulatedBackend({ profile: loadDefaultProfile(), count: 1 });
  const guard = new PowerLimitGuard(backend, { journal: new LimitJournal(tempDir('chase-attach-')), log });
  const lease = await guard.claim([backend.devices()[0].uuid], { runId: 'a', pid: process.pid });
  const run = new Run({ id: 'a', attachPid: pid, gpuIndices: [0], budgetPct: 5, policy: 'default', sampleMs: 50 }, { backend, lease, carbon: new RunCarbon(ReplayProvider.create({ zone: 'GB', speed: 3600 })), log });
  const s = await Promise.race([run.start(), new Promise<undefined>((res) => setTimeout(() => res(undefined), 3000).unref())]);
  assert.ok(s, 'start() resolved');
  assert.equal(s.state, 'failed');
  assert.match(s.error ?? '', new RegExp(`No process with PID ${pid} is running.*ps -p ${pid}`));
  assert.equal(s.command, `pid ${pid}`);
});
