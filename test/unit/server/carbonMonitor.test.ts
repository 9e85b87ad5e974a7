import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CarbonMonitor } from '../../../agent/server/carbonMonitor';
import { CarbonSourceError, type CarbonProvider } from '../../../agent/carbon/provider';
import type { AgentSettings, CarbonStatus } from '../../../agent/protocol/messages';

const HOUR = 3_600_000;
const replay = (zone = 'GB', replaySpeed = 1): AgentSettings => ({ carbon: { provider: 'replay', zone, replaySpeed } });

/** A monitor with a hand-driven clock and timer queue. */
function harness(createProvider?: () => CarbonProvider) {
  let now = Date.UTC(2026, 2, 1, 14, 30);
  const timers: Array<{ at: number; cb: () => void; live: boolean }> = [];
  const statuses: CarbonStatus[] = [];
  const monitor = new CarbonMonitor({
    now: () => now,
    onStatus: (s) => statuses.push(s),
    setTimer: (cb, ms) => {
      const t = { at: now + ms, cb, live: true };
      timers.push(t);
      return { dispose: () => (t.live = false) };
    },
    ...(createProvider ? { createProvider } : {}),
  });
  async function advance(ms: number) {
    now += ms;
    for (const t of timers.filter((x) => x.live && x.at <= now)) {
      t.live = false;
      t.cb();
    }
    await new Promise((r) => setImmediate(r));
  }
  return { monitor, statuses, advance, timers: () => timers.filter((t) => t.live) };
}

describe('CarbonMonitor', () => {
  it('reads the embedded trace at the same hour of the year and pushes a status', async () => {
    const h = harness();
    const s = await h.monitor.configure(replay('GB'));
    assert.equal(s.state, 'ok');
    if (s.state !== 'ok') return;
    assert.equal(s.source.label, 'replay GB 2023');
    assert.equal(s.timestampMs, Date.UTC(2026, 2, 1, 14));
    assert.equal(s.periodMs, HOUR);
    assert.equal(s.stale, false);
    assert.ok(s.intensityGPerKwh > 0 && s.intensityGPerKwh < 400);
    assert.equal(h.statuses.length, 1);
    // The next refresh is due at the next hour boundary (14:30 → 15:00).
    assert.equal(h.timers().length, 1);
    assert.equal(h.timers()[0].at - Date.UTC(2026, 2, 1, 14, 30), 30 * 60_000);
  });

  it('pushes a new status at each period boundary, and faster when sped up', async () => {
    const h = harness();
    await h.monitor.configure(replay('DE-LU', 3600)); // one trace hour per second
    const first = h.statuses.length;
    await h.advance(1000);
    await h.advance(1000);
    assert.ok(h.statuses.length >= first + 2, `expected ≥ 2 more statuses, got ${h.statuses.length - first}`);
    const ts = h.statuses.filter((s) => s.state === 'ok').map((s) => (s as { timestampMs: number }).timestampMs);
    assert.ok(ts[ts.length - 1] > ts[0]);
  });

  it('an unknown zone is an error status that lists the zones', async () => {
    const h = harness();
    const s = await h.monitor.configure(replay('XX'));
    assert.equal(s.state, 'error');
    if (s.state !== 'error') return;
    assert.equal(s.code, 3003);
    assert.match(s.message, /No embedded trace for zone "XX".*GB/);
    assert.equal(h.timers().length, 0);
  });

  it('a missing trace file is an error status naming the file', async () => {
    const h = harness();
    const s = await h.monitor.configure({ carbon: { provider: 'replay', zone: 'GB', replaySpeed: 1, traceFile: '/nonexistent/trace.csv' } });
    assert.equal(s.state, 'error');
    assert.match((s as { message: string }).message, /trace\.csv: trace file not found/);
  });

  it('keeps the last reading but marks it stale when the source fails later', async () => {
    let fail = false;
    const provider: CarbonProvider = {
      info: { kind: 'static', label: 'fake', zone: 'Z', signal: 'average', attribution: '' },
      periodMs: HOUR,
      latest: async (now) => {
        if (fail) throw new CarbonSourceError('API unreachable (api.example)', 'unavailable');
        return { timestampMs: Math.floor(now / HOUR) * HOUR, intensityGPerKwh: 200, fetchedAtMs: now, stale: false };
      },
      history: async () => [],
      forecast: async () => undefined,
    };
    const h = harness(() => provider);
    await h.monitor.configure(replay());
    fail = true;
    await h.advance(HOUR);
    const s = h.monitor.status;
    assert.equal(s.state, 'ok');
    if (s.state !== 'ok') return;
    assert.equal(s.stale, true);
    assert.equal(s.intensityGPerKwh, 200);
    assert.match(s.staleReason ?? '', /API unreachable/);
  });

  it('series: 48 h of actual values before now and 24 h of trace after it', async () => {
    const h = harness();
    await h.monitor.configure(replay('US-CAL-CISO'));
    const r = await h.monitor.series({ pastHours: 48, futureHours: 24 });
    assert.equal(r.actual.length, 48);
    assert.equal(r.forecast.length, 24);
    assert.equal(r.forecastModel, 'trace');
    assert.ok(r.actual.every((p) => p.timestampMs <= r.nowMs));
    assert.ok(r.forecast.every((p) => p.timestampMs > r.nowMs));
  });

  it('series: a provider without a forecast gets Chase\'s own, with an uncertainty band', async () => {
    const provider: CarbonProvider = {
      info: { kind: 'electricitymaps', label: 'Electricity Maps DE', zone: 'DE', signal: 'average', attribution: '' },
      periodMs: HOUR,
      latest: async (now) => ({ timestampMs: Math.floor(now / HOUR) * HOUR, intensityGPerKwh: 300, fetchedAtMs: now, stale: false }),
      history: async (from, to) => {
        const out = [];
        for (let t = Math.ceil(from / HOUR) * HOUR; t < to; t += HOUR) out.push({ timestampMs: t, intensityGPerKwh: 300 + 100 * Math.sin((2 * Math.PI * (t / HOUR)) / 24) });
        return out;
      },
      forecast: async () => undefined,
    };
    const h = harness(() => provider);
    await h.monitor.configure(replay());
    const r = await h.monitor.series({ pastHours: 24, futureHours: 24 });
    assert.equal(r.forecastModel, 'chase default');
    assert.equal(r.forecast.length, 24);
    assert.ok(r.forecast.every((p) => p.lowGPerKwh !== undefined && p.highGPerKwh !== undefined && p.lowGPerKwh <= p.intensityGPerKwh + 1e-9 && p.intensityGPerKwh <= p.highGPerKwh + 1e-9));
    // A clean daily sine: the model follows it closely.
    const err = r.forecast.map((p) => Math.abs(p.intensityGPerKwh - (300 + 100 * Math.sin((2 * Math.PI * (p.timestampMs / HOUR)) / 24))));
    assert.ok(Math.max(...err) < 30, `max error ${Math.max(...err).toFixed(1)} g/kWh`);
  });

  it('reject() replaces a working source with the settings problem', async () => {
    const h = harness();
    await h.monitor.configure(replay());
    h.monitor.reject('chase.carbon.zone must be a grid zone');
    assert.equal(h.monitor.status.state, 'error');
    await assert.rejects(h.monitor.series({ pastHours: 1, futureHours: 1 }), /grid zone/);
  });
});
