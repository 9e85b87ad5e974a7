#!/usr/bin/env node
// `npm test`: every check the project has, in order, with one total at the end.
//
//   node test/run.mjs                  all phases
//   node test/run.mjs unit contract    only the named phases (for development; no dependencies added)
//
// Phases: build, typecheck, lint, unit, contract, adversarial, package, vscode (alias extension-host), ui.
// Counting: node:test phases count their leaf tests (test/harness/countReporter.mjs); the
// extension-host phase reads the {"passed","failed"} file its suite writes; build, typecheck, lint
// and package add 1 failure when they fail (and nothing when they pass). A phase whose prerequisite
// failed in this run is skipped (the prerequisite's failure is already counted).
// The last line printed is exactly `N passed, N failed`; the exit code is non-zero if anything failed.
//
// Every phase has a time limit (a hung phase is killed with its process group and fails).
//
// Env: CHASE_CODE_SERVER    code-server binary (default: where scripts/install-code-server.sh installs it)
//      CHASE_TIMEOUT_SCALE  multiplies the phase time limits (default 1)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeServerBin } from './harness/codeServer.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const COUNT_REPORTER = './test/harness/countReporter.mjs';
const SUITE_INDEX = path.join(ROOT, 'out', 'test', 'vscode', 'suite', 'index.js');

const CODE_SERVER = codeServerBin();
const childEnv = { ...process.env, CHASE_CODE_SERVER: CODE_SERVER };

// phase time limits, so a hung phase fails instead of hanging CI; CHASE_TIMEOUT_SCALE=2 doubles them
const MIN = 60_000 * (Number(process.env.CHASE_TIMEOUT_SCALE) || 1);
const fmt = (ms) => `${(ms / 1000).toFixed(1)}s`;

const scratch = fs.mkdtempSync(path.join(process.env.TMPDIR || os.tmpdir(), 'chase-run-'));

/** @typedef {{passed: number, failed: number, note?: string, skipped?: boolean}} Outcome */

const PHASES = [
  { name: 'build', title: 'bundle with esbuild (npm run build)', run: () => command('npm', ['run', 'build'], MIN * 5) },
  { name: 'typecheck', title: 'type-check and emit tests (tsc -b)', run: () => command('npx', ['tsc', '-b'], MIN * 10) },
  { name: 'lint', title: 'eslint extension agent webview test', run: () => command('npx', ['eslint', 'extension', 'agent', 'webview', 'test'], MIN * 10) },
  { name: 'unit', title: 'unit tests (out/test/unit)', run: () => nodeTests('unit', findTests('out/test/unit', '.test.js'), { timeoutMs: MIN * 15 }) },
  { name: 'contract', title: 'contract tests (out/test/contract, against dist/agent.js)', needs: ['build'], run: () => nodeTests('contract', findTests('out/test/contract', '.test.js'), { timeoutMs: MIN * 10 }) },
  // hostile input against the built agent on the fake NVML library, and bounded fuzzing (test/adversarial/harness.ts)
  { name: 'adversarial', title: 'adversarial tests and fuzzing (out/test/adversarial, against dist/agent.js)', needs: ['build'], run: () => nodeTests('adversarial', findTests('out/test/adversarial', '.test.js'), { timeoutMs: MIN * 5 }) },
  { name: 'package', title: 'package the VSIX (npm run package)', needs: ['build'], run: () => command('npm', ['run', 'package'], MIN * 5) },
  { name: 'vscode', aliases: ['extension-host'], title: 'extension-host tests in code-server', needs: ['build'], run: extensionHostTests },
  // one file at a time: each starts its own code-server and Chromium, and ui.test.mjs times activation
  { name: 'ui', title: 'UI tests in headless Chromium (test/ui)', needs: ['package'], run: () => nodeTests('ui', findTests('test/ui', '.test.mjs'), { needsCodeServer: true, serial: true, timeoutMs: MIN * 10 }) },
];

// ---- phase runners ------------------------------------------------------------------------------

let current; // the running child (leader of its own process group), to forward signals to

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs a command in its own process group with our stdout/stderr. After `timeoutMs` the whole group
 * is killed (exit code 124). Processes the command leaves behind are reported and killed.
 */
function spawnInherit(cmd, args, timeoutMs) {
  return new Promise((resolve) => {
    console.log(`$ ${[cmd, ...args].map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
    const child = spawn(cmd, args, { cwd: ROOT, env: childEnv, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    current = child;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      console.log(`\n!! TIMEOUT: ${cmd} ${args.join(' ')} still running after ${fmt(timeoutMs)}; killing its process group`);
      killGroup(child.pid, 'SIGTERM');
      setTimeout(() => killGroup(child.pid, 'SIGKILL'), 5000).unref();
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      current = undefined;
      console.log(`cannot run ${cmd}: ${err.message}`);
      resolve(127);
    });
    child.on('exit', async (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      // helpers such as esbuild's service end shortly after their parent: give them a moment
      for (let i = 0; i < 20 && killGroup(child.pid, 0); i++) await new Promise((r) => setTimeout(r, 100));
      if (killGroup(child.pid, 0) && !timedOut) {
        console.log(`!! ${cmd} ${args[0] ?? ''}: processes it started were still running 2 s after it ended (leaked); killed them`);
      }
      killGroup(child.pid, 'SIGKILL');
      if (timedOut) resolve(124);
      else resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1));
    });
  });
}

/** @returns {Promise<Outcome>} */
async function command(cmd, args, timeoutMs) {
  const code = await spawnInherit(cmd, args, timeoutMs);
  const note = code === 124 ? `timed out after ${fmt(timeoutMs)}` : `exit code ${code}`;
  return code === 0 ? { passed: 0, failed: 0 } : { passed: 0, failed: 1, note };
}

function findTests(dir, suffix) {
  const abs = path.join(ROOT, dir);
  if (!fs.existsSync(abs)) return { dir, files: [] };
  const files = fs.readdirSync(abs, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(suffix))
    .map((f) => path.join(dir, f))
    .sort();
  // tsc -b never deletes what it emitted: a test moved or removed in test/ leaves its old .js in out/,
  // which would run again (twice, or against a stale build). Only tests whose source is there count.
  if (!dir.startsWith('out/')) return { dir, files };
  const stale = files.filter((f) => !fs.existsSync(path.join(ROOT, f.slice('out/'.length).replace(/\.js$/, '.ts'))));
  if (stale.length > 0) console.log(`ignoring ${stale.length} compiled test file(s) whose source is gone (moved or deleted): ${stale.join(', ')}`);
  return { dir, files: files.filter((f) => !stale.includes(f)) };
}

function missingCodeServer() {
  if (fs.existsSync(CODE_SERVER)) return undefined;
  return `code-server not found at ${CODE_SERVER}: run scripts/install-code-server.sh or set CHASE_CODE_SERVER`;
}

/** @returns {Promise<Outcome>} */
async function nodeTests(name, { dir, files }, { needsCodeServer = false, serial = false, timeoutMs }) {
  if (files.length === 0) {
    return { passed: 0, failed: 1, note: `no test files in ${dir}${dir.startsWith('out/') ? ' (did tsc -b emit them?)' : ''}` };
  }
  if (needsCodeServer) {
    const missing = missingCodeServer();
    if (missing) return { passed: 0, failed: 1, note: missing };
  }
  const countsFile = path.join(scratch, `${name}.json`);
  const code = await spawnInherit(process.execPath, [
    '--enable-source-maps', '--test', ...(serial ? ['--test-concurrency=1'] : []),
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    `--test-reporter=${COUNT_REPORTER}`, `--test-reporter-destination=${countsFile}`,
    ...files,
  ], timeoutMs);
  return fromCounts(countsFile, code, timeoutMs);
}

/** @returns {Promise<Outcome>} */
async function extensionHostTests() {
  if (!fs.existsSync(SUITE_INDEX)) {
    const bar = '!'.repeat(78);
    console.log(`${bar}\n!! SKIPPED: ${path.relative(ROOT, SUITE_INDEX)} does not exist (no extension-host suite compiled yet)\n${bar}`);
    return { passed: 0, failed: 0, skipped: true, note: 'no suite yet' };
  }
  const missing = missingCodeServer();
  if (missing) return { passed: 0, failed: 1, note: missing };
  const resultsFile = path.join(scratch, 'vscode.json');
  // the suite sees a fresh copy of sample-workspace/ as its folder (an empty folder until that exists)
  const workspace = path.join(scratch, 'sample-workspace');
  const sample = path.join(ROOT, 'sample-workspace');
  if (fs.existsSync(sample)) fs.cpSync(sample, workspace, { recursive: true });
  else fs.mkdirSync(workspace, { recursive: true });
  const code = await spawnInherit(process.execPath, [
    'test/harness/runExtensionTests.mjs', '--dev', ROOT, '--tests', SUITE_INDEX,
    '--workspace', workspace, '--results', resultsFile, '--timeout', String(Math.round((MIN * 7) / 1000)),
  ], MIN * 8);
  return fromCounts(resultsFile, code, MIN * 8);
}

/** @returns {Outcome} */
function fromCounts(file, code, timeoutMs) {
  const exitNote = code === 124 ? `timed out after ${fmt(timeoutMs)}` : `exit code ${code}`;
  let counts;
  try {
    // countReporter writes running totals, one JSON line per test; the extension-host suite one object
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
    for (const line of lines.reverse()) {
      try {
        counts = JSON.parse(line);
        break;
      } catch { /* a line cut short by a kill */ }
    }
    if (!counts) counts = JSON.parse(lines.join('\n'));
  } catch {
    return { passed: 0, failed: 1, note: `${exitNote}, no test counts` };
  }
  const passed = Number(counts.passed) || 0;
  let failed = Number(counts.failed) || 0;
  let note = code === 0 ? undefined : exitNote;
  if (code !== 0 && failed === 0) {
    failed = 1; // the runner failed outside any test
    note = `${exitNote} with no failing test`;
  } else if (code === 124) {
    failed += 1; // the tests that never finished
  }
  if (counts.skipped || counts.todo) note = [note, `${counts.skipped ?? 0} skipped, ${counts.todo ?? 0} todo`].filter(Boolean).join('; ');
  for (const f of counts.failures ?? []) console.log(`  FAILED ${f.name}${f.file ? `  (${path.relative(ROOT, f.file)})` : ''}`);
  return { passed, failed, note };
}

// ---- main ---------------------------------------------------------------------------------------

function selectPhases(argv) {
  if (argv.length === 0) return PHASES;
  const wanted = new Set();
  for (const arg of argv) {
    const phase = PHASES.find((p) => p.name === arg || p.aliases?.includes(arg));
    if (!phase) {
      console.error(`unknown phase "${arg}"; phases: ${PHASES.map((p) => p.name).join(', ')} (extension-host = vscode)`);
      process.exit(2);
    }
    wanted.add(phase);
  }
  return PHASES.filter((p) => wanted.has(p));
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(signal, () => {
    if (current) killGroup(current.pid, signal);
    fs.rmSync(scratch, { recursive: true, force: true });
    process.exit(code);
  });
}

const selected = selectPhases(process.argv.slice(2));
const results = [];
const failedPhases = new Set();
const tAll = Date.now();

for (const [i, phase] of selected.entries()) {
  console.log(`\n==== [${i + 1}/${selected.length}] ${phase.name}: ${phase.title} ====`);
  const t0 = Date.now();
  const blockedBy = (phase.needs ?? []).filter((n) => failedPhases.has(n));
  /** @type {Outcome} */
  let outcome;
  if (blockedBy.length > 0) {
    console.log(`!! SKIPPED: ${blockedBy.join(', ')} failed`);
    outcome = { passed: 0, failed: 0, skipped: true, note: `skipped: ${blockedBy.join(', ')} failed` };
  } else {
    try {
      outcome = await phase.run();
    } catch (err) {
      console.log(err.stack ?? String(err));
      outcome = { passed: 0, failed: 1, note: `harness error: ${err.message}` };
    }
  }
  const ms = Date.now() - t0;
  if (outcome.failed > 0 || (outcome.skipped && blockedBy.length > 0)) failedPhases.add(phase.name);
  const status = outcome.skipped ? 'SKIPPED' : outcome.failed > 0 ? 'FAILED' : 'ok';
  results.push({ phase: phase.name, status, ...outcome, ms });
  console.log(`---- ${phase.name}: ${status}, ${outcome.passed} passed, ${outcome.failed} failed${outcome.note ? ` (${outcome.note})` : ''} in ${fmt(ms)}`);
}

fs.rmSync(scratch, { recursive: true, force: true });
const passed = results.reduce((s, r) => s + r.passed, 0);
const failed = results.reduce((s, r) => s + r.failed, 0);
console.log('\n==== summary ====');
for (const r of results) {
  console.log(`${r.phase.padEnd(10)} ${r.status.padEnd(8)} ${String(r.passed).padStart(5)} passed ${String(r.failed).padStart(4)} failed ${fmt(r.ms).padStart(8)}${r.note ? `  ${r.note}` : ''}`);
}
console.log(`total time ${fmt(Date.now() - tAll)}`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
