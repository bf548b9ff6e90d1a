#!/usr/bin/env bash
# Whole-pack benchmark (issue 15 item 4): the runnable AWS pack (every rule type dragnet runs:
# query, EQL, new_terms, threshold) against `rg -c -F SendCommand` over the same generated trail,
# measured in the same run, plus dragnet's peak memory.
#
#   benches/whole-pack-bench.sh [--smoke] [--runs N] [--profile P] [--threads T] [SIZE]
#
#   SIZE        uncompressed size of the generated trail (default 1GB; --smoke: 4MB)
#   --profile   the generator's trail profile (default: its default; s3-data-events and
#               many-keys where dragnet-bench has them)
#   --runs N    timed runs of each command, interleaved rg / dragnet (default 5; --smoke: 1)
#   --threads   dragnet's worker threads (default 2)
#   --smoke     a few MB, one run: checks the script and that no rule is degraded
# DRAGNET_BIN / BENCH_BIN: benchmark other dragnet / dragnet-bench binaries (default
# target/release, built first). Data goes to bench-data/ (gitignored), reused while present.
#
# Reported: median wall time of each, the ratio dragnet / rg, dragnet's peak anonymous resident
# memory (RssAnon sampled every 10 ms from /proc during the untimed -vv run: heap, stacks and
# allocator slack — an upper bound of the heap, without the memory-mapped input, which the kernel
# reclaims on demand) and anonymous + file-backed (what GNU time's max RSS reports, mapped input
# included), the alert count, the rules whose state budget was reached (must be 0), and the most
# expensive rules (hunt -vv: evaluation time per rule, which includes parsing the parts of a
# record the rule is the first to read).
# Exit 1 when a rule was degraded at the default budgets.
set -euo pipefail
cd "$(dirname "$0")/.."

SMOKE=0 RUNS="" PROFILE=default THREADS=2
POSITIONAL=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) SMOKE=1 ;;
    --runs) RUNS="$2"; shift ;;
    --profile) PROFILE="$2"; shift ;;
    --threads) THREADS="$2"; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    *) POSITIONAL+=("$1") ;;
  esac
  shift
done
if [[ $SMOKE == 1 ]]; then SIZE="${POSITIONAL[0]:-4MB}"; RUNS="${RUNS:-1}"
else SIZE="${POSITIONAL[0]:-1GB}"; RUNS="${RUNS:-5}"; fi
SEED=42
SHARED="${DRAGNET_SHARED:-../shared}"
CORPUS="$SHARED/corpus/detection-rules/rules"
say() { printf '%s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }
[[ -d $CORPUS ]] || die "$CORPUS not found (the rule corpus beside the repository)"
command -v rg >/dev/null || die "ripgrep is not installed: apt-get install -y ripgrep"

if [[ -z ${DRAGNET_BIN:-} || -z ${BENCH_BIN:-} ]]; then
  say "== building (cargo build --release -p dragnet -p dragnet-bench)"
  cargo build --release -p dragnet -p dragnet-bench >&2 || die "the build failed"
fi
DRAGNET="${DRAGNET_BIN:-target/release/dragnet}"
BENCH="${BENCH_BIN:-target/release/dragnet-bench}"
[[ -x $DRAGNET && -x $BENCH ]] || die "$DRAGNET or $BENCH missing"

# ---- data ----------------------------------------------------------------------------------
mkdir -p bench-data
PROFILE_ARGS=()
SUFFIX=""
if [[ $PROFILE != default ]]; then
  $BENCH gen --help 2>/dev/null | grep -q -- '--profile' \
    || die "this dragnet-bench has no --profile (merge the generator profiles, or set BENCH_BIN)"
  PROFILE_ARGS=(--profile "$PROFILE")
  SUFFIX="-$PROFILE"
fi
DATA="bench-data/cloudtrail-$SIZE-s$SEED$SUFFIX.jsonl"
if [[ ! -s $DATA ]]; then
  say "== generating $DATA ($SIZE, seed $SEED, profile $PROFILE)"
  $BENCH gen --size "$SIZE" --seed "$SEED" --format jsonl "${PROFILE_ARGS[@]}" --out "$DATA.tmp" \
    2> "$DATA.gen.log" || { cat "$DATA.gen.log" >&2; die "generator failed"; }
  mv "$DATA.tmp" "$DATA"
fi

# ---- the runnable AWS pack (conventions.md "Rule sets"): rules/integrations/aws plus the
# cross-platform rules whose metadata.integration names aws; dragnet runs what it can and
# accounts for the rest (ES|QL, machine_learning) as unsupported.
PACK=(-r "$CORPUS/integrations/aws")
while read -r f; do PACK+=(-r "$f"); done < <(grep -l '^integration = .*"aws"' "$CORPUS"/cross-platform/*.toml)
HUNT=("$DRAGNET" hunt -j "$THREADS" -q --format ndjson "${PACK[@]}" "$DATA")

# ---- one untimed run: alerts, hunt -vv's cost report, peak memory (it also warms the cache) --
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
"$DRAGNET" hunt -j "$THREADS" -vv --format ndjson "${PACK[@]}" "$DATA" > "$OUT/alerts" 2> "$OUT/vv" &
PID=$!
PEAK_ANON=0 PEAK_FILE=0 PEAK_RSS=0
while kill -0 "$PID" 2>/dev/null; do
  if read -r anon file < <(awk '/^RssAnon/{a=$2} /^RssFile/{f=$2} END{print a+0, f+0}' "/proc/$PID/status" 2>/dev/null); then
    (( anon > PEAK_ANON )) && PEAK_ANON=$anon
    (( file > PEAK_FILE )) && PEAK_FILE=$file
    (( anon + file > PEAK_RSS )) && PEAK_RSS=$((anon + file))
  fi
  sleep 0.01
done
wait "$PID" || die "dragnet hunt failed: $(tail -3 "$OUT/vv")"
ALERTS=$(wc -l < "$OUT/alerts")
RULES_RUN=$(grep -o 'from [0-9]* rule(s) run' "$OUT/vv" | grep -o '[0-9]*' || echo '?')
DEGRADED=$(grep -c 'limit max-[a-z-]* (.*) reached' "$OUT/vv" || true)

# ---- timing: rg and dragnet interleaved -----------------------------------------------------
now() { date +%s.%N; }
RG_TIMES=() DN_TIMES=()
rg -c -F SendCommand "$DATA" > /dev/null || true
for ((i = 1; i <= RUNS; i++)); do
  t0=$(now); rg -c -F SendCommand "$DATA" > /dev/null || true; t1=$(now)
  "${HUNT[@]}" > /dev/null 2>&1 || true; t2=$(now)
  RG_TIMES+=("$(echo "$t1 - $t0" | bc -l)")
  DN_TIMES+=("$(echo "$t2 - $t1" | bc -l)")
  say "   run $i/$RUNS: rg ${RG_TIMES[-1]} s, dragnet ${DN_TIMES[-1]} s"
done

python3 - "$SIZE" "$PROFILE" "$THREADS" "$RUNS" "$(stat -c %s "$DATA")" "$ALERTS" "$RULES_RUN" \
  "$DEGRADED" "$PEAK_ANON" "$PEAK_FILE" "$PEAK_RSS" "$(nproc)" "$(uname -r)" \
  "${RG_TIMES[*]}" "${DN_TIMES[*]}" <<'PY'
import statistics, sys
(size, profile, threads, runs, nbytes, alerts, rules, degraded, anon, file_, maxrss, cores,
 kernel, rg, dn) = sys.argv[1:]
rg = [float(x) for x in rg.split()]
dn = [float(x) for x in dn.split()]
mrg, mdn = statistics.median(rg), statistics.median(dn)
mib = lambda kib: f"{int(kib) / 1024:.0f} MiB" if kib.isdigit() else kib
print(f"\nwhole AWS pack benchmark: {size} ({int(nbytes):,} bytes), profile {profile}, "
      f"{threads} threads, {cores} cores, kernel {kernel}, median of {runs} interleaved run(s)\n")
print("| measure | value |")
print("|---|---|")
print(f"| rg -c -F SendCommand | {mrg:.3f} s |")
print(f"| dragnet hunt, runnable AWS pack ({rules} rules run) | {mdn:.3f} s |")
print(f"| ratio dragnet / rg (target <= 5x) | {mdn / mrg:.1f}x |")
print(f"| dragnet peak RssAnon (heap upper bound; target < 200 MB) | {mib(anon)} |")
print(f"| dragnet peak RssFile (executable + mapped input) | {mib(file_)} |")
print(f"| dragnet peak RSS (anon + file, as GNU time's max RSS) | {mib(maxrss)} |")
print(f"| alerts | {int(alerts):,} |")
print(f"| rules degraded at default budgets (must be 0) | {degraded} |")
PY
say ""
say "most expensive rules (hunt -vv; evaluation time summed over workers):"
grep -A8 '^rule costs' "$OUT/vv" | tail -n +2 >&2 || true
grep 'limit max-[a-z-]* (.*) reached' "$OUT/vv" >&2 || true
[[ $DEGRADED == 0 ]] || { say "error: $DEGRADED rule(s) reached a state budget"; exit 1; }
