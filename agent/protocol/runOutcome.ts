/**
 * How a run's outcome reads — the same words in the task terminal (extension), the CLI (agent) and
 * the dashboard (webview). Here, beside the wire types, because all three format the same RunSummary.
 */
import type { RunProjection, RunSummary } from './messages';
import { formatAmount, formatCarbon, formatGrams, formatKwh, formatPct, formatUtcDateTime } from './format';

export type RunOutcome = Pick<RunSummary, 'energyJ' | 'carbonG' | 'baselineCarbonG' | 'savedCarbonG' | 'slowdownPct' | 'budgetPct'>;

/**
 * "0.0021 kWh, 0.52 gCO₂ — saved 15.3 % (0.09 g) vs max power, slowdown 9.8 % of 10 % budget".
 * The saving comes first as a percentage (comparable between runs), then in grams (what was
 * avoided); without a power profile it is said to be unknown rather than left out, and a run that
 * emitted more than at max power says so instead of "saved −x %".
 */
export function runOutcomeText(s: RunOutcome): string {
  const head = `${formatKwh(s.energyJ)}, ${formatCarbon(s.carbonG)}`;
  let saving: string;
  if (s.savedCarbonG === undefined || !s.baselineCarbonG) saving = 'saving not known yet (no power profile for this workload)';
  else {
    const pct = formatPct((100 * Math.abs(s.savedCarbonG)) / s.baselineCarbonG);
    const grams = formatGrams(Math.abs(s.savedCarbonG));
    saving = s.savedCarbonG >= 0 ? `saved ${pct} (${grams}) vs max power` : `${pct} (${grams}) more than at max power`;
  }
  const slowdown = s.slowdownPct !== undefined ? `, slowdown ${formatPct(s.slowdownPct)} of ${s.budgetPct} % budget` : '';
  return `${head} — ${saving}${slowdown}`;
}

/** 0.68–0.74 (the band of a projected amount), or the amount alone where the band is that narrow. */
function band(low: number, mid: number, high: number): string {
  const [a, b] = [formatAmount(Math.min(low, mid)), formatAmount(Math.max(high, mid))];
  return a === b ? formatAmount(mid) : `${formatAmount(mid)} (${a}–${b})`;
}

/**
 * "projected 0.0056 kWh, 0.71 gCO₂ (0.68–0.74), saving 12.0 % (0.10 g) vs max power, done 13:42 UTC"
 * (with a declared total), or "… over the next 24 h (no total work declared: totalUnits)".
 */
export function projectionText(p: RunProjection): string {
  const savedPct = p.baselineCarbonG > 0 ? formatPct((100 * p.savedCarbonG) / p.baselineCarbonG) : 'unknown';
  const saving = p.savedCarbonG >= 0 ? `saving ${savedPct} (${band(p.savedLowG, p.savedCarbonG, p.savedHighG)} g) vs max power` : `${formatGrams(-p.savedCarbonG)} more than at max power`;
  const when = p.finishAtMs !== undefined ? `, done ${formatUtcDateTime(p.finishAtMs, { seconds: true }).slice(11)} UTC` : ` over the next ${p.horizonHours ?? 24} h (no total work declared: set totalUnits)`;
  return `projected ${formatKwh(p.energyJ)}, ${band(p.carbonLowG, p.carbonG, p.carbonHighG)} gCO₂, ${saving}${when}`;
}

/**
 * How far the outcome was from the first projection after profiling: "projected 0.71 gCO₂ after
 * profiling, emitted 0.73 gCO₂: 2.8 % more than projected"; undefined without a projection.
 * A horizon projection covers the next 24 h, not the run: it is compared only when the run lasted that long.
 */
export function projectionOutcomeText(s: Pick<RunSummary, 'carbonG' | 'firstProjection' | 'endedAtMs'>): string | undefined {
  const p = s.firstProjection;
  if (!p || p.carbonG <= 0) return undefined;
  if (p.basis === 'horizon') return `projected ${formatCarbon(p.carbonG)} for the next ${p.horizonHours ?? 24} h after profiling (no total work declared, so not comparable with the run's ${formatCarbon(s.carbonG)})`;
  const offPct = ((s.carbonG - p.carbonG) / p.carbonG) * 100;
  const direction = Math.abs(offPct) < 0.05 ? 'as projected' : `${formatPct(Math.abs(offPct))} ${offPct > 0 ? 'more' : 'less'} than projected`;
  return `projected ${formatCarbon(p.carbonG)} after profiling, emitted ${formatCarbon(s.carbonG)}: ${direction}`;
}

/** "starting at 02:00 UTC instead of now would cut this run's projected carbon by 23.0 % (1.20 → 0.92 gCO₂)". */
export function startAdviceText(a: { nowCarbonG: number; bestCarbonG: number; cutPct: number; startAtCarbonMs: number }): string {
  return `starting at ${formatUtcDateTime(a.startAtCarbonMs).slice(11)} UTC instead of now would cut this run's projected carbon by ${formatPct(a.cutPct)} (${formatAmount(a.nowCarbonG)} → ${formatCarbon(a.bestCarbonG)})`;
}

/** "reusing the stored power profile of train_demo.py#1da38a74 — no profiling" (undefined for a profile measured by the run). */
export function profileReuseText(s: Pick<RunSummary, 'profileSource' | 'workloadKey'>): string | undefined {
  if (s.profileSource !== 'stored') return undefined;
  return `reusing the stored power profile${s.workloadKey ? ` of ${s.workloadKey}` : ''} — no profiling`;
}
