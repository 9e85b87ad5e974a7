// Start a real VS Code (code-server, see scripts/install-code-server.sh) for tests and the demo,
// and a headless Debian Chromium to drive it.
//
// Every code-server gets fresh user-data, extensions and XDG dirs in its own temp dir, runs in its own
// process group (extension hosts and the agent they spawn outlive the browser page, so we kill the
// whole group), and is killed when this process exits or gets SIGINT/SIGTERM.
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export const CODE_SERVER_VERSION = '4.96.4';
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The code-server binary: $CHASE_CODE_SERVER, else where scripts/install-code-server.sh puts it. */
export function codeServerBin() {
  if (process.env.CHASE_CODE_SERVER) return process.env.CHASE_CODE_SERVER;
  const dir = process.env.CHASE_CODE_SERVER_DIR
    ?? path.join(os.homedir(), '.cache', 'chase', `code-server-${CODE_SERVER_VERSION}`);
  return path.join(dir, 'node_modules', '.bin', 'code-server');
}

/** Throws an error that says how to get code-server when the binary is missing. */
export function assertCodeServerInstalled(bin = codeServerBin()) {
  if (!fs.existsSync(bin)) {
    throw new Error(`code-server not found at ${bin}. Run scripts/install-code-server.sh `
      + '(or set CHASE_CODE_SERVER to a code-server binary).');
  }
  return bin;
}

/** User settings that keep the workbench quiet, offline and deterministic. */
export const BASE_SETTINGS = Object.freeze({
  'workbench.startupEditor': 'none',
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'update.showReleaseNotes': false,
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
  'git.autoRepositoryDetection': false,
  'typescript.disableAutomaticTypeAcquisition': true,
  'npm.fetchOnlinePackageInfo': false,
  'window.restoreWindows': 'none',
});

// ---- process-group bookkeeping ------------------------------------------------------------------

const liveGroups = new Set();
let exitHooksInstalled = false;

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // already gone
  }
}

function installExitHooks() {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', () => {
    for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
  });
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
    process.once(signal, () => {
      for (const pid of liveGroups) killGroup(pid, 'SIGTERM');
      process.exit(code); // 'exit' hook SIGKILLs whatever is left
    });
  }
}

// ---- helpers ------------------------------------------------------------------------------------

export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function makeTempDir(prefix) {
  const base = process.env.TMPDIR || os.tmpdir();
  fs.mkdirSync(base, { recursive: true });
  return fs.mkdtempSync(path.join(base, prefix));
}

function xdgEnv(dir) {
  return {
    XDG_CONFIG_HOME: path.join(dir, 'xdg-config'),
    XDG_DATA_HOME: path.join(dir, 'xdg-data'),
    XDG_CACHE_HOME: path.join(dir, 'xdg-cache'),
    XDG_STATE_HOME: path.join(dir, 'xdg-state'),
  };
}

/** `http://host:port/?folder=...&payload=...` for a workbench on `server`. */
export function workbenchUrl(server, { folder = server.workspace, payload } = {}) {
  let url = `${server.origin}/?folder=${encodeURIComponent(folder)}`;
  if (payload) url += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  return url;
}

/** A local path as the workbench's remote URI (for payload entries such as extensionDevelopmentPath). */
export function remoteUri(server, localPath) {
  return `vscode-remote://${server.authority}${path.resolve(localPath)}`;
}

// ---- code-server --------------------------------------------------------------------------------

/**
 * Start code-server on 127.0.0.1.
 * @param {object} opts
 * @param {string} opts.workspace  folder to open
 * @param {string} [opts.extensionsDir]  use this extensions dir instead of a fresh empty one
 * @param {string} [opts.vsix]  install this VSIX (code-server --install-extension) before starting
 * @param {object} [opts.settings]  user settings merged over BASE_SETTINGS
 * @param {object} [opts.machineSettings]  the user's settings for this machine (User-data/Machine/settings.json,
 *   "Remote" in the Settings editor): where machine and machine-overridable settings take effect in a
 *   remote window such as code-server's (VS Code drops them from the local user settings there)
 * @param {object} [opts.env]  extra environment for code-server (the extension host inherits it)
 * @param {number} [opts.port]  default: a free port
 * @param {string} [opts.host]  default 127.0.0.1
 * @param {string} [opts.bin]  default codeServerBin()
 * @param {boolean} [opts.echo]  also copy code-server's output to our stderr
 * @param {boolean} [opts.workspaceTrust]  keep VS Code's workspace trust on (default off: every folder is
 *   trusted); with it on, also set 'security.workspace.trust.enabled': true in `settings`
 * @returns {Promise<{url: string, origin: string, authority: string, port: number, workspace: string,
 *   pid: number, dir: string, userDataDir: string, extensionsDir: string, log(): string, stop(): Promise<void>}>}
 */
export async function startCodeServer(opts) {
  const { workspace, settings = {}, env = {}, host = '127.0.0.1', echo = false, workspaceTrust = false } = opts;
  if (!workspace) throw new Error('startCodeServer: workspace is required');
  const bin = assertCodeServerInstalled(opts.bin ?? codeServerBin());
  installExitHooks();

  const dir = makeTempDir('chase-cs-');
  const userDataDir = path.join(dir, 'user-data');
  const extensionsDir = opts.extensionsDir ?? path.join(dir, 'extensions');
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  fs.mkdirSync(workspace, { recursive: true });
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'),
    JSON.stringify({ ...BASE_SETTINGS, ...settings }, null, 2));
  if (opts.machineSettings) {
    fs.mkdirSync(path.join(userDataDir, 'Machine'), { recursive: true });
    fs.writeFileSync(path.join(userDataDir, 'Machine', 'settings.json'), JSON.stringify(opts.machineSettings, null, 2));
  }

  const childEnv = {
    ...process.env,
    EXTENSIONS_GALLERY: '{}', // no gallery: the workbench must not try the network
    ...xdgEnv(dir),
    ...env,
  };
  // a password in the environment would turn auth on in some code-server versions
  delete childEnv.PASSWORD;
  delete childEnv.HASHED_PASSWORD;

  const common = ['--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];
  if (opts.vsix) {
    const vsix = path.resolve(opts.vsix);
    if (!fs.existsSync(vsix)) throw new Error(`VSIX not found: ${vsix} (run npm run package)`);
    try {
      await execFileP(bin, [...common, '--install-extension', vsix], { env: childEnv, timeout: 120_000 });
    } catch (err) {
      throw new Error(`code-server --install-extension ${vsix} failed:\n${err.stdout ?? ''}${err.stderr ?? ''}${err.message}`);
    }
  }

  const logFile = path.join(dir, 'code-server.log');
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = opts.port ?? await freePort(host);
    const started = await spawnAndWait({ bin, common, host, port, workspace, env: childEnv, logFile, echo, workspaceTrust });
    if (started.ok) {
      const authority = `${host}:${port}`;
      const origin = `http://${authority}`;
      const server = {
        port, authority, origin, workspace, dir, userDataDir, extensionsDir, logFile,
        pid: started.child.pid,
        url: `${origin}/?folder=${encodeURIComponent(workspace)}`,
        log: () => started.log(),
        /** Kills the process group; deletes the temp dir unless keepTemp (or env KEEP_TMP). The
         *  extension host flushes its log files on the way down: read them after stop({keepTemp: true}). */
        stop: (stopOpts = {}) => stopGroup(started.child, dir, stopOpts.keepTemp ?? opts.keepTemp ?? !!process.env.KEEP_TMP),
        removeTemp: () => {
          if (!process.env.KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
        },
      };
      return server;
    }
    lastError = started.error;
    if (opts.port || !/EADDRINUSE/.test(started.log())) break; // only retry a port race
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

function spawnAndWait({ bin, common, host, port, workspace, env, logFile, echo, workspaceTrust }) {
  const args = [
    '--bind-addr', `${host}:${port}`, '--auth', 'none',
    '--disable-telemetry', '--disable-update-check', ...(workspaceTrust ? [] : ['--disable-workspace-trust']),
    '--disable-getting-started-override', '--disable-file-downloads',
    ...common, workspace,
  ];
  const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  liveGroups.add(child.pid);
  let text = '';
  const out = fs.createWriteStream(logFile, { flags: 'a' });
  const onData = (d) => {
    text += d;
    out.write(d);
    if (echo) process.stderr.write(d);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  child.on('exit', () => {
    liveGroups.delete(child.pid);
    out.end();
  });
  const log = () => text;
  return new Promise((resolve) => {
    const deadline = setTimeout(() => finish(false, new Error(`code-server did not start listening within 60 s:\n${text}`)), 60_000);
    const poll = setInterval(() => {
      if (/HTTP server listening/.test(text)) finish(true);
    }, 50);
    const onExit = (code, signal) => finish(false, new Error(`code-server exited (${code ?? signal}) before listening:\n${text}`));
    child.once('exit', onExit);
    function finish(ok, error) {
      clearTimeout(deadline);
      clearInterval(poll);
      child.off('exit', onExit);
      if (!ok) killGroup(child.pid, 'SIGKILL');
      resolve({ ok, error, child, log });
    }
  });
}

async function stopGroup(child, dir, keepTemp) {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    killGroup(child.pid, 'SIGTERM');
    const timer = new Promise((r) => setTimeout(r, 3000, 'timeout'));
    if (await Promise.race([exited, timer]) === 'timeout') killGroup(child.pid, 'SIGKILL');
  }
  // the extension host and its children share the group even when code-server itself is gone
  killGroup(child.pid, 'SIGKILL');
  liveGroups.delete(child.pid);
  if (!keepTemp) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  else if (process.env.KEEP_TMP) console.error(`[harness] kept ${dir}`);
}

// ---- Chromium -----------------------------------------------------------------------------------

export const CHROMIUM_ARGS = Object.freeze([
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
]);

/**
 * Launch headless Debian Chromium (never a downloaded browser) with a temp profile.
 * @returns {Promise<{context: import('playwright-core').BrowserContext, page: import('playwright-core').Page, close(): Promise<void>}>}
 */
export async function launchChromium({ viewport = { width: 1400, height: 900 }, executablePath } = {}) {
  const { chromium } = await import('playwright-core');
  const exe = executablePath ?? process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!fs.existsSync(exe)) {
    throw new Error(`Chromium not found at ${exe}: apt-get install chromium (or set CHROMIUM)`);
  }
  const dir = makeTempDir('chase-chromium-');
  const context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: exe,
    headless: true,
    viewport,
    env: { ...process.env, ...xdgEnv(dir) },
    args: [...CHROMIUM_ARGS],
  });
  const page = context.pages()[0] ?? await context.newPage();
  return {
    context,
    page,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}

// ---- logs ---------------------------------------------------------------------------------------

/**
 * The extension host's log files for one extension (its LogOutputChannels), plus the extension host's
 * own log: [{name, text}]. Complete only after stop({keepTemp: true}) (the host flushes on shutdown).
 * @param {{userDataDir: string}} server
 * @param {string} extensionId  `<publisher>.<name>`
 */
export function extensionLogs(server, extensionId) {
  const root = path.join(server.userDataDir, 'logs');
  if (!fs.existsSync(root)) return [];
  const found = [];
  for (const rel of fs.readdirSync(root, { recursive: true }).map(String).sort()) {
    const parts = rel.split(path.sep);
    const ours = parts.includes(extensionId) && rel.endsWith('.log');
    const host = /^(remote)?exthost\.log$/.test(parts.at(-1));
    if (ours || host) found.push({ name: rel, text: fs.readFileSync(path.join(root, rel), 'utf8') });
  }
  return found;
}

/** Copies extensionLogs() to `dir` and prints them; for failures. */
export function dumpExtensionLogs(server, extensionId, dir) {
  const logs = extensionLogs(server, extensionId);
  for (const { name, text } of logs) {
    const file = path.join(dir, name.replaceAll(path.sep, '__'));
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(file, text);
    console.log(`---- ${name} (copied to ${file}) ----\n${text.trimEnd()}\n---- end of ${path.basename(name)} ----`);
  }
  return logs.length;
}

// ---- UI tests -----------------------------------------------------------------------------------

/** Wraps test bodies: `onFailure()` runs when one throws (to take the failure screenshot and logs in after()). */
export const tracking = (onFailure) => (fn) => async (t) => {
  try {
    await fn(t);
  } catch (err) {
    onFailure();
    throw err;
  }
};

/** Runs a command from the palette by its label; keys reach the palette only when the workbench, not a webview, has focus. */
export async function runPaletteCommand(page, label) {
  await page.locator('.part.sidebar').first().click({ position: { x: 120, y: 400 } });
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input.input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`>${label}`);
  const command = page.locator(`.quick-input-list .monaco-list-row[aria-label^="${label}"]`).first();
  await command.waitFor({ timeout: 10_000 });
  await command.click();
}

/**
 * The end of a UI test: closes the browser and stops code-server; when the test failed, copies the
 * extension's logs (flushed as its host stops) to `logsDir` and prints code-server's log. Then
 * deletes code-server's temp dir.
 */
export async function closeWorkbench({ browser, server, failed, extensionId, logsDir }) {
  await browser?.close();
  if (!server) return;
  await server.stop({ keepTemp: true });
  if (failed) {
    dumpExtensionLogs(server, extensionId, logsDir);
    console.log(`---- code-server log ----\n${server.log()}`);
  }
  server.removeTemp();
}
