/**
 * How the agent's JSON-RPC handlers are registered and how their failures go on the wire.
 *
 * `onRequest(connection, Methods.x, handler)` takes the method object itself: the compiler checks
 * the handler's parameter and result types against the protocol, and every request is checked
 * once, on arrival, against the method's schema (agent/protocol/messages.ts) — a bad one is answered
 * with InvalidParams (-32602) naming the field, and the handler never runs.
 *
 * `toResponseError(e)` is the one map from error classes to wire codes.
 */
import { ErrorCodes, ResponseError } from 'vscode-languageserver/node';
import { AgentErrorCodes, type RequestMethod } from '../protocol/messages';
import { checkParams } from '../protocol/paramSchema';
import { CarbonSourceError } from '../carbon/provider';
import { ExportError, GpuUnavailableError, HistoryUnavailableError, RunRefusedError, UnknownRunError } from '../errors';
import { BusyError } from '../store/sqlite';
import { userMessage } from '../log';

/** The wire form of any error a handler throws. Unexpected ones become "internal error … please report", their stack in the log. */
export function toResponseError(e: unknown, method: string): ResponseError<void> {
  if (e instanceof ResponseError) return e as ResponseError<void>;
  if (e instanceof RunRefusedError) return new ResponseError(AgentErrorCodes.runRefused, e.message);
  if (e instanceof UnknownRunError) return new ResponseError(AgentErrorCodes.unknownRun, e.message);
  if (e instanceof HistoryUnavailableError || e instanceof BusyError) return new ResponseError(AgentErrorCodes.historyUnavailable, e.message);
  if (e instanceof ExportError) return new ResponseError(AgentErrorCodes.exportFailed, e.message);
  if (e instanceof GpuUnavailableError) return new ResponseError(AgentErrorCodes.gpuUnavailable, e.message);
  if (e instanceof CarbonSourceError) return new ResponseError(e.kind === 'unknown-zone' ? AgentErrorCodes.unknownZone : e.kind === 'invalid-settings' ? AgentErrorCodes.invalidSettings : AgentErrorCodes.carbonSourceUnavailable, e.message);
  return new ResponseError(ErrorCodes.InternalError, userMessage(e, method));
}

/** What handlers are registered on: the editor's Connection, or a limits-service client's MessageConnection. */
export interface RequestReceiver {
  onRequest(method: string, handler: (...args: unknown[]) => unknown): unknown;
}

/**
 * Registers `handler` for `method`. Parameters come by name (one object); vscode-jsonrpc spreads a
 * by-position list into arguments, so more than one argument is refused, and its last argument is
 * always the cancellation token. `toError` maps what the handler throws (the limits service has its
 * own codes).
 */
export function onRequest<P, R>(connection: RequestReceiver, method: RequestMethod<P, R>, handler: (params: P) => R | Promise<R>, toError: (e: unknown, method: string) => ResponseError<void> = toResponseError): void {
  connection.onRequest(method.method, async (...args: unknown[]): Promise<R> => {
    const given = args.slice(0, -1);
    if (given.length > 1 || Array.isArray(given[0])) throw new ResponseError(ErrorCodes.InvalidParams, `${method.method}: send the parameters as one object, not a list of values`);
    const checked = checkParams(method.params, given[0]);
    if (!checked.ok) throw new ResponseError(ErrorCodes.InvalidParams, `${method.method}: ${checked.problem}`);
    try {
      return await handler(checked.value);
    } catch (e) {
      throw toError(e, method.method);
    }
  });
}
