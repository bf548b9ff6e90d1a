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
/// sorted, without repeats). A part without facts makes the whole disjunction fact-free; so
/// does one whose clauses all grew past [`MAX_CLAUSE_LITERALS`].
pub fn any_of(parts: impl IntoIterator<Item = Cnf>) -> Cnf {
    let mut acc: Option<Cnf> = None;
    for cnf in parts {
        if cnf.is_empty() {
            return Vec::new();
        }
        acc = Some(match acc {
            None => cnf,
            Some(prev) => {
                let mut ys: Vec<Vec<RequiredLiteral>> = cnf;
                for y in &mut ys {
                    y.sort();
                    y.dedup();
                }
                let mut next: Cnf = Vec::new();
                'outer: for x in &prev {
                    for y in &ys {
                        let c = union_sorted(x, y);
                        if c.len() > MAX_CLAUSE_LITERALS {
                            continue;
                        }
                        // At most MAX_CLAUSES to compare with, most told apart at once.
                        if !next.contains(&c) {
                            next.push(c);
                        }
                        if next.len() >= MAX_CLAUSES {
                            break 'outer;
                        }
                    }
                }
                if next.is_empty() {
                    return Vec::new();
                }
                next
            }
        });
    }
    acc.unwrap_or_default()
}

/// `x ∪ y`, sorted and without repeats, `y` being so. `x` is sorted unless it is a first
/// part's clause as given: then it is sorted here.
fn union_sorted(x: &[RequiredLiteral], y: &[RequiredLiteral]) -> Vec<RequiredLiteral> {
    if !x.is_sorted() || x.windows(2).any(|w| w[0] == w[1]) {
        let mut c = x.to_vec();
        c.extend_from_slice(y);
        c.sort();
        c.dedup();
        return c;
    }
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
