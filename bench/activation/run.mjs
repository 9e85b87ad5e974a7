#!/usr/bin/env node
// How long Chase's activate() takes in a real VS Code (code-server 4.96.4 = VS Code 1.96.4).
// activate() measures itself with performance.now() (extension/extension.ts); the extension-host
// suite records that figure with its results. Baseline in the same extension host: a minimal
// extension's activate (a log channel, a status bar item, a command), measured the same way.
// Runs N times (fresh VS Code each) and prints min / median / max and the ratio to the baseline.
// Usage: node bench/activation/run.mjs [--runs 3]       (build first: npm run build && npx tsc -b)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 3;
const samples = [];
const baselines = [];
for (let i = 0; i < runs; i++) {
  const results = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'chase-bench-')), 'results.json');
  const r = spawnSync(process.execPath, [path.join(root, 'test/harness/runExtensionTests.mjs'), '--dev', root,
    '--tests', path.join(root, 'out/test/vscode/suite/index.js'), '--results', results], { encoding: 'utf8', env: { ...process.env, CHASE_TEST_GREP: 'activates on startup' } });
  if (!fs.existsSync(results)) { console.error(r.stdout.slice(-3000), r.stderr.slice(-2000)); process.exit(1); }
  const j = JSON.parse(fs.readFileSync(results, 'utf8'));
  samples.push(j.activationMs);
  baselines.push(j.minimalActivationMs);
  console.log(`run ${i + 1}: activate() ${j.activationMs.toFixed(2)} ms; minimal extension ${j.minimalActivationMs.toFixed(2)} ms`);
}
samples.sort((a, b) => a - b);
const median = samples[Math.floor(samples.length / 2)];
baselines.sort((a, b) => a - b);
const baseMedian = baselines[Math.floor(baselines.length / 2)];
const line = `activate(): min ${samples[0].toFixed(2)} ms, median ${median.toFixed(2)} ms, max ${samples[samples.length - 1].toFixed(2)} ms over ${runs} runs (target < 50 ms: ${median < 50 ? 'met' : 'NOT met'}); minimal-extension baseline median ${baseMedian.toFixed(2)} ms, ratio ${(median / baseMedian).toFixed(1)}×`;
console.log(line);
const out = path.join(root, 'bench/activation/results.md');
fs.writeFileSync(out, `# activate() time\n\nMeasured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores, Node ${process.version}, code-server 4.96.4 (VS Code 1.96.4).\n\n${line}\n\nSamples (ms): ${samples.map((s) => s.toFixed(2)).join(', ')}\n`);
console.log(`written ${path.relative(root, out)}`);
