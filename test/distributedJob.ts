/**
 * A distributed training job on 127.0.0.1 for the tests: one process per rank, started as torchrun
 * would start it on each node — the env:// variables (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
 * GROUP_RANK, MASTER_ADDR, MASTER_PORT) — because Debian's torchrun (torch 1.13 on Python 3.11) fails
 * in its elastic launcher (`AttributeError: 'NoneType' object has no attribute 'get'` in `to_map`).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { SYSTEM_PYTHON } from './systemPython';
import { ReporterRefusal, ReporterServer, type ReporterHandler } from '../agent/runs/reporterServer';
import type { ApplyParams, DecideParams, JobParams, JoinParams, LeaveParams, ReporterNodeInfo } from '../agent/protocol/reporter';

export const repoRoot = join(__dirname, '..', '..');
export const trainDistributed = join(repoRoot, 'sample-workspace', 'train_distributed.py');

/** A TCP port nobody listens on right now (for MASTER_PORT). */
export { freePort } from './contract/net';

export interface RankPlace {
  rank: number;
  worldSize: number;
  /** The node (GROUP_RANK) and the rank's place on it. */
  nodeRank: number;
  localRank: number;
  localWorldSize: number;
}

/** Places `worldSize` ranks on nodes of `perNode` ranks each, torchrun's order (node 0 holds ranks 0…perNode-1). */
export function placeRanks(nodes: number, perNode: number): RankPlace[] {
  const worldSize = nodes * perNode;
  return Array.from({ length: worldSize }, (_, rank) => ({ rank, worldSize, nodeRank: Math.floor(rank / perNode), localRank: rank % perNode, localWorldSize: perNode }));
}

/** The env:// variables torchrun sets for one rank. */
export function rankEnv(p: RankPlace, masterPort: number): Record<string, string> {
  return {
    RANK: String(p.rank),
    WORLD_SIZE: String(p.worldSize),
    LOCAL_RANK: String(p.localRank),
    LOCAL_WORLD_SIZE: String(p.localWorldSize),
    GROUP_RANK: String(p.nodeRank),
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(masterPort),
  };
}

export interface ProcessResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  wallMs: number;
}

/** Runs a process to its end (async: servers under test share this event loop); SIGKILLed after `timeoutMs`. */
export function runProcess(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    const p = spawn(file, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, wallMs: Date.now() - started });
    });
  });
}

/** Runs the sample distributed job's ranks with the system Python; `envFor` adds each rank's own variables (its node agent's). */
export function runRanks(places: RankPlace[], masterPort: number, args: string[], envFor: (p: RankPlace) => NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<ProcessResult[]> {
  return Promise.all(places.map((p) => runProcess(SYSTEM_PYTHON, [trainDistributed, ...args], { ...rankEnv(p, masterPort), ...envFor(p) }, timeoutMs)));
}

export const A40: ReporterNodeInfo = { gpuModel: 'NVIDIA A40', gpuCount: 1, minLimitMw: 100_000, maxLimitMw: 300_000, control: 'permitted' };
export const LIMITS_MW = [300_000, 250_000, 175_000, 225_000];

/**
 * A node agent stand-in for the reporter's requests: answers the node's GPUs, a deterministic energy
 * per round, a new decision every other round (rank 0's node only), and records every request with
 * when it came (decision latency in bench/distributed).
 */
export class StandInNode {
  readonly server = new ReporterServer(() => undefined);
  readonly joins: JoinParams[] = [];
  readonly jobs: JobParams[] = [];
  readonly decides: DecideParams[] = [];
  readonly applied: ApplyParams[] = [];
  readonly leaves: LeaveParams[] = [];
  /** What this node's agent answered to each `energy`, by step. */
  readonly energyByStep = new Map<number, number>();
  /** performance.now() when this agent answered a decision (by id), and when an `apply` came (by id). */
  readonly decidedAtMs = new Map<number, number>();
  readonly appliedAtMs = new Map<number, number>();
  private decisionId = 0;

  constructor(
    readonly nodeRank: number,
    readonly info: ReporterNodeInfo = A40,
    readonly syncEverySteps = 10,
  ) {}

  handler(): ReporterHandler {
    return {
      node: () => this.info,
      job: (p) => {
        this.jobs.push(p);
        const models = new Set(p.nodes.map((n) => `${n.gpuModel} ${n.minLimitMw}-${n.maxLimitMw}`));
        if (models.size > 1) throw new ReporterRefusal(`mixed GPU models across nodes: ${[...models].join(' / ')}`);
        return { syncEverySteps: this.syncEverySteps };
      },
      join: (p) => (this.joins.push(p), {}),
      energy: (p) => {
        const energyMj = (this.nodeRank + 1) * 1_000_000 + p.step * 1234.5 * (this.nodeRank + 1);
        this.energyByStep.set(p.step, energyMj);
        return { energyMj, control: this.info.control };
      },
      decide: (p) => {
        this.decides.push(p);
        // a new decision every other round, as a period boundary would bring
        if (this.decides.length % 2 === 0) return { decision: null };
        this.decisionId++;
        this.decidedAtMs.set(this.decisionId, performance.now());
        return {
          decision: { decisionId: this.decisionId, powerLimitMw: LIMITS_MW[(this.decisionId - 1) % LIMITS_MW.length], validUntilMs: 1_700_000_000_000 + this.decisionId, kind: this.decisionId <= 2 ? 'profile' : 'control', intensityGPerKwh: 100 + this.decisionId },
        };
      },
      apply: (p) => {
        this.appliedAtMs.set(p.decisionId, performance.now());
        this.applied.push(p);
        return { applied: true, appliedMw: p.powerLimitMw };
      },
      leave: (p) => (this.leaves.push(p), {}),
    };
  }
}

