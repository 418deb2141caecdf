#!/usr/bin/env bash
# The database queue's chaos test (crates/postel/tests/queue_pg_chaos.rs): 10,000 messages
# in PostgreSQL drained by 6 `postel queue run --store postgres://...` processes (2
# workers each) on three "machines": the hub, a network namespace of the test's own that
# holds the database and the relay, and two more namespaces that reach them over veth
# pairs (10.118.1.0/24, 10.118.2.0/24; no default route: nothing leaves this machine),
# while workers are SIGKILLed, PostgreSQL crashes and recovers (pg_ctl restart -m
# immediate), the relay restarts and loses replies, and connections are reset.
#
#   scripts/queue-pg-chaos.sh
#   POSTEL_PG_CHAOS_MESSAGES=2000 POSTEL_PG_CHAOS_PROCS=4 scripts/queue-pg-chaos.sh
#   POSTEL_PG_CHAOS_SEED=12345 scripts/queue-pg-chaos.sh     # replay a fault draw
#
# Its own PostgreSQL cluster (target/postgres-chaos, port 12433, inside the hub), wiped
# and stopped at the end. Needs root, iproute2 and PostgreSQL 15 (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd)

log() { printf 'pg-chaos: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for tool in ip ss runuser; do
    command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh)"
done
STATE=$REPO/target/postgres-chaos
PORT=${POSTEL_PG_CHAOS_PORT:-12433}
hub="postel-pgc-hub-$$"
machines=("postel-pgc-w1-$$" "postel-pgc-w2-$$")

cleanup() {
    POSTEL_PG_WIPE=1 bash scripts/postgres-down.sh "$STATE" >/dev/null 2>&1 || true
    for ns in "$hub" "${machines[@]}"; do
        ip netns del "$ns" 2>/dev/null || true
    done
}
trap cleanup EXIT INT TERM
cleanup

log "building postel and the test"
executable() { sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1; }
postel_bin=$(cargo build -q -p postel-cli --bin postel --message-format=json | executable)
test_bin=$(cargo test -q -p postel --features postgres --test queue_pg_chaos --no-run --message-format=json | executable)
[[ -x $postel_bin && -x $test_bin ]] || die "postel or the test was not built"

run_test() { "$@" "$test_bin" --exact workers_on_several_machines_drain_the_database_queue_under_faults --nocapture; }

if ! ip netns add "$hub" 2>/dev/null; then
    # No namespaces here (no CAP_NET_ADMIN): every worker on the host's loopback, no resets.
    log "WARNING: cannot create a network namespace: all workers on this host's loopback, no resets"
    POSTEL_PG_PORT=$PORT bash scripts/postgres-up.sh "$STATE"
    # shellcheck disable=SC1091
    source "$STATE/env"
    run_test env POSTEL_PG_CHAOS=1 POSTEL_BIN="$postel_bin" POSTEL_PG_URL="$POSTEL_PG_URL" \
        POSTEL_PG_DATA="$POSTEL_PG_DATA" POSTEL_PG_BIN="$POSTEL_PG_BIN"
    exit 0
fi
ip -n "$hub" link set lo up
pairs=()
listen=()
trust=()
k=0
for ns in "${machines[@]}"; do
    k=$((k + 1))
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add "pgc${k}h" netns "$hub" type veth peer name "pgc${k}w" netns "$ns"
    ip -n "$hub" addr add "10.118.$k.1/24" dev "pgc${k}h"
    ip -n "$ns" addr add "10.118.$k.2/24" dev "pgc${k}w"
    ip -n "$hub" link set "pgc${k}h" up
    ip -n "$ns" link set "pgc${k}w" up
    # A little latency on the "other machines'" links when the kernel has netem.
    ip netns exec "$ns" tc qdisc add dev "pgc${k}w" root netem delay 1ms 2>/dev/null || true
    pairs+=("$ns=10.118.$k.1")
    listen+=("10.118.$k.1")
    trust+=("10.118.$k.0/24")
done
log "machines: ${pairs[*]} (veth pairs to the hub $hub)"

ip netns exec "$hub" env POSTEL_PG_PORT="$PORT" POSTEL_PG_LISTEN="$(IFS=,; echo "${listen[*]}")" \
    POSTEL_PG_TRUST="${trust[*]}" bash scripts/postgres-up.sh "$STATE"
# shellcheck disable=SC1091
source "$STATE/env"

run_test ip netns exec "$hub" env POSTEL_PG_CHAOS=1 POSTEL_PG_CHAOS_NETNS=1 \
    POSTEL_BIN="$postel_bin" POSTEL_PG_URL="$POSTEL_PG_URL" POSTEL_PG_DATA="$POSTEL_PG_DATA" \
    POSTEL_PG_BIN="$POSTEL_PG_BIN" POSTEL_PG_CHAOS_MACHINES="${pairs[*]}"
