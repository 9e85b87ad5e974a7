/**
 * The user's agent delegating power limits to the privileged limits service (`chase-agent serve
 * --socket PATH`, protocol/limits.ts), when CHASE_AGENT_SOCKET (`chase.agent.socket` in VS Code,
 * `run --agent-socket` on the command line) names its socket. The agent keeps launching jobs and
 * reading GPUs through its own NVML; only limit changes go to the service, under a lease.
 *
 * No journal here: the service journals what it sets, and restores a lease's GPUs when this agent
 * releases it, when the process it was claimed for exits, or when this connection closes — so an
 * agent killed with SIGKILL leaves nothing throttled either.
 *
 * Connection state machine: disconnected → (first use) connected → (socket closed, service
 * restarted) disconnected → (next use) connected again. Leases do not survive a reconnect (the
 * service restored their GPUs when the old connection closed); a run whose lease is gone advises.
 * The service unreachable is advise mode with the reason, never a refused run.
 */
import { connect } from 'node:net';
import { createMessageConnection, ResponseError, SocketMessageReader, SocketMessageWriter, type MessageConnection } from 'vscode-languageserver/node';
import type { GpuBackend, GpuControl } from './backend';
import { GpuError } from './errors';
import { GpuClaimedError } from './safety/claims';
import type { ClaimRequest, GpuLease, GpuLimits, GroupLimitResult } from './limits';
import { LimitsErrorCodes, LimitsMethods, type LimitsGpu, type LimitsHelloResult } from '../protocol/limits';
import { onNotification, sendRequest } from '../protocol/typedRpc';
import { describeError, type Logger } from '../log';

interface Connected {
  rpc: MessageConnection;
  hello: LimitsHelloResult;
  close(): void;
}

/** How long connecting and saying hello may take before the service counts as unreachable. */
const CONNECT_TIMEOUT_MS = 5_000;

export class ServiceLimits implements GpuLimits {
  readonly label: string;
  private connected: Promise<Connected> | undefined;
  /** Live leases of this connection (lease id → its run), to say which ended when. */
  private readonly leases = new Map<string, string>();

  constructor(
    readonly socketPath: string,
    /** Local reads: maps the runs' backend indices to UUIDs. */
    private readonly backend: GpuBackend,
    private readonly log: Logger,
  ) {
    this.label = `the Chase service at ${socketPath}`;
  }

  private connection(): Promise<Connected> {
    this.connected ??= this.open().catch((e: unknown) => {
      this.connected = undefined; // try again at the next use
      throw e;
    });
    return this.connected;
  }

  private async open(): Promise<Connected> {
    const socket = connect(this.socketPath);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      socket.once('connect', () => (clearTimeout(timer), resolve()));
      socket.once('error', (e) => (clearTimeout(timer), reject(e)));
    }).catch((e: unknown) => {
      socket.destroy();
      throw new GpuError(
        `Cannot reach the Chase service at ${this.socketPath} (${describeError(e)}). Is chase-agent.service running (systemctl status chase-agent), and is this user in its group (ls -l ${this.socketPath})? Until then Chase only advises.`,
        'SERVICE_UNREACHABLE',
        { cause: e },
      );
    });
    socket.on('error', (e) => this.log.warn(`connection to ${this.label}: ${e.message}`));
    const rpc = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
    rpc.onClose(() => {
      if (this.leases.size > 0) this.log.warn(`${this.label} closed the connection; it restored the GPUs of run(s) ${[...new Set(this.leases.values())].join(', ')}`);
      this.leases.clear();
      this.connected = undefined;
    });
    onNotification(rpc, LimitsMethods.leaseEnded, (p) => {
      const run = this.leases.get(p.leaseId);
      this.leases.delete(p.leaseId);
      this.log.info(`${this.label} ended the lease of run ${run ?? '?'}: ${p.reason}`);
    });
    rpc.listen();
    try {
      let timer: NodeJS.Timeout | undefined;
      const hello = await Promise.race([
        sendRequest(rpc, LimitsMethods.hello),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS))),
      ]).finally(() => clearTimeout(timer));
      this.log.info(`power limits are set by ${this.label} (chase-agent ${hello.version}, pid ${hello.pid})`);
      return { rpc, hello, close: () => (rpc.dispose(), socket.end()) };
    } catch (e) {
      rpc.dispose();
      socket.destroy();
      throw new GpuError(`${this.socketPath} does not answer as a Chase limits service (${describeError(e)}). Point chase.agent.socket / CHASE_AGENT_SOCKET at the socket of \`chase-agent serve --socket\`.`, 'SERVICE_UNREACHABLE', { cause: e });
    }
  }

  private gpuControl(hello: LimitsHelloResult, uuid: string): GpuControl {
    const g: LimitsGpu | undefined = hello.gpus.find((x) => x.uuid === uuid);
    if (!g) return { state: 'advise', reason: `${this.label} does not manage GPU ${uuid} (it manages ${hello.gpus.map((x) => x.uuid).join(', ') || 'none'}).` };
    return g.control === 'permitted' ? { state: 'permitted' } : { state: 'advise', reason: `${this.label} may not set this GPU's limit: ${g.reason ?? 'no reason given'}` };
  }

  async control(index: number): Promise<GpuControl> {
    const uuid = this.backend.devices().find((d) => d.index === index)?.uuid;
    if (!uuid) return { state: 'advise', reason: `No GPU with index ${index} here.` };
    try {
      return this.gpuControl((await this.connection()).hello, uuid);
    } catch (e) {
      return { state: 'advise', reason: describeError(e) };
    }
  }

  async claim(uuids: string[], request: ClaimRequest): Promise<GpuLease> {
    let c: Connected;
    try {
      c = await this.connection();
    } catch (e) {
      // unreachable: the run goes ahead and advises, saying why
      return adviseLease(uuids, describeError(e));
    }
    let leaseId: string;
    try {
      leaseId = (await sendRequest(c.rpc, LimitsMethods.claim, { pid: request.pid, gpuUuids: uuids, runId: request.runId })).leaseId;
    } catch (e) {
      if (e instanceof ResponseError && e.code === LimitsErrorCodes.claimRefused) throw new GpuClaimedError(e.message);
      if (e instanceof ResponseError) throw new GpuError(`${this.label} refused the GPUs: ${e.message}`, 'SERVICE_REFUSED', { cause: e });
      return adviseLease(uuids, `${this.label} did not answer the claim: ${describeError(e)}`);
    }
    this.leases.set(leaseId, request.runId);
    let released: Promise<void> | undefined;
    return {
      uuids,
      control: async () => {
        const refused = uuids.map((u) => this.gpuControl(c.hello, u)).find((x) => x.state === 'advise');
        return refused ?? { state: 'permitted' };
      },
      setLimit: async (mw): Promise<GroupLimitResult> => {
        if (released || !this.leases.has(leaseId)) throw new GpuError(`The lease of run ${request.runId} at ${this.label} has ended (released, its process exited, or the service restarted); its GPUs are restored.`, 'LEASE_ENDED');
        const r = await sendRequest(c.rpc, LimitsMethods.setLimit, { leaseId, powerLimitMw: mw });
        return { ...r, results: [] };
      },
      release: () =>
        (released ??= (async () => {
          if (!this.leases.delete(leaseId)) return; // ended by the service already
          try {
            await sendRequest(c.rpc, LimitsMethods.release, { leaseId });
          } catch (e) {
            // a closed connection has ended the lease anyway: the service restored the GPUs
            this.log.warn(`releasing the lease of run ${request.runId} at ${this.label}: ${describeError(e)}`);
          }
        })()),
    };
  }

  async restoreAll(): Promise<void> {
    const c = await this.connected?.catch(() => undefined);
    this.connected = undefined;
    if (!c) return;
    await Promise.all([...this.leases.keys()].map((leaseId) => sendRequest(c.rpc, LimitsMethods.release, { leaseId }).catch(() => undefined)));
    this.leases.clear();
    c.close();
  }
}

/** A lease that sets nothing: the run advises and its summary says why. */
function adviseLease(uuids: string[], reason: string): GpuLease {
  return {
    uuids,
    control: async () => ({ state: 'advise', reason }),
    setLimit: async () => {
      throw new GpuError(reason, 'ADVISE_MODE');
    },
    release: async () => undefined,
  };
}
