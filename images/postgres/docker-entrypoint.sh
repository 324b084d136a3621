#!/usr/bin/env bash
# Entrypoint of cc-ci/postgres, compatible with the official postgres image's for:
#   POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE)  required unless POSTGRES_HOST_AUTH_METHOD=trust
#   POSTGRES_USER (default postgres), POSTGRES_DB (default $POSTGRES_USER), their _FILE forms
#   POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (default scram-sha-256), PGDATA
#   /docker-entrypoint-initdb.d/*.sh, *.sql, *.sql.gz run once, after the first initdb
# A shortened rewrite of upstream's script: what it does not do, we have not needed.
set -Eeuo pipefail

# VAR_FILE=/run/secrets/x sets VAR from the file (Docker secrets); setting both is an error.
file_env() {
  local var="$1" def="${2:-}" fvar="${1}_FILE" val
  if [ -n "${!var:-}" ] && [ -n "${!fvar:-}" ]; then
    echo >&2 "error: both $var and $fvar are set (but are exclusive)"; exit 1
  fi
  val="$def"
  if [ -n "${!var:-}" ]; then val="${!var}"
  elif [ -n "${!fvar:-}" ]; then val="$(<"${!fvar}")"; fi
  export "$var"="$val"
  unset "$fvar"
}

# Options (first arg starting with -) go to postgres.
if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi

if [ "$1" != postgres ]; then exec "$@"; fi

# Started as root: fix the ownership of the (possibly fresh, root-owned) volume, then run this
# script again as postgres. setpriv is util-linux's (essential), so no gosu is needed.
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  install -d -o postgres -g postgres -m 3777 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
    cat >&2 <<'MSG'
error: database is uninitialized and superuser password is not specified.
       Set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to a non-empty value for the
       superuser, or POSTGRES_HOST_AUTH_METHOD=trust to allow connections without a password.
MSG
    exit 1
  fi

  echo "initialising database cluster in $PGDATA"
  # The password goes through a file, not the command line (ps would show it).
  pwfile="$(mktemp)"
  pwopt=()
  if [ -n "$POSTGRES_PASSWORD" ]; then
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    pwopt=(--pwfile="$pwfile")
  fi
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words, as upstream
  initdb --username="$POSTGRES_USER" "${pwopt[@]}" --auth-local=trust \
    --auth-host="$auth" --encoding=UTF8 --locale=C.UTF-8 $POSTGRES_INITDB_ARGS
  rm -f "$pwfile"
  # Password auth from any address (the service is only reachable on its stack's networks).
  printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

  # A server on the socket only, to create the database and run the init scripts.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
  psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
  if [ "$POSTGRES_DB" != postgres ]; then
    "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    # shellcheck disable=SC1090 # sourcing the user's init scripts is the point
    case "$f" in
      *.sh) echo "running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
      *.sql) echo "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) echo "running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" ;;
      *) ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
  unset POSTGRES_PASSWORD
  echo "database cluster ready"
fi

exec "$@"
