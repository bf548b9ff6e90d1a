#!/usr/bin/env bash
# EQL hunt benchmark: the corpus's AWS EQL rules (event queries and sequences) against the
# KQL-only seed rules (rules/) over the same generated CloudTrail, measured IN THE SAME RUN, as
# wall-time ratios and peak RSS (/usr/bin/time -f %M). Also runs the EQL rules over the same
# events split into 8 files given in shuffled order, and checks the alerts are byte-identical.
#
#   benches/eql-hunt-bench.sh [--no-build] [SIZE] [THREADS] [RUNS]
#
#   SIZE     uncompressed size of the generated trail (default 100MB)
#   THREADS  worker threads (default 2)
#   RUNS     timed runs per configuration, the median is reported (default 3)
#
# Rules: every `language = "eql"` rule of ../shared/corpus/detection-rules/rules/integrations/aws.
# Data: bench-data/ (gitignored), generated deterministically by dragnet-bench (seed 42).
set -euo pipefail
cd "$(dirname "$0")/.."

NO_BUILD=0
POSITIONAL=()
for a in "$@"; do
  case "$a" in
    --no-build) NO_BUILD=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) POSITIONAL+=("$a") ;;
  esac
done
SIZE="${POSITIONAL[0]:-100MB}"
THREADS="${POSITIONAL[1]:-2}"
RUNS="${POSITIONAL[2]:-3}"
SHARED="${DRAGNET_SHARED:-../shared}"
export RAYON_NUM_THREADS="$THREADS"
say() { printf '%s\n' "$*" >&2; }

[[ $NO_BUILD == 1 ]] || cargo build --release -p dragnet -p dragnet-bench >&2
DRAGNET=target/release/dragnet
mkdir -p bench-data
DATA="bench-data/eql-$SIZE-s42.jsonl"
[[ -s $DATA ]] || target/release/dragnet-bench gen --size "$SIZE" --seed 42 --format jsonl --out "$DATA" >&2 2>/dev/null

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/eql" "$WORK/split" "$WORK/stress"
# A worst case for sequence memory: steps matching a large share of all events (every S3 and
# EC2 call), so most records become stored candidates.
cat > "$WORK/stress/stress_sequence.toml" <<'TOML'
[metadata]
creation_date = "2025/02/03"
maturity = "development"
updated_date = "2025/02/03"

[rule]
author = ["dragnet bench"]
description = "Bench only: an S3 call then an EC2 call by the same user within 10 minutes."
index = ["logs-aws.cloudtrail-*"]
language = "eql"
license = "Apache-2.0"
name = "Bench stress sequence"
risk_score = 21
rule_id = "e9100000-0000-4000-8000-0000000000ff"
severity = "low"
type = "eql"
query = '''
sequence by user.name with maxspan=10m
  [any where event.provider == "s3.amazonaws.com"]
  [any where event.provider == "ec2.amazonaws.com"]
'''
TOML
grep -l '^language = "eql"' "$SHARED"/corpus/detection-rules/rules/integrations/aws/*.toml \
  | xargs -I{} cp {} "$WORK/eql/"
NRULES=$(ls "$WORK/eql" | wc -l)
# The same events over 8 files, then listed in a fixed shuffled order.
split -n l/8 -d --additional-suffix=.jsonl "$DATA" "$WORK/split/part-"
SHUFFLED=("$WORK"/split/part-05.jsonl "$WORK"/split/part-02.jsonl "$WORK"/split/part-07.jsonl
  "$WORK"/split/part-00.jsonl "$WORK"/split/part-04.jsonl "$WORK"/split/part-06.jsonl
  "$WORK"/split/part-01.jsonl "$WORK"/split/part-03.jsonl)

# run NAME RULES INPUT... : prints "median_seconds peak_rss_kb alerts" and keeps the ndjson.
run() {
  local name=$1 rules=$2; shift 2
  local times=() rss=0
  for _ in $(seq "$RUNS"); do
    local start end
    start=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$WORK/$name.rss" "$DRAGNET" hunt --format ndjson -r "$rules" "$@" \
      > "$WORK/$name.ndjson" 2> "$WORK/$name.log" || true
    end=$(date +%s.%N)
    times+=("$(python3 -c "print($end - $start)")")
    local r; r=$(tail -1 "$WORK/$name.rss")
    (( r > rss )) && rss=$r
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$median $rss $(wc -l < "$WORK/$name.ndjson")"
}

say "== $SIZE, $THREADS thread(s), $RUNS run(s) each; $NRULES EQL rules"
read -r T_KQL RSS_KQL N_KQL < <(run kql rules/ "$DATA")
read -r T_EQL RSS_EQL N_EQL < <(run eql "$WORK/eql" "$DATA")
read -r T_SHUF RSS_SHUF N_SHUF < <(run shuffled "$WORK/eql" "${SHUFFLED[@]}")
read -r T_STR RSS_STR N_STR < <(run stress "$WORK/stress" "$DATA")
read -r T_STRS RSS_STRS N_STRS < <(run stress_shuffled "$WORK/stress" "${SHUFFLED[@]}")
SAME_STRESS=$(cmp -s "$WORK/stress.ndjson" "$WORK/stress_shuffled.ndjson" && echo yes || echo NO)
SAME=$(cmp -s "$WORK/eql.ndjson" "$WORK/shuffled.ndjson" && echo yes || echo NO)
SEQ_RULES=$(grep -il 'sequence' "$WORK"/eql/*.toml | wc -l)
BB=$(grep -c '"kibana.alert.building_block_type":"default"' "$WORK/eql.ndjson" || true)
grep -E '^(rules|hunt):' "$WORK/eql.log" >&2 || true
grep -i 'warning' "$WORK/eql.log" | head -5 >&2 || true

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
printf '%-32s %9s %7s %12s %8s\n' configuration seconds ratio peak_rss_MB alerts
printf '%-32s %9.2f %7s %12d %8d\n' "KQL seed rules (baseline)" "$T_KQL" 1.00 $((RSS_KQL / 1024)) "$N_KQL"
printf '%-32s %9.2f %7s %12d %8d\n' "AWS EQL rules, 1 file" "$T_EQL" "$(ratio "$T_EQL" "$T_KQL")" $((RSS_EQL / 1024)) "$N_EQL"
printf '%-32s %9.2f %7s %12d %8d\n' "AWS EQL rules, 8 files shuffled" "$T_SHUF" "$(ratio "$T_SHUF" "$T_KQL")" $((RSS_SHUF / 1024)) "$N_SHUF"
printf '%-32s %9.2f %7s %12d %8d\n' "stress sequence, 1 file" "$T_STR" "$(ratio "$T_STR" "$T_KQL")" $((RSS_STR / 1024)) "$N_STR"
printf '%-32s %9.2f %7s %12d %8d\n' "stress sequence, 8 files shuffled" "$T_STRS" "$(ratio "$T_STRS" "$T_KQL")" $((RSS_STRS / 1024)) "$N_STRS"
grep -i 'warning' "$WORK/stress.log" | head -3 >&2 || true
echo "stress shuffled alerts identical: $SAME_STRESS"
echo "EQL rules: $NRULES ($SEQ_RULES mention sequence); building-block alerts: $BB; shuffled alerts identical: $SAME"
[[ $SAME == yes && $SAME_STRESS == yes ]] || { say "error: alerts differ with shuffled input"; exit 1; }
