#!/usr/bin/env node
// The dashboard's GPU chart data: the work per 5-second sample once the chart holds an hour (720
// samples, the cap), for 1, 4 and 8 GPUs. Measures webview/model/gpuSeries.ts as built in out/
// (npx tsc -b first): milliseconds per sample (median of 5 rounds of 720 samples) and points written
// into the chart's lines per sample. Appends one section to bench/dashboard/results.md.
// Usage: node bench/dashboard/run.mjs [--label "before: …"]
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { GpuSeries } = createRequire(import.meta.url)(path.join(root, 'out/webview/model/gpuSeries.js'));
const label = process.argv.includes('--label') ? process.argv[process.argv.indexOf('--label') + 1] : 'run';
const CAP = 720; // one hour at 5 s (webview/dashboard.ts)
const ROUNDS = 5;

function sample(atMs, gpuCount, k) {
  const gpus = Array.from({ length: gpuCount }, (_, i) => ({
    index: i, uuid: `GPU-${i}`, name: 'NVIDIA A40 (simulated)', backend: 'simulated', simulated: true,
    powerLimitMw: 300_000 - (k % 7) * 10_000, defaultLimitMw: 300_000, minLimitMw: 100_000, maxLimitMw: 300_000,
    powerMw: 250_000 + ((k * 37 + i * 11) % 50) * 1000, control: 'permitted',
  }));
  return { atMs, gpus: { gpus, notes: [] } };
}

const rows = [];
for (const gpuCount of [1, 4, 8]) {
  const perSampleMs = [];
  let points = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const series = new GpuSeries(CAP);
    let k = 0;
    for (; k < CAP; k++) series.add(sample(k * 5000, gpuCount, k)); // fill to the cap
    const written0 = series.pointsWritten;
    const t = process.hrtime.bigint();
    for (let n = 0; n < CAP; n++, k++) series.add(sample(k * 5000, gpuCount, k)); // steady state: one in, one out
    perSampleMs.push(Number(process.hrtime.bigint() - t) / 1e6 / CAP);
    points = (series.pointsWritten - written0) / CAP;
  }
  perSampleMs.sort((a, b) => a - b);
  rows.push({ gpuCount, ms: perSampleMs[Math.floor(ROUNDS / 2)], points });
  console.log(`${gpuCount} GPU(s), ${CAP} samples held: ${perSampleMs[Math.floor(ROUNDS / 2)].toFixed(4)} ms and ${points} points written per sample`);
}

const commit = execSync('git rev-parse --short HEAD', { cwd: root, encoding: 'utf8' }).trim();
const out = path.join(root, 'bench/dashboard/results.md');
const head = fs.existsSync(out) ? '' : '# Dashboard GPU chart: work per sample\n\nEach GPU sample (every 5 s while the dashboard is visible) updates the chart\'s lines. With an hour of samples held (720, the cap) and one in, one out:\n';
const table = ['| GPUs | ms per sample (median of 5 × 720) | points written per sample |', '|---|---|---|', ...rows.map((r) => `| ${r.gpuCount} | ${r.ms.toFixed(4)} | ${r.points} |`)].join('\n');
fs.appendFileSync(out, `${head}\n## ${label}\n\nCommit ${commit}, ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores (shared), Node ${process.version}.\n\n${table}\n`);
console.log(`appended to ${path.relative(root, out)}`);
