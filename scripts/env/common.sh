# Shared helpers for the environment scripts. Source it; do not run it.
# Everything slow to build is cached under $CC_CI_CACHE (outside the checkout), keyed by version,
# so a second run on the same machine skips the build.
set -euo pipefail
ENV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT_DIR="$(cd "$ENV_DIR/../.." && pwd)"
# shellcheck source=versions.env
. "$ENV_DIR/versions.env"
CC_CI_CACHE="${CC_CI_CACHE:-/var/cache/cc-ci}"
mkdir -p "$CC_CI_CACHE"
log() { printf '[cc-ci env] %s\n' "$*" >&2; }
die() { printf '[cc-ci env] error: %s\n' "$*" >&2; exit 1; }
# Run as root or through sudo when available (CI runs as root).
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
