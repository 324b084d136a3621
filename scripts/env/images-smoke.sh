#!/usr/bin/env bash
# End-to-end check of the local images on the swarm, the way the stacks use them:
#   - Keycloak (start --optimized) on PostgreSQL over an overlay network with dnsrr services:
#     /health/ready on the management port answers 200 and the admin API issues a token;
#   - Traefik's swarm provider routes a Host header to a labelled whoami service.
#
#   scripts/env/images-smoke.sh        (after docker.sh and images.sh; takes 1-4 minutes)
#
# Deploys the stack "cc-ci-smoke" and always removes it again (services, network, volumes).
# Uses host ports 18080, 19000 and 18081 (host-mode publishing: no ingress mesh here).
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

STACK=cc-ci-smoke
KC_PORT=18080 KC_MGMT_PORT=19000 WEB_PORT=18081
TIMEOUT="${SMOKE_TIMEOUT:-420}"
ADMIN_PASSWORD="smoke-$RANDOM$RANDOM"

docker info >/dev/null 2>&1 || die "the Docker engine does not answer; run scripts/env/docker.sh first"
if docker stack ls --format '{{.Name}}' | grep -qx "$STACK"; then
  die "stack $STACK already exists (another smoke run?); remove it with: docker stack rm $STACK"
fi

cleanup() {
  log "removing stack $STACK"
  docker stack rm "$STACK" >/dev/null 2>&1 || true
  # Tasks' containers and the network go away asynchronously; the volume can only be removed
  # once the last container using it is gone.
  for _ in $(seq 1 60); do
    if [ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$STACK")" ] \
      && ! docker network inspect "${STACK}_net" >/dev/null 2>&1; then
      break
    fi
    sleep 1
  done
  docker volume rm "${STACK}_db" >/dev/null 2>&1 || log "warning: could not remove volume ${STACK}_db"
}
trap cleanup EXIT

stack_file="$(mktemp)"
cat >"$stack_file" <<EOF
version: "3.8"
networks:
  net:
    driver: overlay
volumes:
  db:
services:
  db:
    image: cc-ci/postgres:15
    environment:
      POSTGRES_USER: keycloak
      POSTGRES_PASSWORD: dbsecret
      POSTGRES_DB: keycloak
    volumes: [db:/var/lib/postgresql/data]
    networks: [net]
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "keycloak", "-d", "keycloak"]
      interval: 5s
    deploy: {endpoint_mode: dnsrr}
  keycloak:
    image: cc-ci/keycloak:$KEYCLOAK_VERSION
    command: ["start", "--optimized"]
    environment:
      KC_DB: postgres
      KC_DB_URL: jdbc:postgresql://db:5432/keycloak
      KC_DB_USERNAME: keycloak
      KC_DB_PASSWORD: dbsecret
      KC_BOOTSTRAP_ADMIN_USERNAME: admin
      KC_BOOTSTRAP_ADMIN_PASSWORD: $ADMIN_PASSWORD
      KC_HTTP_ENABLED: "true"
      KC_HOSTNAME_STRICT: "false"
      KC_PROXY_HEADERS: xforwarded
    networks: [net]
    ports:
      - {target: 8080, published: $KC_PORT, mode: host}
      - {target: 9000, published: $KC_MGMT_PORT, mode: host}
    healthcheck:
      test: ["CMD", "kc-health"]
      interval: 10s
      start_period: 300s
    deploy: {endpoint_mode: dnsrr}
  traefik:
    image: cc-ci/traefik:$TRAEFIK_VERSION
    command:
      - --providers.swarm.exposedByDefault=false
      - --providers.swarm.network=${STACK}_net
      - --entrypoints.web.address=:80
      - --ping=true
      - --global.checkNewVersion=false
    networks: [net]
    ports:
      - {target: 80, published: $WEB_PORT, mode: host}
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock:ro
    healthcheck:
      test: ["CMD", "traefik", "healthcheck", "--ping"]
      interval: 5s
    deploy:
      endpoint_mode: dnsrr
      placement: {constraints: [node.role == manager]}
  whoami:
    image: cc-ci/whoami:1
    networks: [net]
    deploy:
      endpoint_mode: dnsrr
      replicas: 2
      labels:
        traefik.enable: "true"
        traefik.http.routers.smoke.rule: Host(\`smoke.test\`)
        traefik.http.routers.smoke.entrypoints: web
        traefik.http.services.smoke.loadbalancer.server.port: "80"
EOF
log "deploying stack $STACK"
# (Its stderr only says that tasks are created in the background.)
docker stack deploy -c "$stack_file" "$STACK" >/dev/null 2>&1 \
  || docker stack deploy -c "$stack_file" "$STACK" >/dev/null
rm -f "$stack_file"

# wait_for DESCRIPTION COMMAND...: retry COMMAND every 3 s until it succeeds or TIMEOUT passes.
started=$SECONDS
wait_for() {
  local what="$1"; shift
  until "$@" >/dev/null 2>&1; do
    if [ $((SECONDS - started)) -ge "$TIMEOUT" ]; then
      docker stack ps --no-trunc "$STACK" >&2 || true
      local s
      for s in db keycloak traefik whoami; do
        echo "--- ${STACK}_$s logs:" >&2
        docker service logs --tail 20 "${STACK}_$s" >&2 2>&1 || true
      done
      die "timed out after ${TIMEOUT}s waiting for: $what"
    fi
    sleep 3
  done
  log "ok after $((SECONDS - started))s: $what"
}

routed() { curl -fsS -H 'Host: smoke.test' "http://127.0.0.1:$WEB_PORT/" | grep -q '^Host: smoke.test'; }
kc_ready() { curl -fsS "http://127.0.0.1:$KC_MGMT_PORT/health/ready" | grep -q '"UP"'; }
kc_token() {
  curl -fsS "http://127.0.0.1:$KC_PORT/realms/master/protocol/openid-connect/token" \
    -d client_id=admin-cli -d grant_type=password -d username=admin \
    --data-urlencode "password=$ADMIN_PASSWORD" | grep -q '"access_token"'
}

wait_for "traefik routes Host smoke.test to whoami" routed
wait_for "keycloak /health/ready is UP on :9000" kc_ready
wait_for "keycloak admin-cli token for the bootstrap admin" kc_token
log "images smoke test passed"
