/**
 * Where the agent finds files it ships with. The bundle is `dist/agent.js`; tests run the compiled
 * sources from `out/agent/...`. Both sit two or three levels below the package root, so the root is
 * found by walking up to the nearest package.json.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return start;
    dir = up;
  }
}

export const packageRoot = findPackageRoot(__dirname);
export const embeddedTracesDir = join(packageRoot, 'agent', 'carbon', 'traces');
