/**
 * Failures the agent tells apart, each with a message written for the user (what is wrong, what to
 * do). The JSON-RPC surface maps each class to its wire code in one place (server/rpc.ts
 * toResponseError), as zeusd's `ZeusdError` does; the CLI prints their message as it is. Anything
 * else that escapes is a bug: see `userMessage` in log.ts.
 */

/** No live run (or no run in the history) with the id a client gave. */
export class UnknownRunError extends Error {
  override readonly name = 'UnknownRunError';
}

/** The run history cannot be read: none yet, turned off, locked, or written by a newer Chase. */
export class HistoryUnavailableError extends Error {
  override readonly name = 'HistoryUnavailableError';
}

/** An export file was not written: it exists, is a link or not a regular file, or cannot be written. */
export class ExportError extends Error {
  override readonly name = 'ExportError';
}

/** GPU control did not start in this agent (the log says why). */
export class GpuUnavailableError extends Error {
  override readonly name = 'GpuUnavailableError';
}

/** A run that cannot start (an unknown or claimed GPU, a dead PID, a missing folder…); nothing was launched. */
export class RunRefusedError extends Error {
  override readonly name = 'RunRefusedError';
}
