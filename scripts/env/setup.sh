#!/usr/bin/env bash
# Everything the project needs on this machine, installed or built idempotently and cached:
#   1. Docker engine, running, in a single-node swarm            (docker.sh)
#      wildcard DNS for ci.test and the host firewall for containers (dns.sh, firewall.sh)
#      PostgreSQL for shared state, started                      (postgres.sh)
#   2. the project's npm packages and Node 24                      (npm ci, skipped when current)
#   3. the Pulumi CLI and Node.js language host                    (pulumi.sh)
#   4. the docker and keycloak provider plugins                    (providers.sh)
#   5. the container images: Traefik, Keycloak, PostgreSQL, …      (images.sh)
#   6. the Go helpers the recipe loader calls                      (compose-helper.sh, traefik-helper.sh)
#   and shellcheck, which `npm test` runs over the scripts
# A first run on a fresh machine builds for many minutes; later runs take seconds.
#
#   scripts/env/setup.sh            all of it
#   scripts/env/setup.sh --no-images   skip the images (unit tests need none)
#   scripts/env/setup.sh --profile     also print how long each step took (they run one after
#                                      another: together they are the critical path)
#
# One after another on purpose. Three lanes at once (npm; the Pulumi CLI then the plugins; the images
# then the Go helpers) were measured from nothing on this 2-core machine kind, each with its own empty
# caches, one after the other within the hour on 2026-12-07: 767 s and 1267 core-s in lanes, 734 s
# and 1026 core-s in turn.
# The Go builds already keep both cores busy, and two of them at once compile the packages they share
# twice (Go's build cache only has what a build has finished).
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

images=1
profile=0
for a in "$@"; do
  case "$a" in
    --no-images) images=0 ;;
    --profile) profile=1 ;;
    *) die "unknown option $a" ;;
  esac
done

step_names=()
step_starts=()
step() {
  step_names+=("$*")
  step_starts+=("$(date +%s)")
  log "== $* ($(date +%T))"
}
t0=$(date +%s)

# Seconds per step, longest first, and their sum.
print_profile() {
  local end i n=${#step_names[@]}
  end=$(date +%s)
  log "profile: seconds per step (one after another: together the critical path, $((end - t0)) s)"
  for ((i = 0; i < n; i++)); do
    printf '%6d s  %s\n' "$((${step_starts[i + 1]:-$end} - step_starts[i]))" "${step_names[i]}"
  done | sort -rn >&2
}

step "docker engine and swarm"
"$ENV_DIR/docker.sh"

step "wildcard DNS for the CI domains, and the host firewall for containers"
# Every name under ci.test resolves to this host (Traefik's ports), on the host and in containers;
# containers reach the host only on the proxies' ports (80/443, the tests' 18080/18443, and runs' own
# Traefiks in 18400-18499) and the resolver.
"$ENV_DIR/dns.sh" ci.test >/dev/null
"$ENV_DIR/firewall.sh" --ports 80,443,18000:18999

step "PostgreSQL for shared state (Pulumi's postgres:// backend; the suite's own database too)"
"$ENV_DIR/postgres.sh" >/dev/null
"$ENV_DIR/postgres.sh" --db ccci_e2e --url-file "${CC_CI_E2E_HOME:-/var/lib/cc-ci-e2e}/postgres.url" >/dev/null

step "shellcheck and jq (npm run lint:sh, the helpers' builds)"
apt_install shellcheck jq

step "npm packages (Node 24 comes with them)"
stamp="$PROJECT_DIR/node_modules/.cc-ci-lock-hash"
hash=$(sha256sum "$PROJECT_DIR/package-lock.json" | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$hash" ]; then
  (cd "$PROJECT_DIR" && npm ci --no-audit --no-fund)
  echo "$hash" >"$stamp"
else
  log "node_modules matches package-lock.json"
fi
"$PROJECT_DIR/node_modules/.bin/node" --version >/dev/null || die "Node 24 from the npm package 'node' does not run"

step "pulumi CLI and language host"
"$ENV_DIR/pulumi.sh"

step "provider plugins"
"$ENV_DIR/providers.sh"

if [ "$images" = 1 ]; then
  step "container images"
  "$ENV_DIR/images.sh"
fi

# After the images: ccci-traefik compiles Traefik's packages, which the Traefik image build just did.
step "Go helpers: Docker's compose loader and templates, Traefik's label decoder and rule parser"
"$ENV_DIR/compose-helper.sh" >/dev/null
"$ENV_DIR/traefik-helper.sh" >/dev/null
log "environment ready in $(($(date +%s) - t0)) s"
if [ "$profile" = 1 ]; then print_profile; fi
