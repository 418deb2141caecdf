#!/usr/bin/env bash
# Stop the private Exim daemon started by scripts/exim-up.sh.
#
#   scripts/exim-down.sh [STATE_DIR]      (default: $REPO/target/exim)
#
# Idempotent: succeeds if the daemon is not running or was never created. Only the
# process in the instance's pid file is signalled, and only if it runs the instance's
# own binary. Leaves STATE_DIR (unpacked Exim, Maildir, log, PKI) in place.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
STATE=${1:-${POSTEL_EXIM_STATE:-$REPO/target/exim}}

log() { printf 'exim-down: %s\n' "$*" >&2; }

[[ -d $STATE ]] || exit 0
STATE=$(cd "$STATE" && pwd -P)
EXIM=$STATE/root/usr/sbin/exim4
RUN=$STATE/run
[[ -L $RUN ]] && RUN=$(readlink -f "$RUN")
PIDFILE=$RUN/exim.pid
[[ -f $PIDFILE ]] || exit 0

ours() { [[ -d /proc/$1 && $(readlink "/proc/$1/exe" 2>/dev/null) == "$EXIM" ]]; }
pid=$(tr -dc 0-9 <"$PIDFILE")
if [[ -z $pid ]] || ! ours "$pid"; then
    rm -f "$PIDFILE"
    exit 0
fi
kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 50); do
    ours "$pid" || { rm -f "$PIDFILE"; exit 0; }
    sleep 0.1
done
log "daemon (pid $pid) did not stop; sending SIGKILL"
kill -KILL "$pid" 2>/dev/null || true
sleep 0.3
if ours "$pid"; then
    log "ERROR: exim daemon $pid is still running"
    exit 1
fi
rm -f "$PIDFILE"
