import type { CliCommand } from './command';
import { numberArg, UsageError } from './command';
import { existsSync, writeFileSync } from 'node:fs';
import type { HistoryReader } from '../store/history';
import { defaultHistoryPath } from '../store/paths';
import { gramsToKg, joulesToKwh } from '../store/accounting';
import type { RunRecord } from '../store/types';
// The store (WebAssembly SQLite) is loaded when a `runs` command runs, not when the agent starts.

const USAGE = `chase-agent runs list [--limit N] [--json] [--db FILE]
chase-agent runs show <id> [--json] [--db FILE]
chase-agent runs export <id> [--format codecarbon|json] [--out FILE] [--db FILE]

Reads the run history the agent records (read-only; safe while the agent runs).

  list     runs, newest first: id, start, duration, status, energy (kWh), emissions (g), saved
  show     one run's totals, decisions and sample count
  export   CodeCarbon emissions.csv row (default; appended to --out when it is an emissions.csv)
           or JSON (totals, decisions, intensity, per-GPU samples); to stdout without --out

  --db FILE   the history database (default $CHASE_STATE_DIR/history.sqlite, else
              $XDG_STATE_HOME/chase/history.sqlite, else ~/.local/state/chase/history.sqlite)`;

interface Parsed {
  positional: string[];
  flags: Map<string, string | true>;
}

function parse(argv: string[], valued: string[], booleans: string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const [name, inline] = a.slice(2).split('=', 2);
      if (valued.includes(name)) {
        const v = inline ?? argv[++i];
        if (v === undefined) throw new UsageError(`--${name} needs a value`);
        flags.set(name, v);
      } else if (booleans.includes(name) && inline === undefined) {
        flags.set(name, true);
      } else {
        throw new UsageError(`unknown option ${a}`);
      }
    } else {
      positional.push(a);
    }
  }
  return { positional, flags };
}

const iso = (ms: number | undefined): string => (ms === undefined ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19));

function duration(run: RunRecord, nowMs: number): string {
  const s = Math.round(((run.endMs ?? nowMs) - run.startMs) / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

function saved(run: RunRecord): string {
  if (run.baselineCarbonG === undefined || run.baselineCarbonG <= 0) return '-';
  const g = run.baselineCarbonG - run.carbonG;
  return `${g.toFixed(1)} g (${((100 * g) / run.baselineCarbonG).toFixed(1)} %)`;
}

function renderList(runs: RunRecord[], nowMs: number): string {
  if (runs.length === 0) return 'No runs recorded yet.';
  const rows = [['ID', 'STARTED (UTC)', 'DURATION', 'STATUS', 'ENERGY kWh', 'CO2 g', 'SAVED'], ...runs.map((r) => [r.id, iso(r.startMs), duration(r, nowMs), r.status, joulesToKwh(r.energyJ).toFixed(3), r.carbonG.toFixed(1), saved(r)])];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((v, c) => v.padEnd(widths[c])).join('  ').trimEnd()).join('\n');
}

function renderRun(reader: HistoryReader, run: RunRecord, nowMs: number): string {
  const decisions = reader.decisions({ runId: run.id });
  const lines = [
    `Run ${run.id}  [${run.status}${run.exitCode !== undefined ? `, exit ${run.exitCode}` : ''}]`,
    `  command   ${run.command}`,
    `  time      ${iso(run.startMs)} → ${iso(run.endMs)} UTC (${duration(run, nowMs)})`,
    `  GPUs      ${run.gpuUuids.join(', ') || '-'}`,
    `  policy    ${run.policy ?? '-'}${run.budgetPct !== undefined ? `, slowdown budget ${run.budgetPct} %` : ''}${run.slowdownPct !== undefined ? `, actual slowdown ${run.slowdownPct.toFixed(2)} %` : ''}`,
    `  grid      ${run.zone ?? '-'}${run.source ? ` (${run.source})` : ''}`,
    `  energy    ${joulesToKwh(run.energyJ).toFixed(4)} kWh (${run.energyJ.toFixed(0)} J)`,
    `  emissions ${run.carbonG.toFixed(2)} g CO2eq (${gramsToKg(run.carbonG).toFixed(5)} kg)`,
    `  baseline  ${run.baselineCarbonG === undefined ? '-' : `${run.baselineCarbonG.toFixed(2)} g at maximum power`}; saved ${saved(run)}`,
    `  decisions ${decisions.length}`,
  ];
  for (const d of decisions.slice(-10)) {
    lines.push(`    ${iso(d.timestampMs)}  limit ${(d.powerLimitMw / 1000).toFixed(0)} W  intensity ${d.intensityGPerKwh?.toFixed(0) ?? '-'} g/kWh  forecast ${d.forecastGPerKwh?.toFixed(0) ?? '-'}  expected saving ${d.expectedSavingG?.toFixed(2) ?? '-'} g`);
  }
  if (decisions.length > 10) lines.push(`    (last 10 of ${decisions.length}; --json for all)`);
  return lines.join('\n');
}

export const runsCommand: CliCommand = {
  name: 'runs',
  summary: 'run history: list, show <id>, export <id> as CodeCarbon emissions.csv or JSON',
  usage: USAGE,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub !== 'list' && sub !== 'show' && sub !== 'export') throw new UsageError(sub === undefined ? 'which one: list, show or export?' : `unknown subcommand "${sub}"`);
    const p = parse(rest, ['db', 'limit', 'format', 'out'], ['json']);
    const dbFlag = p.flags.get('db');
    const path = typeof dbFlag === 'string' ? dbFlag : defaultHistoryPath();
    const nowMs = Date.now();
    const needId = (): string => {
      if (p.positional.length !== 1) throw new UsageError(`runs ${sub} needs exactly one run id`);
      return p.positional[0];
    };
    if (sub === 'list' && p.positional.length > 0) throw new UsageError(`unexpected argument ${p.positional[0]}`);
    if (sub !== 'export' && (p.flags.has('format') || p.flags.has('out'))) throw new UsageError('--format and --out belong to runs export');
    const format = p.flags.get('format') ?? 'codecarbon';
    if (format !== 'codecarbon' && format !== 'json') throw new UsageError(`--format must be codecarbon or json (got "${String(format)}")`);
    const id = sub === 'list' ? '' : needId();
    /* eslint-disable @typescript-eslint/no-require-imports -- loaded on use (see top) */
    const { HistoryReader: Reader } = require('../store/history') as typeof import('../store/history');
    const { CODECARBON_RELEASE, codeCarbonCsv, exportRunCodeCarbon, exportRunJson, writeCodeCarbonFile } = require('../store/export') as typeof import('../store/export');
    /* eslint-enable @typescript-eslint/no-require-imports */
    if (sub === 'list' && typeof dbFlag !== 'string' && !existsSync(path)) {
      // a fresh home: no run recorded yet is an empty list, not an error (an explicit --db FILE that
      // is missing still is one: the user named a file)
      process.stdout.write(p.flags.has('json') ? '[]\n' : `${renderList([], nowMs)} (The history is created at ${path} by the first run.)\n`);
      return 0;
    }
    const reader = Reader.open({ path });
    try {
      if (sub === 'list') {
        const limitFlag = p.flags.get('limit');
        const runs = reader.listRuns({ limit: numberArg('limit', typeof limitFlag === 'string' ? limitFlag : undefined, 50) });
        process.stdout.write((p.flags.has('json') ? JSON.stringify(runs, null, 2) : renderList(runs, nowMs)) + '\n');
        return 0;
      }
      const run = reader.getRun(id);
      if (!run) {
        process.stderr.write(`chase-agent runs: no run with id "${id}" in ${reader.path} (chase-agent runs list shows the ids)\n`);
        return 1;
      }
      if (sub === 'show') {
        process.stdout.write((p.flags.has('json') ? JSON.stringify(exportRunJson(reader, id, nowMs), null, 2) : renderRun(reader, run, nowMs)) + '\n');
        return 0;
      }
      const out = p.flags.get('out');
      if (format === 'json') {
        const text = JSON.stringify(exportRunJson(reader, id, nowMs), null, 2) + '\n';
        if (typeof out === 'string') writeFileSync(out, text);
        else process.stdout.write(text);
      } else {
        const row = exportRunCodeCarbon(reader, id, { nowMs });
        if (typeof out === 'string') {
          const w = writeCodeCarbonFile(out, [row]);
          if (w.backupFile) process.stderr.write(`${out} had other columns than CodeCarbon ${CODECARBON_RELEASE}'s: moved it to ${w.backupFile} (as CodeCarbon does)\n`);
          process.stderr.write(`${w.written === 'created' ? 'wrote' : 'appended to'} ${out}\n`);
        } else {
          process.stdout.write(codeCarbonCsv([row]));
        }
      }
      return 0;
    } finally {
      reader.close();
    }
  },
};
