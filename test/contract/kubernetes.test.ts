/**
 * packaging/kubernetes: the DaemonSet parsed with a real YAML parser (PyYAML 6, Debian's
 * python3-yaml, which python3-torch depends on — no npm dependency for one test) and checked for what
 * the node agent needs and nothing more: the one capability NVML needs (SYS_ADMIN), the socket on a
 * hostPath with the mode and group `serve` gets (parsed by serve's own option parser), the journal
 * and claims directories on the host, and an image that holds the path the command runs.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../agent/paths';
import { parseServeOptions } from '../../agent/cli/serve';
import { SYSTEM_PYTHON, requirePythonModules } from '../systemPython';

const dir = join(packageRoot, 'packaging', 'kubernetes');

interface Container {
  name: string;
  image: string;
  command: string[];
  env: Array<{ name: string; value: string }>;
  securityContext: Record<string, unknown> & { capabilities: { add: string[]; drop: string[] }; runAsGroup: number };
  volumeMounts: Array<{ name: string; mountPath: string }>;
}
interface Volume {
  name: string;
  hostPath?: { path: string; type: string };
  emptyDir?: unknown;
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: { selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: { hostPID: boolean; containers: Container[]; volumes: Volume[]; automountServiceAccountToken: boolean } } };
}

function parseYamlDocuments(file: string): Manifest[] {
  requirePythonModules(['yaml'], ['python3-yaml']);
  const json = execFileSync(SYSTEM_PYTHON, ['-c', 'import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(sys.stdin))))'], { input: readFileSync(file), encoding: 'utf8' });
  return JSON.parse(json) as Manifest[];
}

describe('the Kubernetes DaemonSet of the node agent', () => {
  const docs = parseYamlDocuments(join(dir, 'chase-agent-daemonset.yaml'));
  const ds = docs.find((d) => d.kind === 'DaemonSet')!;
  const pod = ds.spec.template.spec;
  const c = pod.containers[0];

  it('is a Namespace and an apps/v1 DaemonSet whose selector matches its pods', () => {
    assert.deepEqual(
      docs.map((d) => `${d.apiVersion} ${d.kind}`),
      ['v1 Namespace', 'apps/v1 DaemonSet'],
    );
    assert.equal(ds.metadata.namespace, docs[0].metadata.name);
    for (const [k, v] of Object.entries(ds.spec.selector.matchLabels)) assert.equal(ds.spec.template.metadata.labels[k], v);
    assert.equal(pod.containers.length, 1);
  });

  it('adds exactly one capability, SYS_ADMIN (what NVML needs to set a power limit), and drops the rest', () => {
    assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'], add: ['SYS_ADMIN'] });
    assert.equal(c.securityContext.privileged, false);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.runAsUser, 0, 'root in the initial user namespace: the driver checks capable(CAP_SYS_ADMIN) there');
    assert.equal(pod.automountServiceAccountToken, false, 'the agent never talks to the Kubernetes API');
    assert.equal(pod.hostPID, true, 'peer credentials name host PIDs: the lease is for a process in another pod');
  });

  it('runs `serve --socket` with options serve itself accepts; the socket\'s group is the container\'s group (no CAP_CHOWN needed)', () => {
    assert.deepEqual(c.command.slice(0, 3), ['node', '/opt/chase/dist/agent.js', 'serve']);
    const o = parseServeOptions(c.command.slice(3), {});
    assert.ok(o.socket);
    assert.equal(o.socket.mode, 0o660);
    assert.equal(o.socket.gid, c.securityContext.runAsGroup);
    // the socket's directory is a hostPath, so training pods on the node can mount it
    const mount = c.volumeMounts.find((m) => m.mountPath === dirname(o.socket!.path));
    assert.ok(mount, `a volume is mounted at ${dirname(o.socket.path)}`);
    assert.equal(pod.volumes.find((v) => v.name === mount.name)?.hostPath?.path, dirname(o.socket.path));
  });

  it('keeps the limit journal and the GPU claims on the host (a restarted pod restores; every agent on the node shares the claims)', () => {
    for (const variable of ['CHASE_STATE_DIR', 'CHASE_CLAIMS_DIR']) {
      const path = c.env.find((e) => e.name === variable)?.value;
      assert.ok(path, `${variable} is set`);
      const mount = c.volumeMounts.find((m) => m.mountPath === path);
      assert.ok(mount, `${path} is mounted`);
      assert.equal(pod.volumes.find((v) => v.name === mount.name)?.hostPath?.path, path, `${variable} lives on the host`);
    }
  });

  it('its image (Dockerfile) holds the command\'s script and what the agent loads at run time', () => {
    const dockerfile = readFileSync(join(dir, 'Dockerfile'), 'utf8');
    const copies = [...dockerfile.matchAll(/^COPY (\S+) (\S+)$/gm)].map((m) => ({ from: m[1], to: m[2] }));
    assert.ok(copies.some((x) => x.to === c.command[1]), `the image holds ${c.command[1]}`);
    for (const x of copies.filter((y) => !y.from.startsWith('dist/'))) assert.ok(existsSync(join(packageRoot, x.from)), `${x.from} exists in the repository`);
    // what the installed extension carries for the agent (.vscodeignore) is in the image too
    const ignore = readFileSync(join(packageRoot, '.vscodeignore'), 'utf8');
    for (const needed of ['dist/agent.js', 'dist/node_modules/**', 'agent/gpu/profiles/**', 'agent/runs/python/chase_reporter.py']) {
      assert.ok(ignore.includes(`!${needed}`), `.vscodeignore ships ${needed}`);
      const prefix = needed.replace(/\/\*\*$/, '').replace(/\/[^/]*\.py$/, '');
      assert.ok(copies.some((x) => x.from === prefix), `the image copies ${prefix}`);
    }
  });
});
