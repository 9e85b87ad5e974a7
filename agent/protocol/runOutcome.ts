/**
 * How a run's outcome reads — the same words in the task terminal (extension), the CLI (agent) and
 * the dashboard (webview). Here, beside the wire types, because all three format the same RunSummary.
 */
import type { RunSummary } from './messages';
import { formatCarbon, formatGrams, formatKwh, formatPct } from './format';

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
