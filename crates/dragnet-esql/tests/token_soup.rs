//! Random queries built from ES|QL's tokens (deterministic, `Xorshift`): parsing never panics,
//! and every query that parses prints to a form that parses back to the same tree. The AFL
//! target `esql` explores further; this keeps the property in every test run.

use dragnet_testdata::Xorshift;

const TOKENS: &[&str] = &[
    "FROM",
    "logs-*",
    "a:b",
    "x::failures",
    "METADATA",
    "_id",
    ",",
    "|",
    "ROW",
    "SHOW INFO",
    "WHERE",
    "EVAL",
    "STATS",
    "INLINE STATS",
    "BY",
    "KEEP",
    "DROP",
    "RENAME",
    "AS",
    "SORT",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "LIMIT",
    "DISSECT",
    "GROK",
    "MV_EXPAND",
    "ENRICH",
    "ON",
    "WITH",
    "LOOKUP JOIN",
    "SAMPLE",
    "FORK",
    "SET",
    ";",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS",
    "NULL",
    "LIKE",
    "RLIKE",
    "TRUE",
    "false",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=~",
    "=",
    "::",
    ":",
    ".",
    "+",
    "-",
    "*",
    "/",
    "%",
    "?",
    "?p",
    "a",
    "b.c",
    "`q r`",
    "`x``y`",
    "@timestamp",
    "_x",
    "count(*)",
    "f(",
    "1",
    "0",
    "18446744073709551616",
    "1.5",
    ".5",
    "2e3",
    "1 hour",
    "7 days",
    "\"s\"",
    "\"\\\"\\\\\"",
    "\"\"\"t\\d\"\"\"",
    "\"%{a} %{b}\"",
    "*",
    "a*",
    "// c\n",
    "/* c */",
    "\n",
    "long",
    "keyword",
];

const CASES: usize = 50_000;

#[test]
fn token_soup_never_panics_and_parses_print_back() {
    let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0;
    for case in 0..CASES {
        let len = 1 + rng.below(8);
        let mut query = String::new();
        // Most cases start like a query so the parser gets past the source command.
        if case % 4 != 0 {
            query.push_str(
                ["FROM a ", "ROW x = ", "FROM a | WHERE ", "FROM a | STATS "][rng.below(4)],
            );
        }
        for _ in 0..len {
            query.push_str(TOKENS[rng.below(TOKENS.len())]);
            query.push(' ');
        }
        let Ok(tree) = dragnet_esql::parse(&query) else {
            continue;
        };
        parsed += 1;
        let printed = tree.to_string();
        match dragnet_esql::parse(&printed) {
            Ok(again) => assert!(
                again == tree,
                "{query:?}\nprints as\n{printed}\nwhich parses to another tree"
            ),
            Err(e) => panic!("{query:?}\nprints as\n{printed}\nwhich does not parse: {e}"),
        }
        let _ = dragnet_esql::unsupported(&tree);
    }
    println!("{parsed} of {CASES} random queries parsed");
    assert!(
        parsed > 1_500,
        "the soup should give the printer work: only {parsed} parsed"
    );
}
