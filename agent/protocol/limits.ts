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
 */
import type { NotificationMethod, RequestMethod } from './messages';

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

export interface ClaimParams {
  /** The process the GPUs are controlled for: it must belong to the connecting user (root: any). The lease ends when it exits. */
  pid: number;
  gpuUuids: string[];
  /** The client's run id, shown to whoever else asks for these GPUs. */
  runId: string;
}

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

export interface SetLeaseLimitResult {
  requestedMw: number;
  appliedMw: number;
  clamped: boolean;
}

export interface ReleaseParams {
  leaseId: string;
}

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
  hello: { method: 'chase-limits/hello' } as RequestMethod<void, LimitsHelloResult>,
  /** user agent → service: lease GPUs for a process of the connecting user (refused when another run holds one). */
  claim: { method: 'chase-limits/claim' } as RequestMethod<ClaimParams, ClaimResult>,
  /** user agent → service: one limit for all of a lease's GPUs. */
  setLimit: { method: 'chase-limits/setLimit' } as RequestMethod<SetLeaseLimitParams, SetLeaseLimitResult>,
  /** user agent → service: end a lease; its GPUs go back to their limits from before it. */
  release: { method: 'chase-limits/release' } as RequestMethod<ReleaseParams, void>,
  /** service → user agent: a lease ended without `release` (its process exited); its GPUs are restored. */
  leaseEnded: { method: 'chase-limits/leaseEnded' } as NotificationMethod<LeaseEndedParams>,
} as const;
