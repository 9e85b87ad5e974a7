/**
 * Mocha inside the real extension host (code-server here, desktop VS Code under test:desktop).
 * Exports run() like @vscode/test-electron expects; writes {passed, failed} to $CHASE_TEST_RESULTS
 * so test/run.mjs can count them with the other suites.
 */
import Mocha from 'mocha';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 30_000, color: false, reporter: 'spec', ...(process.env.CHASE_TEST_GREP ? { grep: process.env.CHASE_TEST_GREP } : {}) });
  for (const f of readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort()) mocha.addFile(join(__dirname, f));
  return new Promise((resolve, reject) => {
    let passed = 0;
    let failed = 0;
    const runner = mocha.run((failures) => {
      const extra = (globalThis as { __chaseBench?: Record<string, number> }).__chaseBench ?? {};
      if (process.env.CHASE_TEST_RESULTS) writeFileSync(process.env.CHASE_TEST_RESULTS, JSON.stringify({ passed, failed, ...extra }));
      if (failures > 0) reject(new Error(`${failures} extension-host tests failed`));
      else resolve();
    });
    runner.on('pass', () => passed++);
    runner.on('fail', () => failed++);
  });
}
