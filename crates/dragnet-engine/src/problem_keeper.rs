//! The input problems a run keeps for its report: every problem about a whole source, and the
//! first [`RunOptions::max_problems`](crate::RunOptions::max_problems) problems about records
//! in input order; the others are only counted (`RunStats::problems_not_listed`), so millions
//! of broken lines cost no memory.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use dragnet_input::{Problem, ProblemKind};

/// Record problems a run keeps by default (`hunt --max-problems`).
pub const DEFAULT_MAX_PROBLEMS: usize = 1000;

/// A problem tagged with the source's position, so problems print in input order.
pub(crate) struct OrderedProblem {
    pub source: usize,
    pub seq: u64,
    pub problem: Problem,
    /// The segment of the source it was found in (its location is local to it until the run
    /// rebases it).
    pub segment: Option<u64>,
}

impl OrderedProblem {
    /// Input order before segments are rebased: segments follow each other in their file, so
    /// (segment, place in it) orders as the rebased place does.
    fn key(&self) -> (usize, Option<u64>, (u64, u64), u64) {
        (
            self.source,
            self.segment,
            problem_key(&self.problem),
            self.seq,
        )
    }
}

/// Where a problem is in its source (whole-source problems first).
pub(crate) fn problem_key(p: &Problem) -> (u64, u64) {
    p.at.map_or((0, 0), |at| (at.index, at.line))
}

struct ByInput(OrderedProblem);

impl PartialEq for ByInput {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for ByInput {}
impl PartialOrd for ByInput {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ByInput {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.key().cmp(&other.0.key())
    }
}

/// Whether a problem means input was skipped (`--strict`); values that are not CloudTrail are
/// noted, not broken.
pub fn is_skipped_input(p: &Problem) -> bool {
    !matches!(p.kind, ProblemKind::NotCloudTrail) && !p.kind.keeps_record()
}

/// The problems kept, and the counts of all of them.
pub(crate) struct ProblemKeeper {
    max: usize,
    sources: Vec<OrderedProblem>,
    /// The first `max` record problems: a max-heap, its top the last in input order.
    records: BinaryHeap<ByInput>,
    /// Record problems that were not kept.
    pub not_kept: u64,
    /// Of those, the ones that skipped input (see [`is_skipped_input`]).
    pub not_kept_skipped_input: u64,
    /// Records skipped because of a problem, kept or not.
    pub records_skipped: u64,
}

impl ProblemKeeper {
    pub fn new(max: usize) -> ProblemKeeper {
        ProblemKeeper {
            max,
            sources: Vec::new(),
            records: BinaryHeap::new(),
            not_kept: 0,
            not_kept_skipped_input: 0,
            records_skipped: 0,
        }
    }

    pub fn push(&mut self, p: OrderedProblem) {
        if p.problem.at.is_none() {
            self.sources.push(p);
            return;
        }
        if !p.problem.kind.keeps_record() {
            self.records_skipped += 1;
        }
        let p = ByInput(p);
        let left_out = if self.records.len() < self.max {
            self.records.push(p);
            return;
        } else if self.records.peek().is_some_and(|last| p < *last) {
            let last = self.records.pop().expect("peeked");
            self.records.push(p);
            last
        } else {
            p
        };
        self.not_kept += 1;
        if is_skipped_input(&left_out.0.problem) {
            self.not_kept_skipped_input += 1;
        }
    }

    /// The problems kept, in no particular order.
    pub fn into_kept(self) -> Vec<OrderedProblem> {
        let mut kept = self.sources;
        kept.extend(self.records.into_iter().map(|p| p.0));
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dragnet_input::RecordLocation;
    use std::sync::Arc;

    fn problem(index: u64) -> OrderedProblem {
        OrderedProblem {
            source: 0,
            seq: 0,
            problem: Problem::new(
                Arc::from("f"),
                Some(RecordLocation {
                    index,
                    line: index + 1,
                    offset: 0,
                }),
                ProblemKind::Malformed,
                "broken".to_string(),
            ),
            segment: None,
        }
    }

    #[test]
    fn the_first_problems_in_input_order_are_kept_and_the_rest_counted() {
        let mut keeper = ProblemKeeper::new(3);
        for index in [9, 4, 7, 1, 8, 2, 6] {
            keeper.push(problem(index));
        }
        assert_eq!(keeper.records_skipped, 7);
        assert_eq!(keeper.not_kept, 4);
        assert_eq!(keeper.not_kept_skipped_input, 4);
        let mut kept: Vec<u64> = keeper
            .into_kept()
            .iter()
            .map(|p| p.problem.at.unwrap().index)
            .collect();
        kept.sort();
        assert_eq!(kept, [1, 2, 4]);
    }

    #[test]
    fn none_kept_still_counts_every_one() {
        let mut keeper = ProblemKeeper::new(0);
        for index in 0..100 {
            keeper.push(problem(index));
        }
        assert_eq!(
            (keeper.records_skipped, keeper.not_kept),
            (100, 100),
            "counted"
        );
        assert!(keeper.into_kept().is_empty());
    }
}
