/**
 * The wire of the privileged limits service (`chase-agent serve --socket PATH`, usually root under
 * systemd) and the user's own agent, which launches jobs and asks the service to set their GPUs'
 * power limits. This is the service's whole surface: it never launches a process, and never opens a
 * path a client names. Anything else (the editor methods of messages.ts: startRun, exportRun,
 * configure…) is answered with JSON-RPC "method not found".
 *
 * Transport: JSON-RPC 2.0 with vscode-jsonrpc framing (Content-Length headers) over the Unix socket;
 * no LSP `initialize`. The service learns the client's uid and pid from the socket itself
 * (SO_PEERCRED), not from anything the client says.
 *
 * A lease is the service's promise to put GPUs back: it ends — and the GPUs return to their limits
 * from before it — on `release`, when the process it was claimed for exits, or when the client's
 * connection closes (the user's agent crashed or was killed).
 *
 * Units: power in mW.
 *
 * Every request's parameters have one schema (valibot, paramSchema.ts), declared with the method in
 * {@link LimitsMethods}: the service checks each request against it on arrival, before anything else,
 * and answers JSON-RPC InvalidParams (-32602) with a line naming the field (agent/server/rpc.ts).
 */
import * as v from 'valibot';
import { MAX_GPUS, notification, request } from './messages';
import { integerIn, noParams, text, type ParamsSchema } from './paramSchema';

/** One GPU the service manages. */
export interface LimitsGpu {
  index: number;
  uuid: string;
  name: string;
  minLimitMw: number;
  maxLimitMw: number;
  defaultLimitMw: number;
  /** Whether the service itself may set this GPU's limit (it runs without root, MIG mode…). */
  control: 'permitted' | 'advise';
  reason?: string;
}

export interface LimitsHelloResult {
  version: string;
  /** The service's pid (the agent that restores leased GPUs). */
  pid: number;
  gpus: LimitsGpu[];
}

/** Ids the service and its clients make (UUIDs, GPU UUIDs, run ids) are short; anything longer is not one. */
const MAX_ID_LENGTH = 200;
/**
 * Any pid_t (a signed 32-bit number): whether such a process is running, and whose it is, is the
 * kernel's answer, given as `notYourProcess` — not a malformed request.
 */
const MAX_PID_T = 2 ** 31 - 1;
const id = (what: string) => text(`${what} of 1 to ${MAX_ID_LENGTH} characters`, { minLength: 1, maxLength: MAX_ID_LENGTH });

export interface ClaimParams {
  /** The process the GPUs are controlled for: it must belong to the connecting user (root: any). The lease ends when it exits. */
  pid: number;
  gpuUuids: string[];
  /** The client's run id, shown to whoever else asks for these GPUs. */
  runId: string;
}

const claimParams: ParamsSchema<ClaimParams> = v.strictObject(
  {
    pid: integerIn(1, MAX_PID_T, 'a process id (a whole number ≥ 1)'),
    gpuUuids: v.pipe(
      v.array(id('a GPU UUID'), 'a list of GPU UUIDs'),
      v.minLength(1, `a list of 1 to ${MAX_GPUS} GPU UUIDs`),
      v.maxLength(MAX_GPUS, `a list of 1 to ${MAX_GPUS} GPU UUIDs`),
      v.check((uuids) => new Set(uuids).size === uuids.length, 'a list of distinct GPU UUIDs (each GPU once)'),
    ),
    runId: id('a run id'),
  },
  'an object {pid, gpuUuids, runId}',
);

export interface ClaimResult {
  /** Names the lease in later calls; valid only on the connection that claimed it. */
  leaseId: string;
  gpuUuids: string[];
}

export interface SetLeaseLimitParams {
  leaseId: string;
  /** One limit for all the lease's GPUs; clamped to the range they all accept. */
  powerLimitMw: number;
}

/** Above any GPU's limit (10 kW): a unit mistake (W, µW), refused rather than clamped. */
const MAX_POWER_LIMIT_MW = 10_000_000;
const leaseId = id('a lease id (from chase-limits/claim)');
const setLeaseLimitParams: ParamsSchema<SetLeaseLimitParams> = v.strictObject(
  {
    leaseId,
    powerLimitMw: v.pipe(
      v.number('a power limit in milliwatts'),
      v.finite('a power limit in milliwatts'),
      v.gtValue(0, 'a power limit in milliwatts, > 0'),
      v.maxValue(MAX_POWER_LIMIT_MW, `a power limit in milliwatts, at most ${MAX_POWER_LIMIT_MW} (10 kW)`),
    ),
  },
  'an object {leaseId, powerLimitMw}',
);

export interface SetLeaseLimitResult {
  requestedMw: number;
  appliedMw: number;
  clamped: boolean;
}

export interface ReleaseParams {
  leaseId: string;
}

const releaseParams: ParamsSchema<ReleaseParams> = v.strictObject({ leaseId }, 'an object {leaseId}');

export interface LeaseEndedParams {
  leaseId: string;
  /** Why, in words: "pid 1234 exited". */
  reason: string;
}

/** Application error codes of the service (outside the ranges JSON-RPC and LSP reserve; after AgentErrorCodes). */
export const LimitsErrorCodes = {
  /** A GPU of the claim is held by another run (the message says whose). */
  claimRefused: 3101,
  /** The pid is not the connecting user's, or is not running. */
  notYourProcess: 3102,
  /** No such lease on this connection (never claimed, released, or ended with its process). */
  unknownLease: 3103,
  /** The service may not set this GPU's limit (advise mode, MIG, invisible, shutting down). */
  controlRefused: 3104,
} as const;

export const LimitsMethods = {
  /** user agent → service: the service's version and GPUs, and whether it may set their limits. */
  hello: request<void, LimitsHelloResult>('chase-limits/hello', noParams),
  /** user agent → service: lease GPUs for a process of the connecting user (refused when another run holds one). */
  claim: request<ClaimParams, ClaimResult>('chase-limits/claim', claimParams),
  /** user agent → service: one limit for all of a lease's GPUs. */
  setLimit: request<SetLeaseLimitParams, SetLeaseLimitResult>('chase-limits/setLimit', setLeaseLimitParams),
  /** user agent → service: end a lease; its GPUs go back to their limits from before it. */
  release: request<ReleaseParams, void>('chase-limits/release', releaseParams),
  /** service → user agent: a lease ended without `release` (its process exited); its GPUs are restored. */
  leaseEnded: notification<LeaseEndedParams>('chase-limits/leaseEnded'),
} as const;
