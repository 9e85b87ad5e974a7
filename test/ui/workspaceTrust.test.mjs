// Workspace trust in the real VS Code (issue 12, finding 3): a cloned repository's .vscode/settings.json
// must not send the user's API key anywhere. code-server 4.96.4 (VS Code 1.96.4) with workspace trust
// ON opens a folder it has never seen in Restricted Mode; the packaged VSIX is installed; the user types
// an Electricity Maps key into "Chase: Set API Key" through the real command palette (SecretStorage);
// a loopback HTTP server records every request, under /user/ (the URL in the user's settings) and
// /workspace/ (the URL in the folder's settings).
//   (a) Restricted Mode: the workspace's restricted settings (provider, apiBaseUrl, traceFile, metrics)
//       are ignored — the key goes to the user's URL only, with the workspace's unrestricted zone; the
//       workspace's metrics port stays closed.
//   (b) the user trusts the folder: its restricted values now apply (the static provider it picks
//       shows); the repository then points chase.carbon.apiBaseUrl at /workspace/ with a keyed
//       provider — the agent refuses with a message naming the setting, and no request reaches it.
// Needs dist/chase-vscode.vsix (npm run package; or env CHASE_VSIX) and code-server.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, startCodeServer, launchChromium, makeTempDir, freePort, runPaletteCommand, closeWorkbench, tracking } from '../harness/codeServer.mjs';

const VSIX = path.resolve(process.env.CHASE_VSIX || path.join(REPO_ROOT, 'dist', 'chase-vscode.vsix'));
const OUT = path.join(REPO_ROOT, 'test-output', 'ui-workspace-trust');
const PKG = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
const OUR_ITEMS = `.statusbar-item[id^="${PKG.publisher}.${PKG.name}."]`;
const KEY = `em-ui-key-${randomBytes(8).toString('hex')}`;
const STATIC_G = 123;

/** Records every request; answers like Electricity Maps does to a key it does not know (401, JSON error). */
async function startTrap() {
  const requests = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push({ path: u.pathname, query: u.searchParams, headers: req.headers, atMs: Date.now() });
    res.writeHead(401, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: 'Invalid auth-token' }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, requests, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

/**
 * Resolves when `get()` returns something truthy; fails after `timeoutMs` saying what it waited for
 * and, from `seen()`, what there was instead.
 */
async function waitFor(get, timeoutMs, what, seen = async () => '') {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; instead: ${await seen()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
function listening(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

describe('workspace trust in code-server: a repository cannot redirect the API key', { timeout: 300_000 }, () => {
  let scratch;
  let trap;
  let server;
  let browser;
  let page;
  let settingsFile;
  let metricsPort;
  let anyFailed = false;

  before(async () => {
    try {
      assert.ok(fs.existsSync(VSIX), `${VSIX} is missing: run npm run package first`);
      fs.rmSync(OUT, { recursive: true, force: true });
      fs.mkdirSync(OUT, { recursive: true });
      trap = await startTrap();
      metricsPort = await freePort();
      scratch = makeTempDir('chase-trust-');
      const workspace = path.join(scratch, 'cloned-repo');
      fs.mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
      settingsFile = path.join(workspace, '.vscode', 'settings.json');
      // What a hostile repository would commit.
      fs.writeFileSync(settingsFile, JSON.stringify({
        'chase.carbon.provider': 'static',
        'chase.carbon.staticIntensity': STATIC_G,
        'chase.carbon.zone': 'DE',
        'chase.carbon.apiBaseUrl': `${trap.url}/workspace/v3`,
        'chase.carbon.traceFile': '/dev/zero',
        'chase.metrics.enabled': true,
        'chase.metrics.port': metricsPort,
      }, null, 2));
      server = await startCodeServer({
        vsix: VSIX,
        workspace,
        workspaceTrust: true,
        settings: {
          'security.workspace.trust.enabled': true,
          'security.workspace.trust.startupPrompt': 'never', // open in Restricted Mode without the modal
        },
        // The user's own choice: Electricity Maps through their own (here: loopback) proxy. In
        // code-server's remote window these machine-overridable settings live in the user's settings
        // for the machine (what Settings shows as "Remote").
        machineSettings: {
          'chase.carbon.provider': 'electricitymaps',
          'chase.carbon.apiBaseUrl': `${trap.url}/user/v3`,
        },
      });
      browser = await launchChromium();
      page = browser.page;
      await page.goto(server.url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
      await page.locator('.monaco-workbench').waitFor({ state: 'attached', timeout: 60_000 });
    } catch (err) {
      anyFailed = true;
      throw err;
    }
  });

  after(async () => {
    if (anyFailed && page) await page.screenshot({ path: path.join(OUT, 'failure.png') }).catch(() => {});
    await closeWorkbench({ browser, server, failed: anyFailed, extensionId: `${PKG.publisher}.${PKG.name}`, logsDir: path.join(OUT, 'logs') });
    await trap?.close();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  const tracked = tracking(() => {
    anyFailed = true;
  });

  /** The accessible names of our status bar items (the carbon item's says what is wrong). */
  const ourLabels = () => page.locator(OUR_ITEMS).evaluateAll((els) => els.map((el) => [el, ...el.querySelectorAll('[aria-label]')]
    .map((e) => e.getAttribute('aria-label') ?? '').join(' ')).join(' | ')).catch(() => '');
  const statusNow = async () => `status bar: ${JSON.stringify(await page.locator('.statusbar-item').allInnerTexts().catch(() => []))}; ours: ${await ourLabels()}`;
  const toWorkspace = () => trap.requests.filter((r) => r.path.startsWith('/workspace/'));

  const runCommand = (label) => runPaletteCommand(page, label);

  it('opens the folder in Restricted Mode', tracked(async () => {
    await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ state: 'visible', timeout: 60_000 });
    // Chase runs there (limited support) and, with no key yet, says so
    await waitFor(async () => /needs an API token/.test(await ourLabels()), 60_000, 'Chase to say Electricity Maps needs a token', statusNow);
  }));

  it('(a) the key typed into "Chase: Set API Key" goes to the user\'s URL only; the workspace\'s restricted settings are ignored', tracked(async (t) => {
    await runCommand('Chase: Set API Key');
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Electricity Maps' }).first();
    await row.waitFor({ timeout: 10_000 });
    await row.click();
    const box = page.locator('.quick-input-widget input.input[type="password"]');
    await box.waitFor({ state: 'visible', timeout: 10_000 });
    await box.fill(KEY);
    await page.keyboard.press('Enter');

    const keyed = await waitFor(() => trap.requests.find((r) => r.headers['auth-token'] === KEY), 60_000, 'a request carrying the key', async () => `${await statusNow()}; requests ${JSON.stringify(trap.requests.map((r) => r.path))}`);
    t.diagnostic(`first keyed request: ${keyed.path}?${keyed.query}`);
    // the user's URL and provider (not the workspace's static provider or its URL) ...
    assert.equal(keyed.path, '/user/v3/carbon-intensity/latest');
    // ... with the workspace's zone: its unrestricted settings do apply
    assert.equal(keyed.query.get('zone'), 'DE');
    await waitFor(async () => /rejected the API token \(401\)/.test(await ourLabels()), 30_000, 'the 401 from the user\'s URL in the status bar', statusNow);
    // the metrics endpoint the workspace asked for was configured away before the key was used
    assert.equal(await listening(metricsPort), false, `the workspace opened the metrics port ${metricsPort}`);
    assert.deepEqual(toWorkspace().map((r) => r.path), [], 'requests reached the workspace\'s URL');
    await page.screenshot({ path: path.join(OUT, 'restricted.png') });
  }));

  it('(b) trusted, the workspace\'s values apply, but its apiBaseUrl still gets no key: the agent refuses and says why', tracked(async (t) => {
    await runCommand('Workspaces: Manage Workspace Trust');
    const trust = page.getByRole('button', { name: 'Trust', exact: true }).first();
    await trust.waitFor({ state: 'visible', timeout: 20_000 });
    await trust.click();
    await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ state: 'hidden', timeout: 20_000 });
    // the workspace's provider now applies
    await waitFor(async () => (await page.locator(OUR_ITEMS).allInnerTexts()).some((x) => x.includes(`${STATIC_G} gCO₂/kWh`)), 30_000,
      `the workspace's static ${STATIC_G} g/kWh once trusted`, statusNow);

    // The repository (a pull, a checkout) now asks for a keyed provider at its own URL.
    const before = trap.requests.length;
    fs.writeFileSync(settingsFile, JSON.stringify({
      'chase.carbon.provider': 'electricitymaps',
      'chase.carbon.zone': 'DE',
      'chase.carbon.apiBaseUrl': `${trap.url}/workspace/v3`,
    }, null, 2));
    const refusal = /chase\.carbon\.apiBaseUrl \(127\.0\.0\.1:\d+\) is set by this workspace's settings/;
    // whichever comes first: the refusal, or a request at the workspace's URL (the leak)
    await waitFor(async () => toWorkspace().length > 0 || refusal.test(await ourLabels()), 30_000, 'the agent\'s refusal in the status bar', statusNow);
    assert.deepEqual(toWorkspace().map((r) => `${r.path} auth-token=${r.headers['auth-token'] === KEY ? 'THE KEY' : r.headers['auth-token']}`), [],
      'requests reached the workspace\'s URL');
    const label = await ourLabels();
    t.diagnostic(`status: ${label.slice(0, 400)}`);
    assert.match(label, refusal);
    assert.match(label, /Remove it from the workspace settings, or set it in your User settings/);
    assert.ok(!label.includes(KEY));
    await page.screenshot({ path: path.join(OUT, 'trusted-refused.png') });
    t.diagnostic(`requests: ${trap.requests.length} in all (${trap.requests.length - before} after the repository changed), none to /workspace/`);
  }));
});
