#!/usr/bin/env bash
# Replays every fuzz corpus (fuzz/corpus/<target>/) through its target on stable. With
# FUZZ_SECONDS=N and a nightly toolchain, also fuzzes each target for N seconds with libFuzzer,
# failing on the first crash (the input is left in fuzz/artifacts/<target>/).
#
# New inputs libFuzzer finds go to a temporary directory, not into the committed corpus: add an
# input to fuzz/corpus/<target>/ by hand when it is worth keeping (every crash is).
#
# Usage: scripts/fuzz.sh                      # replay only
#        FUZZ_SECONDS=60 scripts/fuzz.sh      # replay, then 60 s per target
#        FUZZ_SECONDS=60 scripts/fuzz.sh group request   # only these targets
set -euo pipefail

cd "$(dirname "$0")/.."
manifest=fuzz/Cargo.toml
# The fuzz crate is not a workspace member and builds into fuzz/target, so it never contends
# with the workspace's build for its lock or its artifacts.
export CARGO_TARGET_DIR="$PWD/fuzz/target"

echo "fuzz: replaying the corpora"
cargo test --manifest-path "$manifest" --no-default-features --locked

seconds="${FUZZ_SECONDS:-0}"
if [ "$seconds" -le 0 ]; then
    exit 0
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: no nightly toolchain; corpora replayed, fuzzing skipped"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list --fuzz-dir fuzz)
fi
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
    echo "fuzz: $target for ${seconds}s"
    mkdir -p "$scratch/$target"
    # The first directory receives new inputs; the committed corpus only seeds the run.
    # One process (no -jobs: libFuzzer would move its output to fuzz-N.log files).
    # -rss_limit_mb: a target that needs more than this has a leak or an unbounded allocation.
    cargo +nightly fuzz run --fuzz-dir fuzz "$target" "$scratch/$target" "fuzz/corpus/$target" \
        -- -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1
done
