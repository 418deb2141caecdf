#!/usr/bin/env bash
# Prove the private Postfix instance behaves the way Postel's client tests rely on.
#
#   scripts/postfix-selftest.sh [STATE_DIR] [-- postfix-check.py args, e.g. --ehlo -v]
#
# Expects scripts/postfix-up.sh to have run. Quiet on success.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
STATE=${POSTEL_POSTFIX_STATE:-$REPO/target/postfix}
if [[ $# -gt 0 && $1 != -* ]]; then
    STATE=$1
    shift
fi
[[ ${1-} == -- ]] && shift

ENVFILE=$STATE/env
if [[ ! -f $ENVFILE ]]; then
    echo "postfix-selftest: ERROR: $ENVFILE missing: run scripts/postfix-up.sh first" >&2
    exit 1
fi
if ! python3 "$HERE/postfix-check.py" --env "$ENVFILE" "$@"; then
    # shellcheck disable=SC1090
    log=$(. "$ENVFILE" && echo "$POSTEL_POSTFIX_LOG")
    echo "---- last lines of $log ----" >&2
    tail -n 40 "$log" >&2 || true
    echo "postfix-selftest: FAILED" >&2
    exit 1
fi
