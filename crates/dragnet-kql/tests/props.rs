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
            // `not < 1` is the keyword `not`, not a field (the generator's own mistake).
            "[a-z]{1,4}".prop_filter("a keyword is no field", |f| !matches!(
                f.as_str(),
                "and" | "or" | "not"
            )),
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

/// Queries over two keyword fields and one text field with values from a tiny alphabet, so
/// random documents often match.
fn small_query() -> impl Strategy<Value = String> {
    let field = prop::sample::select(vec![
        "event.action",
        "event.provider",
        "user_agent.original.text",
    ]);
    let value = prop::sample::select(vec!["ab", "a*", "*b", "*a*", "ba", "\"a b\"", "b", "*"]);
    let leaf = (field, value).prop_map(|(f, v)| format!("{f}:{v}"));
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} and {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

fn small_doc() -> impl Strategy<Value = serde_json::Value> {
    let v = prop::sample::select(vec!["ab", "ba", "a", "b", "a b", "AB", "xaby"]);
    (
        prop::option::of(prop::collection::vec(v.clone(), 1..3)),
        prop::option::of(v.clone()),
        prop::option::of(v),
    )
        .prop_map(|(action, provider, ua)| {
            let mut event = serde_json::Map::new();
            if let Some(a) = action {
                event.insert("action".into(), serde_json::json!(a));
            }
            if let Some(p) = provider {
                event.insert("provider".into(), serde_json::json!(p));
            }
            let mut doc = serde_json::json!({ "event": event });
            if let Some(u) = ua {
                doc["user_agent"] = serde_json::json!({ "original": u });
            }
            doc
        })
}

fn literal_holds(doc: &serde_json::Value, lit: &dragnet_event::RequiredLiteral) -> bool {
    let source = lit.field.strip_suffix(".text").unwrap_or(&lit.field);
    let mut table = dragnet_event::FieldTable::new();
    let id = table.intern(source);
    let paths = dragnet_event::JsonPaths::bind(&table);
    let ev = dragnet_event::JsonEvent::new(doc, &paths);
    use dragnet_event::Event;
    ev.values(id).iter().any(|v| {
        let dragnet_event::OwnedScalar::Str(s) = v else {
            return false;
        };
        let (s, l) = if lit.case_sensitive {
            (s.clone(), lit.literal.clone())
        } else {
            (s.to_lowercase(), lit.literal.to_lowercase())
        };
        if lit.exact { s == l } else { s.contains(&l) }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Every document a query matches satisfies each clause of its required-literal CNF:
    /// the prefilter may only skip records that cannot match.
    #[test]
    fn required_literals_never_reject_a_match(q in small_query(), doc in small_doc()) {
        let parsed = dragnet_kql::parse(&q).unwrap();
        let mut table = dragnet_event::FieldTable::new();
        let c = dragnet_kql::compile(&parsed, dragnet_schema::Schema::builtin(), &mut table).unwrap();
        let paths = dragnet_event::JsonPaths::bind(&table);
        if c.matches(&dragnet_event::JsonEvent::new(&doc, &paths)) {
            for clause in c.required_literals() {
                prop_assert!(
                    clause.iter().any(|l| literal_holds(&doc, l)),
                    "query {} matches {} but no literal of {:?} holds", q, doc, clause
                );
            }
        }
    }
}
