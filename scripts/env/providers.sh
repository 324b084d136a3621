#!/usr/bin/env bash
# Builds the Pulumi resource plugins that the program's npm SDKs ask for, and installs them into
# the Pulumi CLI's plugin cache when a CLI is available, so `pulumi preview/up` never tries to
# download a plugin (this machine only reaches package registries).
#
# docker: Pulumi's own provider module is not served by the Go module proxy, so the plugin is
# built here the way pulumi-docker builds it: pulumi-terraform-bridge wrapped around the upstream
# Terraform provider (kreuzwerker), with pulumi-docker's token mapping (providers/docker/).
# Only the bridged resources exist; pulumi-docker's native docker.Image (docker:index/image:Image)
# is not reproduced, so the program must not use it (docker.RemoteImage is bridged).
#
# keycloak: built by providers-keycloak.sh (sourced below) from the newest keycloak Terraform provider
# source the proxy serves; see providers/README.md for what differs from pulumi-keycloak 6.13.0.
#
# Usage: providers.sh [--no-install]
#   --no-install  only build into the cache; skip `pulumi plugin install`.
# Idempotent: a cached binary of the right version is reused, an installed plugin is left alone.
set -euo pipefail
# shellcheck source=common.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

INSTALL=1
for arg in "$@"; do
  case "$arg" in
    --no-install) INSTALL=0 ;;
    *) die "unknown argument: $arg" ;;
  esac
done

# The Go toolchain may not be on PATH in a non-login shell.
GO="$(command -v go || true)"
[ -n "$GO" ] || GO=/usr/local/go/bin/go
[ -x "$GO" ] || die "go not found (needed to build provider plugins)"
# Never let go fetch another toolchain: the proxy may refuse it, and the pinned one suffices.
export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:-} -buildvcs=false"

# What the docker plugin built here changes of upstream (docker_patch below); part of its cache key.
DOCKER_PATCH=fixed-waits-1

# The plugin's folder in the cache (its binary, the schema it embeds) and its binary, by name and
# version (and, for docker, the patch it carries).
plugin_dir() {
  printf '%s/providers/%s/v%s%s' "$CC_CI_CACHE" "$1" "$2" "$([ "$1" = docker ] && printf '+%s' "$DOCKER_PATCH")"
}
plugin_path() { printf '%s/pulumi-resource-%s' "$(plugin_dir "$1" "$2")" "$1"; }

# A cached binary counts only if it runs and reports the version the SDK will ask for.
plugin_ok() { [ -x "$1" ] && [ "$("$1" -version 2>/dev/null)" = "$2" ]; }

docker_ok() { plugin_ok "$1/pulumi-resource-docker" "$DOCKER_PROVIDER_VERSION"; }

build_docker() {
  local dir
  dir="$(plugin_dir docker "$DOCKER_PROVIDER_VERSION")"
  if docker_ok "$dir"; then
    log "docker provider v$DOCKER_PROVIDER_VERSION: cached at $dir"
    return
  fi
  log "docker provider v$DOCKER_PROVIDER_VERSION: building (takes 10-25 min on 2 cores the first time)"
  cached_build docker "$dir" docker_ok build_docker_into
  log "docker provider v$DOCKER_PROVIDER_VERSION: built in $dir ($(du -sh "$dir" | cut -f1))"
}

# Builds the docker plugin into OUT (cached_build's fresh folder), from a scratch copy of its module.
build_docker_into() {
  local out="$1" work
  work="$(mktemp -d "${TMPDIR:-/tmp}/cc-ci-docker-provider.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: $work is local
  trap "rm -rf '$work'" EXIT
  cp -r "$GO_DIR/providers/docker" "$work/src"
  docker_patch "$work"
  # no_compose leaves out upstream's docker_compose resource (framework-based, not part of
  # @pulumi/docker) and the large docker/compose dependency tree with it.
  bridge_build docker "$DOCKER_PROVIDER_VERSION" "$work/src" "$work" -tags no_compose
  collect_plugin docker "$work" "$out"
}

# The one change to upstream's code, made to a copy of its module that the scratch module's go.mod
# is pointed at (the module cache stays as the proxy served it): its waits. Upstream reads a service or a
# network back after creating it, and removes a network or a volume, through StateChangeConfs that
# first sleep a fixed 2 s (Delay) and then poll every 5 s (MinTimeout) — a created service or
# network shows its fields at once, and a network or volume still in use by a container being
# removed is free within a second. Patched: 0.1 s before the first try, then polls from 0.2 s
# (growing as the SDK's backoff does); the same checks and the same overall timeouts. About 2 s less
# per network, service and volume on the critical path of every `up` and `destroy`.
# shellcheck disable=SC2016 # ${1}: perl's capture groups, expanded by perl, not the shell
DOCKER_PATCHES=(
  'resource_docker_service_funcs.go|MinTimeout:(\s+)5 \* time\.Second,(\s+)Delay:(\s+)2 \* time\.Second,|MinTimeout:${1}200 * time.Millisecond,${2}Delay:${3}100 * time.Millisecond,'
  'resource_docker_network_funcs.go|networkReadRefreshWaitBeforeRefreshes( +)= 5 \* time\.Second|networkReadRefreshWaitBeforeRefreshes${1}= 200 * time.Millisecond'
  'resource_docker_network_funcs.go|networkReadRefreshDelay( +)= 2 \* time\.Second|networkReadRefreshDelay${1}= 100 * time.Millisecond'
  'resource_docker_network_funcs.go|networkRemoveRefreshWaitBeforeRefreshes( +)= 5 \* time\.Second|networkRemoveRefreshWaitBeforeRefreshes${1}= 200 * time.Millisecond'
  'resource_docker_network_funcs.go|networkRemoveRefreshDelay( +)= 2 \* time\.Second|networkRemoveRefreshDelay${1}= 100 * time.Millisecond'
  'resource_docker_volume.go|volumeReadRefreshWaitBeforeRefreshes( +)= 5 \* time\.Second|volumeReadRefreshWaitBeforeRefreshes${1}= 200 * time.Millisecond'
  'resource_docker_volume.go|volumeReadRefreshDelay( +)= 2 \* time\.Second|volumeReadRefreshDelay${1}= 100 * time.Millisecond'
)
docker_patch() {
  local work="$1" dir entry file from to
  dir="$(cd "$work/src" && "$GO" mod download github.com/terraform-providers/terraform-provider-docker &&
    "$GO" list -m -f '{{.Dir}}' github.com/terraform-providers/terraform-provider-docker)"
  [ -d "$dir/internal/provider" ] || die "docker provider: upstream's module has no internal/provider ($dir)"
  # Inside the scratch module (a folder with its own go.mod is not part of it), named by a relative
  # path: the plugin records `=> ./_upstream`, the same whatever temp folder built it.
  cp -r "$dir" "$work/src/_upstream"
  chmod -R u+w "$work/src/_upstream" # the module cache's files are read-only
  for entry in "${DOCKER_PATCHES[@]}"; do
    IFS='|' read -r file from to <<<"$entry"
    # Each substitution must apply exactly once, else upstream changed: revisit the patch.
    FROM="$from" TO="$to" perl -0777 -i -pe '$n = s/$ENV{FROM}/"\"$ENV{TO}\""/gee; die "applied $n times\n" unless $n == 1' \
      "$work/src/_upstream/internal/provider/$file" ||
      die "docker provider: upstream's $file is not as docker_patch knows it (revisit: $from)"
  done
  (cd "$work/src" && "$GO" mod edit -replace "github.com/terraform-providers/terraform-provider-docker=./_upstream")
  log "docker provider: upstream's fixed waits patched (2 s → 0.1 s before the first check, polls from 0.2 s)"
}

# Builds a bridged plugin from the module prepared in $src: tfgen generates the schema, which the
# plugin embeds, then the plugin is built with its version stamped. Both builds share the flags
# (the second reuses the first's compiled packages); -trimpath makes the plugin reproducible,
# whatever temp dir it was built in. tfgen reads upstream's docs for descriptions; example
# conversion (HCL to Pulumi code) needs a CLI and a converter plugin and only feeds documentation,
# so it is skipped.
#   bridge_build NAME VERSION SRC WORK [go build flags...]  → $WORK/pulumi-resource-NAME
bridge_build() {
  local name="$1" ver="$2" src="$3" work="$4"
  shift 4
  local goflags=("$@" -trimpath)
  # The generated files are embedded with go:embed, so they must exist before anything compiles:
  # seed them empty, build tfgen, let it write the real ones, then build the plugin.
  echo '{}' >"$src/provider/bridge-metadata.json"
  echo '{}' >"$src/cmd/pulumi-resource-$name/schema.json"
  (cd "$src" && "$GO" build "${goflags[@]}" -o "$work/pulumi-tfgen-$name" "./cmd/pulumi-tfgen-$name")
  (cd "$src" && "$work/pulumi-tfgen-$name" schema --skip-examples --out "$work/gen" \
    >"$work/tfgen.log" 2>&1) ||
    { cat "$work/tfgen.log" >&2; die "tfgen failed for $name"; }
  cp "$work/gen/schema.json" "$src/cmd/pulumi-resource-$name/schema.json"
  cp "$work/gen/bridge-metadata.json" "$src/provider/bridge-metadata.json"
  (cd "$src" && "$GO" build "${goflags[@]}" \
    -ldflags "-s -w -X cc-ci/pulumi-resource-$name/pkg/version.Version=$ver" \
    -o "$work/pulumi-resource-$name" "./cmd/pulumi-resource-$name")
  plugin_ok "$work/pulumi-resource-$name" "$ver" || die "built $name plugin does not report v$ver"
}

# Puts a built plugin and its schema (kept for inspection and SDK comparisons) into OUT.
#   collect_plugin NAME WORK OUT
collect_plugin() {
  local name="$1" work="$2" out="$3"
  cp "$work/pulumi-resource-$name" "$out/"
  cp "$work/gen/schema.json" "$out/schema.json"
  chmod 755 "$out/pulumi-resource-$name"
}

# Finds the Pulumi CLI: PATH first, then the cached build from pulumi.sh.
find_pulumi() {
  local p
  p="$(command -v pulumi || true)"
  [ -n "$p" ] || p="$CC_CI_CACHE/pulumi/v$PULUMI_VERSION/bin/pulumi"
  [ -x "$p" ] && printf '%s\n' "$p"
}

# Installs a cached plugin into the CLI's plugin cache ($PULUMI_HOME/plugins), unless the same
# binary is already installed there.
install_plugin() {
  local name="$1" ver="$2" pulumi="$3" bin installed
  bin="$(plugin_path "$name" "$ver")"
  installed="${PULUMI_HOME:-$HOME/.pulumi}/plugins/resource-$name-v$ver/pulumi-resource-$name"
  if [ -f "$installed" ] && cmp -s "$bin" "$installed"; then
    log "$name plugin v$ver: already installed"
    return
  fi
  "$pulumi" plugin install resource "$name" "$ver" --file "$bin" --reinstall
  log "$name plugin v$ver: installed"
}

# shellcheck source=providers-keycloak.sh
. "$ENV_DIR/providers-keycloak.sh"

# Hosts that can download take Pulumi's official plugin: the CLI's own `plugin install` (which
# goes where the CLI is configured to; no host is named here). True when the CLI's plugin cache
# holds an official plugin of this version — one not built here: neither marked as ours nor the
# same as our cached build — or the download of one just worked. Offline it fails within seconds,
# and only while nothing of ours is installed yet.
official_plugin() {
  local name="$1" ver="$2" pulumi="$3" dir
  [ "${CC_CI_OFFICIAL_PLUGINS:-auto}" = 0 ] && return 1
  dir="${PULUMI_HOME:-$HOME/.pulumi}/plugins/resource-$name-v$ver"
  if [ -x "$dir/pulumi-resource-$name" ]; then
    [ -f "$dir/.cc-ci-built" ] && return 1
    cmp -s "$dir/pulumi-resource-$name" "$(plugin_path "$name" "$ver")" && return 1
    log "$name plugin v$ver: the official one is installed"
    return 0
  fi
  timeout 300 "$pulumi" plugin install resource "$name" "$ver" >/dev/null 2>&1 || return 1
  log "$name plugin v$ver: installed the official one"
}

PULUMI="$(find_pulumi || true)"
for p in "docker $DOCKER_PROVIDER_VERSION" "keycloak $KEYCLOAK_PROVIDER_VERSION"; do
  read -r name ver <<<"$p"
  if [ "$INSTALL" = 1 ] && [ -n "$PULUMI" ] && official_plugin "$name" "$ver" "$PULUMI"; then continue; fi
  "build_$name"
  if [ "$INSTALL" = 1 ] && [ -n "$PULUMI" ]; then
    install_plugin "$name" "$ver" "$PULUMI"
    touch "${PULUMI_HOME:-$HOME/.pulumi}/plugins/resource-$name-v$ver/.cc-ci-built"
  fi
done
[ "$INSTALL" = 1 ] && [ -z "$PULUMI" ] &&
  log "no pulumi CLI found; plugins built but not installed (run again once the CLI exists)"
true
