# shellcheck shell=bash
# Shared helpers for the environment scripts. Source it; do not run it.
# Everything slow to build is cached under $CC_CI_CACHE (outside the checkout), keyed by version,
# so a second run on the same machine skips the build.
set -euo pipefail
ENV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck disable=SC2034 # for the scripts that source this
PROJECT_DIR="$(cd "$ENV_DIR/../.." && pwd)"
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

# Debian packages, installed where missing (one apt-get update first).
apt_install() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ "${#missing[@]}" -eq 0 ] && return
  log "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
