#!/usr/bin/env bash
# Start a private PostgreSQL 15 cluster for the queue's database tests.
#
#   scripts/postgres-up.sh [STATE_DIR]      (default: $REPO/target/postgres)
#
# The cluster (data, socket, log) lives under STATE_DIR, run by the `postgres` user
# (PostgreSQL refuses root) with Debian's /usr/lib/postgresql/15/bin/{initdb,pg_ctl};
# nothing touches the system's clusters or port 5432. It listens on 127.0.0.1 and a
# unix socket in STATE_DIR/run, trusts local connections (tests only), and has one
# database, `postel`. Writes STATE_DIR/env with `export POSTEL_PG_*=...` lines:
#   POSTEL_PG_URL         postgres://postgres@127.0.0.1:PORT/postel
#   POSTEL_PG_SOCKET_URL  host=STATE_DIR/run port=PORT user=postgres dbname=postel
#   POSTEL_PG_PORT, POSTEL_PG_DATA, POSTEL_PG_BIN, POSTEL_PG_STATE
# Knobs: POSTEL_PG_PORT (default 12432), POSTEL_PG_LISTEN (more addresses to listen on,
# comma-separated, e.g. a veth address of the chaos test), POSTEL_PG_TRUST (more CIDRs
# to trust, space-separated). Idempotent: a running cluster is left alone.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
STATE=${1:-${POSTEL_PG_STATE:-$REPO/target/postgres}}
PORT=${POSTEL_PG_PORT:-12432}
BIN=${POSTEL_PG_BIN:-/usr/lib/postgresql/15/bin}

log() { printf 'postgres-up: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (it runs the cluster as the postgres user)"
for b in initdb pg_ctl psql; do
    [[ -x $BIN/$b ]] || die "$BIN/$b not found: run scripts/install-deps.sh (package postgresql)"
done
id postgres >/dev/null 2>&1 || die "no postgres user: run scripts/install-deps.sh"

mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd -P)
as_pg() { runuser -u postgres -- "$@"; }

# The postgres user must reach the data and socket folders, and a socket path must stay
# short (< 108 bytes): else the cluster lives under /tmp, STATE/run a symlink to it.
traversable() {
    local d=$1
    while [[ -n $d && $d != / ]]; do
        as_pg test -x "$d" 2>/dev/null || return 1
        d=$(dirname "$d")
    done
}
RUN=$STATE/run
[[ -L $RUN ]] && rm -f "$RUN"
if ! traversable "$STATE" || ((${#RUN} > 80)); then
    h=$(printf '%s' "$STATE" | sha1sum | cut -c1-10)
    ALT=/tmp/postel-pg-$h
    mkdir -p "$ALT"
    chmod 0755 "$ALT"
    rm -rf "$RUN"
    ln -s "$ALT" "$RUN"
    RUN=$ALT
fi
mkdir -p "$RUN"
chown postgres: "$RUN"
chmod 0755 "$RUN"
DATA=$RUN/data
SOCK=$RUN

write_env() {
    cat >"$STATE/env" <<ENV
export POSTEL_PG_STATE=$STATE
export POSTEL_PG_BIN=$BIN
export POSTEL_PG_DATA=$DATA
export POSTEL_PG_PORT=$PORT
export POSTEL_PG_URL=postgres://postgres@127.0.0.1:$PORT/postel
export POSTEL_PG_SOCKET_URL='host=$SOCK port=$PORT user=postgres dbname=postel'
ENV
}

if [[ -f $DATA/postmaster.pid ]] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    log "already running ($DATA, port $PORT)"
    write_env
    exit 0
fi

if [[ ! -f $DATA/PG_VERSION ]]; then
    rm -rf "$DATA"
    install -d -o postgres -g postgres -m 0700 "$DATA"
    as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --no-locale >"$RUN/initdb.log" 2>&1 ||
        { cat "$RUN/initdb.log" >&2; die "initdb failed"; }
fi

LISTEN=127.0.0.1${POSTEL_PG_LISTEN:+,$POSTEL_PG_LISTEN}
cat >"$DATA/postgresql.auto.conf" <<CONF
# Written by scripts/postgres-up.sh (each start).
listen_addresses = '$LISTEN'
port = $PORT
unix_socket_directories = '$SOCK'
max_connections = 200
shared_buffers = 64MB
logging_collector = off
log_min_messages = warning
CONF
{
    echo "# Written by scripts/postgres-up.sh: test cluster, trusted local connections only."
    echo "local all all trust"
    echo "host all all 127.0.0.1/32 trust"
    for cidr in ${POSTEL_PG_TRUST:-}; do
        echo "host all all $cidr trust"
    done
} >"$DATA/pg_hba.conf"
chown postgres: "$DATA/postgresql.auto.conf" "$DATA/pg_hba.conf"

as_pg "$BIN/pg_ctl" -D "$DATA" -l "$RUN/postgres.log" -w -t 60 start >/dev/null ||
    { tail -20 "$RUN/postgres.log" >&2; die "the cluster did not start"; }
if ! as_pg "$BIN/psql" -h "$SOCK" -p "$PORT" -U postgres -d postgres -tAq \
    -c "SELECT 1 FROM pg_database WHERE datname = 'postel'" | grep -q 1; then
    as_pg "$BIN/psql" -h "$SOCK" -p "$PORT" -U postgres -d postgres -q -c "CREATE DATABASE postel"
fi
write_env
log "running: $DATA, 127.0.0.1:$PORT, socket $SOCK (source $STATE/env)"
