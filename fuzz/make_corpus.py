#!/usr/bin/env python3
"""Builds the seed corpora fuzz/corpus/<target>/ from ../shared (read-only).

  kql       `query` of every kuery rule of the detection-rules corpus, KQL conformance vectors
  eql       `query` of every eql rule (event, sequence, sample queries)
  esql      `query` of every esql rule, and every query of the ES|QL csv-spec tests
  esql_plan the csv-spec queries over `employees` and ROW queries (the columns the target's
            table has)
  datemath  rules' `from`/`to`/`interval`, plus the forms `--from/--to` documents
  mapper    single CloudTrail records from ../shared/datasets/cloudtrail and the AWS
            integration's pipeline test logs
  framer    small dataset files as they are (every shape found there) and the same records
            rewritten in every shape the framer detects
  gzip      framer seeds gzip-compressed (plus the datasets' own .gz files when small)

Seeds are deduplicated (by content), at most MAX_SEED_BYTES each, at most MAX_SEEDS per
target, chosen deterministically (shortest first, then by content) so reruns give the same
files. Run from anywhere: python3 fuzz/make_corpus.py [TARGET...] (default: every target)
"""

import gzip
import hashlib
import json
import os
import pathlib
import shutil
import sys
import tomllib

FUZZ = pathlib.Path(__file__).resolve().parent
SHARED = (FUZZ.parent.parent / "shared").resolve()
if not SHARED.exists():
    SHARED = pathlib.Path("/work/shared")
RULES = SHARED / "corpus" / "detection-rules" / "rules"
DATASETS = SHARED / "datasets" / "cloudtrail"
PIPELINE_TESTS = SHARED / "fixtures" / "aws-cloudtrail-pipeline" / "_dev" / "test" / "pipeline"
KQL_VECTORS = SHARED / "conformance" / "kql" / "vectors.jsonl"
ESQL_SPECS = SHARED / "conformance" / "esql" / "spec"

MAX_SEEDS = 300
MAX_SEED_BYTES = 8 << 10


def rules():
    for path in sorted(RULES.rglob("*.toml")):
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
        yield doc.get("rule", {})


def pick(seeds, limit=MAX_SEEDS):
    """Deduplicated, small enough, deterministic: shortest first."""
    unique = {s for s in seeds if 0 < len(s) <= MAX_SEED_BYTES}
    ordered = sorted(unique, key=lambda s: (len(s), s))
    if len(ordered) <= limit:
        return ordered
    # Spread the picks over the length range rather than taking only the shortest.
    step = len(ordered) / limit
    return [ordered[int(i * step)] for i in range(limit)]


def write(target, seeds):
    folder = FUZZ / "corpus" / target
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for seed in seeds:
        name = hashlib.sha1(seed).hexdigest()[:16]
        (folder / name).write_bytes(seed)
    print(f"{target}: {len(seeds)} seeds")


def queries(language):
    for rule in rules():
        if rule.get("language") == language and isinstance(rule.get("query"), str):
            yield rule["query"].strip().encode()


def kql_seeds():
    seeds = list(queries("kuery"))
    for line in KQL_VECTORS.read_text(encoding="utf-8").splitlines():
        query = json.loads(line).get("query")
        if isinstance(query, str):
            seeds.append(query.encode())
    return pick(seeds)


CSV_SPEC_DIRECTIVES = ("required_capability:", "required_feature:", "skip_flattened_rewrite:",
                       "request_stored:", "approximate:", "schema::")


def csv_spec_queries(path):
    """The queries of a csv-spec file, read as crates/dragnet-esql/tests/csv_spec_parse.rs
    reads them (../shared/conformance/esql/SOURCE.md): trimmed lines, blank/`//`/`#` lines
    skipped, the name, directives, query lines up to one ending in `;` (`\\;` escaped)."""
    state, lines = "name", []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("//") or line.startswith("#"):
            continue
        if state == "name":
            state, lines = "query", []
        elif state == "query":
            if not lines and line.startswith(CSV_SPEC_DIRECTIVES):
                continue
            if line.endswith(";") and not line.endswith("\\;"):
                lines.append(line[:-1])
                yield "\n".join(lines).replace("\\;", ";")
                state = "rest"
            else:
                lines.append(line)
        elif line.startswith(";"):
            state = "name"


def esql_plan_seeds():
    """Queries that plan over the esql_plan target's table (fuzz/src/lib.rs): the csv-spec
    queries over `employees` (the table has its columns) and ROW queries."""
    seeds = []
    for path in sorted(ESQL_SPECS.glob("*.csv-spec")):
        for q in csv_spec_queries(path):
            if q.lower().startswith(("from employees ", "from employees|", "row ")):
                seeds.append(q.encode())
    return pick(seeds)


def esql_seeds():
    seeds = list(queries("esql"))
    for path in sorted(ESQL_SPECS.glob("*.csv-spec")):
        seeds += [q.encode() for q in csv_spec_queries(path)]
    return pick(seeds)


def datemath_seeds():
    seeds = []
    for rule in rules():
        for key in ("from", "to", "interval"):
            if isinstance(rule.get(key), str):
                seeds.append(rule[key].encode())
    # The forms `--from/--to` documents (README) and Elasticsearch's date-math units.
    seeds += [
        b"now", b"now/d", b"now-1d/d", b"now+1h", b"now-90d", b"now-1M/M", b"now-1y/y",
        b"now-2w/w", b"now-500ms", b"now-30s/s", b"now-5H", b"5m", b"1h", b"2d",
    ]
    return pick(seeds)


def records_of(value):
    """CloudTrail records found in a parsed dataset file, whatever its shape."""
    if isinstance(value, list):
        for item in value:
            yield from records_of(item)
    elif isinstance(value, dict):
        if "Records" in value and isinstance(value["Records"], list):
            yield from records_of(value["Records"])
        elif "detail" in value and isinstance(value["detail"], dict):
            yield value["detail"]
        elif "eventName" in value or "eventSource" in value or "eventVersion" in value:
            yield value


def dataset_files():
    for root in (DATASETS, SHARED / "datasets" / "cloudtrail-peer-tests"):
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in (".json", ".jsonl", ".log", ".gz"):
                yield path
    for path in sorted(PIPELINE_TESTS.glob("*.log")):
        yield path


def parsed_values(path):
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    text = data.decode("utf-8", errors="replace")
    try:
        yield json.loads(text)
        return
    except json.JSONDecodeError:
        pass
    for line in text.splitlines():
        line = line.strip()
        if line:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def all_records():
    for path in dataset_files():
        for value in parsed_values(path):
            yield from records_of(value)


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def mapper_seeds():
    return pick(compact(r) for r in all_records())


def framer_seeds():
    seeds = []
    # Small dataset files byte for byte: the shapes and spacing real exports have.
    for path in dataset_files():
        data = path.read_bytes()
        if data[:2] != b"\x1f\x8b" and len(data) <= MAX_SEED_BYTES:
            seeds.append(data)
    # The same records in every shape the framer detects (dragnet-input's lib.rs doc).
    records = pick((compact(r) for r in all_records()), limit=60)
    records = [json.loads(r) for r in records if len(r) <= 2048]
    for i in range(0, len(records) - 1, 2):
        pair = records[i : i + 2]
        shapes = [
            b"\n".join(compact(r) for r in pair) + b"\n",
            compact({"Records": pair}),
            json.dumps({"Records": pair}, indent=4).encode(),
            compact(pair),
            json.dumps(pair, indent=2).encode(),
            compact({"detail-type": "AWS API Call via CloudTrail", "source": "aws.s3",
                     "detail": pair[0]}),
            compact({"Events": [{"EventId": "1", "CloudTrailEvent": json.dumps(r)}
                                for r in pair]}),
            compact({"messageType": "DATA_MESSAGE", "logGroup": "g", "logStream": "s",
                     "logEvents": [{"id": "1", "timestamp": 0, "message": json.dumps(r)}
                                   for r in pair]}),
            compact({"events": [{"message": json.dumps(r)} for r in pair]}),
            compact({"_index": "logs-aws.cloudtrail-default", "_id": "x",
                     "_source": {"@timestamp": "2025-03-14T09:10:00Z",
                                 "event": {"action": pair[0].get("eventName", "x")},
                                 "ecs": {"version": "8.11.0"}}}),
            b"\xef\xbb\xbf" + compact(pair[0]) + b"\r\n" + compact(pair[1]),
        ]
        seeds += shapes[(i // 2) % len(shapes) :: 3]
    return pick(seeds, limit=200)


def gzip_seeds(framer):
    seeds = [gzip.compress(s, mtime=0) for s in framer[::2]]
    # Two members back to back (as `cat a.gz b.gz` makes; MultiGzDecoder reads both).
    seeds += [gzip.compress(a, mtime=0) + gzip.compress(b, mtime=0)
              for a, b in zip(framer[1:20:2], framer[21:40:2])]
    for path in dataset_files():
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b" and len(data) <= MAX_SEED_BYTES:
            seeds.append(data)
    return pick(seeds, limit=150)


def main(selected):
    def wanted(target):
        return not selected or target in selected

    if wanted("kql"):
        write("kql", kql_seeds())
    if wanted("eql"):
        write("eql", pick(queries("eql")))
    if wanted("esql"):
        write("esql", esql_seeds())
    if wanted("esql_plan"):
        write("esql_plan", esql_plan_seeds())
    if wanted("datemath"):
        write("datemath", datemath_seeds())
    if wanted("mapper"):
        write("mapper", mapper_seeds())
    if wanted("framer") or wanted("gzip"):
        framer = framer_seeds()
        if wanted("framer"):
            write("framer", framer)
        if wanted("gzip"):
            write("gzip", gzip_seeds(framer))


if __name__ == "__main__":
    os.umask(0o022)
    main(set(sys.argv[1:]))
