/**
 * `npm run test:desktop`: the same extension-host suite under @vscode/test-electron, against a desktop
 * VS Code that it downloads (1.96.4, the oldest version engines.vscode allows). It cannot run on
 * machines without access to update.code.visualstudio.com (like our CI); there test/run.mjs runs the
 * suite in code-server instead. Build first: npm run build && npx tsc -b.
 */
import { join } from 'node:path';
import { runTests } from '@vscode/test-electron';

async function main(): Promise<void> {
  const root = join(__dirname, '..', '..', '..');
  await runTests({
    version: process.env.CHASE_VSCODE_VERSION ?? '1.96.4',
    extensionDevelopmentPath: root,
    extensionTestsPath: join(__dirname, 'suite', 'index.js'),
    launchArgs: ['--disable-extensions', '--skip-welcome', '--skip-release-notes'],
  });
}

main().catch((e: unknown) => {
  console.error(`desktop extension tests failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
