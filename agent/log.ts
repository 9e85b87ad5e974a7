/**
 * The agent's logger. stdout may be the JSON-RPC channel, so everything goes to stderr, which the
 * extension shows in its LogOutputChannel. Secrets never reach here: callers log ids, not keys.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string, cause?: unknown): void;
}

const threshold: LogLevel = (process.env.CHASE_LOG_LEVEL as LogLevel) in ORDER ? (process.env.CHASE_LOG_LEVEL as LogLevel) : 'info';

function write(level: LogLevel, scope: string, message: string): void {
  if (ORDER[level] < ORDER[threshold]) return;
  process.stderr.write(`${new Date().toISOString()} [${level}] ${scope}: ${message}\n`);
}

export function createLogger(scope: string): Logger {
  return {
    debug: (m) => write('debug', scope, m),
    info: (m) => write('info', scope, m),
    warn: (m) => write('warn', scope, m),
    error: (m, cause) => write('error', scope, cause === undefined ? m : `${m}: ${describeError(cause)}`),
  };
}

/** An error's text for the log (and for messages that wrap a cause the user can act on). */
export function describeError(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Errors the JavaScript engine throws — `TypeError: Cannot read properties of null`, a RangeError —
 * are bugs in Chase, not something the user can fix by reading them; and a thrown non-Error value
 * has no message written for anyone.
 */
export function isInternalError(e: unknown): boolean {
  return !(e instanceof Error) || e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError || e instanceof SyntaxError || e instanceof EvalError || e instanceof URIError;
}

const internalLog = createLogger('internal');

/**
 * What a user is shown for `e`: its own message, or — for an internal error — "internal error in
 * chase-agent (WHERE): please report it", with the detail (the stack) written to the log.
 */
export function userMessage(e: unknown, where: string): string {
  if (!isInternalError(e)) return describeError(e);
  internalLog.error(`internal error in ${where}`, e instanceof Error ? (e.stack ?? e) : e);
  return `internal error in chase-agent (${where}): please report it with the agent log (VS Code: "Chase: Show Log"; CLI: the lines above)`;
}
