// UI test: the packaged VSIX installed into a real VS Code (code-server 4.96.4), driven in headless
// Debian Chromium through playwright-core.
//   (a) a status bar item shows the carbon intensity with its unit within 15 s of the workbench
//   (b) clicking it opens the dashboard webview and the chart paints its canvas
//   (c) screenshots of the workbench, the status bar item and the dashboard in test-output/ui/
//   (d) the sample `chase` task, started from the command palette, profiles, follows the sped-up
//       replay and saves carbon: its terminal summary shows a saving > 0 within 180 s; the open
//       dashboard shows the projected carbon after profiling, a limit that took at least two values
//       while controlled, and draws the run (status line, time axes in round units); an image
//       sequence of the dashboard during the run in test-output/ui/demo-sequence/
//   (e) switching to dark and high-contrast themes: the dashboard rebuilds its charts in their colours
//   (f) a sped-up replay of a square-wave trace is labelled ×3600 and raises a carbon alert while the task
//       runs again; that second run reuses the stored profile and says so
// Needs dist/chase-vscode.vsix (npm run package; or env CHASE_VSIX) and code-server
// (scripts/install-code-server.sh, or env CHASE_CODE_SERVER).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, startCodeServer, launchChromium, makeTempDir, runPaletteCommand, closeWorkbench, tracking } from '../harness/codeServer.mjs';

// CHASE_VSIX: test another package (e.g. a CI artifact) instead of the one npm run package wrote
const VSIX = path.resolve(process.env.CHASE_VSIX || path.join(REPO_ROOT, 'dist', 'chase-vscode.vsix'));
const SAMPLE = path.join(REPO_ROOT, 'sample-workspace');
const OUT = path.join(REPO_ROOT, 'test-output', 'ui');
const STATUS_TEXT = /\d+(\.\d+)? gCO₂\/kWh/;
const STATUS_BUDGET_MS = 15_000;
const STATUS_GRACE_MS = 45_000;
// status bar items of an extension have DOM ids `<publisher>.<name>.<item id>`
const PKG = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
const OUR_ITEMS = `.statusbar-item[id^="${PKG.publisher}.${PKG.name}."]`;

// the sample task (sample-workspace/.vscode/tasks.json): about 45 s of profiling and 55 s of control
const TASK_SUMMARY_MS = 180_000;

describe('Chase UI in code-server + Chromium', { timeout: 600_000 }, () => {
  let scratch;
  let server;
  let browser;
  let page;
  let workbenchAt;
  let anyFailed = false;
  const timings = {};
  const consoleErrors = [];
  const t0 = Date.now();
  const since = (t) => Date.now() - t;

  before(async () => {
    try {
      await setUp();
    } catch (err) {
      anyFailed = true; // screenshot and code-server log in after()
      throw err;
    }
  });

  async function setUp() {
    assert.ok(fs.existsSync(VSIX), `${VSIX} is missing: run npm run package first`);
    fs.rmSync(OUT, { recursive: true, force: true });
    fs.mkdirSync(OUT, { recursive: true });
    scratch = makeTempDir('chase-ui-');
    const workspace = path.join(scratch, 'sample-workspace');
    if (fs.existsSync(SAMPLE)) fs.cpSync(SAMPLE, workspace, { recursive: true });
    else fs.mkdirSync(workspace);

    // The DOM terminal renderer, so the task's output can be read from the page.
    server = await startCodeServer({ vsix: VSIX, workspace, settings: { 'terminal.integrated.gpuAcceleration': 'off' } });
    timings.codeServerReadyMs = since(t0);
    browser = await launchChromium();
    page = browser.page;
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    timings.browserReadyMs = since(t0);

    await page.goto(server.url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
    await page.locator('.monaco-workbench').waitFor({ state: 'attached', timeout: 60_000 });
    workbenchAt = Date.now();
    timings.workbenchPresentMs = since(t0);
  }

  after(async () => {
    if (anyFailed && page && fs.existsSync(OUT)) {
      await page.screenshot({ path: path.join(OUT, 'failure.png') }).catch(() => {});
      console.log(`browser console errors (${consoleErrors.length}):\n  ${consoleErrors.slice(0, 20).join('\n  ')}`);
    }
    timings.totalMs = since(t0);
    if (fs.existsSync(OUT)) fs.writeFileSync(path.join(OUT, 'timings.json'), `${JSON.stringify(timings, null, 2)}\n`);
    console.log(`UI timings (ms): ${JSON.stringify(timings)}`);
    await closeWorkbench({ browser, server, failed: anyFailed, extensionId: `${PKG.publisher}.${PKG.name}`, logsDir: path.join(OUT, 'logs') });
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  const tracked = tracking(() => {
    anyFailed = true;
  });

  const statusItem = () => page.locator('.statusbar-item').filter({ hasText: STATUS_TEXT }).first();
  /** The dashboard's document, inside the webview's two iframes. */
  const dashboardFrame = () => page.frameLocator('iframe.webview.ready').first().frameLocator('#active-frame');

  it('shows the carbon intensity with its unit in the status bar within 15 s of the workbench', tracked(async (t) => {
    // what our status bar items showed and when (ms after the workbench): tells a slow activation
    // apart from a slow first reading
    const timeline = [];
    let watching = true;
    const watcher = (async () => {
      let last;
      while (watching) {
        const texts = await page.locator(OUR_ITEMS).allInnerTexts().catch(() => []);
        const now = texts.map((x) => x.trim()).join(' | ');
        if (now !== last) {
          timeline.push(`${since(workbenchAt)} ms: ${now ? JSON.stringify(now) : '(none)'}`);
          if (now && timings.extensionItemAfterWorkbenchMs === undefined) timings.extensionItemAfterWorkbenchMs = since(workbenchAt);
          last = now;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    // wait past the budget (up to STATUS_GRACE_MS) so a failure says "slow" or "never" and the other
    // tests and screenshots still run; the budget is asserted below
    const item = statusItem();
    let waitError;
    try {
      await item.waitFor({ state: 'visible', timeout: Math.max(1, STATUS_GRACE_MS - since(workbenchAt)) });
      timings.statusBarAfterWorkbenchMs = since(workbenchAt);
    } catch (err) {
      waitError = err;
    } finally {
      watching = false;
      await watcher;
    }
    timings.statusBarTimeline = timeline;
    const history = `our items (${OUR_ITEMS}), ms after the workbench:\n    ${timeline.join('\n    ')}`;
    if (waitError) {
      const statusBar = await page.locator('.statusbar-item').allInnerTexts().catch(() => []);
      throw new Error(`no status bar item matching ${STATUS_TEXT} even ${STATUS_GRACE_MS / 1000} s after the workbench\n`
        + `  status bar now: ${JSON.stringify(statusBar.map((x) => x.trim()).filter(Boolean))}\n  ${history}\n${waitError.message}`);
    }
    await page.screenshot({ path: path.join(OUT, 'workbench.png') });
    await item.screenshot({ path: path.join(OUT, 'status-bar-item.png') });

    const text = (await item.innerText()).trim();
    t.diagnostic(`status bar item "${text}" visible ${timings.statusBarAfterWorkbenchMs} ms after the workbench`);
    assert.match(text, STATUS_TEXT);
    const id = await item.getAttribute('id');
    assert.ok(id?.startsWith(`${PKG.publisher}.${PKG.name}.`), `the item showing "${text}" (id ${id}) is not ours`);
    const names = await item.evaluate((el) => [el, ...el.querySelectorAll('[aria-label]')]
      .map((e) => e.getAttribute('aria-label')).filter(Boolean));
    assert.ok(names.some((n) => n.startsWith('Carbon intensity')),
      `accessibility name should start with "Carbon intensity", got ${JSON.stringify(names)}`);
    assert.ok(timings.statusBarAfterWorkbenchMs <= STATUS_BUDGET_MS,
      `the intensity showed ${timings.statusBarAfterWorkbenchMs} ms after the workbench, over the ${STATUS_BUDGET_MS / 1000} s budget\n  ${history}`);
  }));

  it('opens the dashboard with a painted intensity chart when the status bar item is clicked', tracked(async (t) => {
    await page.keyboard.press('Escape'); // close any notification toast that could cover the item
    const clickedAt = Date.now();
    await statusItem().click({ timeout: 10_000 });
    const frame = dashboardFrame();
    await frame.locator('body[data-chart-rendered="true"]').waitFor({ state: 'attached', timeout: 30_000 });
    const canvas = frame.locator('canvas#intensity-chart');
    await canvas.waitFor({ state: 'visible', timeout: 10_000 });
    timings.dashboardAfterClickMs = since(clickedAt);

    const painted = await canvas.evaluate((c) => {
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n;
    });
    timings.paintedPixels = painted;
    t.diagnostic(`chart rendered ${timings.dashboardAfterClickMs} ms after the click, ${painted} painted pixels`);
    assert.ok(painted > 1000, `the chart canvas has only ${painted} painted pixels`);
  }));

  it('the dashboard shows the GPUs\' power limit and draw (simulated, labelled so)', tracked(async () => {
    const frame = dashboardFrame();
    await frame.locator('body[data-gpu-rendered="true"]').waitFor({ state: 'attached', timeout: 20_000 });
    const text = await frame.locator('#gpu-status').innerText();
    assert.match(text, /GPU 0 .*limit \d+ W, drawing \d+ W.*SIMULATED/);
  }));

  it('wrote screenshots of the workbench, the status bar item and the dashboard', tracked(async () => {
    await page.screenshot({ path: path.join(OUT, 'dashboard.png') });
    await page.locator('iframe.webview.ready').first().screenshot({ path: path.join(OUT, 'dashboard-webview.png'), timeout: 5_000 })
      .catch(() => {}); // no dashboard: reported by the test above, and by the file check below
    for (const name of ['workbench.png', 'status-bar-item.png', 'dashboard.png', 'dashboard-webview.png']) {
      const file = path.join(OUT, name);
      assert.ok(fs.existsSync(file), `${name} was not written`);
      assert.ok(fs.statSync(file).size > 500, `${name} is only ${fs.statSync(file).size} bytes`);
    }
  }));

  const runCommand = (label) => runPaletteCommand(page, label);

  /** Picks a row of the open quick pick by its label. */
  async function pick(label, timeoutMs = 20_000) {
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first();
    await row.waitFor({ timeout: timeoutMs });
    await row.click();
  }

  /** Starts the workspace's sample task from the command palette, as a user would. */
  async function startSampleTask() {
    await runCommand('Tasks: Run Task');
    await pick('Train demo (carbon-aware)');
  }

  /** Resolves with the task terminal's text once its summary line is there. */
  async function taskSummary() {
    await page.waitForFunction(() => [...document.querySelectorAll('.xterm-rows')].some((e) => /Chase: [\d.]+ kWh, [\d.]+ gCO₂.*exit code 0/.test(e.textContent ?? '')), null, { timeout: TASK_SUMMARY_MS, polling: 500 });
    return (await page.locator('.terminal-wrapper .xterm-rows').last().innerText()).replace(/\s+/g, ' ');
  }

  async function runSampleTask() {
    await startSampleTask();
    return taskSummary();
  }

  it('runs the sample "chase" task from the command palette: it profiles, follows the grid and saves carbon; the dashboard projects its cost', tracked(async (t) => {
    // The dashboard stays open (runCommand gives the workbench the keys): it draws the run as it goes.
    const frame = dashboardFrame();
    const startedAt = Date.now();
    await startSampleTask();
    const summaryDone = taskSummary();
    summaryDone.catch(() => {}); // awaited below; a timeout there is the failure to report
    // an image sequence of the dashboard while the task runs (docs/screenshots/README.md indexes a selection)
    const sequenceDir = path.join(OUT, 'demo-sequence');
    fs.mkdirSync(sequenceDir, { recursive: true });
    let frames = 0;
    let running = true;
    const webview = page.locator('iframe.webview.ready').first();
    // the frames show the run's section: its charts, status and projection
    await frame.locator('#run-heading').evaluate((h) => h.scrollIntoView({ block: 'start' })).catch(() => {});
    const sequence = (async () => {
      for (let next = Date.now(); running; next += 10_000) {
        await webview.screenshot({ path: path.join(sequenceDir, `frame-${String(frames).padStart(2, '0')}.png`), timeout: 5_000 }).then(() => frames++, () => {});
        while (running && Date.now() < next + 10_000) await new Promise((r) => setTimeout(r, 200));
      }
    })();
    // after profiling: the projected carbon (the first projection comes with control)
    const projection = frame.locator('#run-projection', { hasText: /^Projected [\d.]+ kWh, [\d.]+( \([\d.]+–[\d.]+\))? gCO₂, / });
    await projection.waitFor({ state: 'visible', timeout: TASK_SUMMARY_MS });
    timings.projectionShownMs = since(startedAt);
    const projected = await projection.innerText();
    t.diagnostic(`${timings.projectionShownMs} ms after the start: "${projected}"`);
    assert.match(projected, /saving -?[\d.]+ % .* vs max power, done \d\d:\d\d:\d\d UTC/, 'the task declares its total work: the projection says when it will be done');
    await webview.screenshot({ path: path.join(OUT, 'dashboard-projection.png'), timeout: 5_000 }).catch(() => {});
    let text;
    try {
      text = await summaryDone;
    } finally {
      running = false;
      await sequence;
    }
    timings.taskSummaryMs = since(startedAt);
    timings.sequenceFrames = frames;
    const summary = text.match(/Chase: [\d.]+ kWh[^;]*; exit code \d+/)?.[0] ?? '';
    t.diagnostic(`task finished ${timings.taskSummaryMs} ms after it started: ${summary}`);
    assert.match(text, /SIMULATED GPUs/);
    // the wording of agent/protocol/runOutcome.ts: the saving in % and g (or why it is not known), the slowdown against the budget
    assert.match(summary, /^Chase: [\d.]+ kWh, [\d.]+ gCO₂ — saved [\d.]+ % \([\d.]+ g\) vs max power, slowdown [\d.]+ % of 10 % budget; exit code 0$/);
    const savedPct = Number(summary.match(/saved ([\d.]+) %/)[1]);
    assert.ok(savedPct > 0, `the demo saved ${savedPct} %`);
    assert.ok(timings.taskSummaryMs <= TASK_SUMMARY_MS, `the summary came ${timings.taskSummaryMs} ms after the start`);
    // the terminal said what the run would cost after profiling, and at the end how far off that was
    assert.match(text, /Chase: after profiling, projected [\d.]+ kWh/);
    assert.match(text, /Chase: projected [\d.]+ gCO₂ after profiling, emitted [\d.]+ gCO₂: ([\d.]+ % (more|less) than projected|as projected)/);
    await page.screenshot({ path: path.join(OUT, 'task.png') });

    await frame.locator('body[data-run-rendered="true"]').waitFor({ state: 'attached', timeout: 20_000 });
    await frame.locator('#run-status', { hasText: 'finished' }).waitFor({ timeout: 20_000 });
    const runStatus = await frame.locator('#run-status').innerText();
    assert.match(runStatus, /python3 train_demo\.py .*: finished — [\d.]+ kWh, [\d.]+ gCO₂ — /);
    // the live charts count time from their first sample in round units, not chart.js's −1…1 or 0.09-minute axes
    const axis = (id) => frame.locator(`canvas#${id}`).getAttribute('data-time-axis');
    const axes = { gpu: await axis('gpu-chart'), limit: await axis('run-limit-chart'), carbon: await axis('run-chart') };
    t.diagnostic(`dashboard after the run: "${runStatus}"; time axes: ${JSON.stringify(axes)}`);
    assert.match(axes.gpu ?? '', /^(seconds|minutes|hours) since the first sample \(0, \d+(\.\d+)?(, [\d.]+)*\)$/);
    assert.match(axes.limit ?? '', /^(seconds|minutes) since the run started \(0, \d+(\.\d+)?(, [\d.]+)*\)$/);
    assert.equal(axes.carbon, axes.limit, 'the run\'s two charts share one time axis');
    // the limit followed the grid: at least two values while controlled (profiling's candidates not counted)
    const limits = (await frame.locator('canvas#run-limit-chart').getAttribute('data-controlled-limits') ?? '').split(',').filter(Boolean);
    t.diagnostic(`limits while controlled (W): ${limits.join(', ')}`);
    assert.ok(new Set(limits).size >= 2, `the limit held ${JSON.stringify(limits)} while controlled`);
    // at the end, the projection is compared with the outcome
    assert.match(await frame.locator('#run-projection').innerText(), /^Projected [\d.]+ gCO₂ after profiling, emitted [\d.]+ gCO₂/);
    // the run as a table: its intensity (and limit) changes since it started
    await frame.locator('#run-table-view summary').click();
    await frame.locator('#run-timeline tbody tr').first().waitFor({ timeout: 5_000 });
    const rows = await frame.locator('#run-timeline tbody tr').allInnerTexts();
    t.diagnostic(`run table view: ${JSON.stringify(rows.map((r) => r.replace(/\s+/g, ' ')))}`);
    assert.match(rows[0], /^0:\d\d\s+\d+\s/);
    await frame.locator('#run-heading').evaluate((h) => h.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: path.join(OUT, 'dashboard-run.png') });
    await frame.locator('body').evaluate(() => window.scrollTo(0, 0)); // the theme screenshots show the top
  }));

  it('switches to dark and high-contrast themes: the open dashboard rebuilds its charts in each theme\'s colours (screenshots)', tracked(async (t) => {
    const luminance = (css) => {
      const [r, g, b] = css.match(/[\d.]+/g).slice(0, 3).map(Number);
      return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    };
    await page.keyboard.press('Escape');
    await statusItem().click({ timeout: 10_000 });
    const frame = dashboardFrame();
    await frame.locator('body[data-chart-rendered="true"]').waitFor({ state: 'attached', timeout: 30_000 });
    const colours = () => frame.locator('body').evaluate((b) => ({ background: getComputedStyle(b).backgroundColor, text: getComputedStyle(b).color, classes: b.className }));
    /** Pixels of the intensity chart in a light, opaque colour (the dark themes' axis labels). */
    const lightChartPixels = () => frame.locator('canvas#intensity-chart').evaluate((c) => {
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 200 && data[i] > 150 && data[i + 1] > 150 && data[i + 2] > 150) n++;
      return n;
    });
    /** Picks a theme from the palette; resolves when the workbench and the dashboard have switched. */
    const switchTheme = async (label, workbenchClass, dashboardTheme) => {
      await runCommand('Preferences: Color Theme');
      await page.locator('.quick-input-widget input.input').fill(label);
      await page.locator(`.quick-input-list .monaco-list-row[aria-label^="${label}"]`).first().click({ timeout: 10_000 });
      await page.locator(`.monaco-workbench.${workbenchClass}`).waitFor({ state: 'attached', timeout: 10_000 });
      // the webview saw the theme change and rebuilt its charts (webview/dashboard.ts sets data-theme then)
      await frame.locator(`body[data-theme="${dashboardTheme}"]`).waitFor({ state: 'attached', timeout: 10_000 });
      return colours();
    };

    const light = await colours();
    assert.match(light.classes, /vscode-light/, `the test starts in a light theme, body classes: ${light.classes}`);
    assert.ok(luminance(light.background) > 0.7 && luminance(light.text) < 0.4, `light theme colours: ${JSON.stringify(light)}`);

    const dark = await switchTheme('Dark Modern', 'vs-dark', 'dark');
    assert.ok(luminance(dark.background) < 0.3 && luminance(dark.text) > 0.6, `dark theme colours: ${JSON.stringify(dark)}`);
    const darkPixels = await lightChartPixels();
    assert.ok(darkPixels > 200, `the chart rebuilt for the dark theme has only ${darkPixels} light (text-coloured) pixels`);
    await page.screenshot({ path: path.join(OUT, 'dashboard-dark.png') });
    await statusItem().screenshot({ path: path.join(OUT, 'status-bar-item-dark.png') });

    const contrast = await switchTheme('Dark High Contrast', 'hc-black', 'high-contrast');
    assert.ok(luminance(contrast.background) < 0.05 && luminance(contrast.text) > 0.95, `high-contrast theme colours: ${JSON.stringify(contrast)}`);
    const contrastPixels = await lightChartPixels();
    assert.ok(contrastPixels > 200, `the chart rebuilt for the high-contrast theme has only ${contrastPixels} light pixels`);
    await page.screenshot({ path: path.join(OUT, 'dashboard-high-contrast.png') });
    t.diagnostic(`dashboard background / text — light: ${light.background} / ${light.text}; dark: ${dark.background} / ${dark.text}; `
      + `high contrast: ${contrast.background} / ${contrast.text}; light chart pixels: dark ${darkPixels}, high contrast ${contrastPixels}`);

    // back to dark for the tests that follow: high-contrast themes draw status bar items in their own
    // colours (the level shows by its icon there)
    await switchTheme('Dark Modern', 'vs-dark', 'dark');

    for (const name of ['dashboard.png', 'dashboard-dark.png', 'dashboard-high-contrast.png', 'status-bar-item.png', 'status-bar-item-dark.png']) {
      assert.ok(fs.statSync(path.join(OUT, name)).size > 500, `${name} is too small`);
    }
  }));

  it('alerts while the task runs when a sped-up replay crosses into high intensity, and the status bar turns red', tracked(async (t) => {
    // A trace that alternates between a clean and a dirty hour, replayed at one hour per second, with
    // the levels pinned around it: the grid crosses from "medium" into "high" every other second.
    // (Nothing is ever "low", so no "cleaner window soon" alert can come first.)
    const MEDIUM_G = 120;
    const HIGH_G = 420;
    const trace = path.join(scratch, 'square-wave.csv');
    const rows = Array.from({ length: 48 }, (_, h) => `${new Date(Date.UTC(2023, 0, 1, h)).toISOString()},${h % 2 === 0 ? MEDIUM_G : HIGH_G}`);
    fs.writeFileSync(trace, `timestamp,intensity\n${rows.join('\n')}\n`);
    // workspace settings, as a user would write them
    fs.writeFileSync(path.join(server.workspace, '.vscode', 'settings.json'), JSON.stringify({
      'chase.carbon.traceFile': trace,
      'chase.carbon.replaySpeed': 3600,
      'chase.statusBar.lowBelow': 100,
      'chase.statusBar.highAbove': 300,
    }, null, 2));
    // A fresh window (and extension host): alerts are rate-limited to one an hour, and the earlier
    // task run may already have raised one about the recorded trace.
    await page.reload({ waitUntil: 'domcontentloaded' });
    await page.locator(OUR_ITEMS).filter({ hasText: '(square-wave.csv)' }).first().waitFor({ state: 'visible', timeout: 60_000 });
    // a sped-up replay is labelled so, never passed off as the live grid
    await page.locator(OUR_ITEMS).filter({ hasText: '(square-wave.csv) ×3600' }).first().waitFor({ state: 'visible', timeout: 10_000 });

    /**
     * How our status bar item looks once it shows `g` g/kWh at `level` (by its accessible name): the
     * first renders after a reload may come before the workspace's settings reach the extension.
     */
    const lookAt = async (g, level) => (await page.waitForFunction(([selector, text, levelWords]) => {
      for (const el of document.querySelectorAll(selector)) {
        const names = [el, ...el.querySelectorAll('[aria-label]')].map((e) => e.getAttribute('aria-label') ?? '').join(' ');
        if (!el.textContent?.includes(text) || !names.includes(levelWords)) continue;
        // VS Code paints the item's background and text colour on its label
        const label = el.querySelector('.statusbar-item-label') ?? el;
        const icons = [...label.querySelectorAll('.codicon')].map((i) => [...i.classList].find((c) => c !== 'codicon')).join(' ');
        return `background ${getComputedStyle(label).backgroundColor}, text ${getComputedStyle(label).color}, icons ${icons}`;
      }
      return false;
    }, [OUR_ITEMS, `${g} gCO₂/kWh`, `${level} for this grid`], { timeout: 30_000, polling: 100 })).jsonValue();
    const highLook = await lookAt(HIGH_G, 'high');
    const mediumLook = await lookAt(MEDIUM_G, 'medium');
    assert.match(highLook, /icons codicon-flame/, 'a high intensity shows the flame icon');
    assert.match(mediumLook, /icons codicon-pulse/);
    t.diagnostic(`status bar item at ${HIGH_G} g/kWh: ${highLook}; at ${MEDIUM_G} g/kWh: ${mediumLook}`);
    assert.notEqual(highLook.replace(/, icons.*/, ''), mediumLook.replace(/, icons.*/, ''), 'the status bar item should change colour when the grid is high');

    // No alert without a live run ...
    const alert = page.locator('.notification-toast', { hasText: 'Grid carbon intensity is high' });
    assert.equal(await alert.count(), 0, 'an alert fired with no run live');
    // ... and one while the sample task runs.
    await page.locator('.tabs-container .tab .action-label.codicon-close').first().click({ timeout: 5_000 }).catch(() => {});
    const startedAt = Date.now();
    const summary = runSampleTask();
    await alert.first().waitFor({ state: 'visible', timeout: 60_000 });
    timings.alertAfterTaskStartMs = since(startedAt);
    const message = (await alert.first().innerText()).replace(/\s+/g, ' ');
    t.diagnostic(`alert ${timings.alertAfterTaskStartMs} ms after the task started: ${message}`);
    assert.match(message, new RegExp(`${HIGH_G} gCO₂/kWh .*high above 300\\).*python3`));
    const mute = alert.first().getByRole('button', { name: 'Mute for today' });
    await mute.waitFor({ state: 'visible', timeout: 5_000 });
    // the toast slides in: the screenshot waits until it stopped moving (the same box twice in a row)
    for (let prev, i = 0; i < 100; i++) {
      const box = JSON.stringify(await alert.first().boundingBox());
      if (box === prev) break;
      prev = box;
      await new Promise((r) => setTimeout(r, 50));
    }
    await page.screenshot({ path: path.join(OUT, 'alert.png') });
    await mute.click();
    await alert.first().waitFor({ state: 'hidden', timeout: 10_000 });
    // the same task again: its profile was stored by the first run, and the terminal says it is reused
    const text = await summary;
    assert.match(text, /Chase: reusing the stored power profile of train_demo\.py#[0-9a-f]+ — no profiling/);
    assert.match(text, /Chase: with the stored profile, projected /);
  }));
});
