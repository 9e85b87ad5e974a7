/**
 * Opens the GPU backend for this host. Order (env CHASE_GPU_BACKEND=auto, the default):
 *
 *   1. NVML (CHASE_NVML_LIBRARY, else libnvidia-ml.so.1 / nvml.dll). Missing library, driver not
 *      loaded or no GPUs are normal states, recorded in `notes`.
 *   2. zeusd, when CHASE_ZEUSD_SOCKET, or Zeus's own ZEUSD_SOCK_PATH / ZEUSD_HOST_PORT, is set and
 *      answers /discover: writes go through it (token: CHASE_ZEUSD_TOKEN or ZEUSD_TOKEN); reads come
 *      from NVML when it loaded (needed with zeusd 0.4, which serves no limit reads).
 *   3. NVML directly (control needs root / CAP_SYS_ADMIN, else advise mode; how that is probed:
 *      CHASE_NVML_PERMISSION_PROBE=auto|write, see backends/nvml.ts).
 *   4. Simulated GPUs (CHASE_SIMULATED_GPUS of them, default 1) following the embedded A40 profile.
 *
 * CHASE_GPU_BACKEND=nvml|zeusd|simulated forces one (failing loudly instead of falling back,
 * except `simulated`, which always works).
 *
 * Who *sets* limits is separate (GpuLimits, limits.ts): this agent through its backend
 * (PowerLimitGuard), or — when CHASE_AGENT_SOCKET names the privileged limits service — the service,
 * with reads still local through NVML (ServiceLimits).
 */
import type { GpuBackend } from './backend';
import { NvmlBackend } from './backends/nvml';
import { SimulatedBackend } from './backends/simulated';
import { ZeusdBackend, ZeusdClient } from './backends/zeusd';
import { describeEndpoint, zeusdSettingsFromEnv } from './backends/zeusdClient';
import { GpuError } from './errors';
import { Nvml, nvmlLibraryCandidates } from './nvml';
import { loadDefaultProfile } from '../profile/zeus';
import { permissionProbeFromEnv } from './privilege';
import { resolveVisibleDevices, type Visibility } from './visibility';
import { PowerLimitGuard, type RestoreReport } from './safety/guard';
import { LimitJournal } from './safety/journal';
import { defaultClaimsDir, GpuClaims } from './safety/claims';
import type { GpuLimits } from './limits';
import { ServiceLimits } from './serviceLimits';
import type { Logger } from '../log';

export * from './backend';
export * from './errors';

export interface OpenGpuOptions {
  env?: NodeJS.ProcessEnv;
  now?: () => number;
}

export interface OpenedGpus {
  backend: GpuBackend;
  /** Why the backend is what it is (missing driver, zeusd unreachable, ...), for logs and `gpus`. */
  notes: string[];
  /** GPUs this agent may control after CUDA_VISIBLE_DEVICES. */
  visibility: Visibility;
}

function openNvml(env: NodeJS.ProcessEnv, notes: string[], now: () => number): NvmlBackend | undefined {
  const permissionProbe = permissionProbeFromEnv(env); // a bad value is a configuration error, reported first
  let nvml: Nvml;
  try {
    nvml = Nvml.load(nvmlLibraryCandidates(process.platform, env));
  } catch (e) {
    notes.push(`No NVIDIA driver found: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
  try {
    const backend = new NvmlBackend(nvml, { now, permissionProbe });
    notes.push(...backend.unavailable);
    if (backend.devices().length === 0) {
      notes.push(`NVML (${nvml.libraryPath}) found no GPUs.`);
      void backend.close().catch(() => undefined);
      return undefined;
    }
    return backend;
  } catch (e) {
    notes.push(`NVML (${nvml.libraryPath}) could not start: ${e instanceof Error ? e.message : String(e)}`);
    try {
      nvml.shutdown();
    } catch {
      /* never initialized */
    }
    return undefined;
  }
}

function simulated(env: NodeJS.ProcessEnv, now: () => number): SimulatedBackend {
  const count = Math.max(1, Math.min(64, Number(env.CHASE_SIMULATED_GPUS ?? 1) || 1));
  return new SimulatedBackend({ profile: loadDefaultProfile(), count, now });
}

export async function openGpuBackend(options: OpenGpuOptions = {}): Promise<OpenedGpus> {
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  const wanted = (env.CHASE_GPU_BACKEND ?? 'auto').toLowerCase();
  const notes: string[] = [];
  const done = (backend: GpuBackend): OpenedGpus => ({ backend, notes, visibility: resolveVisibleDevices(backend.devices(), env) });

  if (wanted === 'simulated') {
    notes.push('CHASE_GPU_BACKEND=simulated: using simulated GPUs.');
    return done(simulated(env, now));
  }
  if (!['auto', 'nvml', 'zeusd'].includes(wanted)) throw new GpuError(`CHASE_GPU_BACKEND must be auto, nvml, zeusd or simulated (got "${wanted}").`, 'BAD_CONFIG');

  // A malformed ZEUSD_HOST_PORT is a configuration error, reported before anything is opened.
  const zeusd = wanted === 'nvml' ? undefined : zeusdSettingsFromEnv(env);
  const nvml = openNvml(env, notes, now);
  if (zeusd) {
    try {
      const backend = await ZeusdBackend.open(new ZeusdClient(zeusd), nvml, now);
      return done(backend);
    } catch (e) {
      notes.push(`zeusd at ${describeEndpoint(zeusd.endpoint)} (${zeusd.source}) is not usable: ${e instanceof Error ? e.message : String(e)}`);
      if (wanted === 'zeusd') throw new GpuError(notes.join(' '), 'BACKEND_UNAVAILABLE');
    }
  } else if (wanted === 'zeusd') {
    throw new GpuError("CHASE_GPU_BACKEND=zeusd needs CHASE_ZEUSD_SOCKET or ZEUSD_SOCK_PATH (zeusd's Unix socket), or ZEUSD_HOST_PORT (zeusd in TCP mode).", 'BAD_CONFIG');
  }
  if (nvml) return done(nvml);
  if (wanted === 'nvml') throw new GpuError(notes.join(' '), 'BACKEND_UNAVAILABLE');
  const sim = simulated(env, now);
  notes.push(`Showing ${sim.devices().length} simulated GPU(s): ${sim.label}.`);
  return done(sim);
}

export interface GpuControlHandle extends OpenedGpus {
  /** This agent's own limit setter: restores what a killed agent of this state dir left behind. */
  guard: PowerLimitGuard;
  /** Who sets limits for runs: the guard, or the privileged service (CHASE_AGENT_SOCKET). */
  limits: GpuLimits;
  /** What `restoreLeftovers()` did at startup. */
  leftovers: RestoreReport;
  /** Restores every limit this agent set, removes the exit handlers, closes the backend. */
  stop(): Promise<void>;
}

/**
 * Opens the backend for reads, and says whether the privileged limits service sets the limits:
 * CHASE_AGENT_SOCKET names its socket. The service works with NVML reads here (zeusd is then not
 * used); without a driver the agent falls back as usual, and says so.
 */
export async function openGpusForLimits(options: OpenGpuOptions): Promise<OpenedGpus & { serviceSocket?: string }> {
  const env = options.env ?? process.env;
  const socket = env.CHASE_AGENT_SOCKET || undefined;
  if (!socket) return openGpuBackend(options);
  const wanted = (env.CHASE_GPU_BACKEND ?? 'auto').toLowerCase();
  if (!['auto', 'nvml'].includes(wanted)) throw new GpuError(`CHASE_AGENT_SOCKET (the Chase service) works with the NVIDIA driver only, but CHASE_GPU_BACKEND=${wanted}: unset one of them.`, 'BAD_CONFIG');
  const opened = await openGpuBackend({ ...options, env: { ...env, CHASE_ZEUSD_SOCKET: '', ZEUSD_SOCK_PATH: '', ZEUSD_HOST_PORT: '' } });
  if (opened.backend.kind === 'nvml') return { ...opened, serviceSocket: socket };
  opened.notes.push(`CHASE_AGENT_SOCKET names the Chase service at ${socket}, but there is no NVIDIA driver here, so the service is not used.`);
  return opened;
}

/**
 * The agent's GPU start-up, in the order safety needs: open the backend, restore limits a killed
 * agent left behind (before anything else touches a GPU), then install the exit/signal handlers
 * that restore this agent's own limits. `serve` should call this first.
 */
export async function startGpuControl(options: OpenGpuOptions & { log: Logger; journal?: LimitJournal }): Promise<GpuControlHandle> {
  const env = options.env ?? process.env;
  const { serviceSocket, ...opened } = await openGpusForLimits(options);
  for (const note of opened.notes) options.log.info(note);
  for (const w of [...opened.visibility.refused, ...opened.visibility.warnings]) options.log.warn(w);
  // Simulated GPUs exist per process: their claims stay in it (no claim files shared across processes).
  const claims = opened.backend.simulated ? undefined : new GpuClaims(defaultClaimsDir(env));
  const guard = new PowerLimitGuard(opened.backend, { journal: options.journal ?? new LimitJournal(), log: options.log, visible: opened.visibility.devices, now: options.now, claims });
  const leftovers = guard.restoreLeftovers();
  const uninstall = guard.installExitHandlers();
  const limits: GpuLimits = serviceSocket ? new ServiceLimits(serviceSocket, opened.backend, options.log) : guard;
  if (serviceSocket) opened.notes.push(`Power limits are set by the Chase service at ${serviceSocket}.`);
  return {
    ...opened,
    guard,
    limits,
    leftovers,
    async stop() {
      if (limits !== guard) await limits.restoreAll();
      await guard.restoreAll();
      uninstall();
      await opened.backend.close();
    },
  };
}
