/**
 * The one Zeus power-trace reader against Zeus's own files: the A40 trace the agent ships
 * (agent/gpu/profiles/) and the V100, P100 and RTX 6000 traces (fixtures/zeus-nsdi23, provenance in
 * its README), every workload of each; and the simulated GPUs running by what it reads.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { packageRoot } from '../../../agent/paths';
import { ProfileError } from '../../../agent/profile/profile';
import { DEFAULT_PROFILE, loadDefaultProfile, loadZeusProfile, parseZeusProfile, profilesDir, zeusGpuModel } from '../../../agent/profile/zeus';
import { SimulatedBackend } from '../../../agent/gpu/backends/simulated';
import { A40_RESNET50_B128_CSV } from '../control/fixtures';

const FIXTURES = join(packageRoot, 'test', 'unit', 'profile', 'fixtures', 'zeus-nsdi23');
const TRACES = [join(profilesDir, 'summary_power_a40.csv'), ...['v100', 'p100', 'rtx6000'].map((g) => join(FIXTURES, `summary_power_${g}.csv`))];
const V100 = TRACES[1];

type ZeusRow = Record<'dataset' | 'network' | 'batch_size' | 'optimizer' | 'power_limit' | 'time_per_epoch' | 'average_power', string>;

/** A trace's rows, read here by plain splitting (Zeus files have no quoting), not by the reader under test. */
function zeusRows(file: string): ZeusRow[] {
  const [head, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  const columns = head.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [columns[i], v])) as ZeusRow);
}

const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-9 * Math.abs(b), `${what}: ${a} ≉ ${b}`);

describe('Zeus power traces (ml-energy/zeus, NSDI \'23)', () => {
  it('every workload of every trace: one point per limit, from one (dataset, optimizer), W → mW and s/epoch → epochs/s', () => {
    let workloads = 0;
    for (const file of TRACES) {
      const rows = zeusRows(file);
      const pairs = new Set(rows.map((r) => `${r.network}@${r.batch_size}`));
      for (const pair of pairs) {
        const [network, batch] = pair.split('@');
        const mine = rows.filter((r) => r.network === network && r.batch_size === batch);
        const keys = [...new Set(mine.map((r) => `${r.dataset}/${r.optimizer}`))].sort();
        const chosen = mine.filter((r) => `${r.dataset}/${r.optimizer}` === keys[0]).sort((a, b) => Number(a.power_limit) - Number(b.power_limit));
        const p = loadZeusProfile(file, { workload: network, batch: Number(batch) });
        const what = `${basename(file)} ${pair}`;
        assert.deepEqual(p.measured.map((q) => q.powerLimitMw), chosen.map((r) => Number(r.power_limit) * 1000), `${what}: limits`);
        p.measured.forEach((q, i) => {
          near(q.avgPowerMw, Number(chosen[i].average_power) * 1000, `${what} power`);
          near(1 / q.unitsPerS, Number(chosen[i].time_per_epoch), `${what} time per epoch`);
        });
        assert.equal(p.gpu, zeusGpuModel(basename(file)));
        assert.equal(p.note !== undefined, keys.length > 1, `${what}: a note exactly when several (dataset, optimizer) pairs match`);
        workloads++;
      }
    }
    assert.ok(workloads > 150, `${workloads} workloads read`);
  });

  it('V100 ShuffleNet-v2 has adadelta and adam rows at every limit: the first is used and named, the other is selectable', () => {
    const rows = zeusRows(V100).filter((r) => r.network === 'shufflenetv2' && r.batch_size === '1024');
    const of = (optimizer: string) => rows.filter((r) => r.optimizer === optimizer);
    assert.equal(of('adadelta').length, 7);
    assert.equal(of('adam').length, 7);
    const p = loadZeusProfile(V100, { workload: 'shufflenetv2', batch: 1024 });
    assert.match(p.note ?? '', /cifar100\/adadelta, cifar100\/adam\); using cifar100\/adadelta/);
    assert.deepEqual(p.measured.map((q) => q.avgPowerMw / 1000), of('adadelta').map((r) => Number(r.average_power)));
    const adam = loadZeusProfile(V100, { workload: 'shufflenetv2', batch: 1024, optimizer: 'adam' });
    assert.deepEqual(adam.measured.map((q) => q.avgPowerMw / 1000), of('adam').map((r) => Number(r.average_power)));
    assert.equal(adam.note, undefined);
  });

  it('a simulated GPU on that profile draws one optimizer\'s power at every limit, between limits and at its default', async () => {
    const adadelta = (w: number) => Number(zeusRows(V100).find((r) => r.network === 'shufflenetv2' && r.batch_size === '1024' && r.optimizer === 'adadelta' && r.power_limit === String(w))?.average_power);
    const sim = new SimulatedBackend({ profile: loadZeusProfile(V100, { workload: 'shufflenetv2', batch: 1024 }), now: () => 0 });
    const [g] = sim.devices();
    assert.deepEqual([g.name, g.uuid], ['NVIDIA V100 (simulated)', 'SIM-GPU-V100-0000']);
    assert.equal(g.defaultLimitMw, 250_000);
    assert.equal(sim.powerMw(0), Math.round(adadelta(250) * 1000), 'the default limit: adadelta\'s 250 W row');
    await sim.setPowerLimit(0, 112_500);
    assert.equal(sim.powerMw(0), Math.round(((adadelta(100) + adadelta(125)) / 2) * 1000), 'halfway between adadelta\'s 100 W and 125 W rows');
  });

  it('repeated rows for one limit are averaged; blank lines and CRLF are fine; a bad row is named by its line in the file', () => {
    const repeated = A40_RESNET50_B128_CSV.replace(/\n/g, '\r\n') + '\r\n\r\nimagenet,resnet50,128,adadelta,300,3760.5,250.26058546458663\r\n';
    const p = parseZeusProfile(repeated, 'a40.csv', { workload: 'resnet50', batch: 128 });
    assert.equal(p.measured.length, 9);
    near(1 / p.maxPoint.unitsPerS, (3739.5 + 3760.5) / 2, 'time per epoch at 300 W');
    near(p.maxPoint.avgPowerMw, ((244.26058546458663 + 250.26058546458663) / 2) * 1000, 'power at 300 W');
    const bad = `${A40_RESNET50_B128_CSV}\n\nimagenet,resnet50,128,adadelta,310,fast,250\n`;
    // the header is line 1, its 10 rows 2-11, two blank lines 12-13: the bad row is line 14
    assert.throws(() => parseZeusProfile(bad, 'a40.csv', { workload: 'resnet50', batch: 128 }), (e: unknown) => e instanceof ProfileError && /a40\.csv: line 14: power_limit, time_per_epoch and average_power must be decimal numbers/.test(e.message));
  });

  it('the default profile is the shipped A40 ResNet-50 b128 trace: simulated GPUs run by it, policies decide over it', () => {
    const p = loadDefaultProfile();
    assert.equal(p.gpu, 'A40');
    assert.equal(p.name, `${DEFAULT_PROFILE.file} resnet50 b128 imagenet/adadelta`);
    assert.deepEqual(p.frontier.map((q) => q.powerLimitMw / 1000), [100, 175, 200, 225, 250, 300]);
    const sim = new SimulatedBackend({ profile: p, now: () => 0 });
    assert.equal(sim.label, `simulated A40 (${p.name})`);
    assert.equal(sim.devices()[0].uuid, 'SIM-GPU-A40-0000');
    assert.throws(() => loadDefaultProfile(FIXTURES), /summary_power_a40\.csv is missing: reinstall the extension/);
  });

  it('a missing or unreadable profile file is one line naming it', () => {
    assert.throws(() => loadZeusProfile('/nonexistent/summary_power_x.csv', { workload: 'resnet50', batch: 128 }), (e: unknown) => e instanceof ProfileError && e.message === '/nonexistent/summary_power_x.csv: profile file not found');
    assert.throws(() => loadZeusProfile(FIXTURES, { workload: 'resnet50', batch: 128 }), (e: unknown) => e instanceof ProfileError && /zeus-nsdi23 is a folder, not a regular file; give the path of a file$/.test(e.message));
  });

  it('names the GPU model after the file, as Zeus does', () => {
    assert.equal(zeusGpuModel('summary_power_rtx6000.csv'), 'RTX6000');
    assert.equal(zeusGpuModel('/x/summary_power_a40.csv'), 'A40');
    assert.equal(zeusGpuModel('a40'), undefined);
  });
});
