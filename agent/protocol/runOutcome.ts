/**
 * How a run's outcome reads — the same words in the task terminal (extension), the CLI (agent) and
 * the dashboard (webview). Here, beside the wire types, because all three format the same RunSummary.
 */
import type { RunSummary } from './messages';
import { JOULES_PER_KWH } from './units';

export { JOULES_PER_KWH };

/**
 * A kWh or gram amount with about two significant digits where it is small: a short demo run uses
 * 0.0021 kWh and emits 0.52 g, a long one 2.00 kWh and 250 g; a fixed number of decimals would show
 * the first as "0.0" or the second as "250.0000".
 */
export function formatAmount(x: number): string {
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 0.01 || a === 0) return x.toFixed(2);
  // 0.0021 → 4 decimals; never exponent notation, at most 6 decimals (a µWh-scale run reads 0.000000).
  return x.toFixed(Math.min(6, 1 - Math.floor(Math.log10(a))));
}

export type RunOutcome = Pick<RunSummary, 'energyJ' | 'carbonG' | 'baselineCarbonG' | 'savedCarbonG' | 'slowdownPct' | 'budgetPct'>;

/**
 * "0.0021 kWh, 0.52 gCO₂ — saved 15.3 % (0.09 g) vs max power, slowdown 9.8 % of 10 % budget".
 * The saving comes first as a percentage (comparable between runs), then in grams (what was
 * avoided); without a power profile it is said to be unknown rather than left out, and a run that
 * emitted more than at max power says so instead of "saved −x %".
 */
export function runOutcomeText(s: RunOutcome): string {
  const head = `${formatAmount(s.energyJ / JOULES_PER_KWH)} kWh, ${formatAmount(s.carbonG)} gCO₂`;
  let saving: string;
  if (s.savedCarbonG === undefined || !s.baselineCarbonG) saving = 'saving not known yet (no power profile for this workload)';
  else {
    const pct = ((100 * Math.abs(s.savedCarbonG)) / s.baselineCarbonG).toFixed(1);
    const grams = formatAmount(Math.abs(s.savedCarbonG));
    saving = s.savedCarbonG >= 0 ? `saved ${pct} % (${grams} g) vs max power` : `${pct} % (${grams} g) more than at max power`;
  }
  const slowdown = s.slowdownPct !== undefined ? `, slowdown ${s.slowdownPct.toFixed(1)} % of ${s.budgetPct} % budget` : '';
  return `${head} — ${saving}${slowdown}`;
}
