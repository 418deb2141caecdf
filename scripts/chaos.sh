#!/usr/bin/env bash
# The chaos test (crates/postel/tests/chaos.rs) inside a network namespace of its own:
# thousands of queued messages through `postel queue run` with several workers while the
# relay (postel-sim) loses final replies, refuses and stalls, is restarted, has its
# connections reset (`ss -K`), the loopback delays, drops and reorders packets (netem when
# the kernel has it; else only a tbf rate limit: delay and backpressure, no loss or
# reordering), and `queue run` is SIGKILLed at random.
# Everything stays on the namespace's own loopback: nothing is routed off the machine.
#
#   scripts/chaos.sh                 # defaults: 2000 messages x 3 recipients, 4 workers, 60 s
#   POSTEL_CHAOS_MESSAGES=500 POSTEL_CHAOS_SECONDS=20 scripts/chaos.sh
#   POSTEL_CHAOS_SEED=12345 scripts/chaos.sh   # replay a run's fault draw
#
# Needs iproute2 (ip, tc, ss) and root for the namespace; without one (no CAP_NET_ADMIN) it
# runs the same test on the host loopback, without resets or a qdisc. Cleans up on any exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'chaos: %s\n' "$*" >&2; }

for tool in ip tc ss; do
    command -v "$tool" >/dev/null || { log "ERROR: $tool is missing (apt-get install iproute2)"; exit 1; }
done

ns="postel-chaos-$$"
cleanup() { ip netns del "$ns" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

log "building postel and the test"
# The paths as cargo reports them (CARGO_TARGET_DIR may move them).
executable() { sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1; }
postel_bin=$(cargo build -q -p postel-cli --bin postel --message-format=json | executable)
test_bin=$(cargo test -q -p postel --test chaos --no-run --message-format=json | executable)
[[ -x $postel_bin && -x $test_bin ]] || { log "ERROR: postel or the chaos test was not built"; exit 1; }

if ! ip netns add "$ns" 2>/dev/null; then
    # No network namespaces here (a container without CAP_NET_ADMIN): the same test on the
    # host's loopback, an ephemeral port, without resets or a qdisc (never `ss -K` outside a
    # namespace of our own).
    log "WARNING: cannot create a network namespace: running without resets or a qdisc"
    POSTEL_CHAOS=1 POSTEL_BIN="$postel_bin" "$test_bin" --exact chaos_queue_run_under_faults --nocapture
    exit 0
fi
ip -n "$ns" link set lo up
if ip netns exec "$ns" tc qdisc add dev lo root netem delay 2ms 1ms loss 0.5% reorder 5% 2>/dev/null; then
    log "loopback: netem delay 2ms±1ms, loss 0.5%, reordering 5%"
else
    # No sch_netem in this kernel (nor act_gact for random drops): a tight token bucket at
    # least delays bursts and pushes back on the senders. Its "dropped" count is printed.
    ip netns exec "$ns" tc qdisc add dev lo root tbf rate 4mbit burst 8kb limit 12kb
    log "loopback: netem unavailable in this kernel; tbf 4mbit, burst 8kb, a 12kb queue (delay only: no loss, no reordering)"
fi

status=0
ip netns exec "$ns" env POSTEL_CHAOS=1 POSTEL_CHAOS_NETNS=1 \
    POSTEL_BIN="$postel_bin" "$test_bin" --exact chaos_queue_run_under_faults --nocapture ||
    status=$?
ip netns exec "$ns" tc -s qdisc show dev lo | sed -n 's/^ *Sent/loopback qdisc: sent/p' | while read -r l; do log "$l"; done
exit "$status"
