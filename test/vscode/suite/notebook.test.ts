import * as assert from 'node:assert/strict';
import type * as vscode from 'vscode';
import { CellEnergyProvider, cellItemText, cellTiming } from '../../../extension/notebookCells';
import { chaseApi, isOk, waitForState } from './helpers';

/** A cell as the notebook API gives it after execution: only the execution summary matters here. */
const executedCell = (startTime: number, endTime: number) => ({ executionSummary: { success: true, timing: { startTime, endTime } } }) as unknown as vscode.NotebookCell;

describe('notebook cells: energy and carbon per execution', () => {
  it('an executed cell gets an item with its Wh and gCO₂ on the GPUs the agent sees', async () => {
    const api = await chaseApi();
    await waitForState(api, isOk(), 'a reading');
    // the cell must have run while the agent was sampling: an agent restarted by an earlier test
    // (chase.agent.socket) has no samples from before its start
    const deadline = Date.now() + 15_000;
    const { startedAtMs } = await api.agentInfo();
    while (Date.now() - startedAtMs < 3500) {
      assert.ok(Date.now() < deadline, 'the agent was not up for 3.5 s within 15 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const end = Date.now();
    const start = end - 2500;
    // wait until the agent has a 1 Hz sample after the cell's end (then the interval is covered to
    // its end): the condition itself, not a guess at how long that takes
    while ((await api.energyBetween({ fromMs: end, toMs: end + 60_000 })).coveredMs === 0) {
      assert.ok(Date.now() < deadline, 'no GPU sample after the cell ended within 15 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const items = await new CellEnergyProvider(api).provideCellStatusBarItems(executedCell(start, end));
    assert.equal(items.length, 1);
    assert.match(items[0].text, /^\$\(pulse\) [\d.]+ Wh · [\d.]+ gCO₂ \(simulated GPUs\)$/);
    assert.match(String(items[0].tooltip), /while this cell ran \(2\.5 s\)/);
  });

  it('cells that did not run, or ran under a second, get nothing', async () => {
    const api = await chaseApi();
    const provider = new CellEnergyProvider(api);
    assert.deepEqual(await provider.provideCellStatusBarItems({ executionSummary: undefined } as unknown as vscode.NotebookCell), []);
    assert.equal(cellTiming(executedCell(1000, 1500)), undefined);
    assert.deepEqual(cellTiming(executedCell(1000, 4000)), { startMs: 1000, endMs: 4000 });
  });

  it('formats small and large figures readably', () => {
    assert.equal(cellItemText({ energyJ: 3600 * 0.123, carbonG: 0.0456, coveredMs: 1, gpuCount: 1, simulated: false }), '$(pulse) 0.12 Wh · 0.05 gCO₂');
    assert.equal(cellItemText({ energyJ: 3600 * 250, carbonG: 75.4, coveredMs: 1, gpuCount: 8, simulated: true }), '$(pulse) 250 Wh · 75.4 gCO₂ (simulated GPUs)');
  });
});
