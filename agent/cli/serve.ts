import type { CliCommand } from './command';
import { startServer } from '../server/connection';

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'run the agent as a JSON-RPC server (what the extension starts); --stdio or --node-ipc',
  usage: `chase-agent serve [--stdio | --node-ipc]

Runs the long-lived agent, speaking JSON-RPC (vscode-languageserver framing) over stdio or a Node
IPC channel. The extension starts it this way. Logs go to stderr.`,
  async run() {
    startServer();
    return new Promise<number>(() => {
      /* runs until the client sends exit */
    });
  },
};
