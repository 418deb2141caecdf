#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time each; fails on the first crash,
# leak or timeout that libFuzzer reports (the input is kept in fuzz/artifacts/<target>/).
#
#   scripts/fuzz.sh            # 45 s per target
#   FUZZ_SECONDS=300 scripts/fuzz.sh
#
# Uses the nightly toolchain (rustup's) for cargo-fuzz; installs cargo-fuzz from crates.io
# into ~/.cargo/bin when it is missing. The corpus (fuzz/corpus, ignored by git) is seeded
# from testdata/transcripts and grows from run to run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"

seconds=${FUZZ_SECONDS:-45}
toolchain=${FUZZ_TOOLCHAIN:-nightly}

log() { printf 'fuzz: %s\n' "$*" >&2; }

if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
    log "ERROR: the $toolchain toolchain is missing (rustup toolchain install $toolchain)"
    exit 1
fi
if ! cargo "+$toolchain" fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz from crates.io"
    cargo "+$toolchain" install cargo-fuzz --locked
fi

bash seed.sh >/dev/null

# Every [[bin]] of fuzz/Cargo.toml, as cargo-fuzz lists them.
mapfile -t targets < <(cargo "+$toolchain" fuzz list)
if ((${#targets[@]} == 0)); then
    log "ERROR: no fuzz targets found"
    exit 1
fi

# Sanitizers off: the crates forbid unsafe code, and an uninstrumented build is faster to
# build and to run. Bounded per target; -timeout catches a hang on one input.
cargo "+$toolchain" fuzz build -s none
mkdir -p target

for t in "${targets[@]}"; do
    log "$t: ${seconds}s"
    mkdir -p "corpus/$t"
    start=$SECONDS
    if ! cargo "+$toolchain" fuzz run -s none "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"target/fuzz-$t.log" 2>&1; then
        tail -n 60 "target/fuzz-$t.log" >&2
        log "ERROR: $t failed; the input is in fuzz/artifacts/$t/"
        exit 1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "target/fuzz-$t.log" | tail -n 1)
    log "$t: ok, ${runs:-?} inputs in $((SECONDS - start))s, corpus $(find "corpus/$t" -type f | wc -l) files"
done
log "all ${#targets[@]} targets ran ${seconds}s each without a crash"
