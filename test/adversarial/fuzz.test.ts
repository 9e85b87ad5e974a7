/**
 * Bounded fuzzing (fast-check) of what a hostile client or user can hand the agent:
 *
 *  1. the live JSON-RPC surface of one `serve --stdio` agent on the fake NVML library: valid
 *     requests of every method, the same with one field mutated (wrong types, huge or negative
 *     numbers, long strings, NUL, unknown and `__proto__` keys, missing fields), random methods and
 *     params, notifications, and well-framed bodies that are not JSON-RPC. Asserted after every case:
 *     the agent answers (within 20 s: no hang), is alive, stays under RSS_CAP_MIB; at the end, after
 *     shutdown, every GPU limit is back where it was;
 *  2. in this process: every method's schema, the CLI parsers and the trace parser — they return a
 *     value within the documented bounds or throw the one error class meant for users, never
 *     anything else, and fast.
 *
 * Fixed seed and case counts (CHASE_FUZZ_SEED / CHASE_FUZZ_SCALE explore more), each part also
 * capped in time. Safety: every generated command is /bin/true-like and every path the agent might
 * write lies in this test's temp dir — mutations never produce a command or an outFile of their own.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { ResponseError } from 'vscode-jsonrpc/node';
import { MAX_BUDGET_PCT, Methods, type RunSummary } from '../../agent/protocol/messages';
import { checkParams } from '../../agent/protocol/paramSchema';
import { UsageError } from '../../agent/cli/command';
import { parseRunArgs } from '../../agent/cli/run';
import { parseRunsArgs } from '../../agent/cli/runs';
import { parseSimulateArgs } from '../../agent/cli/simulate';
import { parseBenchArgs } from '../../agent/cli/forecastBench';
import { parseCarbonArgs } from '../../agent/cli/carbon';
import { MAX_POINTS, MIN_STEP_MS, parseTrace, TraceError } from '../../agent/carbon/trace';
import { MAX_INTENSITY_G_PER_KWH } from '../../agent/protocol/units';
import { fakeGpuHost, INTERNAL_TEXT, rssMiB, startAgent, waitFor, withTimeout, type Agent, type FakeGpuHost } from './harness';

const SEED = Number(process.env.CHASE_FUZZ_SEED ?? 20240601);
const SCALE = Number(process.env.CHASE_FUZZ_SCALE ?? 1);
/** The agent idles at about 110 MiB on Node 20; a leak or an unbounded answer would pass this. */
const RSS_CAP_MIB = 300;
const ANSWER_WITHIN_MS = 20_000;

// ---- generators ----------------------------------------------------------------------------

/** Values a mutation puts into a field: wrong types, extremes, long and NUL strings, nesting. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, true, false, 0, -1, -0, 1e308, -1e308, 2 ** 53, 0.5, '', ' ', '\u0000', 'NaN', 'Infinity', '0x10', '1e308', '__proto__', 'constructor', [], {}, [[[[[]]]]]),
  fc.string({ maxLength: 40 }),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constant('x'.repeat(200_000)),
  fc.constant({ ['__proto__']: { polluted: true } }),
);

/** Commands the fuzzer may run: harmless whatever the arguments, or not there at all. */
const command = fc.constantFrom('true', '/bin/true', '/nonexistent/chase-fuzz');

function validParams(tmp: string): Record<string, fc.Arbitrary<Record<string, unknown> | undefined>> {
  const outFile = fc.constantFrom(join(tmp, 'out.json'), join(tmp, 'out.csv'), join(tmp, 'sub', 'x.json'), join(tmp, 'link.json'), join(tmp, 'fifo'), '/dev/zero', '/dev/null');
  return {
    agentInfo: fc.constant(undefined),
    carbonStatus: fc.constant(undefined),
    gpus: fc.constant(undefined),
    gpuProcesses: fc.constant(undefined),
    runs: fc.constant(undefined),
    intensitySeries: fc.record({ pastHours: fc.integer({ min: 0, max: 336 }), futureHours: fc.integer({ min: 0, max: 336 }) }),
    configure: fc.record({
      carbon: fc.record(
        {
          provider: fc.constantFrom('replay', 'static'),
          zone: fc.constantFrom('GB', 'DE-LU', 'US-CAL-CISO', 'XX'),
          replaySpeed: fc.constantFrom(1, 60, 3600, 1e6),
          staticIntensityGPerKwh: fc.integer({ min: 0, max: 3000 }),
          traceFile: fc.constantFrom('/dev/zero', '/dev/null', join(tmp, 'fifo'), join(tmp, 'nope.csv'), '/etc/hostname'),
        },
        { requiredKeys: ['provider', 'zone', 'replaySpeed'] },
      ),
    }),
    energyBetween: fc.integer({ min: 0, max: 4e12 }).chain((fromMs) => fc.record({ fromMs: fc.constant(fromMs), toMs: fc.integer({ min: fromMs + 1, max: fromMs + 31 * 86_400_000 }) })),
    startRun: fc.record(
      {
        command,
        args: fc.array(fc.string({ maxLength: 20 }), { maxLength: 5 }),
        budgetPct: fc.double({ min: 0, max: MAX_BUDGET_PCT, noNaN: true }),
        gpus: fc.uniqueArray(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
        policy: fc.constantFrom('default', 'max-power', 'static-best', 'energy-only', 'chase-paper'),
        cwd: fc.constantFrom(tmp, '/', '/nonexistent'),
        env: fc.dictionary(fc.stringMatching(/^[A-Z_]{1,8}$/), fc.string({ maxLength: 10 }), { maxKeys: 3 }),
        totalUnits: fc.integer({ min: 1, max: 1e6 }),
        workload: fc.constantFrom('w1', 'w2'),
      },
      { requiredKeys: ['command', 'args', 'budgetPct'] },
    ),
    stopRun: fc.record({ runId: fc.constantFrom('run-x', '', 'run-1') }),
    recentRuns: fc.option(fc.record({ limit: fc.integer({ min: 1, max: 1000 }) }, { requiredKeys: [] }), { nil: undefined }),
    exportRun: fc.record({ runId: fc.constantFrom('run-x', 'r'), format: fc.constantFrom('codecarbon', 'json'), outFile, overwrite: fc.boolean() }, { requiredKeys: ['runId', 'format', 'outFile'] }),
  };
}

/** Fields never given a generated string (a command to run, a path to write). */
const GUARDED = new Set(['command', 'outFile']);

/** One field of `base` replaced, deleted or added; guarded fields only get non-strings or NUL strings. */
function mutated(base: fc.Arbitrary<Record<string, unknown> | undefined>): fc.Arbitrary<unknown> {
  return fc.tuple(base, fc.nat(), hostileValue, fc.constantFrom('replace', 'delete', 'add', 'proto')).map(([b, pick, value, how]) => {
    const o: Record<string, unknown> = { ...(b ?? {}) };
    const keys = Object.keys(o);
    const key = keys.length > 0 ? keys[pick % keys.length] : 'x';
    if (how === 'delete') delete o[key];
    else if (how === 'add') o[`extra${pick % 3}`] = value;
    else if (how === 'proto') return JSON.parse(`{"__proto__": ${JSON.stringify(o)}}`) as unknown;
    else o[key] = GUARDED.has(key) && typeof value === 'string' ? `${value}\u0000` : value;
    return o;
  });
}

type Case = { kind: 'request'; method: string; params: unknown[] } | { kind: 'notification'; method: string; params: unknown[] } | { kind: 'raw'; body: string };

function caseArb(tmp: string): fc.Arbitrary<Case> {
  const valid = validParams(tmp);
  const names = Object.keys(valid) as Array<keyof typeof Methods>;
  const methodOf = (name: string) => Methods[name as keyof typeof Methods].method;
  const request = (params: fc.Arbitrary<unknown[]>) => fc.tuple(fc.constantFrom(...names), params);
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...names).chain((n) => valid[n].map((p): Case => ({ kind: 'request', method: methodOf(n), params: p === undefined ? [] : [p] }))) },
    { weight: 6, arbitrary: fc.constantFrom(...names).chain((n) => mutated(valid[n]).map((p): Case => ({ kind: 'request', method: methodOf(n), params: [p] }))) },
    { weight: 2, arbitrary: request(fc.array(hostileValue, { maxLength: 3 })).map(([n, params]): Case => ({ kind: 'request', method: methodOf(n), params: guardPositional(params) })) },
    { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 30 }), hostileValue).filter(([m]) => !LIFECYCLE.has(m)).map(([method, p]): Case => ({ kind: 'request', method, params: [p] })) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('$/cancelRequest', '$/setTrace', 'workspace/didChangeConfiguration', 'chase/runOutput', 'chase/x'), hostileValue).map(([method, p]): Case => ({ kind: 'notification', method, params: [p] })) },
    { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 60 }), fc.jsonValue().map((v) => JSON.stringify(v)), fc.constantFrom('{"jsonrpc":"2.0","id":{"a":1},"method":"chase/agentInfo"}', '{"jsonrpc":"1.0","id":5,"method":"chase/runs"}', '{"id":7}', '[]', '{"jsonrpc":"2.0","method":"chase/startRun","params":{"command":"true","args":[],"budgetPct":1}}')).map((body): Case => ({ kind: 'raw', body })) },
  );
}

/** By-position params are refused before any handler runs; still, no generated string may become a command. */
function guardPositional(params: unknown[]): unknown[] {
  return params.map((p) => (p && typeof p === 'object' && !Array.isArray(p) && ('command' in p || 'outFile' in p) ? { ...p, command: 1, outFile: 1 } : p));
}

/** LSP lifecycle methods: `shutdown`/`exit` end the agent by design; they are not fuzzed. */
const LIFECYCLE = new Set(['shutdown', 'exit', 'initialize', 'initialized']);

// ---- 1. the live agent --------------------------------------------------------------------

describe('fuzz: the JSON-RPC surface of the built agent', () => {
  let host: FakeGpuHost;
  let agent: Agent;
  const stats = { cases: 0, requests: 0, errors: 0, notifications: 0, raw: 0, maxRssMiB: 0 };

  before(async () => {
    host = fakeGpuHost();
    execFileSync('mkfifo', [join(host.dir, 'fifo')]);
    agent = await startAgent(host);
  });
  after(() => {
    if (agent.alive()) agent.proc.kill('SIGKILL');
  });

  it(`answers every request, never exits, stays under ${RSS_CAP_MIB} MiB`, async () => {
    await fc.assert(
      fc.asyncProperty(caseArb(host.dir), async (c) => {
        stats.cases++;
        if (c.kind === 'request') {
          stats.requests++;
          try {
            await withTimeout(agent.rpc.sendRequest(c.method, ...c.params), ANSWER_WITHIN_MS, `${c.method} ${JSON.stringify(c.params).slice(0, 200)}`);
          } catch (e) {
            if (!(e instanceof ResponseError)) throw e; // a hang or a dead connection
            stats.errors++;
            assert.doesNotMatch(e.message, INTERNAL_TEXT, `${c.method}: an engine error reached the client`);
          }
        } else {
          if (c.kind === 'notification') {
            stats.notifications++;
            await agent.rpc.sendNotification(c.method, ...c.params);
          } else {
            stats.raw++;
            agent.proc.stdin!.write(`Content-Length: ${Buffer.byteLength(c.body)}\r\n\r\n${c.body}`);
          }
          await withTimeout(agent.rpc.sendRequest(Methods.agentInfo.method), ANSWER_WITHIN_MS, 'agentInfo after a notification or a raw message');
        }
        assert.ok(agent.alive(), `the agent exited; stderr: ${agent.stderr().slice(-1500)}`);
        const mib = rssMiB(agent.proc.pid!);
        stats.maxRssMiB = Math.max(stats.maxRssMiB, mib);
        assert.ok(mib < RSS_CAP_MIB, `RSS ${mib.toFixed(0)} MiB`);
      }),
      { seed: SEED, numRuns: Math.round(250 * SCALE), interruptAfterTimeLimit: 20_000 * SCALE, endOnFailure: true },
    );
  });

  it('shuts down cleanly with every limit back where it was', async () => {
    await waitFor(async () => (await agent.rpc.sendRequest<RunSummary[]>(Methods.runs.method)).every((r) => r.command.startsWith('pid ')), 20_000, 'the fuzzed runs to end');
    stats.maxRssMiB = Math.max(stats.maxRssMiB, agent.peakRssMiB());
    assert.equal(await agent.stop(), 0);
    assert.deepEqual(host.limits(), host.originalLimits);
    assert.doesNotMatch(agent.stderr(), /Unhandled|uncaughtException/);
    console.log(`# fuzz rpc: ${stats.cases} cases (${stats.requests} requests, ${stats.errors} error answers, ${stats.notifications} notifications, ${stats.raw} raw bodies), 0 crashes, 0 hangs, max RSS ${stats.maxRssMiB.toFixed(0)} MiB (cap ${RSS_CAP_MIB}), limits left changed: 0, seed ${SEED}`);
  });
});

// ---- 2. the parsers, in this process --------------------------------------------------------

/** Runs `fn` and asserts it either returns or throws an instance of `allowed`, in < 1 s. */
function returnsOrRefuses<T>(fn: () => T, allowed: new (...a: never[]) => Error): T | undefined {
  const t0 = Date.now();
  try {
    return fn();
  } catch (e) {
    assert.ok(e instanceof allowed, `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    assert.doesNotMatch(e.message, INTERNAL_TEXT);
    return undefined;
  } finally {
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
  }
}

const cliWord = fc.oneof(
  fc.constantFrom('--budget-pct', '--gpus', '--policy', '--eta', '--speed', '--total-units', '--pue', '--replay-start', '2023-04-16T08:00Z', '2023-02-30T00:00Z', '--warmup-s', '--window-s', '--pid', '--provider', '--zone', '--json', '--limit', '--format', '--out', '--force', '--starts', '--epochs', '--batch', '--horizons', '--warmup-days', '--lat', '--lon', '--hours', '--static', '--region-id', '--', '-1', '0', '2.5', '0x10', '', 'NaN', '1e308', '0,0', '0,1', 'list', 'show', 'export', 'run-1', 'default', 'json'),
  fc.string({ maxLength: 12 }),
);

describe('fuzz: schemas, CLI and trace parsers', () => {
  const runs = Math.round(1500 * SCALE);

  it('every method schema: a typed value within bounds, or a one-line problem — never a throw', () => {
    const names = Object.keys(Methods).filter((n) => 'params' in Methods[n as keyof typeof Methods]) as Array<keyof typeof Methods>;
    const valid = validParams('/tmp');
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.nat(), hostileValue, (name, pick, value) => {
        const schema = (Methods[name] as { params: Parameters<typeof checkParams>[0] }).params;
        const base = fc.sample(valid[name as string] ?? fc.constant(undefined), { seed: pick, numRuns: 1 })[0];
        for (const input of [value, base, { ...(base ?? {}), [Object.keys(base ?? { x: 1 })[pick % Math.max(1, Object.keys(base ?? {}).length)]]: value }]) {
          const r = checkParams(schema, input);
          if (!r.ok) {
            assert.ok(r.problem.length > 0 && r.problem.length < 1200 && !r.problem.includes('\n'), r.problem);
            assert.doesNotMatch(r.problem, INTERNAL_TEXT);
          } else if (name === 'startRun') {
            const p = r.value as { budgetPct: number; gpus?: number[]; command: string };
            assert.ok(p.budgetPct >= 0 && p.budgetPct <= MAX_BUDGET_PCT);
            assert.ok(!p.command.includes('\u0000'));
            if (p.gpus) assert.equal(new Set(p.gpus).size, p.gpus.length);
          }
        }
      }),
      { seed: SEED, numRuns: runs, interruptAfterTimeLimit: 10_000 * SCALE },
    );
  });

  it('CLI parsers: bounded options or a UsageError', () => {
    fc.assert(
      fc.property(fc.array(cliWord, { maxLength: 10 }), fc.array(cliWord, { maxLength: 3 }), (own, job) => {
        const run = returnsOrRefuses(() => parseRunArgs([...own, '--', ...(job.length > 0 ? job : ['true'])]), UsageError);
        if (run) {
          assert.ok(run.budgetPct >= 0 && run.budgetPct <= MAX_BUDGET_PCT && run.speed > 0 && Number.isFinite(run.speed));
          if (run.gpus) assert.equal(new Set(run.gpus).size, run.gpus.length);
          for (const v of [run.eta, run.totalUnits, run.warmupMs, run.windowMs, run.replayStartMs]) assert.ok(v === undefined || (Number.isFinite(v) && v >= 0));
          assert.ok(run.pue >= 1 && run.pue <= 3, `pue ${run.pue}`);
        }
        returnsOrRefuses(() => parseRunsArgs(own), UsageError);
        returnsOrRefuses(() => parseSimulateArgs(own), UsageError);
        returnsOrRefuses(() => parseBenchArgs(own), UsageError);
        const carbon = returnsOrRefuses(() => parseCarbonArgs(own), UsageError);
        if (carbon?.settings.staticIntensityGPerKwh !== undefined) assert.ok(carbon.settings.staticIntensityGPerKwh <= MAX_INTENSITY_G_PER_KWH);
      }),
      { seed: SEED, numRuns: runs, interruptAfterTimeLimit: 10_000 * SCALE },
    );
  });

  it('trace parser: an evenly spaced, bounded series or a TraceError', () => {
    const time = fc.oneof(
      fc.integer({ min: 1_600_000_000, max: 1_700_000_000 }).map((s) => String(s)),
      fc.integer({ min: 1_600_000_000_000, max: 1_700_000_000_000 }).map((ms) => new Date(ms).toISOString()),
      fc.constantFrom('2023-01-01 00:00', '2023-01-01T01:00Z', '2023-01-01T00:00+01', 'yesterday', '', '1e3', '0x10'),
    );
    const value = fc.oneof(fc.integer({ min: -10, max: 4000 }).map(String), fc.constantFrom('1e308', '0x10', 'NaN', '', ' 5 ', '1_0', '-0', '0', '3000', '3000.5'), fc.double({ noNaN: true }).map(String));
    const row = fc.tuple(time, value).map(([t, v]) => `${t},${v}`);
    const header = fc.constantFrom('timestamp,intensity', 'Datetime (UTC),Zone Id,Carbon Intensity gCO₂eq/kWh (direct)', 'a,b', 'time,value,extra');
    fc.assert(
      fc.property(header, fc.array(row, { minLength: 0, maxLength: 40 }), (h, rows) => {
        const t = returnsOrRefuses(() => parseTrace([h, ...rows].join('\n'), 'fuzz.csv'), TraceError);
        if (!t) return;
        assert.ok(t.stepMs >= MIN_STEP_MS && t.timestampsMs.length <= MAX_POINTS && t.timestampsMs.length >= 2);
        for (let k = 0; k < t.timestampsMs.length; k++) {
          assert.ok(t.intensitiesGPerKwh[k] >= 0 && t.intensitiesGPerKwh[k] <= MAX_INTENSITY_G_PER_KWH);
          if (k > 0) assert.equal(t.timestampsMs[k] - t.timestampsMs[k - 1], t.stepMs);
        }
      }),
      { seed: SEED, numRuns: runs, interruptAfterTimeLimit: 10_000 * SCALE },
    );
  });
});
