"""Generates differential cases for dragnet-eql from Elastic's `eql` Python package.

Run: `pip install eql==1.0.1 && python3 gen.py` (writes cases.jsonl next to this file).
The file starts with event sets (`{"event_set": k, "events": […]}`, documents with
`@timestamp` in seconds, in time order); each case names its query, its event set and what
the Python engine found: `python`, the indexes of matching events (event queries), or
`sequences`, one index list per completed sequence in completion order (sequence queries, run
with `allow_runs`; `effects` lists what the case exercises, see `effects()`).
`tests/differential.rs` replays them against dragnet. Deterministic: fixed seeds, no clock.

The generated space avoids the places where the Python engine is known to differ from
Elasticsearch (pinned_gen.py records Elasticsearch's behaviour there instead, each with its
reason and source; the sequence section below lists the sequence-specific ones): values and constants are lowercase (Python compares `==`, `in` and
functions case-insensitively), every event has every field (Python treats comparisons with a
missing field differently from Elasticsearch's must_not), fields are single-valued, wildcard
patterns use `*` only (Python reads `?` literally) and regular expressions end in `.*` (Python
anchors them at the start only, Lucene at both ends).
"""
import json
import os
import random

import eql
from eql.parser import allow_runs, elasticsearch_syntax, ignore_missing_functions

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
    """What the Python engine finds: matching event indexes for an event query, the index
    lists of the sequences (in the order they complete) for a sequence."""
    with elasticsearch_syntax, ignore_missing_functions, allow_runs:
        query = eql.parse_query(query_text)
    found = []
    engine = eql.PythonEngine({"flatten": False})
    if query_text.startswith("sequence"):
        engine.add_output_hook(lambda output: found.append([e.data["_i"] for e in output.events]))
    else:
        engine.add_output_hook(lambda output: found.append(output.events[0].data["_i"]))
    engine.add_query(query)
    events = [eql.Event("any", t * 10**7, dict(d, _i=i)) for i, (d, t) in enumerate(zip(docs, times))]
    engine.stream_events(events)
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
    key = "sequences" if query.startswith("sequence") else "python"
    cases.append({"production": production, "query": query, "event_set": len(event_sets) - 1, key: got})


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

# ---------------------------------------------------------------------------------------------
# Sequences. Their own random source, so that adding sequence cases never changes the event
# query cases above.
#
# Besides the rules above, sequence generation stays out of these places where the Python
# engine differs from Elasticsearch (each pinned in pinned_gen.py instead):
# - join keys are lowercase strings present on every event (Python lowercases join values and
#   joins null keys; Elasticsearch compares keyword values exactly and never joins a null key);
# - no event matches both the `until` condition and a step (Python applies the `until` first,
#   Elasticsearch's SequenceMatcher rejects a sequence only for an until marker at or after the
#   sequence's last event and strictly before the next one, so such an event still completes a
#   sequence and a sequence it starts is rejected);
# - between() only outside `not` (Python returns null where the left or right string is not
#   found, Elasticsearch's StringUtils.between returns ""; compared to a non-empty string both
#   are false, negated they differ);
# - no `or` of `f in (…)` with `f != …` (Python's optimizer merges them into one `in`);
# - no missing-event steps `![…]` (Python reads them as "the key's next event does not match",
#   Elasticsearch as "no matching event between the neighbouring events / within maxspan").
# Ties on @timestamp are generated on purpose: both engines then follow the input order (the
# test feeds events with their index, Elasticsearch's implicit tiebreaker order).
srng = random.Random(20261124)
SEQ_USERS = ["u1", "u2", "u3", "u4", "u5"]
SEQ_HOSTS = ["h1", "h2", "h3"]
SEQ_ACTIONS = ["login", "read", "write", "delete"]
GAPS = [0, 0, 0, 1, 1, 1, 2, 2, 3, 5, 5, 10, 20, 30, 45, 60, 90, 120, 300, 600, 1800, 3600]
MAXSPANS = ["1s", "2s", "5s", "10s", "30s", "45s", "60s", "90s", "1m", "2m", "5m", "10m", "30m",
            "1h", "2h", "1d", "1500ms", "5000ms", "120000ms"]


def seq_stream(n, users, hosts):
    t = srng.randint(0, 100)
    docs, times = [], []
    for _ in range(n):
        t += srng.choice(GAPS)
        docs.append({
            "user": srng.choice(users),
            "target": srng.choice(users),
            "host": srng.choice(hosts),
            "action": srng.choice(SEQ_ACTIONS),
            "s": srng.choice(WORDS),
            "t": srng.choice(WORDS) + "." + srng.choice(["exe", "dll", "txt"]),
            "n": srng.randint(0, 9),
            "ip": srng.choice(IPS),
            "num": str(srng.randint(0, 99)),
        })
        times.append(t)
    return docs, times


def seq_atom():
    """One condition on a step, drawn from many operators and functions."""
    a, b = srng.sample(SEQ_ACTIONS, 2)
    w = srng.choice(WORDS)
    k = srng.randint(0, 9)
    forms = [
        f"action == {q(a)}",
        f"action == {q(a)}",
        f"action == {q(a)}",
        f"action != {q(a)}",
        f"action in ({q(a)}, {q(b)})",
        f"action not in ({q(a)}, {q(b)})",
        f"action in~ ({q(a)}, {q(b)})",
        f"action : {q(a[:2] + '*')}",
        f"action : ({q('*' + a[-2:])}, {q(b)})",
        f"action like {q(a[0] + '*')}",
        f"action like~ {q('*' + a[-1])}",
        f"action regex {q('(' + a + '|' + b + ').*')}",
        f"action regex~ {q(a[:3] + '.*')}",
        f"n < {k}",
        f"n >= {k}",
        f"n <= {k}",
        f"n > {k}",
        f"n % 2 == {k % 2}",
        f"n * 2 > {k}",
        f"n + 1 == {k}",
        f"n - 1 < {k}",
        f"n / 2 == {k // 2}",
        f"n * 1.5 >= {k}.5",
        f"-n > -{k}",
        f"s > {q(w)}",
        f"startsWith(s, {q(w[:2])})",
        f"startsWith~(t, {q(w[:1])})",
        f"endsWith(t, {q(srng.choice(['.exe', '.dll', 'a.txt']))})",
        f"endsWith~(s, {q(w[-1:])})",
        f"stringContains(t, {q(w[1:3])})",
        f"stringContains~(s, {q(w[-2:])})",
        f"length(s) > {srng.randint(1, 5)}",
        f"cidrMatch(ip, {q(srng.choice(['10.0.0.0/8', '192.168.0.0/16', '172.16.0.0/12']))})",
        f"substring(t, 0, 1) == {q(w[:1])}",
        f"substring(action, -2) == {q(a[-2:])}",
        f"number(num) > {srng.randint(0, 99)}",
        f"string(n) == {q(str(k))}",
        f"concat(action, n) == {q(a + str(k))}",
        f"add(n, {k}) > 9",
        f"subtract(n, 3) < {k - 3}",
        f"multiply(n, 3) >= {3 * k}",
        f"divide(n, 2) == {k // 2}",
        f"modulo(n, 3) == {k % 3}",
        f"indexOf(action, {q(a[1])}) == 1",
        f"between(t, {q(w[:1])}, \".\") == {q(w[1:] or 'x')}",
        f"length(concat(user, host)) == 4",
        "true",
    ]
    return srng.choice(forms)


def seq_filter():
    r = srng.random()
    if r < 0.6:
        return seq_atom()
    if r < 0.7:
        return f"{seq_atom()} and {seq_atom()}"
    if r < 0.92:
        a, b = seq_atom(), seq_atom()
        # Python's optimizer folds `f in (…) or f != "x"` into `f in (…, "x")` (pinned).
        while {(a.split(" ") + [""])[1], (b.split(" ") + [""])[1]} == {"in", "!="}:
            b = seq_atom()
        return f"{a} or {b}"
    a = seq_atom()
    # Python's between() is null where Elasticsearch's is "" (pinned): `not` would tell.
    while a.startswith("between("):
        a = seq_atom()
    return f"not ({a})"


def python_matches(condition, docs, times):
    return set(python_run(f"any where {condition}", docs, times))


def seq_query(docs, times):
    """A random sequence query over the fields of `seq_stream`; returns (production, query,
    maxspan, the query without its maxspan / until)."""
    n_steps = srng.choice([1, 2, 2, 2, 3, 3, 4])
    filters = []
    # Some queries keep one action for the `until` condition, so that it often interrupts.
    stop_action = srng.choice(SEQ_ACTIONS) if srng.random() < 0.2 else None
    for i in range(n_steps):
        if i > 0 and srng.random() < 0.15:
            filters.append(filters[-1])  # the same filter on consecutive steps
        elif stop_action:
            a = srng.choice([x for x in SEQ_ACTIONS if x != stop_action])
            extra = srng.choice(["", f" and {seq_atom()}", f" and ({seq_atom()} or {seq_atom()})"])
            filters.append(f"action == {q(a)}{extra}")
        else:
            filters.append(seq_filter())
    runs = [None] * n_steps
    if n_steps == 1 or srng.random() < 0.2:
        runs[srng.randrange(n_steps)] = srng.randint(2, 4)
    keys = srng.choice(["none", "seq1", "seq1", "seq1", "seq2", "step", "step_fields", "mixed"])
    seq_by, step_by = "", [""] * n_steps
    if keys == "seq1":
        seq_by = f" by {srng.choice(['user', 'host', 'target'])}"
    elif keys == "seq2":
        seq_by = " by " + ", ".join(srng.sample(["user", "host", "target"], 2))
    elif keys == "step":
        f = srng.choice(["user", "host"])
        step_by = [f" by {f}"] * n_steps
    elif keys == "step_fields":
        step_by = [f" by {srng.choice(['user', 'target'])}" for _ in range(n_steps)]
    elif keys == "mixed":
        seq_by = " by host"
        step_by = [f" by {srng.choice(['user', 'target'])}" for _ in range(n_steps)]
    maxspan = srng.choice(MAXSPANS) if srng.random() < 0.75 else None
    head = "sequence" + seq_by + (f" with maxspan={maxspan}" if maxspan else "")
    parts = [head]
    for f, by, r in zip(filters, step_by, runs):
        parts.append(f"[any where {f}]" + by + (f" with runs={r}" if r else ""))
    until = ""
    if stop_action:
        extra = srng.choice(["", f" and {seq_atom()}", f" or ({seq_atom()} and n > 8)"])
        u = f"action == {q(stop_action)}{extra}"
        hits = python_matches(u, docs, times)
        steps_match = set()
        for f in set(filters):
            steps_match |= python_matches(f, docs, times)
        if hits and not hits & steps_match:
            until = f"until [any where {u}]" + step_by[0]
    elif srng.random() < 0.4:
        steps_match = set()
        for f in set(filters):
            steps_match |= python_matches(f, docs, times)
        best = 0
        for _ in range(20):
            u = seq_filter()
            hits = python_matches(u, docs, times)
            # The until condition that stops the most events without matching a step's.
            if len(hits) > best and not hits & steps_match:
                best = len(hits)
                until = f"until [any where {u}]" + step_by[0]
    if until:
        parts.append(until)
    production = "sequence"
    production += "_" + keys
    production += "_maxspan" if maxspan else ""
    production += "_until" if until else ""
    production += "_runs" if any(runs) else ""
    production += f"_{n_steps}steps"
    variants = {}
    if maxspan:
        variants["maxspan"] = " ".join(["sequence" + seq_by] + parts[1:])
    if until:
        variants["until"] = " ".join(parts[:-1])
    return production, " ".join(parts), maxspan, variants


def span_seconds(maxspan):
    for unit, mult in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)):
        if maxspan.endswith(unit) and maxspan[: -len(unit)].isdigit():
            return int(maxspan[: -len(unit)]) * mult
    raise ValueError(maxspan)


def effects(case, maxspan, variants, times):
    """What the case exercises: `maxspan` / `until` when dropping them changes the result,
    `maxspan_boundary` when a sequence spans exactly maxspan (inclusive limit), `tie` when a
    sequence holds two events with the same @timestamp."""
    out = []
    for name, query in variants.items():
        if python_run(query, case["docs"], times) != case["sequences"]:
            out.append(name)
    seqs = case["sequences"]
    if maxspan and any(times[s[-1]] - times[s[0]] == span_seconds(maxspan) for s in seqs):
        out.append("maxspan_boundary")
    if any(len({times[i] for i in s}) < len(s) for s in seqs):
        out.append("tie")
    return out


SEQ_SETS = 60
SEQ_PER_SET = 22
for set_no in range(SEQ_SETS):
    users = SEQ_USERS[: srng.choice([2, 2, 3, 3, 4, 5])]
    hosts = SEQ_HOSTS[: srng.choice([1, 2, 2, 3])]
    docs, times = seq_stream(srng.choice([40, 50, 60]), users, hosts)
    made = 0
    while made < SEQ_PER_SET:
        production, query, maxspan, variants = seq_query(docs, times)
        before = len(cases)
        add(production, query, docs, times)
        if len(cases) > before:
            case = cases[-1]
            case["effects"] = effects(dict(case, docs=docs), maxspan, variants, times)
            made += 1

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases.jsonl")
with open(out, "w") as fh:
    for k, events in enumerate(event_sets):
        fh.write(json.dumps({"event_set": k, "events": events}, separators=(",", ":")) + "\n")
    for i, c in enumerate(cases):
        c = {"id": f"{c['production']}-{i}", **c}
        fh.write(json.dumps(c, separators=(",", ":")) + "\n")
print(len(cases), "cases")
seq_cases = [c for c in cases if "sequences" in c]
print(len(seq_cases), "sequence cases,", sum(1 for c in seq_cases if c["sequences"]), "complete a sequence")
for effect in ["maxspan", "maxspan_boundary", "until", "tie"]:
    print(" ", effect, sum(1 for c in seq_cases if effect in c["effects"]))
