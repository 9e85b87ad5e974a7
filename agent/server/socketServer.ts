/**
 * `chase-agent serve --socket PATH`: the agent as a system service (packaging/systemd), holding the
 * privilege to set power limits, on a Unix socket that only a group may use (mode 0660 by default,
 * not zeusd's 0666). Each connection is one client (an editor window) speaking the same JSON-RPC as
 * over IPC; clients come and go without stopping the service, which restores the GPUs when it stops.
 *
 * vscode-languageserver's node entry exits the process when a client's stream closes or it sends
 * `exit`; here each connection gets a watchdog that only closes that client's socket instead.
 */
import { chmodSync, chownSync, existsSync, readFileSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { createConnection as createCommonConnection } from 'vscode-languageserver/lib/common/server';
import { createProtocolConnection, StreamMessageReader, StreamMessageWriter, type Connection } from 'vscode-languageserver/node';
import { createLogger } from '../log';
import { startGpuControlForServer, startServer } from './connection';

const log = createLogger('socket');

export interface SocketServeOptions {
  path: string;
  /** Group allowed to connect (name or numeric gid); default: the process's group. */
  group?: string;
  /** Octal mode of the socket file, default 0660. */
  mode?: number;
}

export function parseMode(raw: string | undefined): number {
  if (raw === undefined) return 0o660;
  if (!/^0?[0-7]{3}$/.test(raw)) throw new Error(`--socket-mode must be an octal mode such as 0660 (got "${raw}")`);
  const mode = parseInt(raw, 8);
  if (mode & 0o007) log.warn(`socket mode ${raw} lets every local user change GPU power limits; 0660 with a group is safer`);
  return mode;
}

/** Resolves a group name from /etc/group (numeric ids pass through). */
export function resolveGid(group: string, groupFile = '/etc/group'): number {
  if (/^\d+$/.test(group)) return Number(group);
  const line = readFileSync(groupFile, 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === group);
  if (!line) throw new Error(`no group "${group}" on this host: create it (groupadd ${group}) and add the users who may control GPUs`);
  return Number(line.split(':')[2]);
}

function connectionFor(socket: Socket): Connection {
  const reader = new StreamMessageReader(socket);
  const writer = new StreamMessageWriter(socket);
  const watchDog = {
    shutdownReceived: false,
    initialize: () => undefined,
    exit: () => socket.end(),
  };
  return createCommonConnection((logger) => createProtocolConnection(reader, writer, logger), watchDog) as unknown as Connection;
}

export async function serveSocket(options: SocketServeOptions): Promise<Server> {
  const gpuControl = startGpuControlForServer();
  await gpuControl;
  if (existsSync(options.path)) unlinkSync(options.path); // a stale socket from a killed service
  const server = createServer((socket) => {
    log.info('client connected');
    socket.on('error', (e) => log.warn(`client socket: ${e.message}`));
    startServer(connectionFor(socket), { gpuControl, ownsGpuControl: false });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(options.path, resolve));
  const mode = options.mode ?? 0o660;
  chmodSync(options.path, mode);
  if (options.group !== undefined) chownSync(options.path, process.getuid?.() ?? 0, resolveGid(options.group));
  log.info(`listening on ${options.path} (mode ${mode.toString(8).padStart(4, '0')}${options.group ? `, group ${options.group}` : ''})`);
  const stop = () => {
    server.close();
    void gpuControl.then((g) => g?.stop()).finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return server;
}
