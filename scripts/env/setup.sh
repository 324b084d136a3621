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
#   scripts/env/setup.sh --profile     also print how long each step took, lane by lane, and the
#                                      critical path
#
# What does not depend on each other is built side by side: after the engine, DNS, firewall and
# PostgreSQL (one after another, seconds), three lanes run at once —
#   npm       the npm packages
#   pulumi    the Pulumi CLI and language host, then the provider plugins (installed with that CLI)
#   images    the container images, then the Go helpers (which reuse the Traefik build's Go cache)
# Each lane's lines carry its name; a lane that fails stops setup with its name once the others end.
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

t0=$(date +%s)
# One line per step: lane, start, end (seconds since t0), name.
steps_file="$(mktemp)"
trap 'rm -f "$steps_file"' EXIT
LANE=setup
step_name=""
step_start=0
end_step() {
  [ -n "$step_name" ] && printf '%s\t%d\t%d\t%s\n' "$LANE" "$step_start" "$(($(date +%s) - t0))" "$step_name" >>"$steps_file"
  step_name=""
}
step() {
  end_step
  step_name="$*"
  step_start=$(($(date +%s) - t0))
  log "== $* ($(date +%T))"
}

# Steps, lanes and the critical path: the head, then the longest lane.
print_profile() {
  local end=$(($(date +%s) - t0))
  log "profile: seconds per step, longest first ($end s in all)"
  awk -F'\t' '{ printf "%6d s  %-7s %s\n", $3 - $2, $1, $4 }' "$steps_file" | sort -rn >&2
  log "lanes: when each began and ended (seconds from the start)"
  awk -F'\t' '{ if (!($1 in a) || $2 < a[$1]) a[$1] = $2; if ($3 > b[$1]) b[$1] = $3 }
    END { for (l in a) printf "%-7s %4d s .. %4d s (%d s)\n", l, a[l], b[l], b[l] - a[l] }' "$steps_file" |
    sort -k2 -n >&2
  awk -F'\t' -v end="$end" '
    $1 == "setup" { head = ($3 > head ? $3 : head) }
    $1 != "setup" { if ($3 > last) { last = $3; lane = $1 } }
    END { printf "critical path: setup (%d s), then the %s lane (until %d s); %d s in all\n", head, lane, last, end }' \
    "$steps_file" >&2
}

# lane NAME FUNCTION: FUNCTION in the background, its lines prefixed with NAME; its pid in LANE_PIDS.
LANE_PIDS=()
LANE_NAMES=()
lane() {
  local name="$1" fn="$2"
  (
    set -o pipefail
    # A plain list in a subshell: errexit holds inside FUNCTION (under && it would not).
    (
      LANE="$name"
      "$fn"
      end_step
    ) 2>&1 | sed -u "s/^/[$name] /" >&2
  ) &
  LANE_PIDS+=("$!")
  LANE_NAMES+=("$name")
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

step "Debian packages the lanes use: shellcheck and jq (npm run lint:sh, the helpers' builds)"
apt_install shellcheck jq
end_step

npm_lane() {
  step "npm packages (Node 24 comes with them)"
  local stamp hash
  stamp="$PROJECT_DIR/node_modules/.cc-ci-lock-hash"
  hash=$(sha256sum "$PROJECT_DIR/package-lock.json" | cut -c1-16)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$hash" ]; then
    (cd "$PROJECT_DIR" && npm ci --no-audit --no-fund)
    echo "$hash" >"$stamp"
  else
    log "node_modules matches package-lock.json"
  fi
  "$PROJECT_DIR/node_modules/.bin/node" --version >/dev/null || die "Node 24 from the npm package 'node' does not run"
}

pulumi_lane() {
  step "pulumi CLI and language host"
  "$ENV_DIR/pulumi.sh" >/dev/null
  step "provider plugins"
  "$ENV_DIR/providers.sh"
}

images_lane() {
  if [ "$images" = 1 ]; then
    step "container images"
    "$ENV_DIR/images.sh"
  fi
  # After the images: ccci-traefik compiles Traefik's packages, which the Traefik image build just did.
  step "Go helpers: Docker's compose loader and templates, Traefik's label decoder and rule parser"
  "$ENV_DIR/compose-helper.sh" >/dev/null
  "$ENV_DIR/traefik-helper.sh" >/dev/null
}

lane npm npm_lane
lane pulumi pulumi_lane
lane images images_lane
failed=()
for i in "${!LANE_PIDS[@]}"; do
  wait "${LANE_PIDS[i]}" || failed+=("${LANE_NAMES[i]}")
done
[ "${#failed[@]}" -eq 0 ] || die "setup failed in: ${failed[*]} (its lines above carry its name)"
log "environment ready in $(($(date +%s) - t0)) s"
if [ "$profile" = 1 ]; then print_profile; fi
