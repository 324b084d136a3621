#!/usr/bin/env bash
# Wildcard DNS for the CI domain(s) on this machine, as wildcard DNS does in production: every
# name under each domain (and the domain itself) resolves to one address that leads to Traefik's
# host-mode published ports — on the host, in plain containers and in swarm tasks alike.
#
#   scripts/env/dns.sh [DOMAIN...]     set up (default domain: ci.test); prints the resolver IP
#   scripts/env/dns.sh --remove        stop it and put the host's resolver configuration back
#   scripts/env/dns.sh --status        print what is in place
#
# How (each point was checked on this machine, Docker 20.10; see the network findings):
#   - dnsmasq (Debian's dnsmasq-base: the binary without its init script and default config)
#     listens on ONE address, CC_CI_DNS_IP (default 169.254.53.53), added as a /32 on `lo`. It is
#     a host address outside every Docker pool, so it exists before Docker does and survives
#     bridge re-creation; the kernel here has no `dummy` module, and `lo` works everywhere.
#     Containers reach it through their gateway (docker_gwbridge, docker0) like any host address;
#     nothing outside the machine can, since it is on `lo` and routed nowhere. bind-dynamic: it
#     never binds 0.0.0.0 (no clash with another resolver on :53, no exposure on eth0).
#   - /etc/resolv.conf names CC_CI_DNS_IP only (see write_resolv for why no fallback line; if
#     dnsmasq dies, lookups fail at once with "connection refused" — rerun this script, or
#     --remove to go back). Docker copies the host's file into
#     new containers and its embedded DNS (127.0.0.11, user-defined and overlay networks, swarm
#     tasks) forwards to those servers from inside the container, so no `--dns` or
#     `dns_config` is needed anywhere. A 127.x resolver would NOT do: Docker 20.10 drops
#     loopback nameservers and falls back to 8.8.8.8/8.8.4.4, and even `--dns 127.0.0.1` is
#     tried from the container's own namespace.
#   - `local=/DOMAIN/` + `address=/DOMAIN/IP`: A queries get IP, AAAA and other types get an
#     empty answer; nothing under the CI domain is ever forwarded upstream.
#   - Everything else goes to the host's original nameservers (saved on first run).
# Containers created before this ran keep the resolver they started with (restart them).
# Do not use `*.localhost` as the CI domain: curl, Chromium and others resolve it to loopback
# themselves, without asking DNS, so inside a container it never reaches Traefik.
#
# Environment:
#   CC_CI_DNS_IP      address dnsmasq listens on (default 169.254.53.53)
#   CC_CI_DNS_ANSWER  address the CI names resolve to (default: CC_CI_DNS_IP; any address of
#                     this host reaches host-mode published ports — on a multi-node swarm use the
#                     address of the node that runs Traefik)
#
# Idempotent: re-running with the same arguments changes nothing; with other domains it rewrites
# the configuration and restarts dnsmasq. --remove undoes every step.
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DNS_IP="${CC_CI_DNS_IP:-169.254.53.53}"
DNS_ANSWER="${CC_CI_DNS_ANSWER:-$DNS_IP}"
DNS_DIR="${CC_CI_DNS_DIR:-/var/lib/cc-ci/dns}"   # state, not cache: holds the original resolv.conf
CONF="$DNS_DIR/dnsmasq.conf"
PIDFILE="$DNS_DIR/dnsmasq.pid"
ORIG="$DNS_DIR/resolv.conf.orig"
ORIG_LINK="$DNS_DIR/resolv.conf.orig-symlink"
RESOLV=/etc/resolv.conf
MARKER="# managed by cc-ci scripts/env/dns.sh"
LO_LABEL="lo:ccci-dns"

valid_ipv4() { [[ "$1" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]]; }
valid_domain() { [[ "$1" =~ ^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$ ]]; }

# The pid file names a live dnsmasq (not a recycled pid of something else).
running() { [ -s "$PIDFILE" ] && [ "$(cat "/proc/$(cat "$PIDFILE")/comm" 2>/dev/null)" = dnsmasq ]; }
ours() { grep -qxF "$MARKER" "$RESOLV" 2>/dev/null; }

stop_dnsmasq() {
  if running; then
    as_root kill "$(cat "$PIDFILE")"
    local _
    for _ in 1 2 3 4 5 6 7 8 9 10; do running || break; sleep 0.2; done
  fi
  as_root rm -f "$PIDFILE"
}

# The nameservers of the original configuration, minus our own address (no forwarding loop).
upstreams() {
  awk -v me="$DNS_IP" '$1 == "nameserver" && $2 != me { print $2 }' "$ORIG"
}

save_original() {
  as_root mkdir -p "$DNS_DIR"
  if ours; then
    [ -s "$ORIG" ] || die "$RESOLV is managed by cc-ci but the saved original $ORIG is missing; restore $RESOLV by hand"
    return
  fi
  # A resolv.conf that is not ours is the truth now (the machine may have been re-provisioned):
  # save it again. A symlink (systemd-resolved) is recorded so --remove restores the link.
  if [ -L "$RESOLV" ]; then readlink "$RESOLV" | as_root tee "$ORIG_LINK" >/dev/null; else as_root rm -f "$ORIG_LINK"; fi
  as_root cp "$RESOLV" "$ORIG.part"
  as_root mv "$ORIG.part" "$ORIG"
}

ensure_address() {
  if ! ip -4 -o addr show dev lo | grep -qw "$DNS_IP/32"; then
    log "adding $DNS_IP/32 to lo"
    as_root ip addr add "$DNS_IP/32" dev lo label "$LO_LABEL"
  fi
}

install_dnsmasq() {
  command -v dnsmasq >/dev/null 2>&1 && return
  log "installing dnsmasq-base from Debian"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dnsmasq-base >/dev/null
  command -v dnsmasq >/dev/null 2>&1 || die "dnsmasq-base installed but dnsmasq is not on PATH"
}

write_config() {
  local tmp d s
  tmp="$(mktemp)"
  {
    echo "# generated by scripts/env/dns.sh; do not edit"
    echo "listen-address=$DNS_IP"
    # bind-dynamic: bind only listen-address (never 0.0.0.0), and re-bind if the address comes back.
    echo "bind-dynamic"
    echo "port=53"
    # Upstreams come from the saved original, not from the resolv.conf we rewrite.
    echo "no-resolv"
    echo "no-poll"
    # /etc/hosts aliases such as 'localhost' or the host name must not leak into containers.
    echo "no-hosts"
    echo "domain-needed"
    echo "bogus-priv"
    echo "cache-size=1000"
    echo "local-ttl=10"
    echo "pid-file=$PIDFILE"
    echo "log-facility=$DNS_DIR/dnsmasq.log"
    for d in "${DOMAINS[@]}"; do
      echo "local=/$d/"
      echo "address=/$d/$DNS_ANSWER"
    done
    for s in $(upstreams); do echo "server=$s"; done
  } >"$tmp"
  if ! as_root cmp -s "$tmp" "$CONF"; then
    as_root dnsmasq --test --conf-file="$tmp" >/dev/null 2>&1 || { rm -f "$tmp"; die "dnsmasq rejects the generated configuration"; }
    as_root mv "$tmp" "$CONF"
    stop_dnsmasq   # restarted below with the new configuration
  else
    rm -f "$tmp"
  fi
}

start_dnsmasq() {
  running && return
  log "starting dnsmasq on $DNS_IP:53 for ${DOMAINS[*]} (log: $DNS_DIR/dnsmasq.log)"
  # dnsmasq daemonises itself and writes its pid file; it outlives this script.
  as_root dnsmasq --conf-file="$CONF"
  local _
  for _ in $(seq 1 25); do running && return; sleep 0.2; done
  die "dnsmasq did not start; see $DNS_DIR/dnsmasq.log"
}

write_resolv() {
  local tmp
  tmp="$(mktemp)"
  {
    echo "$MARKER"
    echo "# original: $ORIG (put back with: scripts/env/dns.sh --remove)"
    # Only dnsmasq, no fallback upstreams: Docker 20.10's embedded DNS asks the NEXT server when
    # one answers NXDOMAIN, so a second line would send every unknown name (single-label service
    # names included) past dnsmasq, straight from the container — and where the firewall denies
    # that route, each such lookup hangs until timeout (measured: 12 s instead of 0 s).
    echo "nameserver $DNS_IP"
    # Keep the original search domains and options, but not its nameservers.
    grep -E '^(search|domain|options|sortlist)[[:space:]]' "$ORIG" || true
  } >"$tmp"
  if ! cmp -s "$tmp" "$RESOLV" || [ -L "$RESOLV" ]; then
    log "pointing $RESOLV at $DNS_IP"
    # Replace a symlink by a file; write a file in place (it may be a bind mount, which a rename
    # would fail on).
    [ -L "$RESOLV" ] && as_root rm -f "$RESOLV"
    as_root sh -c "cat '$tmp' > '$RESOLV'"
    as_root chmod 644 "$RESOLV"
  fi
  rm -f "$tmp"
}

verify() {
  local d got
  for d in "${DOMAINS[@]}"; do
    got="$(getent ahostsv4 "cc-ci-probe.$d" | awk 'NR == 1 { print $1 }')"
    if [ "$got" != "$DNS_ANSWER" ]; then
      remove
      die "cc-ci-probe.$d resolved to '${got:-nothing}', not $DNS_ANSWER; configuration removed"
    fi
  done
}

remove() {
  stop_dnsmasq
  if ours; then
    if [ -s "$ORIG_LINK" ]; then
      log "restoring the $RESOLV symlink to $(cat "$ORIG_LINK")"
      as_root ln -sfn "$(cat "$ORIG_LINK")" "$RESOLV"
    elif [ -s "$ORIG" ]; then
      log "restoring $RESOLV from $ORIG"
      as_root sh -c "cat '$ORIG' > '$RESOLV'"
    else
      die "$RESOLV is ours but $ORIG is missing; fix $RESOLV by hand"
    fi
  fi
  if ip -4 -o addr show dev lo | grep -qw "$DNS_IP/32"; then
    as_root ip addr del "$DNS_IP/32" dev lo
  fi
  as_root rm -f "$CONF" "$ORIG_LINK"
}

status() {
  echo "resolver address: $DNS_IP ($(ip -4 -o addr show dev lo | grep -qw "$DNS_IP/32" && echo present || echo absent) on lo)"
  echo "dnsmasq: $(running && echo "running, pid $(cat "$PIDFILE")" || echo "not running")"
  echo "resolv.conf: $(ours && echo managed || echo "not managed")"
  if [ -f "$CONF" ]; then grep -E '^(address|server)=' "$CONF" || true; fi
}

DOMAINS=()
case "${1:-}" in
  --remove) remove; log "wildcard DNS removed"; exit 0 ;;
  --status) status; exit 0 ;;
  -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
esac
[ "$#" -gt 0 ] && DOMAINS=("$@") || DOMAINS=(ci.test)
for d in "${DOMAINS[@]}"; do
  valid_domain "$d" || die "not a domain name: $d"
  case "$d" in localhost|*.localhost) die "$d: clients resolve *.localhost to loopback themselves; pick another domain" ;; esac
done
valid_ipv4 "$DNS_IP" || die "CC_CI_DNS_IP is not an IPv4 address: $DNS_IP"
valid_ipv4 "$DNS_ANSWER" || die "CC_CI_DNS_ANSWER is not an IPv4 address: $DNS_ANSWER"

install_dnsmasq
save_original
[ -n "$(upstreams)" ] || log "warning: no upstream nameserver in $ORIG; only the CI domains will resolve"
ensure_address
write_config
start_dnsmasq
write_resolv
verify
log "wildcard DNS for ${DOMAINS[*]} -> $DNS_ANSWER, resolver $DNS_IP (host and containers)"
echo "$DNS_IP"
