/**
 * `chase-agent serve --socket PATH`: the privileged half of Chase, limits only (docs/gpu.md, "Trust
 * model"). Typically root under systemd (packaging/systemd), on a Unix socket only one group may
 * open. Its whole surface is protocol/limits.ts: it leases GPUs to a process that the connecting
 * user owns (checked with the kernel's peer credentials, SO_PEERCRED, against /proc/PID), sets
 * their power limits, and puts them back. It never launches a process and never opens a path a
 * client names; the editor's methods (startRun, exportRun, configure…) are "method not found".
 *
 * A lease ends — its GPUs restored through the guard — on `release`, when its process exits (polled
 * every second, pid + start time so a reused pid does not keep it alive), or when the client's
 * connection closes. One client leaving, however abruptly, ends only its own leases.
 *
 * Start-up order: the socket path is checked (a regular file is never deleted; a live service's
 * socket is never taken over), GPU control starts (restoring what a killed service left behind),
 * then it listens.
 */
import { chmodSync, chownSync, lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { createMessageConnection, ErrorCodes, ResponseError, SocketMessageReader, SocketMessageWriter, type MessageConnection } from 'vscode-languageserver/node';
import { createLogger, describeError } from '../log';
import type { GpuControlHandle } from '../gpu/index';
import { startGpuControlForServer } from './connection';
import { GpuClaimedError } from '../gpu/safety/claims';
import { GpuControlRefusedError } from '../gpu/safety/guard';
import type { GpuLease } from '../gpu/limits';
import { LimitsErrorCodes, LimitsMethods, type ClaimParams, type ClaimResult, type LimitsHelloResult, type SetLeaseLimitParams, type SetLeaseLimitResult } from '../protocol/limits';
import { peerCredentials, type PeerCredentials } from './peerCredentials';
import { notifySafely } from './notify';
import { onRequest } from './rpc';
import { processOwnerUid, processStartTime, sameProcessAlive, userName } from '../process';
import { agentVersion } from '../version';

const log = createLogger('service');

export interface LimitsServiceOptions {
  path: string;
  /** Group given the socket (numeric gid, resolved when the options were parsed); default: the process's. */
  gid?: number;
  /** Octal mode of the socket file (0660). */
  mode: number;
}

/** How often leased pids are checked for having exited. */
const PID_POLL_MS = 1_000;

interface Lease {
  id: string;
  lease: GpuLease;
  client: Client;
  pid: number;
  pidStart: string | undefined;
  runId: string;
}

interface Client {
  rpc: MessageConnection;
  peer: PeerCredentials;
  user: string;
}

/**
 * Refuses a path that is anything but a dead socket: a regular file (or a directory, a link…) is
 * never deleted, and a socket someone still listens on belongs to a live service.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  let kind: string;
  try {
    const st = lstatSync(path);
    kind = st.isSocket() ? 'socket' : st.isFile() ? 'a regular file' : st.isDirectory() ? 'a directory' : st.isSymbolicLink() ? 'a symbolic link' : 'not a socket';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new Error(`cannot check ${path}: ${describeError(e)}`);
  }
  if (kind !== 'socket') throw new Error(`${path} exists and is ${kind}, not a socket; refusing to replace it. Choose another --socket path or remove it yourself.`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => (probe.destroy(), resolve(true)));
    probe.once('error', () => resolve(false)); // ECONNREFUSED: nobody listens any more
  });
  if (live) throw new Error(`another service is listening on ${path}; stop it first (systemctl stop chase-agent) or choose another --socket path.`);
  unlinkSync(path); // a stale socket of a killed service
}

/** That the pid of a (schema-checked) claim is a live process of the connecting user (root: anyone's). */
function checkOwner(p: ClaimParams, client: Client): ClaimParams {
  const owner = processOwnerUid(p.pid);
  if (owner === undefined) throw new ResponseError(LimitsErrorCodes.notYourProcess, `No process ${p.pid} is running; claim GPUs for a live process of yours.`);
  if (client.peer.uid !== 0 && owner !== client.peer.uid) {
    throw new ResponseError(LimitsErrorCodes.notYourProcess, `Process ${p.pid} belongs to ${userName(owner)}, not to ${client.user}: the Chase service sets limits only for your own processes.`);
  }
  return p;
}

function asResponseError(e: unknown): ResponseError<void> {
  if (e instanceof ResponseError) return e;
  if (e instanceof GpuClaimedError) return new ResponseError(LimitsErrorCodes.claimRefused, e.message);
  if (e instanceof GpuControlRefusedError) return new ResponseError(LimitsErrorCodes.controlRefused, e.message);
  log.error('request failed', e);
  return new ResponseError(ErrorCodes.InternalError, describeError(e));
}

export class LimitsService {
  private readonly leases = new Map<string, Lease>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly gpu: GpuControlHandle) {
    this.timer = setInterval(() => void this.endDeadLeases(), PID_POLL_MS);
  }

  /** Serves one client on its socket until it disconnects. */
  accept(socket: Socket): void {
    let peer: PeerCredentials;
    try {
      peer = peerCredentials(socket);
    } catch (e) {
      log.warn(`refusing a client whose credentials cannot be read: ${describeError(e)}`);
      socket.destroy();
      return;
    }
    const rpc = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
    const client: Client = { rpc, peer, user: userName(peer.uid) };
    log.info(`client pid ${peer.pid} (${client.user}) connected`);
    socket.on('error', (e) => log.warn(`client pid ${peer.pid}: ${e.message}`));
    // each request's parameters are checked against its schema (protocol/limits.ts) before its handler runs
    onRequest(rpc, LimitsMethods.hello, () => this.hello(), asResponseError);
    onRequest(rpc, LimitsMethods.claim, (p) => this.claim(checkOwner(p, client), client), asResponseError);
    onRequest(rpc, LimitsMethods.setLimit, (p) => this.setLimit(p, client), asResponseError);
    onRequest(rpc, LimitsMethods.release, (p) => this.release(this.leaseOf(p.leaseId, client), 'released'), asResponseError);
    rpc.onClose(() => {
      log.info(`client pid ${peer.pid} (${client.user}) disconnected`);
      for (const l of [...this.leases.values()]) if (l.client === client) void this.release(l, 'its client disconnected');
      rpc.dispose();
    });
    rpc.listen();
  }

  private async hello(): Promise<LimitsHelloResult> {
    const gpus = await Promise.all(
      this.gpu.visibility.devices.map(async (d) => {
        const control = await this.gpu.guard.control(d.index);
        return {
          index: d.index,
          uuid: d.uuid,
          name: d.name,
          minLimitMw: d.minLimitMw,
          maxLimitMw: d.maxLimitMw,
          defaultLimitMw: d.defaultLimitMw,
          control: control.state,
          ...(control.state === 'advise' ? { reason: control.reason } : {}),
        };
      }),
    );
    return { version: agentVersion, pid: process.pid, gpus };
  }

  private async claim(p: ClaimParams, client: Client): Promise<ClaimResult> {
    const lease = await this.gpu.guard.claimFor(p.gpuUuids, { runId: p.runId, pid: p.pid, user: client.user });
    const id = randomUUID();
    this.leases.set(id, { id, lease, client, pid: p.pid, pidStart: processStartTime(p.pid), runId: p.runId });
    log.info(`lease ${id}: GPU ${lease.uuids.join(', ')} for run ${p.runId} of pid ${p.pid} (${client.user})`);
    return { leaseId: id, gpuUuids: [...lease.uuids] };
  }

  private leaseOf(id: string, client: Client): Lease {
    const l = this.leases.get(id);
    // another client's lease is as unknown to this one as a made-up id
    if (!l || l.client !== client) throw new ResponseError(LimitsErrorCodes.unknownLease, `No lease ${id} on this connection (released, or its process exited); claim the GPUs again.`);
    return l;
  }

  private async setLimit(p: SetLeaseLimitParams, client: Client): Promise<SetLeaseLimitResult> {
    const l = this.leaseOf(p.leaseId, client);
    const r = await l.lease.setLimit(p.powerLimitMw);
    return { requestedMw: r.requestedMw, appliedMw: r.appliedMw, clamped: r.clamped };
  }

  private async release(l: Lease, why: string): Promise<void> {
    if (!this.leases.delete(l.id)) return;
    await l.lease.release();
    log.info(`lease ${l.id} of run ${l.runId} ended (${why}); its GPUs are restored`);
  }

  private async endDeadLeases(): Promise<void> {
    for (const l of [...this.leases.values()]) {
      if (sameProcessAlive(l.pid, l.pidStart)) continue;
      await this.release(l, `pid ${l.pid} exited`);
      notifySafely(l.client.rpc, LimitsMethods.leaseEnded, { leaseId: l.id, reason: `pid ${l.pid} exited` }, log);
    }
  }

  /** Shutdown: ends every lease (restoring its GPUs). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.leases.values()].map((l) => this.release(l, 'the service is stopping')));
  }
}

export async function serveLimits(options: LimitsServiceOptions): Promise<Server> {
  await prepareSocketPath(options.path);
  // The service sets limits itself: a CHASE_AGENT_SOCKET in its environment would point it at itself.
  // The process's one GPU control, shared with its metrics sampler (one guard, one set of claims).
  const gpu = await startGpuControlForServer({ ...process.env, CHASE_AGENT_SOCKET: '' });
  if (!gpu) throw new Error('GPU control could not start (see the log above); the limits service has nothing to serve.');
  const service = new LimitsService(gpu);
  const server = createServer((socket) => service.accept(socket));
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(options.path, resolve));
  chmodSync(options.path, options.mode);
  if (options.gid !== undefined) chownSync(options.path, process.getuid?.() ?? 0, options.gid);
  log.info(`limits service listening on ${options.path} (mode ${options.mode.toString(8).padStart(4, '0')}${options.gid !== undefined ? `, gid ${options.gid}` : ''}); GPUs: ${gpu.visibility.devices.map((d) => d.index).join(', ') || 'none'}`);
  const stop = (): void => {
    server.close();
    void service
      .close()
      .then(() => gpu.stop())
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.once('SIGHUP', stop);
  return server;
}
