#!/usr/bin/env bash
# Build the container images the stacks run, locally, since no container registry is reachable
# from these machines (nor from CI): only Debian's archive, Maven Central and the Go module
# proxy are. Each image stands in for an upstream one and keeps its layout, entry point and
# environment conventions, so stacks written for upstream images work unchanged:
#
#   cc-ci/debian:$DEBIAN_SUITE        debootstrap minbase rootfs, the base of all the others
#   cc-ci/keycloak:$KEYCLOAK_VERSION  quay.io/keycloak/keycloak (Keycloak's dist from Maven Central)
#   cc-ci/postgres:15                 postgres:15 (Debian's postgresql-15)
#   cc-ci/traefik:$TRAEFIK_VERSION    traefik:v3 (built from the Go module)
#   cc-ci/whoami:1                    traefik/whoami (a small stdlib Go server of ours)
#   cc-ci/nginx:$DEBIAN_SUITE         nginx (Debian's nginx, official image's layout)
#
#   scripts/env/images.sh [NAME...]   NAME is one of: debian keycloak postgres traefik whoami nginx
#
# Needs a running Docker engine (scripts/env/docker.sh). Idempotent: an image is skipped when its
# tag exists and was built from the same build context (images/<name>/ plus the versions); a
# changed Dockerfile or entrypoint therefore rebuilds it without anyone having to remember to.
# Set CC_CI_REBUILD=1 to rebuild regardless. Big downloads and compiled binaries are cached in
# $CC_CI_CACHE keyed by version, so losing the images (a pruned engine) costs seconds to minutes,
# not a full rebuild.
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

IMAGES_DIR="$PROJECT_DIR/images"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BASE_IMAGE="cc-ci/debian:$DEBIAN_SUITE"
POSTGRES_MAJOR=15
WHOAMI_TAG=1
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
# The legacy builder: the engine is Debian's 20.10 and the buildx plugin is not installed.
# Host network for RUN steps, so apt inside a build needs no bridge NAT.
export DOCKER_BUILDKIT=0

# ---- helpers ---------------------------------------------------------------------------------

apt_install() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ "${#missing[@]}" -eq 0 ] && return
  log "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

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
  if ! docker build --network host --force-rm --label "cc-ci.context-hash=$hash" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$tag" "$@" "$ctx" >"$buildlog" 2>&1; then
    tail -n 40 "$buildlog" >&2
    die "building $tag failed; log: $buildlog"
  fi
  log "built $tag in $((SECONDS - started))s"
}

# Download URL to FILE once; verify against Maven Central's .sha1 file so a truncated download
# is never cached.
fetch_maven() {
  local url="$1" file="$2"
  [ -s "$file" ] && return
  mkdir -p "$(dirname "$file")"
  log "downloading $url"
  curl -fsSL --retry 3 -o "$file.part" "$url"
  local want have
  want="$(curl -fsSL --retry 3 "$url.sha1" | cut -c1-40)"
  have="$(sha1sum "$file.part" | cut -c1-40)"
  [ "$want" = "$have" ] || { rm -f "$file.part"; die "sha1 mismatch for $url (want $want, got $have)"; }
  mv "$file.part" "$file"
}

# ---- cc-ci/debian ----------------------------------------------------------------------------
# Debian minbase from debootstrap, imported as an image (the only way to get a base image with no
# registry). Everything else is FROM it, so its layer is stored once. The rootfs tarball is
# cached: re-importing it takes seconds, debootstrapping it again takes over a minute.

DEBIAN_DONE=0
build_debian() {
  [ "$DEBIAN_DONE" = 1 ] && return
  DEBIAN_DONE=1
  local hash tarball="$CC_CI_CACHE/rootfs/debian-$DEBIAN_SUITE-minbase.tar"
  hash="$(context_hash "$IMAGES_DIR/debian" "$DEBIAN_SUITE")"
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
    log "debootstrap --variant=minbase $DEBIAN_SUITE (about a minute)"
    as_root debootstrap --variant=minbase "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" \
      >"$CC_CI_CACHE/rootfs/debootstrap.log" 2>&1 \
      || { tail -n 30 "$CC_CI_CACHE/rootfs/debootstrap.log" >&2; die "debootstrap failed"; }
    # Container tweaks like the official debian:*-slim images (see images/debian/).
    as_root "$IMAGES_DIR/debian/customize.sh" "$root" "$DEBIAN_SUITE"
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
# Keycloak's server distribution from Maven Central on Debian's OpenJDK 17, laid out like
# quay.io/keycloak/keycloak, pre-built (kc.sh build) for PostgreSQL so `start --optimized` works.

build_keycloak() {
  local tag="cc-ci/keycloak:$KEYCLOAK_VERSION" hash
  hash="$(context_hash "$IMAGES_DIR/keycloak" "$KEYCLOAK_VERSION" "$DEBIAN_SUITE")"
  image_current "$tag" "$hash" && { log "$tag is up to date"; return; }
  local name="keycloak-quarkus-dist-$KEYCLOAK_VERSION.tar.gz"
  local dist="$CC_CI_CACHE/keycloak/$KEYCLOAK_VERSION/$name"
  fetch_maven "https://repo1.maven.org/maven2/org/keycloak/keycloak-quarkus-dist/$KEYCLOAK_VERSION/$name" "$dist"
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
  hash="$(context_hash "$IMAGES_DIR/postgres" "$POSTGRES_MAJOR" "$DEBIAN_SUITE")"
  image_current "$tag" "$hash" && { log "$tag is up to date"; return; }
  build_debian
  build_image "$tag" "$hash" "$IMAGES_DIR/postgres" --build-arg "PG_MAJOR=$POSTGRES_MAJOR"
}

# ---- cc-ci/traefik ---------------------------------------------------------------------------
# Traefik compiled from its Go module through a throwaway wrapper module. Go ignores the replace
# and exclude directives of dependencies, so the wrapper repeats Traefik's own (read from its
# go.mod, not hard-coded, so a version bump needs no edit here); without them the build resolves
# e.g. the real gorilla/mux instead of Traefik's fork and fails to compile.

build_traefik_binary() {
  local dir="$CC_CI_CACHE/traefik/v$TRAEFIK_VERSION"
  local bin="$dir/traefik"
  [ -x "$bin" ] && return
  apt_install jq
  [ -x "$GO" ] || die "Go toolchain not found (looked for $GO); set GO=/path/to/go"
  local mod=github.com/traefik/traefik/v3 started=$SECONDS
  local work="$dir/wrapper"
  rm -rf "$work" && mkdir -p "$work"
  # GOTOOLCHAIN=local: fail clearly rather than try to download another toolchain.
  # GOFLAGS empty: -mod=vendor or the like from the caller's environment would break the wrapper.
  export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
  log "building traefik v$TRAEFIK_VERSION from $mod (several minutes on 2 cores)"
  local gomod
  gomod="$(cd "$work" && "$GO" mod download -json "$mod@v$TRAEFIK_VERSION" | jq -r .GoMod)"
  [ -s "$gomod" ] || die "could not download $mod@v$TRAEFIK_VERSION from the Go module proxy"
  local edits=()
  mapfile -t edits < <("$GO" mod edit -json "$gomod" | jq -r '
    def at(m): m.Path + (if m.Version then "@" + m.Version else "" end);
    ((.Replace // [])[] | "-replace=" + at(.Old) + "=" + at(.New)),
    ((.Exclude // [])[] | "-exclude=" + .Path + "@" + .Version)')
  local e
  for e in "${edits[@]}"; do
    # A replacement by a local path (no version) only exists in Traefik's checkout.
    case "$e" in -replace=*=*@*) ;; -replace=*) die "traefik's go.mod has a local replace ($e); cannot repeat it" ;; esac
  done
  (
    cd "$work"
    "$GO" mod init cc-ci.local/traefik-build >/dev/null 2>&1
    "$GO" mod edit -go="$("$GO" mod edit -json "$gomod" | jq -r .Go)" "${edits[@]}"
    # `go get -tool` records cmd/traefik as a tool: the wrapper needs no source file, and the
    # requirement graph is resolved with Traefik's own versions.
    "$GO" get -tool "$mod/cmd/traefik@v$TRAEFIK_VERSION"
    "$GO" build -trimpath -o "$bin.part" -ldflags "-s -w \
      -X $mod/pkg/version.Version=$TRAEFIK_VERSION \
      -X $mod/pkg/version.BuildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
      "$mod/cmd/traefik"
  ) >"$dir/build.log" 2>&1 || { tail -n 40 "$dir/build.log" >&2; die "traefik build failed; log: $dir/build.log"; }
  mv "$bin.part" "$bin"
  rm -rf "$work"
  log "traefik v$TRAEFIK_VERSION built in $((SECONDS - started))s: $bin"
}

build_traefik() {
  local tag="cc-ci/traefik:$TRAEFIK_VERSION" hash
  hash="$(context_hash "$IMAGES_DIR/traefik" "$TRAEFIK_VERSION" "$DEBIAN_SUITE")"
  image_current "$tag" "$hash" && { log "$tag is up to date"; return; }
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
  hash="$(context_hash "$IMAGES_DIR/whoami" "$WHOAMI_TAG" "$DEBIAN_SUITE")"
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
  hash="$(context_hash "$IMAGES_DIR/nginx" "$DEBIAN_SUITE")"
  image_current "$tag" "$hash" && { log "$tag is up to date"; return; }
  build_debian
  build_image "$tag" "$hash" "$IMAGES_DIR/nginx"
}

# ---- main ------------------------------------------------------------------------------------

# In a function, so bash parses the whole file before running anything: editing this script
# while a long build runs then cannot make the running copy execute half-edited lines.
main() {
  docker info >/dev/null 2>&1 || die "the Docker engine does not answer; run scripts/env/docker.sh first"
  local all=(debian keycloak postgres traefik whoami nginx) name
  [ "$#" -gt 0 ] || set -- "${all[@]}"
  for name in "$@"; do
    case " ${all[*]} " in *" $name "*) ;; *) die "unknown image '$name' (one of: ${all[*]})" ;; esac
  done
  for name in "$@"; do "build_$name"; done
  docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep '^cc-ci/' | sort >&2
}

main "$@"
