/**
 * `chase-agent restore [--wait-s S] [--json]`: puts back the power limits Chase left changed on the
 * visible GPUs — for a cluster's epilog (packaging/slurm/epilog.sh), after a job whose agents may
 * have been killed before they could restore (SIGKILL, out of memory, a node's job step torn down).
 *
 * It is an agent start and one lease per GPU, the same mechanisms as any run (docs/gpu.md):
 *   1. start GPU control: limits journaled in this state dir by agents that are gone are restored;
 *   2. claim each visible GPU: the claim of a dead agent (any user, any state dir) is taken over,
 *      and the GPU goes back to the limit that agent noted from before, or to NVML's default;
 *      a claim a live agent holds — the limits service notices a job's exit within a second — is
 *      waited for, up to --wait-s;
 *   3. release the lease: restored, claim freed.
 * Exit 0 when every GPU is free and restored; 1 when one is still held, cannot be controlled
 * (no root / CAP_SYS_ADMIN), or failed to restore — an epilog's non-zero exit drains the node in
 * Slurm, so a throttled GPU does not silently go to the next job.
 */
import type { CliCommand } from './command';
import { numberArg, parseCli } from './command';
import { startGpuControl } from '../gpu/index';
import { GpuClaimedError } from '../gpu/safety/claims';
import { createLogger, describeError } from '../log';

export interface RestoredGpu {
  index: number;
  uuid: string;
  /** What happened: `unchanged` (already at the limit Chase found), `restored`, `held` (a live run holds it), `failed`. */
  outcome: 'unchanged' | 'restored' | 'held' | 'failed';
  beforeMw: number | null;
  limitMw: number | null;
  defaultLimitMw: number;
  detail?: string;
}

export interface RestoreResult {
  backend: string;
  cudaVisibleDevices?: string;
  /** Journal entries of gone agents of this state dir, restored at start. */
  journalRestored: number;
  gpus: RestoredGpu[];
  ok: boolean;
}

const usage = `chase-agent restore [--wait-s S] [--json]

Puts back the power limits Chase left changed on the visible GPUs (CUDA_VISIBLE_DEVICES: indices or
UUIDs; all GPUs when unset) — e.g. a Slurm job's GPUs in its epilog (packaging/slurm/epilog.sh).
Restores what agents that are gone left: limits journaled in this state directory, and GPUs whose
claim (CHASE_CLAIMS_DIR, else /run/lock) names a dead agent — to the limit it noted from before,
or NVML's default. A GPU a live run holds is waited for up to S seconds (default 10), then reported.
Needs the right to set limits (root / CAP_SYS_ADMIN). Exit 1 if a GPU is left held or unrestored.

Options:
  --wait-s S   how long to wait for a live run's claim to end (default 10, at most 600)
  --json       print the result as one JSON object`;

export const restoreCommand: CliCommand = {
  name: 'restore',
  summary: 'restore the power limits Chase left on the visible GPUs (cluster epilogs)',
  usage,
  async run(argv) {
    const { values } = parseCli(argv, { 'wait-s': { type: 'string' }, json: { type: 'boolean', default: false } });
    const waitMs = numberArg('wait-s', values['wait-s'], 10, { min: 0, max: 600 }) * 1000;
    const result = await restoreGpus({ env: process.env, waitMs });
    process.stdout.write(values.json ? JSON.stringify(result) + '\n' : restoreText(result) + '\n');
    return result.ok ? 0 : 1;
  },
};

export async function restoreGpus({ env, waitMs, pollMs = 200 }: { env: NodeJS.ProcessEnv; waitMs: number; pollMs?: number }): Promise<RestoreResult> {
  const log = createLogger('restore');
  // this process sets the limits itself (the epilog runs as root): never through a service socket
  const gpus = await startGpuControl({ env: { ...env, CHASE_AGENT_SOCKET: '' }, log });
  const result: RestoreResult = {
    backend: gpus.backend.label,
    ...(env.CUDA_VISIBLE_DEVICES !== undefined ? { cudaVisibleDevices: env.CUDA_VISIBLE_DEVICES } : {}),
    journalRestored: gpus.leftovers.restored.length,
    gpus: [],
    ok: gpus.leftovers.failed.length === 0,
  };
  try {
    if (gpus.backend.simulated) return result; // no NVIDIA GPU here: nothing Chase could have left
    for (const d of gpus.visibility.devices) {
      const read = async () => {
        try {
          return await gpus.backend.getPowerLimit(d.index);
        } catch {
          return null;
        }
      };
      const entry: RestoredGpu = { index: d.index, uuid: d.uuid, outcome: 'unchanged', beforeMw: await read(), limitMw: null, defaultLimitMw: d.defaultLimitMw };
      const deadline = Date.now() + waitMs;
      for (;;) {
        try {
          const lease = await gpus.guard.claim([d.uuid], { runId: 'restore', pid: process.pid });
          await lease.release();
          break;
        } catch (e) {
          if (e instanceof GpuClaimedError && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, pollMs));
            continue;
          }
          entry.outcome = e instanceof GpuClaimedError ? 'held' : 'failed';
          entry.detail = describeError(e);
          break;
        }
      }
      entry.limitMw = await read();
      if (entry.outcome === 'unchanged' && entry.limitMw !== entry.beforeMw) entry.outcome = 'restored';
      if (entry.outcome === 'unchanged' && entry.limitMw !== d.defaultLimitMw) {
        // off its default and not ours to set: whatever left it there, this process could not undo it
        const control = await gpus.backend.control(d.index);
        if (control.state === 'advise') Object.assign(entry, { outcome: 'failed', detail: `cannot set its limit: ${control.reason}` });
      }
      result.ok &&= entry.outcome === 'unchanged' || entry.outcome === 'restored';
      result.gpus.push(entry);
    }
    return result;
  } finally {
    await gpus.stop();
  }
}

function restoreText(r: RestoreResult): string {
  const lines = r.gpus.map((g) => {
    const at = g.limitMw === null ? 'limit unknown' : `${g.limitMw} mW (default ${g.defaultLimitMw} mW)`;
    switch (g.outcome) {
      case 'restored':
        return `GPU ${g.index} (${g.uuid}): restored from ${g.beforeMw} mW to ${at}`;
      case 'unchanged':
        return `GPU ${g.index} (${g.uuid}): nothing to restore, at ${at}`;
      default:
        return `GPU ${g.index} (${g.uuid}): NOT restored, at ${at}: ${g.detail}`;
    }
  });
  if (r.journalRestored > 0) lines.unshift(`restored ${r.journalRestored} limit(s) journaled by agents that are gone`);
  if (r.gpus.length === 0) lines.push(`no NVIDIA GPU visible (${r.backend}): nothing to restore`);
  return lines.join('\n');
}
