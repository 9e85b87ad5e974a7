/**
 * How a `chase` task with `"launcher": "torchrun"` becomes the command the agent runs (no vscode
 * here, so it is unit-tested): PyTorch's own launcher around the user's program, on this node.
 *
 *   { "type": "chase", "launcher": "torchrun", "nnodes": 2, "nprocPerNode": 4,
 *     "rdzvEndpoint": "node0:29500", "command": "python3", "args": ["train.py"] }
 *   → python3 -m torch.distributed.run --nnodes 2 --nproc_per_node 4 --rdzv_backend c10d
 *       --rdzv_endpoint node0:29500 --rdzv_id chase train.py
 *
 * A Python interpreter as the command runs torchrun with that same interpreter (so the job's torch
 * is the one that launches it); any other program runs under `torchrun --no_python`. Options are
 * spelled with underscores, which torch 1.x and 2.x both accept. One node: `--standalone`. Several:
 * the c10d rendezvous at `rdzvEndpoint`, and the same task is run on every node (each under its
 * own agent); docs/distributed.md. `torchrunArgs` adds options, e.g. Debian's torch 1.13 on Python
 * 3.11 needs ["--redirects", "9:1", "--tee", "9:1"] (its `Std.from_str("0")` returns None there).
 */

export interface LauncherFields {
  command: string;
  args?: string[];
  launcher?: string;
  nnodes?: number;
  nprocPerNode?: number;
  rdzvEndpoint?: string;
  rdzvId?: string;
  /** More torchrun options, before the program (e.g. ["--max_restarts", "3"]). */
  torchrunArgs?: string[];
}

export const LAUNCHERS = ['torchrun'] as const;
const MAX_PER_NODE = 1024;
const MAX_NODES = 4096;

const PYTHON = /(^|[\\/])python(\d+(\.\d+)?)?(\.exe)?$/i;
const ENDPOINT = /^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/;
const RDZV_ID = /^[\w.-]{1,100}$/;

const wholeIn = (x: unknown, min: number, max: number) => typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max;

/** The problem with a task's launcher fields, in words, or undefined when they are usable. */
export function launcherProblem(d: Partial<LauncherFields> & Record<string, unknown>): string | undefined {
  const has = ['nnodes', 'nprocPerNode', 'rdzvEndpoint', 'rdzvId', 'torchrunArgs'].filter((k) => d[k] !== undefined);
  if (d.launcher === undefined) return has.length > 0 ? `"${has[0]}" needs "launcher": "torchrun".` : undefined;
  if (!(LAUNCHERS as readonly unknown[]).includes(d.launcher)) return `"launcher" must be "torchrun" (or absent: the command is run as it is).`;
  if (d.nnodes !== undefined && !wholeIn(d.nnodes, 1, MAX_NODES)) return `"nnodes" must be a whole number from 1 to ${MAX_NODES}.`;
  if (d.nprocPerNode !== undefined && !wholeIn(d.nprocPerNode, 1, MAX_PER_NODE)) return `"nprocPerNode" must be a whole number from 1 to ${MAX_PER_NODE} (processes, usually one per GPU).`;
  if (d.rdzvEndpoint !== undefined && !(typeof d.rdzvEndpoint === 'string' && ENDPOINT.test(d.rdzvEndpoint))) return '"rdzvEndpoint" must be HOST:PORT of the first node, e.g. "node0:29500".';
  if (d.rdzvId !== undefined && !(typeof d.rdzvId === 'string' && RDZV_ID.test(d.rdzvId))) return '"rdzvId" must be a job id of letters, digits, ".", "_" or "-".';
  if (d.torchrunArgs !== undefined && !(Array.isArray(d.torchrunArgs) && d.torchrunArgs.every((a) => typeof a === 'string'))) return '"torchrunArgs" must be a list of strings, e.g. ["--max_restarts", "3"].';
  if ((d.nnodes ?? 1) > 1 && d.rdzvEndpoint === undefined) return `"nnodes": ${d.nnodes} needs "rdzvEndpoint": HOST:PORT of the first node, where the nodes meet (run the same task on each node).`;
  return undefined;
}

/** The program and arguments the agent launches for a task (checked with launcherProblem first). */
export function launchCommand(d: LauncherFields): { command: string; args: string[] } {
  const args = d.args ?? [];
  if (d.launcher !== 'torchrun') return { command: d.command, args };
  const nnodes = d.nnodes ?? 1;
  const options = [
    '--nnodes', String(nnodes),
    '--nproc_per_node', String(d.nprocPerNode ?? 1),
    ...(nnodes > 1 || d.rdzvEndpoint !== undefined
      ? ['--rdzv_backend', 'c10d', '--rdzv_endpoint', d.rdzvEndpoint ?? '', '--rdzv_id', d.rdzvId ?? 'chase']
      : ['--standalone']),
    ...(d.torchrunArgs ?? []),
  ];
  if (PYTHON.test(d.command)) {
    // python -m torch.distributed.run … script.py args, or … --module pkg.mod args
    const program = args[0] === '-m' ? ['--module', ...args.slice(1)] : args;
    return { command: d.command, args: ['-m', 'torch.distributed.run', ...options, ...program] };
  }
  return { command: 'torchrun', args: [...options, '--no_python', d.command, ...args] };
}
