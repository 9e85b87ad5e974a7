/**
 * Training progress from a process's output: tqdm (and so PyTorch Lightning and Hugging Face
 * Trainer, which draw tqdm bars), Hugging Face's metric dicts, and Keras' progress bar.
 *
 * tqdm redraws with carriage returns, so output is split on both \r and \n. Each recognised line
 * becomes a {@link ProgressSample}; {@link ProgressTracker} turns samples into a cumulative count of
 * work done, across the counter resets that every new epoch or evaluation loop causes.
 */

import type { ProgressFormat } from '../protocol/messages';
export type { ProgressFormat };

export interface ProgressSample {
  format: ProgressFormat;
  /** Position in the current loop (steps / batches / iterations), when shown. */
  completed?: number;
  total?: number;
  /** The rate the tool displays, in `unit` per second (s/it is inverted). */
  ratePerS?: number;
  /** What is counted: "it", "step", "img", "samples", … */
  unit: string;
  /** The loop's description (tqdm's prefix, e.g. "Epoch 3" or "Validation"). */
  label?: string;
}

// 45%|████▌     | 450/1000 [00:12<00:15, 36.52it/s, loss=0.1]   or   450/1000 [00:12<00:15,  1.23s/it]
const TQDM = /(?:^|\s|\|)(\d+)\/(\d+|\?)\s*\[[^\]<]*(?:<[^,\]]*)?(?:,\s*([\d.]+)\s*([A-Za-z_]+)\/s|,\s*([\d.]+)\s*s\/([A-Za-z_]+))?/;
const TQDM_PREFIX = /^\s*([^|:]*?)\s*:?\s*\d+%\|/;
// 120/1000 [==>.....] - ETA: 1:23 - loss: 0.45      or      1000/1000 [=====] - 25s 25ms/step - loss: 0.3
const KERAS = /^\s*(\d+)\/(\d+)\s+\[[=>.]+\]\s+-\s+(?:ETA:\s*[\d:]+s?|(\d+)s\s+([\d.]+)(ms|s|us)\/step)/;
// {'loss': 0.5, 'learning_rate': 1e-05, 'epoch': 0.12}   or   {'train_runtime': 12.3, 'train_samples_per_second': 85.3, ...}
const HF_DICT = /^\s*\{'(?:loss|train_runtime|eval_loss)'.*\}\s*$/;
const HF_RATE = /'train_samples_per_second':\s*([\d.]+)/;
const HF_EPOCH = /'epoch':\s*([\d.]+)/;

export function parseProgressLine(line: string): ProgressSample | undefined {
  const keras = KERAS.exec(line);
  if (keras) {
    const sample: ProgressSample = { format: 'keras', completed: Number(keras[1]), total: Number(keras[2]), unit: 'step' };
    if (keras[4]) {
      const perStep = Number(keras[4]);
      const unitsPerS = keras[5] === 'ms' ? 1000 : keras[5] === 'us' ? 1e6 : 1;
      if (perStep > 0) sample.ratePerS = unitsPerS / perStep;
    }
    return sample;
  }
  const tqdm = TQDM.exec(line);
  if (tqdm && /\d+%\||\d+\/(\d+|\?)\s*\[\d/.test(line)) {
    const prefix = TQDM_PREFIX.exec(line)?.[1]?.trim();
    const sample: ProgressSample = {
      format: prefix && /^epoch\s+\d+/i.test(prefix) ? 'lightning' : 'tqdm',
      completed: Number(tqdm[1]),
      unit: tqdm[4] ?? tqdm[6] ?? 'it',
    };
    if (tqdm[2] !== '?') sample.total = Number(tqdm[2]);
    if (tqdm[3]) sample.ratePerS = Number(tqdm[3]);
    else if (tqdm[5] && Number(tqdm[5]) > 0) sample.ratePerS = 1 / Number(tqdm[5]);
    if (prefix) sample.label = prefix;
    return sample;
  }
  if (HF_DICT.test(line)) {
    const rate = HF_RATE.exec(line);
    const epoch = HF_EPOCH.exec(line);
    return { format: 'hf-trainer', unit: 'samples', ...(rate ? { ratePerS: Number(rate[1]) } : {}), ...(epoch ? { label: `epoch ${epoch[1]}` } : {}) };
  }
  return undefined;
}

/** Splits a byte stream into lines on \n and \r (tqdm's redraws), keeping partial lines across chunks. */
export class LineSplitter {
  private rest = '';
  push(chunk: string): string[] {
    let text = this.rest + chunk;
    // A trailing \r may be the first half of \r\n: decide when the next chunk comes.
    const heldCr = text.endsWith('\r');
    if (heldCr) text = text.slice(0, -1);
    const parts = text.split(/\r\n|\r|\n/);
    this.rest = (parts.pop() ?? '') + (heldCr ? '\r' : '');
    return parts;
  }
  flush(): string[] {
    const last = this.rest.replace(/\r$/, '');
    this.rest = '';
    return last ? [last] : [];
  }
}

/**
 * Cumulative work from position samples. When a loop's position goes backwards (a new epoch, an
 * evaluation pass) the tracker starts a new segment and keeps the work already done.
 */
export class ProgressTracker {
  private doneBeforeSegment = 0;
  private lastCompleted: number | undefined;
  private lastTotal: number | undefined;
  private lastAtMs: number | undefined;
  private formatSeen: ProgressFormat | undefined;

  /** Feeds one sample seen at `atMs`. Returns the cumulative units done so far. */
  observe(sample: ProgressSample, atMs: number): number {
    this.formatSeen ??= sample.format;
    if (sample.completed !== undefined) {
      const restarted = this.lastCompleted !== undefined && (sample.completed < this.lastCompleted || sample.total !== this.lastTotal);
      if (restarted) this.doneBeforeSegment += this.lastCompleted ?? 0;
      this.lastCompleted = sample.completed;
      this.lastTotal = sample.total;
    }
    this.lastAtMs = atMs;
    return this.cumulative;
  }

  /**
   * Adds work reported directly (the Python reporter's `step(samples=…)`). The job's own report wins
   * over its output from the first call on: a loop that draws a tqdm bar and reports (the common
   * case) shows its first bar line before its first report, and the two count different units
   * (batches vs. samples), so what the output counted so far is dropped, not mixed in.
   */
  add(units: number, atMs: number): number {
    if (this.formatSeen !== 'reporter') {
      this.formatSeen = 'reporter';
      this.doneBeforeSegment = 0;
      this.lastCompleted = undefined;
      this.lastTotal = undefined;
    }
    this.doneBeforeSegment += units;
    this.lastAtMs = atMs;
    return this.cumulative;
  }

  /** Adds proxy work (GPU activity) for a job with no progress signal. */
  addProxy(units: number, atMs: number): number {
    this.formatSeen ??= 'gpu-proxy';
    this.doneBeforeSegment += units;
    this.lastAtMs = atMs;
    return this.cumulative;
  }

  get cumulative(): number {
    return this.doneBeforeSegment + (this.lastCompleted ?? 0);
  }
  get format(): ProgressFormat | undefined {
    return this.formatSeen;
  }
  get lastSeenAtMs(): number | undefined {
    return this.lastAtMs;
  }
}
