/**
 * The zeusd backend against stand-ins of the released zeusd API generations
 * (fixtures/zeusdStandIn.ts: zeusd-v0.4.0, zeusd-v0.5.0 and main, transcribed from zeusd's source at
 * those tags), over its Unix socket and over TCP, with and without JWT auth.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZeusdBackend } from '../../../agent/gpu/backends/zeusd';
import { ZeusdClient, ZeusdError, parseDiscovery, zeusdSettingsFromEnv, type ZeusdEndpoint } from '../../../agent/gpu/backends/zeusdClient';
import { NvmlBackend } from '../../../agent/gpu/backends/nvml';
import { Nvml } from '../../../agent/gpu/nvml';
import { openGpuBackend } from '../../../agent/gpu/index';
import { gpuProcesses } from '../../../agent/gpu/processes';
import type { GpuControlHandle } from '../../../agent/gpu/index';
import { fakeEnv, fakeNvmlLibrary, standardGpus, tempDir, writeFakeState } from './fakeNvml';
import { issueZeusdToken } from './fixtures/zeusdToken';

type Release = 'zeusd-v0.4.0' | 'zeusd-v0.5.0' | 'main';
const RELEASES: Release[] = ['zeusd-v0.4.0', 'zeusd-v0.5.0', 'main'];

interface StandIn {
  endpoint: ZeusdEndpoint;
  /** Request lines the stand-in saw, in order (its test-only /_requests route). */
  requests(): Promise<string[]>;
  close(): void;
}

interface StandInOptions {
  tcp?: boolean;
  signingKey?: string;
  enable?: string[];
  pci?: string[];
  nvmlNoPermission?: boolean;
}

/** Starts fixtures/zeusdStandIn.js as its own process; resolves when it listens. */
function startZeusd(release: Release, options: StandInOptions = {}): Promise<StandIn> {
  const dir = tempDir('chase-zeusd-');
  const args = [join(__dirname, 'fixtures', 'zeusdStandIn.js'), release, options.tcp ? 'tcp:127.0.0.1:0' : join(dir, 'zeusd.sock')];
  if (options.signingKey !== undefined) {
    writeFileSync(join(dir, 'signing.key'), options.signingKey);
    args.push('--signing-key', join(dir, 'signing.key'));
  }
  if (options.enable) args.push('--enable', options.enable.join(','));
  if (options.pci) args.push('--pci', options.pci.join(','));
  if (options.nvmlNoPermission) args.push('--nvml-no-permission');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.on('exit', (code) => reject(new Error(`zeusd stand-in exited with ${code}`)));
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const at = /listening (\S+)\n/.exec(out)?.[1];
      if (!at) return;
      const endpoint: ZeusdEndpoint = options.tcp ? { kind: 'tcp', host: '127.0.0.1', port: Number(at.split(':')[1]) } : { kind: 'unix', socketPath: at };
      resolve({
        endpoint,
        requests: () => new ZeusdClient({ endpoint }).request<string[]>('GET', '/_requests'),
        close: () => child.kill('SIGKILL'),
      });
    });
  });
}

function nvmlReader(): NvmlBackend {
  const state = join(tempDir(), 'state.txt');
  writeFakeState(state, standardGpus());
  process.env.FAKE_NVML_STATE = state;
  return new NvmlBackend(Nvml.load([fakeNvmlLibrary()]));
}

const KEY = 'signing-key-bytes-for-the-tests!';
const inAnHour = (): number => Math.floor(Date.now() / 1000) + 3600;

// ---- /discover: the two API generations ---------------------------------------------------------

test('discover: each release is recognised from its own /discover shape', async () => {
  const expected: Record<Release, unknown> = {
    'zeusd-v0.4.0': { api: '0.4', gpus: [{ id: 0 }, { id: 1 }] },
    'zeusd-v0.5.0': { api: '0.5', gpus: [{ id: 0, name: 'NVIDIA A40' }, { id: 1, name: 'NVIDIA A40' }] },
    main: {
      api: '0.5',
      gpus: [
        { id: 0, name: 'NVIDIA A40', pciAddress: '0000:01:00.0', cumulativeEnergyAvailable: true },
        { id: 1, name: 'NVIDIA A40', pciAddress: '0000:02:00.0', cumulativeEnergyAvailable: true },
      ],
    },
  };
  for (const release of RELEASES) {
    const zeusd = await startZeusd(release);
    try {
      const d = await new ZeusdClient({ endpoint: zeusd.endpoint }).discover();
      assert.deepEqual({ api: d.api, gpus: d.gpus }, expected[release], release);
      assert.deepEqual(d.enabledApiGroups, ['gpu-control', 'gpu-read', 'cpu-read'], `${release}: zeusd's --enable default`);
      assert.equal(d.authRequired, false);
    } finally {
      zeusd.close();
    }
  }
});

test('discover: a shape neither release has (zeusd 0.3.0, garbage) is one clear line, not a TypeError', () => {
  // zeusd-v0.3.0 zeusd/src/routes/mod.rs DiscoveryInfo: { gpu_ids, cpu_ids, dram_available } only
  assert.throws(
    () => parseDiscovery({ gpu_ids: [0], cpu_ids: [], dram_available: [] }, 'zeusd at /s'),
    (e: unknown) => e instanceof ZeusdError && e.code === 'ZEUSD_UNSUPPORTED' && /zeusd before 0\.4/.test(e.message) && /supports zeusd 0\.4\.x and 0\.5\.x/.test(e.message),
  );
  assert.throws(() => parseDiscovery([1, 2], 'zeusd at /s'), /not a JSON object/);
  assert.throws(() => parseDiscovery({ enabled_api_groups: [], gpus: [{ name: 'x' }] }, 'zeusd at /s'), /without an integer id/);
  assert.throws(() => parseDiscovery({ enabled_api_groups: [], devices: [] }, 'zeusd at /s'), /neither gpus nor gpu_ids; keys: enabled_api_groups, devices/);
});

// ---- with NVML on the host: reads from NVML, writes through zeusd (every release) ---------------

test('zeusd + NVML: every release sets through zeusd and reads limits through NVML (0.4 has no limit reads)', async () => {
  for (const release of RELEASES) {
    const zeusd = await startZeusd(release);
    const backend = await ZeusdBackend.open(new ZeusdClient({ endpoint: zeusd.endpoint }), nvmlReader());
    try {
      assert.deepEqual(backend.devices().map((d) => d.uuid), ['GPU-11111111-aaaa-0000', 'GPU-22222222-bbbb-0001'], `${release}: only the GPUs zeusd manages, named by NVML`);
      assert.match(backend.label, /reads via NVML/);
      assert.deepEqual(await backend.control(0), { state: 'permitted' }, release);
      assert.equal(await backend.getPowerLimit(0), 300000);
      await backend.setPowerLimit(1, 200000);
      backend.setPowerLimitSync(1, 300000);
      const seen = await zeusd.requests();
      assert.deepEqual(seen, [
        'GET /discover',
        'POST /gpu/set_power_limit?gpu_ids=1&power_limit_mw=200000&block=true',
        'POST /gpu/set_power_limit?gpu_ids=1&power_limit_mw=300000&block=true',
      ], `${release}: the control probe and the reads sent nothing to zeusd`);
    } finally {
      await backend.close();
      zeusd.close();
    }
  }
});

test('zeusd + NVML: the host\'s compute processes are listed too (a capability of the backend, no downcast); zeusd alone lists none', async () => {
  const zeusd = await startZeusd('zeusd-v0.5.0');
  const withNvml = await ZeusdBackend.open(new ZeusdClient({ endpoint: zeusd.endpoint }), nvmlReader());
  const alone = await ZeusdBackend.open(new ZeusdClient({ endpoint: zeusd.endpoint }));
  try {
    assert.deepEqual(withNvml.processes?.(0).map((p) => p.pid), [4242]);
    const handle = { backend: withNvml, visibility: { devices: withNvml.devices() } } as unknown as GpuControlHandle;
    assert.deepEqual(gpuProcesses(handle).map((p) => [p.pid, p.gpuIndices]), [[4242, [0]]]);
    assert.equal(alone.processes, undefined);
    assert.deepEqual(gpuProcesses({ backend: alone, visibility: { devices: alone.devices() } } as unknown as GpuControlHandle), []);
  } finally {
    await withNvml.close();
    zeusd.close();
  }
});

test('zeusd main: GPUs are matched to NVML by PCI address, not assumed to share indices', async () => {
  // zeusd's GPU 0 is NVML's GPU 1 and the other way round
  const zeusd = await startZeusd('main', { pci: ['0000:02:00.0', '0000:01:00.0'] });
  const backend = await ZeusdBackend.open(new ZeusdClient({ endpoint: zeusd.endpoint }), nvmlReader());
  try {
    assert.deepEqual(backend.devices().map((d) => [d.index, d.uuid]), [[1, 'GPU-22222222-bbbb-0001'], [0, 'GPU-11111111-aaaa-0000']]);
    await backend.setPowerLimit(1, 250000); // NVML's GPU 1 = zeusd's GPU 0
    assert.ok((await zeusd.requests()).includes('POST /gpu/set_power_limit?gpu_ids=0&power_limit_mw=250000&block=true'));
  } finally {
    await backend.close();
    zeusd.close();
  }
});

// ---- without NVML: everything through zeusd (0.5+ only) -----------------------------------------

for (const release of ['zeusd-v0.5.0', 'main'] as const) {
  for (const tcp of [false, true]) {
    test(`zeusd ${release} alone over ${tcp ? 'TCP' : 'its Unix socket'}: limits, constraints, power, energy and writes (async and at exit)`, async () => {
      const zeusd = await startZeusd(release, { tcp });
      try {
        const backend = await ZeusdBackend.open(new ZeusdClient({ endpoint: zeusd.endpoint }));
        assert.deepEqual(backend.devices().map((d) => [d.index, d.uuid, d.name, d.minLimitMw, d.maxLimitMw, d.energyCounter]), [
          [0, 'zeusd-gpu-0', 'NVIDIA A40 (via zeusd)', 100000, 300000, true],
          [1, 'zeusd-gpu-1', 'NVIDIA A40 (via zeusd)', 100000, 300000, true],
        ]);
        assert.equal(backend.devices()[0].busId, release === 'main' ? '0000:01:00.0' : undefined);
        assert.deepEqual(await backend.control(1), { state: 'permitted' });
        await backend.setPowerLimit(1, 200000);
        assert.equal(await backend.getPowerLimit(1), 200000);
        const r = await backend.read(1);
        assert.deepEqual([r.powerMw, r.powerLimitMw, r.energyMj], [200000, 200000, 1001]);
        backend.setPowerLimitSync(1, 300000); // the exit-time path: a blocking child process
        assert.equal(await backend.getPowerLimit(1), 300000);
        const seen = await zeusd.requests();
        assert.ok(seen.includes('GET /gpu/get_power_limit_constraints?gpu_ids=0%2C1'), seen.join('\n'));
        assert.equal(seen.filter((l) => l.startsWith('POST')).length, 2, 'control() wrote nothing');
      } finally {
        zeusd.close();
      }
    });
  }
}

test('zeusd 0.4 without NVML: refuses to open, says why and what to do', async () => {
  const zeusd = await startZeusd('zeusd-v0.4.0');
  try {
    await assert.rejects(
      ZeusdBackend.open(new ZeusdClient({ endpoint: zeusd.endpoint })),
      (e: unknown) => e instanceof ZeusdError && e.code === 'ZEUSD_UNSUPPORTED' && /zeusd 0\.4.*no power-limit reads.*libnvidia-ml\.so\.1.*update zeusd to 0\.5/.test(e.message),
    );
    // and the route really is missing there: 404 with actix-web's empty body
    await assert.rejects(new ZeusdClient({ endpoint: zeusd.endpoint }).getPowerLimitMw(0), (e: unknown) => e instanceof ZeusdError && e.code === 'ZEUSD_ROUTE_MISSING' && e.status === 404);
  } finally {
    zeusd.close();
  }
});

// ---- errors, as each release words them ----------------------------------------------------------

test('zeusd errors: NVML rejections (0.4: 500, 0.5: 400), unknown GPUs (plain text), bad queries, zeusd without privilege', async () => {
  for (const release of RELEASES) {
    const zeusd = await startZeusd(release);
    const client = new ZeusdClient({ endpoint: zeusd.endpoint });
    try {
      await assert.rejects(client.setPowerLimit([0], 5), (e: unknown) => {
        assert.ok(e instanceof ZeusdError);
        assert.equal(e.status, release === 'zeusd-v0.4.0' ? 500 : 400, release);
        assert.match(e.message, /answered \d+ to POST \/gpu\/set_power_limit: GPU 0: NVML error: a supplied argument was invalid/);
        return true;
      });
      // ZeusdError::GpuNotFoundError through actix-web: text/plain
      await assert.rejects(client.setPowerLimit([7], 200000), (e: unknown) => e instanceof ZeusdError && e.status === 400 && e.code === 'ZEUSD_REJECTED' && /: GPU index 7 does not exist\.$/.test(e.message));
      await assert.rejects(client.request('POST', '/gpu/set_power_limit', { gpu_ids: 0, power_limit_mw: 200000 }), /Query deserialize error: missing field `block`/);
    } finally {
      zeusd.close();
    }
  }
  const unprivileged = await startZeusd('zeusd-v0.5.0', { nvmlNoPermission: true });
  try {
    await assert.rejects(
      new ZeusdClient({ endpoint: unprivileged.endpoint }).setPowerLimit([0], 200000),
      (e: unknown) => e instanceof ZeusdError && e.status === 403 && e.code === 'ZEUSD_FORBIDDEN' && /does not have permission.*run zeusd as root/.test(e.message),
    );
  } finally {
    unprivileged.close();
  }
});

test('zeusd with gpu-control disabled: advise mode without writing; a write gets the API-group 404', async () => {
  for (const release of RELEASES) {
    const zeusd = await startZeusd(release, { enable: ['gpu-read'] });
    try {
      const backend = await ZeusdBackend.open(new ZeusdClient({ endpoint: zeusd.endpoint }), nvmlReader());
      const c = await backend.control(0);
      assert.equal(c.state, 'advise');
      assert.match(c.state === 'advise' ? c.reason : '', /gpu-control API group disabled.*--enable gpu-control,gpu-read/);
      await assert.rejects(backend.setPowerLimit(0, 200000), (e: unknown) => e instanceof ZeusdError && e.code === 'ZEUSD_GROUP_DISABLED' && /API group 'gpu-control' is not enabled/.test(e.message));
      await backend.close();
    } finally {
      zeusd.close();
    }
  }
});

// ---- auth (zeusd --signing-key-path) ------------------------------------------------------------

test('zeusd auth: the probe reads the token\'s scopes (/auth/whoami) and never writes; each failure says what to do', async () => {
  for (const release of ['zeusd-v0.4.0', 'zeusd-v0.5.0'] as const) {
    const zeusd = await startZeusd(release, { signingKey: KEY });
    const open = async (token?: string): Promise<ZeusdBackend> => ZeusdBackend.open(new ZeusdClient({ endpoint: zeusd.endpoint, token }), nvmlReader());
    const reasonFor = async (token?: string): Promise<string> => {
      const backend = await open(token);
      try {
        const c = await backend.control(0);
        return c.state === 'advise' ? c.reason : 'permitted';
      } finally {
        await backend.close();
      }
    };
    try {
      assert.equal(await reasonFor(issueZeusdToken(KEY, 'alice', ['gpu-read', 'gpu-control'], inAnHour())), 'permitted', release);
      assert.equal(await reasonFor(issueZeusdToken(KEY, 'alice', ['gpu-control'])), 'permitted', `${release}: a token without exp ("--expires never")`);
      assert.match(await reasonFor(), /requires a token.*CHASE_ZEUSD_TOKEN \(or ZEUSD_TOKEN\).*zeusd token issue/);
      assert.match(await reasonFor(issueZeusdToken(KEY, 'bob', ['gpu-read'])), /token for user 'bob' lacks the gpu-control scope \(it has: gpu-read\)/);
      assert.match(await reasonFor(issueZeusdToken('another key', 'eve', ['gpu-control'])), /answered 401 to GET \/auth\/whoami: Invalid token: InvalidSignature\. Set CHASE_ZEUSD_TOKEN/);
      assert.match(await reasonFor(issueZeusdToken(KEY, 'alice', ['gpu-control'], Math.floor(Date.now() / 1000) - 3600)), /401 .*Token has expired\./);
      assert.equal((await zeusd.requests()).filter((l) => l.startsWith('POST')).length, 0, 'no probe wrote a limit');
      // the writes themselves, as zeusd answers them
      const readOnly = new ZeusdClient({ endpoint: zeusd.endpoint, token: issueZeusdToken(KEY, 'bob', ['gpu-read']) });
      await assert.rejects(readOnly.setPowerLimit([0], 200000), (e: unknown) => e instanceof ZeusdError && e.code === 'ZEUSD_FORBIDDEN' && /lacks required scope 'gpu-control'\. Token scopes: \['gpu-read'\]/.test(e.message));
      await assert.rejects(new ZeusdClient({ endpoint: zeusd.endpoint }).setPowerLimit([0], 200000), (e: unknown) => e instanceof ZeusdError && e.code === 'ZEUSD_UNAUTHORIZED');
      const ok = new ZeusdClient({ endpoint: zeusd.endpoint, token: issueZeusdToken(KEY, 'alice', ['gpu-read', 'gpu-control']) });
      await ok.setPowerLimit([0], 200000);
      ok.setPowerLimitSync([0], 300000);
    } finally {
      zeusd.close();
    }
  }
});

test('zeusd 0.5 alone with auth: reads need a gpu-read token; without one, opening fails with the instruction', async () => {
  const zeusd = await startZeusd('zeusd-v0.5.0', { signingKey: KEY, tcp: true });
  try {
    await assert.rejects(ZeusdBackend.open(new ZeusdClient({ endpoint: zeusd.endpoint })), (e: unknown) => e instanceof ZeusdError && /401 .*Authentication required.*ZEUSD_TOKEN/.test(e.message));
    const backend = await ZeusdBackend.open(new ZeusdClient({ endpoint: zeusd.endpoint, token: issueZeusdToken(KEY, 'alice', ['gpu-read', 'gpu-control']) }));
    assert.deepEqual(await backend.control(0), { state: 'permitted' });
    backend.setPowerLimitSync(0, 150000);
    assert.equal((await backend.read(0)).powerLimitMw, 150000);
  } finally {
    zeusd.close();
  }
});

// ---- configuration: Zeus's own variables, and Chase's ---------------------------------------------

test('settings: CHASE_ZEUSD_SOCKET, then ZEUSD_SOCK_PATH, then ZEUSD_HOST_PORT (zeus/utils/zeusd.py ZeusdConfig.from_env); tokens likewise', () => {
  assert.equal(zeusdSettingsFromEnv({}), undefined);
  assert.deepEqual(zeusdSettingsFromEnv({ ZEUSD_SOCK_PATH: '/run/zeusd/zeusd.sock', ZEUSD_HOST_PORT: 'node1:5000', ZEUSD_TOKEN: 't' }), {
    endpoint: { kind: 'unix', socketPath: '/run/zeusd/zeusd.sock' },
    token: 't',
    source: 'ZEUSD_SOCK_PATH',
  });
  assert.deepEqual(zeusdSettingsFromEnv({ CHASE_ZEUSD_SOCKET: '/a.sock', ZEUSD_SOCK_PATH: '/b.sock', CHASE_ZEUSD_TOKEN: 'mine', ZEUSD_TOKEN: 'zeus' }), {
    endpoint: { kind: 'unix', socketPath: '/a.sock' },
    token: 'mine',
    source: 'CHASE_ZEUSD_SOCKET',
  });
  assert.deepEqual(zeusdSettingsFromEnv({ ZEUSD_HOST_PORT: 'node1:5000' })?.endpoint, { kind: 'tcp', host: 'node1', port: 5000 });
  assert.deepEqual(zeusdSettingsFromEnv({ ZEUSD_HOST_PORT: 'node1' })?.endpoint, { kind: 'tcp', host: 'node1', port: 80 }, 'as Zeus: http://node1/...');
  assert.deepEqual(zeusdSettingsFromEnv({ ZEUSD_HOST_PORT: '[::1]:4938' })?.endpoint, { kind: 'tcp', host: '::1', port: 4938 });
  for (const bad of ['http://node1:4938', 'node1:4938/x', 'node1:port', ':4938']) {
    assert.throws(() => zeusdSettingsFromEnv({ ZEUSD_HOST_PORT: bad }), (e: unknown) => e instanceof Error && /^ZEUSD_HOST_PORT must be host:port \(for example node1:4938 or \[::1\]:4938\), got ".*"\.$/.test(e.message), bad);
  }
});

test('openGpuBackend: ZEUSD_HOST_PORT + ZEUSD_TOKEN reach zeusd over TCP; an unreachable zeusd falls back with a note', async () => {
  const zeusd = await startZeusd('main', { tcp: true, signingKey: KEY });
  const state = join(tempDir(), 'state.txt');
  writeFakeState(state, standardGpus());
  try {
    if (zeusd.endpoint.kind !== 'tcp') throw new Error('tcp stand-in expected');
    const env = fakeEnv(state, tempDir(), { ZEUSD_HOST_PORT: `127.0.0.1:${zeusd.endpoint.port}`, ZEUSD_TOKEN: issueZeusdToken(KEY, 'alice', ['gpu-read', 'gpu-control']) });
    const { backend } = await openGpuBackend({ env });
    try {
      assert.equal(backend.kind, 'zeusd');
      assert.match(backend.label, /^zeusd at 127\.0\.0\.1:\d+ \(zeusd 0\.5\.x API, reads via NVML\)$/);
      assert.deepEqual(await backend.control(0), { state: 'permitted' });
    } finally {
      await backend.close();
    }
  } finally {
    zeusd.close();
  }
  const gone = await openGpuBackend({ env: fakeEnv(state, tempDir(), { ZEUSD_SOCK_PATH: join(tempDir(), 'no.sock') }) });
  try {
    assert.equal(gone.backend.kind, 'nvml');
    assert.match(gone.notes.join(' '), /zeusd at .*no\.sock \(ZEUSD_SOCK_PATH\) is not usable: Cannot reach zeusd/);
  } finally {
    await gone.backend.close();
  }
  await assert.rejects(openGpuBackend({ env: fakeEnv(state, tempDir(), { ZEUSD_HOST_PORT: 'http://x' }) }), /ZEUSD_HOST_PORT must be host:port/);
});

test('zeusd unreachable: async and exit-time requests fail with how to check zeusd', async () => {
  const unix = new ZeusdClient({ endpoint: { kind: 'unix', socketPath: '/nonexistent/zeusd.sock' } });
  await assert.rejects(unix.discover(), (e: unknown) => e instanceof ZeusdError && e.code === 'ZEUSD_UNREACHABLE' && /Cannot reach zeusd at \/nonexistent\/zeusd\.sock.*systemctl status zeusd.*open its socket/.test(e.message));
  assert.throws(() => unix.setPowerLimitSync([0], 200000), (e: unknown) => e instanceof ZeusdError && e.code === 'ZEUSD_UNREACHABLE');
  const tcp = new ZeusdClient({ endpoint: { kind: 'tcp', host: '127.0.0.1', port: 1 } });
  assert.throws(() => tcp.setPowerLimitSync([0], 200000), (e: unknown) => e instanceof ZeusdError && /Cannot reach zeusd at 127\.0\.0\.1:1 .*--mode tcp/.test(e.message));
});
