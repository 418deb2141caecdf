#!/usr/bin/env bash
# Stop the private PostgreSQL cluster of scripts/postgres-up.sh (its files are kept).
#
#   scripts/postgres-down.sh [STATE_DIR]    (default: $REPO/target/postgres)
#   POSTEL_PG_WIPE=1: also delete its data.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
STATE=${1:-${POSTEL_PG_STATE:-$REPO/target/postgres}}
BIN=${POSTEL_PG_BIN:-/usr/lib/postgresql/15/bin}
[[ -d $STATE ]] || exit 0
RUN=$STATE/run
DATA=$RUN/data
if [[ -f $DATA/postmaster.pid ]]; then
    runuser -u postgres -- "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 ||
        printf 'postgres-down: the cluster in %s did not stop cleanly\n' "$DATA" >&2
fi
if [[ ${POSTEL_PG_WIPE:-0} == 1 ]]; then
    target=$(readlink -f "$RUN" || true)
    rm -rf "$DATA"
    [[ -n $target && $target == /tmp/postel-pg-* ]] && rm -rf "$target"
    rm -rf "$STATE"
fi
