//! What a compiled query guarantees about every event it matches, for raw-bytes prefilters:
//! a conjunction of clauses, each a disjunction of [`RequiredLiteral`]s (CNF). KQL and EQL
//! both derive it from their query trees with [`all_of`] and [`any_of`].

/// A literal every matching event must contain: `field`'s value equals (`exact`), starts with
/// (`prefix`) or contains `literal`, compared case-sensitively or not.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequiredLiteral {
    pub field: String,
    pub literal: String,
    /// The whole value equals `literal` (otherwise it contains it).
    pub exact: bool,
    /// The value starts with `literal` (a keyword glob's text before its first `*`). Implied
    /// by `exact`; consumers that do not know it may read the literal as contained.
    pub prefix: bool,
    pub case_sensitive: bool,
}

/// Clauses that must all hold, each satisfied by any one of its literals. Empty: nothing is
/// known (every event may match).
pub type Cnf = Vec<Vec<RequiredLiteral>>;

/// At most this many clauses come out of [`any_of`]; dropping clauses loses facts, never
/// soundness.
const MAX_CLAUSES: usize = 64;

/// A clause of more literals than this is dropped (a fact that weak is worth nothing to a
/// prefilter; dropping it is sound). It also bounds [`any_of`]'s work per part, so compiling
/// a disjunction costs time linear in its parts (issue 16: 40,000 OR clauses took 110 s).
pub const MAX_CLAUSE_LITERALS: usize = 1024;

/// At most this many literals in all come out of [`any_of`] (its shortest clauses kept): what
/// it carries from part to part, so a disjunction's cost grows linearly with its parts.
pub const MAX_CNF_LITERALS: usize = 4096;

/// Literals [`any_of`] may copy or compare before it gives up on a disjunction (no facts: sound).
/// Distributing parts of several clauses each multiplies clauses: a field pattern over hundreds
/// of fields with a two-piece wildcard took seconds to compile (found by fuzzing, issue 16).
pub const MAX_DISJUNCTION_WORK: usize = 1 << 20;

/// The facts of a conjunction: every part's clauses (each once, in first-seen order).
pub fn all_of(parts: impl IntoIterator<Item = Cnf>) -> Cnf {
    let mut seen = std::collections::HashSet::new();
    let mut out: Cnf = Vec::new();
    for clause in parts.into_iter().flatten() {
        if !seen.contains(&clause) {
            seen.insert(clause.clone());
            out.push(clause);
        }
    }
    out
}

/// The facts of a disjunction: CNF(a ∨ b) = { x ∪ y : x ∈ CNF(a), y ∈ CNF(b) } (each clause
/// sorted, without repeats), less every clause another one implies (a clause holds whenever a
/// subset of it does, so it says nothing more). Clauses are kept shortest first within
/// [`MAX_CLAUSES`] and [`MAX_CNF_LITERALS`]; dropping clauses loses facts, never soundness.
/// A part without facts makes the whole disjunction fact-free; so does one whose clauses all
/// grew past [`MAX_CLAUSE_LITERALS`], and so does a disjunction that would cost more than
/// [`MAX_DISJUNCTION_WORK`].
pub fn any_of(parts: impl IntoIterator<Item = Cnf>) -> Cnf {
    let mut acc: Option<Cnf> = None;
    let mut work = 0usize;
    for mut ys in parts {
        if ys.is_empty() {
            return Vec::new();
        }
        for y in &mut ys {
            y.sort();
            y.dedup();
        }
        let candidates = match acc.take() {
            None => ys,
            // The common long disjunction (`a or b or c …`, one clause a part): the one clause
            // grows in place, each literal moved, never copied.
            Some(mut prev) if prev.len() == 1 && ys.len() == 1 => {
                let (x, y) = (prev.remove(0), ys.remove(0));
                work += y.len();
                vec![merge_sorted(x, y)]
            }
            Some(prev) => {
                let mut unions = Vec::with_capacity(prev.len() * ys.len());
                for x in prev {
                    // x is copied into every union but its last, which takes it.
                    let (last, others) = ys.split_last().expect("ys is not empty");
                    for y in others {
                        work += x.len() + y.len();
                        if work > MAX_DISJUNCTION_WORK {
                            return Vec::new();
                        }
                        unions.push(union_sorted(&x, y));
                    }
                    work += last.len();
                    unions.push(merge_sorted(x, last.clone()));
                }
                unions
            }
        };
        let next = strongest_clauses(candidates, &mut work);
        if next.is_empty() || work > MAX_DISJUNCTION_WORK {
            return Vec::new();
        }
        acc = Some(next);
    }
    acc.unwrap_or_default()
}

/// The shortest of `clauses` (each sorted, without repeats) that no other implies, within
/// [`MAX_CLAUSE_LITERALS`] each, [`MAX_CLAUSES`] and [`MAX_CNF_LITERALS`] in all; `work` counts
/// the literals looked up.
fn strongest_clauses(mut clauses: Cnf, work: &mut usize) -> Cnf {
    // Shortest first: a clause can only be implied by one no longer than itself, kept before it.
    clauses.sort_by_key(Vec::len);
    let mut kept: Cnf = Vec::new();
    let mut literals = 0;
    for clause in clauses {
        if clause.len() > MAX_CLAUSE_LITERALS
            || kept.len() == MAX_CLAUSES
            || literals + clause.len() > MAX_CNF_LITERALS
        {
            break;
        }
        *work += kept.iter().map(Vec::len).sum::<usize>();
        if !kept.iter().any(|k| is_subset(k, &clause)) {
            literals += clause.len();
            kept.push(clause);
        }
    }
    kept
}

/// Whether sorted `small` ⊆ sorted `big`: a binary search per literal of `small`.
fn is_subset(small: &[RequiredLiteral], big: &[RequiredLiteral]) -> bool {
    small.len() <= big.len() && small.iter().all(|s| big.binary_search(s).is_ok())
}

/// `x ∪ y` of two sorted clauses without repeats, moving their literals.
fn merge_sorted(x: Vec<RequiredLiteral>, y: Vec<RequiredLiteral>) -> Vec<RequiredLiteral> {
    let mut out = Vec::with_capacity(x.len() + y.len());
    let (mut xs, mut ys) = (x.into_iter().peekable(), y.into_iter().peekable());
    loop {
        let next = match (xs.peek(), ys.peek()) {
            (Some(a), Some(b)) => match a.cmp(b) {
                std::cmp::Ordering::Less => xs.next(),
                std::cmp::Ordering::Greater => ys.next(),
                std::cmp::Ordering::Equal => {
                    ys.next();
                    xs.next()
                }
            },
            (Some(_), None) => xs.next(),
            (None, Some(_)) => ys.next(),
            (None, None) => break,
        };
        out.extend(next);
    }
    out
}

/// `x ∪ y` of two sorted clauses without repeats.
fn union_sorted(x: &[RequiredLiteral], y: &[RequiredLiteral]) -> Vec<RequiredLiteral> {
    let mut out = Vec::with_capacity(x.len() + y.len());
    let (mut i, mut j) = (0, 0);
    while i < x.len() && j < y.len() {
        match x[i].cmp(&y[j]) {
            std::cmp::Ordering::Less => {
                out.push(x[i].clone());
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(y[j].clone());
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(x[i].clone());
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&x[i..]);
    out.extend_from_slice(&y[j..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> RequiredLiteral {
        RequiredLiteral {
            field: "f".into(),
            literal: s.into(),
            exact: true,
            prefix: false,
            case_sensitive: true,
        }
    }

    #[test]
    fn conjunction_keeps_each_clause_once() {
        let a = vec![vec![lit("a")]];
        let b = vec![vec![lit("a")], vec![lit("b")]];
        assert_eq!(all_of([a, b]), vec![vec![lit("a")], vec![lit("b")]]);
    }

    #[test]
    fn disjunction_distributes_and_a_free_branch_frees_all() {
        let a = vec![vec![lit("a")], vec![lit("c")]];
        let b = vec![vec![lit("b")]];
        assert_eq!(
            any_of([a.clone(), b.clone()]),
            vec![vec![lit("a"), lit("b")], vec![lit("b"), lit("c")]]
        );
        assert!(any_of([a, Vec::new(), b]).is_empty());
        assert!(any_of(std::iter::empty()).is_empty());
    }

    /// Issue 16: any_of was quadratic in its parts (a 40,000-clause OR took 110 s to compile).
    #[test]
    fn a_long_disjunction_is_linear() {
        let parts: Vec<Cnf> = (0..40_000)
            .map(|i| vec![vec![lit(&format!("v{i:06}"))]])
            .collect();
        let started = std::time::Instant::now();
        // Past MAX_CLAUSE_LITERALS the one clause is too weak to keep: no facts.
        assert!(any_of(parts.clone()).is_empty());
        // A fact every part shares survives whatever the length.
        let shared: Vec<Cnf> = parts
            .iter()
            .map(|p| vec![vec![lit("shared")], p[0].clone()])
            .collect();
        let out = any_of(shared);
        assert_eq!(out[0], vec![lit("shared")]);
        assert!(out.len() <= MAX_CLAUSES);
        let conj = all_of(parts.clone());
        assert_eq!(conj.len(), 40_000);
        // Repeats cost nothing either.
        let same: Vec<Cnf> = (0..40_000).map(|_| vec![vec![lit("a")]]).collect();
        assert_eq!(any_of(same), vec![vec![lit("a")]]);
        let took = started.elapsed();
        // Before: minutes (the one clause re-sorted and searched per part). Now about a second.
        assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
    }

    fn field_lit(field: &str, s: &str) -> RequiredLiteral {
        RequiredLiteral {
            field: field.into(),
            ..lit(s)
        }
    }

    /// Every clause of `out` follows from each part: some clause of the part is a subset of it.
    fn sound(parts: &[Cnf], out: &Cnf) -> bool {
        out.iter().all(|c| {
            parts
                .iter()
                .all(|p| p.iter().any(|pc| pc.iter().all(|l| c.contains(l))))
        })
    }

    #[test]
    fn disjunction_drops_the_clauses_others_imply() {
        let a = vec![vec![lit("a")], vec![lit("b")]];
        let b = vec![vec![lit("a")], vec![lit("c")]];
        // (a ∧ b) ∨ (a ∧ c) = a ∧ (b ∨ c): {a} implies {a, c} and {a, b}.
        assert_eq!(
            any_of([a, b]),
            vec![vec![lit("a")], vec![lit("b"), lit("c")]]
        );
    }

    /// Found by fuzzing (fuzz/regressions/kql): a field pattern over hundreds of fields with a
    /// two-piece wildcard (`*ame:perl* bnd x*`) is a disjunction of hundreds of two-clause
    /// parts; distributing it took seconds. Now bounded by MAX_CNF_LITERALS and
    /// MAX_DISJUNCTION_WORK, and still sound.
    #[test]
    fn a_disjunction_of_many_multi_clause_parts_is_bounded() {
        for fields in [10, 100, 1000, 10_000] {
            let parts: Vec<Cnf> = (0..fields)
                .map(|i| {
                    let f = format!("field{i:05}");
                    vec![vec![field_lit(&f, "perl")], vec![field_lit(&f, " bnd x")]]
                })
                .collect();
            let started = std::time::Instant::now();
            let out = any_of(parts.clone());
            let took = started.elapsed();
            assert!(sound(&parts, &out), "{fields} parts: unsound {out:?}");
            assert!(
                out.iter().map(Vec::len).sum::<usize>() <= MAX_CNF_LITERALS,
                "{fields} parts"
            );
            assert!(
                took < std::time::Duration::from_secs(2),
                "{fields} parts took {took:?}"
            );
            if fields == 10 {
                // Small enough to distribute: the facts are kept.
                assert!(!out.is_empty());
            }
        }
    }

    #[test]
    fn disjunction_below_the_clause_cap_is_exact() {
        let parts: Vec<Cnf> = (0..MAX_CLAUSE_LITERALS)
            .rev()
            .map(|i| vec![vec![lit(&format!("v{i:06}"))]])
            .collect();
        let out = any_of(parts);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), MAX_CLAUSE_LITERALS);
        assert!(out[0].is_sorted());
    }
}
