#!/usr/bin/env bash
# ES|QL rules benchmark (issue 17): the CloudTrail ES|QL rules over the bench trail with their
# injected hits and near misses (`dragnet-bench gen --esql-cases`), against baselines timed IN
# THE SAME RUN, in interleaved rounds: rg (hunt-bench's I/O floor), the AWS query pack (as
# hunt-bench defines it), and DuckDB running the same rules as SQL over the same file.
#
#   benches/esql-bench.sh [--smoke] [--no-build] [--rounds N] [SIZE] [THREADS]
#
#   SIZE     uncompressed size of the generated trail (default 1GB; --smoke: 8MB)
#   THREADS  worker threads for dragnet and DuckDB (default 2)
#   --rounds N  timing rounds, each running every command once in turn (default 5; --smoke: 1)
#   --smoke  small file, one round, checks the alert counts (exit 1 when they differ)
#   --no-build  use the binaries already in target/release
#
# Checks before timing: dragnet's alerts per ES|QL rule and DuckDB's counts must equal the
# expected alerts the generator computed from the injection (its `esql_cases` line). Reports
# medians, ratios (ES|QL / query pack, target <= 1.5; ES|QL / DuckDB, target < 1), the rows
# each rule handed to DataFusion (`hunt -vv` state entries) and peak memory (peak-rss.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

SMOKE=0
NO_BUILD=0
ROUNDS=""
POSITIONAL=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) SMOKE=1 ;;
    --no-build) NO_BUILD=1 ;;
    --rounds) ROUNDS="$2"; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    *) POSITIONAL+=("$1") ;;
  esac
  shift
done
if [[ $SMOKE == 1 ]]; then DEFAULT_SIZE=8MB; else DEFAULT_SIZE=1GB; fi
SIZE="${POSITIONAL[0]:-$DEFAULT_SIZE}"
THREADS="${POSITIONAL[1]:-2}"
if [[ -z "$ROUNDS" ]]; then
  if [[ $SMOKE == 1 ]]; then ROUNDS=1; else ROUNDS=5; fi
fi
SEED=42
SHARED="${DRAGNET_SHARED:-../shared}"
RULES_ROOT="$SHARED/corpus/detection-rules/rules/integrations"
DATA=bench-data
mkdir -p "$DATA"

say() { printf '%s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }
have() { command -v "$1" >/dev/null 2>&1; }

[[ -d $RULES_ROOT/aws ]] || die "$RULES_ROOT/aws not found: set DRAGNET_SHARED to the shared folder"
python3 -c 'import duckdb' 2>/dev/null || die "duckdb is not installed: pip install duckdb"
have rg || die "ripgrep is not installed: apt-get install -y ripgrep"

if [[ $NO_BUILD == 0 ]]; then
  say "== building (cargo build --workspace --release --locked)"
  cargo build --workspace --release --locked >&2 || die "the workspace does not build"
fi
BENCH=target/release/dragnet-bench
DRAGNET="${DRAGNET_BIN:-target/release/dragnet}"
[[ -x $BENCH && -x $DRAGNET ]] || die "binaries missing: cargo build --workspace --release --locked"

# ---- data ----------------------------------------------------------------------------------
JSONL="$DATA/cloudtrail-$SIZE-s$SEED-esql.jsonl"
if [[ ! -s $JSONL || ! -s $JSONL.gen.log || $BENCH -nt $JSONL ]]; then
  say "== generating $JSONL ($SIZE, seed $SEED, --esql-cases)"
  $BENCH gen --size "$SIZE" --seed "$SEED" --esql-cases --out "$JSONL.tmp" 2> "$JSONL.gen.log" \
    || { cat "$JSONL.gen.log" >&2; die "generator failed"; }
  mv "$JSONL.tmp" "$JSONL"
fi
ESQL_CASES=$(grep '^esql_cases ' "$JSONL.gen.log" | sed 's/^esql_cases //')
BYTES=$(stat -c %s "$JSONL")

# ---- rule sets -----------------------------------------------------------------------------
QUERY_RULES="$DATA/aws-query-rules"
ESQL_RULES="$DATA/aws-esql-rules"
rm -rf "$QUERY_RULES" "$ESQL_RULES"
mkdir -p "$QUERY_RULES" "$ESQL_RULES"
grep -l '^type = "query"' "$RULES_ROOT"/aws/*.toml | while read -r f; do
  ln -s "$(realpath "$f")" "$QUERY_RULES/$(basename "$f")"
done
# The ES|QL rules that read CloudTrail (their FROM names logs-aws.cloudtrail*).
grep -l '^language = "esql"' "$RULES_ROOT"/aws*/*.toml | xargs grep -l 'logs-aws\.cloudtrail' | while read -r f; do
  ln -s "$(realpath "$f")" "$ESQL_RULES/$(basename "$f")"
done
say "== $(ls "$QUERY_RULES" | wc -l) AWS query rules, $(ls "$ESQL_RULES" | wc -l) CloudTrail ES|QL rules"

HUNT=("$DRAGNET" hunt --threads "$THREADS" --format ndjson)

# ---- correctness before timing -------------------------------------------------------------
say "== checking alert counts"
"${HUNT[@]}" -vv -r "$ESQL_RULES" "$JSONL" > "$DATA/esql-alerts.ndjson" 2> "$DATA/esql-hunt.log" \
  || die "dragnet hunt failed: see $DATA/esql-hunt.log"
DUCK_COUNTS=$(python3 benches/duckdb_esql_queries.py "$JSONL" --threads "$THREADS")

# ---- timing: interleaved rounds ------------------------------------------------------------
declare -a NAMES CMDS
add() { NAMES+=("$1"); CMDS+=("$2"); }
add rg "rg -c -F SendCommand $JSONL"
add dragnet-aws-query "${HUNT[*]} -r $QUERY_RULES $JSONL"
add dragnet-esql "${HUNT[*]} -r $ESQL_RULES $JSONL"
add duckdb-esql "python3 benches/duckdb_esql_queries.py $JSONL --threads $THREADS"
TIMES="$DATA/esql-times-$SIZE-t$THREADS.txt"
: > "$TIMES"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# One untimed pass warms the page cache.
cat "$JSONL" > /dev/null
for round in $(seq "$ROUNDS"); do
  for i in "${!NAMES[@]}"; do
    start=$(date +%s.%N)
    bash -c "${CMDS[$i]}" > /dev/null 2>&1 || die "${NAMES[$i]} failed: ${CMDS[$i]}"
    end=$(date +%s.%N)
    echo "${NAMES[$i]} $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }')" >> "$TIMES"
  done
  say "   round $round/$ROUNDS done (load $(cut -d' ' -f1 /proc/loadavg))"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- peak memory ---------------------------------------------------------------------------
read -r ESQL_ANON ESQL_FILE < <(benches/peak-rss.sh "${HUNT[@]}" -r "$ESQL_RULES" "$JSONL")
read -r QUERY_ANON QUERY_FILE < <(benches/peak-rss.sh "${HUNT[@]}" -r "$QUERY_RULES" "$JSONL")

# ---- report (exit 1 when a count differs from the injection) --------------------------------
RC=0
python3 - "$TIMES" "$BYTES" "$SIZE" "$THREADS" "$ROUNDS" "$ESQL_CASES" "$DUCK_COUNTS" \
  "$DATA/esql-alerts.ndjson" "$DATA/esql-hunt.log" "$ESQL_ANON" "$ESQL_FILE" "$QUERY_ANON" "$QUERY_FILE" <<'PY' || RC=$?
import collections, json, re, statistics, sys
(times_file, nbytes, size, threads, rounds, cases, duck, alerts_file, log_file,
 esql_anon, esql_file, query_anon, query_file) = sys.argv[1:]
times = collections.defaultdict(list)
for line in open(times_file):
    name, secs = line.split()
    times[name].append(float(secs))
med = {n: statistics.median(v) for n, v in times.items()}
print(f"\ndragnet ES|QL benchmark: {size} ({int(nbytes)} bytes, --esql-cases), {threads} threads, "
      f"median of {rounds} interleaved rounds\n")
print(f"{'command':<20}{'median s':>10}{'min s':>9}{'max s':>9}{'MB/s':>9}")
for n, v in times.items():
    print(f"{n:<20}{med[n]:>10.3f}{min(v):>9.3f}{max(v):>9.3f}{int(nbytes) / 1e6 / med[n]:>9.0f}")
print(f"\n{'ratio':<34}{'value':>8}  target   verdict")
for label, a, b, target, ok in [
    ("dragnet-esql / dragnet-aws-query", "dragnet-esql", "dragnet-aws-query", "<= 1.5", lambda x: x <= 1.5),
    ("dragnet-esql / duckdb-esql", "dragnet-esql", "duckdb-esql", "< 1", lambda x: x < 1),
    ("dragnet-esql / rg", "dragnet-esql", "rg", "(info)", None),
    ("dragnet-aws-query / rg", "dragnet-aws-query", "rg", "(info)", None),
]:
    r = med[a] / med[b]
    verdict = "" if ok is None else ("MET" if ok(r) else "NOT MET")
    print(f"{label:<34}{r:>8.2f}  {target:<8} {verdict}")
print(f"\npeak memory (peak-rss.sh, sampled every 10 ms; target: anonymous < 200 MB)")
print(f"  dragnet ES|QL rules: anonymous {int(esql_anon) / 1024:.1f} MiB (file-backed {int(esql_file) / 1024:.1f} MiB)")
print(f"  dragnet AWS query pack: anonymous {int(query_anon) / 1024:.1f} MiB (file-backed {int(query_file) / 1024:.1f} MiB)")

# Rows each ES|QL rule handed to DataFusion: hunt -vv's state entries (one row per event that
# passed the prefilter and the rule's WHERE-derived test, built from the referenced columns only).
rows = {}
for line in open(log_file):
    m = re.match(r"\s+[\d.]+\s+[\d.]+%\s+[\d.]+\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+) entries, ~\S+ \S+\s+(.*)$", line)
    if m:
        rows[m.group(5).strip()] = (int(m.group(1)), int(m.group(4)))
got = collections.Counter(json.loads(l)["kibana.alert.rule.name"] for l in open(alerts_file) if l.strip())
expected = json.loads(cases)["expected_alerts"]
duck = json.loads(duck)
print("\nalerts per ES|QL rule (expected: computed by the generator from the injection)")
print(f"  {'expected':>8} {'dragnet':>8} {'duckdb':>8} {'candidates':>11} {'rows fed':>9}  rule")
ok = True
for rule in sorted(set(expected) | set(got) | set(rows)):
    e = expected.get(rule)
    d = duck.get(rule)
    cand, fed = rows.get(rule, ("-", "-"))
    mark = ""
    if e is not None:
        if got.get(rule, 0) != e or d != e:
            ok = False
            mark = "  DIFFERS"
    print(f"  {'-' if e is None else e:>8} {got.get(rule, 0):>8} {'-' if d is None else d:>8} {cand:>11} {fed:>9}  {rule}{mark}")
print("  (rules without an expected count have no injected cases: background hits are not checked)")
print("  counts " + ("MATCH" if ok else "DIFFER"))
sys.exit(0 if ok else 1)
PY

echo "  load average (1/5/15 min) before timing: $LOAD_BEFORE, after: $LOAD_AFTER on $(nproc) CPUs"
exit $RC
