"""Generates differential cases for dragnet-eql from Elastic's `eql` Python package.

Run: `pip install eql==1.0.1 && python3 gen.py` (writes cases.jsonl next to this file).
The file starts with event sets (`{"event_set": k, "events": […]}`, documents with
`@timestamp` in seconds, in time order); each case names its query, its event set and what
the Python engine found: the indexes of matching events (event queries) or the index
lists of sequences. `tests/differential.rs` replays them against dragnet.

The generated space avoids the places where the Python engine is known to differ from
Elasticsearch (see the "pinned" cases at the end, which record Elasticsearch's behaviour
instead, with the reason): values and constants are lowercase (Python compares `==`, `in` and
functions case-insensitively), every event has every field (Python treats comparisons with a
missing field differently from Elasticsearch's must_not), fields are single-valued, wildcard
patterns use `*` only (Python reads `?` literally) and regular expressions end in `.*` (Python
anchors them at the start only, Lucene at both ends).
"""
import json
import os
import random

import eql
from eql.parser import elasticsearch_syntax, ignore_missing_functions

rng = random.Random(20261123)
WORDS = ["alpha", "beta", "gamma", "delta", "alpine", "betamax", "gamut", "del", "a", "ab"]
IPS = ["10.0.0.1", "10.1.2.3", "192.168.1.10", "172.16.5.4", "8.8.8.8"]
USERS = ["u1", "u2", "u3"]
ACTIONS = ["login", "read", "write", "logout"]


def doc(i):
    return {
        "s": rng.choice(WORDS),
        "t": rng.choice(WORDS) + "." + rng.choice(["exe", "dll", "txt"]),
        "n": rng.randint(0, 20),
        "f": rng.choice([0.5, 1.25, 2.0, 7.75, 10.5]),
        "ip": rng.choice(IPS),
        "num": str(rng.randint(0, 99)),
    }


EVENT_DOCS = [doc(i) for i in range(30)]


def python_run(query_text, docs, times):
    with elasticsearch_syntax, ignore_missing_functions:
        query = eql.parse_query(query_text)
    found = []
    engine = eql.PythonEngine({"flatten": True})
    if query_text.startswith("sequence"):
        current = []

        def hook(output):
            current.append(output.data["_i"])

        engine.add_output_hook(hook)
    else:
        engine.add_output_hook(lambda output: found.append(output.data["_i"]))
    engine.add_query(query)
    events = [eql.Event("any", t * 10**7, dict(d, _i=i)) for i, (d, t) in enumerate(zip(docs, times))]
    engine.stream_events(events)
    if query_text.startswith("sequence"):
        return current
    return found


def q(s):
    return json.dumps(s)


cases = []


event_sets = []


def add(production, query, docs=None, times=None):
    docs = docs or EVENT_DOCS
    times = times or list(range(len(docs)))
    try:
        got = python_run(query, docs, times)
    except Exception as e:  # the Python engine cannot run it: not a usable case
        print("skip", query, e)
        return
    events = [dict(d, **{"@timestamp": t}) for d, t in zip(docs, times)]
    if not event_sets or event_sets[-1] != events:
        event_sets.append(events)
    cases.append({"production": production, "query": query, "event_set": len(event_sets) - 1, "python": got})


def atom():
    kind = rng.choice(["eq", "neq", "cmp", "seq", "in", "like", "num"])
    w = rng.choice(WORDS)
    if kind == "eq":
        return f"s == {q(w)}"
    if kind == "neq":
        return f"s != {q(w)}"
    if kind == "cmp":
        return f"n {rng.choice(['<', '<=', '>', '>='])} {rng.randint(0, 20)}"
    if kind == "seq":
        return f"s : {q(w[:2] + '*')}"
    if kind == "in":
        return f"s in ({q(w)}, {q(rng.choice(WORDS))})"
    if kind == "like":
        return f"t like {q('*.' + rng.choice(['exe', 'dll']))}"
    return f"n == {rng.randint(0, 20)}"


for _ in range(25):
    w = rng.choice(WORDS)
    add("compare_eq", f"any where s == {q(w)}")
    add("compare_neq", f"any where s != {q(w)}")
    op = rng.choice(["<", "<=", ">", ">="])
    add("compare_range_number", f"any where n {op} {rng.randint(0, 20)}")
    add("compare_range_float", f"any where f {op} {rng.choice([0.5, 1, 2.5, 7.75, 11])}")
    add("compare_range_string", f"any where s {op} {q(w)}")
    add("compare_literal_left", f"any where {rng.randint(0, 20)} {op} n")
for _ in range(20):
    w = rng.choice(WORDS)
    # No `?`: the Python engine treats it literally, Elasticsearch as one character.
    pat = rng.choice([w[:2] + "*", "*" + w[-2:], w[0] + "*" + w[2:], "*" + w[1:3] + "*", w, w[:1] + "*" + w[-1:]])
    add("seq_wildcard", f"any where s : {q(pat)}")
    add("seq_list", f"any where s : ({q(pat)}, {q(rng.choice(WORDS))})")
    add("like", f"any where t like {q(pat + '*')}")
    add("like_insensitive", f"any where t like~ {q(pat + '*')}")
    add("like_list", f"any where s like ({q(pat)}, {q(rng.choice(WORDS)[:2] + '*')})")
# Python's `re.match` anchors only the start, Lucene the whole value: every pattern ends in `.*`
# so both readings agree (full anchoring is pinned in tests/vectors).
for pat in ["a.*", "[a-d]+.*", ".*ta.*", "(alpha|beta).*", "de?l.*", "g[a-z]{2,3}.*", ".*m.*", "b.*x.*", "[^a].*", ".+\\.exe.*"]:
    field = "t" if "exe" in pat else "s"
    add("regex", f"any where {field} regex {q(pat)}")
    add("regex_insensitive", f"any where {field} regex~ {q(pat)}")
    add("regex_list", f"any where {field} regex ({q(pat)}, \"zzz\")")
for _ in range(15):
    ws = rng.sample(WORDS, 3)
    add("in", f"any where s in ({', '.join(q(w) for w in ws)})")
    add("in_insensitive", f"any where s in~ ({', '.join(q(w) for w in ws)})")
    add("not_in", f"any where s not in ({', '.join(q(w) for w in ws)})")
    add("in_numbers", f"any where n in ({', '.join(str(rng.randint(0, 20)) for _ in range(4))})")
for _ in range(40):
    a, b, c = atom(), atom(), atom()
    form = rng.choice(["{a} and {b}", "{a} or {b}", "not {a}", "not ({a} or {b})", "{a} and not {b}", "({a} or {b}) and {c}", "{a} or {b} and {c}"])
    add("boolean", "any where " + form.format(a=a, b=b, c=c))
for _ in range(12):
    k = rng.randint(1, 9)
    add("arith_add", f"any where n + {k} > {rng.randint(5, 25)}")
    add("arith_sub", f"any where n - {k} < {rng.randint(-5, 15)}")
    add("arith_mul", f"any where n * {k} >= {rng.randint(0, 100)}")
    add("arith_div_int", f"any where n / {k} == {rng.randint(0, 5)}")
    add("arith_div_float", f"any where f / {k} < {rng.choice([0.25, 1, 2.5])}")
    add("arith_mod", f"any where n % {k} == {rng.randint(0, k - 1)}")
    add("arith_neg", f"any where -n < -{rng.randint(0, 20)}")
    add("arith_parens", f"any where (n + {k}) * 2 == {rng.randint(0, 50)}")
for _ in range(8):
    w = rng.choice(WORDS)
    k = rng.randint(0, 6)
    add("fn_add", f"any where add(n, {k}) == {rng.randint(0, 26)}")
    add("fn_subtract", f"any where subtract(n, {k}) > {rng.randint(-6, 20)}")
    add("fn_multiply", f"any where multiply(n, {k}) < {rng.randint(0, 60)}")
    add("fn_divide", f"any where divide(n, {k + 1}) == {rng.randint(0, 10)}")
    add("fn_modulo", f"any where modulo(n, {k + 1}) == {rng.randint(0, k)}")
    add("fn_between", f"any where between(t, {q(w[:1])}, \".\") == {q(w[1:])}")
    add("fn_between_greedy", f"any where between(t, \"a\", \"a\", true) != \"\"")
    add("fn_cidrmatch", f"any where cidrMatch(ip, {q(rng.choice(['10.0.0.0/8', '192.168.0.0/16', '172.16.0.0/12', '8.8.8.8/32']))})")
    add("fn_concat", f"any where concat(s, \"-\", n) == {q(w + '-' + str(rng.randint(0, 20)))}")
    add("fn_endswith", f"any where endsWith(s, {q(w[-2:])})")
    add("fn_endswith_insensitive", f"any where endsWith~(t, {q(rng.choice(['.exe', '.dll', 'a.txt']))})")
    add("fn_indexof", f"any where indexOf(s, {q(w[1:2])}) == {rng.randint(0, 4)}")
    add("fn_indexof_start", f"any where indexOf(t, \".\", {rng.randint(0, 6)}) > {rng.randint(0, 8)}")
    add("fn_length", f"any where length(s) {rng.choice(['<', '==', '>='])} {rng.randint(1, 7)}")
    add("fn_number", f"any where number(num) > {rng.randint(0, 99)}")
    add("fn_startswith", f"any where startsWith(s, {q(w[:2])})")
    add("fn_startswith_insensitive", f"any where startsWith~(t, {q(w[:3])})")
    add("fn_string", f"any where string(n) == {q(str(rng.randint(0, 20)))}")
    add("fn_stringcontains", f"any where stringContains(t, {q(w[1:3])})")
    add("fn_stringcontains_insensitive", f"any where stringContains~(s, {q(w[-3:])})")
    add("fn_substring", f"any where substring(t, {rng.randint(-4, 3)}) == {q(rng.choice(['.exe', 'exe', 'dll', '.txt']))}")
    add("fn_substring_end", f"any where substring(s, 0, {rng.randint(1, 4)}) == {q(w[:2])}")
    add("fn_nested", f"any where length(concat(s, t)) > {rng.randint(5, 15)}")

# Sequences over random streams.
def stream(n):
    t = 0
    docs, times = [], []
    for _ in range(n):
        t += rng.choice([1, 1, 2, 5, 30])
        docs.append({"user": rng.choice(USERS), "action": rng.choice(ACTIONS), "n": rng.randint(0, 5)})
        times.append(t)
    return docs, times


for _ in range(25):
    docs, times = stream(40)
    a1, a2, a3 = rng.choice(ACTIONS), rng.choice(ACTIONS), rng.choice(ACTIONS)
    span = rng.choice([5, 10, 30, 60])
    add("sequence_by", f"sequence by user [any where action == {q(a1)}] [any where action == {q(a2)}]", docs, times)
    add("sequence_maxspan", f"sequence by user with maxspan={span}s [any where action == {q(a1)}] [any where action == {q(a2)}] [any where action == {q(a3)}]", docs, times)
    add("sequence_until", f"sequence by user [any where action == {q(a1)}] [any where action == {q(a2)}] until [any where action == {q(a3)}]", docs, times)
    add("sequence_step_by", f"sequence [any where action == {q(a1)}] by user [any where n > 2] by user", docs, times)
    add("sequence_no_key", f"sequence with maxspan={span}s [any where action == {q(a1)}] [any where n >= 4]", docs, times)

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases.jsonl")
with open(out, "w") as fh:
    for k, events in enumerate(event_sets):
        fh.write(json.dumps({"event_set": k, "events": events}, separators=(",", ":")) + "\n")
    for i, c in enumerate(cases):
        c = {"id": f"{c['production']}-{i}", **c}
        fh.write(json.dumps(c, separators=(",", ":")) + "\n")
print(len(cases), "cases")
