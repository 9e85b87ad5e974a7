/**
 * How a run's outcome reads — the same words in the task terminal (extension) and the CLI (agent).
 * Here, beside the wire types, because both sides format the same RunSummary.
 */
import type { RunSummary } from './messages';
import { JOULES_PER_KWH } from './units';

export { JOULES_PER_KWH };

/**
 * "2.0000 kWh, 250.0 gCO₂, saved 40.0 g (13.8 %) vs max power, slowdown 2.4 % (budget 2.5 %)";
 * without a power profile the saving is said to be unknown rather than left out.
 */
export function runOutcomeText(s: Pick<RunSummary, 'energyJ' | 'carbonG' | 'baselineCarbonG' | 'savedCarbonG' | 'slowdownPct' | 'budgetPct'>): string {
  const kwh = (s.energyJ / JOULES_PER_KWH).toFixed(4);
  const saved =
    s.savedCarbonG !== undefined && s.baselineCarbonG
      ? `, saved ${s.savedCarbonG.toFixed(1)} g (${((100 * s.savedCarbonG) / s.baselineCarbonG).toFixed(1)} %) vs max power`
      : ', no saving estimate (no power profile yet)';
  const slow = s.slowdownPct !== undefined ? `, slowdown ${s.slowdownPct.toFixed(1)} % (budget ${s.budgetPct} %)` : '';
  return `${kwh} kWh, ${s.carbonG.toFixed(1)} gCO₂${saved}${slow}`;
}
