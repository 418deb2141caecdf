#!/usr/bin/env bash
# Runs every test of the project on a fresh Debian 12 machine (as root):
# installs what the tests need (Postfix, Cyrus SASL, swaks, openssl), starts a private
# loopback Postfix, runs the Rust test suites (unit, integration, doc, against the
# simulator and the real Postfix), and stops Postfix again.
#
#   scripts/test.sh            # everything
#   scripts/test.sh -p postel  # extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "installing test dependencies"
bash scripts/install-deps.sh
# nodemailer's smtp-server for crates/postel/tests/smtp_server_node.rs (npm ci; node via apt if missing)
bash scripts/node-deps.sh

step "starting the loopback Postfix"
bash scripts/postfix-up.sh
trap 'bash scripts/postfix-down.sh >/dev/null 2>&1 || true; bash scripts/exim-down.sh >/dev/null 2>&1 || true' EXIT
# shellcheck disable=SC1091
source target/postfix/env
bash scripts/postfix-selftest.sh

# Exim 4.96 from Debian's .debs, unpacked under target/exim (it conflicts with postfix as a package).
step "starting the loopback Exim"
bash scripts/exim-up.sh
# shellcheck disable=SC1091
source target/exim/env

# Tests that need a real server fail (never skip) when this is set.
export POSTEL_REQUIRE_SERVERS=1

step "postel-proto builds without default features (no_std, no heap)"
cargo build -p postel-proto --no-default-features

step "cargo test --workspace --all-features"
cargo test --workspace --all-features "$@"
