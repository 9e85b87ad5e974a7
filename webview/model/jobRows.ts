/**
 * The dashboard's view of a distributed job (docs/distributed.md): its headline, one row per node
 * (on rank 0's node, which knows them all) and the latest decisions, as table cells. DOM-free.
 */
import { jobLines, SHOWN_DECISIONS } from '../../agent/protocol/jobOutcome';
import type { DistributedRunSummary } from '../../agent/protocol/messages';
import { joulesToKwh, milliwattsToWatts } from '../../agent/protocol/accounting';
import { formatAmount } from '../../agent/protocol/format';


export interface JobRows {
  /** The headline and, on the deciding node, the whole job's outcome. */
  lines: string[];
  nodes: string[][];
  decisions: string[][];
}

export function jobRows(d: DistributedRunSummary, budgetPct: number): JobRows {
  const status = { permitted: 'applied', advise: 'advise only', unreachable: 'not answering' } as const;
  return {
    lines: jobLines(d, budgetPct).slice(0, 2),
    nodes: (d.job?.nodes ?? []).map((n) => [String(n.nodeRank), String(n.ranks), formatAmount(joulesToKwh(n.energyJ)), formatAmount(n.carbonG), status[n.status]]),
    decisions: d.decisions
      .slice(-SHOWN_DECISIONS)
      .reverse()
      .map((x) => [String(x.decisionId), String(x.step), milliwattsToWatts(x.powerLimitMw).toFixed(0), x.kind === 'profile' ? 'profiling' : 'carbon period', x.applied ? 'applied' : 'advised']),
  };
}
