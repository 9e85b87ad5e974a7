/**
 * Who sets power limits for a run, seen from the run: `GpuLimits` hands out leases on GPUs, and a
 * lease sets one limit for all its GPUs and, when released, puts them back. Two implementations:
 *
 *   - PowerLimitGuard (safety/guard.ts): this agent sets limits itself (NVML as root, zeusd, or
 *     simulated GPUs), journaled, with machine-wide claims;
 *   - ServiceLimits (serviceLimits.ts): the privileged `chase-agent serve --socket` service sets
 *     them for a process this user owns (docs/gpu.md, "Trust model").
 *
 * Lease state machine: claimed → (setLimit)* → released. Releasing restores exactly the lease's
 * GPUs, never another run's; the `GpuLimits` itself stays open for later leases until `restoreAll`
 * (agent shutdown).
 */
import type { GpuControl } from './backend';

export interface SetLimitResult {
  uuid: string;
  index: number;
  requestedMw: number;
  appliedMw: number;
  clamped: boolean;
}

export interface GroupLimitResult {
  requestedMw: number;
  appliedMw: number;
  clamped: boolean;
  results: SetLimitResult[];
}

/** What a run asks for: its id and the process the GPUs are controlled for (the job, or the agent launching it). */
export interface ClaimRequest {
  runId: string;
  pid: number;
}

export interface GpuLease {
  readonly uuids: readonly string[];
  /** Whether limits may be set on every GPU of the lease; `advise` carries the first reason why not. */
  control(): Promise<GpuControl>;
  /** One limit for all the lease's GPUs, clamped to the range they all accept. */
  setLimit(requestedMw: number): Promise<GroupLimitResult>;
  /** Restores the lease's GPUs to their limits from before the lease and frees them. Idempotent. */
  release(): Promise<void>;
}

export interface GpuLimits {
  /** Who sets the limits, for logs and notes: "this agent" or "the Chase service at PATH". */
  readonly label: string;
  control(index: number): Promise<GpuControl>;
  /** Claims the GPUs machine-wide for one run; refused (GpuClaimedError) with who holds one of them. */
  claim(uuids: string[], request: ClaimRequest): Promise<GpuLease>;
  /** Agent shutdown: restores every GPU and frees every claim; no lease is granted afterwards. */
  restoreAll(): Promise<void>;
}
