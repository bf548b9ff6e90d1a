"""Records the Python engine's answer for the places where it differs from Elasticsearch.

Run: `python3 pinned_gen.py` (writes pinned.jsonl). Each line: the query, one document, what
Elasticsearch does (from its documentation or its query translation, cited in `why`) and what
the Python engine did. `tests/differential.rs` checks dragnet against the Elasticsearch column.
"""
import json
import os

import eql
from eql.parser import elasticsearch_syntax, ignore_missing_functions

S = "eql-syntax.md (elastic/elasticsearch docs/reference/query-languages/eql)"
F = "eql-function-ref.md (same folder)"
PINNED = [
    ('any where s : "g?mut"', {"s": "gamut"}, True, f"{S}: the ? wildcard matches exactly one character"),
    ('any where s like "d?c"', {"s": "doc"}, True, f"{S}: like supports ? (D?C matches DOC)"),
    ('any where s regex "(alpha|beta)"', {"s": "betamax"}, False, "regex runs as a Lucene regexp query, which matches the whole value"),
    ('any where s == "ALPHA"', {"s": "alpha"}, False, f"{S}: == is case-sensitive in Elasticsearch EQL"),
    ('any where s in ("ALPHA")', {"s": "alpha"}, False, f"{S}: in is case-sensitive; use in~"),
    ('any where startsWith(s, "AL")', {"s": "alpha"}, False, f"{F}: startsWith is case-sensitive by default"),
    ('any where endsWith(s, "HA")', {"s": "alpha"}, False, f"{F}: endsWith is case-sensitive by default"),
    ('any where stringContains(s, "LP")', {"s": "alpha"}, False, f"{F}: stringContains is case-sensitive by default"),
    ('any where s != "x"', {"t": "y"}, True, "!= is built as not(==), a bool must_not: events without the field match"),
    ('any where not s == "x"', {"t": "y"}, True, "not is a bool must_not: events without the field match"),
    ('any where s not in ("x")', {"t": "y"}, True, "not in is must_not terms: events without the field match"),
]


def python_says(query_text, d):
    with elasticsearch_syntax, ignore_missing_functions:
        query = eql.parse_query(query_text)
    found = []
    engine = eql.PythonEngine({"flatten": True})
    engine.add_output_hook(lambda e: found.append(1))
    engine.add_query(query)
    engine.stream_events([eql.Event("any", 0, d)])
    return bool(found)


out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pinned.jsonl")
with open(out, "w") as fh:
    for q, d, es, why in PINNED:
        py = python_says(q, d)
        fh.write(json.dumps({"query": q, "doc": d, "elasticsearch": es, "python": py, "why": why}) + "\n")
        print(q, "es", es, "python", py)
