#!/usr/bin/env bash
# Type-checks postel-proto's async driver loop over embassy-net's TcpSocket (embedded-io-async
# 0.7) with an embassy-time clock, for the Cortex-M3 target (issue 12 item 6). It is a check,
# not a build: nothing links. Needs Debian's rustc-web and rust-web-src (the same version):
# the rustup toolchain first on PATH has no thumbv7m core.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../firmware/embassy-check"
RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo check --locked --target thumbv7m-none-eabi -Zbuild-std=core "$@"
