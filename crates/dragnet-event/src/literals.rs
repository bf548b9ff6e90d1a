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

/// The facts of a conjunction: every part's clauses (each once).
pub fn all_of(parts: impl IntoIterator<Item = Cnf>) -> Cnf {
    let mut out: Cnf = Vec::new();
    for clause in parts.into_iter().flatten() {
        if !out.contains(&clause) {
            out.push(clause);
        }
    }
    out
}

/// The facts of a disjunction: CNF(a ∨ b) = { x ∪ y : x ∈ CNF(a), y ∈ CNF(b) }. A part
/// without facts makes the whole disjunction fact-free.
pub fn any_of(parts: impl IntoIterator<Item = Cnf>) -> Cnf {
    let mut acc: Option<Cnf> = None;
    for cnf in parts {
        if cnf.is_empty() {
            return Vec::new();
        }
        acc = Some(match acc {
            None => cnf,
            Some(prev) => {
                let mut next = Vec::new();
                'outer: for x in &prev {
                    for y in &cnf {
                        let mut c = x.clone();
                        for l in y {
                            if !c.contains(l) {
                                c.push(l.clone());
                            }
                        }
                        c.sort();
                        if !next.contains(&c) {
                            next.push(c);
                        }
                        if next.len() >= MAX_CLAUSES {
                            break 'outer;
                        }
                    }
                }
                next
            }
        });
    }
    acc.unwrap_or_default()
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
}
