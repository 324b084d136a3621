# shellcheck shell=bash
# Shared helpers for the environment scripts. Source it; do not run it.
# Everything slow to build is cached under $CC_CI_CACHE (outside the checkout), keyed by version,
# so a second run on the same machine skips the build.
set -euo pipefail
ENV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck disable=SC2034 # for the scripts that source this
PROJECT_DIR="$(cd "$ENV_DIR/../.." && pwd)"
# The project's Go: the runtime helpers, the language host and the provider builds (go/go.work).
# shellcheck disable=SC2034 # for the scripts that source this
GO_DIR="$PROJECT_DIR/go"
# Every build uses its own module alone, never a workspace (go/go.work is for editors).
export GOWORK=off
# shellcheck source=versions.env
. "$ENV_DIR/versions.env"
CC_CI_CACHE="${CC_CI_CACHE:-/var/cache/cc-ci}"
mkdir -p "$CC_CI_CACHE"
log() { printf '[cc-ci env] %s\n' "$*" >&2; }
die() { printf '[cc-ci env] error: %s\n' "$*" >&2; exit 1; }
# Run as root or through sudo when available (CI runs as root).
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# The bridge swarm nodes on this machine talk over (nodes.sh's workers in network namespaces), and
# the address this host's swarm advertises on it: a swarm advertised on 127.0.0.1 can take no nodes.
NODES_BRIDGE=ccci-nodes
NODES_NET="${CC_CI_NODES_NET:-10.213.0}"
SWARM_ADDR="$NODES_NET.1"
nodes_bridge_up() {
  if ! ip link show "$NODES_BRIDGE" >/dev/null 2>&1; then
    as_root ip link add "$NODES_BRIDGE" type bridge
  fi
  ip -4 addr show dev "$NODES_BRIDGE" | grep -q " $SWARM_ADDR/" || as_root ip addr add "$SWARM_ADDR/24" dev "$NODES_BRIDGE"
  as_root ip link set "$NODES_BRIDGE" up
  # Docker's FORWARD policy is DROP: traffic between the namespaces on the bridge must pass.
  iptables -C FORWARD -i "$NODES_BRIDGE" -o "$NODES_BRIDGE" -j ACCEPT 2>/dev/null ||
    as_root iptables -I FORWARD -i "$NODES_BRIDGE" -o "$NODES_BRIDGE" -j ACCEPT
}

# Debian packages, installed where missing (one apt-get update first). setup.sh's lanes may ask at
# the same time: one at a time under a lock (apt-get itself fails at once on dpkg's), checked again
# once it is held.
apt_install() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ "${#missing[@]}" -eq 0 ] && return
  (
    flock 8
    missing=()
    for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    [ "${#missing[@]}" -eq 0 ] && exit 0
    log "apt-get install ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  ) 8>"$CC_CI_CACHE/.apt.lock"
}

# cached_build NAME DEST OK BUILD — the one way anything slow is built into the cache.
# DEST is a folder keyed by what goes into it (a version, a source hash). It is reused when `OK DEST`
# succeeds. Otherwise, under a lock beside it (a parallel setup waits, then reuses what the first
# one built), `BUILD WORK` fills a fresh folder beside DEST; `OK WORK` must accept it; it is renamed
# into place (the old one moved aside first). An interrupted build leaves only a `.build-NAME.*`
# folder, removed by the next build, never a half-filled DEST. BUILD runs in a subshell with errexit
# in force, its output on stderr — so call cached_build as a plain command, never under `if`, `||`
# or `&&`, where bash switches errexit off for everything inside. CACHED_BUILD_FORCE=1 builds even
# when DEST is good.
cached_build() {
  local name="$1" dest="$2" ok="$3" build="$4" root work old rc=0
  root="$(dirname "$dest")"
  if [ "${CACHED_BUILD_FORCE:-0}" != 1 ] && "$ok" "$dest"; then return 0; fi
  mkdir -p "$root"
  exec 9>"$root/.$name.lock"
  if ! flock -n 9; then
    log "another build of $name holds $root/.$name.lock; waiting"
    flock 9
    if [ "${CACHED_BUILD_FORCE:-0}" != 1 ] && "$ok" "$dest"; then
      exec 9>&-
      return 0
    fi
  fi
  # Holding the lock, nothing else is building: leftovers are from builds killed before they ended.
  rm -rf "$root/.build-$name".* "$root/.old-$name".*
  work="$(mktemp -d "$root/.build-$name.XXXXXX")"
  chmod 0755 "$work" # mktemp makes it private; the cache is for every user of the machine
  ("$build" "$work") >&2 &
  wait $! || rc=$?
  if [ "$rc" != 0 ] || ! "$ok" "$work"; then
    rm -rf "$work"
    exec 9>&-
    [ "$rc" != 0 ] && die "building $name failed (exit $rc)"
    die "the freshly built $name does not work"
  fi
  if [ -e "$dest" ]; then
    old="$(mktemp -d "$root/.old-$name.XXXXXX")"
    mv "$dest" "$old/"
    mv "$work" "$dest"
    rm -rf "$old"
  else
    mv "$work" "$dest"
  fi
  exec 9>&-
}
