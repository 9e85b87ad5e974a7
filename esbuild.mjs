// Bundles the three runtime parts. tsc -b only type-checks and emits tests (see tsconfig.json).
//   dist/extension.js  the VS Code extension (cjs; `vscode` is provided by the host)
//   dist/agent.js      the agent and `chase-agent` CLI (cjs, runnable with plain Node >= 20)
//   dist/webview/dashboard.js  the dashboard (browser iife; chart.js bundled in) and its stylesheet
import * as esbuild from 'esbuild';
import { chmodSync, cpSync, existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'warning', legalComments: 'linked', define: { CHASE_VERSION: JSON.stringify(pkg.version) } };
const builds = [
  { ...common, entryPoints: ['extension/extension.ts'], outfile: 'dist/extension.js', platform: 'node', format: 'cjs', target: 'node20', external: ['vscode'] },
  // koffi (prebuilt N-API binaries per platform) and node-sqlite3-wasm (loads its .wasm from its own
  // folder) are loaded from node_modules at run time, not bundled; the VSIX carries them (see .vscodeignore).
  { ...common, entryPoints: ['agent/main.ts'], outfile: 'dist/agent.js', platform: 'node', format: 'cjs', target: 'node20', external: ['koffi', 'node-sqlite3-wasm'], banner: { js: '#!/usr/bin/env node' } },
  { ...common, entryPoints: ['webview/dashboard.ts'], outfile: 'dist/webview/dashboard.js', platform: 'browser', format: 'iife', target: 'es2022' },
  { ...common, entryPoints: ['webview/dashboard.css'], outfile: 'dist/webview/dashboard.css', sourcemap: false },
];

/**
 * The agent's external modules, copied beside the bundle (dist/node_modules) so that the installed
 * extension, which carries no node_modules of its own, can load them.
 */
function copyRuntimeModules() {
  const out = 'dist/node_modules';
  rmSync(out, { recursive: true, force: true });
  const koffiPlatforms = existsSync('node_modules/@koromix') ? readdirSync('node_modules/@koromix').filter((n) => n.startsWith('koffi-')) : [];
  for (const m of ['koffi', 'node-sqlite3-wasm', ...koffiPlatforms.map((n) => `@koromix/${n}`)]) {
    cpSync(`node_modules/${m}`, `${out}/${m}`, {
      recursive: true,
      // koffi ships its C/C++ sources and docs; the runtime needs its JS and the prebuilt binary.
      filter: (src) => !/[\\/](doc|vendor|CMakeLists\.txt)($|[\\/])/.test(src) && !/\.(cc|hh|c|h|inc|S|asm)$/.test(src),
    });
  }
}

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  chmodSync('dist/agent.js', 0o755);
  copyRuntimeModules();
}
