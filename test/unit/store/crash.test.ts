import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { HistoryReader, HistoryStore } from '../../../agent/store/history';
import { memoryLogger, tempDir } from './helpers';

const WRITER = join(__dirname, 'fixtures', 'writer.js');

interface Writer {
  child: ChildProcess;
  committed: number[];
  stderr: string;
  firstCommit: Promise<void>;
  closed: Promise<void>;
}

/** Spawns a writer; with `wait`, it loads and then waits for `go()` before touching the database. */
function startWriter(path: string, wait = false): Writer & { go: () => void } {
  const child = spawn(process.execPath, [WRITER, path, ...(wait ? ['--wait'] : [])], { stdio: [wait ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const w: Writer & { go: () => void } = { child, committed: [], stderr: '', firstCommit: Promise.resolve(), closed: Promise.resolve(), go: () => child.stdin?.write('go\n') };
  let buf = '';
  let signal: () => void = () => undefined;
  w.firstCommit = new Promise<void>((r) => (signal = r));
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const l of lines) if (l.startsWith('C ')) w.committed.push(Number(l.slice(2)));
    if (w.committed.length > 0) signal();
  });
  child.stderr?.on('data', (d: Buffer) => (w.stderr += d.toString()));
  w.closed = new Promise<void>((r) => child.on('close', () => r()));
  child.on('close', () => signal());
  const onExit = (): boolean => child.kill('SIGKILL');
  process.once('exit', onExit);
  child.on('close', () => process.off('exit', onExit));
  return w;
}

test('kill -9 while writing, 50 times: the database always opens, passes integrity_check, and keeps every committed second', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'history.sqlite');
    let rollbacks = 0;
    let commits = 0;
    // The next writer is spawned (Node start-up, module load) while the last one's database is
    // checked; it touches the database only after go().
    let next = startWriter(path, true);
    for (let i = 0; i < 50; i++) {
      const w = next;
      w.go();
      await w.firstCommit;
      assert.ok(w.committed.length > 0, `writer ${i} never committed: ${w.stderr}`);
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      w.child.kill('SIGKILL');
      await w.closed;
      if (i < 49) next = startWriter(path, true);
      commits += w.committed.length;
      const lastCommitted = w.committed[w.committed.length - 1];

      const log = memoryLogger();
      const store = HistoryStore.open({ path, flushIntervalMs: 0, retentionIntervalMs: 0, log });
      try {
        assert.equal(store.openReport.movedAside, undefined, `iteration ${i}: the database had to be moved aside: ${log.lines.join('\n')}`);
        assert.equal(store.integrityCheck(), 'ok', `iteration ${i}`);
        // every second the writer reported committed is there for all 8 GPUs: as a raw row, or (older
        // than the writer's 60-s tier) inside the 10-s mean that retention folded it into
        const rows = store.samples({ fromMs: w.committed[0] - 10_000, toMs: lastCommitted + 1 });
        const have = new Map<string, number>();
        for (const r of rows) have.set(`${r.timestampMs}/${r.resolutionMs}`, (have.get(`${r.timestampMs}/${r.resolutionMs}`) ?? 0) + 1);
        for (const t of w.committed) {
          const raw = have.get(`${t}/1000`) ?? 0;
          const folded = have.get(`${Math.floor(t / 10_000) * 10_000}/10000`) ?? 0;
          assert.ok(raw === 8 || folded === 8, `iteration ${i}: committed second ${t} lost (raw ${raw}, folded ${folded})`);
        }
        assert.equal(rows.filter((r) => r.timestampMs === lastCommitted && r.resolutionMs === 1000).length, 8, `iteration ${i}: the last committed second is raw`);
        const run = store.getRun(`w-${w.child.pid}`);
        assert.ok(run, `iteration ${i}: the run row is there`);
        assert.ok(run.carbonG >= Math.floor(w.committed.length / 10) * 10, `iteration ${i}: run totals committed before the last report are kept`);
        rollbacks += log.lines.filter((l) => l.includes('rolled back')).length;
        store.markInterruptedRuns();
      } finally {
        store.close();
      }
    }
    // stdout, for the record (the fraction of kills that landed inside a transaction)
    process.stdout.write(`# crash loop: 50 kills, ${commits} commits, ${rollbacks} interrupted transactions rolled back\n`);
  } finally {
    cleanup();
  }
});

test('the CLI side reads while the agent writes: every read succeeds and sees a growing, consistent history', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'history.sqlite');
    const w = startWriter(path);
    await w.firstCommit;
    const reader = HistoryReader.open({ path });
    try {
      let prev = 0;
      let reads = 0;
      const commitsBefore = w.committed.length;
      const until = Date.now() + 1500;
      while (Date.now() < until) {
        const rows = reader.samples({ fromMs: 0, toMs: Number.MAX_SAFE_INTEGER });
        const newest = rows.reduce((m, r) => Math.max(m, r.timestampMs), 0);
        assert.ok(newest >= prev, 'history never goes back in time under a reader');
        // a read is one snapshot: every recent second (one transaction each) has all 8 GPUs ...
        const perTs = new Map<number, number>();
        for (const r of rows) if (r.resolutionMs === 1000 && r.timestampMs > newest - 50_000) perTs.set(r.timestampMs, (perTs.get(r.timestampMs) ?? 0) + 1);
        for (const [t, n] of perTs) assert.equal(n, 8, `torn read at ${t}`);
        // ... and no GPU has a second both raw and inside a 10-s mean (retention folds per GPU atomically)
        const buckets = new Set(rows.filter((r) => r.resolutionMs === 10_000).map((r) => `${r.gpuUuid}/${r.timestampMs}`));
        for (const r of rows) if (r.resolutionMs === 1000) assert.ok(!buckets.has(`${r.gpuUuid}/${Math.floor(r.timestampMs / 10_000) * 10_000}`), `double-counted ${r.gpuUuid} at ${r.timestampMs}`);
        assert.ok(reader.listRuns().length >= 1);
        prev = newest;
        reads++;
        await new Promise((r) => setImmediate(r));
      }
      assert.ok(reads >= 3, `only ${reads} reads`);
      assert.ok(w.committed.length > commitsBefore, `the writer kept committing while read (${commitsBefore} → ${w.committed.length})`);
    } finally {
      reader.close();
      w.child.kill('SIGKILL');
      await w.closed;
    }
  } finally {
    cleanup();
  }
});
