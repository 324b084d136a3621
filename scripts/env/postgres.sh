#!/usr/bin/env bash
# PostgreSQL for shared state: Debian's server, started, with a role and a database for Pulumi's
# `postgres://` state backend (and cc-ci's leases and slot claims beside it). Several cc-ci agents —
# separate homes, processes or hosts — share one state by setting PULUMI_BACKEND_URL to the URL this
# writes. Idempotent: an existing cluster, role and database are kept; the password is generated
# once, kept in the URL file (mode 600) and never printed.
#
#   scripts/env/postgres.sh [--db NAME] [--url-file FILE]
#     default NAME ccci_state (role ccci), FILE /var/lib/cc-ci/postgres.url; another NAME gets a role
#     of the same name (the end-to-end suite's: --db ccci_e2e --url-file /var/lib/cc-ci-e2e/postgres.url)
#
# Prints the URL file's path. On hosts with a PostgreSQL of their own, set PULUMI_BACKEND_URL to it
# and skip this script.
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

url_file=/var/lib/cc-ci/postgres.url
DB=ccci_state
while [ $# -gt 0 ]; do
  case "$1" in
    --url-file) url_file="$2"; shift 2 ;;
    --db) DB="$2"; shift 2 ;;
    *) die "unknown option $1" ;;
  esac
done
[[ "$DB" =~ ^[a-z_][a-z0-9_]{0,40}$ ]] || die "--db: a plain lower-case name, not $DB"
if [ "$DB" = ccci_state ]; then ROLE=ccci; else ROLE="$DB"; fi

if ! command -v pg_lsclusters >/dev/null || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  log "installing PostgreSQL (Debian's package, through apt's sources)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null ||
    { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; } ||
    die "apt-get install postgresql failed"
fi

# The newest installed server version and its cluster (Debian's packages create "main").
version="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)"
cluster="$(pg_lsclusters -h | awk -v v="$version" '$1 == v { print $2; exit }')"
if [ -z "$cluster" ]; then
  log "creating PostgreSQL $version cluster main"
  as_root pg_createcluster "$version" main >/dev/null
  cluster=main
fi
if ! pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { print $4 }' | grep -q online; then
  log "starting PostgreSQL $version/$cluster"
  as_root pg_ctlcluster "$version" "$cluster" start
fi
port="$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { print $3 }')"
psql_root() { as_root runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qtA "$@"; }
# Logs in with the URL file's password through the environment, never the command line (ps shows that).
login_works() {
  local pw
  pw="$(sed -n 's#^postgres://[^:]*:\([^@]*\)@.*#\1#p' "$url_file" 2>/dev/null)"
  [ -n "$pw" ] && PGPASSWORD="$pw" psql -h 127.0.0.1 -p "$port" -U "$ROLE" -d "$DB" -qtAc 'select 1' >/dev/null 2>&1
}
for _ in $(seq 1 30); do psql_root -c 'select 1' >/dev/null 2>&1 && break; sleep 1; done
psql_root -c 'select 1' >/dev/null || die "PostgreSQL $version/$cluster does not answer on port $port"

# The URL works already: keep it (and its password).
if [ -s "$url_file" ] && login_works; then
  log "PostgreSQL $version/$cluster on 127.0.0.1:$port; state database $DB ready ($url_file)"
  echo "$url_file"
  exit 0
fi

password="$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | cut -c1-32)"
# The password goes in on stdin, not the command line.
if [ "$(psql_root -c "select 1 from pg_roles where rolname = '$ROLE'")" = 1 ]; then
  printf "alter role %s with login password '%s';\n" "$ROLE" "$password" | psql_root >/dev/null
else
  printf "create role %s with login password '%s';\n" "$ROLE" "$password" | psql_root >/dev/null
fi
if [ "$(psql_root -c "select 1 from pg_database where datname = '$DB'")" != 1 ]; then
  psql_root -c "create database $DB owner $ROLE" >/dev/null
fi
mkdir -p "$(dirname "$url_file")"
(umask 077 && printf 'postgres://%s:%s@127.0.0.1:%s/%s?sslmode=disable\n' "$ROLE" "$password" "$port" "$DB" >"$url_file.tmp")
mv "$url_file.tmp" "$url_file"
login_works || die "cannot log in to $DB as $ROLE with the new password"
log "PostgreSQL $version/$cluster on 127.0.0.1:$port; state database $DB ready ($url_file)"
echo "$url_file"
