/**
 * `chase-agent serve --socket`: the limits-only privileged service (issue 12, findings 2, 4, 6, 10,
 * 8), for real: the service runs as root (as under systemd) on the fake NVML library, and its
 * clients run as the unprivileged user `nobody` (runuser), connecting through the socket's group.
 *
 * It proves: the editor's methods do not exist on the service (no startRun / exportRun / configure:
 * nothing to spawn or open as root); a claim for another user's process is refused; a claim for the
 * client's own process works and its limit is set; the limit is restored when that process dies and
 * when the client disconnects; two clients never both get GPU 0, and one client disconnecting
 * abruptly ends only its own lease; the user's own agent (`run --agent-socket`) delegates its limits
 * to the service. And `serve`'s options: a regular file at the socket path is never deleted, a live
 * service's socket never taken over, a missing group refused before listening.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { ErrorCodes } from 'vscode-jsonrpc/node';
import { LimitsErrorCodes, LimitsMethods, type ClaimResult, type LimitsHelloResult } from '../../agent/protocol/limits';
import { Methods } from '../../agent/protocol/messages';
import { agentJs, repoRoot, runAgentCli } from './agentProcess';
import { fakeEnv, readFakeLimits, tempDir, writeFakeState } from '../unit/gpu/fakeNvml';
import { waitFor } from './waitFor';

const U0 = 'GPU-11111111-aaaa-0000';
const U1 = 'GPU-22222222-bbbb-0001';
const NOBODY = 65534;
const CLIENT = join(__dirname, 'fixtures', 'limitsClient.js');
const demo = join(repoRoot, 'sample-workspace', 'train_demo.py');
const isRoot = process.getuid?.() === 0;

interface Reply {
  result?: unknown;
  error?: { code: number; message: string };
}

/** A limits client running as `nobody` (fixtures/limitsClient.ts), driven over its stdin/stdout. */
class NobodyClient {
  readonly proc: ChildProcess;
  private next = 1;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  readonly notifications: Array<{ method: string; params: unknown }> = [];
  readonly ready: Promise<{ pid: number }>;

  constructor(socket: string) {
    this.proc = spawn('runuser', ['-u', 'nobody', '--', process.execPath, CLIENT, socket], { stdio: ['pipe', 'pipe', 'inherit'] });
    let readyResolve!: (v: { pid: number }) => void;
    this.ready = new Promise((r) => (readyResolve = r));
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as Reply & { id?: number; event?: string; pid?: number; method?: string; params?: unknown; message?: string };
      if (m.event === 'ready') readyResolve({ pid: m.pid! });
      else if (m.event === 'notification') this.notifications.push({ method: m.method!, params: m.params });
      else if (m.event === 'error') readyResolve(Promise.reject(new Error(m.message)) as never);
      else if (m.id !== undefined) this.waiting.get(m.id)?.(m);
    });
  }

  private send(cmd: Record<string, unknown>): Promise<Reply> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.proc.stdin!.write(JSON.stringify({ id, ...cmd }) + '\n');
    });
  }

  request(method: string, params?: unknown): Promise<Reply> {
    return this.send({ op: 'request', method, params });
  }

  async claim(pid: number, gpuUuids: string[], runId = 'run-nobody'): Promise<Reply & { result?: ClaimResult }> {
    return this.request(LimitsMethods.claim.method, { pid, gpuUuids, runId }) as Promise<Reply & { result?: ClaimResult }>;
  }

  /** A process of `nobody` to claim GPUs for. */
  async spawnJob(): Promise<number> {
    return ((await this.send({ op: 'spawn' })).result as { pid: number }).pid;
  }

  kill(pid: number): Promise<Reply> {
    return this.send({ op: 'kill', pid });
  }

  /** Closes the socket without releasing anything (a crashed or killed user agent). */
  drop(): Promise<Reply> {
    return this.send({ op: 'drop' });
  }

  /** Ends the client (it kills its jobs and exits). */
  close(): Promise<unknown> {
    if (this.proc.exitCode !== null) return Promise.resolve();
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.stdin!.end();
    return exited;
  }
}

/** A fake machine readable by `nobody` (the user's agent loads the fake NVML too, for its reads). */
function machine() {
  const dir = tempDir('chase-svc-');
  chmodSync(dir, 0o755);
  const state = join(dir, 'state.txt');
  writeFakeState(state, [U0, U1].map((uuid) => ({ uuid, name: 'NVIDIA A40', arch: 7, min: 100000, max: 300000, default: 300000, limit: 300000, demand: 250000 })));
  chmodSync(state, 0o644);
  return { dir, state, socket: join(dir, 'chase-agent.sock') };
}

function startService(socket: string, env: NodeJS.ProcessEnv, extra: string[] = []) {
  const proc = spawn(process.execPath, [agentJs, 'serve', '--socket', socket, ...extra], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, stderr: () => stderr, exited, listening: () => waitFor(() => /listening on/.test(stderr) || undefined, `the service to listen; stderr: ${stderr}`, 15_000) };
}

const limitOf = (state: string, uuid: string) => readFakeLimits(state)[uuid];

describe('the limits service as root, its clients as nobody', { skip: isRoot ? false : 'needs root (to run the service as root and its clients as nobody)' }, () => {
  const m = machine();
  let service: ReturnType<typeof startService>;
  const clients: NobodyClient[] = [];
  const client = async () => {
    const c = new NobodyClient(m.socket);
    clients.push(c);
    await c.ready;
    return c;
  };
  before(async () => {
    service = startService(m.socket, fakeEnv(m.state, join(m.dir, 'service-state')), ['--socket-group', 'nogroup']);
    await service.listening();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    if (service.proc.exitCode === null) service.proc.kill('SIGKILL');
  });

  it('listens on a socket of mode 0660 and the given group', () => {
    const st = statSync(m.socket);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(st.gid, NOBODY);
  });

  it('has no editor methods: startRun, exportRun, configure (with a traceFile) are "method not found"', async () => {
    const c = await client();
    const secret = join(m.dir, 'root-only.txt');
    writeFileSync(secret, 'first line of a root-only file\n', { mode: 0o600 });
    const marker = join(m.dir, 'spawned-as-root');
    const probes: Array<[string, unknown]> = [
      [Methods.startRun.method, { command: 'touch', args: [marker], budgetPct: 2.5 }],
      [Methods.exportRun.method, { runId: 'x', format: 'json', outFile: join(m.dir, 'written-as-root.json') }],
      [Methods.configure.method, { carbon: { provider: 'replay', zone: 'GB', replaySpeed: 1, traceFile: secret } }],
      ['initialize', { processId: null, rootUri: null, capabilities: {} }],
    ];
    for (const [method, params] of probes) {
      const r = await c.request(method, params);
      assert.equal(r.error?.code, ErrorCodes.MethodNotFound, `${method}: ${JSON.stringify(r)}`);
      assert.doesNotMatch(JSON.stringify(r), /first line of a root-only file/);
    }
    assert.equal(existsSync(marker), false, 'nothing was spawned');
    assert.equal(existsSync(join(m.dir, 'written-as-root.json')), false, 'nothing was written');
    const hello = (await c.request(LimitsMethods.hello.method)).result as LimitsHelloResult;
    assert.deepEqual(hello.gpus.map((g) => [g.uuid, g.control]), [[U0, 'permitted'], [U1, 'permitted']]);
  });

  it('refuses a claim for a process of another user, and bad parameters, with words to act on', async () => {
    const c = await client();
    const rootOwned = await c.claim(service.proc.pid!, [U0]);
    assert.equal(rootOwned.error?.code, LimitsErrorCodes.notYourProcess, JSON.stringify(rootOwned));
    assert.match(rootOwned.error!.message, new RegExp(`Process ${service.proc.pid} belongs to root, not to nobody: the Chase service sets limits only for your own processes`));
    const gone = await c.claim(2 ** 22 + 12345, [U0]);
    assert.equal(gone.error?.code, LimitsErrorCodes.notYourProcess);
    for (const params of [{ pid: -1, gpuUuids: [U0], runId: 'r' }, { pid: 1.5, gpuUuids: [U0], runId: 'r' }, { pid: c.proc.pid, gpuUuids: [], runId: 'r' }, { pid: c.proc.pid, gpuUuids: [U0], runId: '' }]) {
      const r = await c.request(LimitsMethods.claim.method, params);
      assert.equal(r.error?.code, ErrorCodes.InvalidParams, JSON.stringify([params, r]));
    }
    const unknownLease = await c.request(LimitsMethods.setLimit.method, { leaseId: 'made-up', powerLimitMw: 150000 });
    assert.equal(unknownLease.error?.code, LimitsErrorCodes.unknownLease);
    assert.deepEqual(readFakeLimits(m.state), { [U0]: 300000, [U1]: 300000 }, 'nothing changed');
  });

  it('a claim for the client\'s own process sets its limit; the limit is restored when that process dies', async () => {
    const c = await client();
    const job = await c.spawnJob();
    const claim = await c.claim(job, [U0]);
    assert.ok(claim.result, JSON.stringify(claim));
    const set = await c.request(LimitsMethods.setLimit.method, { leaseId: claim.result.leaseId, powerLimitMw: 150000 });
    assert.deepEqual(set.result, { requestedMw: 150000, appliedMw: 150000, clamped: false });
    assert.equal(limitOf(m.state, U0), 150000);
    await c.kill(job);
    await waitFor(() => limitOf(m.state, U0) === 300000 || undefined, 'GPU 0 restored after the job died', 5_000);
    await waitFor(() => c.notifications.find((n) => n.method === LimitsMethods.leaseEnded.method), 'a leaseEnded notification', 5_000);
    const after = await c.request(LimitsMethods.setLimit.method, { leaseId: claim.result.leaseId, powerLimitMw: 150000 });
    assert.equal(after.error?.code, LimitsErrorCodes.unknownLease, 'the ended lease sets nothing');
    assert.match(service.stderr(), /\(pid \d+ exited\); its GPUs are restored/);
  });

  it('two clients never both get GPU 0; one disconnecting abruptly ends only its own lease', async () => {
    const a = await client();
    const b = await client();
    const jobA = await a.spawnJob();
    const jobB = await b.spawnJob();
    const leaseA = (await a.claim(jobA, [U0], 'run-a')).result!;
    await a.request(LimitsMethods.setLimit.method, { leaseId: leaseA.leaseId, powerLimitMw: 150000 });
    const refused = await b.claim(jobB, [U0], 'run-b');
    assert.equal(refused.error?.code, LimitsErrorCodes.claimRefused, JSON.stringify(refused));
    assert.match(refused.error!.message, new RegExp(`GPU 0 \\(${U0}\\) is already controlled by another run: run run-a of pid ${jobA} \\(user nobody\\)`));
    const leaseB = (await b.claim(jobB, [U1], 'run-b')).result!;
    await b.request(LimitsMethods.setLimit.method, { leaseId: leaseB.leaseId, powerLimitMw: 200000 });
    // another client cannot use or end A's lease
    assert.equal((await b.request(LimitsMethods.setLimit.method, { leaseId: leaseA.leaseId, powerLimitMw: 100000 })).error?.code, LimitsErrorCodes.unknownLease);
    assert.equal((await b.request(LimitsMethods.release.method, { leaseId: leaseA.leaseId })).error?.code, LimitsErrorCodes.unknownLease);

    await a.drop(); // mid-run, no release: an editor window or user agent that died
    await waitFor(() => limitOf(m.state, U0) === 300000 || undefined, 'A\'s GPU restored after A disconnected', 5_000);
    assert.equal(limitOf(m.state, U1), 200000, 'B keeps its limit');
    assert.equal(service.proc.exitCode, null, 'the service is still running');
    const again = await b.request(LimitsMethods.setLimit.method, { leaseId: leaseB.leaseId, powerLimitMw: 180000 });
    assert.equal((again.result as { appliedMw: number }).appliedMw, 180000);
    assert.equal(limitOf(m.state, U1), 180000);
    const takeU0 = await b.claim(jobB, [U0], 'run-b2');
    assert.ok(takeU0.result, `GPU 0 is free again: ${JSON.stringify(takeU0)}`);
    await b.request(LimitsMethods.release.method, { leaseId: leaseB.leaseId });
    await b.request(LimitsMethods.release.method, { leaseId: takeU0.result.leaseId });
    assert.deepEqual(readFakeLimits(m.state), { [U0]: 300000, [U1]: 300000 });
  });

  it('the user\'s own agent (run --agent-socket, as nobody) launches the job and has the service set and restore its limits', async () => {
    const stateDir = join(m.dir, 'nobody-state');
    mkdirSync(stateDir);
    chownSync(stateDir, NOBODY, NOBODY);
    const userEnv: NodeJS.ProcessEnv = { ...fakeEnv(m.state, stateDir), HOME: stateDir };
    delete userEnv.CHASE_CLAIMS_DIR; // the user's agent claims nothing itself: the service does
    const args = ['run', '--agent-socket', m.socket, '--speed', '3600', '--warmup-s', '0.3', '--window-s', '1', '--no-profile-store', '--gpus', '0', '--json', '--', 'python3', demo, '--epochs', '6', '--steps', '300', '--step-ms', '10'];
    const run = spawn('runuser', ['-u', 'nobody', '--', process.execPath, agentJs, ...args], { env: userEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    run.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    run.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = new Promise<number | null>((r) => run.on('exit', r));
    const lowered = await waitFor(() => (limitOf(m.state, U0) < 300000 ? limitOf(m.state, U0) : undefined), `the service to lower GPU 0 for nobody's run; stderr: ${stderr.slice(-1500)}`, 30_000);
    assert.ok(lowered >= 100000);
    assert.equal(await code, 0, stderr.slice(-2000));
    const summary = JSON.parse(stdout) as { advise?: string; gpuUuids: string[] };
    assert.equal(summary.advise, undefined, 'controlled, not advised');
    assert.deepEqual(summary.gpuUuids, [U0]);
    assert.match(stderr, /power limits are set by the Chase service at /);
    assert.equal(limitOf(m.state, U0), 300000, 'restored when the run ended');
    assert.match(service.stderr(), /for run run-\w+ of pid \d+ \(nobody\)/);
  });

  it('SIGTERM stops the service cleanly', async () => {
    service.proc.kill('SIGTERM');
    assert.equal(await service.exited, 0);
    assert.deepEqual(readFakeLimits(m.state), { [U0]: 300000, [U1]: 300000 });
  });
});

describe('serve: every option checked before anything starts', () => {
  const env = (dir: string) => fakeEnv(join(dir, 'state.txt'), join(dir, 'state'));

  it('a regular file at the socket path is refused and kept', async () => {
    const m = machine();
    writeFileSync(m.socket, 'precious');
    const r = await runAgentCli(['serve', '--socket', m.socket], env(m.dir), { timeoutMs: 20_000 });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /exists and is a regular file, not a socket; refusing to replace it/);
    assert.equal(readFileSync(m.socket, 'utf8'), 'precious');
  });

  it('a live service\'s socket is not taken over; a dead one\'s is replaced', async () => {
    const m = machine();
    const first = startService(m.socket, env(m.dir));
    try {
      await first.listening();
      const r = await runAgentCli(['serve', '--socket', m.socket], env(m.dir), { timeoutMs: 20_000 });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /another service is listening on .*stop it first/);
      assert.ok(statSync(m.socket).isSocket() && first.proc.exitCode === null, 'the first service still has its socket');
    } finally {
      first.proc.kill('SIGKILL');
      await first.exited;
    }
    // a process killed while listening leaves its socket file, with nobody listening: a new service may replace it
    const stale = join(tempDir('chase-svc-stale-'), 's.sock');
    spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    assert.ok(statSync(stale).isSocket(), 'the killed listener left its socket');
    const second = startService(stale, env(m.dir));
    try {
      await second.listening();
    } finally {
      second.proc.kill('SIGKILL');
    }
  });

  it('bad options fail before listening, with one line and exit 2', async () => {
    const m = machine();
    for (const args of [
      ['serve', '--socket', m.socket, '--socket-group', 'nosuchgroup'],
      ['serve', '--socket', m.socket, '--socket-mode', '999'],
      ['serve', '--socket-mode', '0600'],
      ['serve', '--stdio', '--socket', m.socket],
      ['serve', '--socket', ''],
      ['serve', '--bogus'],
    ]) {
      const r = await runAgentCli(args, env(m.dir), { timeoutMs: 20_000 });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr.split('\n')[0], /^chase-agent serve: \S/, r.stderr);
      assert.equal(existsSync(m.socket), false, `${args.join(' ')} did not listen`);
    }
    const r = await runAgentCli(['serve', '--socket', m.socket, '--socket-group', 'nosuchgroup'], env(m.dir));
    assert.match(r.stderr, /no group "nosuchgroup" on this host: create it \(groupadd nosuchgroup\)/);
  });
});
