/**
 * The job of a run: a process launched here, or one already running that a run attaches to by PID.
 *
 * State machine:  launched{child} | attached{pid}  ──▶  ended{exitCode, failure?}
 *   launched   its output is passed on as it comes and split into lines (\r and \n: tqdm redraws);
 *              it ends when it exits (exit code, or 128 + signal), or fails when it cannot start.
 *   attached   not our child: its output and exit code cannot be read; `poll` notices that it is
 *              gone. A PID that is not running ends the job at once, as a failure.
 * `stop` sends a launched job SIGTERM, then SIGKILL after a grace period; an attached one is left
 * running (it is not ours to kill): the run just stops controlling it.
 * `ended` is reported exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { processAlive } from '../process';
import { LineSplitter } from './progress';

/** A command to launch, with the whole environment it gets (jobEnv.ts builds it), or a running process. */
export type JobSpec = { kind: 'launch'; file: string; args: readonly string[]; cwd?: string; env: NodeJS.ProcessEnv } | { kind: 'attach'; pid: number };

export interface JobEvents {
  /** The job's output as it comes (launched jobs only). */
  output?(stream: 'stdout' | 'stderr', text: string): void;
  /** Each complete line of output (for progress parsing). */
  line(line: string): void;
  /**
   * The job ended: its exit code (128 + the signal's number when a signal killed it; null when it is
   * unknown: an attached process, a job that never started), and what went wrong if it failed.
   */
  ended(exitCode: number | null, failure?: string): void;
}

export class JobProcess {
  private done = false;

  private constructor(
    readonly spec: JobSpec,
    private readonly events: JobEvents,
    private readonly child: ChildProcess | undefined,
  ) {}

  /** Launches or attaches; a job that cannot start reports `ended` with the failure (never throws). */
  static start(spec: JobSpec, events: JobEvents): JobProcess {
    if (spec.kind === 'attach') {
      const job = new JobProcess(spec, events, undefined);
      if (!processAlive(spec.pid)) job.end(null, `No process with PID ${spec.pid} is running. Check the PID (ps -p ${spec.pid}) and attach to a live process.`);
      return job;
    }
    const child = spawn(spec.file, [...spec.args], { cwd: spec.cwd, env: spec.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const job = new JobProcess(spec, events, child);
    const splitters = { stdout: new LineSplitter(), stderr: new LineSplitter() };
    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream].setEncoding('utf8');
      child[stream].on('data', (text: string) => {
        events.output?.(stream, text);
        for (const line of splitters[stream].push(text)) events.line(line);
      });
    }
    // 'error' also reports a failed kill; only a child without a PID never started
    child.on('error', (e) => child.pid === undefined && job.end(null, `Could not start "${spec.file}": ${e.message}. Check the command and that it is on PATH.`));
    child.on('exit', (code, signal) => {
      for (const s of ['stdout', 'stderr'] as const) for (const line of splitters[s].flush()) events.line(line);
      job.end(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : null));
    });
    return job;
  }

  get attached(): boolean {
    return this.spec.kind === 'attach';
  }

  /** The job's PID (undefined for a command that could not be started). */
  get pid(): number | undefined {
    return this.spec.kind === 'attach' ? this.spec.pid : this.child?.pid;
  }

  /** How the job is shown: the command line, or `pid N`. */
  get command(): string {
    return describeJob(this.spec);
  }

  /** Whether the job still runs; notices (and reports) an attached process that is gone. */
  poll(): boolean {
    if (!this.done && this.spec.kind === 'attach' && !processAlive(this.spec.pid)) this.end(null);
    return !this.done;
  }

  /** Stops a launched job (SIGTERM, then SIGKILL after `graceMs`); the job then ends as the process exits. An attached one is let go. */
  stop(graceMs: number): void {
    const child = this.child;
    if (!child) return this.end(null);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    setTimeout(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'), graceMs).unref();
  }

  private end(exitCode: number | null, failure?: string): void {
    if (this.done) return;
    this.done = true;
    this.events.ended(exitCode, failure);
  }
}

/** How a job is shown in summaries and the history: the command line, or `pid N`. */
export function describeJob(spec: { kind: 'launch'; file: string; args: readonly string[] } | { kind: 'attach'; pid: number }): string {
  return spec.kind === 'launch' ? [spec.file, ...spec.args].join(' ') : `pid ${spec.pid}`;
}
