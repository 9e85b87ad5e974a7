#!/usr/bin/env bash
# Fetches Debian's real NVML libraries for the tests that load them (test/unit/gpu/realNvml.test.ts):
#   libnvidia-ml1            (bookworm non-free, the 535 LTS driver branch)
#   libnvidia-tesla-470-ml1  (bookworm non-free, the 470 LTS driver branch)
# with `apt-get download` through a private apt configuration that adds the non-free component
# (the system's sources are not touched), unpacked with `dpkg -x` into the cache (never installed).
# Cached: fast when both are there. Prints the cache directory last.
#
#   scripts/fetch-real-nvml.sh [cache dir]     default ${CHASE_NVML_CACHE:-~/.cache/chase/nvml}
#
# Layout: <cache>/535/usr/lib/x86_64-linux-gnu/nvidia/current/libnvidia-ml.so.1 (as the package ships it)
# and <cache>/<branch>/libnvidia-ml.so.1, a link to it; <cache>/<branch>/VERSION holds the package version.
set -euo pipefail
CACHE="${1:-${CHASE_NVML_CACHE:-$HOME/.cache/chase/nvml}}"
ARCH="$(dpkg --print-architecture 2>/dev/null || echo unknown)"
if [ "$ARCH" != amd64 ] && [ "$ARCH" != arm64 ]; then
  echo "fetch-real-nvml: Debian ships libnvidia-ml for amd64/arm64 only (this is $ARCH); skipping" >&2
  echo "$CACHE"
  exit 0
fi

# branch → package
declare -A PACKAGES=([535]=libnvidia-ml1 [470]=libnvidia-tesla-470-ml1)
have_all=1
for branch in "${!PACKAGES[@]}"; do
  [ -e "$CACHE/$branch/libnvidia-ml.so.1" ] || have_all=0
done
if [ "$have_all" = 1 ]; then
  echo "$CACHE"
  exit 0
fi

mkdir -p "$CACHE"
APT="$CACHE/.apt"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/etc/preferences.d" "$APT/etc/apt.conf.d" "$APT/debs"
# The system's keyring verifies the archive; only the component list is ours.
cat >"$APT/etc/sources.list" <<'EOF'
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm non-free
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates non-free
EOF
APT_OPTS=(
  -o "Dir::Etc::SourceList=$APT/etc/sources.list"
  -o "Dir::Etc::SourceParts=$APT/etc/sources.list.d"
  -o "Dir::Etc::Preferences=$APT/etc/preferences"
  -o "Dir::Etc::PreferencesParts=$APT/etc/preferences.d"
  -o "Dir::State::Lists=$APT/lists"
  -o "Dir::Cache=$APT/cache"
  -o "Dir::State::status=/var/lib/dpkg/status"
  -o "APT::Sandbox::User=$(id -un)"
  -o "Debug::NoLocking=1"
  -o "Acquire::Retries=3"
)
mkdir -p "$APT/etc/sources.list.d"
apt-get "${APT_OPTS[@]}" -q update >&2
cd "$APT/debs"
for branch in "${!PACKAGES[@]}"; do
  pkg="${PACKAGES[$branch]}"
  [ -e "$CACHE/$branch/libnvidia-ml.so.1" ] && continue
  rm -f "$pkg"_*.deb
  apt-get "${APT_OPTS[@]}" -q download "$pkg" >&2
  deb="$(ls "$pkg"_*.deb | head -n 1)"
  tmp="$CACHE/$branch.tmp.$$"
  rm -rf "$tmp"
  dpkg -x "$deb" "$tmp"
  lib="$(find "$tmp" -name 'libnvidia-ml.so.1' | head -n 1)"
  if [ -z "$lib" ]; then
    # The package may ship only the versioned file (libnvidia-ml.so.<version>) and a dangling link.
    lib="$(find "$tmp" -name 'libnvidia-ml.so.*' -type f | head -n 1)"
  fi
  [ -n "$lib" ] || { echo "fetch-real-nvml: $deb contains no libnvidia-ml.so.*" >&2; exit 1; }
  dpkg-deb -f "$deb" Version >"$tmp/VERSION"
  ln -sf "$(realpath --relative-to="$tmp" "$(realpath "$lib")")" "$tmp/libnvidia-ml.so.1"
  rm -rf "${CACHE:?}/$branch"
  mv "$tmp" "$CACHE/$branch"
  echo "fetch-real-nvml: $pkg $(cat "$CACHE/$branch/VERSION") → $CACHE/$branch" >&2
done
echo "$CACHE"
