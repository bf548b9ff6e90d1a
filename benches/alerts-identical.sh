#!/usr/bin/env bash
# Proves a refactoring changed no alert: runs two dragnet binaries over the same inputs and rule
# sets and compares their alert output byte for byte.
#
#   benches/alerts-identical.sh OLD_BINARY NEW_BINARY [--bench SIZE] [--no-bench]
#
# Compared (every run: --format ndjson, alerts only; stderr is not compared):
#   - ../shared/datasets with the AWS pack (every non-deprecated rule whose metadata.integration
#     names aws: rules/integrations/aws plus the two cross-platform ones), with and without
#     --explain, and with --no-prefilter;
#   - ../shared/datasets with the shipped rules/;
#   - the generated bench trail (benches/hunt-bench.sh's file, seed 42, default 1GB) with the
#     shipped rules and with the AWS pack.
# Rules the new build deliberately no longer runs (accounted "unsupported" with a reason, e.g. a
# rule reading source.as.* without --asn-db) are named, and the old build's alerts of those rules
# are left out of the comparison; every other alert must be identical, byte for byte.
# Exit 0 when every pair is identical, 1 when one differs (the first differing lines printed).
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $# -ge 2 ]] || { sed -n '2,14p' "$0"; exit 2; }
OLD=$1 NEW=$2; shift 2
SIZE=1GB BENCH=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bench) SIZE=$2; shift ;;
    --no-bench) BENCH=0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
SHARED="${DRAGNET_SHARED:-../shared}"
CORPUS="$SHARED/corpus/detection-rules/rules"
[[ -d $CORPUS ]] || { echo "error: $CORPUS not found" >&2; exit 2; }
AWS_PACK=(-r "$CORPUS/integrations/aws")
while read -r f; do AWS_PACK+=(-r "$f"); done < <(grep -l '^integration = .*"aws"' "$CORPUS"/cross-platform/*.toml)

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
FAILED=0
N=0
compare() { # compare NAME ARGS...
  local name=$1; shift
  N=$((N + 1))
  "$OLD" hunt -q --format ndjson "$@" > "$OUT/old.all" 2>/dev/null || true
  "$NEW" hunt -q --format ndjson "$@" > "$OUT/new" 2>/dev/null || true
  "$NEW" hunt -q --format json "$@" 2>/dev/null | python3 -c '
import json, sys
for r in json.load(sys.stdin)["rules"]:
    if r["status"] == "run":
        print(r["rule_id"])
' > "$OUT/run-ids"
  # The old build's alerts of the rules the new build runs; the others, counted by rule.
  python3 - "$OUT/old.all" "$OUT/run-ids" "$OUT/old" "$OUT/dropped" <<'PY'
import json, sys
src, ids, kept, dropped = sys.argv[1:]
run = set(open(ids).read().split())
counts = {}
with open(src, "rb") as f, open(kept, "wb") as out:
    for line in f:
        doc = json.loads(line)
        if doc.get("kibana.alert.rule.rule_id") in run:
            out.write(line)
        else:
            name = doc.get("kibana.alert.rule.name")
            counts[name] = counts.get(name, 0) + 1
with open(dropped, "w") as out:
    for name, n in sorted(counts.items()):
        out.write(f"{n} alert(s) of {name!r}, which the new build does not run\n")
PY
  local alerts
  alerts=$(wc -l < "$OUT/old")
  if cmp -s "$OUT/old" "$OUT/new"; then
    printf 'identical  %-44s %7d alerts  sha256 %s\n' "$name" "$alerts" "$(sha256sum < "$OUT/new" | cut -c1-16)"
  else
    FAILED=1
    printf 'DIFFERENT  %-44s old %d alerts, new %d\n' "$name" "$alerts" "$(wc -l < "$OUT/new")"
    diff <(head -c 200000 "$OUT/old") <(head -c 200000 "$OUT/new") | head -6 | cut -c1-300
  fi
  sed 's/^/           left out: /' "$OUT/dropped"
}

compare "datasets, AWS pack" "${AWS_PACK[@]}" "$SHARED/datasets"
compare "datasets, AWS pack, --explain" --explain "${AWS_PACK[@]}" "$SHARED/datasets"
compare "datasets, AWS pack, --no-prefilter" --no-prefilter "${AWS_PACK[@]}" "$SHARED/datasets"
compare "datasets, AWS pack, -j 1" -j 1 "${AWS_PACK[@]}" "$SHARED/datasets"
compare "datasets, shipped rules" -r rules "$SHARED/datasets"
compare "pipeline fixtures, AWS pack" "${AWS_PACK[@]}" "$SHARED/fixtures/aws-cloudtrail-pipeline"

if [[ $BENCH == 1 ]]; then
  cargo build --release -p dragnet-bench >&2
  DATA=bench-data
  mkdir -p "$DATA"
  FILE="$DATA/cloudtrail-$SIZE-s42.jsonl"
  if [[ ! -s $FILE ]]; then
    target/release/dragnet-bench gen --size "$SIZE" --seed 42 --format jsonl --out "$FILE.tmp" 2> "$FILE.gen.log"
    mv "$FILE.tmp" "$FILE"
  fi
  compare "bench $SIZE, shipped rules" -r rules "$FILE"
  compare "bench $SIZE, AWS pack" "${AWS_PACK[@]}" "$FILE"
fi

if [[ $FAILED == 0 ]]; then
  echo "all $N comparisons identical"
else
  echo "alerts differ" >&2
  exit 1
fi
