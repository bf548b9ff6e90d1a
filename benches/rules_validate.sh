#!/usr/bin/env bash
# Wall time of `dragnet validate` over the whole detection-rules corpus (release build),
# against a baseline measured in the same run: `cat` of every rule file (reading the bytes).
# Usage: benches/rules_validate.sh [RUNS]   (needs ../shared beside the repository)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
corpus="${DRAGNET_SHARED:-../shared}/corpus/detection-rules"
cargo build --release -q -p dragnet
bin="${CARGO_TARGET_DIR:-target}/release/dragnet"
mapfile -t files < <(find "$corpus/rules" "$corpus/rules_building_block" -name '*.toml' | sort)
echo "files: ${#files[@]}, bytes: $(cat "${files[@]}" | wc -c), cores: $(nproc), runs: $runs"

# Median wall time in milliseconds of "$@" over $runs runs.
median_ms() {
  local times=()
  for _ in $(seq "$runs"); do
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

base=$(median_ms cat "${files[@]}")
validate=$(median_ms "$bin" validate "$corpus/rules" "$corpus/rules_building_block")
echo "baseline cat (read bytes): ${base} ms"
echo "dragnet validate:          ${validate} ms"
awk -v v="$validate" -v b="$base" 'BEGIN { if (b < 1) b = 1; printf "ratio validate/cat: %.1fx\n", v / b }'
"$bin" validate "$corpus/rules" "$corpus/rules_building_block" | tail -1
