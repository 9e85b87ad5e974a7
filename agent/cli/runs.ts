import type { CliCommand } from './command';
import { numberArg, parseCli, textArg, UsageError } from './command';
import { existsSync } from 'node:fs';
import type { HistoryReader } from '../store/history';
import { defaultHistoryPath } from '../store/paths';
import { gramsToKg, joulesToKwh } from '../protocol/accounting';
import { formatCarbon, formatGrams, formatKwh, formatPct, formatUtcDateTime, formatWatts } from '../protocol/format';
import type { RunRecord } from '../store/types';
// The store (WebAssembly SQLite) is loaded when a `runs` command runs, not when the agent starts.

const USAGE = `chase-agent runs list [--limit N] [--json] [--db FILE]
chase-agent runs show <id> [--json] [--db FILE]
chase-agent runs export <id> [--format codecarbon|json] [--out FILE [--force]] [--db FILE]

Reads the run history the agent records (read-only; safe while the agent runs).

  list     runs, newest first: id, start, duration, status, energy (kWh), emissions (g), saved
  show     one run's totals, decisions and sample count
  export   CodeCarbon emissions.csv row (default; appended to --out when it is an emissions.csv)
           or JSON (totals, decisions, intensity, per-GPU samples); to stdout without --out.
           An existing JSON --out file is replaced only with --force; --out is never written
           through a symbolic link, and must be a regular file (not a device or pipe)

  --db FILE   the history database (default $CHASE_STATE_DIR/history.sqlite, else
              $XDG_STATE_HOME/chase/history.sqlite, else ~/.local/state/chase/history.sqlite)`;

const OPTIONS = {
  db: { type: 'string' },
  limit: { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  force: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

/** `runs`' command line (the subcommand, its run id, options in any order), parsed and bounded before the history is opened. */
export function parseRunsArgs(argv: string[]) {
  const { values, positionals: [sub, ...ids] } = parseCli(argv, OPTIONS, true);
  if (sub !== 'list' && sub !== 'show' && sub !== 'export') throw new UsageError(sub === undefined ? 'which one: list, show or export?' : `unknown subcommand "${sub}"`);
  if (sub === 'list' && ids.length > 0) throw new UsageError(`unexpected argument ${ids[0]}`);
  if (sub !== 'list' && ids.length !== 1) throw new UsageError(`runs ${sub} needs exactly one run id`);
  if (sub !== 'export' && (values.format !== undefined || values.out !== undefined || values.force)) throw new UsageError('--format, --out and --force belong to runs export');
  if (sub !== 'list' && values.limit !== undefined) throw new UsageError('--limit belongs to runs list');
  const format = values.format ?? 'codecarbon';
  if (format !== 'codecarbon' && format !== 'json') throw new UsageError(`--format must be codecarbon or json (got "${format}")`);
  return {
    sub,
    id: sub === 'list' ? '' : textArg('id', ids[0], 200),
    db: values.db === undefined ? defaultHistoryPath() : textArg('db', values.db),
    dbGiven: values.db !== undefined,
    limit: numberArg('limit', values.limit, 50, { min: 1, max: 100_000, integer: true }),
    format,
    out: values.out === undefined ? undefined : textArg('out', values.out),
    force: values.force,
    json: values.json,
  } as const;
}

const iso = (ms: number | undefined): string => (ms === undefined ? '-' : formatUtcDateTime(ms, { seconds: true }));

function duration(run: RunRecord, nowMs: number): string {
  const s = Math.round(((run.endMs ?? nowMs) - run.startMs) / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

function saved(run: RunRecord): string {
  if (run.baselineCarbonG === undefined || run.baselineCarbonG <= 0) return '-';
  const g = run.baselineCarbonG - run.carbonG;
  return `${formatGrams(g)} (${formatPct((100 * g) / run.baselineCarbonG)})`;
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
    `  policy    ${run.policy ?? '-'}${run.budgetPct !== undefined ? `, slowdown budget ${run.budgetPct} %` : ''}${run.slowdownPct !== undefined ? `, actual slowdown ${formatPct(run.slowdownPct, 2)}` : ''}`,
    `  grid      ${run.zone ?? '-'}${run.source ? ` (${run.source})` : ''}`,
    `  energy    ${formatKwh(run.energyJ)} (${run.energyJ.toFixed(0)} J)`,
    `  emissions ${formatCarbon(run.carbonG)} (${gramsToKg(run.carbonG).toFixed(5)} kg)`,
    `  baseline  ${run.baselineCarbonG === undefined ? '-' : `${formatCarbon(run.baselineCarbonG)} at maximum power`}; saved ${saved(run)}`,
    `  decisions ${decisions.length}`,
  ];
  for (const d of decisions.slice(-10)) {
    lines.push(`    ${iso(d.timestampMs)}  limit ${formatWatts(d.powerLimitMw)}  intensity ${d.intensityGPerKwh?.toFixed(0) ?? '-'} g/kWh  forecast ${d.forecastGPerKwh?.toFixed(0) ?? '-'}  expected saving ${d.expectedSavingG !== undefined ? formatGrams(d.expectedSavingG) : '-'}`);
  }
  if (decisions.length > 10) lines.push(`    (last 10 of ${decisions.length}; --json for all)`);
  return lines.join('\n');
}

export const runsCommand: CliCommand = {
  name: 'runs',
  summary: 'run history: list, show <id>, export <id> as CodeCarbon emissions.csv or JSON',
  usage: USAGE,
  async run(argv) {
    const { sub, id, db: path, dbGiven, limit, format, out, force, json } = parseRunsArgs(argv);
    const nowMs = Date.now();
    /* eslint-disable @typescript-eslint/no-require-imports -- loaded on use (see top) */
    const { HistoryReader: Reader } = require('../store/history') as typeof import('../store/history');
    const { CODECARBON_RELEASE, codeCarbonCsv, exportRunCodeCarbon, exportRunJson, writeCodeCarbonFile, writeJsonExport } = require('../store/export') as typeof import('../store/export');
    /* eslint-enable @typescript-eslint/no-require-imports */
    if (sub === 'list' && !dbGiven && !existsSync(path)) {
      // a fresh home: no run recorded yet is an empty list, not an error (an explicit --db FILE that
      // is missing still is one: the user named a file)
      process.stdout.write(json ? '[]\n' : `${renderList([], nowMs)} (The history is created at ${path} by the first run.)\n`);
      return 0;
    }
    const reader = Reader.open({ path });
    try {
      if (sub === 'list') {
        const runs = reader.listRuns({ limit });
        process.stdout.write((json ? JSON.stringify(runs, null, 2) : renderList(runs, nowMs)) + '\n');
        return 0;
      }
      const run = reader.getRun(id);
      if (!run) {
        process.stderr.write(`chase-agent runs: no run with id "${id}" in ${reader.path} (chase-agent runs list shows the ids)\n`);
        return 1;
      }
      if (sub === 'show') {
        process.stdout.write((json ? JSON.stringify(exportRunJson(reader, id, nowMs), null, 2) : renderRun(reader, run, nowMs)) + '\n');
        return 0;
      }
      if (format === 'json') {
        const data = exportRunJson(reader, id, nowMs);
        if (out !== undefined) writeJsonExport(out, data, { overwrite: force, overwriteHint: 'add --force to replace it' });
        else process.stdout.write(JSON.stringify(data, null, 2) + '\n');
      } else {
        const row = exportRunCodeCarbon(reader, id, { nowMs });
        if (out !== undefined) {
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
