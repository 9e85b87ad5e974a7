import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { statusView, escapeMarkdown, gpuLines, type ClientState } from '../../../extension/statusModel';
import { formatIntensity } from '../../../agent/protocol/format';
import type { CarbonSourceInfo } from '../../../agent/protocol/messages';

const source: CarbonSourceInfo = { kind: 'replay', label: 'replay GB 2023', zone: 'GB', signal: 'average', attribution: 'Electricity Maps, ODbL' };
const ok = (over: Partial<Extract<ClientState, { kind: 'running' }>['carbon']> = {}): ClientState => ({
  kind: 'running',
  carbon: { state: 'ok', source, intensityGPerKwh: 128.4, timestampMs: Date.UTC(2026, 10, 27, 8), periodMs: 3_600_000, fetchedAtMs: 0, stale: false, ...over } as never,
});

describe('status bar view', () => {
  it('shows the intensity with its unit and the source, and opens the dashboard', () => {
    const v = statusView(ok());
    assert.match(v.text, /128 gCO₂\/kWh · replay GB 2023/);
    assert.equal(v.severity, 'normal');
    assert.equal(v.command, 'chase.showDashboard');
    assert.match(v.accessibilityLabel, /^Carbon intensity 128 grams/);
    assert.match(v.tooltipMarkdown, /average signal/);
    assert.match(v.tooltipMarkdown, /ODbL/);
  });

  it('shows a high level by its icon too, not only by colour (high-contrast themes ignore item colours)', () => {
    const levels = { lowBelowGPerKwh: 100, highAboveGPerKwh: 200, basis: 'test' };
    const high = statusView(ok({ intensityGPerKwh: 250, levels } as never));
    assert.equal(high.level, 'high');
    assert.match(high.text, /^\$\(flame\) 250 gCO₂/);
    assert.match(high.accessibilityLabel, /high for this grid/);
    for (const g of [50, 150]) assert.match(statusView(ok({ intensityGPerKwh: g, levels } as never)).text, /^\$\(pulse\) /);
    assert.match(statusView(ok({ intensityGPerKwh: 250, levels, stale: true } as never)).text, /^\$\(warning\) /);
  });

  it('marks a stale reading as stale, never as fresh', () => {
    const v = statusView(ok({ stale: true, staleReason: 'API unreachable' }));
    assert.match(v.text, /\(stale\)/);
    assert.equal(v.severity, 'warning');
    assert.match(v.tooltipMarkdown, /API unreachable/);
  });

  it('shows no number when the agent is down, and says it restarts', () => {
    const v = statusView({ kind: 'agent-down', message: 'The agent process exited unexpectedly.', retryInMs: 2000 });
    assert.doesNotMatch(v.text, /\d/);
    assert.equal(v.severity, 'error');
    assert.match(v.tooltipMarkdown, /Restarting in 2 s/);
    assert.match(v.tooltipMarkdown, /command:chase.restartAgent/);
  });

  it('names the bad setting when settings are invalid', () => {
    const v = statusView({ kind: 'invalid-settings', problems: ['chase.carbon.replaySpeed: "fast" is not a positive number'] });
    assert.equal(v.severity, 'error');
    assert.match(v.tooltipMarkdown, /chase\.carbon\.replaySpeed/);
  });

  it('shows the agent error message for an unusable source', () => {
    const v = statusView({ kind: 'running', carbon: { state: 'error', code: 3003, message: 'No embedded trace for zone "XX".', source } });
    assert.match(v.text, /no carbon data/);
    assert.doesNotMatch(v.text, /\d+ gCO₂/);
    assert.match(v.tooltipMarkdown, /No embedded trace for zone/);
  });

  it('formats small and large intensities readably', () => {
    assert.equal(formatIntensity(3.61), '3.6');
    assert.equal(formatIntensity(282.3), '282');
  });

  it('escapes markdown from the agent so it cannot inject command links', () => {
    assert.equal(escapeMarkdown('[x](command:evil)'), '\\[x\\]\\(command:evil\\)');
  });
});

describe('GPU lines in the tooltip', () => {
  const gpu = { index: 0, uuid: 'SIM-GPU-A40-0000', name: 'NVIDIA A40 (simulated)', backend: 'simulated' as const, simulated: true, powerLimitMw: 300000, defaultLimitMw: 300000, minLimitMw: 100000, maxLimitMw: 300000, powerMw: 240000 };
  it('says when GPUs are simulated', () => {
    const text = gpuLines({ gpus: [{ ...gpu, control: 'permitted' }], notes: [] });
    assert.ok(text.startsWith('GPUs: 1 × NVIDIA A40'), text);
    assert.ok(text.includes('**simulated**'), text);
    assert.ok(text.includes('Power-limit control: permitted'), text);
  });
  it('explains advise mode with the way to grant control', () => {
    const text = gpuLines({ gpus: [{ ...gpu, simulated: false, backend: 'nvml', control: 'advise', reason: 'No permission: use zeusd or chase-agent serve as a system service.' }], notes: [] });
    assert.match(text, /Advise mode/);
    assert.match(text, /zeusd/);
  });
  it('no GPUs: says why', () => {
    assert.match(gpuLines({ gpus: [], notes: ['No NVIDIA driver found'] }), /none found\. No NVIDIA driver found/);
  });
});

describe('tooltip extras', () => {
  const source: CarbonSourceInfo = { kind: 'replay', label: 'replay GB 2023', zone: 'GB', signal: 'average', attribution: 'x' };
  const state: ClientState = { kind: 'running', carbon: { state: 'ok', source, intensityGPerKwh: 150, timestampMs: Date.UTC(2026, 10, 27, 13), periodMs: 3_600_000, fetchedAtMs: 0, stale: false } };
  it('shows the next hours of expected intensity', () => {
    const v = statusView(state, { next: { model: 'trace', points: [14, 15, 16].map((h, i) => ({ timestampMs: Date.UTC(2026, 10, 27, h), intensityGPerKwh: 140 - i * 10 })) } });
    assert.ok(v.tooltipMarkdown.includes('Next hours (trace, gCO₂/kWh, UTC): 14:00 140 · 15:00 130 · 16:00 120'), v.tooltipMarkdown);
  });
  it('shows each live run with its current limit, carbon and saving', () => {
    const run = { id: 'r1', state: 'controlling' as const, command: 'python train.py', gpuUuids: ['G'], policy: 'default', budgetPct: 2.5, startedAtMs: 0, energyJ: 1, carbonG: 12.34, savedCarbonG: 1.5, unitsDone: 1, currentLimitMw: 225_000 };
    const v = statusView(state, { runs: [run, { ...run, id: 'r2', currentLimitMw: undefined, advise: 'no permission' }] });
    assert.ok(v.tooltipMarkdown.includes('python train.py: 225 W, 12.3 gCO₂, saved 1.50 g'), v.tooltipMarkdown);
    assert.ok(v.tooltipMarkdown.includes('profiling (advise only)'), v.tooltipMarkdown);
  });
  it('a short demo run shows its grams with two significant digits, not "0.0 gCO₂, saved 0.0 g"', () => {
    const run = { id: 'r1', state: 'controlling' as const, command: 'python3 train_demo.py', gpuUuids: ['G'], policy: 'default', budgetPct: 10, startedAtMs: 0, energyJ: 1, carbonG: 0.042, savedCarbonG: 0.0071, unitsDone: 1, currentLimitMw: 225_000 };
    assert.ok(statusView(state, { runs: [run] }).tooltipMarkdown.includes('python3 train\\_demo.py: 225 W, 0.04 gCO₂, saved 0.0071 g'));
  });
});

describe('sped-up replay', () => {
  it('is labelled with its speed-up in the text, the tooltip and the accessible name', () => {
    const v = statusView(ok(), { replaySpeed: 3600 });
    assert.match(v.text, /· replay GB 2023 ×3600$/);
    assert.match(v.tooltipMarkdown, /Sped-up replay ×3600\*\*: the recorded trace plays 3600 times faster than real time/);
    assert.match(v.tooltipMarkdown, /chase\.carbon\.replaySpeed/);
    assert.match(v.accessibilityLabel, /replay GB 2023, replayed 3600 times faster than real time$/);
  });
  it('a real-time replay and a live source carry no speed label', () => {
    assert.match(statusView(ok(), { replaySpeed: 1 }).text, /· replay GB 2023$/);
    const live: ClientState = { kind: 'running', carbon: { ...(ok() as { carbon: object }).carbon, source: { ...source, kind: 'uk-neso', label: 'UK NESO' } } as never };
    const v = statusView(live, { replaySpeed: 3600 });
    assert.doesNotMatch(v.text + v.tooltipMarkdown + v.accessibilityLabel, /×|faster than real time/);
  });
});
