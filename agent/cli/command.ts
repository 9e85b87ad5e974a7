/**
 * A `chase-agent` subcommand. Each lives in its own file under agent/cli/ and is listed once in
 * agent/cli/commands.ts. Results go to stdout (they are the command's output); logs to stderr.
 */
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

/** Reads a numeric flag value, or throws a UsageError naming the flag. */
export function numberArg(flag: string, raw: string | undefined, fallback?: number): number {
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`--${flag} is required`);
    return fallback;
  }
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new UsageError(`--${flag} must be a number (got "${raw}")`);
  return n;
}
