import { parseArgs } from 'node:util';
import type { CliCommand } from './command';
import { startServer } from '../server/connection';
import { parseMode, serveSocket } from '../server/socketServer';

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'run the agent as a JSON-RPC server (what the extension starts); --stdio, --node-ipc or --socket PATH',
  usage: `chase-agent serve [--stdio | --node-ipc | --socket PATH [--socket-group GROUP] [--socket-mode 0660]]

Runs the long-lived agent, speaking JSON-RPC (vscode-languageserver framing). The extension starts
it over a Node IPC channel. With --socket it runs as a shared service — typically as root under
systemd (packaging/systemd/chase-agent.service) so that it may set power limits — on a Unix socket
that only GROUP may use; set "chase.agent.socket" in VS Code to connect to it. Logs go to stderr.`,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { socket: { type: 'string' }, 'socket-group': { type: 'string' }, 'socket-mode': { type: 'string' }, stdio: { type: 'boolean' }, 'node-ipc': { type: 'boolean' }, clientProcessId: { type: 'string' } },
      strict: false,
    });
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
