//! Compilation of a parsed query against a schema into a matcher over [`Event`]s.
//!
//! Every field name is resolved once: to a [`FieldId`] in the shared [`FieldTable`] and to the
//! semantics its Elasticsearch type gives each clause (see [`Matcher`]). Boolean nodes keep
//! their children ordered cheap-first; wildcard patterns are precompiled [`Glob`]s; text values
//! are analysed once.

pub use dragnet_event::RequiredLiteral;
use dragnet_event::literals;
use std::borrow::Cow;
use std::ops::ControlFlow;

use dragnet_event::{Event, FieldId, FieldTable, OwnedScalar, Scalar};
use dragnet_schema::{DynamicPolicy, FieldDef, FieldType, Resolved, Schema};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::ast::{Expr, Literal, LiteralKind, PatternPart, Query, RangeOp, Span, ValueList};
use crate::text::{Glob, analyze, contains_phrase, es_char_len};
use crate::values::{
    IpNet, Nanos, bool_of_str, ip_of_str, number_of_str, parse_date_query, parse_date_value,
};

pub use dragnet_query::{CompileError, Explanation, QueryField};

/// A query resolved against a schema, ready to evaluate events.
#[derive(Clone, Debug)]
pub struct CompiledQuery {
    root: Node,
    dsl: Value,
    fields: Vec<QueryField>,
    unknown_fields: Vec<String>,
    below_leaf_fields: Vec<String>,
    canonical: String,
    free_text: bool,
}

#[derive(Clone, Debug)]
enum Node {
    All,
    None,
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Leaf(Box<Leaf>),
    /// `path:{…}`: the inner query must hold within one object of `path`.
    Nested {
        path: FieldId,
        name: String,
        inner: Box<Node>,
    },
    /// A value with no field: Elasticsearch's `multi_match`/`query_string` over every field
    /// (`index.query.default_field: *`, lenient).
    FreeText(Box<FreeText>),
}

#[derive(Clone, Debug)]
struct FreeText {
    value: Literal,
    /// `Some` for a range clause (`custom.* > 5`), `None` for `is`.
    range: Option<RangeOp>,
    /// For a field pattern: only the event's unmapped fields whose names match it (the
    /// mapped ones are compiled as ordinary clauses).
    fields: Option<Glob>,
    clause: String,
    schema: std::sync::Arc<Schema>,
    now: Timestamp,
}

#[derive(Clone, Debug)]
struct Leaf {
    field: FieldId,
    name: String,
    clause: String,
    matcher: FieldMatcher,
    cost: u32,
}

/// The per-type semantics of one clause on one field.
#[derive(Clone, Debug)]
enum FieldMatcher {
    Typed(Matcher),
    /// Unknown field: dynamic mapping types it from the value seen, so a matcher is prepared
    /// for each JSON kind (`Err` = Elasticsearch would reject the query on that type).
    Dynamic(Box<DynamicMatchers>),
}

#[derive(Clone, Debug)]
struct DynamicMatchers {
    string: Result<Matcher, String>,
    /// Plain-index date detection turns date-like strings into `date` fields.
    date: Option<Result<Matcher, String>>,
    long: Result<Matcher, String>,
    double: Result<Matcher, String>,
    boolean: Result<Matcher, String>,
}

#[derive(Clone, Debug)]
enum Matcher {
    Exists {
        ignore_above: Option<u32>,
    },
    KeywordEq {
        value: String,
        kw: KeywordOpts,
    },
    KeywordGlob {
        glob: Glob,
        kw: KeywordOpts,
    },
    /// `query_string` on a keyword-like field: whitespace-separated terms, any may match.
    KeywordTerms {
        terms: Vec<Glob>,
        kw: KeywordOpts,
    },
    KeywordRange {
        op: RangeOp,
        value: String,
        kw: KeywordOpts,
    },
    TextAny {
        tokens: Vec<String>,
    },
    TextPhrase {
        tokens: Vec<String>,
    },
    /// `query_string` on a text field: per term, analysed tokens or a lowercased glob per token.
    TextTerms {
        terms: Vec<TextTerm>,
    },
    TextRange {
        op: RangeOp,
        value: String,
    },
    Number {
        lo: Option<(f64, bool)>,
        hi: Option<(f64, bool)>,
    },
    Bool(bool),
    Date {
        lo: Option<(Nanos, bool)>,
        hi: Option<(Nanos, bool)>,
    },
    Ip(IpNet),
    IpRange {
        op: RangeOp,
        addr: std::net::Ipv6Addr,
    },
    /// Can never match (e.g. a type that cannot be searched).
    Never,
    /// The name is a path below a leaf field (`source.geo.location.lat` under a `geo_point`):
    /// no such field exists in Elasticsearch, mapped or dynamic, so the clause matches nothing
    /// whatever the document holds at that path.
    NoField,
    /// A `constant_keyword` with its value fixed by the mapping: every document of the index
    /// has that value, so the clause is decided once, against it.
    Constant {
        value: String,
        matched: bool,
    },
    /// Integer field types index the integral part of a number (`coerce`).
    Integer(Box<Matcher>),
}

#[derive(Clone, Copy, Debug)]
struct KeywordOpts {
    ignore_above: Option<u32>,
    lowercase: bool,
}

#[derive(Clone, Debug)]
enum TextTerm {
    Tokens(Vec<String>),
    Glob(Glob),
}

/// How a field resolved in the schema.
#[derive(Clone, Debug)]
enum FieldSem {
    Known(FieldDef),
    Unknown,
    /// `parent.sub` where `parent` is unmapped and dynamic mapping gives string values of
    /// `parent` a multi-field `sub` (ecs@mappings: `*.name` keyword + `.text`).
    UnknownSub {
        parent: String,
        sub: FieldDef,
    },
    /// A path below a leaf field ([`Resolved::BelowLeaf`]): not a field at all.
    BelowLeaf,
}

struct Compiler<'a> {
    schema: &'a Schema,
    table: &'a mut FieldTable,
    fields: Vec<QueryField>,
    unknown: Vec<String>,
    below_leaf: Vec<String>,
    now: Timestamp,
    free_text_schema: Option<std::sync::Arc<Schema>>,
}

/// Resolves `query` against `schema`, interning every field it reads in `table`.
pub fn compile(
    query: &Query,
    schema: &Schema,
    table: &mut FieldTable,
) -> Result<CompiledQuery, CompileError> {
    compile_at(query, schema, table, Timestamp::now())
}

/// [`compile`] with an explicit "now" for date math (`now-1d`).
pub fn compile_at(
    query: &Query,
    schema: &Schema,
    table: &mut FieldTable,
    now: Timestamp,
) -> Result<CompiledQuery, CompileError> {
    let mut c = Compiler {
        schema,
        table,
        fields: Vec::new(),
        unknown: Vec::new(),
        below_leaf: Vec::new(),
        now,
        free_text_schema: None,
    };
    let (root, dsl) = match &query.root {
        None => (Node::All, json!({"match_all": {}})),
        Some(e) => (c.expr(e, None)?, c.dsl(e, None)),
    };
    let root = order(simplify(root));
    Ok(CompiledQuery {
        free_text: c.free_text_schema.is_some(),
        root,
        dsl,
        fields: c.fields,
        unknown_fields: c.unknown,
        below_leaf_fields: c.below_leaf,
        canonical: query.to_string(),
    })
}

fn full_name(prefix: Option<&str>, name: &str) -> String {
    match prefix {
        Some(p) => format!("{p}.{name}"),
        None => name.to_owned(),
    }
}

impl Compiler<'_> {
    fn expr(&mut self, e: &Expr, nested: Option<&str>) -> Result<Node, CompileError> {
        Ok(match e {
            Expr::Or(items) => Node::Or(
                items
                    .iter()
                    .map(|i| self.expr(i, nested))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::And(items) => Node::And(
                items
                    .iter()
                    .map(|i| self.expr(i, nested))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Not(inner) => Node::Not(Box::new(self.expr(inner, nested)?)),
            Expr::Nested { path, query } => {
                let full = full_name(nested, &path.text());
                if let Some(leaf) = self.schema.below_leaf(&full) {
                    return Err(CompileError::new(
                        path.span,
                        format!(
                            "`{full}:{{…}}` needs a `nested` field, but `{full}` lies below the `{}` field `{}`, so it is no field at all; Elasticsearch rejects the nested query",
                            leaf.ty.es_name(),
                            leaf.name
                        ),
                    ));
                }
                match self.schema.get(&full).map(|d| d.ty) {
                    Some(FieldType::Nested) => {}
                    // Not in the schema: the rule's integration maps it (only `nested` fields
                    // accept `{…}`), so take the author's word and report it as unknown.
                    None => {
                        if !self.unknown.contains(&full) {
                            self.unknown.push(full.clone());
                        }
                    }
                    Some(t) => {
                        return Err(CompileError::new(
                            path.span,
                            format!(
                                "`{full}:{{…}}` needs a `nested` field, but `{full}` is mapped as `{}`; Elasticsearch rejects the nested query (write the fields out: `{full}.sub:value`)",
                                t.es_name()
                            ),
                        ));
                    }
                }
                let id = self.table.intern(&full);
                if !self.fields.iter().any(|f| f.name == full) {
                    self.fields.push(QueryField {
                        name: full.clone(),
                        id,
                        ty: self.schema.get(&full).map(|d| d.ty),
                    });
                }
                let inner = self.expr(query, Some(&full))?;
                Node::Nested {
                    path: id,
                    name: full,
                    inner: Box::new(inner),
                }
            }
            Expr::Range { field, op, value } => {
                let targets = self.targets(field, nested)?;
                let mut leaves = Vec::new();
                for (name, sem) in targets {
                    let clause = format!("{name} {} {value}", op.symbol());
                    let matcher = self.for_sem(&sem, &name, value.span, |c, def| {
                        c.range_matcher(def, *op, value)
                    })?;
                    leaves.push(self.leaf(&name, &sem, clause, matcher));
                }
                if let Some(node) = self.pattern_node(field, nested, Some(*op), value) {
                    leaves.push(node);
                }
                any_of(leaves)
            }
            Expr::Match { field, values } => self.values(field, values, nested)?,
            Expr::FreeText(v) => {
                let schema = self
                    .free_text_schema
                    .get_or_insert_with(|| std::sync::Arc::new(self.schema.clone()))
                    .clone();
                // Reject what Elasticsearch would reject whatever the field (a null value).
                if matches!(v.kind, LiteralKind::Null) {
                    return Err(CompileError::new(
                        v.span,
                        "`null` cannot be searched as free text; quote it (\"null\") to search the word",
                    ));
                }
                Node::FreeText(Box::new(FreeText {
                    value: v.clone(),
                    range: None,
                    fields: None,
                    clause: v.to_string(),
                    schema,
                    now: self.now,
                }))
            }
        })
    }

    fn values(
        &mut self,
        field: &Literal,
        values: &ValueList,
        nested: Option<&str>,
    ) -> Result<Node, CompileError> {
        Ok(match values {
            ValueList::Or(items) => Node::Or(
                items
                    .iter()
                    .map(|v| self.values(field, v, nested))
                    .collect::<Result<_, _>>()?,
            ),
            ValueList::And(items) => Node::And(
                items
                    .iter()
                    .map(|v| self.values(field, v, nested))
                    .collect::<Result<_, _>>()?,
            ),
            ValueList::Not(inner) => Node::Not(Box::new(self.values(field, inner, nested)?)),
            ValueList::One(value) => {
                // `*:*` is match_all (is.ts: isMatchAllQuery).
                if is_lone_star(field) && is_lone_star(value) {
                    return Ok(Node::All);
                }
                let targets = self.targets(field, nested)?;
                let mut leaves = Vec::new();
                for (name, sem) in targets {
                    let clause = format!("{}:{value}", Literal::display_name(&name));
                    let matcher =
                        self.for_sem(&sem, &name, value.span, |c, def| c.is_matcher(def, value))?;
                    leaves.push(self.leaf(&name, &sem, clause, matcher));
                }
                if let Some(node) = self.pattern_node(field, nested, None, value) {
                    leaves.push(node);
                }
                any_of(leaves)
            }
        })
    }

    /// For a field pattern: the clause over the event's unmapped fields matching it (dynamic
    /// mapping adds them to the index, so Kibana's data view expands the pattern to them).
    fn pattern_node(
        &mut self,
        field: &Literal,
        nested: Option<&str>,
        range: Option<RangeOp>,
        value: &Literal,
    ) -> Option<Node> {
        let LiteralKind::Wildcard(_) = field.kind else {
            return None;
        };
        let pattern = full_name(nested, &field.text());
        let mut parts = Vec::new();
        for (i, t) in pattern.split('*').enumerate() {
            if i > 0 {
                parts.push(PatternPart::Star);
            }
            if !t.is_empty() {
                parts.push(PatternPart::Text(t.to_owned()));
            }
        }
        let schema = self
            .free_text_schema
            .get_or_insert_with(|| std::sync::Arc::new(self.schema.clone()))
            .clone();
        let clause = match range {
            Some(op) => format!("{pattern} {} {value} (unmapped fields)", op.symbol()),
            None => format!("{pattern}:{value} (unmapped fields)"),
        };
        Some(Node::FreeText(Box::new(FreeText {
            value: value.clone(),
            range,
            fields: Some(Glob::from_parts(&parts)),
            clause,
            schema,
            now: self.now,
        })))
    }

    /// The fields a field literal stands for: itself, or the schema fields a `*` pattern
    /// matches (Kibana expands patterns against the data view's fields).
    fn targets(
        &mut self,
        field: &Literal,
        nested: Option<&str>,
    ) -> Result<Vec<(String, FieldSem)>, CompileError> {
        if let LiteralKind::Wildcard(_) = field.kind {
            let pattern = full_name(nested, &field.text());
            let found: Vec<(String, FieldSem)> = self
                .schema
                .matching(&pattern)
                .map(|d| (d.name.to_string(), FieldSem::Known(d.clone())))
                .collect();
            // No field matches: Kibana sends the pattern as a field name; nothing matches.
            return Ok(found);
        }
        if let LiteralKind::Null = field.kind {
            return Err(CompileError::new(
                field.span,
                "`null` is not a field name; quote it (\"null\") if the field is really called so",
            ));
        }
        let name = full_name(nested, &field.text());
        if self.schema.below_leaf(&name).is_some() {
            // Checked first: dynamic mapping must not type it (nor a `.text`-style sub-field).
            if !self.below_leaf.contains(&name) {
                self.below_leaf.push(name.clone());
            }
            return Ok(vec![(name, FieldSem::BelowLeaf)]);
        }
        let sem = match self.schema.get(&name) {
            Some(def) => FieldSem::Known(def.into_owned()),
            None if self.dynamic_sub(&name).is_some() => {
                let (parent, sub) = self.dynamic_sub(&name).expect("checked");
                if !self.unknown.contains(&parent) {
                    self.unknown.push(parent.clone());
                }
                FieldSem::UnknownSub { parent, sub }
            }
            None => {
                if !self.unknown.contains(&name) {
                    self.unknown.push(name.clone());
                }
                FieldSem::Unknown
            }
        };
        Ok(vec![(name, sem)])
    }

    /// For an unmapped `parent.sub`: the parent and the multi-field dynamic mapping would
    /// give string values of an unmapped `parent`.
    fn dynamic_sub(&self, name: &str) -> Option<(String, FieldDef)> {
        let (parent, sub) = name.rsplit_once('.')?;
        if self.schema.get(parent).is_some() {
            return None;
        }
        let def = self
            .schema
            .dynamic_policy()
            .type_for(parent, &Value::String("x".into()))?;
        let m = def.multi_fields.iter().find(|m| m.name == sub)?;
        let mut sub_def = FieldDef::new(name.to_owned(), m.ty, dragnet_schema::Origin::Dynamic);
        sub_def.ignore_above = m.ignore_above;
        sub_def.normalizer = m.normalizer.clone();
        Some((parent.to_owned(), sub_def))
    }

    fn leaf(&mut self, name: &str, sem: &FieldSem, clause: String, matcher: FieldMatcher) -> Node {
        // A multi-field sub-field (`user_agent.original.text`) reads its parent's values.
        let (source, ty) = match sem {
            FieldSem::Known(def) => (
                def.multi_field_of.as_deref().unwrap_or(name).to_owned(),
                Some(def.ty),
            ),
            FieldSem::Unknown | FieldSem::BelowLeaf => (name.to_owned(), None),
            FieldSem::UnknownSub { parent, sub } => (parent.clone(), Some(sub.ty)),
        };
        let id = self.table.intern(&source);
        if !self.fields.iter().any(|f| f.name == name) {
            self.fields.push(QueryField {
                name: name.to_owned(),
                id,
                ty,
            });
        }
        let cost = matcher.cost();
        Node::Leaf(Box::new(Leaf {
            field: id,
            name: name.to_owned(),
            clause,
            matcher,
            cost,
        }))
    }

    fn for_sem(
        &mut self,
        sem: &FieldSem,
        name: &str,
        span: Span,
        build: impl Fn(&Self, &FieldDef) -> Result<Matcher, String>,
    ) -> Result<FieldMatcher, CompileError> {
        match sem {
            FieldSem::BelowLeaf => Ok(FieldMatcher::Typed(Matcher::NoField)),
            FieldSem::Known(def) => build(self, def)
                .map(FieldMatcher::Typed)
                .map_err(|m| CompileError::new(span, format!("field `{name}`: {m}"))),
            FieldSem::UnknownSub { sub, .. } => {
                Ok(FieldMatcher::Dynamic(Box::new(DynamicMatchers {
                    string: build(self, sub),
                    date: None,
                    long: Ok(Matcher::Never),
                    double: Ok(Matcher::Never),
                    boolean: Ok(Matcher::Never),
                })))
            }
            FieldSem::Unknown => {
                let policy = self.schema.dynamic_policy();
                let typed = |v: Value| -> Result<Matcher, String> {
                    match policy.type_for(name, &v) {
                        Some(def) => build(self, &def),
                        None => Ok(Matcher::Never),
                    }
                };
                let date = (policy == DynamicPolicy::PlainIndex)
                    .then(|| typed(Value::String("2024-01-01T00:00:00Z".into())));
                Ok(FieldMatcher::Dynamic(Box::new(DynamicMatchers {
                    string: typed(Value::String("x".into())),
                    date,
                    long: typed(json!(1)),
                    double: typed(json!(1.5)),
                    boolean: typed(json!(true)),
                })))
            }
        }
    }

    fn is_matcher(&self, def: &FieldDef, value: &Literal) -> Result<Matcher, String> {
        is_matcher(def, value, self.now)
    }
    fn range_matcher(
        &self,
        def: &FieldDef,
        op: RangeOp,
        value: &Literal,
    ) -> Result<Matcher, String> {
        range_matcher(def, op, value, self.now)
    }

    /// The DSL Kibana builds for the query (`toElasticsearchQuery` of each node).
    fn dsl(&self, e: &Expr, nested: Option<&str>) -> Value {
        match e {
            Expr::Or(items) => json!({"bool": {
                "should": items.iter().map(|i| self.dsl(i, nested)).collect::<Vec<_>>(),
                "minimum_should_match": 1}}),
            Expr::And(items) => json!({"bool": {
                "filter": items.iter().map(|i| self.dsl(i, nested)).collect::<Vec<_>>()}}),
            Expr::Not(inner) => json!({"bool": {"must_not": self.dsl(inner, nested)}}),
            Expr::Nested { path, query } => {
                let full = full_name(nested, &path.text());
                json!({"nested": {"path": full, "query": self.dsl(query, Some(&full)), "score_mode": "none"}})
            }
            Expr::Range { field, op, value } => {
                let queries: Vec<Value> = self
                    .dsl_fields(field, nested)
                    .into_iter()
                    .map(|(name, kibana_type, _)| {
                        let v = literal_json(value);
                        let mut params = serde_json::Map::new();
                        params.insert(op.dsl_key().to_owned(), v.clone());
                        if kibana_type == "date" && !is_epoch(&v) {
                            params.insert("time_zone".into(), json!("Zulu"));
                        }
                        json!({"range": {name: params}})
                    })
                    .collect();
                json!({"bool": {"should": queries, "minimum_should_match": 1}})
            }
            Expr::Match { field, values } => self.dsl_values(field, values, nested),
            Expr::FreeText(v) => {
                if let LiteralKind::Wildcard(_) = v.kind {
                    json!({"query_string": {"query": query_string_escape(v)}})
                } else {
                    let ty = if v.is_quoted() {
                        "phrase"
                    } else {
                        "best_fields"
                    };
                    json!({"multi_match": {"type": ty, "query": literal_json(v), "lenient": true}})
                }
            }
        }
    }

    fn dsl_values(&self, field: &Literal, values: &ValueList, nested: Option<&str>) -> Value {
        match values {
            ValueList::Or(items) => json!({"bool": {
                "should": items.iter().map(|v| self.dsl_values(field, v, nested)).collect::<Vec<_>>(),
                "minimum_should_match": 1}}),
            ValueList::And(items) => json!({"bool": {
                "filter": items.iter().map(|v| self.dsl_values(field, v, nested)).collect::<Vec<_>>()}}),
            ValueList::Not(inner) => {
                json!({"bool": {"must_not": self.dsl_values(field, inner, nested)}})
            }
            ValueList::One(value) => {
                if is_lone_star(field) && is_lone_star(value) {
                    return json!({"match_all": {}});
                }
                let queries: Vec<Value> = self
                    .dsl_fields(field, nested)
                    .into_iter()
                    .map(|(name, kibana_type, es_keyword)| {
                        if is_lone_star(value) {
                            return json!({"exists": {"field": name}});
                        }
                        if let LiteralKind::Wildcard(_) = value.kind {
                            let q = query_string_escape(value);
                            return if es_keyword {
                                json!({"wildcard": {name: {"value": q}}})
                            } else {
                                json!({"query_string": {"fields": [name], "query": q}})
                            };
                        }
                        let v = literal_json(value);
                        if kibana_type == "date" {
                            let mut params = serde_json::Map::new();
                            params.insert("gte".into(), v.clone());
                            params.insert("lte".into(), v.clone());
                            if !is_epoch(&v) {
                                params.insert("time_zone".into(), json!("Zulu"));
                            }
                            return json!({"range": {name: params}});
                        }
                        if es_keyword {
                            return json!({"term": {name: {"value": v}}});
                        }
                        let kind = if value.is_quoted() {
                            "match_phrase"
                        } else {
                            "match"
                        };
                        json!({kind: {name: v}})
                    })
                    .collect();
                json!({"bool": {"should": queries, "minimum_should_match": 1}})
            }
        }
    }

    /// (name, Kibana field type, `esTypes == ['keyword']`) for each field the literal names,
    /// as the data view would list them; unknown names pass through with type ''.
    fn dsl_fields(
        &self,
        field: &Literal,
        nested: Option<&str>,
    ) -> Vec<(String, &'static str, bool)> {
        let describe = |d: &FieldDef| -> (String, &'static str, bool) {
            let kibana_type = if d.ty.is_date() { "date" } else { "" };
            (d.name.to_string(), kibana_type, d.ty == FieldType::Keyword)
        };
        let name = full_name(nested, &field.text());
        if let LiteralKind::Wildcard(_) = field.kind {
            let found: Vec<_> = self.schema.matching(&name).map(describe).collect();
            if !found.is_empty() {
                return found;
            }
            return vec![(name, "", false)];
        }
        match self.schema.resolve(&name) {
            // A data view lists mapped fields; flattened leaves and unknown names pass through.
            Resolved::Known(d) => vec![describe(d)],
            Resolved::ObjectLeaf { ty, .. } => {
                vec![(
                    name,
                    if ty.is_date() { "date" } else { "" },
                    ty == FieldType::Keyword,
                )]
            }
            _ => vec![(name, "", false)],
        }
    }
}

/// `field:value` (Kibana's `is` function) on a field of type `def`.
fn is_matcher(def: &FieldDef, value: &Literal, now: Timestamp) -> Result<Matcher, String> {
    constant_or(def, is_matcher_typed(def, value, now))
}

fn range_matcher(
    def: &FieldDef,
    op: RangeOp,
    value: &Literal,
    now: Timestamp,
) -> Result<Matcher, String> {
    constant_or(def, range_matcher_typed(def, op, value, now))
}

fn range_matcher_typed(
    def: &FieldDef,
    op: RangeOp,
    value: &Literal,
    now: Timestamp,
) -> Result<Matcher, String> {
    let ty = def.ty;
    if !def.is_searchable() {
        return Ok(Matcher::Never);
    }
    if matches!(value.kind, LiteralKind::Null) {
        return Err("`null` is not a range bound".into());
    }
    let text = value.text();
    let kw = KeywordOpts {
        ignore_above: def.ignore_above,
        lowercase: def.normalizer.as_deref() == Some("lowercase"),
    };
    if keyword_like(ty) {
        let value = if kw.lowercase {
            text.to_lowercase()
        } else {
            text
        };
        return Ok(Matcher::KeywordRange { op, value, kw });
    }
    if ty.is_text_family() {
        return Ok(Matcher::TextRange {
            op,
            value: text.to_lowercase(),
        });
    }
    if ty.is_numeric() {
        let n = literal_number(value).ok_or_else(|| {
            format!(
                "`{text}` is not a number, but the field is `{}`",
                ty.es_name()
            )
        })?;
        let (lo, hi) = bounds(op, n);
        return Ok(Matcher::Number { lo, hi });
    }
    match ty {
        FieldType::Date | FieldType::DateNanos => {
            // Elasticsearch rounds gt/lte bounds up, gte/lt bounds down.
            let round_up = matches!(op, RangeOp::Gt | RangeOp::Lte);
            let t = parse_date_query(&text, now, round_up).ok_or_else(|| {
                    format!("`{text}` is not a date (strict_date_optional_time, epoch_millis or date math such as now-1d/d)")
                })?;
            let (lo, hi) = bounds(op, t);
            Ok(Matcher::Date { lo, hi })
        }
        FieldType::Ip => {
            let addr = ip_of_str(&text)
                .ok_or_else(|| format!("`{text}` is not an IP address, but the field is `ip`"))?;
            Ok(Matcher::IpRange { op, addr })
        }
        FieldType::Boolean => {
            let b = bool_of_str(&text).ok_or_else(|| format!("`{text}` is not a boolean"))?;
            let (lo, hi) = bounds(op, if b { 1.0 } else { 0.0 });
            Ok(Matcher::Number { lo, hi })
        }
        other => Err(format!(
            "dragnet cannot evaluate ranges on `{}` fields",
            other.es_name()
        )),
    }
}

/// Folds a clause on a `constant_keyword` with a mapped value into its outcome.
fn constant_or(def: &FieldDef, m: Result<Matcher, String>) -> Result<Matcher, String> {
    let m = m?;
    let m = if is_integer(def.ty) && matches!(m, Matcher::Number { .. }) {
        Matcher::Integer(Box::new(m))
    } else {
        m
    };
    match (&def.constant_value, def.ty) {
        (Some(value), FieldType::ConstantKeyword) => Ok(Matcher::Constant {
            matched: m.test(Scalar::Str(value)),
            value: value.to_string(),
        }),
        _ => Ok(m),
    }
}

fn is_integer(ty: FieldType) -> bool {
    matches!(
        ty,
        FieldType::Long
            | FieldType::Integer
            | FieldType::Short
            | FieldType::Byte
            | FieldType::UnsignedLong
    )
}

fn is_matcher_typed(def: &FieldDef, value: &Literal, now: Timestamp) -> Result<Matcher, String> {
    let ty = def.ty;
    let kw = KeywordOpts {
        ignore_above: def.ignore_above,
        lowercase: def.normalizer.as_deref() == Some("lowercase"),
    };
    if let LiteralKind::Wildcard(p) = &value.kind
        && p.is_lone_star()
    {
        return Ok(Matcher::Exists {
            ignore_above: keyword_like(ty).then_some(def.ignore_above).flatten(),
        });
    }
    if !def.is_searchable() {
        return Ok(Matcher::Never);
    }
    if matches!(value.kind, LiteralKind::Null) {
        return Err("`null` cannot be searched (Elasticsearch rejects a null term); use `not field:*` for a missing field".into());
    }
    let kibana_keyword = ty == FieldType::Keyword && def.flattened_root.is_none();
    if let LiteralKind::Wildcard(p) = &value.kind {
        if kibana_keyword {
            // is.ts: `wildcard` query, case-sensitive: the detection engine's EsQueryConfig
            // (get_query_filter.ts) sets no `caseInsensitive`.
            let glob = Glob::new(&lowercase_if(p, kw.lowercase));
            return Ok(Matcher::KeywordGlob { glob, kw });
        }
        // query_string: the text is split on whitespace into terms, any of which may match.
        let terms = split_terms(&p.parts);
        if keyword_like(ty) {
            return Ok(Matcher::KeywordTerms {
                terms: terms
                    .iter()
                    .map(|t| Glob::from_parts(&lowercase_parts(t, kw.lowercase)))
                    .collect(),
                kw,
            });
        }
        if ty.is_text_family() {
            let terms = terms
                .iter()
                .map(|t| {
                    if t.contains(&PatternPart::Star) {
                        TextTerm::Glob(Glob::from_parts(&lowercase_parts(t, true)))
                    } else {
                        let text: String = t.iter().map(|p| p.to_string()).collect();
                        TextTerm::Tokens(analyze(&text))
                    }
                })
                .collect();
            return Ok(Matcher::TextTerms { terms });
        }
        return Err(format!(
            "a wildcard value needs a keyword or text field, but this field is `{}` (Elasticsearch: \"Can only use wildcard queries on keyword and text fields\")",
            ty.es_name()
        ));
    }
    let text = value.text();
    if keyword_like(ty) {
        let value = if kw.lowercase {
            text.to_lowercase()
        } else {
            text
        };
        return Ok(Matcher::KeywordEq { value, kw });
    }
    if ty.is_text_family() {
        let tokens = analyze(&text);
        return Ok(if value.is_quoted() {
            Matcher::TextPhrase { tokens }
        } else {
            Matcher::TextAny { tokens }
        });
    }
    if ty.is_numeric() {
        let n = literal_number(value).ok_or_else(|| {
            format!(
                "`{text}` is not a number, but the field is `{}` (Elasticsearch fails the query)",
                ty.es_name()
            )
        })?;
        return Ok(Matcher::Number {
            lo: Some((n, true)),
            hi: Some((n, true)),
        });
    }
    match ty {
        FieldType::Boolean => {
            let b = match &value.kind {
                LiteralKind::Bool(b) => *b,
                _ => bool_of_str(&text)
                    .filter(|_| !text.is_empty())
                    .ok_or_else(|| {
                        format!(
                            "`{text}` is not a boolean (true/false), but the field is `boolean`"
                        )
                    })?,
            };
            Ok(Matcher::Bool(b))
        }
        FieldType::Date | FieldType::DateNanos => {
            // is.ts: an exact date becomes range gte/lte (rounded down / up).
            let lo = parse_date_query(&text, now, false);
            let hi = parse_date_query(&text, now, true);
            match (lo, hi) {
                (Some(lo), Some(hi)) => Ok(Matcher::Date {
                    lo: Some((lo, true)),
                    hi: Some((hi, true)),
                }),
                _ => Err(format!(
                    "`{text}` is not a date (strict_date_optional_time, epoch_millis or date math such as now-1d/d)"
                )),
            }
        }
        FieldType::Ip => IpNet::parse(&text).map(Matcher::Ip).ok_or_else(|| {
            format!("`{text}` is not an IP address or CIDR block, but the field is `ip`")
        }),
        FieldType::Object | FieldType::Nested => Ok(Matcher::Never),
        other => Err(format!(
            "dragnet cannot evaluate `{}` fields",
            other.es_name()
        )),
    }
}

impl Literal {
    /// A field name as KQL would print it (for explanations).
    fn display_name(name: &str) -> String {
        Literal {
            kind: LiteralKind::Unquoted(name.to_owned()),
            span: Span::default(),
        }
        .to_string()
    }
}

fn is_lone_star(l: &Literal) -> bool {
    matches!(&l.kind, LiteralKind::Wildcard(p) if p.is_lone_star())
}

fn keyword_like(ty: FieldType) -> bool {
    ty.is_keyword_family() || matches!(ty, FieldType::Flattened | FieldType::Version)
}

fn literal_number(v: &Literal) -> Option<f64> {
    match &v.kind {
        LiteralKind::Quoted(s) | LiteralKind::Unquoted(s) => number_of_str(s),
        _ => None,
    }
}

/// A bound of a range: the value and whether it is included.
type Bound<T> = Option<(T, bool)>;

fn bounds<T: Copy>(op: RangeOp, v: T) -> (Bound<T>, Bound<T>) {
    match op {
        RangeOp::Gt => (Some((v, false)), None),
        RangeOp::Gte => (Some((v, true)), None),
        RangeOp::Lt => (None, Some((v, false))),
        RangeOp::Lte => (None, Some((v, true))),
    }
}

fn literal_json(v: &Literal) -> Value {
    match &v.kind {
        LiteralKind::Quoted(s) | LiteralKind::Unquoted(s) => Value::String(s.clone()),
        LiteralKind::Wildcard(_) => Value::String(v.text()),
        LiteralKind::Bool(b) => Value::Bool(*b),
        LiteralKind::Null => Value::Null,
    }
}

fn is_epoch(v: &Value) -> bool {
    match v {
        Value::Number(_) => true,
        Value::String(s) => !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

/// Kibana's `wildcard.toQueryStringQuery`: query_string specials escaped, `*` kept.
pub(crate) fn query_string_escape(v: &Literal) -> String {
    let mut out = String::new();
    let escape = |s: &str, out: &mut String| {
        for c in s.chars() {
            if "+-=&|><!(){}[]^\"~*?:\\/".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
    };
    match &v.kind {
        LiteralKind::Wildcard(p) => {
            for part in &p.parts {
                match part {
                    PatternPart::Star => out.push('*'),
                    PatternPart::Text(t) => escape(t, &mut out),
                }
            }
        }
        _ => escape(&v.text(), &mut out),
    }
    out
}

fn lowercase_if(p: &crate::ast::Pattern, lower: bool) -> crate::ast::Pattern {
    crate::ast::Pattern {
        parts: lowercase_parts(&p.parts, lower),
    }
}

fn lowercase_parts(parts: &[PatternPart], lower: bool) -> Vec<PatternPart> {
    parts
        .iter()
        .map(|p| match p {
            PatternPart::Text(t) if lower => PatternPart::Text(t.to_lowercase()),
            other => other.clone(),
        })
        .collect()
}

/// Splits a pattern on whitespace the way the query_string parser separates terms (Kibana
/// does not escape spaces).
fn split_terms(parts: &[PatternPart]) -> Vec<Vec<PatternPart>> {
    let mut terms: Vec<Vec<PatternPart>> = vec![Vec::new()];
    for part in parts {
        match part {
            PatternPart::Star => terms.last_mut().expect("non-empty").push(PatternPart::Star),
            PatternPart::Text(t) => {
                let mut first = true;
                for piece in t.split(char::is_whitespace) {
                    if !first {
                        terms.push(Vec::new());
                    }
                    first = false;
                    if !piece.is_empty() {
                        terms
                            .last_mut()
                            .expect("non-empty")
                            .push(PatternPart::Text(piece.to_owned()));
                    }
                }
            }
        }
    }
    terms.retain(|t| !t.is_empty());
    terms
}

fn any_of(mut leaves: Vec<Node>) -> Node {
    match leaves.len() {
        0 => Node::None,
        1 => leaves.pop().expect("one"),
        _ => Node::Or(leaves),
    }
}

/// Flattens nested and/or of the same kind and folds constants.
fn simplify(n: Node) -> Node {
    match n {
        Node::And(items) => {
            let mut out = Vec::new();
            for i in items.into_iter().map(simplify) {
                match i {
                    Node::All => {}
                    Node::None => return Node::None,
                    Node::And(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            match out.len() {
                0 => Node::All,
                1 => out.pop().expect("one"),
                _ => Node::And(out),
            }
        }
        Node::Or(items) => {
            let mut out = Vec::new();
            for i in items.into_iter().map(simplify) {
                match i {
                    Node::None => {}
                    Node::All => return Node::All,
                    Node::Or(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            match out.len() {
                0 => Node::None,
                1 => out.pop().expect("one"),
                _ => Node::Or(out),
            }
        }
        Node::Not(inner) => match simplify(*inner) {
            Node::All => Node::None,
            Node::None => Node::All,
            other => Node::Not(Box::new(other)),
        },
        Node::Nested { path, name, inner } => Node::Nested {
            path,
            name,
            inner: Box::new(simplify(*inner)),
        },
        other => other,
    }
}

/// Orders and/or children cheapest first (evaluation short-circuits).
fn order(n: Node) -> Node {
    match n {
        Node::And(items) => {
            let mut items: Vec<Node> = items.into_iter().map(order).collect();
            items.sort_by_key(Node::cost);
            Node::And(items)
        }
        Node::Or(items) => {
            let mut items: Vec<Node> = items.into_iter().map(order).collect();
            items.sort_by_key(Node::cost);
            Node::Or(items)
        }
        Node::Not(inner) => Node::Not(Box::new(order(*inner))),
        Node::Nested { path, name, inner } => Node::Nested {
            path,
            name,
            inner: Box::new(order(*inner)),
        },
        other => other,
    }
}

impl Node {
    fn cost(&self) -> u32 {
        match self {
            Node::All | Node::None => 0,
            Node::Leaf(l) => l.cost,
            Node::Not(i) => i.cost() + 1,
            Node::Nested { inner, .. } => inner.cost().saturating_add(20),
            Node::FreeText(_) => 1000,
            Node::And(items) | Node::Or(items) => {
                items.iter().map(Node::cost).fold(0u32, u32::saturating_add)
            }
        }
    }
}

impl FieldMatcher {
    fn cost(&self) -> u32 {
        match self {
            FieldMatcher::Typed(m) => m.cost(),
            FieldMatcher::Dynamic(_) => 40,
        }
    }
}

impl Matcher {
    fn cost(&self) -> u32 {
        match self {
            Matcher::Never | Matcher::NoField | Matcher::Constant { .. } => 0,
            Matcher::Integer(m) => m.cost(),
            Matcher::Exists { .. } => 2,
            Matcher::KeywordEq { .. } | Matcher::Bool(_) => 3,
            Matcher::Number { .. } | Matcher::Ip(_) | Matcher::IpRange { .. } => 4,
            Matcher::KeywordRange { .. } | Matcher::Date { .. } => 6,
            Matcher::KeywordGlob { glob, .. } => 8 + glob.piece_count() as u32,
            Matcher::KeywordTerms { terms, .. } => 10 + 3 * terms.len() as u32,
            Matcher::TextAny { .. }
            | Matcher::TextPhrase { .. }
            | Matcher::TextTerms { .. }
            | Matcher::TextRange { .. } => 30,
        }
    }

    /// Whether one indexed value satisfies the clause.
    fn test(&self, v: Scalar<'_>) -> bool {
        match self {
            Matcher::Never | Matcher::NoField => false,
            Matcher::Constant { matched, .. } => *matched,
            Matcher::Integer(m) => match v {
                Scalar::Float(f) => m.test(Scalar::Float(f.trunc())),
                Scalar::Str(s) => {
                    number_of_str(s).is_some_and(|f| m.test(Scalar::Float(f.trunc())))
                }
                other => m.test(other),
            },
            // A keyword value over ignore_above is neither indexed nor in doc values, so
            // `exists` does not see it (elastic/elasticsearch#24256).
            Matcher::Exists { ignore_above } => keyword_indexed(v, *ignore_above).is_some(),
            Matcher::KeywordEq { value, kw } => {
                keyword_value(v, *kw).is_some_and(|s| s == value.as_str())
            }
            Matcher::KeywordGlob { glob, kw } => {
                keyword_value(v, *kw).is_some_and(|s| glob.matches(&s))
            }
            Matcher::KeywordTerms { terms, kw } => {
                keyword_value(v, *kw).is_some_and(|s| terms.iter().any(|g| g.matches(&s)))
            }
            Matcher::KeywordRange { op, value, kw } => {
                keyword_value(v, *kw).is_some_and(|s| compare(*op, s.as_ref(), value.as_str()))
            }
            Matcher::TextAny { tokens } => {
                let doc = analyze(&v.to_keyword());
                tokens.iter().any(|t| doc.contains(t))
            }
            Matcher::TextPhrase { tokens } => contains_phrase(&analyze(&v.to_keyword()), tokens),
            Matcher::TextTerms { terms } => {
                let doc = analyze(&v.to_keyword());
                terms.iter().any(|t| match t {
                    TextTerm::Tokens(ts) => ts.iter().any(|t| doc.contains(t)),
                    TextTerm::Glob(g) => doc.iter().any(|d| g.matches(d)),
                })
            }
            Matcher::TextRange { op, value } => analyze(&v.to_keyword())
                .iter()
                .any(|t| compare(*op, t.as_str(), value.as_str())),
            Matcher::Number { lo, hi } => scalar_number(v).is_some_and(|n| in_bounds(n, *lo, *hi)),
            Matcher::Bool(b) => scalar_bool(v) == Some(*b),
            Matcher::Date { lo, hi } => scalar_date(v).is_some_and(|t| in_bounds(t, *lo, *hi)),
            Matcher::Ip(net) => scalar_ip(v).is_some_and(|ip| net.contains(ip)),
            Matcher::IpRange { op, addr } => {
                scalar_ip(v).is_some_and(|ip| compare(*op, &u128::from(ip), &u128::from(*addr)))
            }
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Matcher::Never => "cannot match on this field",
            Matcher::NoField => {
                "not a field: the path lies below a leaf field, which Elasticsearch never maps"
            }
            Matcher::Constant { .. } => "constant_keyword: decided by the mapping's value",
            Matcher::Integer(_) => "numeric (integer type: fractions truncated)",
            Matcher::Exists { .. } => "exists",
            Matcher::KeywordEq { .. } => "keyword: whole value, case-sensitive",
            Matcher::KeywordGlob { .. } => "keyword wildcard: whole value, case-sensitive",
            Matcher::KeywordTerms { .. } => {
                "query_string: any whitespace-separated term, whole value"
            }
            Matcher::KeywordRange { .. } => "keyword range: byte order",
            Matcher::TextAny { .. } => "text match: any analysed token",
            Matcher::TextPhrase { .. } => "text match_phrase: tokens in order",
            Matcher::TextTerms { .. } => "text query_string: any term, per token",
            Matcher::TextRange { .. } => "text range: per token",
            Matcher::Number { .. } => "numeric",
            Matcher::Bool(_) => "boolean",
            Matcher::Date { .. } => "date (UTC)",
            Matcher::Ip(_) => "ip/CIDR",
            Matcher::IpRange { .. } => "ip range",
        }
    }
}

fn compare<T: PartialOrd + ?Sized>(op: RangeOp, a: &T, b: &T) -> bool {
    match op {
        RangeOp::Lt => a < b,
        RangeOp::Lte => a <= b,
        RangeOp::Gt => a > b,
        RangeOp::Gte => a >= b,
    }
}

fn in_bounds<T: PartialOrd>(v: T, lo: Option<(T, bool)>, hi: Option<(T, bool)>) -> bool {
    lo.is_none_or(|(l, inc)| if inc { v >= l } else { v > l })
        && hi.is_none_or(|(h, inc)| if inc { v <= h } else { v < h })
}

/// The term a keyword-like field indexes for a value, unless `ignore_above` drops it.
fn keyword_indexed(v: Scalar<'_>, ignore_above: Option<u32>) -> Option<Cow<'_, str>> {
    let s = match v {
        Scalar::Str(s) => Cow::Borrowed(s),
        Scalar::Int(i) => Cow::Owned(i.to_string()),
        Scalar::Float(f) => Cow::Owned(f.to_string()),
        Scalar::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
    };
    match ignore_above {
        // UTF-16 units never exceed UTF-8 bytes: short values skip the count.
        Some(limit) if s.len() > limit as usize && es_char_len(&s) > limit as usize => None,
        _ => Some(s),
    }
}

fn keyword_value(v: Scalar<'_>, kw: KeywordOpts) -> Option<Cow<'_, str>> {
    let s = keyword_indexed(v, kw.ignore_above)?;
    Some(if kw.lowercase {
        Cow::Owned(s.to_lowercase())
    } else {
        s
    })
}

fn scalar_number(v: Scalar<'_>) -> Option<f64> {
    match v {
        Scalar::Int(i) => Some(i as f64),
        Scalar::Float(f) => Some(f),
        Scalar::Str(s) => number_of_str(s),
        Scalar::Bool(_) => None,
    }
}

fn scalar_bool(v: Scalar<'_>) -> Option<bool> {
    match v {
        Scalar::Bool(b) => Some(b),
        Scalar::Str(s) => bool_of_str(s),
        _ => None,
    }
}

fn scalar_date(v: Scalar<'_>) -> Option<Nanos> {
    match v {
        Scalar::Str(s) => parse_date_value(s, false),
        Scalar::Int(ms) => Some(i128::from(ms) * 1_000_000),
        Scalar::Float(ms) => Some((ms * 1e6) as i128),
        Scalar::Bool(_) => None,
    }
}

fn scalar_ip(v: Scalar<'_>) -> Option<std::net::Ipv6Addr> {
    match v {
        Scalar::Str(s) => ip_of_str(s),
        _ => None,
    }
}

impl FreeText {
    /// One value of one field, typed as the schema (or dynamic mapping) types that field;
    /// type errors do not match (multi_match is lenient; query_string over `*` is too).
    fn test(&self, name: &str, v: Scalar<'_>) -> bool {
        if let Some(glob) = &self.fields
            && !glob.matches(name)
        {
            return false;
        }
        let def = match self.schema.get(name) {
            // A pattern's mapped fields are compiled as ordinary clauses.
            Some(_) if self.fields.is_some() => return false,
            Some(d) => d,
            // A key inside a leaf's value (`lat` of a `geo_point` object) is part of that
            // value, not a field of its own: neither searched as free text nor matched by a
            // pattern.
            None if self.schema.below_leaf(name).is_some() => return false,
            None => {
                let json = match v {
                    Scalar::Str(s) => Value::String(s.to_owned()),
                    Scalar::Int(i) => json!(i),
                    Scalar::Float(f) => json!(f),
                    Scalar::Bool(b) => json!(b),
                };
                match self.schema.dynamic_policy().type_for(name, &json) {
                    Some(d) => Cow::Owned(d),
                    None => return false,
                }
            }
        };
        if let Some(op) = self.range {
            return range_matcher(&def, op, &self.value, self.now).is_ok_and(|m| m.test(v));
        }
        if let LiteralKind::Wildcard(p) = &self.value.kind
            && p.is_lone_star()
        {
            // query_string `*` over all fields (or exists on each): any value.
            return true;
        }
        is_matcher(&def, &self.value, self.now).is_ok_and(|m| m.test(v))
    }

    fn matches(&self, event: &dyn Event) -> bool {
        event
            .visit_fields(&mut |name, v| {
                if self.test(name, v) {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .is_some_and(|r| r.is_break())
    }
}

impl DynamicMatchers {
    fn for_value(&self, v: Scalar<'_>) -> Option<&Matcher> {
        let m = match v {
            Scalar::Str(s) => match &self.date {
                Some(date) if dragnet_schema::is_dynamic_date(s) => date,
                _ => &self.string,
            },
            Scalar::Int(_) => &self.long,
            Scalar::Float(_) => &self.double,
            Scalar::Bool(_) => &self.boolean,
        };
        m.as_ref().ok()
    }
}

impl Leaf {
    fn test_value(&self, v: Scalar<'_>) -> bool {
        match &self.matcher {
            FieldMatcher::Typed(m) => m.test(v),
            FieldMatcher::Dynamic(d) => d.for_value(v).is_some_and(|m| m.test(v)),
        }
    }

    fn matches(&self, event: &dyn Event) -> bool {
        if let FieldMatcher::Typed(Matcher::Constant { matched, .. }) = &self.matcher {
            return *matched;
        }
        event.any(self.field, &mut |v| self.test_value(v))
    }

    /// The `ignore_above` of the keyword-like field this clause compares, if any.
    fn ignore_above(&self) -> Option<u32> {
        let m = match &self.matcher {
            FieldMatcher::Typed(m) => m,
            FieldMatcher::Dynamic(d) => d.string.as_ref().ok()?,
        };
        match m {
            Matcher::Exists { ignore_above } => *ignore_above,
            Matcher::KeywordEq { kw, .. }
            | Matcher::KeywordGlob { kw, .. }
            | Matcher::KeywordTerms { kw, .. }
            | Matcher::KeywordRange { kw, .. } => kw.ignore_above,
            _ => None,
        }
    }

    fn how(&self) -> String {
        match &self.matcher {
            FieldMatcher::Typed(m) => m.describe().to_owned(),
            FieldMatcher::Dynamic(d) => format!(
                "unmapped field, typed by dynamic mapping: strings {}",
                d.string.as_ref().map_or("cannot match", |m| m.describe())
            ),
        }
    }
}

impl Node {
    fn matches(&self, event: &dyn Event) -> bool {
        match self {
            Node::All => true,
            Node::None => false,
            Node::And(items) => items.iter().all(|i| i.matches(event)),
            Node::Or(items) => items.iter().any(|i| i.matches(event)),
            Node::Not(inner) => !inner.matches(event),
            Node::Leaf(leaf) => leaf.matches(event),
            Node::Nested { path, inner, .. } => {
                let mut f = |e: &dyn Event| {
                    if inner.matches(e) {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                };
                match event.visit_nested(*path, &mut f) {
                    Some(r) => r.is_break(),
                    None => inner.matches(event),
                }
            }
            Node::FreeText(ft) => ft.matches(event),
        }
    }

    fn explain(&self, event: &dyn Event) -> Explanation {
        let boolean = |clause: &str, matched: bool, children: Vec<Explanation>| Explanation {
            matched,
            clause: clause.to_owned(),
            values: Vec::new(),
            how: String::new(),
            children,
        };
        match self {
            Node::All => boolean("(match all)", true, Vec::new()),
            Node::None => boolean("(no field matches the field pattern)", false, Vec::new()),
            Node::And(items) => {
                let mut children = Vec::new();
                for i in items {
                    let e = i.explain(event);
                    let failed = !e.matched;
                    children.push(e);
                    if failed {
                        return boolean("and", false, vec![children.pop().expect("pushed")]);
                    }
                }
                boolean("and", true, children)
            }
            Node::Or(items) => {
                let mut children = Vec::new();
                for i in items {
                    let e = i.explain(event);
                    if e.matched {
                        return boolean("or", true, vec![e]);
                    }
                    children.push(e);
                }
                boolean("or", false, children)
            }
            Node::Not(inner) => {
                let e = inner.explain(event);
                boolean("not", !e.matched, vec![e])
            }
            Node::Nested { path, name, inner } => {
                let mut children = Vec::new();
                let mut matched = false;
                let mut f = |e: &dyn Event| {
                    let x = inner.explain(e);
                    let hit = x.matched;
                    if hit || children.is_empty() {
                        children.clear();
                        children.push(x);
                    }
                    if hit {
                        matched = true;
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                };
                if event.visit_nested(*path, &mut f).is_none() {
                    let x = inner.explain(event);
                    matched = x.matched;
                    children = vec![x];
                }
                boolean(
                    &format!("{name}:{{…}} (one object must satisfy all)"),
                    matched,
                    children,
                )
            }
            Node::FreeText(ft) => {
                let mut hits = Vec::new();
                let enumerated = event.visit_fields(&mut |name, v| {
                    if ft.test(name, v) {
                        hits.push(OwnedScalar::from(v));
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                });
                Explanation {
                    matched: !hits.is_empty(),
                    clause: ft.clause.clone(),
                    values: hits,
                    how: if enumerated.is_some() {
                        "free text: any field, typed by the schema (lenient)".into()
                    } else {
                        "free text: this source cannot list its fields, so nothing matches".into()
                    },
                    children: Vec::new(),
                }
            }
            Node::Leaf(leaf) => {
                let matched = leaf.matches(event);
                let values = match &leaf.matcher {
                    FieldMatcher::Typed(Matcher::Constant { value, .. }) => {
                        vec![OwnedScalar::Str(value.clone())]
                    }
                    // What the document holds there is part of another field's value.
                    FieldMatcher::Typed(Matcher::NoField) => Vec::new(),
                    _ => event.values(leaf.field),
                };
                let mut how = leaf.how();
                // A value longer than the field's ignore_above is not indexed: say so, or a
                // NO MATCH on a value that visibly fits the clause reads as a bug.
                if !matched && let Some(limit) = leaf.ignore_above() {
                    let over = values
                        .iter()
                        .filter(|v| match v {
                            OwnedScalar::Str(s) => {
                                keyword_indexed(Scalar::Str(s), Some(limit)).is_none()
                            }
                            _ => false,
                        })
                        .count();
                    if over > 0 {
                        how.push_str(&format!(
                            "; {over} value(s) not indexed: longer than the field's ignore_above {limit}"
                        ));
                    }
                }
                Explanation {
                    matched,
                    clause: leaf.clause.clone(),
                    values,
                    how,
                    children: Vec::new(),
                }
            }
        }
    }

    /// CNF of literals every match must contain; empty = no sound facts.
    fn required(&self) -> Vec<Vec<RequiredLiteral>> {
        match self {
            Node::All | Node::None | Node::Not(_) | Node::FreeText(_) => Vec::new(),
            Node::Nested { inner, .. } => inner.required(),
            Node::And(items) => literals::all_of(items.iter().map(Node::required)),
            Node::Or(items) => literals::any_of(items.iter().map(Node::required)),
            Node::Leaf(leaf) => leaf.required(),
        }
    }
}

impl Leaf {
    fn required(&self) -> Vec<Vec<RequiredLiteral>> {
        let FieldMatcher::Typed(m) = &self.matcher else {
            return Vec::new();
        };
        let lit =
            |literal: &str, exact: bool, prefix: bool, case_sensitive: bool| RequiredLiteral {
                field: self.name.clone(),
                literal: literal.to_owned(),
                exact,
                prefix,
                case_sensitive,
            };
        match m {
            Matcher::KeywordEq { value, kw } if !value.is_empty() => {
                vec![vec![lit(value, true, false, !kw.lowercase)]]
            }
            // The first piece is the text before the first `*`: the whole value starts with it
            // (`Glob::matches`; lowercased values when the field has a lowercase normalizer).
            Matcher::KeywordGlob { glob, kw } => glob
                .pieces()
                .into_iter()
                .enumerate()
                .filter(|(_, p)| !p.is_empty())
                .map(|(i, p)| vec![lit(p, false, i == 0, !kw.lowercase)])
                .collect(),
            // `query_string` terms (wildcards on flattened sub-fields): any term may match the
            // whole value, so a clause of one piece per term, the longest (the most selective
            // for a prefilter); a term without text (`*`) gives no fact.
            Matcher::KeywordTerms { terms, kw } => {
                let mut clause = Vec::with_capacity(terms.len());
                for glob in terms {
                    let pieces = glob.pieces();
                    let Some((i, piece)) = pieces
                        .iter()
                        .enumerate()
                        .filter(|(_, p)| !p.is_empty())
                        .max_by_key(|(i, p)| (p.len(), std::cmp::Reverse(*i)))
                    else {
                        return Vec::new();
                    };
                    clause.push(lit(piece, false, i == 0, !kw.lowercase));
                }
                if clause.is_empty() {
                    Vec::new()
                } else {
                    vec![clause]
                }
            }
            Matcher::TextAny { tokens } if !tokens.is_empty() => {
                vec![tokens.iter().map(|t| lit(t, false, false, false)).collect()]
            }
            Matcher::TextPhrase { tokens } => tokens
                .iter()
                .map(|t| vec![lit(t, false, false, false)])
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl CompiledQuery {
    /// Whether the event matches, as Elasticsearch would decide for the generated query.
    pub fn matches(&self, event: &dyn Event) -> bool {
        self.root.matches(event)
    }

    /// Which clauses decided the outcome, with the values they saw.
    pub fn explain(&self, event: &dyn Event) -> Explanation {
        self.root.explain(event)
    }

    /// Literals every matching event must contain, in conjunctive normal form: each inner list
    /// is a disjunction one of whose literals holds. Only sound facts: nothing from `not`
    /// clauses, nothing from an `or` with a branch that has no literal.
    pub fn required_literals(&self) -> Vec<Vec<RequiredLiteral>> {
        self.root.required()
    }

    /// The Elasticsearch Query DSL Kibana's detection engine generates for this KQL
    /// (`toElasticsearchQuery` with the schema as the data view; see notes B).
    pub fn to_dsl(&self) -> Value {
        self.dsl.clone()
    }

    /// The fields the query reads.
    pub fn fields(&self) -> &[QueryField] {
        &self.fields
    }

    /// Field names the query references that the schema does not know (each once).
    pub fn unknown_fields(&self) -> &[String] {
        &self.unknown_fields
    }

    /// Names the query uses that lie below a leaf field (`source.geo.location.lat` under a
    /// `geo_point`, `event.action.x` under a keyword): Elasticsearch has no such field, so
    /// their clauses match nothing (each name once). Worth a warning: usually a typo.
    pub fn below_leaf_fields(&self) -> &[String] {
        &self.below_leaf_fields
    }

    /// True when the query has a field-less (free-text) term or a field pattern (`custom.*`):
    /// those also search the event's unmapped fields, which needs events that can list their
    /// fields ([`Event::visit_fields`]); on other events only mapped fields are searched.
    pub fn has_free_text(&self) -> bool {
        self.free_text
    }

    /// The query in canonical KQL.
    pub fn canonical(&self) -> &str {
        &self.canonical
    }
}

impl dragnet_query::EventMatcher for CompiledQuery {
    fn matches(&self, event: &dyn Event) -> bool {
        CompiledQuery::matches(self, event)
    }

    fn explain(&self, event: &dyn Event) -> Explanation {
        CompiledQuery::explain(self, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dragnet_event::JsonPaths;

    fn run(query: &str, doc: Value) -> bool {
        let q = crate::parse(query).unwrap_or_else(|e| panic!("{query}: {e}"));
        let mut table = FieldTable::new();
        let now = "2024-05-15T12:00:00Z".parse().unwrap();
        let c = compile_at(&q, Schema::builtin(), &mut table, now)
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        let paths = JsonPaths::bind(&table);
        c.matches(&dragnet_event::JsonEvent::new(&doc, &paths))
    }

    fn compiled(query: &str) -> CompiledQuery {
        let mut table = FieldTable::new();
        compile(&crate::parse(query).unwrap(), Schema::builtin(), &mut table).unwrap()
    }

    fn compile_err(query: &str) -> String {
        let mut table = FieldTable::new();
        compile(&crate::parse(query).unwrap(), Schema::builtin(), &mut table)
            .expect_err(query)
            .message
    }

    #[test]
    fn keyword_is_exact_and_case_sensitive_text_is_analysed() {
        assert!(run(
            "event.action:SendCommand",
            json!({"event": {"action": "SendCommand"}})
        ));
        assert!(!run(
            "event.action:sendcommand",
            json!({"event": {"action": "SendCommand"}})
        ));
        // user_agent.original.text is match_only_text (a multi-field read from the parent).
        let ua = json!({"user_agent": {"original": "Boto3/1.28 Python/3.11 exec-env/AWS_Lambda"}});
        assert!(run("user_agent.original.text:python", ua.clone()));
        assert!(run(
            "user_agent.original.text:(nothing or BOTO3)",
            ua.clone()
        ));
        assert!(run("user_agent.original.text:\"python 3.11\"", ua.clone()));
        assert!(!run("user_agent.original.text:\"3.11 python\"", ua.clone()));
        assert!(run("user_agent.original.text:boto*", ua.clone()));
        assert!(!run("user_agent.original:boto*", ua));
    }

    #[test]
    fn ip_cidr_numbers_dates_booleans() {
        let doc = json!({"source": {"ip": "10.1.2.3"}, "http": {"response": {"status_code": "404"}},
                         "@timestamp": "2024-05-14T08:00:00Z"});
        assert!(run("source.ip:10.0.0.0/8", doc.clone()));
        assert!(!run("source.ip:\"192.168.0.0/16\"", doc.clone()));
        assert!(run("source.ip >= 10.1.0.0", doc.clone()));
        assert!(run("http.response.status_code:404", doc.clone()));
        assert!(run(
            "http.response.status_code >= 400 and http.response.status_code < 500",
            doc.clone()
        ));
        assert!(run("@timestamp >= now-1d/d", doc.clone()));
        assert!(run("@timestamp:2024-05-14", doc.clone()));
        assert!(!run("@timestamp:2024-05-15", doc.clone()));
        assert!(run("@timestamp < 2024-05-15", doc));
        assert!(compile_err("source.ip:not-an-ip").contains("not an IP"));
        assert!(compile_err("http.response.status_code:abc").contains("not a number"));
        assert!(compile_err("source.ip:10.*").contains("wildcard"));
    }

    #[test]
    fn missing_fields_arrays_and_ignore_above() {
        assert!(!run("event.outcome:success", json!({})));
        assert!(run("not event.outcome:success", json!({})));
        assert!(run("event.outcome:(not success)", json!({})));
        assert!(run(
            "related.user:(alice and bob)",
            json!({"related": {"user": ["bob", "alice"]}})
        ));
        assert!(!run(
            "not related.user:alice",
            json!({"related": {"user": ["bob", "alice"]}})
        ));
        // event.action has ignore_above 1024: longer values are not indexed.
        let long = "A".repeat(1025);
        assert!(!run("event.action:A*", json!({"event": {"action": long}})));
        assert!(!run("event.action:*", json!({"event": {"action": long}})));
        assert!(run("event.action:*", json!({"event": {"action": ""}})));
    }

    #[test]
    fn required_literals_are_sound_cnf() {
        let c = compiled(
            "event.provider:ssm.amazonaws.com and aws.cloudtrail.request_parameters:(*imageId* and *add*)",
        );
        let cnf = c.required_literals();
        let lits: Vec<(&str, &str, bool)> = cnf
            .iter()
            .map(|d| {
                assert_eq!(d.len(), 1);
                (d[0].field.as_str(), d[0].literal.as_str(), d[0].exact)
            })
            .collect();
        assert!(lits.contains(&("event.provider", "ssm.amazonaws.com", true)));
        assert!(lits.contains(&("aws.cloudtrail.request_parameters", "imageId", false)));
        assert!(lits.contains(&("aws.cloudtrail.request_parameters", "add", false)));
        // `or` gives one disjunction; a branch without literals or a `not` gives nothing.
        let c = compiled("event.action:(A or B)");
        assert_eq!(c.required_literals().len(), 1);
        assert_eq!(c.required_literals()[0].len(), 2);
        assert!(
            compiled("event.action:A or source.ip:10.0.0.0/8")
                .required_literals()
                .is_empty()
        );
        assert!(
            compiled("not event.action:A")
                .required_literals()
                .is_empty()
        );
        assert!(compiled("event.action:*").required_literals().is_empty());
        // CNF of (a and b) or c = (a or c) and (b or c).
        let c = compiled("(event.action:A and event.provider:B) or event.action:C");
        assert_eq!(c.required_literals().len(), 2);
    }

    /// Wildcards on flattened sub-fields are `query_string` terms (Kibana's `wildcard` on a
    /// field that is not a plain keyword): each term's longest piece is required.
    #[test]
    fn query_string_terms_give_one_piece_per_term() {
        let c = compiled(
            "aws.cloudtrail.flattened.request_parameters.key:(*/.aws/credentials or *.pem or */.env.* or *private_key*)",
        );
        let cnf = c.required_literals();
        assert_eq!(cnf.len(), 1);
        let mut lits: Vec<(&str, bool, bool, bool)> = cnf[0]
            .iter()
            .map(|l| (l.literal.as_str(), l.exact, l.prefix, l.case_sensitive))
            .collect();
        lits.sort();
        assert_eq!(
            lits,
            vec![
                (".pem", false, false, true),
                ("/.aws/credentials", false, false, true),
                ("/.env.", false, false, true),
                ("private_key", false, false, true),
            ]
        );
        // The longest piece, a prefix when it is the first.
        let c = compiled("aws.cloudtrail.flattened.request_parameters.key:backups/*.tar");
        let cnf = c.required_literals();
        assert_eq!(cnf.len(), 1);
        assert_eq!(
            (cnf[0][0].literal.as_str(), cnf[0][0].prefix),
            ("backups/", true)
        );
        // A term of stars only: nothing is known.
        assert!(
            compiled("aws.cloudtrail.flattened.request_parameters.key:(*.pem or *)")
                .required_literals()
                .is_empty()
        );
    }

    #[test]
    fn keyword_globs_give_their_text_before_the_first_star_as_a_prefix() {
        let c = compiled("event.action:(DeleteFunction or DeleteFunction20*)");
        let cnf = c.required_literals();
        assert_eq!(cnf.len(), 1);
        let mut lits: Vec<(&str, bool, bool)> = cnf[0]
            .iter()
            .map(|l| (l.literal.as_str(), l.exact, l.prefix))
            .collect();
        lits.sort();
        assert_eq!(
            lits,
            vec![
                ("DeleteFunction", true, false),
                ("DeleteFunction20", false, true)
            ]
        );
        // Only the first piece, and only when the glob does not start with `*`.
        let c = compiled("event.action:Create*Key*s");
        let cnf = c.required_literals();
        let lits: Vec<(&str, bool)> = cnf
            .iter()
            .map(|d| (d[0].literal.as_str(), d[0].prefix))
            .collect();
        assert_eq!(lits, vec![("Create", true), ("Key", false), ("s", false)]);
        let c = compiled("event.action:*Function*");
        let cnf = c.required_literals();
        assert_eq!(cnf.len(), 1);
        assert!(!cnf[0][0].prefix && !cnf[0][0].exact);
        assert!(cnf[0][0].case_sensitive);
    }

    #[test]
    fn explain_names_the_deciding_clause() {
        let q = crate::parse("event.action:SendCommand and event.outcome:success").unwrap();
        let mut table = FieldTable::new();
        let c = compile(&q, Schema::builtin(), &mut table).unwrap();
        let paths = JsonPaths::bind(&table);
        let doc = json!({"event": {"action": "SendCommand", "outcome": "failure"}});
        let e = c.explain(&dragnet_event::JsonEvent::new(&doc, &paths));
        assert!(!e.matched);
        assert_eq!(e.children.len(), 1);
        assert_eq!(e.children[0].clause, "event.outcome:success");
        assert_eq!(
            e.children[0].values,
            vec![OwnedScalar::Str("failure".into())]
        );
        assert!(e.to_string().contains("NO MATCH event.outcome:success"));
    }

    /// Issue 16: a value over ignore_above gave a bare NO MATCH, with the value shown fitting.
    #[test]
    fn explain_says_a_value_over_ignore_above_was_not_indexed() {
        let mut table = FieldTable::new();
        let q = crate::parse("event.action:A* or event.action:*").unwrap();
        let c = compile(&q, Schema::builtin(), &mut table).unwrap();
        let paths = JsonPaths::bind(&table);
        let doc = json!({"event": {"action": "A".repeat(1025)}});
        let e = c.explain(&dragnet_event::JsonEvent::new(&doc, &paths));
        assert!(!e.matched);
        let text = e.to_string();
        assert_eq!(
            text.matches("1 value(s) not indexed: longer than the field's ignore_above 1024")
                .count(),
            2,
            "{text}"
        );
        // At the limit it is indexed and matches: nothing to say.
        let doc = json!({"event": {"action": "A".repeat(1024)}});
        let e = c.explain(&dragnet_event::JsonEvent::new(&doc, &paths));
        assert!(e.matched);
        assert!(!e.to_string().contains("not indexed"), "{e}");
    }

    #[test]
    fn unknown_fields_are_listed_once_and_typed_dynamically() {
        let c = compiled("custom.thing:x or custom.thing:y or event.action:z");
        assert_eq!(c.unknown_fields(), ["custom.thing"]);
        // Unmapped strings are keywords in a logs data stream (ecs@mappings).
        assert!(run(
            "custom.thing:Hello",
            json!({"custom": {"thing": "Hello"}})
        ));
        assert!(!run(
            "custom.thing:hello",
            json!({"custom": {"thing": "Hello"}})
        ));
        assert!(run("custom.count > 3", json!({"custom": {"count": 5}})));
    }

    #[test]
    fn paths_below_a_leaf_are_no_field() {
        let geo = || json!({"source": {"geo": {"location": {"lat": 47.6, "lon": -122.3}}}});
        let c = compiled("source.geo.location.lat:47.6 or event.action.keyword:x or custom.a:1");
        assert_eq!(
            c.below_leaf_fields(),
            ["source.geo.location.lat", "event.action.keyword"]
        );
        assert_eq!(c.unknown_fields(), ["custom.a"]);
        assert!(!run("source.geo.location.lat:47.6", geo()));
        assert!(run("not source.geo.location.lon < 0", geo()));
        // Neither free text nor a field pattern sees the parts of a geo_point value.
        assert!(!run("47.6", geo()));
        assert!(!run("*.lat:47.6", geo()));
        assert!(run("*.lat:47.6", json!({"custom": {"lat": 47.6}})));
        assert!(run("47.6", json!({"custom": {"lat": 47.6}})));
        // A multi-field sub-field of a dynamic parent would be typed; below a leaf it is not.
        assert!(!run(
            "event.action.name.text:x",
            json!({"event": {"action": {"name": "x"}}})
        ));
        let e = compile_err("source.geo.location.lat:{ x:1 }");
        assert!(
            e.contains("below the `geo_point` field `source.geo.location`"),
            "{e}"
        );
        let q = crate::parse("source.geo.location.lat:47.6").unwrap();
        let mut table = FieldTable::new();
        let c = compile(&q, Schema::builtin(), &mut table).unwrap();
        let paths = JsonPaths::bind(&table);
        let doc = geo();
        let ex = c.explain(&dragnet_event::JsonEvent::new(&doc, &paths));
        assert!(!ex.matched && ex.values.is_empty(), "{ex}");
        assert!(ex.how.starts_with("not a field"), "{ex}");
    }
}
