//! Stateful evaluation of `sequence` queries over events in time order, with the semantics of
//! Elasticsearch's sequence state machine (EQL syntax reference, "How sequence queries handle
//! matches"): each step is a state; per join key at most one pending sequence waits in a state,
//! and a newer one replaces it; an event is used at most once per sequence (steps are tried
//! last-to-first); all events lie within `maxspan` of the first; an `until` event with the same
//! key cancels the key's pending sequences, after its own steps were matched (it can complete a
//! sequence, and a sequence it starts or advances is cancelled); a missing-event step `![…]` rejects a sequence when
//! a matching event with the same key lies between its neighbouring events, or, before the
//! first or after the last event, within `maxspan` (see [`SequenceMatcher`]'s `complete`);
//! events whose join-key fields hold several values join under every combination.
//!
//! Memory is bounded: pending sequences older than `maxspan` are dropped, and a hard cap
//! ([`SequenceMatcher::with_capacity`]) drops the oldest pending sequences with a warning.

use std::collections::{HashMap, VecDeque};

use dragnet_event::Event;
use jiff::Timestamp;

use crate::compile::{KeyValue, SequenceSpec, Step};

/// Default hard cap on pending (incomplete) sequences across all keys.
pub const DEFAULT_MAX_PENDING: usize = 100_000;

/// A completed sequence: its join key values and its events, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct SequenceMatch<R> {
    /// One entry per join key (`None` for a null optional key).
    pub key: Vec<Option<String>>,
    /// `(timestamp, event reference)` per positive step, in step order.
    pub events: Vec<(Timestamp, R)>,
}

#[derive(Clone, Debug)]
struct Partial<R> {
    start: i128,
    events: Vec<(i128, R)>,
}

#[derive(Debug)]
struct KeyState<R> {
    /// `stages[s]`: the pending sequence that matched `s` positive steps (index 0 unused).
    stages: Vec<Option<Partial<R>>>,
    /// Timestamps of recent events matching a leading missing step.
    leading: VecDeque<i128>,
}

impl<R> KeyState<R> {
    fn new(n: usize) -> Self {
        Self {
            stages: (0..n.max(1)).map(|_| None).collect(),
            leading: VecDeque::new(),
        }
    }

    fn pending(&self) -> usize {
        self.stages.iter().filter(|s| s.is_some()).count()
    }
}

/// A completed sequence waiting for its trailing missing-event window to close.
#[derive(Debug)]
struct Held<R> {
    key: KeyValue,
    partial: Partial<R>,
    /// A trailing missing event after the last event and at or before this time rejects the
    /// sequence (first event + maxspan, or leading missing event + maxspan).
    until: i128,
}

/// Finds sequences in a stream of events given in `@timestamp` (then tiebreaker) order.
#[derive(Debug)]
pub struct SequenceMatcher<R = u64> {
    positives: Vec<Step>,
    /// `gaps[g]`: missing-event steps before positive step `g` (`gaps[n]`: after the last).
    gaps: Vec<Vec<Step>>,
    until: Option<Step>,
    maxspan: Option<i128>,
    keys: HashMap<KeyValue, KeyState<R>>,
    held: Vec<Held<R>>,
    pending: usize,
    max_pending: usize,
    dropped: u64,
    out_of_order: u64,
    last_ts: Option<i128>,
    seen: u64,
}

impl<R: Clone> SequenceMatcher<R> {
    pub(crate) fn new(spec: SequenceSpec) -> Self {
        let mut positives = Vec::new();
        let mut gaps: Vec<Vec<Step>> = vec![Vec::new()];
        for step in spec.steps {
            if step.missing {
                gaps.last_mut().expect("one gap").push(step);
            } else {
                positives.push(step);
                gaps.push(Vec::new());
            }
        }
        Self {
            positives,
            gaps,
            until: spec.until,
            maxspan: spec.maxspan,
            keys: HashMap::new(),
            held: Vec::new(),
            pending: 0,
            max_pending: DEFAULT_MAX_PENDING,
            dropped: 0,
            out_of_order: 0,
            last_ts: None,
            seen: 0,
        }
    }

    /// The same matcher with another cap on pending sequences.
    pub fn with_capacity(mut self, max_pending: usize) -> Self {
        self.max_pending = max_pending.max(1);
        self
    }

    /// Pending sequences dropped because the cap was reached (results may be missing).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Events given with a timestamp older than an earlier event's.
    pub fn out_of_order(&self) -> u64 {
        self.out_of_order
    }

    /// Number of pending (incomplete) sequences held now.
    pub fn pending(&self) -> usize {
        self.pending + self.held.len()
    }

    /// A warning to show the user, if state was dropped or input was out of order.
    pub fn warning(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.dropped > 0 {
            parts.push(format!(
                "{} pending sequences were dropped at the cap of {} (raise it or add 'with maxspan'); some sequences may be missed",
                self.dropped, self.max_pending
            ));
        }
        if self.out_of_order > 0 {
            parts.push(format!(
                "{} events arrived out of @timestamp order; sequences need time-ordered input",
                self.out_of_order
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    fn within(&self, start: i128, ts: i128) -> bool {
        self.maxspan.is_none_or(|m| ts - start <= m)
    }

    /// Feeds one event; returns the sequences it completes.
    pub fn on_event(
        &mut self,
        event: &dyn Event,
        ts: Timestamp,
        event_ref: R,
    ) -> Vec<SequenceMatch<R>> {
        let t = ts.as_nanosecond();
        if self.last_ts.is_some_and(|last| t < last) {
            self.out_of_order += 1;
        }
        self.last_ts = Some(self.last_ts.map_or(t, |l| l.max(t)));
        self.seen += 1;
        let mut out = Vec::new();
        self.release_held(t, &mut out);
        if self.seen.is_multiple_of(4096) {
            self.expire(t);
        }

        let n = self.positives.len();
        for g in 0..self.gaps.len() {
            for step in &self.gaps[g] {
                if !step.filter.matches(event) {
                    continue;
                }
                for k in step.keys(event) {
                    if g == 0 {
                        let state = self.keys.entry(k).or_insert_with(|| KeyState::new(n));
                        state.leading.push_back(t);
                        if let Some(m) = self.maxspan {
                            while state.leading.front().is_some_and(|&x| x < t - m) {
                                state.leading.pop_front();
                            }
                        }
                    } else if g < n {
                        if let Some(state) = self.keys.get_mut(&k)
                            && state.stages[g].take().is_some()
                        {
                            self.pending -= 1;
                        }
                    } else {
                        self.held.retain(|h| {
                            let last = h.partial.events.last().map_or(h.partial.start, |e| e.0);
                            !(h.key == k && t > last && t <= h.until)
                        });
                    }
                }
            }
        }

        for j in (0..n).rev() {
            if !self.positives[j].filter.matches(event) {
                continue;
            }
            for k in self.positives[j].keys(event) {
                let advanced = if j == 0 {
                    Some(Partial {
                        start: t,
                        events: vec![(t, event_ref.clone())],
                    })
                } else {
                    let taken = self.keys.get_mut(&k).and_then(|s| s.stages[j].take());
                    match taken {
                        Some(mut p) => {
                            self.pending -= 1;
                            if self.within(p.start, t) {
                                p.events.push((t, event_ref.clone()));
                                Some(p)
                            } else {
                                None
                            }
                        }
                        None => None,
                    }
                };
                let Some(partial) = advanced else { continue };
                if j + 1 == n {
                    self.complete(k, partial, &mut out);
                } else {
                    let state = self.keys.entry(k).or_insert_with(|| KeyState::new(n));
                    if state.stages[j + 1].replace(partial).is_none() {
                        self.pending += 1;
                    }
                }
            }
        }
        // The `until` condition last: Elasticsearch (SequenceMatcher.match) rejects a sequence
        // when an until marker of its key lies at or after the sequence's last event and
        // strictly before the next one, so an until event still completes or advances a
        // sequence, and the sequences it starts or advances are cancelled here.
        if let Some(until) = &self.until
            && until.filter.matches(event)
        {
            for k in until.keys(event) {
                if let Some(state) = self.keys.get_mut(&k) {
                    let n = state.pending();
                    state.stages.iter_mut().for_each(|s| *s = None);
                    self.pending -= n;
                }
            }
        }
        if self.pending > self.max_pending {
            self.expire(t);
            self.shed();
        }
        out
    }

    /// A sequence whose positive steps all matched: checks its missing-event steps the way
    /// Elasticsearch's `TumblingWindow.doCheckMissingEvents` does. With L the latest leading
    /// missing event before the first event and T the earliest trailing one after the last, the
    /// sequence is kept when neither exists, or only leading steps exist and L is null or more
    /// than `maxspan` before the last event, or only trailing steps exist and T is null or more
    /// than `maxspan` after the first event, or both exist and L or T is null or T - L exceeds
    /// `maxspan`. T lies in the future: the sequence is held until `maxspan` has passed.
    fn complete(&mut self, key: KeyValue, partial: Partial<R>, out: &mut Vec<SequenceMatch<R>>) {
        let first = partial.start;
        let last = partial.events.last().map_or(first, |e| e.0);
        let m = self.maxspan.unwrap_or(0);
        let has_leading = !self.gaps[0].is_empty();
        let has_trailing = !self.gaps[self.positives.len()].is_empty();
        let leading = if has_leading {
            self.keys
                .get(&key)
                .and_then(|s| s.leading.iter().copied().filter(|&x| x < first).max())
        } else {
            None
        };
        if has_leading && !has_trailing {
            if leading.is_none_or(|l| last - l > m) {
                out.push(to_match(key, partial));
            }
            return;
        }
        if has_trailing {
            let reference = match (has_leading, leading) {
                // Both kinds and no leading event: kept whatever follows.
                (true, None) => {
                    out.push(to_match(key, partial));
                    return;
                }
                (true, Some(l)) => l,
                (false, _) => first,
            };
            self.held.push(Held {
                key,
                partial,
                until: reference + m,
            });
            return;
        }
        out.push(to_match(key, partial));
    }

    fn release_held(&mut self, t: i128, out: &mut Vec<SequenceMatch<R>>) {
        if self.held.is_empty() {
            return;
        }
        let (done, keep): (Vec<_>, Vec<_>) = self.held.drain(..).partition(|h| t > h.until);
        self.held = keep;
        out.extend(done.into_iter().map(|h| to_match(h.key, h.partial)));
    }

    /// Drops pending sequences that can no longer complete within `maxspan` of `now`.
    fn expire(&mut self, now: i128) {
        let Some(m) = self.maxspan else { return };
        let mut removed = 0;
        self.keys.retain(|_, state| {
            for s in state.stages.iter_mut() {
                if s.as_ref().is_some_and(|p| now - p.start > m) {
                    *s = None;
                    removed += 1;
                }
            }
            while state.leading.front().is_some_and(|&x| x < now - m) {
                state.leading.pop_front();
            }
            state.pending() > 0 || !state.leading.is_empty()
        });
        self.pending -= removed;
    }

    /// Over the cap after expiry: drop the oldest pending sequences down to 90% of the cap.
    fn shed(&mut self) {
        if self.pending <= self.max_pending {
            return;
        }
        let mut starts: Vec<i128> = self
            .keys
            .values()
            .flat_map(|s| s.stages.iter().flatten().map(|p| p.start))
            .collect();
        let target = self.max_pending * 9 / 10;
        let excess = self.pending - target;
        starts.sort_unstable();
        let cutoff = starts[excess.min(starts.len()) - 1];
        let mut removed = 0;
        for state in self.keys.values_mut() {
            for s in state.stages.iter_mut() {
                if s.as_ref().is_some_and(|p| p.start <= cutoff) {
                    *s = None;
                    removed += 1;
                }
            }
        }
        self.keys
            .retain(|_, s| s.pending() > 0 || !s.leading.is_empty());
        self.pending -= removed;
        self.dropped += removed as u64;
    }

    /// Ends the stream: returns sequences held for a trailing missing-event window, which no
    /// later event can now reject.
    pub fn finish(&mut self) -> Vec<SequenceMatch<R>> {
        let held = std::mem::take(&mut self.held);
        self.keys.clear();
        self.pending = 0;
        held.into_iter()
            .map(|h| to_match(h.key, h.partial))
            .collect()
    }
}

fn to_match<R>(key: KeyValue, partial: Partial<R>) -> SequenceMatch<R> {
    SequenceMatch {
        key,
        events: partial
            .events
            .into_iter()
            .map(|(t, r)| {
                (
                    Timestamp::from_nanosecond(t).unwrap_or(Timestamp::UNIX_EPOCH),
                    r,
                )
            })
            .collect(),
    }
}

impl crate::compile::CompiledQuery {
    /// A fresh stateful matcher for a `sequence` query; `None` for other queries. `R` is what
    /// the caller uses to refer to an event (a record location, an index).
    pub fn sequence_matcher<R: Clone>(&self) -> Option<SequenceMatcher<R>> {
        match &self.body {
            crate::compile::Body::Sequence(s) => Some(SequenceMatcher::new(s.clone())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use dragnet_event::{FieldTable, JsonEvent, JsonPaths};
    use dragnet_schema::Schema;
    use serde_json::{Value, json};

    use super::*;

    /// Runs `query` over `(seconds, doc)` events; returns each match as the list of event
    /// indexes it is made of.
    fn run(query: &str, events: &[(i64, Value)]) -> Vec<Vec<usize>> {
        let q = crate::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        let mut table = FieldTable::new();
        let c = crate::compile(&q, Schema::builtin(), &mut table).expect("compiles");
        let paths = JsonPaths::bind(&table);
        let mut m: SequenceMatcher<usize> = c.sequence_matcher().expect("a sequence");
        let mut out = Vec::new();
        for (i, (secs, doc)) in events.iter().enumerate() {
            let ev = JsonEvent::new(doc, &paths);
            let ts = Timestamp::from_second(*secs).unwrap();
            out.extend(m.on_event(&ev, ts, i));
        }
        out.extend(m.finish());
        out.into_iter()
            .map(|s| s.events.into_iter().map(|(_, r)| r).collect())
            .collect()
    }

    fn ev(action: &str, user: &str) -> Value {
        json!({"event": {"action": action}, "user": {"name": user}})
    }

    const KEYS: &str = r#"sequence by user.name with maxspan=10m
        [any where event.action == "CreateAccessKey"]
        [any where event.action == "AttachUserPolicy"]"#;

    #[test]
    fn simple_pair_by_user() {
        let got = run(
            KEYS,
            &[
                (0, ev("CreateAccessKey", "a")),
                (60, ev("AttachUserPolicy", "a")),
            ],
        );
        assert_eq!(got, vec![vec![0, 1]]);
    }

    #[test]
    fn interleaved_users_join_by_key() {
        let got = run(
            KEYS,
            &[
                (0, ev("CreateAccessKey", "a")),
                (10, ev("CreateAccessKey", "b")),
                (20, ev("AttachUserPolicy", "b")),
                (30, ev("AttachUserPolicy", "c")),
                (40, ev("AttachUserPolicy", "a")),
            ],
        );
        assert_eq!(got, vec![vec![1, 2], vec![0, 4]]);
    }

    #[test]
    fn wrong_order_does_not_match() {
        let got = run(
            KEYS,
            &[
                (0, ev("AttachUserPolicy", "a")),
                (10, ev("CreateAccessKey", "a")),
            ],
        );
        assert!(got.is_empty());
    }

    #[test]
    fn maxspan_is_inclusive_and_expires() {
        let at_limit = run(
            KEYS,
            &[
                (0, ev("CreateAccessKey", "a")),
                (600, ev("AttachUserPolicy", "a")),
            ],
        );
        assert_eq!(at_limit, vec![vec![0, 1]], "600s is within maxspan=10m");
        let late = run(
            KEYS,
            &[
                (0, ev("CreateAccessKey", "a")),
                (601, ev("AttachUserPolicy", "a")),
            ],
        );
        assert!(late.is_empty(), "601s is past maxspan=10m");
    }

    #[test]
    fn newer_pending_sequence_replaces_older() {
        // Docs: two pending sequences in the same state: the most recent overwrites the older.
        let got = run(
            KEYS,
            &[
                (0, ev("CreateAccessKey", "a")),
                (100, ev("CreateAccessKey", "a")),
                (200, ev("AttachUserPolicy", "a")),
                (300, ev("AttachUserPolicy", "a")),
            ],
        );
        assert_eq!(
            got,
            vec![vec![1, 2]],
            "one sequence, from the newer first step"
        );
    }

    #[test]
    fn replacement_keeps_maxspan_from_the_newer_start() {
        let got = run(
            KEYS,
            &[
                (0, ev("CreateAccessKey", "a")),
                (500, ev("CreateAccessKey", "a")),
                (1000, ev("AttachUserPolicy", "a")),
            ],
        );
        assert_eq!(got, vec![vec![1, 2]]);
    }

    #[test]
    fn one_event_is_not_used_twice() {
        let q = r#"sequence by user.name [any where event.action : "*"] [any where event.action : "*"]"#;
        let got = run(
            q,
            &[(0, ev("A", "a")), (1, ev("B", "a")), (2, ev("C", "a"))],
        );
        // Event 1 completes [0,1] and also starts a new sequence, which event 2 completes.
        assert_eq!(got, vec![vec![0, 1], vec![1, 2]]);
        let single = run(q, &[(0, ev("A", "a"))]);
        assert!(single.is_empty(), "a single event cannot fill both steps");
    }

    #[test]
    fn until_cancels_pending_sequences_of_its_key() {
        let q = r#"sequence by user.name
            [any where event.action == "A"]
            [any where event.action == "B"]
            until [any where event.action == "C"]"#;
        // Docs: A, B and A, B, C match; A, C, B does not.
        assert_eq!(
            run(q, &[(0, ev("A", "u")), (1, ev("B", "u"))]),
            vec![vec![0, 1]]
        );
        assert_eq!(
            run(
                q,
                &[(0, ev("A", "u")), (1, ev("B", "u")), (2, ev("C", "u"))]
            ),
            vec![vec![0, 1]]
        );
        assert!(
            run(
                q,
                &[(0, ev("A", "u")), (1, ev("C", "u")), (2, ev("B", "u"))]
            )
            .is_empty()
        );
        // Another key's until does not cancel.
        assert_eq!(
            run(
                q,
                &[(0, ev("A", "u")), (1, ev("C", "v")), (2, ev("B", "u"))]
            ),
            vec![vec![0, 2]]
        );
    }

    #[test]
    fn until_event_that_also_matches_a_step() {
        // SequenceMatcher.match: rejected when an until marker lies in [last event, next event),
        // OrdinalGroup.before being strict and Ordinal.between inclusive.
        let q = r#"sequence by user.name
            [any where event.action == "A"]
            [any where event.action == "B"]
            until [any where event.action == "B" or event.action == "U"]"#;
        assert_eq!(
            run(q, &[(0, ev("A", "u")), (1, ev("B", "u"))]),
            vec![vec![0, 1]],
            "the until event completes the sequence"
        );
        let q = r#"sequence by user.name
            [any where event.action == "A"]
            [any where event.action == "B"]
            until [any where event.action == "A" and user.domain == "x"]"#;
        let a_until = json!({"event": {"action": "A"}, "user": {"name": "u", "domain": "x"}});
        assert!(
            run(q, &[(0, a_until.clone()), (1, ev("B", "u"))]).is_empty(),
            "a sequence started by an until event is cancelled"
        );
        assert_eq!(
            run(q, &[(0, a_until), (1, ev("A", "u")), (2, ev("B", "u"))]),
            vec![vec![1, 2]]
        );
        let q = r#"sequence by user.name
            [any where event.action == "A"]
            [any where event.action == "B"]
            [any where event.action == "C"]
            until [any where event.action == "B"]"#;
        assert!(
            run(
                q,
                &[(0, ev("A", "u")), (1, ev("B", "u")), (2, ev("C", "u"))]
            )
            .is_empty(),
            "a sequence advanced by an until event is cancelled"
        );
    }

    #[test]
    fn null_join_key_does_not_join_unless_optional() {
        let q = r#"sequence by user.name [any where event.action == "A"] [any where event.action == "B"]"#;
        let nokey = |a: &str| json!({"event": {"action": a}});
        assert!(run(q, &[(0, nokey("A")), (1, nokey("B"))]).is_empty());
        let q = r#"sequence by ?user.name [any where event.action == "A"] [any where event.action == "B"]"#;
        assert_eq!(
            run(q, &[(0, nokey("A")), (1, nokey("B"))]),
            vec![vec![0, 1]]
        );
    }

    #[test]
    fn per_step_keys_join_different_fields() {
        let q = r#"sequence
            [any where event.action == "A"] by source.user.name
            [any where event.action == "B"] by user.name"#;
        let a = json!({"event": {"action": "A"}, "source": {"user": {"name": "x"}}});
        assert_eq!(
            run(q, &[(0, a.clone()), (1, ev("B", "x"))]),
            vec![vec![0, 1]]
        );
        assert!(run(q, &[(0, a), (1, ev("B", "y"))]).is_empty());
    }

    #[test]
    fn runs_repeat_a_step() {
        let q = r#"sequence by user.name with maxspan=1m [any where event.action == "Fail"] with runs=3"#;
        let evs: Vec<(i64, Value)> = (0..4).map(|i| (i, ev("Fail", "u"))).collect();
        assert_eq!(run(q, &evs[..2]), Vec::<Vec<usize>>::new());
        assert_eq!(run(q, &evs[..3]), vec![vec![0, 1, 2]]);
        // The fourth event completes the sequence that started at the second.
        assert_eq!(run(q, &evs), vec![vec![0, 1, 2], vec![1, 2, 3]]);
    }

    #[test]
    fn missing_event_in_the_middle() {
        let q = r#"sequence by user.name with maxspan=1h
            [any where event.action == "A"]
            ![any where event.action == "X"]
            [any where event.action == "B"]"#;
        assert_eq!(
            run(q, &[(0, ev("A", "u")), (5, ev("B", "u"))]),
            vec![vec![0, 1]]
        );
        assert!(
            run(
                q,
                &[(0, ev("A", "u")), (2, ev("X", "u")), (5, ev("B", "u"))]
            )
            .is_empty()
        );
        assert_eq!(
            run(
                q,
                &[(0, ev("A", "u")), (2, ev("X", "v")), (5, ev("B", "u"))]
            ),
            vec![vec![0, 2]],
            "a missing event of another key does not count"
        );
    }

    #[test]
    fn missing_event_at_the_end_waits_for_the_window() {
        // Docs example shape: logon not followed within maxspan by a logoff.
        let q = r#"sequence by user.name with maxspan=5s
            [any where event.action == "logon"]
            ![any where event.action == "logoff"]"#;
        assert_eq!(
            run(q, &[(0, ev("logon", "u"))]),
            vec![vec![0]],
            "finish closes the window"
        );
        assert!(run(q, &[(0, ev("logon", "u")), (3, ev("logoff", "u"))]).is_empty());
        assert_eq!(
            run(q, &[(0, ev("logon", "u")), (9, ev("logoff", "u"))]),
            vec![vec![0]],
            "a logoff after the 5s window does not cancel"
        );
    }

    #[test]
    fn missing_event_at_the_start_looks_back_maxspan() {
        let q = r#"sequence by user.name with maxspan=10s
            ![any where event.action == "X"]
            [any where event.action == "A"]
            [any where event.action == "B"]"#;
        assert_eq!(
            run(q, &[(0, ev("A", "u")), (1, ev("B", "u"))]),
            vec![vec![0, 1]]
        );
        assert!(
            run(
                q,
                &[(0, ev("X", "u")), (3, ev("A", "u")), (4, ev("B", "u"))]
            )
            .is_empty()
        );
        assert_eq!(
            run(
                q,
                &[(0, ev("X", "u")), (20, ev("A", "u")), (21, ev("B", "u"))]
            ),
            vec![vec![1, 2]],
            "X more than maxspan before the last event does not count"
        );
    }

    #[test]
    fn cap_drops_oldest_with_a_warning() {
        let q = r#"sequence by user.name [any where event.action == "A"] [any where event.action == "B"]"#;
        let parsed = crate::parse(q).unwrap();
        let mut table = FieldTable::new();
        let c = crate::compile(&parsed, Schema::builtin(), &mut table).unwrap();
        let paths = JsonPaths::bind(&table);
        let mut m: SequenceMatcher<usize> = c.sequence_matcher().unwrap().with_capacity(100);
        for i in 0..1000 {
            let doc = ev("A", &format!("user{i}"));
            m.on_event(
                &JsonEvent::new(&doc, &paths),
                Timestamp::from_second(i).unwrap(),
                i as usize,
            );
            assert!(m.pending() <= 100);
        }
        assert!(m.dropped() > 0);
        assert!(m.warning().unwrap().contains("dropped"));
        // The newest pending sequences survive.
        let doc = ev("B", "user999");
        let got = m.on_event(
            &JsonEvent::new(&doc, &paths),
            Timestamp::from_second(2000).unwrap(),
            2000,
        );
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn maxspan_expiry_bounds_memory() {
        let q = r#"sequence by user.name with maxspan=1s [any where event.action == "A"] [any where event.action == "B"]"#;
        let parsed = crate::parse(q).unwrap();
        let mut table = FieldTable::new();
        let c = crate::compile(&parsed, Schema::builtin(), &mut table).unwrap();
        let paths = JsonPaths::bind(&table);
        let mut m: SequenceMatcher<usize> = c.sequence_matcher().unwrap();
        for i in 0..20_000i64 {
            let doc = ev("A", &format!("user{i}"));
            m.on_event(
                &JsonEvent::new(&doc, &paths),
                Timestamp::from_second(i).unwrap(),
                i as usize,
            );
        }
        assert!(
            m.pending() <= 4096 + 1,
            "expired sequences are swept: {}",
            m.pending()
        );
        assert_eq!(m.dropped(), 0);
    }
    #[test]
    fn multi_valued_keys_join_under_each_value() {
        // TumblingWindow.extractJoinKeys: a key with several values joins as each of them.
        let q = r#"sequence by user.name [any where event.action == "A"] [any where event.action == "B"]"#;
        let a = json!({"event": {"action": "A"}, "user": {"name": ["x", "y"]}});
        assert_eq!(
            run(q, &[(0, a.clone()), (1, ev("B", "y"))]),
            vec![vec![0, 1]]
        );
        assert_eq!(
            run(q, &[(0, a.clone()), (1, ev("B", "x"))]),
            vec![vec![0, 1]]
        );
        assert!(run(q, &[(0, a), (1, ev("B", "z"))]).is_empty());
    }

    #[test]
    fn leading_and_trailing_missing_events_follow_elasticsearch() {
        // doCheckMissingEvents: with both kinds, kept when either side has no event, or when
        // the trailing event is more than maxspan after the leading one.
        let q = r#"sequence by user.name with maxspan=10s
            ![any where event.action == "X"]
            [any where event.action == "A"]
            ![any where event.action == "Y"]"#;
        assert_eq!(run(q, &[(0, ev("A", "u"))]), vec![vec![0]]);
        assert_eq!(
            run(q, &[(0, ev("A", "u")), (1, ev("Y", "u"))]),
            vec![vec![0]],
            "no leading event: kept even with a trailing one"
        );
        assert_eq!(
            run(q, &[(0, ev("X", "u")), (1, ev("A", "u"))]),
            vec![vec![1]],
            "no trailing event: kept even with a leading one"
        );
        assert!(
            run(
                q,
                &[(0, ev("X", "u")), (1, ev("A", "u")), (5, ev("Y", "u"))]
            )
            .is_empty(),
            "Y - X = 5s is within maxspan"
        );
        assert_eq!(
            run(
                q,
                &[(0, ev("X", "u")), (1, ev("A", "u")), (11, ev("Y", "u"))]
            ),
            vec![vec![1]],
            "Y - X = 11s exceeds maxspan"
        );
    }
}
