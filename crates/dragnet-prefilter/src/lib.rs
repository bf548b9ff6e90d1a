//! The raw-bytes prefilter: which rules could possibly match a record, decided before parsing it.
//!
//! Each compiled rule states the literals any matching event must contain, as a CNF
//! (every clause must hold; a clause holds when one of its literals is present). The CloudTrail
//! crate translates a literal into what the raw record must then contain: bytes (exact or ASCII
//! case-insensitive), or, for equality on a top-level string (`event.action` is `eventName`),
//! that member's exact value (or, for a keyword glob `X*` on it, that the value starts with
//! `X`). A clause is used only when *every* one of its literals has such a
//! test (otherwise a match could hide behind the untranslatable literal); a rule with no usable
//! clause is always evaluated.
//!
//! Most records match no rule. Each rule names one *gate* clause, its most selective (see
//! [`needle_rarity`]: `userIdentity.type` values, service endpoints and read-only call names
//! open for many records), and the work is in two steps:
//! 1. [`Prefilter::mark_batch`], over a whole batch at once: the gate byte needles, which the
//!    framer looks for itself when they are few and exact ([`Prefilter::probe_needles`]),
//!    else one leftmost-first Aho-Corasick scan (SIMD Teddy) or one memmem scan per needle;
//!    the escape openers (flagged by the framer); and per member key (`"eventName"`, found by
//!    the framer, [`Prefilter::probe_key`], or by memmem) a look-up of its value in the gate
//!    values and prefixes. Member clauses are preferred as gates: they cost no byte search.
//!    Records nothing marks are skipped; typically a few percent are marked.
//! 2. [`Prefilter::candidates`], per marked record, decides exactly: the gate needles by
//!    overlapping automata, the member values by reading every occurrence of the key, the other
//!    clauses needle by needle (memmem), each needle searched at most once per record.
//!
//! The outcome is exactly the CNF test over all clauses, only cheaper. Records holding a JSON
//! escape that could spell a needle differently (`\u0053endCommand`, `\/`) are never
//! prefiltered: every rule sees them. A member value that cannot be read as a plain string (a
//! non-string, an escape, a cut record) counts as holding every value.

//!
//! Modules, in the order data flows: [`needle`] (what a record must contain, as the source
//! mapping states it), [`probe`] (what the framer notes while framing), then the
//! [`Prefilter`] itself, which depends on both.

pub mod needle;
mod prefilter;
pub mod probe;
mod selectivity;

pub use needle::{MemberValue, Needle, folded_prefix_may_match, member_value_at, member_values};
pub use prefilter::{MIN_SAMPLE_RECORDS, Measured, Prefilter, RuleFiltering, Scratch};
pub use probe::{KeyHits, KeyProbe, MAX_NEEDLE_PROBES, NeedleProbe, ProbedRecord, Probes};
