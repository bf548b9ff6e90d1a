//! Stateful evaluation of `sequence` queries over events in time order, with the semantics of
//! Elasticsearch's sequence state machine (EQL syntax reference, "How sequence queries handle
//! matches"): each step is a state; per join key at most one pending sequence waits in a state,
//! and a newer one replaces it; an event is used at most once per sequence (steps are tried
//! last-to-first); all events lie within `maxspan` of the first; an `until` event with the same
//! key cancels the key's pending sequences; a missing-event step `![…]` rejects a sequence when
//! a matching event with the same key lies between its neighbouring events (before the first
//! event: within `maxspan` of the last; after the last: within `maxspan` of the first).
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
    /// The window for trailing missing events ends here (first event + maxspan).
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

        if let Some(until) = &self.until
            && until.filter.matches(event)
            && let Some(k) = until.key(event)
            && let Some(state) = self.keys.get_mut(&k)
        {
            let n = state.pending();
            state.stages.iter_mut().for_each(|s| *s = None);
            self.pending -= n;
        }

        let n = self.positives.len();
        for g in 0..self.gaps.len() {
            for step in &self.gaps[g] {
                if !step.filter.matches(event) {
                    continue;
                }
                let Some(k) = step.key(event) else { continue };
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

        for j in (0..n).rev() {
            if !self.positives[j].filter.matches(event) {
                continue;
            }
            let Some(k) = self.positives[j].key(event) else {
                continue;
            };
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
        if self.pending > self.max_pending {
            self.expire(t);
            self.shed();
        }
        out
    }

    fn complete(&mut self, key: KeyValue, partial: Partial<R>, out: &mut Vec<SequenceMatch<R>>) {
        let first = partial.start;
        let last = partial.events.last().map_or(first, |e| e.0);
        if !self.gaps[0].is_empty()
            && let Some(state) = self.keys.get(&key)
        {
            let lo = self.maxspan.map_or(i128::MIN, |m| last - m);
            if state.leading.iter().any(|&x| x >= lo && x < first) {
                return;
            }
        }
        if !self.gaps[self.positives.len()].is_empty() {
            let until = first + self.maxspan.unwrap_or(0);
            self.held.push(Held {
                key,
                partial,
                until,
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
