#!/usr/bin/env bash
# Stop the private Postfix instance started by scripts/postfix-up.sh.
#
#   scripts/postfix-down.sh [STATE_DIR]      (default: $REPO/target/postfix)
#
# Idempotent: succeeds if the instance is not running or was never created.
# Leaves STATE_DIR in place (Maildir, log, PKI) for post-mortems.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
STATE=${1:-${POSTEL_POSTFIX_STATE:-$REPO/target/postfix}}

log() { printf 'postfix-down: %s\n' "$*" >&2; }

[[ -d $STATE ]] || exit 0
STATE=$(cd "$STATE" && pwd -P)
RUN=$STATE/run
[[ -L $RUN ]] && RUN=$(readlink -f "$RUN")
CONF=$RUN/conf
[[ -f $CONF/main.cf ]] || exit 0
command -v postfix >/dev/null || exit 0

PF=(postfix -c "$CONF")
"${PF[@]}" status >/dev/null 2>&1 || exit 0

out=$("${PF[@]}" stop 2>&1) || { printf '%s\n' "$out" >&2; log "postfix stop failed"; }

# `postfix stop` returns before master has exited; wait for it (then, as a last
# resort, kill the master whose pid is recorded in this instance's pid file).
pidfile=$RUN/queue/pid/master.pid
for _ in $(seq 100); do
    "${PF[@]}" status >/dev/null 2>&1 || exit 0
    sleep 0.1
done
if [[ -f $pidfile ]]; then
    pid=$(tr -dc 0-9 <"$pidfile")
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        log "master (pid $pid) did not stop; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
fi
if "${PF[@]}" status >/dev/null 2>&1; then
    log "ERROR: postfix instance in $CONF is still running"
    exit 1
fi
