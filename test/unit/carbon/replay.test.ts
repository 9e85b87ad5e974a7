import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProvider } from '../../../agent/carbon/index';
import { CarbonSourceError } from '../../../agent/carbon/provider';
import { ReplayProvider } from '../../../agent/carbon/replay';

const H = 3_600_000;

/**
 * A synthetic year: the value of each hour is its index / 10, so the mapping is visible and the
 * values stay within the 0–3000 g/kWh a trace may hold.
 */
function yearCsv(year: number, stepMs = H): string {
  const start = Date.UTC(year, 0, 1);
  const end = Date.UTC(year + 1, 0, 1);
  const rows = ['timestamp,intensity'];
  for (let t = start, i = 0; t < end; t += stepMs, i++) rows.push(`${new Date(t).toISOString()},${i / 10}`);
  return rows.join('\n');
}

let dir: string;
let trace2023: string;
let trace2024: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'chase-replay-'));
  trace2023 = join(dir, 'y2023.csv');
  trace2024 = join(dir, 'y2024.csv');
  writeFileSync(trace2023, yearCsv(2023));
  writeFileSync(trace2024, yearCsv(2024));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const hourOfYear = (ms: number) => (ms - Date.UTC(new Date(ms).getUTCFullYear(), 0, 1)) / H;

describe('ReplayProvider: hour-of-year mapping', () => {
  it('reads the same hour-of-year of the trace', async () => {
    const now = Date.UTC(2026, 2, 1, 14, 25);
    const p = ReplayProvider.create({ zone: 'X', traceFile: trace2023, speed: 1, originMs: now });
    const r = await p.latest(now);
    assert.equal(r.timestampMs, Date.UTC(2026, 2, 1, 14));
    assert.equal(r.intensityGPerKwh, hourOfYear(Date.UTC(2023, 2, 1, 14)) / 10);
    assert.equal(p.traceTimestampAt(now), Date.UTC(2023, 2, 1, 14));
    assert.equal(r.stale, false);
  });

  it('in a leap year 1 March still reads 1 March, and 29 February reads 28 February', () => {
    const p = ReplayProvider.create({ zone: 'X', traceFile: trace2023, speed: 1, originMs: 0 });
    assert.equal(p.traceTimestampAt(Date.UTC(2028, 2, 1, 14)), Date.UTC(2023, 2, 1, 14));
    assert.equal(p.traceTimestampAt(Date.UTC(2028, 1, 29, 9)), Date.UTC(2023, 1, 28, 9));
    assert.equal(p.traceTimestampAt(Date.UTC(2028, 11, 31, 23)), Date.UTC(2023, 11, 31, 23));
  });

  it('a leap-year trace replayed in a common year skips 29 February', () => {
    const p = ReplayProvider.create({ zone: 'X', traceFile: trace2024, speed: 1, originMs: 0 });
    assert.equal(p.traceTimestampAt(Date.UTC(2026, 2, 1, 0)), Date.UTC(2024, 2, 1, 0));
    assert.equal(p.traceTimestampAt(Date.UTC(2026, 1, 28, 23)), Date.UTC(2024, 1, 28, 23));
  });

  it('the embedded GB trace is the default for zone GB', async () => {
    const now = Date.UTC(2026, 5, 15, 12);
    const p = createProvider({ provider: 'replay', zone: 'gb', replaySpeed: 1 }, now);
    assert.equal(p.info.label, 'replay GB 2023');
    assert.match(p.info.attribution, /ODbL/);
    const r = await p.latest(now);
    assert.ok(r.intensityGPerKwh > 0);
  });

  it('unknown zones list the embedded ones', () => {
    assert.throws(
      () => ReplayProvider.create({ zone: 'FR', speed: 1 }),
      (e: unknown) => e instanceof CarbonSourceError && e.kind === 'unknown-zone' && /Embedded zones: .*GB/.test(e.message),
    );
  });

  it('a bad trace file is an actionable CarbonSourceError', () => {
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'timestamp,intensity\n2023-01-01T00:00Z,1\noops,2\n');
    assert.throws(() => ReplayProvider.create({ zone: 'X', traceFile: bad, speed: 1 }), /Cannot replay the carbon trace: bad\.csv: line 3: cannot read time "oops"\. Check chase\.carbon\.traceFile/);
  });

  it('named columns come from the settings', async () => {
    const f = join(dir, 'named.csv');
    writeFileSync(f, 'start_utc,ci\n2023-01-01T00:00Z,7\n2023-01-01T01:00Z,8\n');
    const p = createProvider({ provider: 'replay', zone: 'X', replaySpeed: 1, traceFile: f, traceTimeColumn: 'start_utc', traceValueColumn: 'ci' }, Date.UTC(2026, 0, 1));
    assert.equal((await p.latest(Date.UTC(2026, 0, 1, 1, 30))).intensityGPerKwh, 8);
  });
});

describe('ReplayProvider: speed factor', () => {
  it('virtual time runs `speed` times faster from the origin, and wallTimeOf inverts it', () => {
    const origin = Date.UTC(2026, 0, 1);
    const p = ReplayProvider.create({ zone: 'X', traceFile: trace2023, speed: 3600, originMs: origin });
    assert.equal(p.virtualNow(origin), origin);
    assert.equal(p.virtualNow(origin + 1000), origin + H);
    assert.equal(p.wallTimeOf(origin + 5 * H), origin + 5000);
    assert.equal(p.wallTimeOf(p.virtualNow(origin + 12_345)), origin + 12_345);
  });

  it('at 3600× one wall second advances one trace hour', async () => {
    const origin = Date.UTC(2026, 0, 1);
    const p = ReplayProvider.create({ zone: 'X', traceFile: trace2023, speed: 3600, originMs: origin });
    const a = await p.latest(origin);
    const b = await p.latest(origin + 1000);
    const c = await p.latest(origin + 10_500);
    assert.deepEqual([a.intensityGPerKwh, b.intensityGPerKwh, c.intensityGPerKwh], [0, 1 / 10, 10 / 10]);
    assert.equal(c.timestampMs, origin + 10 * H, 'timestamps are in virtual time');
    assert.equal(c.fetchedAtMs, origin + 10_500, 'fetchedAt is wall time');
  });

  it('history and forecast are in virtual time, period-aligned', async () => {
    const origin = Date.UTC(2026, 0, 1);
    const p = ReplayProvider.create({ zone: 'X', traceFile: trace2023, speed: 60, originMs: origin });
    const h = await p.history(origin + 2 * H, origin + 5 * H);
    assert.deepEqual(h.map((x) => x.intensityGPerKwh), [2 / 10, 3 / 10, 4 / 10]);
    const f = await p.forecast(origin + 5 * H, 3);
    assert.deepEqual(f.map((x) => x.intensityGPerKwh), [5 / 10, 6 / 10, 7 / 10]);
  });

  it('rejects a speed that is not positive', () => {
    for (const speed of [0, -1, NaN, Infinity]) assert.throws(() => ReplayProvider.create({ zone: 'GB', speed }), /replaySpeed must be a positive number/);
  });
});

describe('ReplayProvider: a chosen start (chase.carbon.replayStart)', () => {
  it('plays the trace from the start hour on, whatever the date, sped up; virtual times stay around now', async () => {
    const origin = Date.UTC(2026, 11, 1, 13, 35, 20); // mid-period: the origin's period reads the start's hour
    const start = Date.UTC(2023, 3, 16, 8);
    const p = ReplayProvider.create({ zone: 'X', traceFile: trace2023, speed: 3600, originMs: origin, startMs: start });
    const first = await p.latest(origin);
    assert.equal(first.intensityGPerKwh, hourOfYear(start) / 10);
    assert.equal(first.timestampMs, Date.UTC(2026, 11, 1, 13), 'timestamps are the virtual clock, not the trace year');
    // 10 wall seconds at 3600×: ten hours on
    assert.equal((await p.latest(origin + 10_000)).intensityGPerKwh, (hourOfYear(start) + 10) / 10);
    const next = await p.forecast(first.timestampMs, 3);
    assert.deepEqual(next.map((x) => x.intensityGPerKwh), [0, 1, 2].map((k) => (hourOfYear(start) + k) / 10));
  });

  it('through the settings: "2023-04-16T08:00Z"; absent, today\'s date in the trace', async () => {
    const origin = Date.UTC(2026, 11, 1, 13);
    const withStart = createProvider({ provider: 'replay', zone: 'X', traceFile: trace2023, replaySpeed: 1, replayStart: '2023-04-16T08:00Z' }, origin);
    assert.equal((await withStart.latest(origin)).intensityGPerKwh, hourOfYear(Date.UTC(2023, 3, 16, 8)) / 10);
    const without = createProvider({ provider: 'replay', zone: 'X', traceFile: trace2023, replaySpeed: 1 }, origin);
    assert.equal((await without.latest(origin)).intensityGPerKwh, hourOfYear(Date.UTC(2023, 11, 1, 13)) / 10);
  });

  it('a start that is not a real date (30 February) is refused through the settings too, not rolled over to March', () => {
    assert.throws(
      () => createProvider({ provider: 'replay', zone: 'X', traceFile: trace2023, replaySpeed: 1, replayStart: '2023-02-30T00:00Z' }, Date.UTC(2026, 0, 1)),
      (e: unknown) => e instanceof CarbonSourceError && /chase\.carbon\.replayStart must be a UTC date and time/.test(e.message),
    );
  });

  it('a start that is not a time is refused with the setting\'s name', () => {
    assert.throws(() => ReplayProvider.create({ zone: 'X', traceFile: trace2023, speed: 1, startMs: NaN }), (e: unknown) => e instanceof CarbonSourceError && /chase\.carbon\.replayStart must be a UTC date and time/.test(e.message));
  });
});
