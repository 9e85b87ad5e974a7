/**
 * The agent's end of the Python progress reporter (agent/runs/python/chase_reporter.py); the wire
 * is declared in agent/protocol/reporter.ts.
 *
 * Transport: a Unix socket (mode 0600, in a private directory) or, where there are none, a loopback
 * TCP port. Each run gets a random token, passed to its process in CHASE_RUN_TOKEN; a connection
 * must say `{"event":"hello","token":…}` first and is closed with a reason if the token is unknown.
 * After that, newline-delimited JSON `{"event":"step","steps":n,"samples":m}` lines are credited to
 * that run, and (protocol 2) requests `{"id":n,"op":…}` are checked against their op's schema and
 * role, handed to the run's {@link ReporterHandler}, and answered in order.
 *
 * Bounds: a line over 64 KiB, bad JSON, or a token of a run that ended closes the connection with an
 * error line; at most {@link MAX_CONNECTIONS_PER_RUN} connections per run; requests beyond
 * {@link REQUEST_BURST} at once or {@link REQUESTS_PER_S} sustained are answered "rate limited"
 * without reaching the handler. The server itself never throws.
 *
 * Roles (who speaks for a node): the first connection of a run to send a leader op is the node's
 * leader until it closes; `job` makes the leader the job's coordinator (global rank 0). Anything
 * else from another connection of the run is refused with who holds the role.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { delimiter, join } from 'node:path';
import { tmpdir } from 'node:os';
import * as v from 'valibot';
import { createLogger, userMessage } from '../log';
import { packageRoot } from '../paths';
import { describeIssues } from '../protocol/paramSchema';
import { MAX_REPORTER_LINE_BYTES, REPORTER_PROTOCOL_VERSION, ReporterOps, type OpParams, type OpResult, type ReporterOpName } from '../protocol/reporter';

/** The folder holding chase_reporter.py, put on every job's PYTHONPATH so that `import chase_reporter` works with no set-up. */
export const reporterPythonDir = join(packageRoot, 'agent', 'runs', 'python');

/** The job's PYTHONPATH: the user's own entries first (their copy of a module wins), then the reporter's folder. */
export function jobPythonPath(userPythonPath: string | undefined): string {
  const entries = (userPythonPath ?? '').split(delimiter).filter((p) => p !== '');
  return [...entries.filter((p) => p !== reporterPythonDir), reporterPythonDir].join(delimiter);
}

export const MAX_CONNECTIONS_PER_RUN = 1024;
/** Requests a connection may send at once, and sustained per second (a sync round is 1–3 requests every N steps). */
export const REQUEST_BURST = 200;
export const REQUESTS_PER_S = 100;

export interface ReporterStep {
  runId: string;
  steps: number;
  samples?: number;
  atMs: number;
}

export interface ReporterEnv {
  CHASE_REPORTER: string;
  CHASE_RUN_TOKEN: string;
  PYTHONPATH: string;
}

/** The job process a request came from, as its connection's hello described it. */
export interface ReporterPeer {
  runId: string;
  pid?: number;
}

/** A run's answers to the job's requests. A {@link ReporterRefusal}'s message goes to the job as it is. */
export type ReporterHandler = {
  [K in ReporterOpName]: (params: OpParams<K>, peer: ReporterPeer) => OpResult<K> | Promise<OpResult<K>>;
};

/** A request the run refuses, with a message for the job's user (e.g. "mixed GPU models across nodes: …"). */
export class ReporterRefusal extends Error {
  override readonly name = 'ReporterRefusal';
}

interface RunEntry {
  token: Buffer;
  handler?: ReporterHandler;
  connections: number;
  leader?: Connection;
  coordinator?: Connection;
}

interface Connection {
  socket: Socket;
  runId?: string;
  pid?: number;
  /** Token bucket for requests. */
  tokens: number;
  refilledAtMs: number;
}

type Incoming = { event?: unknown; token?: unknown; steps?: unknown; samples?: unknown; pid?: unknown; id?: unknown; op?: unknown; [k: string]: unknown };

export class ReporterServer {
  private server: Server | undefined;
  private address: string | undefined;
  private socketDir: string | undefined;
  private readonly runs = new Map<string, RunEntry>();
  private readonly log = createLogger('reporter');

  constructor(
    private readonly onStep: (step: ReporterStep) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts listening; `transport` defaults to a Unix socket except on Windows. */
  async start(transport: 'unix' | 'tcp' = process.platform === 'win32' ? 'tcp' : 'unix'): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    if (transport === 'unix') {
      this.socketDir = mkdtempSync(join(tmpdir(), 'chase-reporter-'));
      const path = join(this.socketDir, 'reporter.sock');
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
      chmodSync(path, 0o600);
      this.address = `unix:${path}`;
    } else {
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
      const a = server.address();
      this.address = `tcp:127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
    }
  }

  /**
   * Registers a run; the returned variables go into its process environment (PYTHONPATH: the user's
   * `pythonPath` with the reporter's folder appended). Without a `handler` the run's requests are
   * answered "not coordinated" and the job's ranks fall back to deciding per node.
   */
  register(runId: string, options: { pythonPath?: string; handler?: ReporterHandler } = {}): ReporterEnv {
    if (!this.address) throw new Error('reporter server not started');
    const token = randomBytes(24);
    this.runs.set(runId, { token, connections: 0, ...(options.handler ? { handler: options.handler } : {}) });
    return { CHASE_REPORTER: this.address, CHASE_RUN_TOKEN: token.toString('hex'), PYTHONPATH: jobPythonPath(options.pythonPath) };
  }

  unregister(runId: string): void {
    this.runs.delete(runId);
  }

  private runFor(tokenHex: unknown): string | undefined {
    if (typeof tokenHex !== 'string' || !/^[0-9a-f]+$/i.test(tokenHex)) return undefined;
    const given = Buffer.from(tokenHex, 'hex');
    for (const [runId, run] of this.runs) if (run.token.length === given.length && timingSafeEqual(run.token, given)) return runId;
    return undefined;
  }

  private accept(socket: Socket): void {
    let buffered = '';
    const conn: Connection = { socket, tokens: REQUEST_BURST, refilledAtMs: this.now() };
    /** Requests are answered in arrival order: each waits for the one before. */
    let queue: Promise<void> = Promise.resolve();
    let closed = false;
    const refuse = (reason: string) => {
      if (closed) return;
      closed = true;
      this.log.warn(`reporter connection refused: ${reason}`);
      socket.end(JSON.stringify({ ok: false, error: reason }) + '\n');
    };
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      closed = true;
      const run = conn.runId !== undefined ? this.runs.get(conn.runId) : undefined;
      if (!run) return;
      run.connections--;
      if (run.leader === conn) run.leader = undefined;
      if (run.coordinator === conn) run.coordinator = undefined;
    });
    socket.on('data', (chunk: string) => {
      if (closed) return;
      buffered += chunk;
      if (Buffer.byteLength(buffered) > MAX_REPORTER_LINE_BYTES && buffered.indexOf('\n') < 0) return refuse(`line too long (over ${MAX_REPORTER_LINE_BYTES} bytes)`);
      let nl: number;
      while (!closed && (nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (Buffer.byteLength(line) > MAX_REPORTER_LINE_BYTES) return refuse(`line too long (over ${MAX_REPORTER_LINE_BYTES} bytes)`);
        let msg: Incoming;
        try {
          msg = JSON.parse(line) as Incoming;
        } catch {
          return refuse('malformed JSON');
        }
        if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return refuse('each line must be a JSON object');
        if (conn.runId === undefined) {
          const runId = msg.event === 'hello' ? this.runFor(msg.token) : undefined;
          if (runId === undefined) return refuse('wrong token: this process was not started by a live Chase run');
          const run = this.runs.get(runId)!;
          if (run.connections >= MAX_CONNECTIONS_PER_RUN) return refuse(`too many connections for this run (at most ${MAX_CONNECTIONS_PER_RUN})`);
          run.connections++;
          conn.runId = runId;
          if (typeof msg.pid === 'number' && Number.isInteger(msg.pid) && msg.pid > 0) conn.pid = msg.pid;
          socket.write(JSON.stringify({ ok: true, runId, v: REPORTER_PROTOCOL_VERSION }) + '\n');
          continue;
        }
        const run = this.runs.get(conn.runId);
        if (!run) return refuse('the run has ended');
        if (msg.id !== undefined || msg.op !== undefined) {
          const answer = this.request(conn, run, msg);
          queue = queue.then(async () => {
            const reply = await answer;
            if (!closed) socket.write(JSON.stringify(reply) + '\n');
          });
          continue;
        }
        if (msg.event !== 'step') continue;
        const steps = typeof msg.steps === 'number' && msg.steps >= 0 ? msg.steps : 1;
        const samples = typeof msg.samples === 'number' && msg.samples >= 0 ? msg.samples : undefined;
        this.onStep({ runId: conn.runId, steps, ...(samples !== undefined ? { samples } : {}), atMs: this.now() });
      }
    });
  }

  /** Whether the connection may send one more request now (token bucket). */
  private takeToken(conn: Connection): boolean {
    const now = this.now();
    conn.tokens = Math.min(REQUEST_BURST, conn.tokens + ((now - conn.refilledAtMs) / 1000) * REQUESTS_PER_S);
    conn.refilledAtMs = now;
    if (conn.tokens < 1) return false;
    conn.tokens -= 1;
    return true;
  }

  /** Checks one request (id, rate, op, role, params) and has the run's handler answer it. Never throws. */
  private async request(conn: Connection, run: RunEntry, msg: Incoming): Promise<Record<string, unknown>> {
    const id = typeof msg.id === 'number' && Number.isSafeInteger(msg.id) && msg.id >= 0 ? msg.id : null;
    const fail = (error: string) => ({ id, ok: false, error });
    if (id === null) return fail('a request needs "id", a whole number ≥ 0');
    if (!this.takeToken(conn)) return fail(`rate limited: at most ${REQUESTS_PER_S} requests per second (a sync round every few steps needs far fewer)`);
    const name = msg.op;
    if (typeof name !== 'string' || !Object.hasOwn(ReporterOps, name)) {
      return fail(`unknown op ${JSON.stringify(name)} (this agent speaks reporter protocol ${REPORTER_PROTOCOL_VERSION}: ${Object.keys(ReporterOps).join(', ')})`);
    }
    const opName = name as ReporterOpName;
    const spec = ReporterOps[opName];
    if (!run.handler) return fail(`this agent does not coordinate distributed jobs for run ${conn.runId}: each node decides alone`);
    const role = this.claimRole(conn, run, opName, spec.role);
    if (role) return fail(role);
    const { id: _id, op: _op, ...rest } = msg;
    const parsed = v.safeParse(spec.params as v.GenericSchema<unknown, unknown>, rest);
    if (!parsed.success) return fail(`${opName}: ${describeIssues(parsed.issues)}`);
    try {
      const handle = run.handler[opName] as (p: unknown, peer: ReporterPeer) => unknown;
      const result = (await handle(parsed.output, { runId: conn.runId!, ...(conn.pid !== undefined ? { pid: conn.pid } : {}) })) as Record<string, unknown>;
      return { id, ok: true, ...result };
    } catch (e) {
      if (e instanceof ReporterRefusal) return fail(e.message);
      return fail(userMessage(e, `reporter op ${opName}`));
    }
  }

  /** Undefined when `conn` may send an op of `role` (taking the role if free); else why not. */
  private claimRole(conn: Connection, run: RunEntry, opName: ReporterOpName, role: 'leader' | 'coordinator'): string | undefined {
    const held = (c: Connection | undefined) => `pid ${c?.pid ?? '?'}`;
    if (run.leader !== undefined && run.leader !== conn) return `${opName}: another process of this job (${held(run.leader)}) already speaks for this node; only the node's local rank 0 may`;
    if (role === 'coordinator') {
      if (run.coordinator !== undefined && run.coordinator !== conn) return `${opName}: another process of this job (${held(run.coordinator)}) is already its coordinator`;
      if (opName !== 'job' && run.coordinator !== conn) return `${opName}: only the job's coordinator (global rank 0, after "job") may`;
      run.coordinator = conn;
    }
    run.leader = conn;
    return undefined;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.runs.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.socketDir) rmSync(this.socketDir, { recursive: true, force: true });
  }
}
