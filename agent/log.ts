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

export function describeError(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
