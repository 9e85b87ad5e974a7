/**
 * A `chase-agent` subcommand. Each lives in its own file under agent/cli/ and is listed once in
 * agent/cli/commands.ts. Results go to stdout (they are the command's output); logs to stderr.
 *
 * Every subcommand parses and bounds its whole command line (with {@link parseCli} and the
 * `*Arg` readers below) before it starts anything — GPU control, sockets, a job — so that a bad
 * value ends with one line and exit code 2, and nothing to undo.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseDecimal } from '../decimal';
import { readSettings, SETTINGS, type SettingKey } from '../protocol/settings';

export interface CliCommand {
  name: string;
  /** One line for `--help`. */
  summary: string;
  /** Full usage text for `chase-agent NAME --help`. */
  usage: string;
  /** Returns the process exit code. `argv` is what follows the subcommand's name. */
  run(argv: string[]): Promise<number>;
}

/** A bad command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: boolean }>>;

/** A value that starts with "-" but is a number ("-1", "-.5"), not an option. */
const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/**
 * node:util parseArgs (strict) with the house rules: `--budget-pct -1` is the value -1 (Node would
 * call it ambiguous and name no flag), and parseArgs' own errors become one-line UsageErrors that
 * name the flag and say what to write (Node's are several lines and end in advice about "--").
 * Every subcommand parses its command line with it; agent/main.ts only picks the subcommand.
 */
export function parseCli<T extends Options>(args: string[], options: T, allowPositionals = false): Parsed<T> {
  const normalized: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && i + 1 < args.length && NEGATIVE_NUMBER.test(args[i + 1])) {
      normalized.push(`${a}=${args[++i]}`);
    } else {
      normalized.push(a);
    }
  }
  try {
    return parseArgs({ args: normalized, options, strict: true, allowPositionals });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS')) throw e;
    // Node's text quotes the option or argument; said the house way, as the hand parsers did
    const message = (e as Error).message;
    const quoted = /'([^']*)'/.exec(message)?.[1] ?? '';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${quoted}`);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new UsageError(`unexpected argument "${quoted}"`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const flag = quoted.split(' ')[0];
      if (/argument missing/.test(message)) throw new UsageError(`${flag} needs a value`);
      // "--zone --json": the next word is an option, not the value
      if (/ambiguous/.test(message)) throw new UsageError(`${flag} needs a value before the next option (a value that starts with "-" is written ${flag}=VALUE)`);
      if (/does not take an argument/.test(message)) throw new UsageError(`${flag} takes no value (write ${flag} alone)`);
    }
    throw new UsageError(message.split('\n')[0]);
  }
}

export interface NumberBounds {
  /** Smallest allowed value (inclusive). */
  min?: number;
  /** Values must be greater than this. */
  above?: number;
  max?: number;
  integer?: boolean;
}

function boundsText(b: NumberBounds): string {
  const kind = b.integer ? 'a whole number' : 'a number';
  const low = b.min !== undefined ? `≥ ${b.min}` : b.above !== undefined ? `> ${b.above}` : undefined;
  const high = b.max !== undefined ? `≤ ${b.max}` : undefined;
  return [kind, [low, high].filter(Boolean).join(' and ')].filter(Boolean).join(' ');
}

/**
 * Reads a numeric flag value: a plain decimal ("2.5", "-1", "1e3"; not "", "0x10" or "Infinity")
 * within `bounds`, or throws a UsageError naming the flag, the bounds and what was given.
 */
export function numberArg(flag: string, raw: string | undefined, fallback?: number, bounds: NumberBounds = {}): number {
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`--${flag} is required`);
    return fallback;
  }
  const n = parseDecimal(raw);
  const ok =
    n !== undefined &&
    (bounds.min === undefined || n >= bounds.min) &&
    (bounds.above === undefined || n > bounds.above) &&
    (bounds.max === undefined || n <= bounds.max) &&
    (!bounds.integer || Number.isInteger(n));
  if (!ok) throw new UsageError(`--${flag} must be ${boundsText(bounds)} (got "${raw}")`);
  return n;
}

/** `--gpus 0,1`: distinct GPU indices (whole numbers ≥ 0). */
export function gpuListArg(raw: string): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  const indices = parts.map((s) => numberArg('gpus', s, undefined, { min: 0, max: 1023, integer: true }));
  const twice = indices.find((g, i) => indices.indexOf(g) !== i);
  if (twice !== undefined) throw new UsageError(`--gpus lists GPU ${twice} twice; name each GPU once (e.g. --gpus 0,1)`);
  return indices;
}

/** A non-empty text flag of at most `maxLength` characters. */
export function textArg(flag: string, raw: string, maxLength = 4096): string {
  if (raw.trim() === '' || raw.length > maxLength || raw.includes('\0')) throw new UsageError(`--${flag} must be a non-empty text of at most ${maxLength} characters`);
  return raw;
}

/**
 * Chase settings given as flags (`flags`: flag name → setting key), read as the editor reads its
 * values: checked against the one settings table (agent/protocol/settings.ts), an absent flag at the
 * table's default (or `fallback`'s), every problem naming the flag — "--speed must be a speed-up from
 * 0.001 to 1000000 (1 = real time) (got 0)" — in one UsageError.
 */
export function settingFlags(values: Record<string, unknown>, flags: Record<string, SettingKey>, fallback: (key: SettingKey) => unknown = () => undefined): Map<SettingKey, unknown> {
  const flagOf = new Map(Object.entries(flags).map(([flag, key]) => [key, flag]));
  const read = readSettings(
    (key) => {
      const raw = values[flagOf.get(key) ?? ''];
      if (typeof raw !== 'string') return raw ?? fallback(key);
      const type = SETTINGS[key].type;
      // a number flag that is no decimal stays text, so the message shows what was typed
      return type === 'number' || type === 'integer' ? (parseDecimal(raw) ?? raw) : raw;
    },
    { keys: [...flagOf.keys()], defaults: true, name: (key) => `--${flagOf.get(key)}` },
  );
  if (read.problems.length > 0) throw new UsageError(read.problems.join('; '));
  return read.values;
}
