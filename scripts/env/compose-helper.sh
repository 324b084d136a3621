#!/usr/bin/env bash
# Builds ccci-compose (go/compose-helper: Docker's own compose loader and swarmkit's config
# template renderer behind a JSON protocol) and caches it in
# $CC_CI_CACHE/helpers/compose-<key>/ccci-compose. Prints the binary's path on stdout.
#
#   CCCI_COMPOSE="$(scripts/env/compose-helper.sh)"
#   scripts/env/compose-helper.sh --force    # rebuild even if the cache has it
#   scripts/env/compose-helper.sh --cached   # print the path only if built; exit 3 if not (never builds)
#
# <key> is a hash of the helper's source (go.mod, go.sum, the non-test .go files) and of the Go version,
# so any change to the helper or to its pinned modules builds a new binary beside the old one. Modules come
# through the Go module proxy as `go env` configures it; go.sum pins every one of them.
#
# Idempotent: a cached binary that answers `ccci-compose version` is reused; a build goes through
# cached_build (common.sh): locked, beside the cache, renamed into place once it works.

# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

force=false
cached=false
case "${1:-}" in
  --force) force=true ;;
  --cached) cached=true ;;
  "") ;;
  *) die "usage: $0 [--force|--cached]" ;;
esac

start=$SECONDS
src="$GO_DIR/compose-helper"
cache_root="$CC_CI_CACHE/helpers"

GO="$(command -v go || echo /usr/local/go/bin/go)"
[ -x "$GO" ] || die "Go is not installed (looked on PATH and at /usr/local/go/bin/go)"
if [ ! -f "$src/go.mod" ] || [ ! -f "$src/go.sum" ]; then die "missing $src/go.mod or go.sum"; fi
export GOTOOLCHAIN=local # never download another toolchain: build with the machine's Go
export LC_ALL=C          # a locale-independent glob order for the cache key

# The cache key: every file that goes into the binary, and the toolchain that compiles it.
source_key() {
  (
    cd "$1" || exit 1
    # Globs expand sorted; set LC_ALL=C so that the order does not depend on the locale.
    for f in go.mod go.sum *.go; do
      case "$f" in *_test.go) continue ;; esac
      printf '%s %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"
    done
    "$GO" env GOVERSION
  ) | sha256sum | cut -c1-16
}

key="$(source_key "$src")"
dest="$cache_root/compose-$key"
bin="$dest/ccci-compose"

compose_ok() { [ -x "$1/ccci-compose" ] && "$1/ccci-compose" version >/dev/null 2>&1; }

# Builds from a snapshot of the source, so that an edit made during the build cannot end up under
# the wrong key.
build_compose() {
  local work="$1"
  mkdir -p "$work/src"
  cp "$src"/go.mod "$src"/go.sum "$src"/*.go "$work/src/"
  rm -f "$work/src"/*_test.go
  [ "$(source_key "$work/src")" = "$key" ] || die "$src changed while it was being copied; run again"
  log "building ccci-compose (key $key; about a minute on 2 cores, plus module downloads on a fresh machine)"
  cd "$work/src"
  # -mod=readonly: go.sum must already pin everything; the build never edits the module files.
  CGO_ENABLED=0 "$GO" build -mod=readonly -trimpath -ldflags '-s -w' -o "$work/ccci-compose" .
  log "built: $("$work/ccci-compose" version)"
  cd /
  rm -rf "$work/src"
}

if $cached && ! compose_ok "$dest"; then
  log "ccci-compose for this source is not built: run scripts/env/setup.sh (or $0)"
  exit 3
fi
if $force; then export CACHED_BUILD_FORCE=1; fi
cached_build compose "$dest" compose_ok build_compose
log "ccci-compose ready: $bin ($((SECONDS - start))s)"
printf '%s\n' "$bin"
