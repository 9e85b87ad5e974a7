/** The `chase` task's torchrun launcher: the command it builds, checked against the real torchrun (Debian torch 1.13). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchCommand, launcherProblem, type LauncherFields } from '../../extension/launcherModel';
import { requirePythonModules, runPython, SYSTEM_PYTHON } from '../systemPython';

describe('chase task launcher', () => {
  it('without a launcher the command runs as it is', () => {
    assert.deepEqual(launchCommand({ command: 'python3', args: ['train.py', '--lr', '0.1'] }), { command: 'python3', args: ['train.py', '--lr', '0.1'] });
    assert.equal(launcherProblem({ command: 'python3' }), undefined);
  });

  it('torchrun on one node: the same Python runs torch.distributed.run --standalone', () => {
    assert.deepEqual(launchCommand({ command: '/usr/bin/python3', args: ['train.py', '--epochs', '2'], launcher: 'torchrun', nprocPerNode: 4 }), {
      command: '/usr/bin/python3',
      args: ['-m', 'torch.distributed.run', '--nnodes', '1', '--nproc_per_node', '4', '--standalone', 'train.py', '--epochs', '2'],
    });
  });

  it('several nodes: the c10d rendezvous at the first node; a module; a program that is not Python', () => {
    const d: LauncherFields = { command: 'python', args: ['-m', 'mypkg.train', '--x'], launcher: 'torchrun', nnodes: 2, nprocPerNode: 8, rdzvEndpoint: 'node0:29500', rdzvId: 'exp-7' };
    assert.equal(launcherProblem(d as LauncherFields & Record<string, unknown>), undefined);
    assert.deepEqual(launchCommand(d).args, ['-m', 'torch.distributed.run', '--nnodes', '2', '--nproc_per_node', '8', '--rdzv_backend', 'c10d', '--rdzv_endpoint', 'node0:29500', '--rdzv_id', 'exp-7', '--module', 'mypkg.train', '--x']);
    assert.deepEqual(launchCommand({ command: './train.sh', args: ['a'], launcher: 'torchrun', torchrunArgs: ['--max_restarts', '3'] }), {
      command: 'torchrun',
      args: ['--nnodes', '1', '--nproc_per_node', '1', '--standalone', '--max_restarts', '3', '--no_python', './train.sh', 'a'],
    });
  });

  it('says what is wrong, in one line each', () => {
    const p = (d: Record<string, unknown>) => launcherProblem({ command: 'python3', ...d });
    assert.match(p({ launcher: 'mpirun' }) ?? '', /"launcher" must be "torchrun"/);
    assert.match(p({ nnodes: 2 }) ?? '', /"nnodes" needs "launcher": "torchrun"/);
    assert.match(p({ launcher: 'torchrun', nnodes: 2 }) ?? '', /"nnodes": 2 needs "rdzvEndpoint"/);
    assert.match(p({ launcher: 'torchrun', nprocPerNode: 0 }) ?? '', /"nprocPerNode" must be a whole number from 1/);
    assert.match(p({ launcher: 'torchrun', rdzvEndpoint: 'node0' }) ?? '', /HOST:PORT/);
    assert.match(p({ launcher: 'torchrun', rdzvId: 'a b' }) ?? '', /"rdzvId"/);
    assert.match(p({ launcher: 'torchrun', torchrunArgs: '--x' }) ?? '', /"torchrunArgs" must be a list/);
  });

  it('the command it builds runs under the real torchrun: 2 processes, each its rank (Debian torch 1.13 needs its Python 3.11 workaround)', async () => {
    requirePythonModules(['torch'], ['python3-torch']);
    const script = 'import torch.distributed as d; d.init_process_group("gloo"); print("rank %d of %d" % (d.get_rank(), d.get_world_size()))';
    const file = join(mkdtempSync(join(tmpdir(), 'chase-torchrun-')), 'ranks.py');
    writeFileSync(file, script);
    const { command, args } = launchCommand({ command: SYSTEM_PYTHON, args: [file], launcher: 'torchrun', nprocPerNode: 2, torchrunArgs: ['--redirects', '9:1', '--tee', '9:1'] });
    assert.equal(command, SYSTEM_PYTHON);
    const r = await runPython(args, {}, 120_000);
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    assert.deepEqual(r.stdout.trim().split('\n').filter((l) => l.startsWith('rank')).sort(), ['rank 0 of 2', 'rank 1 of 2']);
  });
});
