#!/usr/bin/env bash
# Postel's benchmarks against lettre, mail-send, Python's smtplib, Postfix's smtp-source, msmtp
# and swaks (crates/bench). Prints the tables and writes BENCHMARKS.md (full mode) or
# $CARGO_TARGET_DIR/BENCHMARKS.partial.md (--quick, --only).
#
#   scripts/bench.sh            # full: ~10-15 min on 2 cores, starts a private Postfix
#   scripts/bench.sh --quick    # seconds-long runs and 1 MB attachments: proves it still works
#   scripts/bench.sh --only rtt --no-postfix   # sections: rtt loopback concurrent large cpu syscalls
#                                              #   cold tls reconnect queue
#                                              #   cold tls reconnect
#
# Needs: /usr/sbin/smtp-sink and smtp-source (Debian's postfix package: scripts/install-deps.sh)
# and python3. Optional: msmtp and swaks (else the cold section leaves them out), valgrind and
# strace (else the cpu, reconnect and syscalls sections say they were not measured), and root for the private Postfix (else its figures are skipped).
# Exits non-zero if any run failed.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE/.."
for b in /usr/sbin/smtp-sink /usr/sbin/smtp-source python3; do
    command -v "$b" >/dev/null || { echo "bench.sh: $b not found: run scripts/install-deps.sh" >&2; exit 1; }
done
# The queue section measures the database queue too when PostgreSQL is there: a private
# cluster of its own (scripts/postgres-up.sh, port 22432), stopped again on exit.
if [[ -z ${POSTEL_PG_URL:-} && $(id -u) -eq 0 && -x /usr/lib/postgresql/15/bin/pg_ctl ]]; then
    pg_state=${CARGO_TARGET_DIR:-$PWD/target}/postel-bench-postgres
    if POSTEL_PG_PORT=22432 bash scripts/postgres-up.sh "$pg_state" >&2; then
        trap 'bash scripts/postgres-down.sh "$pg_state" >/dev/null 2>&1 || true' EXIT
        # shellcheck disable=SC1091
        source "$pg_state/env"
    else
        echo "bench.sh: PostgreSQL did not start: the queue section measures the file queue only" >&2
    fi
fi
cargo run --release -q -p postel-bench -- "$@"
