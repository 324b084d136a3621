#!/usr/bin/env bash
# A multi-node swarm on this one machine, for the tests (and for trying cc-ci across nodes): extra
# Docker engines as worker nodes, each in a network namespace of its own (its own address, hostname,
# data root and exec root), joined to this host's swarm over a bridge of our own. Each worker's
# engine socket is recorded on its swarm node as the label cc-ci.engine, which is how cc-ci reaches
# a node's containers and volumes (a volume lives on the node that made it).
#
#   scripts/env/nodes.sh [--reinit-swarm] --nodes N
#                                       N nodes in all: this host (manager) and N-1 workers
#   scripts/env/nodes.sh --stop NAME    stop a worker's engine (a node going away)
#   scripts/env/nodes.sh --start NAME   start it again
#   scripts/env/nodes.sh --status       the swarm's nodes
#   scripts/env/nodes.sh --remove       workers leave, engines stop, namespaces and bridge go
#
# The host's swarm must advertise the bridge's address (scripts/env/docker.sh makes new swarms so);
# an older swarm advertised on 127.0.0.1 is made anew only with --reinit-swarm (see swarm_on_bridge).
# Images reach the workers through the image registry the warm layer declares (registry.enabled,
# components/registry.ts) on this host's bridge address, CC_CI_REGISTRY (default $SWARM_ADDR:5000):
# each worker's engine takes it as its registry mirror, so an image named as on Docker Hub
# (postgres:15, cc-ci/whoami:1) is pulled from it; images from other registries are pulled from
# them. A worker's engine whose mirror changed is restarted.
# The host firewall (firewall.sh) is installed in each worker's namespace too: its containers get the
# same rules as the host's, and reach the CI domains through the manager's proxy.
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

BRIDGE="$NODES_BRIDGE"
NET_PREFIX="$NODES_NET"
HOST_IP="$SWARM_ADDR"
DATA=/var/lib/cc-ci-nodes
RUN=/run/cc-ci-nodes
REGISTRY="${CC_CI_REGISTRY:-$SWARM_ADDR:5000}"

sock() { echo "unix://$RUN/$1.sock"; }
dk() { local n="$1"; shift; docker -H "$(sock "$n")" "$@"; }
ip_of() { echo "$NET_PREFIX.$((10 + ${1#node}))"; }

# A swarm whose managers advertise another address (127.0.0.1, as scripts/env/docker.sh made them
# before it used the bridge) cannot take these workers. The raft address of a manager cannot be
# changed in place (`swarm init --force-new-cluster --advertise-addr` keeps it): the swarm is made
# anew, which drops its services, networks, secrets and configs (volumes and images stay; `cc-ci
# warm up` brings a warm layer back from its state) — only when asked to, with --reinit-swarm.
swarm_on_bridge() {
  local addr
  addr="$(docker node inspect self --format '{{.ManagerStatus.Addr}}' 2>/dev/null || true)"
  [ "$addr" = "$HOST_IP:2377" ] && return 0
  if [ "$reinit" != 1 ]; then
    die "this swarm's manager advertises ${addr:-nothing}, which workers cannot reach; re-run with --reinit-swarm to make the swarm anew on $HOST_IP (its services, networks, secrets and configs are dropped; bring warm layers back with cc-ci warm up)"
  fi
  log "making the swarm anew on $HOST_IP (was ${addr:-none}); its services, networks, secrets and configs are dropped"
  docker swarm leave --force >/dev/null
  docker swarm init --advertise-addr "$HOST_IP" >/dev/null
}

# The workers' resolver: the host's CI resolver (dns.sh) answering on the bridge too, so a worker's
# containers resolve the CI domains (to the proxy address, which each worker also holds: its ingress
# answers there) and the rest of the world as the host's do.
DNS_DIR="${CC_CI_DNS_DIR:-/var/lib/cc-ci/dns}"
DNS_IP="${CC_CI_DNS_IP:-169.254.53.53}"
# Whether the pid file PIDFILE names a dnsmasq that lives — in the namespace NETNS when given. A pid
# file outlives its process (nodes.sh --remove, a reboot, a crash), and with pid_max at 32768 its
# number soon belongs to something else: `kill -0` alone takes that process for the resolver, which
# is then never started, and the worker's containers resolve nothing (the likely cause of a CI run
# where one worker's probe of the CI domain failed at once while the other's passed).
dnsmasq_running() {
  local pidfile="$1" netns="${2:-}" pid
  pid="$(cat "$pidfile" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dnsmasq ] || return 1
  [ -z "$netns" ] || [ "$(as_root ip netns identify "$pid" 2>/dev/null)" = "$netns" ]
}

nodes_dns() {
  local conf="$DATA/dnsmasq.conf" pid="$DATA/dnsmasq.pid"
  [ -f "$DNS_DIR/dnsmasq.conf" ] || die "no $DNS_DIR/dnsmasq.conf: run scripts/env/dns.sh first"
  mkdir -p "$DATA"
  sed -e "s#^listen-address=.*#listen-address=$HOST_IP#" -e "s#^pid-file=.*#pid-file=$pid#" \
    -e "s#^log-facility=.*#log-facility=$DATA/dnsmasq.log#" "$DNS_DIR/dnsmasq.conf" >"$conf.new"
  if ! cmp -s "$conf.new" "$conf" || ! dnsmasq_running "$pid"; then
    mv "$conf.new" "$conf"
    if dnsmasq_running "$pid"; then as_root kill "$(cat "$pid")" 2>/dev/null || true; fi
    sleep 0.3
    as_root dnsmasq --conf-file="$conf"
  else
    rm -f "$conf.new"
  fi
}

# Each worker's own resolver, on the same address as the host's (DNS_IP, on the worker's lo): the CI
# domains answered there, the rest forwarded to the host's resolver on the bridge. Containers reach
# it as they reach the host's (the firewall lets DNS to DNS_IP in), and the engine's embedded DNS
# forwards to it.
worker_dns() {
  local n="$1"
  local conf="$DATA/$n.dnsmasq.conf" pid="$RUN/$n.dnsmasq.pid"
  grep -v -e '^server=' -e '^pid-file=' -e '^log-facility=' "$DNS_DIR/dnsmasq.conf" >"$conf.new"
  printf 'server=%s\npid-file=%s\nlog-facility=%s\n' "$HOST_IP" "$pid" "$DATA/$n.dnsmasq.log" >>"$conf.new"
  if cmp -s "$conf.new" "$conf" && dnsmasq_running "$pid" "ccci-$n"; then
    rm -f "$conf.new"
    return 0
  fi
  mv "$conf.new" "$conf"
  if dnsmasq_running "$pid" "ccci-$n"; then as_root kill "$(cat "$pid")" 2>/dev/null || true; sleep 0.3; fi
  as_root rm -f "$pid"
  as_root nsenter --net="/var/run/netns/ccci-$n" dnsmasq --conf-file="$conf"
}

engine_up() {
  local n="$1" ns="ccci-$1" addr
  addr="$(ip_of "$n")"
  if ! ip netns list | grep -qw "$ns"; then
    as_root ip netns add "$ns"
    as_root ip link add "$n-h" type veth peer name "$n-c"
    as_root ip link set "$n-c" netns "$ns"
    as_root ip link set "$n-h" master "$BRIDGE" up
    as_root ip -n "$ns" addr add "$addr/24" dev "$n-c"
    as_root ip -n "$ns" link set "$n-c" up
    as_root ip -n "$ns" link set lo up
    as_root ip -n "$ns" route add default via "$HOST_IP"
    # The CI domains resolve to this address everywhere: on a worker it is its own, whose proxy
    # ports the worker's firewall forwards to the manager's Traefik (firewall_in).
    as_root ip -n "$ns" addr add "$DNS_IP/32" dev lo
  fi
  local flags="--registry-mirror http://$REGISTRY --insecure-registry $REGISTRY"
  if dk "$n" info >/dev/null 2>&1; then
    worker_dns "$n"
    [ "$(cat "$DATA/$n.flags" 2>/dev/null)" = "$flags" ] && return 0
    log "restarting the engine of $n (its registry mirror is now $REGISTRY)"
    engine_stop "$n"
  fi
  mkdir -p "$DATA/$n" "$RUN/$n"
  echo "$flags" >"$DATA/$n.flags"
  worker_dns "$n"
  log "starting the engine of $n ($addr)"
  # nsenter, not `ip netns exec` (which remounts /sys and hides the cgroups from dockerd); a UTS
  # namespace of its own so the node has its own hostname in the swarm.
  as_root nsenter --net="/var/run/netns/$ns" unshare --uts sh -c \
    "hostname ccci-$n && exec dockerd --data-root '$DATA/$n' --exec-root '$RUN/$n' --pidfile '$RUN/$n.pid' -H '$(sock "$n")' --dns '$DNS_IP' $flags" \
    >"$DATA/$n.log" 2>&1 &
  for _ in $(seq 1 60); do dk "$n" info >/dev/null 2>&1 && return 0; sleep 1; done
  tail -n 20 "$DATA/$n.log" >&2
  die "the engine of $n did not start; see $DATA/$n.log"
}

firewall_in() {
  local n="$1"
  # The same rules as the host's: the worker's resolver (DNS_IP) is on its own lo, so DNS is local
  # traffic there, and nothing private — the bridge and the host included — is reachable through it;
  # but the proxy's ports on DNS_IP, where its containers find the CI domains, go to the manager's
  # Traefik (--proxy-via): an app on a worker reaches its Keycloak as one on the manager does.
  as_root nsenter --net="/var/run/netns/ccci-$n" "$ENV_DIR/firewall.sh" --ports "${CC_CI_FW_PORTS_ALL:-80,443,18000:18999}" --proxy-via "$HOST_IP" >/dev/null
}

joined() {
  local n="$1"
  [ "$(dk "$n" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" = active ]
}

# Whether this host's swarm still lists the worker's node: scripts/env/docker.sh removes workers
# whose engines were gone (an interrupted suite), and a worker's engine started again afterwards still
# believes it belongs to the swarm.
listed() {
  local id
  id="$(dk "$1" info --format '{{.Swarm.NodeID}}' 2>/dev/null)"
  [ -n "$id" ] && docker node inspect "$id" >/dev/null 2>&1
}

join() {
  local n="$1" token id
  if [ "$(dk "$n" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" != inactive ] && ! listed "$n"; then
    # active or pending (it keeps trying to reach a swarm that no longer knows it)
    log "$n was removed from the swarm while its engine was away: it leaves and joins again"
    dk "$n" swarm leave --force >/dev/null 2>&1 || true
  fi
  if ! joined "$n"; then
    token="$(docker swarm join-token -q worker)"
    dk "$n" swarm join --token "$token" --advertise-addr "$(ip_of "$n")" "$HOST_IP:2377" >/dev/null
  fi
  id="$(dk "$n" info --format '{{.Swarm.NodeID}}')"
  for _ in $(seq 1 60); do
    [ "$(docker node inspect "$id" --format '{{.Status.State}}' 2>/dev/null)" = ready ] && break
    sleep 1
  done
  docker node update --label-add "cc-ci.engine=$(sock "$n")" "$id" >/dev/null
}

engine_stop() {
  local n="$1" pid
  pid="$(cat "$RUN/$n.pid" 2>/dev/null || true)"
  if [ -n "$pid" ]; then as_root kill "$pid" 2>/dev/null || true; fi
  for _ in $(seq 1 30); do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0; sleep 1; done
  as_root kill -9 "$pid" 2>/dev/null || true
}

workers() { ip netns list 2>/dev/null | awk '{print $1}' | sed -n 's/^ccci-\(node[0-9]*\)$/\1/p' | sort -V; }

reinit=0
if [ "${1:-}" = --reinit-swarm ]; then reinit=1; shift; fi
case "${1:-}" in
  --nodes)
    total="${2:-}"
    if ! [[ "$total" =~ ^[0-9]+$ ]] || [ "$total" -lt 1 ] || [ "$total" -gt 9 ]; then die "--nodes: 1 to 9"; fi
    nodes_bridge_up
    nodes_dns
    [ "$total" -gt 1 ] && swarm_on_bridge
    for i in $(seq 2 "$total"); do
      n="node$i"
      engine_up "$n"
      firewall_in "$n"
      join "$n"
    done
    docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}' >&2
    ;;
  --stop) engine_stop "${2:?node name}" ;;
  --start) engine_up "${2:?node name}"; firewall_in "$2" ;;
  --status) docker node ls ;;
  --remove)
    for n in $(workers); do
      id="$(dk "$n" info --format '{{.Swarm.NodeID}}' 2>/dev/null || true)"
      dk "$n" swarm leave --force >/dev/null 2>&1 || true
      engine_stop "$n"
      if dnsmasq_running "$RUN/$n.dnsmasq.pid" "ccci-$n"; then as_root kill "$(cat "$RUN/$n.dnsmasq.pid")" 2>/dev/null || true; fi
      as_root rm -f "$RUN/$n.dnsmasq.pid"
      if [ -n "$id" ]; then docker node rm --force "$id" >/dev/null 2>&1 || true; fi
      as_root ip netns del "ccci-$n" 2>/dev/null || true
      as_root ip link del "$n-h" 2>/dev/null || true
      log "removed $n"
    done
    # Nodes whose engines are gone already (down, in the swarm's list).
    for id in $(docker node ls --filter role=worker -q 2>/dev/null); do
      if [ "$(docker node inspect "$id" --format '{{index .Spec.Labels "cc-ci.engine"}}')" != "" ]; then
        docker node rm --force "$id" >/dev/null 2>&1 || true
      fi
    done
    if dnsmasq_running "$DATA/dnsmasq.pid"; then as_root kill "$(cat "$DATA/dnsmasq.pid")" 2>/dev/null || true; fi
    as_root rm -f "$DATA/dnsmasq.pid"
    # The bridge stays: the swarm advertises on it.
    ;;
  *) sed -n '2,19p' "$0"; exit 2 ;;
esac
