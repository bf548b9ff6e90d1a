//! The raw-bytes prefilter: which rules could possibly match a record, decided before parsing it.
//!
//! Each compiled rule states the literals any matching event must contain, as a CNF
//! (every clause must hold; a clause holds when one of its literals is present). The CloudTrail
//! crate translates a literal into the bytes the raw record must then contain. A clause is used
//! only when *every* one of its literals has such bytes (otherwise a match could hide behind the
//! untranslatable literal); a rule with no usable clause is always evaluated.
//!
//! Most records match no rule, and scanning them for every needle (many of them frequent, like
//! `ec2.amazonaws.com`) dominated hunt's CPU profile. So each rule names one *gate* clause, its
//! most selective, and only gate needles are scanned for in every record, by Aho-Corasick (one
//! automaton for case-sensitive needles, which keeps its SIMD prefilters, one for the ASCII
//! case-insensitive ones). A rule whose gate clause fails is out; for a rule whose gate holds,
//! its other clauses are checked needle by needle (memmem), each needle searched at most once
//! per record. The outcome is exactly the CNF test over all clauses, only cheaper. Records holding a JSON escape that could spell a
//! needle differently (`\u0053endCommand`, `\/`) are never prefiltered: every rule sees them.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use memchr::memmem;

/// The bytes a raw record must contain for a literal to be present (or that it cannot be said).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NeedleSpec {
    /// These exact bytes.
    Bytes(Vec<u8>),
    /// These bytes, ASCII letters in any case.
    CaseInsensitive(Vec<u8>),
    /// Every record holds the literal (a constant field that equals it): the clause always
    /// holds, so it cannot filter.
    Always,
    /// No record holds it (a constant field that differs): this alternative never holds.
    Never,
    /// No sound byte test exists for this literal.
    Unknown,
}

/// The clause whose weakest alternative is hardest to find by chance. A clause is only as
/// selective as its most common needle. Service endpoints (`*.amazonaws.com`, the
/// `event.provider` values) appear in every record of their service and in many `userAgent`
/// and `sourceIPAddress` values, so they rank last; otherwise longer needles are rarer.
fn most_selective_clause(clauses: &[Vec<u32>], patterns: &[&Vec<u8>]) -> usize {
    let needle_score = |id: u32| {
        let p = patterns[id as usize];
        if p.ends_with(b"amazonaws.com") {
            0
        } else {
            p.len()
        }
    };
    clauses
        .iter()
        .enumerate()
        .max_by_key(|(i, clause)| {
            let weakest = clause.iter().map(|&id| needle_score(id)).min().unwrap_or(0);
            // Ties: fewer alternatives, then the earlier clause.
            (
                weakest,
                std::cmp::Reverse(clause.len()),
                std::cmp::Reverse(*i),
            )
        })
        .map_or(0, |(i, _)| i)
}

/// A needle id in one of the two automata: (case-insensitive?, id in that automaton).
type TaggedId = (bool, u32);

/// How the prefilter handled one rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleFiltering {
    /// At least one clause is fully covered by needles: records lacking it are skipped.
    Prefiltered { clauses: usize },
    /// No usable clause: every record is evaluated for this rule.
    Always,
    /// A clause no raw CloudTrail record can satisfy: the rule never sees one (ECS documents
    /// are still evaluated).
    Never,
}

/// The prefilter over a rule set. Rules are numbered by their position in the input of
/// [`Prefilter::build`].
#[derive(Debug)]
pub struct Prefilter {
    /// One searcher per needle (ids: case-sensitive needles first), for the clauses of rules
    /// whose gate opened; each runs at most once per record.
    searchers: Vec<NeedleSearcher>,
    /// Whether a needle is in a gate automaton (then its absence is known after the gate scan).
    in_gate: Vec<bool>,
    /// The needles of every prefiltered rule's gate clause, in up to two automata
    /// (case-sensitive needles matched exactly, which lets Aho-Corasick use its fast SIMD
    /// prefilters; then the ASCII-case-insensitive ones). Pattern `i` is needle `ids[i]`.
    gate_automata: Vec<(AhoCorasick, Vec<u32>)>,
    needle_count: usize,
    /// Per prefiltered rule: its clauses, each a list of needle ids (any one satisfies it).
    rules: Vec<(usize, Vec<Vec<u32>>)>,
    /// Per entry of `rules`: the index of its gate clause.
    gates: Vec<usize>,
    /// Rules evaluated on every record.
    always: Vec<usize>,
    /// Rules no raw record can match.
    never: Vec<usize>,
    rule_count: usize,
    escape_u: memmem::Finder<'static>,
    escape_slash: memmem::Finder<'static>,
}

/// Scratch space for [`Prefilter::candidates`], one per worker thread.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Per needle: [`UNKNOWN`], [`PRESENT`] or [`ABSENT`] in the current record.
    state: Vec<u8>,
    /// Needles whose state was set for the current record, to reset them cheaply.
    touched: Vec<u32>,
}

const UNKNOWN: u8 = 0;
const PRESENT: u8 = 1;
const ABSENT: u8 = 2;

/// Finds one needle in a record.
#[derive(Debug)]
enum NeedleSearcher {
    Exact(Box<memmem::Finder<'static>>),
    /// ASCII letters in any case (memchr has no case-insensitive memmem).
    Insensitive(AhoCorasick),
}

impl NeedleSearcher {
    fn new(needle: &[u8], insensitive: bool) -> Self {
        if insensitive {
            let ac = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .build([needle])
                .expect("one needle is within default size limits");
            NeedleSearcher::Insensitive(ac)
        } else {
            NeedleSearcher::Exact(Box::new(memmem::Finder::new(needle).into_owned()))
        }
    }

    fn is_in(&self, record: &[u8]) -> bool {
        match self {
            NeedleSearcher::Exact(finder) => finder.find(record).is_some(),
            NeedleSearcher::Insensitive(ac) => ac.is_match(record),
        }
    }
}

impl Prefilter {
    /// Builds the prefilter. `rules[i]` is rule i's CNF: clauses of needle alternatives.
    pub fn build(rules: &[Vec<Vec<NeedleSpec>>]) -> Self {
        let mut exact_ids: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut insensitive_ids: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut exact_patterns: Vec<Vec<u8>> = Vec::new();
        let mut insensitive_patterns: Vec<Vec<u8>> = Vec::new();
        // Ids are provisional per automaton; tagged with which one, resolved below.
        let mut provisional: Vec<(usize, Vec<Vec<TaggedId>>)> = Vec::new();
        let mut always = Vec::new();
        let mut never = Vec::new();
        'rules: for (rule, cnf) in rules.iter().enumerate() {
            let mut clauses = Vec::new();
            for clause in cnf {
                if clause.is_empty() || clause.contains(&NeedleSpec::Always) {
                    continue;
                }
                let clause: Vec<&NeedleSpec> =
                    clause.iter().filter(|n| **n != NeedleSpec::Never).collect();
                if clause.is_empty() {
                    // Every alternative is a constant that differs: no record can match.
                    never.push(rule);
                    continue 'rules;
                }
                let usable = clause.iter().all(|n| match n {
                    NeedleSpec::Bytes(b) | NeedleSpec::CaseInsensitive(b) => !b.is_empty(),
                    NeedleSpec::Unknown | NeedleSpec::Always | NeedleSpec::Never => false,
                });
                if !usable {
                    continue;
                }
                let mut ids = Vec::with_capacity(clause.len());
                for needle in clause {
                    match needle {
                        NeedleSpec::Bytes(b) => {
                            let id = *exact_ids.entry(b.clone()).or_insert_with(|| {
                                exact_patterns.push(b.clone());
                                (exact_patterns.len() - 1) as u32
                            });
                            ids.push((false, id));
                        }
                        NeedleSpec::CaseInsensitive(b) => {
                            let key = b.to_ascii_lowercase();
                            let id = *insensitive_ids.entry(key.clone()).or_insert_with(|| {
                                insensitive_patterns.push(key);
                                (insensitive_patterns.len() - 1) as u32
                            });
                            ids.push((true, id));
                        }
                        NeedleSpec::Unknown | NeedleSpec::Always | NeedleSpec::Never => {
                            unreachable!("filtered above")
                        }
                    }
                }
                clauses.push(ids);
            }
            if clauses.is_empty() {
                always.push(rule);
            } else {
                provisional.push((rule, clauses));
            }
        }
        let exact_len = exact_patterns.len();
        let resolve = |(insensitive, id): (bool, u32)| {
            if insensitive {
                exact_len as u32 + id
            } else {
                id
            }
        };
        let rules_resolved = provisional
            .into_iter()
            .map(|(rule, clauses)| {
                let clauses = clauses
                    .into_iter()
                    .map(|c| c.into_iter().map(resolve).collect())
                    .collect();
                (rule, clauses)
            })
            .collect();
        let needle_count = exact_len + insensitive_patterns.len();
        let all_patterns: Vec<&Vec<u8>> =
            exact_patterns.iter().chain(&insensitive_patterns).collect();
        let searchers = all_patterns
            .iter()
            .enumerate()
            .map(|(id, p)| NeedleSearcher::new(p, id >= exact_len))
            .collect();
        let rules_resolved: Vec<(usize, Vec<Vec<u32>>)> = rules_resolved;
        let gates: Vec<usize> = rules_resolved
            .iter()
            .map(|(_, clauses)| most_selective_clause(clauses, &all_patterns))
            .collect();
        let mut gate_ids: Vec<u32> = rules_resolved
            .iter()
            .zip(&gates)
            .flat_map(|((_, clauses), &g)| clauses[g].iter().copied())
            .collect();
        gate_ids.sort_unstable();
        gate_ids.dedup();
        let (exact_gate, insensitive_gate): (Vec<u32>, Vec<u32>) = gate_ids
            .into_iter()
            .partition(|&id| (id as usize) < exact_len);
        let gate_automata: Vec<(AhoCorasick, Vec<u32>)> =
            [(exact_gate, false), (insensitive_gate, true)]
                .into_iter()
                .filter(|(ids, _): &(Vec<u32>, bool)| !ids.is_empty())
                .map(|(ids, insensitive)| {
                    let patterns: Vec<&Vec<u8>> =
                        ids.iter().map(|&id| all_patterns[id as usize]).collect();
                    let ac = AhoCorasickBuilder::new()
                        .match_kind(MatchKind::Standard)
                        .ascii_case_insensitive(insensitive)
                        // A full DFA: a few hundred needles stay small, and every record is scanned.
                        .kind(Some(AhoCorasickKind::DFA))
                        .build(patterns)
                        .expect("gate automaton within default size limits");
                    (ac, ids)
                })
                .collect();
        let mut in_gate = vec![false; needle_count];
        for (_, ids) in &gate_automata {
            for &id in ids {
                in_gate[id as usize] = true;
            }
        }
        Self {
            searchers,
            in_gate,
            gate_automata,
            gates,
            needle_count,
            rules: rules_resolved,
            always,
            never,
            rule_count: rules.len(),
            escape_u: memmem::Finder::new(b"\\u").into_owned(),
            escape_slash: memmem::Finder::new(b"\\/").into_owned(),
        }
    }

    /// How rule `rule` is filtered.
    pub fn filtering(&self, rule: usize) -> RuleFiltering {
        if self.never.contains(&rule) {
            return RuleFiltering::Never;
        }
        match self.rules.iter().find(|(r, _)| *r == rule) {
            Some((_, clauses)) => RuleFiltering::Prefiltered {
                clauses: clauses.len(),
            },
            None => RuleFiltering::Always,
        }
    }

    /// Distinct needles in the automata.
    pub fn needle_count(&self) -> usize {
        self.needle_count
    }

    /// True when the record holds a JSON escape that could spell a needle differently; such a
    /// record is evaluated against every rule.
    pub fn has_escape(&self, record: &[u8]) -> bool {
        self.escape_u.find(record).is_some() || self.escape_slash.find(record).is_some()
    }

    /// Whether needle `id` is in `record`: known after the gate scan for gate needles,
    /// otherwise searched once and remembered in `scratch`.
    fn present(&self, id: u32, record: &[u8], scratch: &mut Scratch) -> bool {
        let i = id as usize;
        match scratch.state[i] {
            PRESENT => true,
            ABSENT => false,
            _ if self.in_gate[i] => false,
            _ => {
                let found = self.searchers[i].is_in(record);
                scratch.state[i] = if found { PRESENT } else { ABSENT };
                scratch.touched.push(id);
                found
            }
        }
    }

    /// Pushes onto `out` (in ascending rule order) every rule that must be evaluated on `record`.
    pub fn candidates(&self, record: &[u8], scratch: &mut Scratch, out: &mut Vec<usize>) {
        out.clear();
        if self.has_escape(record) {
            out.extend(0..self.rule_count);
            return;
        }
        if self.rules.is_empty() {
            out.extend_from_slice(&self.always);
            return;
        }
        if scratch.state.len() < self.needle_count {
            scratch.state.resize(self.needle_count, UNKNOWN);
        }
        for &id in &scratch.touched {
            scratch.state[id as usize] = UNKNOWN;
        }
        scratch.touched.clear();
        for (gate, ids) in &self.gate_automata {
            for m in gate.find_overlapping_iter(record) {
                let id = ids[m.pattern().as_usize()];
                if scratch.state[id as usize] != PRESENT {
                    scratch.state[id as usize] = PRESENT;
                    scratch.touched.push(id);
                }
            }
        }
        out.extend_from_slice(&self.always);
        for ((rule, clauses), &gate) in self.rules.iter().zip(&self.gates) {
            // The gate first: for most records it is closed and nothing else is searched.
            let gate_open = clauses[gate]
                .iter()
                .any(|&id| scratch.state[id as usize] == PRESENT);
            if !gate_open {
                continue;
            }
            let passes = clauses.iter().enumerate().all(|(i, clause)| {
                i == gate || clause.iter().any(|&id| self.present(id, record, scratch))
            });
            if passes {
                out.push(*rule);
            }
        }
        out.sort_unstable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> NeedleSpec {
        NeedleSpec::Bytes(s.as_bytes().to_vec())
    }
    fn ci(s: &str) -> NeedleSpec {
        NeedleSpec::CaseInsensitive(s.as_bytes().to_vec())
    }

    fn run(p: &Prefilter, record: &str) -> Vec<usize> {
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        p.candidates(record.as_bytes(), &mut scratch, &mut out);
        out
    }

    #[test]
    fn clauses_must_all_hold_and_any_disjunct_suffices() {
        let p = Prefilter::build(&[
            vec![
                vec![bytes("\"SendCommand\"")],
                vec![bytes("ssm.amazonaws.com"), bytes("ec2.amazonaws.com")],
            ],
            vec![vec![ci("modifyimageattribute")]],
        ]);
        assert_eq!(
            run(
                &p,
                r#"{"eventName":"SendCommand","eventSource":"ssm.amazonaws.com"}"#
            ),
            vec![0]
        );
        assert_eq!(
            run(
                &p,
                r#"{"eventName":"SendCommand","eventSource":"ec2.amazonaws.com"}"#
            ),
            vec![0]
        );
        assert!(
            run(
                &p,
                r#"{"eventName":"SendCommand","eventSource":"s3.amazonaws.com"}"#
            )
            .is_empty()
        );
        assert_eq!(run(&p, r#"{"eventName":"MODIFYImageAttribute"}"#), vec![1]);
        assert!(run(&p, r#"{"eventName":"ListBuckets"}"#).is_empty());
    }

    #[test]
    fn case_sensitive_needles_need_their_exact_case() {
        let p = Prefilter::build(&[
            vec![vec![bytes("Deny")]],
            vec![vec![bytes("deny")]],
            vec![vec![ci("DENY")]],
        ]);
        assert_eq!(run(&p, "Deny"), vec![0, 2]);
        assert_eq!(run(&p, "deny"), vec![1, 2]);
        assert_eq!(run(&p, "dEnY"), vec![2]);
        assert_eq!(run(&p, "Deny deny"), vec![0, 1, 2]);
    }

    #[test]
    fn unknown_needles_make_a_clause_unusable() {
        let p = Prefilter::build(&[
            vec![vec![bytes("a"), NeedleSpec::Unknown]],
            vec![vec![NeedleSpec::Unknown], vec![bytes("zzz")]],
            vec![],
        ]);
        assert_eq!(p.filtering(0), RuleFiltering::Always);
        assert_eq!(p.filtering(1), RuleFiltering::Prefiltered { clauses: 1 });
        assert_eq!(p.filtering(2), RuleFiltering::Always);
        assert_eq!(run(&p, "nothing here"), vec![0, 2]);
        assert_eq!(run(&p, "zzz"), vec![0, 1, 2]);
    }

    #[test]
    fn constant_needles() {
        let p = Prefilter::build(&[
            // event.dataset:aws.cloudtrail and event.action:X
            vec![vec![NeedleSpec::Always], vec![bytes("X")]],
            // event.module:okta
            vec![vec![NeedleSpec::Never]],
            // event.module:(okta or aws) and Y
            vec![
                vec![NeedleSpec::Never, NeedleSpec::Always],
                vec![bytes("Y")],
            ],
            // a never-constant beside a needle: only the needle counts
            vec![vec![NeedleSpec::Never, bytes("Z")]],
        ]);
        assert_eq!(p.filtering(0), RuleFiltering::Prefiltered { clauses: 1 });
        assert_eq!(p.filtering(1), RuleFiltering::Never);
        assert_eq!(p.filtering(2), RuleFiltering::Prefiltered { clauses: 1 });
        assert_eq!(p.filtering(3), RuleFiltering::Prefiltered { clauses: 1 });
        assert_eq!(run(&p, "X Y"), vec![0, 2]);
        assert_eq!(run(&p, "Z"), vec![3]);
        assert!(run(&p, "nothing").is_empty());
        // Escaped records go to every rule, even ones a constant rules out: safe, never wrong.
        assert_eq!(run(&p, "\\u0058"), vec![0, 1, 2, 3]);
    }

    #[test]
    fn escaped_records_reach_every_rule() {
        let p = Prefilter::build(&[vec![vec![bytes("SendCommand")]], vec![vec![bytes("x/y")]]]);
        assert_eq!(run(&p, r#"{"eventName":"\u0053endCommand"}"#), vec![0, 1]);
        assert_eq!(run(&p, r#"{"arn":"x\/y"}"#), vec![0, 1]);
        assert!(run(&p, r#"{"eventName":"SendCommandX"}"#).contains(&0));
    }

    #[test]
    fn scratch_is_reset_between_records() {
        let p = Prefilter::build(&[vec![vec![bytes("alpha")]], vec![vec![bytes("beta")]]]);
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        p.candidates(b"alpha", &mut scratch, &mut out);
        assert_eq!(out, vec![0]);
        p.candidates(b"beta", &mut scratch, &mut out);
        assert_eq!(out, vec![1]);
        p.candidates(b"gamma", &mut scratch, &mut out);
        assert!(out.is_empty());
    }
}
