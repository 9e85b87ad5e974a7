import { loadTrace } from '../carbon/trace';
import { loadZeusProfile } from '../control/profile';
import { standardPolicies } from '../control/index';
import { createForecaster, forecasterNames, type ForecasterName } from '../forecast/index';
import { simulate } from '../sim/simulate';
import { numberArg, UsageError, type CliCommand } from './command';

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

function parseArgs(argv: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a}"`);
    const [flag, inline] = a.slice(2).split('=', 2);
    if (flag === 'json') {
      out.set('json', ['']);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${flag} needs a value`);
    out.set(flag, [...(out.get(flag) ?? []), value]);
  }
  const known = ['trace', 'profile', 'workload', 'batch', 'dataset', 'optimizer', 'budget-pct', 'epochs', 'starts', 'eta', 'forecaster', 'json'];
  for (const k of out.keys()) if (!known.includes(k)) throw new UsageError(`unknown option --${k}`);
  return out;
}

export const simulateCommand: CliCommand = {
  name: 'simulate',
  summary: 'replay a carbon trace against a GPU power profile and compare power-limit policies',
  usage,
  async run(argv) {
    const args = parseArgs(argv);
    const one = (k: string) => args.get(k)?.at(-1);
    const need = (k: string) => {
      const v = one(k);
      if (!v) throw new UsageError(`--${k} is required`);
      return v;
    };
    const traceFile = need('trace');
    const profileFile = need('profile');
    const workload = need('workload');
    const batch = numberArg('batch', one('batch'));
    const budgetPct = numberArg('budget-pct', one('budget-pct'), 2.5);
    const epochs = numberArg('epochs', one('epochs'), 20);
    const starts = numberArg('starts', one('starts'), 50);
    if (!(budgetPct >= 0)) throw new UsageError('--budget-pct must be ≥ 0');
    if (!(epochs > 0)) throw new UsageError('--epochs must be > 0');
    if (!(starts >= 1) || !Number.isInteger(starts)) throw new UsageError('--starts must be a whole number ≥ 1');
    const etas = [0.25, 0.5];
    for (const raw of args.get('eta') ?? []) {
      const eta = numberArg('eta', raw);
      if (!(eta >= 0 && eta <= 1)) throw new UsageError('--eta must be between 0 and 1');
      if (!etas.includes(eta)) etas.push(eta);
    }
    const fcName = one('forecaster') ?? 'default';
    if (!(forecasterNames as readonly string[]).includes(fcName)) throw new UsageError(`--forecaster must be one of ${forecasterNames.join(', ')} (got "${fcName}")`);
    const forecaster = () => createForecaster(fcName as ForecasterName);
    const trace = loadTrace(traceFile);
    const profile = loadZeusProfile(profileFile, workload, batch, { dataset: one('dataset'), optimizer: one('optimizer') });
    if (profile.note) process.stderr.write(`chase-agent simulate: ${profile.note}\n`);
    const result = simulate(trace, profile, standardPolicies(profile, { budgetPct, etas, forecaster }), { units: epochs, starts, budgetPct });
    if (args.has('json')) {
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
