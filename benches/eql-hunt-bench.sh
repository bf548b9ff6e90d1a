#!/usr/bin/env bash
# EQL hunt benchmark: the corpus's AWS EQL rules (event queries and sequences) against the
# KQL-only seed rules (rules/) over the same generated CloudTrail, measured IN THE SAME RUN, as
# wall-time ratios and peak RSS (/usr/bin/time %M). The same events also go in as 16 files, in
# order and in a shuffled order, and a stress sequence whose steps match ~40 % of all records
# shows the memory bound. Alerts must be byte-identical across file orders (exit 1 otherwise).
#
#   benches/eql-hunt-bench.sh [--smoke] [--no-build] [--runs N] [SIZE] [THREADS]
#
#   SIZE      uncompressed size of the generated trail (default 1GB; --smoke: 4MB)
#   THREADS   worker threads (default 2)
#   --runs N  timed runs per configuration; the median time and the highest RSS are reported
#             (default 3; --smoke: 1)
#   --smoke   4 MB, one run each (CI-friendly)
#   --no-build  use target/release as built; DRAGNET_BIN=PATH benchmarks another dragnet binary
#
# Data (bench-data/, gitignored; reused when present): cloudtrail-SIZE-s42.jsonl from
# `dragnet-bench gen --seed 42`, its 16 parts (split -n l/16) in cloudtrail-SIZE-s42-parts16/,
# and aws-eql-rules/: links to every `language = "eql"` rule of
# ../shared/corpus/detection-rules/rules/integrations/aws.
set -euo pipefail
cd "$(dirname "$0")/.."

SMOKE=0
NO_BUILD=0
RUNS=""
POSITIONAL=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) SMOKE=1 ;;
    --no-build) NO_BUILD=1 ;;
    --runs) RUNS="$2"; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    *) POSITIONAL+=("$1") ;;
  esac
  shift
done
if [[ $SMOKE == 1 ]]; then DEFAULT_SIZE=4MB; DEFAULT_RUNS=1; else DEFAULT_SIZE=1GB; DEFAULT_RUNS=3; fi
SIZE="${POSITIONAL[0]:-$DEFAULT_SIZE}"
THREADS="${POSITIONAL[1]:-2}"
RUNS="${RUNS:-$DEFAULT_RUNS}"
SHARED="${DRAGNET_SHARED:-../shared}"
export RAYON_NUM_THREADS="$THREADS"
say() { printf '%s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }

if [[ $NO_BUILD == 0 ]]; then
  cargo build --release -p dragnet -p dragnet-bench >&2 || die "build failed: cargo build --release -p dragnet -p dragnet-bench"
fi
DRAGNET="${DRAGNET_BIN:-target/release/dragnet}"
[[ -x $DRAGNET ]] || die "$DRAGNET missing: cargo build --release -p dragnet"
[[ -x /usr/bin/time ]] || die "/usr/bin/time missing: apt-get install -y time"

mkdir -p bench-data
DATA="bench-data/cloudtrail-$SIZE-s42.jsonl"
if [[ ! -s $DATA ]]; then
  say "== generating $DATA"
  target/release/dragnet-bench gen --size "$SIZE" --seed 42 --format jsonl --out "$DATA" >&2
fi
PARTS="bench-data/cloudtrail-$SIZE-s42-parts16"
if [[ ! -s $PARTS/part-15.jsonl || $PARTS/part-15.jsonl -ot $DATA ]]; then
  say "== splitting $DATA into 16 files"
  rm -rf "$PARTS" && mkdir -p "$PARTS"
  split -n l/16 -d -a 2 --additional-suffix=.jsonl "$DATA" "$PARTS/part-"
fi
RULES=bench-data/aws-eql-rules
if [[ ! -d $RULES ]]; then
  mkdir -p "$RULES"
  for f in $(grep -l '^language = "eql"' "$SHARED"/corpus/detection-rules/rules/integrations/aws/*.toml); do
    ln -s "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$RULES/"
  done
fi
NRULES=$(ls "$RULES" | wc -l)
(( NRULES > 0 )) || die "no EQL rules found under $SHARED/corpus/detection-rules/rules/integrations/aws"
IN_ORDER=()
for i in $(seq -w 0 15); do IN_ORDER+=("$PARTS/part-$i.jsonl"); done
SHUFFLED=()
for i in 11 03 14 07 00 09 15 05 12 01 08 13 04 10 02 06; do SHUFFLED+=("$PARTS/part-$i.jsonl"); done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/stress"
# The memory worst case for sequences: steps matching ~11 % of all records (every AssumeRole
# and KMS Decrypt call; ~85,000 candidates per GB, ~100 MB deflated, three times the reorder
# window), joined by source address, so candidates stream through the window (or, unordered,
# spill to disk) and pending sequences must expire by maxspan. The last step is very rare, so
# almost no sequence completes: what is measured is the sequence machinery, not alert building
# (alerts are buffered until the end of a run, ~40 KB each).
cat > "$WORK/stress/stress_sequence.toml" <<'TOML'
[metadata]
creation_date = "2025/02/03"
maturity = "development"
updated_date = "2025/02/03"

[rule]
author = ["dragnet bench"]
description = "Bench only: AssumeRole, then KMS Decrypt, then an image attribute modified, from one address within 5 minutes."
index = ["logs-aws.cloudtrail-*"]
language = "eql"
license = "Apache-2.0"
name = "Bench stress sequence"
risk_score = 21
rule_id = "e9100000-0000-4000-8000-0000000000ff"
severity = "low"
type = "eql"
query = '''
sequence by source.ip with maxspan=5m
  [any where event.action == "AssumeRole"]
  [any where event.action == "Decrypt"]
  [any where event.action == "ModifyImageAttribute"]
'''
TOML

# run NAME RULES INPUT... : prints "median_seconds peak_rss_kb peak_anon_kb alerts"; keeps
# NAME.ndjson / NAME.log. Peak RSS (/usr/bin/time %M) counts the input file's pages, which
# dragnet-input maps into memory (file-backed, reclaimable: ~1 GB for a 1 GB file); the peak of
# RssAnon (/proc/PID/status, sampled every 50 ms) is the process's own memory.
run() {
  local name=$1 rules=$2; shift 2
  local times=() rss=0 anon=0
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f '%e %M' -o "$WORK/$name.time" "$DRAGNET" hunt --format ndjson -r "$rules" "$@" \
      > "$WORK/$name.ndjson" 2> "$WORK/$name.log" &
    local tpid=$! child="" a
    while kill -0 "$tpid" 2>/dev/null; do
      [[ -n $child ]] || child=$(pgrep -P "$tpid" | head -1 || true)
      if [[ -n $child ]]; then
        a=$(awk '/^RssAnon/ {print $2}' "/proc/$child/status" 2>/dev/null || true)
        [[ -n $a ]] && (( a > anon )) && anon=$a
      fi
      sleep 0.05
    done
    wait "$tpid" || true
    local t r
    read -r t r < <(tail -1 "$WORK/$name.time")
    times+=("$t")
    (( r > rss )) && rss=$r
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$median $rss $anon $(wc -l < "$WORK/$name.ndjson")"
}

say "== $SIZE ($DATA), $THREADS thread(s), $RUNS run(s) each; $NRULES EQL rules; load: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A T RSS ANON N
CONFIGS=(kql eql eql_parts eql_shuffled stress stress_part stress_parts stress_shuffled)
for c in "${CONFIGS[@]}"; do
  case $c in
    kql) args=(rules/ "$DATA") ;;
    eql) args=("$RULES" "$DATA") ;;
    eql_parts) args=("$RULES" "${IN_ORDER[@]}") ;;
    eql_shuffled) args=("$RULES" "${SHUFFLED[@]}") ;;
    stress) args=("$WORK/stress" "$DATA") ;;
    stress_part) args=("$WORK/stress" "$PARTS/part-00.jsonl") ;;
    stress_parts) args=("$WORK/stress" "${IN_ORDER[@]}") ;;
    stress_shuffled) args=("$WORK/stress" "${SHUFFLED[@]}") ;;
  esac
  read -r T[$c] RSS[$c] ANON[$c] N[$c] < <(run "$c" "${args[@]}")
  say "   $c: ${T[$c]} s, RSS $(( ${RSS[$c]} / 1024 )) MB, anon $(( ${ANON[$c]} / 1024 )) MB, ${N[$c]} alerts"
done
say "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

same() { cmp -s "$WORK/$1.ndjson" "$WORK/$2.ndjson" && echo yes || echo NO; }
SAME_EQL=$(same eql eql_parts)/$(same eql eql_shuffled)
SAME_STRESS=$(same stress stress_parts)/$(same stress stress_shuffled)
SEQ_RULES=$(grep -lE '^\s*sequence' "$RULES"/*.toml | wc -l || true)
grep -hi 'warning' "$WORK"/*.log | sort | uniq -c | head -5 >&2 || true

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
row() { printf '| %s | %.2f | %s | %d | %d | %d |\n' "$1" "${T[$2]}" "$(ratio "${T[$2]}" "${T[kql]}")" $(( ${RSS[$2]} / 1024 )) $(( ${ANON[$2]} / 1024 )) "${N[$2]}"; }
echo "| configuration ($SIZE, $THREADS threads, median of $RUNS) | seconds | ratio to KQL | peak RSS MB | peak anon MB | alerts |"
echo "|---|---|---|---|---|---|"
row "KQL seed rules (rules/), 1 file: baseline" kql
row "$NRULES AWS EQL rules, 1 file" eql
row "AWS EQL rules, 16 files in order" eql_parts
row "AWS EQL rules, 16 files shuffled" eql_shuffled
row "stress sequence, 1 file" stress
row "stress sequence, 1/16 of the data (part-00)" stress_part
row "stress sequence, 16 files in order" stress_parts
row "stress sequence, 16 files shuffled" stress_shuffled
echo
echo "AWS EQL rules: $NRULES ($SEQ_RULES sequences); identical alerts 1 file vs 16 in order / shuffled: $SAME_EQL"
echo "stress: identical alerts 1 file vs 16 in order / shuffled: $SAME_STRESS"
[[ $SAME_EQL == yes/yes && $SAME_STRESS == yes/yes ]] || { say "error: alerts differ with file order"; exit 1; }
