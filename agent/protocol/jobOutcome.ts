/**
 * How a distributed job reads — its ranks and nodes, the one decision sequence, each node's energy —
 * the same words in the task terminal (extension), the CLI (agent) and the dashboard (webview), as
 * runOutcome.ts does for one run.
 */
import type { DistributedRunSummary, JobDecisionSummary, JobNodeSummary } from './messages';
import { formatCarbon, formatKwh, formatWatts } from './format';
import { runOutcomeText } from './runOutcome';

/** Decisions a summary or table shows: the latest ones (a week-long job decides every period). */
export const SHOWN_DECISIONS = 12;

/** "job 4242: 8 ranks on 2 nodes; this is node 1 (4 ranks), following rank 0's decisions". */
export function jobHeadline(d: DistributedRunSummary): string {
  const role = d.coordinator ? 'deciding for the job (rank 0\'s node)' : 'following rank 0\'s decisions';
  const state = d.state === 'coordinated' ? role : `not coordinated (${d.state}): ${d.reason ?? 'see the log'}`;
  return `job ${d.jobId}: ${d.worldSize} ranks on ${d.nodeCount} node${d.nodeCount === 1 ? '' : 's'}; this is node ${d.nodeRank} (${d.localWorldSize} rank${d.localWorldSize === 1 ? '' : 's'}), ${state}`;
}

/** "decision 3 at step 150: 225 W (profiling), applied". */
export function decisionText(x: JobDecisionSummary): string {
  return `decision ${x.decisionId} at step ${x.step}: ${formatWatts(x.powerLimitMw)}${x.kind === 'profile' ? ' (profiling)' : ''}, ${x.applied ? 'applied' : 'advised only'}`;
}

/** "node 1: 4 ranks, 0.52 kWh, 120 gCO₂, advise — no permission …". */
export function nodeText(n: JobNodeSummary): string {
  const status = n.status === 'permitted' ? 'limits applied' : n.status === 'advise' ? `advise only${n.advise ? ` — ${n.advise}` : ''}` : 'not answering';
  return `node ${n.nodeRank}: ${n.ranks} rank${n.ranks === 1 ? '' : 's'}, ${formatKwh(n.energyJ)}, ${formatCarbon(n.carbonG)}, ${status}`;
}

/** The job's summary lines, as the deciding node knows them (its totals and each node), or just the headline elsewhere. */
export function jobLines(d: DistributedRunSummary, budgetPct: number): string[] {
  const lines = [jobHeadline(d)];
  if (d.job) {
    lines.push(`whole job: ${runOutcomeText({ ...d.job, budgetPct })}`);
    lines.push(...d.job.nodes.map(nodeText));
  }
  return lines;
}
