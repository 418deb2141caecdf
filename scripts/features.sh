#!/usr/bin/env bash
# Builds `postel` with every combination of its features (cargo check of the library; the
# combinations that name the same effective set are checked once: `mx` and `postgres`
# imply `queue`), the tests with the default features, and checks that a blocking-only
# build (`default-features = false`) has neither tokio nor hickory in its dependency tree.
# Called by scripts/test.sh; runs alone too: `bash scripts/features.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."

# cargo check, failing on a warning too (without RUSTFLAGS, which would rebuild every
# dependency in the shared target directory).
check() {
    local out
    out=$(cargo check -q --message-format short "$@" 2>&1) || { echo "$out" >&2; return 1; }
    if grep -q 'warning' <<<"$out"; then
        echo "$out" >&2
        return 1
    fi
}

features=(tokio mx queue postgres)
declare -A seen=()
for mask in $(seq 0 $(( (1 << ${#features[@]}) - 1 ))); do
    set_=()
    for i in "${!features[@]}"; do
        if (( mask & (1 << i) )); then set_+=("${features[$i]}"); fi
    done
    # The effective set: what the implied features add.
    eff=" ${set_[*]-} "
    if [[ $eff == *" mx "* || $eff == *" postgres "* ]] && [[ $eff != *" queue "* ]]; then
        eff="$eff queue "
    fi
    key=k$(tr ' ' '\n' <<<"$eff" | sed '/^$/d' | sort | tr '\n' ',')
    if [[ -n ${seen[$key]+x} ]]; then continue; fi
    seen[$key]=1
    list=$(IFS=,; echo "${set_[*]-}")
    echo "== postel --no-default-features --features '${list}'"
    check -p postel --lib --no-default-features ${list:+--features "$list"}
done

echo "== postel (default features), every target"
check -p postel --all-targets

echo "== a blocking-only build has no tokio and no hickory"
tree=$(cargo tree -q -p postel --no-default-features -e normal --prefix none)
if grep -Eq '^(tokio|hickory-[a-z]+) ' <<<"$tree"; then
    grep -E '^(tokio|hickory-[a-z]+) ' <<<"$tree" | sort -u >&2
    echo "features.sh: the blocking-only build depends on tokio or hickory" >&2
    exit 1
fi
echo "features.sh: every feature combination builds"
