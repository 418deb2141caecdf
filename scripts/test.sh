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
trap 'bash scripts/postfix-down.sh >/dev/null 2>&1 || true; bash scripts/exim-down.sh >/dev/null 2>&1 || true; bash scripts/postgres-down.sh >/dev/null 2>&1 || true' EXIT
# shellcheck disable=SC1091
source target/postfix/env
bash scripts/postfix-selftest.sh

# Exim 4.96 from Debian's .debs, unpacked under target/exim (it conflicts with postfix as a package).
step "starting the loopback Exim"
bash scripts/exim-up.sh
# shellcheck disable=SC1091
source target/exim/env

# PostgreSQL 15 for the queue's database tests (crates/*/tests/queue_pg.rs): a private
# cluster under target/postgres on 127.0.0.1:12432 (docs/queue-postgres.md).
step "starting the private PostgreSQL"
bash scripts/postgres-up.sh
# shellcheck disable=SC1091
source target/postgres/env

# Tests that need a real server fail (never skip) when this is set.
export POSTEL_REQUIRE_SERVERS=1

step "postel-proto builds without default features (no_std, no heap, no AUTH mechanism)"
cargo build -p postel-proto --no-default-features
# AUTH mechanisms left out of the build are never chosen and refused by name (flash control).
cargo test -p postel-proto --no-default-features --lib --test auth_features
cargo test -p postel-proto --no-default-features --features auth-login --lib --test auth_features

step "postel-proto and postel-device build for a Cortex-M3 (thumbv7m-none-eabi, no heap)"
# Debian's rustc-web with its own std sources (rust-web-src): the same version for both,
# which -Zbuild-std needs. The rustup proxies come first on PATH, hence the full paths.
thumb() {
    env -u RUSTFLAGS -u CARGO_TARGET_DIR RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
        /usr/bin/cargo build --release --target thumbv7m-none-eabi -Zbuild-std=core \
        --target-dir target/thumb "$@"
}
thumb -p postel-proto --no-default-features
thumb -p postel-proto --no-default-features --features embedded-io,embedded-io-async
thumb -p postel-device

step "the async driver loop type-checks over embassy-net's TcpSocket"
bash scripts/embassy-check.sh

step "postel builds with every combination of its features (tokio, mx, queue, postgres)"
bash scripts/features.sh

step "cargo test --workspace --all-features"
cargo test --workspace --all-features "$@"

# The firmware under QEMU (mps2-an385) against the loopback Postfix: plain, STARTTLS+AUTH
# through an intermediate, implicit TLS, an RSA server, four refusals, 100 sends in a row.
step "the firmware's date and message modules, on the host"
cargo test --manifest-path firmware/host-tests/Cargo.toml --target "$(rustc -vV | sed -n 's/^host: //p')"

step "the Cortex-M firmware under QEMU against Postfix"
bash scripts/firmware-test.sh

# 2000 queued messages x 3 recipients through `queue run` (4 workers) in a network namespace
# of its own, while the relay loses replies, is restarted and reset and the runs are SIGKILLed.
step "the chaos test: the queue under relay faults, resets and SIGKILL"
bash scripts/chaos.sh

# 10,000 messages in PostgreSQL drained by 6 `queue run --store postgres://` processes on three
# "machines" (network namespaces over veth pairs) while workers are SIGKILLed, PostgreSQL crashes
# and recovers, and the relay restarts and loses replies (its own cluster, started and stopped).
step "the database queue's chaos test: workers on several machines, SIGKILL, PostgreSQL and relay restarts"
bash scripts/queue-pg-chaos.sh

# Reached only when every step above passed: `set -e` stops at the first failure.
steps=$(grep -c '^step "' "${BASH_SOURCE[0]}")
printf '\n==> test.sh: all %d steps passed: no_std and Cortex-M builds, the workspace tests (simulator, Postfix, Exim), the firmware under QEMU, the chaos tests\n' "$steps"
