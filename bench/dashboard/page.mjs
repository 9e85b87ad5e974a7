#!/usr/bin/env node
// The dashboard page itself in headless Chromium (no VS Code: a stand-in for acquireVsCodeApi whose
// setState does nothing, so the state's serialisation, the same in both, is not counted): how long
// the page takes to handle one message, chart redraw included, once it holds an hour of data.
//   GPU samples: 720 (the cap) fed, then the median time of the next 100, for 1, 4 and 8 GPUs.
//   Run updates: 720 fed (an hour of 5-second updates), then the median of the next 100.
// Messages are dispatched synchronously (MessageEvent) and chart.js draws synchronously (no
// animation), so performance.now() around the dispatch is the page's whole work for the message.
// Each scenario runs --repeat times (default 3, a fresh page each) and the lowest median counts: the
// machine is shared, and other work only ever adds time.
// The page of another revision is built from `git archive REV` with the same esbuild options.
// Usage: node bench/dashboard/page.mjs [--rev REV] [--label TEXT] [--repeat N]
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { launchChromium, makeTempDir } from '../../test/harness/codeServer.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const arg = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const rev = arg('--rev');
const label = arg('--label') ?? (rev ? `revision ${rev}` : 'working tree');
const repeat = Number(arg('--repeat') ?? 3);
const dir = makeTempDir('chase-bench-page-');

// The page's sources: this tree, or the revision's.
let src = root;
if (rev) {
  src = path.join(dir, 'src');
  fs.mkdirSync(src);
  execSync(`git archive ${rev} tsconfig.base.json webview agent/protocol extension/dashboard.ts | tar -x -C ${src}`, { cwd: root });
}
await esbuild.build({ entryPoints: [path.join(src, 'webview/dashboard.ts')], outfile: path.join(dir, 'dashboard.js'), bundle: true, platform: 'browser', format: 'iife', target: 'es2022', minify: true, nodePaths: [path.join(root, 'node_modules')], logLevel: 'warning' });
const html = fs.readFileSync(path.join(src, 'extension/dashboard.ts'), 'utf8');
const body = html.slice(html.indexOf('<body>') + 6, html.indexOf('<script nonce'));
const css = fs.readFileSync(path.join(src, 'webview/dashboard.css'), 'utf8');
fs.writeFileSync(path.join(dir, 'index.html'), `<!DOCTYPE html><html><head><meta charset="utf-8"><style>${css}</style></head><body class="vscode-light">${body}
<script>window.acquireVsCodeApi = () => ({ postMessage() {}, getState() { return undefined; }, setState() {} });</script>
<script src="dashboard.js"></script></body></html>`);

/** Runs in the page: feeds 720 messages, then times the next 100 one by one; the median, ms. */
function feed({ kind, gpuCount }) {
  const t0 = Date.UTC(2026, 11, 1, 10);
  const gpus = (k) => ({ gpus: Array.from({ length: gpuCount }, (_, i) => ({ index: i, uuid: `GPU-${i}`, name: 'NVIDIA A40 (simulated)', backend: 'simulated', simulated: true, powerLimitMw: 300_000 - (k % 7) * 10_000, defaultLimitMw: 300_000, minLimitMw: 100_000, maxLimitMw: 300_000, powerMw: 250_000 + ((k * 37 + i * 11) % 50) * 1000, control: 'permitted' })), notes: [] });
  const run = (k) => ({ id: 'r1', state: k < 60 ? 'profiling' : 'controlling', command: 'python3 train.py', gpuUuids: ['GPU-0'], policy: 'default', budgetPct: 10, startedAtMs: t0, energyJ: k * 1000, carbonG: k * 0.1, baselineCarbonG: k * 0.12, savedCarbonG: k * 0.02, slowdownPct: 3, unitsDone: k, currentLimitMw: 300_000 - (k % 7) * 10_000 });
  const message = (k) => (kind === 'gpus' ? { type: 'gpus', atMs: t0 + k * 5000, gpus: gpus(k) } : { type: 'run', atMs: t0 + k * 5000, run: run(k) });
  const send = (k) => window.dispatchEvent(new MessageEvent('message', { data: message(k) }));
  let k = 0;
  for (; k < 720; k++) send(k);
  const times = [];
  for (let n = 0; n < 100; n++, k++) {
    const t = performance.now();
    send(k);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[50];
}

const browser = await launchChromium({ viewport: { width: 1200, height: 1600 } });
const results = [];
try {
  for (const scenario of [{ kind: 'gpus', gpuCount: 1 }, { kind: 'gpus', gpuCount: 4 }, { kind: 'gpus', gpuCount: 8 }, { kind: 'run', gpuCount: 1 }]) {
    let ms = Infinity;
    for (let r = 0; r < repeat; r++) {
      await browser.page.goto(`file://${path.join(dir, 'index.html')}`);
      ms = Math.min(ms, await browser.page.evaluate(feed, scenario));
    }
    results.push({ ...scenario, ms });
    console.log(`${scenario.kind === 'gpus' ? `GPU sample, ${scenario.gpuCount} GPU(s)` : 'run update'}: ${ms.toFixed(2)} ms (lowest of ${repeat} medians of 100, after 720)`);
  }
} finally {
  await browser.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

const commit = rev ?? `${execSync('git rev-parse --short HEAD', { cwd: root, encoding: 'utf8' }).trim()}${execSync('git status --porcelain webview agent/protocol extension/dashboard.ts', { cwd: root, encoding: 'utf8' }).trim() ? ' + uncommitted changes' : ''}`;
const out = path.join(root, 'bench/dashboard/page-results.md');
const head = fs.existsSync(out) ? '' : '# Dashboard page: time per message in Chromium, chart redraw included\n\nbench/dashboard/page.mjs: the built page in headless Chromium with an hour of data held (720 messages), then the median of the next 100; the lowest of --repeat (3) such medians.\n';
const table = ['| message | ms per message |', '|---|---|', ...results.map((r) => `| ${r.kind === 'gpus' ? `GPU sample, ${r.gpuCount} GPU(s)` : 'run update'} | ${r.ms.toFixed(2)} |`)].join('\n');
fs.appendFileSync(out, `${head}\n## ${label}\n\n${commit}, ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores (shared), Chromium headless.\n\n${table}\n`);
console.log(`appended to ${path.relative(root, out)}`);
