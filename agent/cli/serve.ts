import { readFileSync } from 'node:fs';
import type { CliCommand } from './command';
import { parseCli, UsageError } from './command';
import { startGpuControlForServer, startServer } from '../server/connection';
import { serveLimits, type LimitsServiceOptions } from '../server/limitsService';
import { parseMetricsEndpoint, processTelemetry, type MetricsEndpoint } from '../server/telemetry';
import { createLogger } from '../log';

const log = createLogger('serve');

/**
 * Every option of `serve`, checked before anything starts (no GPU touched, no socket bound, on a
 * bad one). The extension's languageclient adds --node-ipc / --stdio and --clientProcessId=N.
 * To add an option: declare it here, check it in `parseServeOptions`, use it in `run`.
 */
const OPTIONS = {
  stdio: { type: 'boolean' },
  'node-ipc': { type: 'boolean' },
  clientProcessId: { type: 'string' },
  socket: { type: 'string' },
  'socket-group': { type: 'string' },
  'socket-mode': { type: 'string' },
  metrics: { type: 'string' },
} as const;

export interface ServeOptions {
  /** The limits-only privileged service on a Unix socket; absent: the editor's agent over stdio / IPC. */
  socket?: LimitsServiceOptions;
  /** `--metrics HOST:PORT` or CHASE_METRICS: the process's Prometheus endpoint, pinned from the start. */
  metrics?: MetricsEndpoint;
}

export function parseMode(raw: string | undefined): number {
  if (raw === undefined) return 0o660;
  if (!/^0?[0-7]{3}$/.test(raw)) throw new UsageError(`--socket-mode must be an octal mode such as 0660 (got "${raw}")`);
  const mode = parseInt(raw, 8);
  if (mode & 0o007) log.warn(`socket mode ${raw} lets every local user change GPU power limits; 0660 with a group is safer`);
  return mode;
}

/** Resolves a group name from /etc/group (numeric ids pass through). */
export function resolveGid(group: string, groupFile = '/etc/group'): number {
  if (/^\d+$/.test(group)) return Number(group);
  let lines: string[] = [];
  try {
    lines = readFileSync(groupFile, 'utf8').split('\n');
  } catch {
    /* no group file: every name is unknown */
  }
  const line = lines.find((l) => l.split(':')[0] === group);
  if (!line) throw new UsageError(`--socket-group: no group "${group}" on this host: create it (groupadd ${group}) and add the users who may control GPUs`);
  return Number(line.split(':')[2]);
}

function parseMetrics(flag: string | undefined, env: NodeJS.ProcessEnv): MetricsEndpoint | undefined {
  const raw = flag ?? (env.CHASE_METRICS || undefined);
  if (raw === undefined) return undefined;
  try {
    return parseMetricsEndpoint(raw, flag !== undefined ? '--metrics' : 'CHASE_METRICS');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function parseServeOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): ServeOptions {
  const { values } = parseCli(argv, OPTIONS);
  const metrics = parseMetrics(values.metrics, env);
  const transports = (['stdio', 'node-ipc', 'socket'] as const).filter((t) => values[t] !== undefined);
  if (transports.length > 1) throw new UsageError(`give one of --stdio, --node-ipc, --socket PATH (got --${transports.join(' and --')})`);
  if (values.socket === undefined) {
    const stray = (['socket-group', 'socket-mode'] as const).filter((o) => values[o] !== undefined);
    if (stray.length > 0) throw new UsageError(`--${stray.join(' and --')} only apply with --socket PATH`);
    return metrics ? { metrics } : {};
  }
  if (values.socket.trim() === '') throw new UsageError('--socket needs the path of the Unix socket to listen on, e.g. /run/chase-agent/chase-agent.sock');
  return {
    socket: {
      path: values.socket,
      mode: parseMode(values['socket-mode']),
      ...(values['socket-group'] !== undefined ? { gid: resolveGid(values['socket-group']) } : {}),
    },
    ...(metrics ? { metrics } : {}),
  };
}

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'run the agent: the editor\'s JSON-RPC agent (--stdio, --node-ipc), or the privileged limits service (--socket PATH)',
  usage: `chase-agent serve [--stdio | --node-ipc] [--metrics HOST:PORT]
chase-agent serve --socket PATH [--socket-group GROUP] [--socket-mode 0660] [--metrics HOST:PORT]

Without --socket: the long-lived agent the extension starts, speaking JSON-RPC
(vscode-languageserver framing) on stdio or a Node IPC channel. It runs as you, launches your jobs
and, when CHASE_AGENT_SOCKET names a limits service, has that service set the power limits.

With --socket: the limits-only privileged service — typically root under systemd
(packaging/systemd/chase-agent.service) — on a Unix socket that only GROUP may open (mode 0660). It
sets and restores power limits of GPUs leased to a process the connecting user owns (checked by
the kernel's peer credentials), and nothing else: it never launches a process and never opens a
path a client names. Point VS Code's "chase.agent.socket" (or CHASE_AGENT_SOCKET) at PATH.
It refuses to replace a file that is not a socket, or the socket of a service still listening.

--metrics HOST:PORT (or the environment variable CHASE_METRICS=HOST:PORT) serves Prometheus
/metrics for this agent process from the start, whether or not an editor is connected — one
endpoint per process, e.g. 0.0.0.0:9477 for a fleet's Prometheus, :9477 for this machine only.
It then wins over the editor's chase.metrics.* settings. The limits service serves its GPUs' power,
limits and energy there (it has no carbon source). Logs go to stderr.`,
  async run(argv) {
    const options = parseServeOptions(argv);
    if (options.socket) {
      // the socket is checked and GPU control started (restoring leftovers) before the sampler joins in
      await serveLimits(options.socket);
      await processTelemetry().pin(options.metrics, startGpuControlForServer);
    } else {
      // an endpoint given here is pinned; without one, the editor's chase.metrics.* may set it
      if (options.metrics) await processTelemetry().pin(options.metrics, startGpuControlForServer);
      startServer();
    }
    return new Promise<number>(() => {
      /* runs until the client sends exit (stdio / IPC) or the service is stopped (socket) */
    });
  },
};
