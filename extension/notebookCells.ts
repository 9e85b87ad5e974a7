/**
 * Energy and carbon per executed notebook cell: a cell status bar item computed from the cell's
 * execution start and end (executionSummary.timing) and the agent's record of the GPUs' energy
 * counters over that interval. Without a way to tell which GPUs a Jupyter kernel uses, all the GPUs
 * the agent sees count (the tooltip says so); simulated GPUs are labelled.
 */
import * as vscode from 'vscode';
import type { EnergyBetweenParams, EnergyBetweenResult } from '../agent/protocol/messages';
import { formatCarbon, formatWh } from '../agent/protocol/format';

/** Where the numbers come from: the agent (extension.ts wires `Methods.energyBetween`), or ChaseApi in the extension-host tests. */
export interface CellEnergySource {
  energyBetween(params: EnergyBetweenParams): Promise<EnergyBetweenResult>;
}

/** Cells that ran for less than this are not worth a number (the counters are sampled at 1 Hz). */
const MIN_CELL_MS = 1000;

export function cellItemText(r: EnergyBetweenResult): string {
  return `$(pulse) ${formatWh(r.energyJ)} · ${formatCarbon(r.carbonG)}${r.simulated ? ' (simulated GPUs)' : ''}`;
}

export function cellTiming(cell: Pick<vscode.NotebookCell, 'executionSummary'>): { startMs: number; endMs: number } | undefined {
  const t = cell.executionSummary?.timing;
  if (!t || !(t.endTime > t.startTime) || t.endTime - t.startTime < MIN_CELL_MS) return undefined;
  return { startMs: t.startTime, endMs: t.endTime };
}

export class CellEnergyProvider implements vscode.NotebookCellStatusBarItemProvider {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCellStatusBarItems = this.changed.event;

  constructor(private readonly agent: CellEnergySource) {}

  /** Cells that just finished get their numbers once the agent's next sample covers their end. */
  refreshSoon(): void {
    setTimeout(() => this.changed.fire(), 1500);
  }

  async provideCellStatusBarItems(cell: vscode.NotebookCell): Promise<vscode.NotebookCellStatusBarItem[]> {
    const timing = cellTiming(cell);
    if (!timing) return [];
    let r: EnergyBetweenResult;
    try {
      r = await this.agent.energyBetween({ fromMs: timing.startMs, toMs: timing.endMs });
    } catch {
      return [];
    }
    if (r.coveredMs < (timing.endMs - timing.startMs) / 2) return []; // the agent was not sampling then
    const item = new vscode.NotebookCellStatusBarItem(cellItemText(r), vscode.NotebookCellStatusBarAlignment.Right);
    item.tooltip = `Energy of ${r.gpuCount} GPU(s) while this cell ran (${((timing.endMs - timing.startMs) / 1000).toFixed(1)} s): ${formatWh(r.energyJ)}, ${formatCarbon(r.carbonG)} at the grid's intensity then. All GPUs the Chase agent sees are counted.`;
    item.command = 'chase.showDashboard';
    return [item];
  }

  dispose(): void {
    this.changed.dispose();
  }
}
