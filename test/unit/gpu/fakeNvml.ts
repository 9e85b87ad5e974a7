/**
 * Test helpers for the fake libnvidia-ml.so.1 (test/fake-nvml/fake_nvml.c): builds it with gcc once
 * (into out/fake-nvml/, rebuilt when the source is newer; atomic rename so parallel test files can
 * race safely), and writes / reads the state file it is driven by (env FAKE_NVML_STATE).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../../agent/paths';

export const FAKE_SOURCE = join(packageRoot, 'test', 'fake-nvml', 'fake_nvml.c');
const OUT_DIR = join(packageRoot, 'out', 'fake-nvml');

/**
 * Path of the compiled fake library (compiles it if needed). `driver` picks the process-list
 * symbols it exports, as that driver branch's real library does (fake_nvml.c); 535 is the default.
 */
export function fakeNvmlLibrary(driver: 535 | 470 | 418 = 535): string {
  const dir = driver === 535 ? OUT_DIR : join(OUT_DIR, String(driver));
  const library = join(dir, 'libnvidia-ml.so.1');
  if (existsSync(library) && statSync(library).mtimeMs >= statSync(FAKE_SOURCE).mtimeMs) return library;
  mkdirSync(dir, { recursive: true });
  const tmp = `${library}.${process.pid}.tmp`;
  execFileSync('gcc', ['-O2', '-shared', '-fPIC', '-Wall', '-Werror', `-DFAKE_NVML_DRIVER=${driver}`, '-Wl,-soname,libnvidia-ml.so.1', '-o', tmp, FAKE_SOURCE], { stdio: 'pipe' });
  renameSync(tmp, library);
  return library;
}

export interface FakeGpu {
  uuid: string;
  name?: string;
  bus?: string;
  arch?: number;
  min?: number;
  max?: number;
  default?: number;
  limit?: number;
  demand?: number;
  energy?: number;
  util?: number;
  memutil?: number;
  persistence?: number;
  mig?: number;
  procs?: { pid: number; mem: number }[];
}

export interface FakeError {
  fn: string;
  code: number;
  index?: number;
}

export function writeFakeState(file: string, gpus: FakeGpu[], errors: FakeError[] = []): void {
  const lines = gpus.map((g) => {
    const { procs, name, ...rest } = g;
    const fields = Object.entries(rest).map(([k, v]) => `${k}=${String(v)}`);
    if (name) fields.push(`name=${name.replace(/ /g, '_')}`);
    if (procs && procs.length) fields.push(`procs=${procs.map((p) => `${p.pid}:${p.mem}`).join(',')}`);
    return `gpu ${fields.join(' ')}`;
  });
  for (const e of errors) lines.push(`err ${e.fn} ${e.code}${e.index === undefined ? '' : ` ${e.index}`}`);
  writeFileSync(file, lines.join('\n') + '\n');
}

/** Reads the limits (mW) the fake has persisted, by UUID. */
export function readFakeLimits(file: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('gpu ')) continue;
    const uuid = /uuid=(\S+)/.exec(line)?.[1];
    const limit = /limit=(\d+)/.exec(line)?.[1];
    if (uuid && limit) out[uuid] = Number(limit);
  }
  return out;
}

export function tempDir(prefix = 'chase-gpu-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Two A40-like GPUs and one P100 (no energy counter), all at their 300 W / 250 W defaults. */
export function standardGpus(): FakeGpu[] {
  return [
    { uuid: 'GPU-11111111-aaaa-0000', name: 'NVIDIA A40', arch: 7, min: 100000, max: 300000, default: 300000, limit: 300000, demand: 250000, util: 97, memutil: 40, procs: [{ pid: 4242, mem: 1048576 }] },
    { uuid: 'GPU-22222222-bbbb-0001', name: 'NVIDIA A40', arch: 7, min: 100000, max: 300000, default: 300000, limit: 300000, demand: 250000 },
    { uuid: 'GPU-33333333-cccc-0002', name: 'Tesla P100-PCIE-16GB', arch: 4, min: 125000, max: 250000, default: 250000, limit: 250000, demand: 200000 },
  ];
}

/**
 * Environment for a child agent process using the fake. The fake GPUs' machine-wide claims go next
 * to their state file (one fake "machine" per state file), so parallel tests never share them.
 */
export function fakeEnv(stateFile: string, stateDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['CUDA_VISIBLE_DEVICES', 'CHASE_ZEUSD_SOCKET', 'ZEUSD_SOCK_PATH', 'ZEUSD_HOST_PORT', 'CHASE_GPU_BACKEND', 'CHASE_ZEUSD_TOKEN', 'ZEUSD_TOKEN', 'CHASE_NVML_PERMISSION_PROBE', 'CHASE_AGENT_SOCKET']) delete env[k];
  // The fake models NVML's permission check by injected return codes (err nvmlDeviceSetPowerManagementLimit 4),
  // not by the process's capabilities: probe it by writing, so tests behave the same for root and users.
  return { ...env, CHASE_NVML_LIBRARY: fakeNvmlLibrary(), FAKE_NVML_STATE: stateFile, CHASE_STATE_DIR: stateDir, CHASE_NVML_PERMISSION_PROBE: 'write', CHASE_CLAIMS_DIR: join(dirname(stateFile), 'claims'), ...extra };
}

export const FIXTURE = join(packageRoot, 'out', 'test', 'unit', 'gpu', 'fixtures', 'agentProcess.js');

export interface ChildRun {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Runs the agent fixture to completion. */
export function runFixture(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 10000): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`fixture ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code, signal });
    });
  });
}

/** Starts the fixture and resolves once it printed `marker` on stdout (the child keeps running). */
export function startFixture(args: string[], env: NodeJS.ProcessEnv, marker: string, timeoutMs = 10000): Promise<{ child: ReturnType<typeof spawn>; stdout: () => string; stderr: () => string; exited: Promise<ChildRun> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<ChildRun>((res) => child.on('exit', (code, signal) => res({ stdout, stderr, code, signal })));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`fixture never printed "${marker}"; stderr: ${stderr}`));
    }, timeoutMs);
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (stdout.includes(marker)) {
        clearTimeout(timer);
        resolve({ child, stdout: () => stdout, stderr: () => stderr, exited });
      }
    });
    void exited.then((r) => {
      if (!stdout.includes(marker)) {
        clearTimeout(timer);
        reject(new Error(`fixture exited (${r.code ?? r.signal}) before "${marker}"; stderr: ${stderr}`));
      }
    });
  });
}
