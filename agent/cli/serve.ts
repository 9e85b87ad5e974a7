import { parseArgs } from 'node:util';
import type { CliCommand } from './command';
import { startGpuControlForServer, startServer } from '../server/connection';
import { parseMode, serveSocket } from '../server/socketServer';
import { parseMetricsEndpoint, processTelemetry } from '../server/telemetry';
import { UsageError } from './command';

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'run the agent as a JSON-RPC server (what the extension starts); --stdio, --node-ipc or --socket PATH',
  usage: `chase-agent serve [--stdio | --node-ipc | --socket PATH [--socket-group GROUP] [--socket-mode 0660]] [--metrics HOST:PORT]

Runs the long-lived agent, speaking JSON-RPC (vscode-languageserver framing). The extension starts
it over a Node IPC channel. With --socket it runs as a shared service — typically as root under
systemd (packaging/systemd/chase-agent.service) so that it may set power limits — on a Unix socket
that only GROUP may use; set "chase.agent.socket" in VS Code to connect to it. Logs go to stderr.

--metrics HOST:PORT (or the environment variable CHASE_METRICS=HOST:PORT) serves Prometheus
/metrics for this agent process from the start, whether or not an editor is connected — one
endpoint per process, e.g. 0.0.0.0:9477 for a fleet's Prometheus, :9477 for this machine only.
It then wins over the editors' chase.metrics.* settings, which a --socket service always ignores.`,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { socket: { type: 'string' }, 'socket-group': { type: 'string' }, 'socket-mode': { type: 'string' }, stdio: { type: 'boolean' }, 'node-ipc': { type: 'boolean' }, clientProcessId: { type: 'string' }, metrics: { type: 'string' } },
      strict: false,
    });
    const metricsRaw = typeof values.metrics === 'string' ? values.metrics : process.env.CHASE_METRICS || undefined;
    let metrics;
    try {
      metrics = metricsRaw === undefined ? undefined : parseMetricsEndpoint(metricsRaw, typeof values.metrics === 'string' ? '--metrics' : 'CHASE_METRICS');
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    // a shared service's endpoint is set here or not at all; an editor's session may set its own
    if (metrics || typeof values.socket === 'string') await processTelemetry().pin(metrics, startGpuControlForServer);
    if (typeof values.socket === 'string') {
      await serveSocket({
        path: values.socket,
        ...(typeof values['socket-group'] === 'string' ? { group: values['socket-group'] } : {}),
        mode: parseMode(typeof values['socket-mode'] === 'string' ? values['socket-mode'] : undefined),
      });
    } else {
      startServer();
    }
    return new Promise<number>(() => {
      /* runs until the client sends exit (stdio / IPC) or the service is stopped (socket) */
    });
  },
};
