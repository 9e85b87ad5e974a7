#!/usr/bin/env node
// Run a compiled test suite inside a real VS Code extension host (code-server), the way
// @vscode/test-electron's runTests does on the desktop (which cannot be downloaded here).
//
// Usage: node test/harness/runExtensionTests.mjs --dev <extensionRoot> --tests <abs path to suite index.js>
//          [--workspace <dir>] [--timeout <s>] [--results <file>] [--screenshot <file.png>]
//
// The extension at --dev is loaded as the extension under development and the workbench runs
// --tests (a module exporting `run(): Promise<void>`; a rejected promise fails the run), both passed
// in the workbench URL payload. The exit code comes back through window.codeAutomationExit; the
// extension host's console output through window.codeAutomationLog.
//
// Test counts: code-server (and so the extension host) gets CHASE_TEST_RESULTS=<file>; the suite
// writes {"passed": n, "failed": n} there. We print the counts and exit non-zero when failed > 0 or
// the file is missing. Exit 124 on timeout (code-server's log is printed).
import fs from 'node:fs';
import path from 'node:path';
import util, { parseArgs } from 'node:util';
import { startCodeServer, launchChromium, workbenchUrl, remoteUri, makeTempDir, dumpExtensionLogs } from './codeServer.mjs';

const { values: args } = parseArgs({
  options: {
    dev: { type: 'string' },
    tests: { type: 'string' },
    workspace: { type: 'string' },
    timeout: { type: 'string', default: '300' },
    results: { type: 'string' },
    screenshot: { type: 'string' },
    verbose: { type: 'boolean', default: !!process.env.VERBOSE },
  },
});

function usage(msg) {
  console.error(`runExtensionTests: ${msg}\nusage: node test/harness/runExtensionTests.mjs --dev <extensionRoot> `
    + '--tests <absolute path to compiled suite index.js> [--workspace dir] [--timeout s] [--results file]');
  process.exit(2);
}
if (!args.dev) usage('--dev is required');
if (!args.tests) usage('--tests is required');
const devPath = path.resolve(args.dev);
const testsPath = path.resolve(args.tests);
if (!fs.existsSync(path.join(devPath, 'package.json'))) usage(`${devPath} has no package.json`);
if (!fs.existsSync(testsPath)) usage(`${testsPath} does not exist (compile the suite first: npx tsc -b)`);
const timeoutS = Number(args.timeout);
if (!(timeoutS > 0)) usage(`bad --timeout ${args.timeout}`);

// the workbench's own chatter that codeAutomationLog also carries (shown with --verbose)
const WORKBENCH_NOISE = /^(Ignoring fetching additional builtin extensions|Creating a socket|Resolv(ing|ed) connection token|Creation of workbench contribution|\[Service Worker\] registered|Updating additional builtin extensions cache)/;

const t0 = Date.now();
const lap = (label) => console.log(`[harness ${((Date.now() - t0) / 1000).toFixed(1)}s] ${label}`);

const scratch = makeTempDir('chase-eh-');
const workspace = args.workspace ? path.resolve(args.workspace) : path.join(scratch, 'workspace');
const resultsFile = path.resolve(args.results ?? path.join(scratch, 'results.json'));
fs.rmSync(resultsFile, { force: true });
fs.mkdirSync(path.dirname(resultsFile), { recursive: true });

let server;
let browser;
let code;
try {
  server = await startCodeServer({ workspace, env: { CHASE_TEST_RESULTS: resultsFile } });
  lap(`code-server listening on ${server.origin} (pid ${server.pid})`);

  browser = await launchChromium();
  const { page } = browser;
  lap('chromium launched');

  let resolveExit;
  const exited = new Promise((r) => { resolveExit = r; });
  await page.exposeFunction('codeAutomationLog', (_type, logArgs) => {
    // console.log arguments from the extension host, printf-style like mocha's reporter uses them
    const line = util.format(...(logArgs ?? []));
    if (args.verbose || !WORKBENCH_NOISE.test(line)) console.log(line);
  });
  await page.exposeFunction('codeAutomationExit', (exitCode) => resolveExit(exitCode));
  page.on('crash', () => resolveExit('page crashed'));
  if (args.verbose) page.on('console', (m) => console.log(`[browser ${m.type()}] ${m.text()}`));

  const url = workbenchUrl(server, {
    payload: [
      ['extensionDevelopmentPath', remoteUri(server, devPath)],
      ['extensionTestsPath', remoteUri(server, testsPath)],
    ],
  });
  const timer = setTimeout(() => resolveExit('timeout'), timeoutS * 1000);
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
  lap(`workbench loading ${url}`);
  code = await exited;
  clearTimeout(timer);
  lap(`extension host finished: exit code ${code}`);
  if (args.screenshot || code !== 0) {
    const shot = args.screenshot ?? path.join(process.cwd(), 'test-output', 'vscode', 'failure.png');
    fs.mkdirSync(path.dirname(shot), { recursive: true });
    await page.screenshot({ path: shot }).then(() => lap(`screenshot ${shot}`), () => {});
  }
} catch (err) {
  console.error(`runExtensionTests: ${err.stack ?? err}`);
  code = 'error';
} finally {
  await browser?.close();
  if (code === 'timeout' || code === 'error' || code === 'page crashed') {
    console.log(`---- code-server log (${server?.logFile ?? 'not started'}) ----\n${server?.log() ?? ''}---- end of code-server log ----`);
  }
  if (server) {
    await server.stop({ keepTemp: true });
    if (code !== 0) {
      // the extension's own log channels (flushed when the host stopped): what it did meanwhile
      const pkg = JSON.parse(fs.readFileSync(path.join(devPath, 'package.json'), 'utf8'));
      const logsDir = path.join(process.cwd(), 'test-output', 'vscode', 'logs');
      fs.rmSync(logsDir, { recursive: true, force: true });
      dumpExtensionLogs(server, `${pkg.publisher}.${pkg.name}`, logsDir);
    }
    server.removeTemp();
  }
}

let exitCode;
if (code === 'timeout') {
  console.log(`runExtensionTests: TIMEOUT after ${timeoutS} s`);
  exitCode = 124;
} else if (typeof code === 'number') {
  exitCode = code;
} else {
  exitCode = 1;
}

let counts;
try {
  counts = JSON.parse(fs.readFileSync(resultsFile, 'utf8'));
} catch (err) {
  console.log(`runExtensionTests: no test results in ${resultsFile} (${err.code ?? err.message}); `
    + 'the suite must write {"passed": n, "failed": n} to $CHASE_TEST_RESULTS');
}
if (counts) {
  console.log(`extension-host tests: ${counts.passed} passed, ${counts.failed} failed`);
  if (!(counts.failed === 0) && exitCode === 0) exitCode = 1;
} else if (exitCode === 0) {
  exitCode = 1;
}
fs.rmSync(scratch, { recursive: true, force: true }); // default workspace + results; both read by now
lap(`done, exit ${exitCode}`);
process.exit(exitCode);
