#!/usr/bin/env node
// Kill matrix: "never leave a GPU throttled", tried the hard way. Each trial starts an agent on the
// fake libnvidia-ml.so.1 (test/fake-nvml, real NVML code paths through koffi), lets it change power
// limits, and sends it SIGKILL, SIGTERM, SIGINT or SIGHUP at a random moment:
//
//   run    `chase-agent run --gpus 0,1 … -- python3 train_demo.py` (profiling walks the limits down)
//   serve  `chase-agent serve --socket` (the limits service, as this user) with a client that leases
//          both GPUs for a job and keeps setting random limits
//
// then starts the next agent the way a user would (`run … -- python3 -c pass`, or `serve` again,
// with the same state directory and claims) and checks that every GPU is back at its pre-run limit
// (GPU 1 starts at a non-default 280 W on purpose: "back" means back to that, not to the default).
//
//   npm run build && npx tsc -b && node bench/safety/run.mjs [--trials 30] [--seed 12] [--no-write]
//
// Not part of `npm test` (a few minutes). Writes bench/safety/results.md.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({ options: { trials: { type: 'string', default: '30' }, seed: { type: 'string', default: '12' }, 'no-write': { type: 'boolean', default: false } } });
const TRIALS = Number(opts.trials);
const SEED = Number(opts.seed);
const ROOT = path.resolve(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);
const AGENT = path.join(ROOT, 'dist', 'agent.js');
const DEMO = path.join(ROOT, 'sample-workspace', 'train_demo.py');
const helpers = path.join(ROOT, 'out', 'test', 'unit', 'gpu', 'fakeNvml.js');
for (const f of [AGENT, helpers]) {
  if (!existsSync(f)) {
    console.error(`${f} is missing: run \`npm run build && npx tsc -b\` first.`);
    process.exit(2);
  }
}
const { fakeEnv, readFakeLimits, writeFakeState } = require(helpers);
const { createMessageConnection, SocketMessageReader, SocketMessageWriter } = require('vscode-jsonrpc/node');

const SIGNALS = ['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGHUP'];
const U0 = 'GPU-11111111-aaaa-0000';
const U1 = 'GPU-22222222-bbbb-0001';
const PRE_RUN = { [U0]: 300000, [U1]: 280000 };
/** An agent that has not exited this long after a signal counts as hung (and is SIGKILLed). */
const EXIT_WAIT_MS = 15_000;

// mulberry32: the same seed gives the same moments
let seed = SEED >>> 0;
function random() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(probe, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (probe()) return true;
    await sleep(25);
  }
  return false;
}

function machine() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'chase-killmatrix-'));
  chmodSync(dir, 0o755);
  const state = path.join(dir, 'state.txt');
  writeFakeState(state, [U0, U1].map((uuid) => ({ uuid, name: 'NVIDIA A40', arch: 7, min: 100000, max: 300000, default: 300000, limit: PRE_RUN[uuid], demand: 250000 })));
  return { dir, state, env: fakeEnv(state, path.join(dir, 'chase-state')), socket: path.join(dir, 'svc.sock') };
}

function start(argv, env) {
  // its own process group: the job (or the client's sleep) can be cleaned up with it
  const child = spawn(process.execPath, [AGENT, ...argv], { env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d.toString()));
  const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return { child, exited, stderr: () => stderr };
}

function killGroup(pid) {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** Signals the agent and waits for it to end; a hang is SIGKILLed and reported. */
async function signalAndWait(agent, signal) {
  agent.child.kill(signal);
  const timer = sleep(EXIT_WAIT_MS).then(() => 'hung');
  const r = await Promise.race([agent.exited, timer]);
  if (r === 'hung') {
    agent.child.kill('SIGKILL');
    await agent.exited;
  }
  killGroup(agent.child.pid);
  return r === 'hung';
}

const changed = (m) => {
  try {
    const l = readFakeLimits(m.state);
    return l[U0] !== PRE_RUN[U0] || l[U1] !== PRE_RUN[U1];
  } catch {
    return false; // mid-rename
  }
};

async function trialRun(m, signal, delayMs) {
  const agent = start(['run', '--gpus', '0,1', '--speed', '3600', '--warmup-s', '0.2', '--window-s', '0.5', '--no-profile-store', '--', 'python3', DEMO, '--epochs', '100', '--steps', '300', '--step-ms', '10'], m.env);
  await sleep(delayMs);
  const throttledAtKill = changed(m);
  const hung = await signalAndWait(agent, signal);
  const next = start(['run', '--gpus', '0,1', '--no-profile-store', '--', 'python3', '-c', 'pass'], m.env);
  const r = await next.exited;
  return { throttledAtKill, hung, nextOk: r.code === 0, nextErr: r.code === 0 ? '' : next.stderr().slice(-400) };
}

async function serviceClient(socket) {
  const s = connect(socket);
  await new Promise((resolve, reject) => s.once('connect', resolve).once('error', reject));
  s.on('error', () => undefined); // EPIPE when the service dies mid-write: expected here
  const rpc = createMessageConnection(new SocketMessageReader(s), new SocketMessageWriter(s));
  // a request pending when the service dies never settles by itself: end it with the socket
  const closed = new Promise((_, reject) => s.once('close', () => reject(new Error('service connection closed'))));
  closed.catch(() => undefined);
  rpc.listen();
  return { request: (method, params) => Promise.race([rpc.sendRequest(method, params), closed]), close: () => (rpc.dispose(), s.destroy()) };
}

async function trialServe(m, signal, delayMs) {
  const svc = start(['serve', '--socket', m.socket], m.env);
  await waitFor(() => /listening on/.test(svc.stderr()), 15_000);
  const job = spawn('sleep', ['600'], { stdio: 'ignore' });
  let client;
  let running = true;
  const t0 = Date.now();
  // the client leases both GPUs for the job and keeps changing their limit until the service dies
  const work = (async () => {
    try {
      client = await serviceClient(m.socket);
      const { leaseId } = await client.request('chase-limits/claim', { pid: job.pid, gpuUuids: [U0, U1], runId: 'bench' });
      while (running) {
        await client.request('chase-limits/setLimit', { leaseId, powerLimitMw: 100000 + Math.round(random() * 190000) });
        await sleep(30);
      }
    } catch {
      /* the service died under us: that is the point */
    }
  })();
  await sleep(Math.max(0, delayMs - (Date.now() - t0)));
  const throttledAtKill = changed(m);
  const hung = await signalAndWait(svc, signal);
  running = false;
  await work;
  client?.close();
  job.kill('SIGKILL');
  // the next start of the service restores what a killed one left, then it is stopped as systemd would
  const next = start(['serve', '--socket', m.socket], m.env);
  const up = await waitFor(() => /listening on/.test(next.stderr()), 15_000);
  next.child.kill('SIGTERM');
  const r = await next.exited;
  return { throttledAtKill, hung, nextOk: up && r.code === 0, nextErr: up && r.code === 0 ? '' : next.stderr().slice(-400) };
}

const rows = [];
for (let i = 0; i < TRIALS; i++) {
  const target = i % 2 === 0 ? 'run' : 'serve';
  const signal = SIGNALS[Math.floor(i / 2) % SIGNALS.length];
  const delayMs = Math.round(target === 'run' ? 1000 + random() * 7000 : random() * 2500);
  const m = machine();
  const r = await (target === 'run' ? trialRun(m, signal, delayMs) : trialServe(m, signal, delayMs));
  const after = readFakeLimits(m.state);
  const leftChanged = after[U0] !== PRE_RUN[U0] || after[U1] !== PRE_RUN[U1];
  rows.push({ i, target, signal, delayMs, ...r, after, leftChanged });
  console.log(`${String(i + 1).padStart(2)}/${TRIALS} ${target.padEnd(5)} ${signal.padEnd(7)} at ${String(delayMs).padStart(4)} ms: changed at kill ${r.throttledAtKill ? 'yes' : 'no '}, ${r.hung ? 'HUNG, ' : ''}next start ${r.nextOk ? 'ok' : 'FAILED'}, after: ${after[U0]}/${after[U1]} mW${leftChanged ? '  ← LEFT CHANGED' : ''}${r.nextErr ? `\n   ${r.nextErr}` : ''}`);
}

const left = rows.filter((r) => r.leftChanged).length;
const hung = rows.filter((r) => r.hung).length;
const table = [];
for (const target of ['run', 'serve']) {
  for (const signal of SIGNALS) {
    const t = rows.filter((r) => r.target === target && r.signal === signal);
    if (t.length === 0) continue;
    table.push(`| ${target} | ${signal} | ${t.length} | ${t.filter((r) => r.throttledAtKill).length} | ${t.filter((r) => r.hung).length} | ${t.filter((r) => r.leftChanged).length} |`);
  }
}
const summary = `left throttled after the next start: ${left}/${rows.length}`;
console.log(`\n${summary}; hung after the signal: ${hung}/${rows.length}`);

if (!opts['no-write']) {
  const md = `# Kill matrix (bench/safety/run.mjs)

${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} CPU(s) (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, fake libnvidia-ml.so.1
(real NVML code paths through koffi; no GPU on this machine). Seed ${SEED}: \`node bench/safety/run.mjs --seed ${SEED}\` repeats the moments.

Each trial kills an agent at a random moment — \`run\` (1–8 s after it starts, into a job whose profiling walks both
GPUs' limits down) or \`serve --socket\` (0–2.5 s after it listens, while a client leases both GPUs
and sets a random limit every 30 ms) — then starts the next agent as a user would, with the same
state directory and claims (\`run … -- python3 -c pass\`, or \`serve\` again, then SIGTERM), and reads
the GPUs' limits. Before each trial GPU 0 is at its default 300 W and GPU 1 at a non-default 280 W:
"back" means back at those.

**${summary}**; hung after the signal (no exit within ${EXIT_WAIT_MS / 1000} s): ${hung}/${rows.length}.

| agent | signal | trials | limits changed at the kill | hung | left changed after the next start |
|---|---|---|---|---|---|
${table.join('\n')}

SIGKILL cannot be caught: those GPUs stay changed until the next start, which restores them from
the journal (same state directory) before anything else. SIGTERM, SIGINT and SIGHUP restore at once
(the guard's handlers; \`run\` also stops its job). "Limits changed at the kill" says whether the
kill came after the agent had changed a limit (earlier kills test start-up).
`;
  writeFileSync(path.join(ROOT, 'bench', 'safety', 'results.md'), md);
  console.log('wrote bench/safety/results.md');
}
process.exit(left === 0 && hung === 0 ? 0 : 1);
