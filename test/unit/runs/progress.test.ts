import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LineSplitter, parseProgressLine, ProgressTracker } from '../../../agent/runs/progress';

describe('progress lines', () => {
  it('tqdm with it/s', () => {
    const s = parseProgressLine(' 45%|████▌     | 450/1000 [00:12<00:15, 36.52it/s]');
    assert.deepEqual(s, { format: 'tqdm', completed: 450, total: 1000, ratePerS: 36.52, unit: 'it' });
  });
  it('tqdm with s/it is inverted to a rate', () => {
    const s = parseProgressLine('train:  3%|▎         | 3/100 [00:07<03:52,  2.50s/it]');
    assert.equal(s?.completed, 3);
    assert.equal(s?.total, 100);
    assert.equal(s?.ratePerS, 0.4);
    assert.equal(s?.label, 'train');
  });
  it('tqdm with a custom unit and postfix', () => {
    const s = parseProgressLine('100%|██████████| 50000/50000 [00:40<00:00, 1234.5img/s, loss=0.12]');
    assert.equal(s?.unit, 'img');
    assert.equal(s?.ratePerS, 1234.5);
  });
  it('tqdm before the first rate is known', () => {
    const s = parseProgressLine('  0%|          | 0/1000 [00:00<?, ?it/s]');
    assert.equal(s?.completed, 0);
    assert.equal(s?.ratePerS, undefined);
  });
  it('PyTorch Lightning epoch bars', () => {
    const s = parseProgressLine('Epoch 3:  41%|████      | 320/782 [00:21<00:30, 15.05it/s, v_num=0, train_loss=0.871]');
    assert.equal(s?.format, 'lightning');
    assert.equal(s?.label, 'Epoch 3');
    assert.equal(s?.completed, 320);
  });
  it('Hugging Face Trainer metrics dicts', () => {
    const s = parseProgressLine("{'train_runtime': 120.5, 'train_samples_per_second': 85.3, 'train_steps_per_second': 2.66, 'train_loss': 0.41, 'epoch': 3.0}");
    assert.equal(s?.format, 'hf-trainer');
    assert.equal(s?.ratePerS, 85.3);
    assert.equal(parseProgressLine("{'loss': 0.5432, 'grad_norm': 1.2, 'learning_rate': 4.5e-05, 'epoch': 0.27}")?.label, 'epoch 0.27');
  });
  it('Keras progress bars, in progress and at the end of an epoch', () => {
    assert.deepEqual(parseProgressLine(' 120/1000 [==>...........................] - ETA: 1:23 - loss: 0.4512'), { format: 'keras', completed: 120, total: 1000, unit: 'step' });
    const end = parseProgressLine('1000/1000 [==============================] - 25s 25ms/step - loss: 0.3012 - accuracy: 0.91');
    assert.equal(end?.ratePerS, 40);
  });
  it('ignores ordinary output', () => {
    for (const line of ['Downloading model...', 'loss 0.5 at step 10/100', 'GPU 0: NVIDIA A40', '', '{"json": 1}']) assert.equal(parseProgressLine(line), undefined, line);
  });
});

describe('LineSplitter', () => {
  it('splits tqdm carriage-return redraws and keeps partial lines across chunks', () => {
    const s = new LineSplitter();
    assert.deepEqual(s.push('a 1/10 [00:01<00:09, 1.0it/s]\r a 2/1'), ['a 1/10 [00:01<00:09, 1.0it/s]']);
    assert.deepEqual(s.push('0 [00:02<00:08, 1.0it/s]\ndone'), [' a 2/10 [00:02<00:08, 1.0it/s]']);
    assert.deepEqual(s.flush(), ['done']);
  });
  it('any chunking of the same text gives the same lines', () => {
    const text = 'x\r\ny\rz\nw 3/4 [\n\nend';
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: text.length }), { maxLength: 6 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const s = new LineSplitter();
        const lines: string[] = [];
        let prev = 0;
        for (const p of [...points, text.length]) {
          lines.push(...s.push(text.slice(prev, p)));
          prev = p;
        }
        lines.push(...s.flush());
        assert.deepEqual(lines, ['x', 'y', 'z', 'w 3/4 [', '', 'end']);
      }),
    );
  });
});

describe('ProgressTracker', () => {
  it('accumulates across epochs whose counters restart', () => {
    const t = new ProgressTracker();
    t.observe({ format: 'tqdm', completed: 50, total: 100, unit: 'it' }, 1);
    t.observe({ format: 'tqdm', completed: 100, total: 100, unit: 'it' }, 2);
    t.observe({ format: 'tqdm', completed: 10, total: 100, unit: 'it' }, 3);
    assert.equal(t.cumulative, 110);
  });
  it('a different loop (evaluation) starts a new segment', () => {
    const t = new ProgressTracker();
    t.observe({ format: 'tqdm', completed: 80, total: 100, unit: 'it' }, 1);
    t.observe({ format: 'tqdm', completed: 90, total: 20, unit: 'it' }, 2);
    assert.equal(t.cumulative, 170);
  });
  it('cumulative work never decreases', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ completed: fc.nat(1000), total: fc.constantFrom(100, 1000, 20) }), { maxLength: 50 }), (samples) => {
        const t = new ProgressTracker();
        let prev = 0;
        samples.forEach((s, i) => {
          const c = t.observe({ format: 'tqdm', unit: 'it', ...s }, i);
          assert.ok(c >= prev);
          prev = c;
        });
      }),
    );
  });

  it('the reporter wins over a tqdm bar that showed first: its units only, source "reporter"', () => {
    // what tqdm + chase_reporter.step(samples=3) in one loop produce (sample-workspace/train_torchvision.py
    // --reporter): tqdm's first bar can reach the agent before the first report
    const t = new ProgressTracker();
    t.observe(parseProgressLine('train 1/2:   0%|          | 0/5 [00:00<?, ?it/s]')!, 0);
    t.observe(parseProgressLine('train 1/2:  20%|##        | 1/5 [00:00<00:01,  3.21it/s, loss=2.302]')!, 10);
    assert.equal(t.format, 'tqdm');
    t.add(3, 11);
    assert.equal(t.format, 'reporter');
    assert.equal(t.cumulative, 3, 'samples, not batches + samples');
    t.add(3, 20);
    assert.equal(t.cumulative, 6);
  });
});
