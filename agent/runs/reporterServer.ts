/**
 * The agent's end of the Python progress reporter (agent/runs/python/chase_reporter.py).
 *
 * Transport: a Unix socket (mode 0600, in a private directory) or, where there are none, a loopback
 * TCP port. Each run gets a random token, passed to its process in CHASE_RUN_TOKEN; a connection
 * must say `{"event":"hello","token":…}` first and is closed with a reason if the token is unknown.
 * After that, newline-delimited JSON `{"event":"step","steps":n,"samples":m}` lines are credited to
 * that run. Bad JSON or an over-long line closes the connection with an error line; the server
 * itself never throws.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../log';

const MAX_LINE_BYTES = 64 * 1024;

export interface ReporterStep {
  runId: string;
  steps: number;
  samples?: number;
  atMs: number;
}

export interface ReporterEnv {
  CHASE_REPORTER: string;
  CHASE_RUN_TOKEN: string;
}

export class ReporterServer {
  private server: Server | undefined;
  private address: string | undefined;
  private socketDir: string | undefined;
  private readonly tokens = new Map<string, Buffer>();
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

  /** Registers a run; the returned variables go into its process environment. */
  register(runId: string): ReporterEnv {
    if (!this.address) throw new Error('reporter server not started');
    const token = randomBytes(24);
    this.tokens.set(runId, token);
    return { CHASE_REPORTER: this.address, CHASE_RUN_TOKEN: token.toString('hex') };
  }

  unregister(runId: string): void {
    this.tokens.delete(runId);
  }

  private runFor(tokenHex: unknown): string | undefined {
    if (typeof tokenHex !== 'string' || !/^[0-9a-f]+$/i.test(tokenHex)) return undefined;
    const given = Buffer.from(tokenHex, 'hex');
    for (const [runId, token] of this.tokens) if (token.length === given.length && timingSafeEqual(token, given)) return runId;
    return undefined;
  }

  private accept(socket: Socket): void {
    let buffered = '';
    let runId: string | undefined;
    const refuse = (reason: string) => {
      this.log.warn(`reporter connection refused: ${reason}`);
      socket.end(JSON.stringify({ ok: false, error: reason }) + '\n');
    };
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_LINE_BYTES && !buffered.includes('\n')) return refuse('line too long');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let msg: { event?: unknown; token?: unknown; steps?: unknown; samples?: unknown };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          return refuse('malformed JSON');
        }
        if (runId === undefined) {
          runId = msg.event === 'hello' ? this.runFor(msg.token) : undefined;
          if (runId === undefined) return refuse('wrong token: this process was not started by a live Chase run');
          socket.write(JSON.stringify({ ok: true, runId }) + '\n');
          continue;
        }
        if (!this.tokens.has(runId)) return refuse('the run has ended');
        if (msg.event !== 'step') continue;
        const steps = typeof msg.steps === 'number' && msg.steps >= 0 ? msg.steps : 1;
        const samples = typeof msg.samples === 'number' && msg.samples >= 0 ? msg.samples : undefined;
        this.onStep({ runId, steps, ...(samples !== undefined ? { samples } : {}), atMs: this.now() });
      }
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.tokens.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.socketDir) rmSync(this.socketDir, { recursive: true, force: true });
  }
}
