#!/usr/bin/env bash
# Builds ccci-traefik (go/traefik-helper/, see its README) against Traefik v$TRAEFIK_VERSION
# and caches it in $CC_CI_CACHE/helpers/traefik-<hash>/ccci-traefik; prints that path on stdout.
#
#   TRAEFIK_HELPER="$(scripts/env/traefik-helper.sh)"
#   scripts/env/traefik-helper.sh --test [go test flags...]   # run the helper's Go tests
#   scripts/env/traefik-helper.sh --cached   # print the path only if built; exit 3 if not (never builds)
#
# <hash> covers the helper's source (READMEs excepted), this script, TRAEFIK_VERSION and the Go
# version, so any change builds a new binary beside the old ones and nothing in use is replaced.
#
# The helper links Traefik's own packages (label decoding, rule parsers). Like the Traefik image
# (scripts/env/images.sh, build_traefik_binary), it is built from a throwaway wrapper module that
# requires github.com/traefik/traefik/v3 at v$TRAEFIK_VERSION and repeats the replace and exclude
# directives of Traefik's go.mod (read from it, not hard-coded): Go ignores a dependency's
# replaces, and without them e.g. gorilla/mux would be the real one instead of Traefik's fork. Same
# module versions, same GOFLAGS/CGO_ENABLED/-trimpath: the two builds share Go's build cache, so
# whichever runs second compiles little more than its own main package.
#
# Idempotent: an existing binary for the hash is reused; a build goes through cached_build
# (common.sh): locked, beside the cache, renamed into place once it works.

# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

SRC_DIR="$GO_DIR/traefik-helper"
TRAEFIK_MOD=github.com/traefik/traefik/v3
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
# GOTOOLCHAIN=local: fail clearly rather than try to download another toolchain. GOFLAGS: the
# same as images.sh (and nothing from the caller's environment, e.g. -mod=vendor).
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0

source_hash() {
  {
    (cd "$SRC_DIR" && find . -type f ! -name '*.md' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    sha256sum <"${BASH_SOURCE[0]}"
    printf 'traefik %s\ngo %s\n' "$TRAEFIK_VERSION" "$("$GO" env GOVERSION)"
  } | sha256sum | cut -c1-16
}

# make_wrapper DIR: the helper's source plus a go.mod requiring Traefik with its replaces/excludes.
make_wrapper() {
  local dir="$1" gomod edits=() e
  if ! command -v jq >/dev/null; then
    log "apt-get install jq"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jq >/dev/null
  fi
  mkdir -p "$dir"
  cp "$SRC_DIR"/*.go "$dir/"
  gomod="$(cd "$dir" && "$GO" mod download -json "$TRAEFIK_MOD@v$TRAEFIK_VERSION" | jq -r .GoMod)"
  [ -s "$gomod" ] || die "could not download $TRAEFIK_MOD@v$TRAEFIK_VERSION from the Go module proxy"
  mapfile -t edits < <("$GO" mod edit -json "$gomod" | jq -r '
    def at(m): m.Path + (if m.Version then "@" + m.Version else "" end);
    ((.Replace // [])[] | "-replace=" + at(.Old) + "=" + at(.New)),
    ((.Exclude // [])[] | "-exclude=" + .Path + "@" + .Version)')
  for e in "${edits[@]}"; do
    case "$e" in -replace=*=*@*) ;; -replace=*) die "traefik's go.mod has a local replace ($e); cannot repeat it" ;; esac
  done
  (
    cd "$dir"
    "$GO" mod init cc-ci.local/traefik-helper >/dev/null 2>&1
    "$GO" mod edit -go="$("$GO" mod edit -json "$gomod" | jq -r .Go)" "${edits[@]}"
    "$GO" get "$TRAEFIK_MOD@v$TRAEFIK_VERSION"
    # The helper's own imports (and its tests'), all provided by Traefik's module graph: this only
    # records their checksums. (Not `go mod tidy`, which would pull in the test-only modules of
    # every dependency.)
    "$GO" get -t .
  ) >&2 || die "resolving the helper's Go modules failed"
  # Every module the helper is compiled from must be at the version Traefik's go.mod requires
  # (and Traefik itself at v$TRAEFIK_VERSION): then it is the code Traefik is built with, and the
  # packages are shared with the image's build in Go's build cache.
  local mismatch
  mismatch="$(cd "$dir" && awk '
    NR == FNR { want[$1] = $2; next }
    ($1 in want) && want[$1] != $2 { print $1 " " $2 " (Traefik requires " want[$1] ")" }
  ' <("$GO" mod edit -json "$gomod" | jq -r '(.Require // [])[] | .Path + " " + .Version'
      echo "$TRAEFIK_MOD v$TRAEFIK_VERSION") \
    <("$GO" list -deps -test -f '{{with .Module}}{{.Path}} {{.Version}}{{end}}' . | sort -u))"
  [ -z "$mismatch" ] || die "modules at other versions than Traefik's: $mismatch"
}

run_tests() {
  local work
  work="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand now: $work is local
  trap "rm -rf '$work'" EXIT
  make_wrapper "$work"
  log "go test ccci-traefik (Traefik v$TRAEFIK_VERSION)"
  (cd "$work" && "$GO" test -trimpath "$@" .)
}

main() {
  [ -x "$GO" ] || die "Go toolchain not found (looked for $GO); set GO=/path/to/go"
  [ -f "$SRC_DIR/main.go" ] || die "missing $SRC_DIR/main.go"
  case "${1:-}" in
    --test) shift; run_tests "$@"; return ;;
    --cached) ;;
    "") ;;
    *) die "usage: $0 [--cached | --test [go test flags...]]" ;;
  esac

  local started=$SECONDS
  HASH="$(source_hash)"
  local dest="$CC_CI_CACHE/helpers/traefik-$HASH"
  if [ "${1:-}" = --cached ] && ! traefik_ok "$dest"; then
    # --cached: print the path only if built; never build (callers in a Pulumi program or a test).
    log "ccci-traefik for this source is not built: run scripts/env/setup.sh (or $0)"
    exit 3
  fi
  if ! traefik_ok "$dest"; then
    log "building ccci-traefik against traefik v$TRAEFIK_VERSION (minutes on 2 cores unless Traefik's packages are in Go's build cache)"
    cached_build traefik "$dest" traefik_ok build_traefik
    log "ccci-traefik built in $((SECONDS - started))s: $dest/ccci-traefik"
  fi
  printf '%s\n' "$dest/ccci-traefik"
}

traefik_ok() { [ -x "$1/ccci-traefik" ] && "$1/ccci-traefik" version >/dev/null 2>&1; }

build_traefik() {
  local work="$1"
  make_wrapper "$work/src"
  cd "$work/src"
  "$GO" build -trimpath -o "$work/ccci-traefik" -ldflags "-s -w \
    -X $TRAEFIK_MOD/pkg/version.Version=$TRAEFIK_VERSION \
    -X main.sourceHash=$HASH" .
  cd /
  rm -rf "$work/src"
}

main "$@"
