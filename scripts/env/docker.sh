#!/usr/bin/env bash
# Make this machine a one-node Docker Swarm manager that Pulumi can deploy stacks onto.
#
#   scripts/env/docker.sh             engine, daemon, swarm (what is there already is kept)
#   scripts/env/docker.sh --restart   the same, with dockerd stopped and started again first: what
#                                     releases a stale swarm attachment (see below)
#
# Idempotent: each step only acts when its check fails, so it is safe to run at the start of
# every session and every CI run. It never leaves, re-initialises or prunes an existing swarm
# and never touches services it did not create (it creates none).
#
# Why the engine comes from Debian: no container registry or download site is reachable here,
# only Debian's archive, so docker.io (engine 20.10, API 1.41) is what we can have. The newer
# client that may already be on PATH negotiates down to that API version by itself.
#
# Why dockerd is started by hand: there is no systemd in these machines (nor in CI), so the
# package's unit never runs. We start it in the background and wait for it to answer.
#
# Known limits of this swarm, which the stacks must respect:
#   - ports published in host mode work; the ingress routing mesh does not;
#   - on overlay networks service VIPs do not route: use `endpoint_mode: dnsrr` (DNS
#     round-robin) or task IPs.
#   - a plain container on a swarm network that Docker restarts by itself at its start fails
#     ("network … not found": the swarm does not serve its networks yet) and leaves a stale
#     attachment that blocks the network's removal until dockerd restarts again; the warm
#     layers' admin gateways are therefore not restarted by Docker, and started here instead.
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Seconds to wait for a freshly started dockerd before giving up.
DOCKERD_TIMEOUT="${DOCKERD_TIMEOUT:-60}"

install_engine() {
  if command -v dockerd >/dev/null 2>&1; then
    return
  fi
  log "installing the Docker engine from Debian (docker.io)"
  # An old or empty package list makes the install fail with "no installation candidate".
  as_root apt-get update -qq
  # Never let the package replace the newer client that may already sit in /usr/local/bin:
  # /usr/bin/docker from docker.io comes later on PATH, so both coexist.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    docker.io iptables ca-certificates >/dev/null
  command -v dockerd >/dev/null 2>&1 || die "docker.io installed but dockerd is still not on PATH"
}

daemon_answers() { docker info >/dev/null 2>&1; }

spawn_dockerd() {
  log "starting dockerd in the background (log: $1)"
  # setsid + nohup: the daemon must outlive this script and the shell that ran it.
  as_root setsid nohup dockerd >>"$1" 2>&1 </dev/null &
}

start_daemon() {
  if daemon_answers; then
    return
  fi
  local logfile="$CC_CI_CACHE/dockerd.log"
  # A dockerd killed uncleanly leaves its pid file behind, and a new one then refuses to start.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    as_root rm -f /var/run/docker.pid
  fi
  # This host's engine by its pid file (other dockerds may run here: nodes.sh's workers).
  local ours=0
  if [ -f /var/run/docker.pid ]; then
    log "dockerd is running but not answering yet; waiting for it"
  else
    spawn_dockerd "$logfile"
    ours=1
  fi
  local waited=0
  until daemon_answers; do
    # The dockerd waited for was stopping, not starting (a restart, a shutdown under way): once it
    # has gone, start one.
    if [ "$ours" = 0 ] && ! { [ -f /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; }; then
      log "the running dockerd has exited (it was stopping)"
      as_root rm -f /var/run/docker.pid
      spawn_dockerd "$logfile"
      ours=1
      waited=0
    fi
    if [ "$waited" -ge "$DOCKERD_TIMEOUT" ]; then
      tail -n 30 "$logfile" >&2 || true
      die "dockerd did not answer 'docker info' within ${DOCKERD_TIMEOUT}s; see $logfile"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  log "dockerd answers (after ${waited}s)"
}

init_swarm() {
  local state
  state="$(docker info --format '{{.Swarm.LocalNodeState}}')"
  case "$state" in
    active)
      # Already a swarm node. If it is only a worker, Pulumi cannot deploy services; say so
      # rather than leave the swarm and re-init, which would drop whatever runs on it.
      if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" != true ]; then
        die "this node is in a swarm but is not a manager; stacks cannot be deployed from here"
      fi
      ;;
    inactive)
      log "initialising a swarm on $SWARM_ADDR"
      # On a bridge of our own (the machine has no routable interface we may use): nodes.sh's
      # workers join there; nothing outside this machine can reach it.
      docker swarm init --advertise-addr "$SWARM_ADDR" >/dev/null
      ;;
    *)
      # pending/error/locked: a human has to look; re-initialising would lose the swarm's state.
      die "swarm is in state '$state'; not touching it"
      ;;
  esac
}

# The workers nodes.sh made (their swarm node carries the label cc-ci.engine, their engine's socket)
# whose engine is gone: a multi-node suite interrupted before its `nodes.sh --remove` (a CI job
# killed at its time limit, a session ended) leaves them in the swarm's list, down, and every run
# on this host then reports them as nodes it could not check. A down worker whose engine still
# answers (one a test stopped for a while, being started again) is kept. Other nodes are not ours.
stale_test_workers() {
  local id state sock
  for id in $(docker node ls --filter role=worker -q); do
    read -r state sock < <(docker node inspect "$id" --format '{{.Status.State}} {{index .Spec.Labels "cc-ci.engine"}}')
    if [ -z "$sock" ] || [ "$state" = ready ]; then continue; fi
    if timeout 10 docker -H "$sock" info >/dev/null 2>&1; then continue; fi
    docker node rm --force "$id" >/dev/null
    log "removed the swarm node $id: a test worker of scripts/env/nodes.sh ($sock) whose engine is gone"
  done
}

# Gateways an earlier version made with a restart policy: Docker would start them by itself at its
# next start, before the swarm serves their networks, and leave a stale attachment.
no_restart_gateways() {
  local id
  for id in $(docker ps -aq --filter label=cc-ci.gateway=true); do
    if [ "$(docker inspect --format '{{.HostConfig.RestartPolicy.Name}}' "$id")" != no ]; then
      docker update --restart=no "$id" >/dev/null
      log "the warm layer's gateway $(docker inspect --format '{{.Name}}' "$id" | tr -d /) is no longer restarted by Docker"
    fi
  done
}

# Stops this host's dockerd (by its pid file) and waits until it is gone: a swarm attachment left
# stale (a network that no removal frees: "network … is in use by task …", moby/moby#31068) is only
# released by a restart.
stop_daemon() {
  local pid waited=0
  pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  no_restart_gateways
  log "stopping dockerd (pid $pid)"
  as_root kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    [ "$waited" -lt "$DOCKERD_TIMEOUT" ] || die "dockerd (pid $pid) did not stop within ${DOCKERD_TIMEOUT}s"
    sleep 1
    waited=$((waited + 1))
  done
}

# The warm layers' admin gateways a Docker restart left stopped (components/adminGateway.ts), now
# that the swarm serves their networks. `cc-ci warm up` does the same for its own layer.
start_gateways() {
  local ids id
  ids="$(docker ps -aq --filter label=cc-ci.gateway=true --filter status=exited --filter status=created)"
  for id in $ids; do
    if docker start "$id" >/dev/null 2>&1; then
      log "started the warm layer's gateway $(docker inspect --format '{{.Name}}' "$id" | tr -d /)"
    else
      log "warning: could not start the warm layer's gateway $id; \`cc-ci warm up\` repairs it"
    fi
  done
}

restart=false
case "${1:-}" in
  "") ;;
  --restart) restart=true ;;
  *) die "usage: $0 [--restart]" ;;
esac

install_engine
if "$restart"; then stop_daemon; fi
# Before the daemon: a swarm advertised on the bridge needs its address when the daemon starts.
nodes_bridge_up
start_daemon
init_swarm
stale_test_workers
no_restart_gateways
start_gateways
log "docker $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})') ready; swarm manager $(docker info --format '{{.Swarm.NodeID}}')"
