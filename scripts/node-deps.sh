#!/usr/bin/env bash
# Installs nodemailer's smtp-server, the Node.js server of the interop tests
# (crates/postel/tests/smtp_server_node.rs), with `npm ci` from the committed
# crates/postel/tests/node/package-lock.json. When node or npm is missing (a fresh
# Debian 12), installs Debian's nodejs and npm with apt first (Node 18 there: the pinned
# smtp-server 3.19.7 is the last release that supports it).
#
# Idempotent: does nothing (no apt, no npm) when node_modules already matches the lockfile.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DIR=crates/postel/tests/node
STAMP=$DIR/node_modules/.postel-lock.sha256

log() { printf 'node-deps: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ $(id -u) -ne 0 ]]; then
    SUDO=sudo
else
    SUDO=
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    log "installing Debian's nodejs and npm"
    out=$(mktemp)
    trap 'rm -f "$out"' EXIT
    apt_get() {
        # Another apt may hold the lists lock for a moment (DPkg::Lock::Timeout covers
        # the dpkg lock only).
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            if $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -y -q "$@" >"$out" 2>&1; then
                return 0
            fi
            grep -qiE 'lock|temporarily unavailable|Could not get' "$out" || break
            sleep 6
        done
        cat "$out" >&2
        die "apt-get $* failed"
    }
    apt_get update
    apt_get install --no-install-recommends nodejs npm
fi
command -v node >/dev/null 2>&1 || die "node is still missing"
command -v npm >/dev/null 2>&1 || die "npm is still missing"

want=$(sha256sum "$DIR/package-lock.json" | cut -d' ' -f1)
if [[ -f $STAMP && $(cat "$STAMP") == "$want" && -f $DIR/node_modules/smtp-server/package.json ]]; then
    exit 0
fi

log "npm ci in $DIR (node $(node --version), npm $(npm --version))"
ok=
for attempt in 1 2 3; do
    # No lifecycle scripts: the packages need none, and none should run as root here.
    if (cd "$DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error); then
        ok=1
        break
    fi
    log "npm ci failed (attempt $attempt)"
    sleep $((attempt * 5))
done
[[ -n $ok ]] || die "npm ci failed in $DIR"
[[ -f $DIR/node_modules/smtp-server/package.json ]] || die "smtp-server missing after npm ci"
printf '%s\n' "$want" >"$STAMP"
