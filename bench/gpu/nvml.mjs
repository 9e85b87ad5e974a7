#!/usr/bin/env node
// GPU layer benchmarks, on the fake libnvidia-ml.so.1 (test/fake-nvml/fake_nvml.c) through the
// agent's real koffi path (out/agent/gpu/nvml.js). Needs `npx tsc -b` first and gcc.
//
//   node bench/gpu/nvml.mjs [--seconds 60] [--calls 200000] [--no-write]
//
// 1. Per-call latency of the NVML reads the sampler makes (target ≤ 2 µs per call).
// 2. The sampling loop (GpuSampler + NvmlBackend) reading 8 GPUs at 10 Hz for --seconds, in a child
//    process: CPU from process.cpuUsage() over the loop (target ≤ 1 % of one core) and peak RSS from
//    process.memoryUsage() (target ≤ 80 MB).
// Writes bench/gpu/results.md (unless --no-write) and prints the same figures.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};

function fakeLibrary() {
  const src = path.join(ROOT, 'test', 'fake-nvml', 'fake_nvml.c');
  const lib = path.join(ROOT, 'out', 'fake-nvml', 'libnvidia-ml.so.1');
  if (!existsSync(lib) || statSync(lib).mtimeMs < statSync(src).mtimeMs) {
    mkdirSync(path.dirname(lib), { recursive: true });
    const tmp = `${lib}.${process.pid}.tmp`;
    execFileSync('gcc', ['-O2', '-shared', '-fPIC', '-Wall', '-Wl,-soname,libnvidia-ml.so.1', '-o', tmp, src]);
    renameSync(tmp, lib);
  }
  return lib;
}

function writeState(file, count) {
  const lines = [];
  for (let i = 0; i < count; i++) {
    lines.push(`gpu uuid=GPU-bench-${String(i).padStart(4, '0')} name=NVIDIA_A40 arch=7 min=100000 max=300000 default=300000 limit=300000 demand=250000 util=95 memutil=40`);
  }
  writeFileSync(file, lines.join('\n') + '\n');
}

function requireOut(rel) {
  const file = path.join(ROOT, 'out', 'agent', rel);
  if (!existsSync(file)) {
    console.error(`${file} is missing: run \`npx tsc -b\` first.`);
    process.exit(2);
  }
  return require(file);
}

// ---- child: the sampling loop ------------------------------------------------------------------
if (args.includes('--child-sampler')) {
  const seconds = flag('seconds', 60);
  const baseline = args.includes('--baseline'); // the same timer and bookkeeping, no GPU reads
  const { Nvml } = requireOut('gpu/nvml.js');
  const { NvmlBackend } = requireOut('gpu/backends/nvml.js');
  const { GpuSampler } = requireOut('gpu/sampler.js');
  const backend = new NvmlBackend(Nvml.load([process.env.CHASE_NVML_LIBRARY]));
  let ticks = 0;
  let peakRss = 0;
  let peakHeap = 0;
  const onSample = () => {
    // memory is read once a second (reading /proc every tick would be the bench's own cost)
    if (ticks++ % 10 !== 0) return;
    const m = process.memoryUsage();
    if (m.rss > peakRss) peakRss = m.rss;
    if (m.heapUsed > peakHeap) peakHeap = m.heapUsed;
  };
  const sampler = baseline
    ? { start() { this.h = setInterval(onSample, 100); }, stop() { clearInterval(this.h); }, latest: () => [] }
    : new GpuSampler(backend, backend.devices(), { periodMs: 100, onSample });
  // 1 s warm-up (module loading, JIT), then measure.
  sampler.start();
  await new Promise((r) => setTimeout(r, 1000));
  const ticks0 = ticks;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu = process.cpuUsage(cpu0);
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  sampler.stop();
  const samples = sampler.latest();
  await backend.close();
  process.stdout.write(
    JSON.stringify({
      gpus: samples.length,
      seconds,
      ticks: ticks - ticks0,
      wallMs,
      userMs: cpu.user / 1000,
      systemMs: cpu.system / 1000,
      cpuPercentOfOneCore: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
      peakRssMb: peakRss / 1048576,
      peakHeapMb: peakHeap / 1048576,
      baseline,
      energySource: samples[0]?.energySource,
      energyMjGpu0: samples[0]?.energyMj,
    }) + '\n',
  );
  process.exit(0);
}

// ---- parent --------------------------------------------------------------------------------------
const seconds = flag('seconds', 60);
const calls = flag('calls', 200000);
const lib = fakeLibrary();
const scratch = mkdtempSync(path.join(os.tmpdir(), 'chase-bench-gpu-'));
const state = path.join(scratch, 'state.txt');
writeState(state, 8);
process.env.FAKE_NVML_STATE = state;

const { Nvml } = requireOut('gpu/nvml.js');
const nvml = Nvml.load([lib]);
nvml.init();
const h = nvml.handleByIndex(0);

function bench(label, fn) {
  for (let i = 0; i < 5000; i++) fn(); // warm-up
  const runs = [];
  for (let r = 0; r < 5; r++) {
    const s = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    runs.push(Number(process.hrtime.bigint() - s) / calls);
  }
  runs.sort((a, b) => a - b);
  return { label, medianNs: runs[2], minNs: runs[0], maxNs: runs[4] };
}

const latency = [
  bench('nvmlDeviceGetPowerUsage → powerUsageMw()', () => nvml.powerUsageMw(h)),
  bench('nvmlDeviceGetTotalEnergyConsumption → totalEnergyMj()', () => nvml.totalEnergyMj(h)),
  bench('nvmlDeviceGetPowerManagementLimit → powerLimitMw()', () => nvml.powerLimitMw(h)),
  bench('nvmlDeviceGetPowerManagementLimitConstraints → limitConstraintsMw()', () => nvml.limitConstraintsMw(h)),
  bench('nvmlDeviceGetEnforcedPowerLimit → enforcedLimitMw()', () => nvml.enforcedLimitMw(h)),
  bench('nvmlDeviceGetUtilizationRates → utilization()', () => nvml.utilization(h)),
];
const readAll = bench('one GPU\'s sampler read (power + limit + energy, NvmlBackend.readSync)', (() => {
  const { NvmlBackend } = requireOut('gpu/backends/nvml.js');
  nvml.shutdown();
  const backend = new NvmlBackend(nvml);
  return () => backend.readSync(0);
})());
nvml.shutdown();

for (const l of [...latency, readAll]) console.log(`${l.label}: ${(l.medianNs / 1000).toFixed(3)} µs/call (min ${(l.minNs / 1000).toFixed(3)}, max ${(l.maxNs / 1000).toFixed(3)})`);

async function runChild(extra) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child-sampler', '--seconds', String(seconds), ...extra], {
    env: { ...process.env, CHASE_NVML_LIBRARY: lib, FAKE_NVML_STATE: state },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  const code = await new Promise((r) => child.on('exit', r));
  if (code !== 0) {
    console.error(`sampler child failed (${code})`);
    process.exit(1);
  }
  return JSON.parse(out);
}
console.log(`sampling loop: 8 GPUs at 10 Hz for ${seconds} s in a child process ...`);
const loop = await runChild([]);
console.log(JSON.stringify(loop));
console.log(`baseline: the same 10 Hz timer without GPU reads, ${seconds} s ...`);
const base = await runChild(['--baseline']);
console.log(JSON.stringify(base));

const hasNvidiaSmi = (() => {
  try {
    execFileSync('nvidia-smi', ['-L'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const koffiVersion = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', 'koffi', 'package.json'), 'utf8')).version;
const worst = Math.max(...latency.map((l) => l.medianNs)) / 1000;
const pass = (ok) => (ok ? 'yes' : '**no**');

const md = `# GPU layer benchmarks

Produced by \`node bench/gpu/nvml.mjs${seconds !== 60 ? ` --seconds ${seconds}` : ''}\` on ${new Date().toISOString().slice(0, 16)}Z.

Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} cores, **shared with other
engineers' builds and tests**, so figures are upper bounds), ${os.platform()} ${os.release()}, Node ${process.version}, koffi ${koffiVersion}.

**No GPU.** This machine has no NVIDIA GPU and no driver, and \`nvidia-smi\` ${hasNvidiaSmi ? 'exists' : 'does not exist here'}, so there is no
real-NVML or nvidia-smi comparison. All figures are through the agent's real koffi path
(\`out/agent/gpu/nvml.js\`) against the fake \`libnvidia-ml.so.1\` (\`test/fake-nvml/fake_nvml.c\`),
whose functions do almost nothing: the numbers measure the FFI + wrapper overhead, not the driver.
A real driver's calls go through the kernel module and will be slower; how much was not measured
(no GPU). Figures also vary with the other engineers' load: an earlier 60 s run on the same
machine, quieter (and reading memory every tick), gave 0.07–0.25 µs per call and 0.84 % CPU.
No GPU machine was lent to this task, so nothing was measured on real hardware.

## 1. Per-call latency (target ≤ 2 µs per call)

Median of 5 runs × ${calls} calls after warm-up, through the \`Nvml\` wrapper (TypedArray
out-parameters, return-code check):

| NVML call | median µs/call | min | max |
|---|---|---|---|
${[...latency, readAll].map((l) => `| ${l.label} | ${(l.medianNs / 1000).toFixed(3)} | ${(l.minNs / 1000).toFixed(3)} | ${(l.maxNs / 1000).toFixed(3)} |`).join('\n')}

Worst single-call median: **${worst.toFixed(3)} µs** → target met: ${pass(worst <= 2)}.

## 2. Sampling loop: 8 GPUs at 10 Hz for ${seconds} s (targets: CPU ≤ 1 % of one core, RSS ≤ 80 MB)

\`GpuSampler\` + \`NvmlBackend\` (power, limit and energy counter of each GPU every 100 ms, energy
meters updated), alone in a child process; CPU from \`process.cpuUsage()\` over the measured window
(after 1 s warm-up), RSS/heap peaks from \`process.memoryUsage()\` at every tick.

| figure | value |
|---|---|
| GPUs × rate | ${loop.gpus} × 10 Hz |
| measured window | ${(loop.wallMs / 1000).toFixed(1)} s, ${loop.ticks} ticks |
| CPU (user + system) | ${(loop.userMs + loop.systemMs).toFixed(0)} ms → **${loop.cpuPercentOfOneCore.toFixed(3)} % of one core** (target met: ${pass(loop.cpuPercentOfOneCore <= 1)}) |
| peak RSS | **${loop.peakRssMb.toFixed(1)} MB** (target met: ${pass(loop.peakRssMb <= 80)}) |
| peak JS heap | ${loop.peakHeapMb.toFixed(1)} MB |
| energy source | ${loop.energySource} (GPU 0 energy over the run: ${(loop.energyMjGpu0 / 1000).toFixed(0)} J at 250 W) |
| baseline: same process, same 10 Hz timer, no GPU reads | ${(base.userMs + base.systemMs).toFixed(0)} ms → ${base.cpuPercentOfOneCore.toFixed(3)} % of one core, peak RSS ${base.peakRssMb.toFixed(1)} MB |
| the reads' own cost (loop − baseline) | ${(loop.cpuPercentOfOneCore - base.cpuPercentOfOneCore).toFixed(3)} % of one core, ≈ ${Math.max(0, ((loop.userMs + loop.systemMs - base.userMs - base.systemMs) / Math.max(1, loop.ticks)) * 1000).toFixed(0)} µs per tick for 8 GPUs |

Most of the loop's CPU is waking Node up ten times a second (the baseline row), not NVML: on this
shared machine a timer wake-up costs several hundred µs of user + system time. The RSS is Node
itself plus koffi and the agent's modules.
`;
if (!args.includes('--no-write')) {
  writeFileSync(path.join(ROOT, 'bench', 'gpu', 'results.md'), md);
  console.log('wrote bench/gpu/results.md');
}
