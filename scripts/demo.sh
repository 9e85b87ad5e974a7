#!/usr/bin/env bash
# `npm run demo`: the packaged extension in a real VS Code (code-server) you open in your browser.
#   scripts/demo.sh           build + package, start code-server, print the URL, run until Ctrl-C
#   scripts/demo.sh --check   same, but stop as soon as the workbench answers HTTP 200 (CI / tests)
# Env: PORT (default: a free port), HOST (default 127.0.0.1), CHASE_CODE_SERVER (code-server binary).
# The folder opened is a fresh copy of sample-workspace/; settings and state are fresh each run.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECK=0
for arg in "$@"; do
  case "$arg" in
    --check) CHECK=1 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown argument $arg (only --check)" >&2; exit 2 ;;
  esac
done

echo "== build and package the VSIX"
npm run package --silent

if [ -z "${CHASE_CODE_SERVER:-}" ]; then
  echo "== code-server"
  CHASE_CODE_SERVER="$(scripts/install-code-server.sh | tail -n 1)"
fi
export CHASE_CODE_SERVER

echo "== start code-server"
exec env DEMO_CHECK="$CHECK" node --input-type=module - <<'JS'
import fs from 'node:fs';
import path from 'node:path';
import { startCodeServer, makeTempDir, REPO_ROOT } from './test/harness/codeServer.mjs';

const scratch = makeTempDir('chase-demo-');
const workspace = path.join(scratch, 'sample-workspace');
const sample = path.join(REPO_ROOT, 'sample-workspace');
if (fs.existsSync(sample)) fs.cpSync(sample, workspace, { recursive: true });
else fs.mkdirSync(workspace);
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));

const server = await startCodeServer({
  vsix: path.join(REPO_ROOT, 'dist', 'chase-vscode.vsix'),
  workspace,
  host: process.env.HOST || '127.0.0.1',
  port: process.env.PORT ? Number(process.env.PORT) : undefined,
});

if (process.env.DEMO_CHECK === '1') {
  let status = 0;
  for (let i = 0; i < 100 && status !== 200; i++) {
    status = await fetch(server.url).then((r) => r.status, () => 0);
    if (status !== 200) await new Promise((r) => setTimeout(r, 200));
  }
  console.log(`demo: ${server.url} answered HTTP ${status}`);
  await server.stop();
  process.exit(status === 200 ? 0 : 1);
}

console.log(`\nChase demo running. Open in a browser:\n\n  ${server.url}\n`);
console.log('(a remote machine? forward the port first: ssh -L ' + `${server.port}:127.0.0.1:${server.port} <host>)`);
console.log('Then: command palette → "Tasks: Run Task" → "Train demo (carbon-aware)" (about 2 minutes on');
console.log('simulated GPUs: profiling, then the limit following a ×3600 replay; click the status bar item for the dashboard).');
console.log('Press Ctrl-C to stop.');
const stop = async () => { await server.stop(); process.exit(0); };
process.removeAllListeners('SIGINT');
process.removeAllListeners('SIGTERM');
process.once('SIGINT', () => { console.log('\nstopping code-server'); void stop(); });
process.once('SIGTERM', () => void stop());
// stay in the foreground while code-server runs; exit if it dies on its own
const timer = setInterval(() => {
  try { process.kill(server.pid, 0); } catch { console.log('code-server exited'); clearInterval(timer); process.exit(1); }
}, 1000);
JS
