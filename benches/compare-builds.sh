#!/usr/bin/env bash
# Before/after: times two dragnet builds against each other and against `rg` in ONE invocation,
# their runs interleaved (rg, old, new, rg, old, new, …) so that a change in the machine's state
# (page cache, other load, frequency) hits both builds alike.
#
#   benches/compare-builds.sh OLD_BINARY NEW_BINARY [--runs N] [--kernel avx512|avx2|sse2|portable]
#
# Input: benches/hunt-bench.sh's generated trail (bench-data/cloudtrail-1GB-s42.jsonl; generated
# here when missing). Rule sets: the shipped seed rules and the 85 AWS query rules (as in
# hunt-bench.sh). Each workload's median wall time, and its ratio to rg's median (rg -c -F
# SendCommand, the I/O + search floor), for both builds; the line scan kernel is named
# (DRAGNET_SCAN_KERNEL, default: the fastest the CPU runs).
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $# -ge 2 ]] || { sed -n '2,12p' "$0"; exit 2; }
OLD=$1 NEW=$2; shift 2
RUNS=9 KERNEL=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS=$2; shift ;;
    --kernel) KERNEL=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
command -v rg >/dev/null || { echo "error: rg not installed" >&2; exit 2; }
SHARED="${DRAGNET_SHARED:-../shared}"
AWS_RULES="$SHARED/corpus/detection-rules/rules/integrations/aws"
DATA=bench-data
FILE="$DATA/cloudtrail-1GB-s42.jsonl"
if [[ ! -s $FILE ]]; then
  cargo build --release -p dragnet-bench >&2
  mkdir -p "$DATA"
  target/release/dragnet-bench gen --size 1GB --seed 42 --format jsonl --out "$FILE.tmp" 2> "$FILE.gen.log"
  mv "$FILE.tmp" "$FILE"
fi
QUERY_RULES="$DATA/aws-query-rules"
rm -rf "$QUERY_RULES"; mkdir -p "$QUERY_RULES"
grep -l '^type = "query"' "$AWS_RULES"/*.toml | while read -r f; do
  ln -s "$(realpath "$f")" "$QUERY_RULES/$(basename "$f")"
done
export RAYON_NUM_THREADS=2
[[ -n $KERNEL ]] && export DRAGNET_SCAN_KERNEL=$KERNEL
KERNEL_NAME=${KERNEL:-$(grep -q avx512bw /proc/cpuinfo && echo avx512 || (grep -q avx2 /proc/cpuinfo && echo avx2 || echo sse2))}

secs() { # secs CMD... -> wall seconds on stdout, the command's output discarded
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > /dev/null 2>&1 || true
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
cat "$FILE" > /dev/null  # warm the page cache once
declare -A TIMES
for ((i = 0; i < RUNS; i++)); do
  TIMES[rg]+=" $(secs rg -c -F SendCommand "$FILE")"
  for build in old new; do
    bin=$OLD; [[ $build == new ]] && bin=$NEW
    TIMES[$build-seed]+=" $(secs "$bin" hunt -q --format ndjson -j 2 "$FILE")"
    TIMES[$build-aws]+=" $(secs "$bin" hunt -q --format ndjson -j 2 -r "$QUERY_RULES" "$FILE")"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
RG=$(median <<<"${TIMES[rg]}")
printf 'machine: %s, %s cores; kernel %s; %s interleaved runs; %s (%s bytes)\n' \
  "$(lscpu | sed -n 's/^Model name: *//p')" "$(nproc)" "$KERNEL_NAME" "$RUNS" "$FILE" "$(stat -c %s "$FILE")"
printf '%-28s %10s %10s\n' workload "median s" "x rg"
printf '%-28s %10.3f %10s\n' "rg -c -F SendCommand" "$RG" "1.00"
for w in seed aws; do
  for build in old new; do
    m=$(median <<<"${TIMES[$build-$w]}")
    printf '%-28s %10.3f %10.2f\n' "$build: $w rules" "$m" "$(echo "$m / $RG" | bc -l)"
  done
done
