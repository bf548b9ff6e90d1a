#!/usr/bin/env bash
# Aggregating rule types benchmark: the cost of threshold / new_terms evaluation (buffering
# tuples from the workers, replaying the schedule in finish) against baselines measured IN THE
# SAME RUN: dragnet-bench parse-only (serde_json per line, the floor) and the same rules with the
# same KQL queries turned into plain query rules (which alert on every matching event).
#
#   benches/aggregations-bench.sh [--no-build] [SIZE] [THREADS]
#
#   SIZE     uncompressed size of the generated trail (default 256MB)
#   THREADS  worker threads (default 2)
#
# Rules: every threshold / new_terms rule of ../shared/corpus/detection-rules/rules/integrations/aws*.
# Data: bench-data/ (gitignored), generated deterministically by dragnet-bench (seed 42).
set -euo pipefail
cd "$(dirname "$0")/.."

NO_BUILD=0
POSITIONAL=()
for a in "$@"; do
  case "$a" in
    --no-build) NO_BUILD=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) POSITIONAL+=("$a") ;;
  esac
done
SIZE="${POSITIONAL[0]:-256MB}"
THREADS="${POSITIONAL[1]:-2}"
SHARED="${DRAGNET_SHARED:-../shared}"

[[ $NO_BUILD == 1 ]] || cargo build --release -p dragnet -p dragnet-bench >&2
mkdir -p bench-data
DATA="bench-data/aggregations-$SIZE.jsonl"
[[ -f $DATA ]] || target/release/dragnet-bench gen --size "$SIZE" --out "$DATA" >&2

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/agg" "$WORK/query"
for f in $(grep -l -E '^type = "(threshold|new_terms)"' "$SHARED"/corpus/detection-rules/rules/integrations/aws*/*.toml); do
  cp "$f" "$WORK/agg/"
  # The same rule as a query rule: type changed, the type-specific tables dropped.
  python3 - "$f" "$WORK/query/$(basename "$f")" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r'^type = "(threshold|new_terms)"', 'type = "query"', text, flags=re.M)
out, skip = [], False
for line in text.splitlines():
    if re.match(r'^\[\[?rule\.(threshold|new_terms)', line):
        skip = True
        continue
    if skip and re.match(r'^\[', line):
        skip = False
    if not skip:
        out.append(line)
open(sys.argv[2], "w").write("\n".join(out) + "\n")
PY
done
RULES=$(ls "$WORK/agg" | wc -l)

run() { # label rules-dir
  local start end
  start=$(date +%s.%N)
  target/release/dragnet hunt -q -j "$THREADS" --format json -r "$2" "$DATA" > "$WORK/$1.json"
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
# Warm the page cache once, then alternate.
run warm "$WORK/query" > /dev/null
Q1=$(run query "$WORK/query"); A1=$(run agg "$WORK/agg")
Q2=$(run query "$WORK/query"); A2=$(run agg "$WORK/agg")
P=$( { /usr/bin/time -f %e target/release/dragnet-bench parse-only -j "$THREADS" "$DATA" > /dev/null; } 2>&1 | tail -1)
Q=$(echo "if ($Q1 < $Q2) $Q1 else $Q2" | bc -l); A=$(echo "if ($A1 < $A2) $A1 else $A2" | bc -l)
ALERTS=$(python3 -c "import json; print(len(json.load(open('$WORK/agg.json'))['alerts']))")
RSS=$( { /usr/bin/time -f %M target/release/dragnet hunt -q -j "$THREADS" --format json -r "$WORK/agg" "$DATA" > /dev/null; } 2>&1 | tail -1)
printf 'data %s, %s rules, %s threads\n' "$SIZE" "$RULES" "$THREADS"
QALERTS=$(python3 -c "import json; print(len(json.load(open('$WORK/query.json'))['alerts']))")
printf 'parse-only      %6.2f s\n' "$P"
printf 'as query rules  %6.2f s  (%s alerts)\n' "$Q" "$QALERTS"
printf 'aggregations    %6.2f s  (%.2fx parse-only, %.2fx as query rules, %s alerts, peak RSS %s KB)\n' \
  "$A" "$(echo "$A / $P" | bc -l)" "$(echo "$A / $Q" | bc -l)" "$ALERTS" "$RSS"
