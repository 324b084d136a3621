#!/usr/bin/env bash
# Keep containers away from the host: from a container, the host answers only on the proxy's
# published ports and on the CI resolver (scripts/env/dns.sh); every other host port — the swarm's
# 2377/7946/4789, anything an operator or a tool binds on 0.0.0.0 — is refused. And containers
# may not route through the host to private address ranges (the operator's LAN, cloud metadata,
# the overlay pools); the public internet stays reachable unless the machine has none.
#
# Why 4789/udp matters most: the host's VXLAN socket accepts a datagram from any container and
# delivers its inner frame into the overlay network named by its VNI — a container on one run's
# network can talk to a container on another run's (or Keycloak's) network, both ways (shown on
# this machine; see the network findings). This chain is what stops it.
#
#   scripts/env/firewall.sh [--ports 80,443] [--dns-ip 169.254.53.53] [--proxy-via ADDR]
#                                                                         install or refresh
#   scripts/env/firewall.sh --remove                                      take it all out
#   scripts/env/firewall.sh --status                                      show the rules and counters
#
# How: a chain CC-CI-INPUT in the filter table (IPv4 and IPv6), jumped to from INPUT for packets
# that come in on a Docker bridge: docker_gwbridge (the way out of every overlay network: swarm
# tasks and containers on attachable overlays), docker0 (plain `docker run`), br-+ (user-defined
# bridge networks). It accepts replies (ESTABLISHED/RELATED: docker-proxy and host-initiated
# connections), DNS to the resolver address, and TCP to the published ports; it rejects the rest
# (REJECT, not DROP: a test fails in milliseconds instead of timing out).
#
# What it does not touch, and why that keeps the swarm working (checked on this machine):
#   - traffic between containers on an overlay network never enters the host's INPUT chain;
#   - published ports seen from the host (127.0.0.1 / host addresses) go through OUTPUT/DNAT;
#   - the Docker API is a unix socket (Pulumi's docker provider, Traefik's socket mount);
#   - Docker's own chains (FORWARD, DOCKER*, nat): dockerd rewrites those, never INPUT, so these
#     rules survive a dockerd restart. They do not survive a reboot: run this in setup.
# Ports published on 127.0.0.1 (`-p 127.0.0.1:X:Y`, the Keycloak admin gateway) are unreachable
# from containers already (net.ipv4.conf.*.route_localnet=0); this script keeps it that way by
# refusing to run if route_localnet is on for a Docker bridge.
#
# On a swarm's worker node (scripts/env/nodes.sh), whose containers resolve the CI domains to the
# resolver's address like the host's but where no proxy listens, --proxy-via ADDR forwards the
# proxy's ports on that address to the manager's ADDR (DNAT, chain CC-CI-PROXY in the nat table):
# an app on a worker reaches the CI domains — its Keycloak's back-channel — as one on the manager
# does, and only those ports of ADDR (the egress chain lets through what that DNAT made, nothing
# else of ADDR's).
#
# Environment (or options): CC_CI_FW_PORTS (default 80,443), CC_CI_DNS_IP (default 169.254.53.53),
# CC_CI_FW_IFACES (default "docker_gwbridge docker0 br-+"; a bridge of your own that carries
# swarm-node traffic must not be listed nor be named br-*), CC_CI_FW_DENY_NETS (private ranges
# containers may not be forwarded to; add the host's own LAN if it is public address space).
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

CHAIN=CC-CI-INPUT
EGRESS=CC-CI-EGRESS
DNSGUARD=CC-CI-DNSGUARD
PROXY=CC-CI-PROXY
PROXY_VIA=""
# Destinations containers may not reach through the host (forwarded traffic, not the host itself).
DENY_NETS="${CC_CI_FW_DENY_NETS:-10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 100.64.0.0/10 169.254.0.0/16}"
PORTS="${CC_CI_FW_PORTS:-80,443}"
DNS_IP="${CC_CI_DNS_IP:-169.254.53.53}"
IFACES="${CC_CI_FW_IFACES:-docker_gwbridge docker0 br-+}"

action=install
while [ "$#" -gt 0 ]; do
  case "$1" in
    --remove) action=remove ;;
    --status) action=status ;;
    --ports) PORTS="$2"; shift ;;
    --dns-ip) DNS_IP="$2"; shift ;;
    --proxy-via) PROXY_VIA="$2"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "unknown option $1" ;;
  esac
  shift
done
[[ "$PORTS" =~ ^[0-9]+(:[0-9]+)?(,[0-9]+(:[0-9]+)?)*$ ]] || die "--ports must look like 80,443 or 8000:8100: $PORTS"
[[ "$DNS_IP" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]] || die "--dns-ip is not an IPv4 address: $DNS_IP"
[ -z "$PROXY_VIA" ] || [[ "$PROXY_VIA" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]] || die "--proxy-via is not an IPv4 address: $PROXY_VIA"

install_tools() {
  command -v iptables >/dev/null 2>&1 && command -v ip6tables >/dev/null 2>&1 && return
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iptables >/dev/null
}

# The chain's rules, loaded in one iptables-restore transaction (declaring a user chain in a
# --noflush restore flushes it first), so there is never a moment with half a rule set.
rules_v4() {
  cat <<EOF
*filter
:$CHAIN - [0:0]
-A $CHAIN -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A $CHAIN -d $DNS_IP/32 -p udp -m udp --dport 53 -j ACCEPT
-A $CHAIN -d $DNS_IP/32 -p tcp -m tcp --dport 53 -j ACCEPT
-A $CHAIN -p tcp -m multiport --dports $PORTS -j ACCEPT
-A $CHAIN -p tcp -j REJECT --reject-with tcp-reset
-A $CHAIN -j REJECT --reject-with icmp-port-unreachable
:$DNSGUARD - [0:0]
$(for i in lo $IFACES; do echo "-A $DNSGUARD -i $i -j RETURN"; done)
-A $DNSGUARD -j DROP
COMMIT
EOF
}
# Forwarded traffic from a container to a private range, through the host's routing table. Jumped
# to from DOCKER-USER (FORWARD) only for traffic LEAVING a bridge (-i X ! -o X): container to
# container on one bridge network is untouched.
rules_egress() {
  local n
  echo "*filter"
  echo ":$EGRESS - [0:0]"
  echo "-A $EGRESS -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN"
  [ -z "$PROXY_VIA" ] ||
    echo "-A $EGRESS -d $PROXY_VIA/32 -p tcp -m conntrack --ctstate DNAT --ctorigdst $DNS_IP/32 -m multiport --dports $PORTS -j RETURN"
  for n in $DENY_NETS; do echo "-A $EGRESS -d $n -j REJECT --reject-with icmp-net-unreachable"; done
  echo "-A $EGRESS -j RETURN"
  echo "COMMIT"
}
# The proxy's ports on the resolver's address, forwarded to the manager (--proxy-via).
rules_proxy() {
  echo "*nat"
  echo ":$PROXY - [0:0]"
  [ -z "$PROXY_VIA" ] || echo "-A $PROXY -p tcp -m multiport --dports $PORTS -j DNAT --to-destination $PROXY_VIA"
  echo "COMMIT"
}
rules_v6() {
  # Containers have IPv6 off unless a network enables it; nothing on the host is for them there.
  cat <<EOF
*filter
:$CHAIN - [0:0]
-A $CHAIN -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A $CHAIN -p tcp -m multiport --dports $PORTS -j ACCEPT
-A $CHAIN -p tcp -j REJECT --reject-with tcp-reset
-A $CHAIN -j REJECT --reject-with icmp6-port-unreachable
COMMIT
EOF
}

check_localnet() {
  local f v
  for f in /proc/sys/net/ipv4/conf/all/route_localnet /proc/sys/net/ipv4/conf/docker0/route_localnet \
    /proc/sys/net/ipv4/conf/docker_gwbridge/route_localnet; do
    [ -r "$f" ] || continue
    v="$(cat "$f")"
    [ "$v" = 0 ] || die "$f is $v: containers could reach ports published on 127.0.0.1; set it to 0"
  done
}

install() {
  install_tools
  check_localnet
  local ipt iface
  rules_v4 | as_root iptables-restore --noflush
  rules_v6 | as_root ip6tables-restore --noflush
  rules_egress | as_root iptables-restore --noflush
  rules_proxy | as_root iptables-restore --noflush
  as_root iptables -t nat -C PREROUTING -d "$DNS_IP/32" -p tcp -j "$PROXY" 2>/dev/null \
    || as_root iptables -t nat -I PREROUTING 1 -d "$DNS_IP/32" -p tcp -j "$PROXY"
  # dockerd creates DOCKER-USER and jumps to it first from FORWARD, and keeps its rules when it
  # restarts; create it if dockerd has not run yet (dockerd then adopts it).
  as_root iptables -n -L DOCKER-USER >/dev/null 2>&1 || as_root iptables -N DOCKER-USER
  for iface in $IFACES; do
    as_root iptables -C DOCKER-USER -i "$iface" ! -o "$iface" -j "$EGRESS" 2>/dev/null \
      || as_root iptables -I DOCKER-USER 1 -i "$iface" ! -o "$iface" -j "$EGRESS"
  done
  # The resolver's address is on lo, but Linux accepts a packet for any local address on any
  # interface: a neighbour on eth0's network could route 169.254.53.53 to us and use dnsmasq as an
  # open resolver. Only lo and the Docker bridges may reach it.
  as_root iptables -C INPUT -d "$DNS_IP/32" -j "$DNSGUARD" 2>/dev/null \
    || as_root iptables -I INPUT 1 -d "$DNS_IP/32" -j "$DNSGUARD"
  for ipt in iptables ip6tables; do
    # Jumps first in INPUT, one per bridge, added only when missing.
    for iface in $IFACES; do
      as_root "$ipt" -C INPUT -i "$iface" -j "$CHAIN" 2>/dev/null \
        || as_root "$ipt" -I INPUT 1 -i "$iface" -j "$CHAIN"
    done
  done
  log "containers reach the host only on tcp/$PORTS and $DNS_IP:53 (chain $CHAIN), and no private range through it ($EGRESS)${PROXY_VIA:+; $DNS_IP:$PORTS forwarded to $PROXY_VIA ($PROXY)}"
}

# Delete every jump from chain FROM to chain TO, whatever interface it was added for, then TO.
# IPT may carry a table: "iptables -t nat".
drop_chain() {
  local ipt="$1" from="$2" to="$3" rule
  # shellcheck disable=SC2086
  as_root $ipt -n -L "$from" >/dev/null 2>&1 || return 0
  local -a words
  # shellcheck disable=SC2086
  while rule="$(as_root $ipt -S "$from" | grep -m1 -- "-j $to\$")"; do
    # The rule's words are the arguments; -A becomes -D.
    read -r -a words <<<"${rule/#-A /-D }"
    # shellcheck disable=SC2086
    as_root $ipt "${words[@]}"
  done
  # shellcheck disable=SC2086
  if as_root $ipt -n -L "$to" >/dev/null 2>&1; then
    as_root $ipt -F "$to"
    as_root $ipt -X "$to"
  fi
}

remove() {
  command -v iptables >/dev/null 2>&1 || return 0
  drop_chain iptables INPUT "$CHAIN"
  drop_chain iptables INPUT "$DNSGUARD"
  drop_chain ip6tables INPUT "$CHAIN"
  drop_chain iptables DOCKER-USER "$EGRESS"
  drop_chain "iptables -t nat" PREROUTING "$PROXY"
  log "chains $CHAIN, $DNSGUARD, $EGRESS and $PROXY removed"
}

status() {
  local ipt
  for ipt in iptables ip6tables; do
    echo "== $ipt"
    as_root "$ipt" -S INPUT | grep -- "-j $CHAIN" || echo "(no jump to $CHAIN)"
    as_root "$ipt" -L "$CHAIN" -v -n 2>/dev/null || echo "(no chain $CHAIN)"
  done
  echo "== iptables $DNSGUARD"
  as_root iptables -S INPUT | grep -- "-j $DNSGUARD" || echo "(no jump to $DNSGUARD)"
  as_root iptables -L "$DNSGUARD" -v -n 2>/dev/null || echo "(no chain $DNSGUARD)"
  echo "== iptables DOCKER-USER"
  as_root iptables -S DOCKER-USER 2>/dev/null | grep -- "-j $EGRESS" || echo "(no jump to $EGRESS)"
  as_root iptables -L "$EGRESS" -v -n 2>/dev/null || echo "(no chain $EGRESS)"
}

"$action"
