"""Records the Python engine's answer for the places where it differs from Elasticsearch.

Run: `python3 pinned_gen.py` (writes pinned.jsonl and pinned_sequences.jsonl).

pinned.jsonl, event queries: the query, one document, what Elasticsearch does (from its
documentation or its query translation, cited in `why`) and what the Python engine did.

pinned_sequences.jsonl, sequence queries: the query, the events (`@timestamp` in seconds, in
the order Elasticsearch sorts them), the sequences Elasticsearch returns (event index lists),
what the Python engine returned (null when it cannot run the query) and whether the two
differ. `tests/differential.rs` checks dragnet against the Elasticsearch column of both.
"""
import datetime
import json
import os

import eql
from eql.parser import allow_negation, allow_runs, elasticsearch_syntax, ignore_missing_functions

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
    ('any where between(s, "x", "y") == ""', {"s": "abc"}, True,
     "StringUtils.between (x-pack/plugin/eql .../function/scalar/string) returns \"\" when the left or right string is not found; Python returns null"),
    ('any where not (between(s, "x", "y") == "b")', {"s": "abc"}, True,
     "between() is \"\" when not found, so the comparison is false and its negation true; Python's null stays null"),
    ('any where s in ("a", "b") or s != "c"', {"s": "c"}, False,
     f"{S}: or of two conditions; the Python optimizer folds `s in (a, b) or s != c` into `s in (a, b, c)`"),
    ('any where s in ("a", "b") or s != "c"', {"s": "d"}, True,
     f"{S}: s != c holds; the Python optimizer's folded `in` does not"),
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



# Sequence behaviour. Sources, all in elastic/elasticsearch:
SM = "x-pack/plugin/eql/.../execution/sequence/SequenceMatcher.java"
TW = "x-pack/plugin/eql/.../execution/sequence/TumblingWindow.java"
UNTIL = (f"{SM} match(): a sequence advancing to an event at ordinal H is rejected when the key's latest "
         "until marker strictly before H (OrdinalGroup.before) lies between the sequence's last event "
         "and H, both ends included (Ordinal.between); the Python engine applies an event's until "
         "condition before its steps")
MISSING = (f"docs/reference/query-languages/eql/eql-syntax.md, 'Missing events'; {TW} doCheckMissingEvents: "
           "a missing-event step rejects a sequence only when a matching event of the key lies between "
           "its neighbouring events (or within maxspan at the ends); the Python engine (allow_negation) "
           "instead requires the key's next event not to match, and consumes it")
KEYS = (f"{TW}/Criterion key extraction: join keys are keyword values compared exactly; the Python "
        "engine lowercases join values")
NULLKEY = ("elastic/elasticsearch#79677 (EQL: add optional fields and limit joining keys on non-null values "
           "only): join keys of non-optional fields are restricted to non-null values, only ?field keys "
           "may be null; the Python engine joins null keys")


def ev(t, action, user="u1", **kw):
    return dict({"@timestamp": t, "action": action, "user": user}, **kw)


SEQ_PINNED = [
    # until and a step on the same event.
    ("until-completing-event",
     'sequence by user [any where action == "a"] [any where action == "b"] until [any where action == "b"]',
     [ev(0, "a"), ev(1, "b")], [[0, 1]], UNTIL + ": an until marker on the completing event itself is not before it"),
    ("until-completing-event-later-start",
     'sequence by user [any where action == "a"] [any where action == "b"] until [any where action == "b" and n == 1]',
     [ev(0, "a", n=0), ev(1, "b", n=0), ev(2, "a", n=0), ev(3, "b", n=1)], [[0, 1], [2, 3]], UNTIL),
    ("until-on-first-event",
     'sequence by user [any where action == "a"] [any where action == "b"] until [any where action == "a" and n == 1]',
     [ev(0, "a", n=1), ev(1, "b", n=0)], [], UNTIL + ": the marker sits on the sequence's last event, which between() includes"),
    ("until-on-first-event-then-clean-start",
     'sequence by user [any where action == "a"] [any where action == "b"] until [any where action == "a" and n == 1]',
     [ev(0, "a", n=1), ev(1, "a", n=0), ev(2, "b", n=0)], [[1, 2]], UNTIL),
    ("until-on-middle-event",
     'sequence by user [any where action == "a"] [any where action == "b"] [any where action == "c"] until [any where action == "b"]',
     [ev(0, "a"), ev(1, "b"), ev(2, "c")], [], UNTIL + ": the middle event advances, then its marker rejects the next step"),
    ("until-other-key",
     'sequence by user [any where action == "a"] [any where action == "b"] until [any where action == "b"]',
     [ev(0, "a"), ev(1, "b", user="u2"), ev(2, "b")], [[0, 2]], UNTIL + ": markers are per key"),
    ("until-between-steps",
     'sequence by user [any where action == "a"] [any where action == "b"] until [any where action == "c"]',
     [ev(0, "a"), ev(1, "c"), ev(2, "b"), ev(3, "a"), ev(4, "b")], [[3, 4]], UNTIL),
    # Join keys.
    ("key-case-sensitive",
     'sequence by user [any where action == "a"] [any where action == "b"]',
     [ev(0, "a", user="Alice"), ev(1, "b", user="alice")], [], KEYS),
    ("key-null-does-not-join",
     'sequence by user [any where action == "a"] [any where action == "b"]',
     [{"@timestamp": 0, "action": "a"}, {"@timestamp": 1, "action": "b"}], [], NULLKEY),
    # Missing events (the Python engine reads them differently; it needs maxspan for them).
    ("missing-middle-absent",
     'sequence by user with maxspan=1h [any where action == "a"] ![any where action == "x"] [any where action == "b"]',
     [ev(0, "a"), ev(5, "b")], [[0, 1]], MISSING),
    ("missing-middle-other-event",
     'sequence by user with maxspan=1h [any where action == "a"] ![any where action == "x"] [any where action == "b"]',
     [ev(0, "a"), ev(2, "y"), ev(5, "b")], [[0, 2]], MISSING),
    ("missing-middle-present",
     'sequence by user with maxspan=1h [any where action == "a"] ![any where action == "x"] [any where action == "b"]',
     [ev(0, "a"), ev(2, "x"), ev(5, "b")], [], MISSING),
    ("missing-middle-other-key",
     'sequence by user with maxspan=1h [any where action == "a"] ![any where action == "x"] [any where action == "b"]',
     [ev(0, "a"), ev(2, "x", user="u2"), ev(5, "b")], [[0, 2]], MISSING),
    ("missing-trailing-absent",
     'sequence by user with maxspan=5s [any where action == "a"] ![any where action == "x"]',
     [ev(0, "a")], [[0]], MISSING),
    ("missing-trailing-within-maxspan",
     'sequence by user with maxspan=5s [any where action == "a"] ![any where action == "x"]',
     [ev(0, "a"), ev(3, "x")], [], MISSING),
    ("missing-trailing-after-maxspan",
     'sequence by user with maxspan=5s [any where action == "a"] ![any where action == "x"]',
     [ev(0, "a"), ev(9, "x")], [[0]], MISSING),
    ("missing-leading-within-maxspan",
     'sequence by user with maxspan=10s ![any where action == "x"] [any where action == "a"] [any where action == "b"]',
     [ev(0, "x"), ev(3, "a"), ev(4, "b")], [], MISSING),
    ("missing-leading-before-maxspan",
     'sequence by user with maxspan=10s ![any where action == "x"] [any where action == "a"] [any where action == "b"]',
     [ev(0, "x"), ev(20, "a"), ev(21, "b")], [[1, 2]], MISSING),
]


# Elasticsearch's own QA for missing events (x-pack/plugin/eql/qa/common/src/main/resources:
# test_missing_events.toml, expected_event_ids, over data/missing-events.data, re-encoded here:
# event i of a data block is index i-1, `@timestamp` "1" is epoch millisecond 1).
QA = "x-pack/plugin/eql/qa/common/src/main/resources/test_missing_events.toml"


def ms(n):
    return f"1970-01-01T00:00:00.{n:03d}Z"


QA_TEST1 = [{"@timestamp": ms(i + 1), "tag": tag} for i, tag in enumerate(["normal", "normal", "missing", "normal"])]
QA_TEST2 = [{"@timestamp": t, "tag": tag} for t, tag in [
    ("2022-05-04T12:00:00.000Z", "normal"), ("2022-05-04T12:00:00.001Z", "normal"),
    ("2022-05-04T12:00:00.002Z", "missing"), ("2022-05-04T12:00:00.003Z", "normal"),
    ("2022-05-04T12:00:00.004Z", "normal"), ("2022-05-04T12:00:00.005Z", "missing"),
    ("2022-05-04T12:02:00.006Z", "missing2"), ("2022-05-04T12:03:00.006Z", "missing2")]]
QA_TEST3 = [{"@timestamp": t, "tag": tag} for t, tag in [
    ("2022-05-04T12:00:00.000Z", "missing"), ("2022-05-04T12:10:00.001Z", "normal"),
    ("2022-05-04T12:20:00.001Z", "missing"), ("2022-05-04T12:21:00.001Z", "normal"),
    ("2022-05-04T12:29:00.001Z", "normal"), ("2022-05-04T12:31:00.001Z", "normal")]]
QA_TEST4 = [{"@timestamp": ms(i + 1), "tag": tag} for i, tag in enumerate(
    ["A", "B", "M1", "B", "C", "M2", "D", "M1", "C", "B", "C", "D", "A", "B", "M3", "C", "D", "M4"])]


def qa(name, query, events, expected_ids):
    """A QA query: expected_event_ids lists each sequence's events, -1 for a missing step."""
    steps = query.count("[")
    ids = [i for i in expected_ids]
    seqs = [ids[k:k + steps] for k in range(0, len(ids), steps)]
    es = [[i - 1 for i in seq if i != -1] for seq in seqs]
    return (f"es-qa-{name}", query, events, es, f"{QA} '{name}' (Elasticsearch's own test)")


SEQ_PINNED += [
    qa("missingInBetween_noMatches", 'sequence with maxspan=1s [any where tag == "normal"] ![any where tag == "nonexisting"] [any where tag == "normal"]',
       QA_TEST1, [1, -1, 2, 2, -1, 4]),
    qa("missingInBetween_match", 'sequence with maxspan=1s [any where tag == "normal"] ![any where tag == "missing"] [any where tag == "normal"]',
       QA_TEST1, [1, -1, 2]),
    qa("positivePlusMissing", 'sequence with maxspan=1s [any where tag == "normal"] ![any where tag == "missing"]',
       QA_TEST1, [4, -1]),
    qa("skipFirstMatchAndPickSecondCandidate", 'sequence with maxspan=1s [any where tag == "normal"] [any where tag == "normal"] ![any where tag == "missing"] [any where tag == "normal"]',
       QA_TEST2, [2, 4, -1, 5]),
    qa("leadingSimple", 'sequence with maxspan=3m ![any where tag == "missing"] [any where tag == "normal"]',
       QA_TEST3, [-1, 2, -1, 5, -1, 6]),
    qa("leadingAndTrailingExcluded1", 'sequence with maxspan=19m ![any where tag == "missing"] [any where tag == "normal"] ![any where tag == "missing"]',
       QA_TEST3, [-1, 2, -1, -1, 4, -1, -1, 5, -1, -1, 6, -1]),
    qa("leadingAndTrailingExcluded2", 'sequence with maxspan=21m ![any where tag == "missing"] [any where tag == "normal"] ![any where tag == "missing"]',
       QA_TEST3, [-1, 4, -1, -1, 5, -1, -1, 6, -1]),
    qa("multipleMissing1", 'sequence with maxspan=1s [any where tag == "A"] [any where tag == "B"] ![any where tag == "M1"] [any where tag == "C"] ![any where tag == "M2"] [any where tag == "D"]',
       QA_TEST4, [13, 14, -1, 16, -1, 17]),
    qa("multipleMissing2", 'sequence with maxspan=1s [any where tag == "A"] [any where tag == "B"] ![any where tag == "M1"] [any where tag == "C"] [any where tag == "D"]',
       QA_TEST4, [13, 14, -1, 16, 17]),
    qa("multipleMissing3", 'sequence with maxspan=1s [any where tag == "A"] [any where tag == "B"] [any where tag == "C"] ![any where tag == "M2"] [any where tag == "D"]',
       QA_TEST4, [13, 14, 16, -1, 17]),
    qa("multipleMissing4", 'sequence with maxspan=1s [any where tag == "A"] [any where tag == "B"] ![any where tag == "M1"] [any where tag == "C"] ![any where tag == "M2"] [any where tag == "D"] ![any where tag == "M4"]',
       QA_TEST4, []),
    qa("multipleMissing5", 'sequence with maxspan=1s [any where tag == "A"] [any where tag == "B"] ![any where tag == "none"] [any where tag == "C"] ![any where tag == "none"] [any where tag == "D"]',
       QA_TEST4, [1, 2, -1, 5, -1, 7, 13, 14, -1, 16, -1, 17]),
    qa("multipleMissing6", 'sequence with maxspan=1s [any where tag == "A"] [any where tag == "B"] [any where tag == "C"] ![any where tag == "M2"] [any where tag == "D"] ![any where tag == "none"]',
       QA_TEST4, [13, 14, 16, -1, 17, -1]),
    qa("multipleMissing7", 'sequence with maxspan=1s ![any where tag == "none"] [any where tag == "A"] [any where tag == "B"] [any where tag == "C"] ![any where tag == "M2"] [any where tag == "D"]',
       QA_TEST4, [-1, 13, 14, 16, -1, 17]),
]


def seconds(ts):
    """`@timestamp` as seconds: a number of seconds, or an RFC 3339 string."""
    if isinstance(ts, (int, float)):
        return ts
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def python_sequences(query_text, events):
    try:
        with elasticsearch_syntax, ignore_missing_functions, allow_runs, allow_negation:
            query = eql.parse_query(query_text)
    except eql.EqlError:
        return None
    found = []
    engine = eql.PythonEngine({"flatten": False})
    engine.add_output_hook(lambda output: found.append([e.data["_i"] for e in output.events]))
    engine.add_query(query)
    engine.stream_events([eql.Event("any", round(seconds(d["@timestamp"]) * 10**7), dict(d, _i=i))
                          for i, d in enumerate(events)])
    return found


here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "pinned_sequences.jsonl"), "w") as fh:
    for id_, q, events, es, why in SEQ_PINNED:
        py = python_sequences(q, events)
        line = {"id": id_, "query": q, "events": events, "elasticsearch": es, "python": py,
                "python_differs": py != es, "why": why}
        fh.write(json.dumps(line) + "\n")
        print(id_, "es", es, "python", py)

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pinned.jsonl")
with open(out, "w") as fh:
    for q, d, es, why in PINNED:
        py = python_says(q, d)
        fh.write(json.dumps({"query": q, "doc": d, "elasticsearch": es, "python": py, "why": why}) + "\n")
        print(q, "es", es, "python", py)
