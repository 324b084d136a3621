#!/usr/bin/env bash
# Builds the Pulumi CLI (v$PULUMI_VERSION) and a Node.js language host with Go and caches them in
# $CC_CI_CACHE/pulumi/v$PULUMI_VERSION/bin. Prints that bin directory on stdout; put it on PATH.
#
#   BIN="$(scripts/env/pulumi.sh)" && export PATH="$BIN:$PATH"
#   scripts/env/pulumi.sh --force    # rebuild even if the cache looks good
#
# A host with Pulumi's official install of this version (on PATH, or in ~/.pulumi/bin) uses it instead.
#
# Why build: Pulumi's release binaries come from get.pulumi.com / GitHub, which this environment cannot
# reach; the Go module proxy can, and it serves github.com/pulumi/pulumi/{pkg,sdk}/v3 at release tags.
# Pulumi's own Node.js language host is a separate Go module with no tags, and the proxy refuses every
# version of it, so the host is built from go/pulumi-language-nodejs (see the comment there).
#
# Idempotent: a cache whose `pulumi version` matches and whose host was built from the current source is
# reused; a build goes through cached_build (common.sh): locked, beside the cache, renamed into place
# once it works.

# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

force=false
case "${1:-}" in
  --force) force=true ;;
  "") ;;
  *) die "usage: $0 [--force]" ;;
esac

start=$SECONDS
version="v$PULUMI_VERSION"
cache_root="$CC_CI_CACHE/pulumi"
dest="$cache_root/$version"
bin="$dest/bin"
host_src="$GO_DIR/pulumi-language-nodejs/main.go"
# The host is rebuilt when its source changes, so the cache records which source it came from.
host_stamp="$dest/language-host.sha256"
version_pkg=github.com/pulumi/pulumi/sdk/v3/go/common/version

GO="$(command -v go || echo /usr/local/go/bin/go)"
[ -x "$GO" ] || die "Go is not installed (looked on PATH and at /usr/local/go/bin/go)"
[ -f "$host_src" ] || die "missing $host_src"
host_sum="$(sha256sum "$host_src" | cut -d' ' -f1)"

cli_ok() { [ -x "$1/pulumi" ] && [ "$("$1/pulumi" version 2>/dev/null)" = "$version" ]; }
host_ok() { [ -x "$1/pulumi-language-nodejs" ] && [ "$(cat "$2" 2>/dev/null)" = "$host_sum" ]; }

finish() {
  log "Pulumi $version ready in $bin ($((SECONDS - start))s)"
  printf '%s\n' "$bin"
  exit 0
}

if ! $force && cli_ok "$bin" && host_ok "$bin" "$host_stamp"; then
  finish
fi

# Hosts that can download install Pulumi the official way (its installer puts the CLI and the
# language hosts in ~/.pulumi/bin); when that install is this version, it is used as it is: linked
# into the cache's bin, nothing built.
official="$(command -v pulumi 2>/dev/null || true)"
[ -n "$official" ] || official="$HOME/.pulumi/bin/pulumi"
official_dir="$(dirname "$(readlink -f "$official" 2>/dev/null || echo "$official")")"
if ! $force && [ "$official_dir" != "$bin" ] && cli_ok "$official_dir" && [ -x "$official_dir/pulumi-language-nodejs" ]; then
  mkdir -p "$bin"
  ln -sf "$official_dir/pulumi" "$official_dir/pulumi-language-nodejs" "$bin/"
  echo "official install in $official_dir" >"$host_stamp"
  log "using the official install of Pulumi $version in $official_dir"
  cli_ok "$bin" || die "the official install in $official_dir does not run from $bin"
  finish
fi

# shellcheck disable=SC2317 # run by cached_build
pulumi_ok() { cli_ok "$1/bin" && host_ok "$1/bin" "$1/language-host.sha256"; }

# shellcheck disable=SC2317 # run by cached_build (below), after the early exits above
build_pulumi() {
  local work="$1"
  # `go install pkg@version` refuses modules with replace directives, and pkg/v3 has one, so build from a
  # throwaway module that requires pkg/v3 and sdk/v3 and repeats pkg/v3's non-local replace. The host
  # lives in the same module so that both binaries use exactly the same sdk/v3 and gRPC.
  mkdir -p "$work/src/pulumi-language-nodejs" "$work/bin"
  cp "$host_src" "$work/src/pulumi-language-nodejs/main.go"
  cat >"$work/src/go.mod" <<EOF
module cc-ci.local/pulumi-build

go 1.26

require (
	github.com/pulumi/pulumi/pkg/v3 $version
	github.com/pulumi/pulumi/sdk/v3 $version
)

// Copied from github.com/pulumi/pulumi/pkg/v3's go.mod; a dependency's replaces are not inherited.
replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e

tool github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
EOF

  cd "$work/src"
  log "resolving Go modules for Pulumi $version"
  "$GO" mod tidy
  # Tidy must not have moved the pins (it would if a dependency required a newer pulumi).
  for mod in pkg sdk; do
    got="$("$GO" list -m -f '{{.Version}}' "github.com/pulumi/pulumi/$mod/v3")"
    [ "$got" = "$version" ] || die "github.com/pulumi/pulumi/$mod/v3 resolved to $got, not $version"
  done

  # Static binaries (no cgo) so that they do not depend on the machine's libc; -trimpath and -s -w keep
  # build paths and debug tables out. The version must be stamped: without it `pulumi version` reports a
  # dev version and the Automation API refuses the CLI.
  export CGO_ENABLED=0
  if ! $force && cli_ok "$bin"; then
    # Only the host's source changed: keep the CLI rather than spend the long build on it again.
    log "reusing pulumi $version from $bin"
    cp "$bin/pulumi" "$work/bin/pulumi"
  else
    log "building pulumi $version (a long build: 10-25 minutes on 2 busy cores)"
    "$GO" build -trimpath -ldflags "-s -w -X $version_pkg.Version=$version" \
      -o "$work/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  fi
  log "building pulumi-language-nodejs"
  "$GO" build -trimpath -ldflags "-s -w -X main.version=$PULUMI_VERSION" \
    -o "$work/bin/pulumi-language-nodejs" ./pulumi-language-nodejs

  # The dynamic-provider shim (used by pulumi.dynamic.Resource) ships in sdk/v3; the CLI looks for it next
  # to itself.
  sdk_dir="$("$GO" list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
  install -m 0755 "$sdk_dir/nodejs/dist/pulumi-resource-pulumi-nodejs" "$work/bin/"

  printf '%s\n' "$host_sum" >"$work/language-host.sha256"
  cd /
  rm -rf "$work/src"
}

if $force; then export CACHED_BUILD_FORCE=1; fi
cached_build pulumi "$dest" pulumi_ok build_pulumi
finish
