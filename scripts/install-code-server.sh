#!/usr/bin/env bash
# Install code-server (a real VS Code build served to a browser) from the npm registry, for the
# extension-host and UI tests. Desktop VS Code cannot be downloaded on our CI machines (they reach
# only npm + Debian apt), so code-server is our "real VS Code".
#
# Usage: scripts/install-code-server.sh [DIR]
#   DIR defaults to $CHASE_CODE_SERVER_DIR or $HOME/.cache/chase/code-server-$VERSION (outside the clone,
#   so `git clean` and fresh clones reuse it). Prints the binary path on the last line.
#   Env: CS_VERSION (default 4.96.4 = VS Code 1.96.4; >= 4.103 needs Node 22).
# Idempotent: returns at once when DIR already holds a finished install whose `--version` works.
#
# Workarounds (all needed on Node 20, as root, with only npm + apt reachable):
#   - root: code-server's postinstall refuses to run without npm_config_unsafe_perm;
#   - lib/vscode/npm-shrinkwrap.json pins some packages to GitHub git URLs -> rewritten to the
#     registry tarball of the same name@version;
#   - @vscode/ripgrep downloads rg from GitHub -> its download cache is seeded with Debian's rg;
#   - the kerberos native module needs the krb5 headers (libkrb5-dev).
set -euo pipefail
export HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"  # CI runners may not set it
CS_VERSION="${CS_VERSION:-4.96.4}"
DIR="${1:-${CHASE_CODE_SERVER_DIR:-$HOME/.cache/chase/code-server-$CS_VERSION}}"
BIN="$DIR/node_modules/.bin/code-server"
MARK="$DIR/.chase-install-complete"
# keep code-server's own config/data out of $HOME during --version
export XDG_CONFIG_HOME="$DIR/xdg/config" XDG_DATA_HOME="$DIR/xdg/data"

if [ -f "$MARK" ] && [ -x "$BIN" ] && "$BIN" --version >/dev/null 2>&1; then
  echo "code-server $("$BIN" --version | head -1) already installed"
  echo "$BIN"
  exit 0
fi

t0=$(date +%s)
mkdir -p "$DIR"
cd "$DIR"
rm -f "$MARK"
[ -f package.json ] || npm init -y >/dev/null
export TMPDIR="${TMPDIR:-/tmp}"
mkdir -p "$TMPDIR"

# 1. system packages
if ! command -v rg >/dev/null || [ ! -f /usr/include/gssapi/gssapi.h ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q ripgrep libkrb5-dev
  else
    echo "install-code-server: needs ripgrep and libkrb5-dev (apt-get install ripgrep libkrb5-dev)" >&2
    exit 1
  fi
fi

# 2. the package and its top-level dependencies, install scripts deferred to step 5
npm install "code-server@$CS_VERSION" --ignore-scripts --no-audit --no-fund
VS="node_modules/code-server/lib/vscode"

# 3. GitHub pins -> registry tarballs (same name@version; warns if the registry's integrity differs)
for SW in "$VS/npm-shrinkwrap.json" "$VS/extensions/npm-shrinkwrap.json"; do
  [ -f "$SW" ] || continue
  node - "$SW" <<'JS'
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const file = process.argv[2];
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
let changed = 0;
for (const [key, entry] of Object.entries(lock.packages ?? {})) {
  if (!entry.resolved || entry.resolved.startsWith('https://registry.npmjs.org/')) continue;
  const name = entry.name ?? key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
  const dist = JSON.parse(execFileSync('npm', ['view', `${name}@${entry.version}`, 'dist', '--json'], { encoding: 'utf8' }));
  if (entry.integrity && entry.integrity !== dist.integrity) {
    console.error(`warning: ${name}@${entry.version}: registry integrity differs from the pinned one; using the registry's`);
  }
  console.log(`pin ${key}: ${entry.resolved} -> ${dist.tarball}`);
  entry.resolved = dist.tarball;
  entry.integrity = dist.integrity;
  changed++;
}
if (changed > 0) fs.writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
JS
done

# 4. seed @vscode/ripgrep's download cache with Debian's rg
RG_PKG_VERSION=$(node -p "require('./$VS/npm-shrinkwrap.json').packages['node_modules/@vscode/ripgrep'].version")
RG_TMP=$(mktemp -d)
(cd "$RG_TMP" && npm pack "@vscode/ripgrep@$RG_PKG_VERSION" >/dev/null 2>&1 && tar xzf ./*.tgz)
RG_TAG=$(sed -n "s/^const VERSION = '\(.*\)';/\1/p" "$RG_TMP/package/lib/postinstall.js")
rm -rf "$RG_TMP"
[ -n "$RG_TAG" ] || { echo "install-code-server: could not read the ripgrep release tag from @vscode/ripgrep@$RG_PKG_VERSION" >&2; exit 1; }
RG_CACHE="$TMPDIR/vscode-ripgrep-cache-$RG_PKG_VERSION"
mkdir -p "$RG_CACHE/bin"
cp "$(command -v rg)" "$RG_CACHE/bin/rg"
tar czf "$RG_CACHE/ripgrep-$RG_TAG-x86_64-unknown-linux-musl.tar.gz" -C "$RG_CACHE/bin" rg
echo "seeded $RG_CACHE with Debian $(rg --version | head -1)"

# 5. run the deferred install scripts (code-server's postinstall installs lib/vscode and builds the
#    native modules). npm_config_yes: some post-install steps run `npx node-gyp`, and ~/.npmrc may say yes=false.
npm_config_unsafe_perm=true npm_config_yes=true npm rebuild --foreground-scripts

# 6. smoke test, then mark the install complete
"$BIN" --version
touch "$MARK"
echo "code-server $CS_VERSION installed in $(( $(date +%s) - t0 ))s"
echo "$BIN"
