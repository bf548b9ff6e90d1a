//! Evaluation of `sample` queries with the semantics of Elasticsearch's sample executor
//! (elastic/elasticsearch `x-pack/plugin/eql/.../execution/sample/SampleIterator.java`, with
//! `assembler/SampleQueryRequest.java` and `assembler/ExecutionManager.java`):
//!
//! - **Join keys.** Every filter groups its events by its join keys (the shared `sample by`
//!   keys, then its own) with a composite aggregation. A key the event does not have leaves it
//!   out, unless the key is optional (`?field`), whose missing value is a key of its own
//!   (`missing_bucket`, joined with `must_not exists`). A multi-valued key field puts the event
//!   under each of its values (each combination, for several keys).
//! - **Which keys give samples.** A key gives samples when every filter has an event with that
//!   key (each stage's composite aggregation is restricted to the keys of the previous one).
//! - **Which events.** For each such key, each filter's query fetches its first
//!   `filters + max_samples_per_key - 1` matching events (`size` and `terminate_after`, no sort:
//!   Elasticsearch's index order). A depth-first search then takes, for each filter in turn, the
//!   first event of its list not already in the sample, backtracking when a later filter has
//!   none left (`SampleIterator.match`): one event never fills two filters of one sample, but may
//!   appear in several samples. It stops at `max_samples_per_key` samples per key (default 1).
//! - **Order.** Samples come out in ascending order of their key (composite aggregations page in
//!   key order; a missing optional key first), the events of a sample in filter order (not time
//!   order). The search stops at `size` samples; the caller applies that limit.
//!
//! Differences from Elasticsearch (see also the crate documentation):
//! - Elasticsearch takes each filter's events in index order, which no field determines (its own
//!   tests accept several results); dragnet takes them in the order of the event references
//!   (`R: Ord`), whatever order they arrive in: callers order by timestamp (then tiebreaker and
//!   id) — the index order of events ingested as they happen. References that compare equal are
//!   one event delivered twice and count once.
//! - Join key values compare as text (a `term` query on one filter's key field with another
//!   filter's value behaves the same for keyword, numeric and IP values written alike). Keys sort
//!   by the mapped type of the first filter's key fields, as the composite aggregation does
//!   (keyword and boolean bytewise, numbers numerically, IPs by address); for unmapped fields,
//!   dates and computed keys, by the shape of the values (numbers, then IPs, else bytewise).
//!
//! Memory: per key and filter at most `filters + max_samples_per_key - 1` event references are
//! kept (the smallest so far), and at most [`SampleMatcher::with_capacity`] references in all:
//! past it, events that would add a reference are dropped and counted
//! ([`SampleMatcher::dropped`]).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::net::IpAddr;

use dragnet_event::Event;

use crate::compile::{KeySort, KeyValue, Step};

/// Elasticsearch's default `max_samples_per_key` (EQL search API).
pub const DEFAULT_MAX_SAMPLES_PER_KEY: usize = 1;

/// One sample: its join key values and one event per filter, in filter order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleMatch<R> {
    /// One entry per join key (`None` for a missing optional key).
    pub key: Vec<Option<String>>,
    /// The event reference chosen for each filter, in filter order.
    pub events: Vec<R>,
}

/// Default cap on event references held across all keys ([`SampleMatcher::with_capacity`]).
pub const DEFAULT_MAX_SAMPLE_REFERENCES: usize = 1_000_000;

/// Finds samples among events in any arrival order, taking them in the order of their
/// references (`R: Ord`, for dragnet: timestamp, tiebreaker, id); see the module documentation.
/// Feed every event with [`SampleMatcher::on_event`], then call [`SampleMatcher::finish`].
#[derive(Debug)]
pub struct SampleMatcher<R = u64> {
    filters: Vec<Step>,
    max_samples_per_key: usize,
    /// Per key, per filter: the smallest references of the events matching that filter with
    /// that key, sorted, at most `per_filter`.
    keys: HashMap<KeyValue, Vec<Vec<R>>>,
    held: usize,
    max_held: usize,
    dropped: u64,
}

impl<R: Clone + Ord> SampleMatcher<R> {
    pub(crate) fn new(filters: Vec<Step>) -> Self {
        Self {
            filters,
            max_samples_per_key: DEFAULT_MAX_SAMPLES_PER_KEY,
            keys: HashMap::new(),
            held: 0,
            max_held: DEFAULT_MAX_SAMPLE_REFERENCES,
            dropped: 0,
        }
    }

    /// The same matcher holding at most `max` event references in all (at least 1).
    pub fn with_capacity(mut self, max: usize) -> Self {
        self.max_held = max.max(1);
        self
    }

    /// References not kept because the capacity was reached (samples may be missing).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// A warning to show the user when references were dropped.
    pub fn warning(&self) -> Option<String> {
        (self.dropped > 0).then(|| {
            format!(
                "{} sample event reference(s) were dropped at the cap of {}; some samples may be missing",
                self.dropped, self.max_held
            )
        })
    }

    /// The same matcher giving up to `n` samples per join key (`max_samples_per_key`, at least 1).
    pub fn with_max_samples_per_key(mut self, n: usize) -> Self {
        self.max_samples_per_key = n.max(1);
        self
    }

    /// How many events of each filter and key Elasticsearch's final query fetches.
    fn per_filter(&self) -> usize {
        self.filters.len() + self.max_samples_per_key - 1
    }

    /// Distinct join keys seen so far (for memory accounting).
    pub fn keys_seen(&self) -> usize {
        self.keys.len()
    }

    /// Feeds one event, in any order. Events that match no filter are ignored; an event whose
    /// reference equals one already held for the same filter and key counts once. Returns
    /// whether the reference was kept (it may then end up in a sample; a caller can wait until
    /// then to build what the reference stands for).
    pub fn on_event(&mut self, event: &dyn Event, event_ref: R) -> bool {
        let mut kept = false;
        let n = self.filters.len();
        let cap = self.per_filter();
        for (i, filter) in self.filters.iter().enumerate() {
            if !filter.filter.matches(event) {
                continue;
            }
            for key in filter.keys(event) {
                let full = self.held >= self.max_held;
                if full && !self.keys.contains_key(&key) {
                    self.dropped += 1;
                    continue;
                }
                let lists = self
                    .keys
                    .entry(key)
                    .or_insert_with(|| (0..n).map(|_| Vec::new()).collect());
                let list = &mut lists[i];
                let Err(at) = list.binary_search(&event_ref) else {
                    continue; // the same event again
                };
                if at >= cap {
                    continue; // later than the events Elasticsearch's query would fetch
                }
                if list.len() < cap {
                    if full {
                        self.dropped += 1;
                        continue;
                    }
                    self.held += 1;
                }
                list.insert(at, event_ref.clone());
                list.truncate(cap);
                kept = true;
            }
        }
        kept
    }

    /// The samples, in ascending key order.
    pub fn finish(self) -> Vec<SampleMatch<R>> {
        let mut complete: Vec<(KeyValue, Vec<Vec<R>>)> = self
            .keys
            .into_iter()
            .filter(|(_, lists)| lists.iter().all(|l| !l.is_empty()))
            .collect();
        let sorts = self.filters[0].key_sorts();
        complete.sort_by(|a, b| compare_keys(&sorts, &a.0, &b.0));
        let mut out = Vec::new();
        for (key, lists) in complete {
            let mut found = Vec::new();
            let mut partial = Vec::with_capacity(lists.len());
            pick(&lists, &mut partial, &mut found, self.max_samples_per_key);
            out.extend(found.into_iter().map(|events| SampleMatch {
                key: key.clone(),
                events,
            }));
        }
        out
    }
}

/// Depth-first choice of one event per filter, no event twice in one sample, first choices
/// first; stops at `max` samples. Returns whether `max` was reached.
fn pick<R: Clone + Ord>(
    lists: &[Vec<R>],
    partial: &mut Vec<R>,
    found: &mut Vec<Vec<R>>,
    max: usize,
) -> bool {
    let level = partial.len();
    for candidate in &lists[level] {
        if partial.contains(candidate) {
            continue;
        }
        partial.push(candidate.clone());
        if level + 1 == lists.len() {
            found.push(partial.clone());
            if found.len() >= max {
                return true;
            }
        } else if pick(lists, partial, found, max) {
            return true;
        }
        partial.pop();
    }
    false
}

/// Composite-aggregation order of two keys: component by component, a missing value first.
fn compare_keys(sorts: &[KeySort], a: &KeyValue, b: &KeyValue) -> Ordering {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let o = match (x, y) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => compare_values(sorts.get(i).copied(), x, y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// By the key's sort; for [`KeySort::Shape`] (or values that do not fit their type): numbers
/// numerically, IP addresses as their 16-byte encoding (IPv4 mapped into IPv6, as
/// Elasticsearch's `ip` type stores them), anything else bytewise.
fn compare_values(sort: Option<KeySort>, x: &str, y: &str) -> Ordering {
    if sort == Some(KeySort::Text) {
        return x.as_bytes().cmp(y.as_bytes());
    }
    if sort != Some(KeySort::Ip)
        && let (Some(a), Some(b)) = (as_number(x), as_number(y))
    {
        return a.total_cmp(&b).then_with(|| x.cmp(y));
    }
    if let (Ok(a), Ok(b)) = (x.parse::<IpAddr>(), y.parse::<IpAddr>()) {
        let octets = |ip: IpAddr| match ip {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        };
        return octets(a).cmp(&octets(b));
    }
    x.as_bytes().cmp(y.as_bytes())
}

/// A decimal number as written in JSON (not `inf`, `NaN` or other words `f64` parses).
fn as_number(s: &str) -> Option<f64> {
    let digits = s
        .trim_start_matches('-')
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit());
    let shape = s
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'));
    if digits && shape {
        s.parse().ok()
    } else {
        None
    }
}

impl crate::compile::CompiledQuery {
    /// A fresh matcher for a `sample` query; `None` for other queries.
    pub fn sample_matcher<R: Clone + Ord>(&self) -> Option<SampleMatcher<R>> {
        match &self.body {
            crate::compile::Body::Sample(steps) => Some(SampleMatcher::new(steps.clone())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    //! Cases follow Elasticsearch's own sample tests (`x-pack/plugin/eql/qa/common/src/main/
    //! resources/test_sample.toml` over `data/sample1..3.data`) and `SampleIterator.match`'s
    //! documented examples, rewritten as small hand-made events.
    use dragnet_event::{FieldTable, JsonEvent, JsonPaths};
    use dragnet_schema::Schema;
    use serde_json::{Value, json};

    use super::*;

    /// Runs `query` over `events` (in the given order) with `max_samples_per_key`; returns each
    /// sample as (key, event indexes).
    fn run_with(
        query: &str,
        events: &[Value],
        max: usize,
    ) -> Vec<(Vec<Option<String>>, Vec<usize>)> {
        let q = crate::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        let mut table = FieldTable::new();
        let c = crate::compile(&q, Schema::builtin(), &mut table).expect("compiles");
        let paths = JsonPaths::bind(&table);
        let mut m: SampleMatcher<usize> = c
            .sample_matcher()
            .expect("a sample")
            .with_max_samples_per_key(max);
        for (i, doc) in events.iter().enumerate() {
            m.on_event(&JsonEvent::new(doc, &paths), i);
        }
        m.finish().into_iter().map(|s| (s.key, s.events)).collect()
    }

    fn run(query: &str, events: &[Value]) -> Vec<(Vec<Option<String>>, Vec<usize>)> {
        run_with(query, events, DEFAULT_MAX_SAMPLES_PER_KEY)
    }

    fn key(parts: &[Option<&str>]) -> Vec<Option<String>> {
        parts.iter().map(|p| p.map(str::to_owned)).collect()
    }

    #[test]
    fn events_join_by_key_in_any_time_order() {
        // A sample ignores time: the "second" filter's event may come first.
        let events = [
            json!({"host": {"name": "h1"}, "event": {"action": "B"}}),
            json!({"host": {"name": "h2"}, "event": {"action": "A"}}),
            json!({"host": {"name": "h1"}, "event": {"action": "A"}}),
        ];
        let got = run(
            r#"sample by host.name [any where event.action == "A"] [any where event.action == "B"]"#,
            &events,
        );
        // h2 has no B: no sample. Events are listed in filter order.
        assert_eq!(got, vec![(key(&[Some("h1")]), vec![2, 0])]);
    }

    #[test]
    fn samples_come_out_in_key_order_with_missing_optional_keys_first() {
        // test_sample.toml "oneKeyOptional_2": keys (GTA, null), (doom, null), (doom, win10) in
        // that order — keyword values sort bytewise ('G' < 'd'), a missing key first.
        let events = [
            json!({"host": {"name": "doom"}, "os": {"name": "win10"}, "event": {"action": "S"}}),
            json!({"host": {"name": "doom"}, "os": {"name": "win10"}, "event": {"action": "F"}}),
            json!({"host": {"name": "doom"}, "event": {"action": "S"}}),
            json!({"host": {"name": "doom"}, "event": {"action": "F"}}),
            json!({"host": {"name": "GTA"}, "event": {"action": "S"}}),
            json!({"host": {"name": "GTA"}, "event": {"action": "F"}}),
        ];
        let got = run(
            r#"sample by host.name, ?os.name [any where event.action == "S"] [any where event.action == "F"]"#,
            &events,
        );
        assert_eq!(
            got,
            vec![
                (key(&[Some("GTA"), None]), vec![4, 5]),
                (key(&[Some("doom"), None]), vec![2, 3]),
                (key(&[Some("doom"), Some("win10")]), vec![0, 1]),
            ]
        );
    }

    #[test]
    fn a_missing_non_optional_key_takes_no_part() {
        // test_sample.toml "nullValueAsJoinKey": a null non-optional key joins nothing.
        let events = [
            json!({"event": {"action": "A"}}),
            json!({"event": {"action": "B"}}),
        ];
        let q = r#"sample by host.name [any where event.action == "A"] [any where event.action == "B"]"#;
        assert_eq!(run(q, &events), vec![]);
        // The same events with the key optional form the sample of the missing key.
        let q = r#"sample by ?host.name [any where event.action == "A"] [any where event.action == "B"]"#;
        assert_eq!(run(q, &events), vec![(key(&[None]), vec![0, 1])]);
    }

    #[test]
    fn one_event_never_fills_two_filters_of_a_sample() {
        // SampleIterator.match: "[doc1, doc1] [doc1, doc1, doc1] …: there is no solution".
        let events = [json!({"host": {"name": "h"}, "event": {"action": "A"}})];
        let q = r#"sample by host.name [any where true] [any where event.action == "A"]"#;
        assert_eq!(run(q, &events), vec![]);
        // A second event lets the first filter take it and the second the other one.
        let events = [
            json!({"host": {"name": "h"}, "event": {"action": "A"}}),
            json!({"host": {"name": "h"}, "event": {"action": "Z"}}),
        ];
        // Filter 1 takes event 0 first; filter 2 (only A events) has nothing else: backtrack,
        // filter 1 takes event 1, filter 2 takes event 0.
        assert_eq!(run(q, &events), vec![(key(&[Some("h")]), vec![1, 0])]);
    }

    #[test]
    fn backtracking_takes_the_first_distinct_combination() {
        // As SampleIterator.match's example ([doc1, doc2, doc3] [doc4, doc5] [doc4, doc5, doc3]
        // gives [doc1, doc4, doc5]): the third filter's first event is already taken, so it
        // takes its next one.
        let events = [
            json!({"k": "x", "a": 1, "c": 1}),
            json!({"k": "x", "a": 1}),
            json!({"k": "x", "b": 1}),
            json!({"k": "x", "b": 1, "c": 1}),
            json!({"k": "x", "c": 1}),
        ];
        let q = "sample by k [any where a == 1] [any where b == 1] [any where c == 1]";
        // Lists: a -> [0, 1], b -> [2, 3], c -> [0, 3, 4]; a takes 0, b takes 2, c skips 0.
        assert_eq!(run(q, &events), vec![(key(&[Some("x")]), vec![0, 2, 3])]);
    }

    #[test]
    fn max_samples_per_key_gives_more_samples_from_longer_lists() {
        // Each filter fetches filters + max_samples_per_key - 1 events: with 2 filters and
        // max 2, three per filter; combinations in depth-first order.
        let events = [
            json!({"k": "x", "a": 1}),
            json!({"k": "x", "a": 1}),
            json!({"k": "x", "b": 1}),
            json!({"k": "x", "b": 1}),
        ];
        let q = "sample by k [any where a == 1] [any where b == 1]";
        assert_eq!(
            run_with(q, &events, 2),
            vec![
                (key(&[Some("x")]), vec![0, 2]),
                (key(&[Some("x")]), vec![0, 3]),
            ]
        );
        assert_eq!(
            run_with(q, &events, 1),
            vec![(key(&[Some("x")]), vec![0, 2])]
        );
        // At most 4 exist (2 x 2); asking for 10 gives all four, events reused across samples.
        assert_eq!(run_with(q, &events, 10).len(), 4);
    }

    #[test]
    fn only_the_first_events_of_each_filter_are_considered() {
        // With 2 filters and max 1, each filter's query fetches 2 events: a third event of the
        // first filter is never chosen, even for a second sample.
        let events = [
            json!({"k": "x", "a": 1}),
            json!({"k": "x", "a": 1}),
            json!({"k": "x", "a": 1}),
            json!({"k": "x", "b": 1}),
        ];
        let q = "sample by k [any where a == 1] [any where b == 1]";
        assert_eq!(run(q, &events), vec![(key(&[Some("x")]), vec![0, 3])]);
        // max 2 -> 3 per filter: events 0, 1, 2 considered, samples [0,3] and [1,3].
        assert_eq!(
            run_with(q, &events, 2),
            vec![
                (key(&[Some("x")]), vec![0, 3]),
                (key(&[Some("x")]), vec![1, 3]),
            ]
        );
    }

    #[test]
    fn multi_valued_keys_join_under_each_value() {
        let events = [
            json!({"user": {"name": ["alice", "bob"]}, "event": {"action": "A"}}),
            json!({"user": {"name": "bob"}, "event": {"action": "B"}}),
            json!({"user": {"name": "alice"}, "event": {"action": "B"}}),
        ];
        let q = r#"sample by user.name [any where event.action == "A"] [any where event.action == "B"]"#;
        assert_eq!(
            run(q, &events),
            vec![
                (key(&[Some("alice")]), vec![0, 2]),
                (key(&[Some("bob")]), vec![0, 1]),
            ]
        );
    }

    #[test]
    fn per_filter_keys_join_by_position() {
        // test_sample.toml "ipAsKey": shared key host, then each filter's own key field; values
        // join across different field names.
        let events = [
            json!({"host": {"name": "doom"}, "source": {"ip": "10.0.0.1"}, "event": {"action": "A"}}),
            json!({"host": {"name": "doom"}, "destination": {"ip": "10.0.0.1"}, "event": {"action": "B"}}),
            json!({"host": {"name": "doom"}, "destination": {"ip": "10.0.0.2"}, "event": {"action": "B"}}),
        ];
        let q = r#"sample by host.name
            [any where event.action == "A"] by source.ip
            [any where event.action == "B"] by destination.ip"#;
        assert_eq!(
            run(q, &events),
            vec![(key(&[Some("doom"), Some("10.0.0.1")]), vec![0, 1])]
        );
    }

    #[test]
    fn key_order_follows_the_key_fields_mapping() {
        // `user.id` is a keyword (bytewise: "10" before "9"), `process.pid` a long (9 before 10).
        let events = [
            json!({"user": {"id": "9"}, "process": {"pid": 9}, "a": 1}),
            json!({"user": {"id": "9"}, "process": {"pid": 9}, "b": 1}),
            json!({"user": {"id": "10"}, "process": {"pid": 10}, "a": 1}),
            json!({"user": {"id": "10"}, "process": {"pid": 10}, "b": 1}),
        ];
        let keys = |q: &str| -> Vec<Vec<Option<String>>> {
            run(q, &events).into_iter().map(|(k, _)| k).collect()
        };
        assert_eq!(
            keys("sample by user.id [any where a == 1] [any where b == 1]"),
            vec![key(&[Some("10")]), key(&[Some("9")])]
        );
        assert_eq!(
            keys("sample by process.pid [any where a == 1] [any where b == 1]"),
            vec![key(&[Some("9")]), key(&[Some("10")])]
        );
    }

    /// Feeds `(reference, event)` pairs in the given (arrival) order.
    fn run_refs(query: &str, events: &[(usize, Value)], cap: usize) -> (Vec<Vec<usize>>, u64) {
        let q = crate::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        let mut table = FieldTable::new();
        let c = crate::compile(&q, Schema::builtin(), &mut table).expect("compiles");
        let paths = JsonPaths::bind(&table);
        let mut m: SampleMatcher<usize> = c.sample_matcher().expect("a sample").with_capacity(cap);
        for (r, doc) in events {
            m.on_event(&JsonEvent::new(doc, &paths), *r);
        }
        let dropped = m.dropped();
        (m.finish().into_iter().map(|s| s.events).collect(), dropped)
    }

    #[test]
    fn arrival_order_does_not_matter_and_duplicates_count_once() {
        let q = "sample by k [any where a == 1] [any where b == 1] [any where c == 1]";
        let events: Vec<(usize, Value)> = vec![
            (0, json!({"k": "x", "a": 1, "c": 1})),
            (1, json!({"k": "x", "a": 1})),
            (2, json!({"k": "x", "b": 1})),
            (3, json!({"k": "x", "b": 1, "c": 1})),
            (4, json!({"k": "x", "c": 1})),
            (5, json!({"k": "y", "a": 1, "b": 1})),
            (6, json!({"k": "y", "c": 1})),
        ];
        let ordered = run_refs(q, &events, 100);
        assert_eq!(ordered.0, vec![vec![0, 2, 3]]);
        let mut shuffled: Vec<(usize, Value)> = events.iter().rev().cloned().collect();
        // Every event delivered twice, interleaved.
        shuffled.extend(events.iter().cloned());
        shuffled.swap(1, 9);
        assert_eq!(run_refs(q, &shuffled, 100), ordered);
    }

    #[test]
    fn on_event_says_whether_the_reference_was_kept() {
        let q = crate::parse("sample by k [any where a == 1] [any where b == 1]").unwrap();
        let mut table = FieldTable::new();
        let c = crate::compile(&q, Schema::builtin(), &mut table).expect("compiles");
        let paths = JsonPaths::bind(&table);
        let mut m: SampleMatcher<usize> = c.sample_matcher().expect("a sample");
        let mut feed = |r: usize, doc: Value| m.on_event(&JsonEvent::new(&doc, &paths), r);
        // Two per filter and key are kept (2 filters + 1 - 1).
        assert!(feed(5, json!({"k": "x", "a": 1})));
        assert!(feed(7, json!({"k": "x", "a": 1})));
        assert!(!feed(9, json!({"k": "x", "a": 1})), "later than both kept");
        assert!(feed(1, json!({"k": "x", "a": 1})), "earlier: replaces 7");
        assert!(!feed(5, json!({"k": "x", "a": 1})), "the same event again");
        assert!(!feed(0, json!({"k": "x", "c": 1})), "matches no filter");
    }

    #[test]
    fn the_reference_cap_drops_and_counts() {
        let q = "sample by k [any where a == 1] [any where b == 1]";
        let events: Vec<(usize, Value)> = vec![
            (0, json!({"k": "x", "a": 1})),
            (1, json!({"k": "x", "b": 1})),
            (2, json!({"k": "y", "a": 1})),
            (3, json!({"k": "y", "b": 1})),
        ];
        assert_eq!(run_refs(q, &events, 4), (vec![vec![0, 1], vec![2, 3]], 0));
        // Two references fit: key y cannot start.
        assert_eq!(run_refs(q, &events, 2), (vec![vec![0, 1]], 2));
    }

    #[test]
    fn keys_sort_by_mapped_type_else_value_shape() {
        let k = |v: &str| vec![Some(v.to_owned())];
        let shape = [KeySort::Shape];
        assert_eq!(compare_keys(&shape, &k("9"), &k("10")), Ordering::Less);
        assert_eq!(compare_keys(&shape, &k("-1"), &k("0.5")), Ordering::Less);
        assert_eq!(
            compare_keys(&shape, &k("10.0.0.9"), &k("10.0.0.10")),
            Ordering::Less
        );
        assert_eq!(compare_keys(&shape, &k("GTA"), &k("doom")), Ordering::Less);
        assert_eq!(
            compare_keys(&shape, &k("false"), &k("true")),
            Ordering::Less
        );
        assert_eq!(compare_keys(&shape, &vec![None], &k("a")), Ordering::Less);
        // A keyword field holding digits sorts bytewise, a numeric field numerically, an ip
        // field by address.
        let text = [KeySort::Text];
        assert_eq!(compare_keys(&text, &k("9"), &k("10")), Ordering::Greater);
        let number = [KeySort::Number];
        assert_eq!(compare_keys(&number, &k("9"), &k("10")), Ordering::Less);
        let ip = [KeySort::Ip];
        assert_eq!(
            compare_keys(&ip, &k("10.0.0.9"), &k("10.0.0.10")),
            Ordering::Less
        );
        assert_eq!(as_number("inf"), None);
        assert_eq!(as_number("1e3"), Some(1000.0));
    }
}
