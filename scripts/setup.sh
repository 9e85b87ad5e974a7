#!/usr/bin/env bash
# Installs what the demo and the tests need and is missing; fast when everything is there.
#   - Debian packages: chromium (UI tests), ripgrep and libkrb5-dev (code-server's install), gcc (fake NVML),
#     prometheus (the metrics test scrapes the agent with a real Prometheus), python3-torch,
#     python3-torchvision and python3-tqdm (real training loops under chase-agent run) for /usr/bin/python3
#   - npm dependencies (npm ci) when node_modules is missing or older than package-lock.json
#   - code-server 4.96.4 (= VS Code 1.96.4) in ~/.cache/chase (scripts/install-code-server.sh)
#   - Debian's real libnvidia-ml.so.1 (535 and 470), unpacked, not installed, into ~/.cache/chase/nvml
#     (scripts/fetch-real-nvml.sh; test/unit/gpu/realNvml.test.ts loads them)
# Usage: scripts/setup.sh [--no-code-server]
set -euo pipefail
cd "$(dirname "$0")/.."
need_cs=1
[ "${1:-}" = "--no-code-server" ] && need_cs=0

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v rg >/dev/null || missing+=(ripgrep)
[ -f /usr/include/gssapi/gssapi.h ] || missing+=(libkrb5-dev)
command -v gcc >/dev/null || missing+=(gcc)
command -v prometheus >/dev/null || [ -x /usr/bin/prometheus ] || missing+=(prometheus)
# Debian's Python stack for the peer tests (real PyTorch training loops):
# /usr/bin/python3 imports each module, or its package is installed
for pkg in torch:python3-torch torchvision:python3-torchvision tqdm:python3-tqdm; do
  /usr/bin/python3 -c "import ${pkg%%:*}" 2>/dev/null || missing+=("${pkg#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -q && apt-get install -y -q "${missing[@]}"
  else
    echo "setup: please install these Debian packages first: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

bash scripts/fetch-real-nvml.sh >/dev/null

if [ -L node_modules ]; then
  # A link to an install shared by several work trees: `npm ci` here would empty it for all of them.
  echo "setup: node_modules links to a shared install ($(readlink node_modules)); not running npm ci" >&2
elif [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi

if [ "$need_cs" = 1 ]; then
  bash scripts/install-code-server.sh
fi
