// node:test reporter that counts leaf tests, for test/run.mjs's "N passed, N failed" line.
// Use next to a human reporter:
//   node --test --test-reporter=spec --test-reporter-destination=stdout \
//        --test-reporter=./test/harness/countReporter.mjs --test-reporter-destination=counts.json FILES
// Writes JSON lines {"passed", "failed", "skipped", "todo", "failures": [{"file", "name"}]}: the running
// totals after every test; the last line is the final count.
//
// A test with subtests (or a describe block) is not counted itself, its leaves are: events arrive
// children first, so a test:pass/test:fail at nesting n is a parent when tests at nesting n+1 of
// the same file finished since its previous sibling. A parent that fails while none of its leaves
// failed (an after-hook error, code after the subtests throwing) counts as one failure, as does a
// file that fails to load.

export default async function* countReporter(source) {
  const counts = { passed: 0, failed: 0, skipped: 0, todo: 0, failures: [] };
  /** per file: frames[n] = what finished at nesting n under the currently open test at n-1 */
  const files = new Map();

  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { nesting = 0, name, file = '' } = event.data;
    let frames = files.get(file);
    if (!frames) files.set(file, (frames = []));

    const mine = frames[nesting + 1]; // my finished children, if any
    frames[nesting + 1] = undefined;
    const isLeaf = !mine || mine.children === 0;
    const failed = event.type === 'test:fail';
    let failureCounted = false;

    if (isLeaf) {
      if (event.data.todo) counts.todo++;
      else if (event.data.skip) counts.skipped++;
      else if (failed) failureCounted = true;
      else counts.passed++;
    } else if (failed && mine.failures === 0) {
      failureCounted = true;
    }
    if (failureCounted) {
      counts.failed++;
      counts.failures.push({ file, name });
    }

    const parent = (frames[nesting] ??= { children: 0, failures: 0 });
    parent.children++;
    if (failureCounted || (mine && mine.failures > 0)) parent.failures++;
    // the running totals after every test, so a run killed on a timeout still tells what passed
    yield `${JSON.stringify(counts)}\n`;
  }
  yield `${JSON.stringify(counts)}\n`;
}
