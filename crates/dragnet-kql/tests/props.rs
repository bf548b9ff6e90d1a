//! Property tests: the parser never panics, and parse → canonical print → parse is a fixpoint
//! (the reprinted query parses to the same printed form).

use proptest::prelude::*;

/// Fragments that exercise the grammar's corners: keywords in any case, escapes, quotes,
/// wildcards, brackets, ranges, nested queries, unicode and KQL whitespace.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(" and ".to_owned()),
        Just(" AND ".to_owned()),
        Just(" or ".to_owned()),
        Just(" Or ".to_owned()),
        Just("not ".to_owned()),
        Just("NOT ".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just(":".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("*".to_owned()),
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just("\\*".to_owned()),
        Just("\\:".to_owned()),
        Just("\\n".to_owned()),
        Just("\\not".to_owned()),
        Just("\\Or".to_owned()),
        Just("\\u0041".to_owned()),
        Just("<".to_owned()),
        Just(">=".to_owned()),
        Just(" ".to_owned()),
        Just("\u{a0}".to_owned()),
        Just("\t".to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
        Just("event.action".to_owned()),
        Just("é".to_owned()),
        "[a-z0-9._-]{1,6}",
    ]
}

fn kql_like() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..24).prop_map(|v| v.concat())
}

/// Well-formed queries built from the grammar, so the fixpoint property is exercised on many
/// queries that parse (random text mostly does not).
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._/-]{1,8}",
        "[a-zA-Z0-9 ]{0,6}".prop_map(|s| format!("\"{s}\"")),
        "[a-z]{0,3}".prop_map(|s| format!("*{s}*")),
        Just("*".to_owned()),
        Just(r"C\:\\Windows\*".to_owned()),
        Just("S3 Browser".to_owned()),
        Just(r"a \or b".to_owned()),
        Just(r"can\Not".to_owned()),
        Just("\"quo\\\"te\"".to_owned()),
        Just("true".to_owned()),
    ]
}

fn query() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        ("[a-z]{1,4}(\\.[a-z]{1,4})?", value()).prop_map(|(f, v)| format!("{f}:{v}")),
        (
            "[a-z]{1,4}",
            prop::sample::select(vec!["<", "<=", ">", ">="]),
            "[0-9]{1,3}"
        )
            .prop_map(|(f, op, v)| format!("{f} {op} {v}")),
        (
            "[a-z]{1,4}",
            prop::collection::vec(value(), 2..4),
            prop::sample::select(vec![" or ", " and ", " OR "])
        )
            .prop_map(|(f, vs, op)| format!("{f}:({})", vs.join(op))),
        value().prop_map(|v| if v == "true" || v == "*" {
            format!("x:{v}")
        } else {
            v
        }),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} and {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} Or {b})")),
            inner.clone().prop_map(|a| format!("not ({a})")),
            inner.clone().prop_map(|a| format!("nest:{{ {a} }}")),
        ]
    })
}

fn assert_fixpoint(src: &str) -> Result<(), TestCaseError> {
    if let Ok(q) = dragnet_kql::parse(src) {
        let printed = q.to_string();
        let again = dragnet_kql::parse(&printed).map_err(|e| {
            TestCaseError::fail(format!("{src:?} printed as {printed:?}, which fails: {e}"))
        })?;
        prop_assert_eq!(again.to_string(), printed.clone(), "source {:?}", src);
        prop_assert_eq!(again.root.is_some(), q.root.is_some());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,64}") {
        let _ = dragnet_kql::parse(&s);
    }

    #[test]
    fn kql_like_text_never_panics_and_reprints_to_a_fixpoint(s in kql_like()) {
        assert_fixpoint(&s)?;
    }

    #[test]
    fn generated_queries_parse_and_reprint_to_a_fixpoint(s in query()) {
        prop_assert!(dragnet_kql::parse(&s).is_ok(), "generated query does not parse: {:?}: {:?}", s, dragnet_kql::parse(&s).err());
        assert_fixpoint(&s)?;
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("{}a:1{}", "(".repeat(5000), ")".repeat(5000));
    let err = dragnet_kql::parse(&deep).unwrap_err();
    assert!(err.message.contains("nests deeper"), "{err}");
    let deep_not = format!("{}a:1", "not (".repeat(3000));
    assert!(dragnet_kql::parse(&deep_not).is_err());
}
