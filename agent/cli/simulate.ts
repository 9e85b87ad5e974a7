import { loadTrace } from '../carbon/trace';
import { loadZeusProfile } from '../profile/zeus';
import { standardPolicies } from '../control/index';
import { createForecaster, forecasterNames, type ForecasterName } from '../forecast/index';
import { simulate } from '../sim/simulate';
import { numberArg, parseCli, textArg, UsageError, type CliCommand } from './command';
import { MAX_BUDGET_PCT } from '../protocol/messages';

const usage = `chase-agent simulate --trace FILE --profile FILE --workload NAME --batch N [options]

Replays a carbon-intensity trace against a measured GPU power profile and compares the power-limit
policies: max-power (baseline), static-best, energy-only, chase-paper-eta0.25, chase-paper-eta0.5,
default and oracle. K jobs of E epochs start at evenly spaced periods (after 7 days of history);
a decision is made every trace period.

  --trace FILE        carbon trace CSV (Electricity Maps export, or timestamp,intensity)
  --profile FILE      Zeus summary_power_*.csv
  --workload NAME     network column, e.g. resnet50
  --batch N           batch_size column
  --dataset NAME      --optimizer NAME: pick among several matching rows (default: first alphabetically)
  --budget-pct B      allowed slowdown, percent (default 2.5)
  --epochs E          epochs per job (default 20)
  --starts K          number of jobs (default 50)
  --eta X             add (or override) a chase-paper variant with this η; repeatable
  --forecaster NAME   what default and chase-paper forecast with: persistence, seasonal-naive,
                      chase-svr or default (default)
  --json              print {"trace","jobs","budgetPct","policies":[…]} instead of a table`;

const OPTIONS = {
  trace: { type: 'string' },
  profile: { type: 'string' },
  workload: { type: 'string' },
  batch: { type: 'string' },
  dataset: { type: 'string' },
  optimizer: { type: 'string' },
  'budget-pct': { type: 'string' },
  epochs: { type: 'string' },
  starts: { type: 'string' },
  eta: { type: 'string', multiple: true },
  forecaster: { type: 'string' },
  json: { type: 'boolean', default: false },
} as const;

/** `simulate`'s command line, parsed and bounded before any file is read. */
export function parseSimulateArgs(argv: string[]) {
  const { values } = parseCli(argv, OPTIONS);
  const need = (k: 'trace' | 'profile' | 'workload') => {
    const v = values[k];
    if (v === undefined) throw new UsageError(`--${k} is required`);
    return textArg(k, v);
  };
  const etas = [0.25, 0.5];
  for (const raw of values.eta ?? []) {
    const eta = numberArg('eta', raw, undefined, { min: 0, max: 1 });
    if (!etas.includes(eta)) etas.push(eta);
  }
  const forecaster = values.forecaster ?? 'default';
  if (!(forecasterNames as readonly string[]).includes(forecaster)) throw new UsageError(`--forecaster must be one of ${forecasterNames.join(', ')} (got "${forecaster}")`);
  return {
    traceFile: need('trace'),
    profileFile: need('profile'),
    workload: need('workload'),
    batch: numberArg('batch', values.batch, undefined, { min: 1, max: 1e6, integer: true }),
    dataset: values.dataset === undefined ? undefined : textArg('dataset', values.dataset, 200),
    optimizer: values.optimizer === undefined ? undefined : textArg('optimizer', values.optimizer, 200),
    budgetPct: numberArg('budget-pct', values['budget-pct'], 2.5, { min: 0, max: MAX_BUDGET_PCT }),
    // bounded so that a typo cannot make the simulation run for hours
    epochs: numberArg('epochs', values.epochs, 20, { above: 0, max: 10_000 }),
    starts: numberArg('starts', values.starts, 50, { min: 1, max: 10_000, integer: true }),
    etas,
    forecaster: forecaster as ForecasterName,
    json: values.json,
  };
}

export const simulateCommand: CliCommand = {
  name: 'simulate',
  summary: 'replay a carbon trace against a GPU power profile and compare power-limit policies',
  usage,
  async run(argv) {
    const { traceFile, profileFile, workload, batch, dataset, optimizer, budgetPct, epochs, starts, etas, forecaster: fcName, json } = parseSimulateArgs(argv);
    const forecaster = () => createForecaster(fcName);
    const trace = loadTrace(traceFile);
    const profile = loadZeusProfile(profileFile, { workload, batch, dataset, optimizer });
    if (profile.note) process.stderr.write(`chase-agent simulate: ${profile.note}\n`);
    const result = simulate(trace, profile, standardPolicies(profile, { budgetPct, etas, forecaster }), { units: epochs, starts, budgetPct });
    if (json) {
      process.stdout.write(JSON.stringify({ trace: trace.name, jobs: result.jobs, budgetPct, policies: result.policies }) + '\n');
      return 0;
    }
    const rows = result.policies.map((p) => [p.policy, p.carbonReductionPct.toFixed(2), p.slowdownPct.toFixed(2), p.carbonG.toFixed(1), p.energyKwh.toFixed(3), p.hours.toFixed(2)]);
    const head = ['policy', 'carbon −%', 'slowdown %', 'carbon g', 'energy kWh', 'hours'];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
    process.stdout.write(`${trace.name} × ${profile.name}: ${result.jobs} jobs of ${epochs} ${profile.unit}s, budget ${budgetPct} %\n`);
    process.stdout.write([line(head), ...rows.map(line)].join('\n') + '\n');
    return 0;
  },
};
