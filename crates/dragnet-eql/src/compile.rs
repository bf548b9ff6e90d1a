//! Compilation of a parsed EQL query against a schema into a matcher over [`Event`]s.
//!
//! Elasticsearch runs an EQL condition as a Query DSL `bool` query (the EQL plugin's planner
//! `QueryTranslator`): `and`/`or`/`not` become `filter`/`should`/`must_not`, and each other
//! clause becomes a leaf query. A leaf that compares one field with constants (`==`, `<`, `in`,
//! `:`, `like`, `regex`, `startsWith`, `endsWith`, `stringContains`, `cidrMatch`) becomes a
//! term/range/terms/wildcard/regexp/prefix query: it holds when *any* indexed value of the field
//! satisfies it and never on a missing field, so `not`/`!=` match events without the field.
//! `endsWith`/`stringContains` reach Lucene as the wildcard queries `*constant`/`*constant*`
//! with the constant unescaped, so its `*`, `?` and `\` act as wildcard syntax. Any other leaf
//! (arithmetic, other functions) runs as a multi-value aware script: each field reference
//! ranges over the field's values (null when it has none), SQL-like null propagation applies,
//! and the leaf holds when some combination gives `true` (`MultiValueAwareScriptQuery`).

pub use dragnet_event::RequiredLiteral;
use dragnet_event::literals;
use std::borrow::Cow;
use std::net::Ipv6Addr;

use dragnet_event::{Event, FieldId, FieldTable, Scalar};
use dragnet_schema::{FieldDef, FieldType, Resolved, Schema};

use crate::ast::{
    ArithOp, Category, CmpOp, EventFilter, Expr, ExprKind, FieldRef, Literal, MatchOp, Pipe, Query,
    QueryBody, Span,
};
use crate::functions::Func;
use crate::values::{
    IpNet, Val, Wildcard, compare, fold, java_double, lucene_regex, parse_date_millis, parse_ip,
};

pub use dragnet_query::{CompileError, Explanation, QueryField};

/// How a field's values are indexed, from its mapping.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Keyword {
        ignore_above: Option<u32>,
    },
    Number,
    Bool,
    Ip,
    Date,
    /// Not mapped: the JSON kind of each value decides (dynamic mapping); strings are searched
    /// through their keyword mapping with this `ignore_above`.
    Dynamic {
        ignore_above: Option<u32>,
    },
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Keyword { .. } => "keyword",
            Kind::Number => "numeric",
            Kind::Bool => "boolean",
            Kind::Ip => "ip",
            Kind::Date => "date",
            Kind::Dynamic { .. } => "unmapped (dynamic mapping)",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct CField {
    pub(crate) id: FieldId,
    name: String,
    kind: Kind,
}

/// A field value in its indexed form.
#[derive(Clone, Debug, PartialEq)]
enum DVal<'a> {
    Kw(Cow<'a, str>),
    Num(Val<'static>),
    Bool(bool),
    Ip(Ipv6Addr),
    Date(i64),
}

fn char_len_over(s: &str, limit: Option<u32>) -> bool {
    // ignore_above counts characters (UTF-16 units in Lucene; equal for the BMP).
    limit.is_some_and(|l| s.len() > l as usize && s.encode_utf16().count() > l as usize)
}

fn number_of_str(s: &str) -> Option<Val<'static>> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Some(Val::Int(i));
    }
    t.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Val::Float)
}

impl CField {
    /// The indexed form of one value; `None` when Elasticsearch would not index it.
    fn indexed<'a>(&self, v: Scalar<'a>) -> Option<DVal<'a>> {
        match self.kind {
            Kind::Keyword { ignore_above } => {
                let s = match v {
                    Scalar::Str(s) => Cow::Borrowed(s),
                    Scalar::Int(i) => Cow::Owned(i.to_string()),
                    Scalar::Float(f) => Cow::Owned(f.to_string()),
                    Scalar::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
                };
                (!char_len_over(&s, ignore_above)).then_some(DVal::Kw(s))
            }
            Kind::Number => match v {
                Scalar::Int(i) => Some(DVal::Num(Val::Int(i))),
                Scalar::Float(f) => Some(DVal::Num(Val::Float(f))),
                Scalar::Str(s) => number_of_str(s).map(DVal::Num),
                Scalar::Bool(_) => None,
            },
            Kind::Bool => match v {
                Scalar::Bool(b) => Some(DVal::Bool(b)),
                Scalar::Str("true") => Some(DVal::Bool(true)),
                Scalar::Str("false") => Some(DVal::Bool(false)),
                _ => None,
            },
            Kind::Ip => match v {
                Scalar::Str(s) => parse_ip(s).map(DVal::Ip),
                _ => None,
            },
            Kind::Date => match v {
                Scalar::Str(s) => parse_date_millis(s).map(DVal::Date),
                Scalar::Int(i) => Some(DVal::Date(i)),
                Scalar::Float(f) => Some(DVal::Date(f as i64)),
                Scalar::Bool(_) => None,
            },
            Kind::Dynamic { ignore_above } => match v {
                Scalar::Str(s) => {
                    (!char_len_over(s, ignore_above)).then_some(DVal::Kw(Cow::Borrowed(s)))
                }
                Scalar::Int(i) => Some(DVal::Num(Val::Int(i))),
                Scalar::Float(f) => Some(DVal::Num(Val::Float(f))),
                Scalar::Bool(b) => Some(DVal::Bool(b)),
            },
        }
    }

    /// Every indexed value as a script sees it; `[null]` when there is none.
    fn all_values(&self, event: &dyn Event) -> Vec<Val<'static>> {
        let mut out = Vec::new();
        let _ = event.visit(self.id, &mut |v| {
            if let Some(d) = self.indexed(v) {
                out.push(match d {
                    DVal::Kw(s) => Val::Str(Cow::Owned(s.into_owned())),
                    DVal::Num(n) => n,
                    DVal::Bool(b) => Val::Bool(b),
                    DVal::Ip(ip) => Val::Str(Cow::Owned(match ip.to_ipv4_mapped() {
                        Some(v4) => v4.to_string(),
                        None => ip.to_string(),
                    })),
                    DVal::Date(d) => Val::Int(d),
                });
            }
            std::ops::ControlFlow::Continue(())
        });
        if out.is_empty() {
            out.push(Val::Null);
        }
        out
    }

    /// The value a script sees: the first doc value, i.e. the smallest indexed value.
    fn doc_value<'a>(&self, event: &'a dyn Event) -> Val<'a> {
        let mut best: Option<DVal<'static>> = None;
        let _ = event.visit(self.id, &mut |v| {
            if let Some(d) = self.indexed(v) {
                let d = match d {
                    DVal::Kw(s) => DVal::Kw(Cow::Owned(s.into_owned())),
                    DVal::Num(n) => DVal::Num(n),
                    DVal::Bool(b) => DVal::Bool(b),
                    DVal::Ip(ip) => DVal::Ip(ip),
                    DVal::Date(d) => DVal::Date(d),
                };
                let smaller = match (&best, &d) {
                    (None, _) => true,
                    (Some(DVal::Kw(a)), DVal::Kw(b)) => b.as_bytes() < a.as_bytes(),
                    (Some(DVal::Num(a)), DVal::Num(b)) => {
                        compare(b, a) == Some(std::cmp::Ordering::Less)
                    }
                    (Some(DVal::Bool(a)), DVal::Bool(b)) => b < a,
                    (Some(DVal::Ip(a)), DVal::Ip(b)) => b < a,
                    (Some(DVal::Date(a)), DVal::Date(b)) => b < a,
                    _ => false,
                };
                if smaller {
                    best = Some(d);
                }
            }
            std::ops::ControlFlow::Continue(())
        });
        match best {
            None => Val::Null,
            Some(DVal::Kw(s)) => Val::Str(s),
            Some(DVal::Num(n)) => n,
            Some(DVal::Bool(b)) => Val::Bool(b),
            Some(DVal::Ip(ip)) => Val::Str(Cow::Owned(match ip.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => ip.to_string(),
            })),
            Some(DVal::Date(d)) => Val::Int(d),
        }
    }
}

/// A constant in every form a field value may be compared in.
#[derive(Clone, Debug)]
struct Consts {
    keyword: Option<String>,
    number: Option<Val<'static>>,
    boolean: Option<bool>,
    ip: Option<Ipv6Addr>,
    date: Option<i64>,
}

impl Consts {
    fn of(l: &Literal) -> Consts {
        let keyword = match l {
            Literal::Null => None,
            Literal::Bool(b) => Some(b.to_string()),
            Literal::Int(i) => Some(i.to_string()),
            Literal::Float(f) => Some(java_double(*f)),
            Literal::Str(s) => Some(s.clone()),
        };
        let number = match l {
            Literal::Int(i) => Some(Val::Int(*i)),
            Literal::Float(f) => Some(Val::Float(*f)),
            Literal::Str(s) => number_of_str(s),
            _ => None,
        };
        let boolean = match l {
            Literal::Bool(b) => Some(*b),
            Literal::Str(s) if s == "true" => Some(true),
            Literal::Str(s) if s == "false" => Some(false),
            _ => None,
        };
        let ip = match l {
            Literal::Str(s) => parse_ip(s),
            _ => None,
        };
        let date = match l {
            Literal::Str(s) => parse_date_millis(s),
            Literal::Int(i) => Some(*i),
            _ => None,
        };
        Consts {
            keyword,
            number,
            boolean,
            ip,
            date,
        }
    }

    fn eq(&self, v: &DVal<'_>) -> bool {
        match v {
            DVal::Kw(s) => self.keyword.as_deref() == Some(&**s),
            DVal::Num(n) => self
                .number
                .as_ref()
                .is_some_and(|c| compare(n, c) == Some(std::cmp::Ordering::Equal)),
            DVal::Bool(b) => self.boolean == Some(*b),
            DVal::Ip(ip) => self.ip == Some(*ip),
            DVal::Date(d) => self.date == Some(*d),
        }
    }

    fn range(&self, op: CmpOp, v: &DVal<'_>) -> bool {
        use std::cmp::Ordering;
        let ord: Option<Ordering> = match v {
            DVal::Kw(s) => self
                .keyword
                .as_ref()
                .map(|c| s.as_bytes().cmp(c.as_bytes())),
            DVal::Num(n) => self.number.as_ref().and_then(|c| compare(n, c)),
            DVal::Bool(_) => None,
            DVal::Ip(ip) => self.ip.map(|c| ip.cmp(&c)),
            DVal::Date(d) => self.date.map(|c| d.cmp(&c)),
        };
        ord.is_some_and(|o| cmp_holds(op, o))
    }

    /// Whether the constant can be compared with values of `kind` at all.
    fn fits(&self, kind: Kind) -> bool {
        match kind {
            Kind::Keyword { .. } | Kind::Dynamic { .. } => self.keyword.is_some(),
            Kind::Number => self.number.is_some(),
            Kind::Bool => self.boolean.is_some(),
            Kind::Ip => self.ip.is_some(),
            Kind::Date => self.date.is_some(),
        }
    }
}

fn cmp_holds(op: CmpOp, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        CmpOp::Eq => o == Equal,
        CmpOp::Neq => o != Equal,
        CmpOp::Lt => o == Less,
        CmpOp::Lte => o != Greater,
        CmpOp::Gt => o == Greater,
        CmpOp::Gte => o != Less,
    }
}

/// A leaf query on one field: holds when any indexed value satisfies it.
#[derive(Clone, Debug)]
enum Pred {
    Eq(Consts),
    Range(CmpOp, Consts),
    In(Vec<Consts>),
    /// `in~`: case-insensitive keyword equality (folded constants).
    InInsensitive(Vec<String>, Vec<Consts>),
    /// `:`, `like`, `like~`: any pattern matches a keyword value; a pattern without wildcards
    /// also compares non-keyword values as `==` would.
    Wildcards(Vec<(Wildcard, Consts)>),
    Regex(Vec<regex::Regex>),
    StartsWith(String, bool),
    Cidr(Vec<IpNet>),
}

impl Pred {
    fn test(&self, v: &DVal<'_>) -> bool {
        fn kw<'b>(v: &'b DVal<'_>) -> Option<&'b str> {
            match v {
                DVal::Kw(s) => Some(s),
                _ => None,
            }
        }
        match self {
            Pred::Eq(c) => c.eq(v),
            Pred::Range(op, c) => c.range(*op, v),
            Pred::In(cs) => cs.iter().any(|c| c.eq(v)),
            Pred::InInsensitive(folded, cs) => match v {
                DVal::Kw(s) => {
                    let f = fold(s);
                    folded.iter().any(|c| *c == *f)
                }
                other => cs.iter().any(|c| c.eq(other)),
            },
            Pred::Wildcards(ws) => match v {
                DVal::Kw(s) => ws.iter().any(|(w, _)| w.matches(s)),
                other => ws.iter().any(|(w, c)| w.is_literal() && c.eq(other)),
            },
            Pred::Regex(rs) => kw(v).is_some_and(|s| rs.iter().any(|r| r.is_match(s))),
            Pred::StartsWith(p, ci) => kw(v).is_some_and(|s| {
                if *ci {
                    fold(s).starts_with(p.as_str())
                } else {
                    s.starts_with(p.as_str())
                }
            }),
            Pred::Cidr(nets) => match v {
                DVal::Ip(ip) => nets.iter().any(|n| n.contains(*ip)),
                DVal::Kw(s) => parse_ip(s).is_some_and(|ip| nets.iter().any(|n| n.contains(ip))),
                _ => false,
            },
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Pred::Eq(_) => "term: any value equal, case-sensitive",
            Pred::Range(..) => "range: any value",
            Pred::In(_) => "terms: any value in the list, case-sensitive",
            Pred::InInsensitive(..) => "terms: any value in the list, case-insensitive",
            Pred::Wildcards(_) => "wildcard: any value matches a pattern",
            Pred::Regex(_) => "regexp: any value matches",
            Pred::StartsWith(..) => "prefix: any value",
            Pred::Cidr(_) => "cidr: any value in a block",
        }
    }
}

/// A script expression (three-valued: `Val::Null` propagates).
#[derive(Clone, Debug)]
enum SExpr {
    Const(Val<'static>),
    /// A field read through its first doc value (sequence keys).
    Field(CField),
    /// The `n`th field reference of a script leaf, bound to one of its values per evaluation.
    Slot(usize),
    Neg(Box<SExpr>),
    Arith(ArithOp, Box<SExpr>, Box<SExpr>),
    Cmp(CmpOp, Box<SExpr>, Box<SExpr>),
    In {
        value: Box<SExpr>,
        list: Vec<SExpr>,
        insensitive: bool,
    },
    Wildcards(Box<SExpr>, Vec<Wildcard>),
    Regex(Box<SExpr>, Vec<regex::Regex>),
    Not(Box<SExpr>),
    And(Vec<SExpr>),
    Or(Vec<SExpr>),
    Call(Func, bool, Vec<SExpr>),
}

/// A compiled boolean condition.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Const(bool),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Leaf(Box<Leaf>),
}

#[derive(Clone, Debug)]
pub(crate) struct Leaf {
    clause: String,
    test: Test,
}

#[derive(Clone, Debug)]
enum Test {
    Field(CField, Pred),
    Exists(CField),
    Script(Script),
}

/// A leaf Elasticsearch runs as a script. EQL makes such scripts multi-value aware
/// (`MultiValueAwareScriptQuery`, `Scripts.multiValueDocValuesRewrite`): each field reference
/// iterates over the field's values (null when it has none) and the leaf holds when any
/// combination makes the expression true.
#[derive(Clone, Debug)]
struct Script {
    expr: SExpr,
    slots: Vec<CField>,
}

/// Most value combinations tried for one script leaf; beyond it the rest are not tried.
const MAX_COMBINATIONS: usize = 4096;

impl Script {
    fn new(mut expr: SExpr) -> Script {
        let mut slots = Vec::new();
        expr.bind_slots(&mut slots);
        Script { expr, slots }
    }

    fn matches(&self, event: &dyn Event) -> bool {
        if self.slots.is_empty() {
            return self.expr.eval(event, &[]) == Val::Bool(true);
        }
        let lists: Vec<Vec<Val<'static>>> =
            self.slots.iter().map(|f| f.all_values(event)).collect();
        let mut idx = vec![0usize; lists.len()];
        let mut env: Vec<Val<'static>> = lists.iter().map(|l| l[0].clone()).collect();
        for _ in 0..MAX_COMBINATIONS {
            if self.expr.eval(event, &env) == Val::Bool(true) {
                return true;
            }
            // Next combination (odometer order).
            let mut k = 0;
            loop {
                if k == lists.len() {
                    return false;
                }
                idx[k] += 1;
                if idx[k] < lists[k].len() {
                    env[k] = lists[k][idx[k]].clone();
                    break;
                }
                idx[k] = 0;
                env[k] = lists[k][0].clone();
                k += 1;
            }
        }
        false
    }
}

/// One `category where condition`, compiled.
#[derive(Clone, Debug)]
pub(crate) struct Filter {
    /// The category field, its name and the required value; `None` for `any`.
    category: Option<(FieldId, String, String)>,
    cond: Node,
}

impl Filter {
    pub(crate) fn matches(&self, event: &dyn Event) -> bool {
        if let Some((id, _, cat)) = &self.category
            && !event.any(*id, &mut |v| v.to_keyword() == cat.as_str())
        {
            return false;
        }
        self.cond.matches(event)
    }

    fn explain(&self, event: &dyn Event) -> Explanation {
        let cond = self.cond.explain(event);
        let Some((id, field, cat)) = &self.category else {
            return cond;
        };
        let cat_ok = event.any(*id, &mut |v| v.to_keyword() == cat.as_str());
        let cat_exp = Explanation {
            matched: cat_ok,
            clause: format!("{field} == \"{cat}\""),
            values: event.values(*id),
            how: "event category: term, case-sensitive".into(),
            children: Vec::new(),
        };
        Explanation {
            matched: cat_ok && cond.matched,
            clause: "and".into(),
            values: Vec::new(),
            how: String::new(),
            children: if cat_ok {
                vec![cat_exp, cond]
            } else {
                vec![cat_exp]
            },
        }
    }

    fn required(&self) -> Vec<Vec<RequiredLiteral>> {
        let mut out = self.cond.required();
        if let Some((_, field, cat)) = &self.category {
            out.push(vec![RequiredLiteral {
                field: field.clone(),
                literal: cat.clone(),
                exact: true,
                prefix: false,
                case_sensitive: true,
            }]);
        }
        out
    }
}

/// A join key of a sequence or sample step.
#[derive(Clone, Debug)]
pub(crate) struct Key {
    expr: SExpr,
    /// `?field`: a null value is a valid key.
    optional: bool,
}

/// The key value of an event for one join key; `None` when the event cannot join (null key on
/// a non-optional field).
pub(crate) type KeyValue = Vec<Option<String>>;

impl Key {
    /// The values this key takes for `event` (several for a multi-valued field); `None` when
    /// the event cannot join (null on a non-optional key).
    fn values(&self, event: &dyn Event) -> Option<Vec<Option<String>>> {
        // Keys compare by value; Elasticsearch reads them through the `fields` API.
        let mut vals: Vec<String> = match &self.expr {
            SExpr::Field(f) => {
                let mut vals = Vec::new();
                let _ = event.visit(f.id, &mut |s| {
                    let v = s.to_keyword().into_owned();
                    if !vals.contains(&v) {
                        vals.push(v);
                    }
                    std::ops::ControlFlow::Continue(())
                });
                vals
            }
            other => other.eval(event, &[]).to_text().into_iter().collect(),
        };
        if vals.is_empty() {
            return self.optional.then(|| vec![None]);
        }
        Some(vals.drain(..).map(Some).collect())
    }
}

/// One step of a compiled sequence (`with runs=N` already expanded).
#[derive(Clone, Debug)]
pub(crate) struct Step {
    pub(crate) filter: Filter,
    keys: Vec<Key>,
    pub(crate) missing: bool,
}

/// How a join key's values sort in a composite aggregation (the order of `sample` results).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeySort {
    /// A keyword or boolean field: bytewise (`"false"` before `"true"`).
    Text,
    /// A numeric field: numerically.
    Number,
    /// An `ip` field: by address.
    Ip,
    /// Unmapped, a date, or computed: the values' shape decides.
    Shape,
}

impl Step {
    /// How each of this step's join keys sorts, from its field's mapped type.
    pub(crate) fn key_sorts(&self) -> Vec<KeySort> {
        self.keys
            .iter()
            .map(|k| match &k.expr {
                SExpr::Field(f) => match f.kind {
                    Kind::Keyword { .. } | Kind::Bool => KeySort::Text,
                    Kind::Number => KeySort::Number,
                    Kind::Ip => KeySort::Ip,
                    Kind::Date | Kind::Dynamic { .. } => KeySort::Shape,
                },
                _ => KeySort::Shape,
            })
            .collect()
    }

    /// The join keys of `event` for this step: none if a non-optional key is null; with
    /// multi-valued key fields, every combination of values (Elasticsearch's `TumblingWindow`
    /// joins each combination, the cartesian product of the values).
    pub(crate) fn keys(&self, event: &dyn Event) -> Vec<KeyValue> {
        let mut out: Vec<KeyValue> = vec![Vec::with_capacity(self.keys.len())];
        for k in &self.keys {
            let Some(values) = k.values(event) else {
                return Vec::new();
            };
            if values.len() == 1 {
                let v = values.into_iter().next().expect("one");
                out.iter_mut().for_each(|key| key.push(v.clone()));
            } else {
                out = out
                    .into_iter()
                    .flat_map(|key| {
                        values.iter().map(move |v| {
                            let mut key = key.clone();
                            key.push(v.clone());
                            key
                        })
                    })
                    .collect();
            }
        }
        out
    }
}

/// A compiled `sequence`.
#[derive(Clone, Debug)]
pub(crate) struct SequenceSpec {
    pub(crate) steps: Vec<Step>,
    pub(crate) until: Option<Step>,
    /// In nanoseconds.
    pub(crate) maxspan: Option<i128>,
}

#[derive(Clone, Debug)]
pub(crate) enum Body {
    Event(Filter),
    Sequence(SequenceSpec),
    Sample(Vec<Step>),
}

/// A query resolved against a schema, ready to evaluate events.
#[derive(Clone, Debug)]
pub struct CompiledQuery {
    pub(crate) body: Body,
    pipes: Vec<Pipe>,
    fields: Vec<QueryField>,
    unknown_fields: Vec<String>,
    canonical: String,
}

/// What kind of query was compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryKind {
    Event,
    Sequence,
    Sample,
}

struct Compiler<'a> {
    schema: &'a Schema,
    table: &'a mut FieldTable,
    fields: Vec<QueryField>,
    unknown: Vec<String>,
    category_field: String,
}

/// Options a rule or an EQL search request can set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileOptions {
    /// The field event categories are read from (`event_category_field` of the EQL search API,
    /// `event_category_override` of a rule); `event.category` by default.
    pub category_field: String,
}

impl Default for CompileOptions {
    fn default() -> Self {
        Self {
            category_field: "event.category".into(),
        }
    }
}

/// Resolves `query` against `schema`, interning every field it reads in `table`.
pub fn compile(
    query: &Query,
    schema: &Schema,
    table: &mut FieldTable,
) -> Result<CompiledQuery, CompileError> {
    compile_with(query, schema, table, &CompileOptions::default())
}

/// [`compile`] with explicit [`CompileOptions`].
pub fn compile_with(
    query: &Query,
    schema: &Schema,
    table: &mut FieldTable,
    options: &CompileOptions,
) -> Result<CompiledQuery, CompileError> {
    let mut c = Compiler {
        schema,
        table,
        fields: Vec::new(),
        unknown: Vec::new(),
        category_field: options.category_field.clone(),
    };
    let body = match &query.body {
        QueryBody::Event(f) => Body::Event(c.filter(f)?),
        QueryBody::Sequence(s) => {
            let mut steps = Vec::new();
            for step in &s.steps {
                let compiled = Step {
                    filter: c.filter(&step.filter)?,
                    keys: c.keys(&s.by, &step.by)?,
                    missing: step.missing,
                };
                for _ in 0..step.runs.unwrap_or(1) {
                    steps.push(compiled.clone());
                }
            }
            let until = match &s.until {
                Some(u) => Some(Step {
                    filter: c.filter(&u.filter)?,
                    keys: c.keys(&s.by, &u.by)?,
                    missing: false,
                }),
                None => None,
            };
            Body::Sequence(SequenceSpec {
                steps,
                until,
                maxspan: s.maxspan.map(|m| m.nanos()),
            })
        }
        QueryBody::Sample(s) => {
            let mut steps = Vec::new();
            for step in &s.steps {
                steps.push(Step {
                    filter: c.filter(&step.filter)?,
                    keys: c.keys(&s.by, &step.by)?,
                    missing: false,
                });
            }
            Body::Sample(steps)
        }
    };
    Ok(CompiledQuery {
        body,
        pipes: query.pipes.clone(),
        fields: c.fields,
        unknown_fields: c.unknown,
        canonical: query.to_string(),
    })
}

fn is_str_lit(e: &Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Literal(Literal::Str(s)) => Some(s),
        _ => None,
    }
}

impl Compiler<'_> {
    fn filter(&mut self, f: &EventFilter) -> Result<Filter, CompileError> {
        let category = match &f.category {
            Category::Any => None,
            Category::Named(n) => Some((
                self.table.intern(&self.category_field),
                self.category_field.clone(),
                n.clone(),
            )),
        };
        Ok(Filter {
            category,
            cond: self.node(&f.condition)?,
        })
    }

    fn keys(&mut self, shared: &[Expr], own: &[Expr]) -> Result<Vec<Key>, CompileError> {
        shared
            .iter()
            .chain(own)
            .map(|k| {
                let optional = matches!(&k.kind, ExprKind::Field(f) if f.optional);
                Ok(Key {
                    expr: self.sexpr(k)?,
                    optional,
                })
            })
            .collect()
    }

    fn field(&mut self, r: &FieldRef, span: Span) -> Result<CField, CompileError> {
        let name = r.name.clone();
        let resolved = self.schema.resolve(&name);
        let def: Option<Cow<'_, FieldDef>> = match resolved {
            Resolved::Object(_) | Resolved::Unknown => None,
            _ => self.schema.get(&name),
        };
        let kind = match &def {
            Some(d) => kind_of(d)
                .map_err(|why| CompileError::new(span, format!("field `{name}`: {why}")))?,
            None => {
                if !r.optional && !self.unknown.contains(&name) {
                    self.unknown.push(name.clone());
                }
                let ignore_above = self
                    .schema
                    .dynamic_policy()
                    .type_for(&name, &serde_json::Value::String(String::new()))
                    .map(|d| match kind_of(&d) {
                        Ok(Kind::Keyword { ignore_above }) => ignore_above,
                        _ => None,
                    })
                    .unwrap_or(Some(256));
                Kind::Dynamic { ignore_above }
            }
        };
        // A multi-field (`x.keyword`) reads its parent's values.
        let source = def
            .as_ref()
            .and_then(|d| d.multi_field_of.as_ref().map(|p| p.to_string()))
            .unwrap_or_else(|| name.clone());
        let id = self.table.intern(&source);
        if !self.fields.iter().any(|f| f.name == name) {
            self.fields.push(QueryField {
                name: name.clone(),
                id,
                ty: def.as_ref().map(|d| d.ty),
            });
        }
        Ok(CField { id, name, kind })
    }

    fn node(&mut self, e: &Expr) -> Result<Node, CompileError> {
        Ok(match &e.kind {
            ExprKind::And(items) => Node::And(
                items
                    .iter()
                    .map(|i| self.node(i))
                    .collect::<Result<_, _>>()?,
            ),
            ExprKind::Or(items) => Node::Or(
                items
                    .iter()
                    .map(|i| self.node(i))
                    .collect::<Result<_, _>>()?,
            ),
            ExprKind::Not(inner) => match self.node(inner)? {
                // The planner's `Nots.doTranslate`: the negation of a script query is one
                // script of the whole `not`, so a null inside stays null (no match) instead
                // of turning into a `must_not` that matches.
                Node::Leaf(leaf) if matches!(leaf.test, Test::Script(_)) => {
                    let s = self.sexpr(e)?;
                    self.leaf_node(e, Test::Script(Script::new(s)))
                }
                other => Node::Not(Box::new(other)),
            },
            _ => self.leaf(e)?,
        })
    }

    fn leaf_node(&self, e: &Expr, test: Test) -> Node {
        Node::Leaf(Box::new(Leaf {
            clause: e.to_string(),
            test,
        }))
    }

    fn field_leaf(
        &mut self,
        e: &Expr,
        r: &FieldRef,
        span: Span,
        pred: Pred,
    ) -> Result<Node, CompileError> {
        let f = self.field(r, span)?;
        Ok(self.leaf_node(e, Test::Field(f, pred)))
    }

    fn consts_for(
        &self,
        kind: Kind,
        l: &Literal,
        span: Span,
        field: &str,
    ) -> Result<Consts, CompileError> {
        let c = Consts::of(l);
        if !matches!(kind, Kind::Dynamic { .. }) && !c.fits(kind) {
            return Err(CompileError::new(
                span,
                format!(
                    "cannot compare {} field `{field}` with {l}: Elasticsearch rejects the query (use a {} value)",
                    kind.describe(),
                    kind.describe()
                ),
            ));
        }
        Ok(c)
    }

    fn leaf(&mut self, e: &Expr) -> Result<Node, CompileError> {
        match &e.kind {
            ExprKind::Literal(Literal::Bool(b)) => return Ok(Node::Const(*b)),
            ExprKind::Literal(Literal::Null) => return Ok(Node::Const(false)),
            ExprKind::Field(r) => {
                // A boolean field used as a condition: `field == true`.
                let f = self.field(r, e.span)?;
                return Ok(self.leaf_node(
                    e,
                    Test::Field(f, Pred::Eq(Consts::of(&Literal::Bool(true)))),
                ));
            }
            ExprKind::Compare { op, left, right } => {
                let (op, fld, lit) = match (&left.kind, &right.kind) {
                    (ExprKind::Field(_), ExprKind::Field(_)) => {
                        return Err(CompileError::new(
                            e.span,
                            "comparing a field to another field is not supported by Elasticsearch EQL; compare each to a constant",
                        ));
                    }
                    (ExprKind::Field(f), ExprKind::Literal(l)) => {
                        (*op, Some((f, right.span)), Some(l))
                    }
                    (ExprKind::Literal(l), ExprKind::Field(f)) => {
                        (op.flipped(), Some((f, left.span)), Some(l))
                    }
                    _ => (*op, None, None),
                };
                if let (Some((r, span)), Some(l)) = (fld, lit) {
                    if *l == Literal::Null {
                        let f = self.field(r, span)?;
                        return Ok(match op {
                            CmpOp::Eq => Node::Not(Box::new(self.leaf_node(e, Test::Exists(f)))),
                            CmpOp::Neq => self.leaf_node(e, Test::Exists(f)),
                            _ => Node::Const(false),
                        });
                    }
                    let f = self.field(r, span)?;
                    let c = self.consts_for(f.kind, l, e.span, &f.name)?;
                    return Ok(match op {
                        CmpOp::Eq => self.leaf_node(e, Test::Field(f, Pred::Eq(c))),
                        // `!=` is built as `not ==`: a missing field satisfies it.
                        CmpOp::Neq => {
                            Node::Not(Box::new(self.leaf_node(e, Test::Field(f, Pred::Eq(c)))))
                        }
                        range => self.leaf_node(e, Test::Field(f, Pred::Range(range, c))),
                    });
                }
                // `boolfn(...) == true/false` is the function itself (BooleanFunctionEqualsElimination).
                if let (
                    ExprKind::Call { name, .. },
                    ExprKind::Literal(Literal::Bool(b)),
                    CmpOp::Eq | CmpOp::Neq,
                ) = (&left.kind, &right.kind, op)
                    && Func::resolve(name).is_some_and(|(f, ..)| f.is_boolean())
                {
                    let inner = self.leaf(left)?;
                    return Ok(if *b == (op == CmpOp::Eq) {
                        inner
                    } else {
                        Node::Not(Box::new(inner))
                    });
                }
            }
            ExprKind::In {
                value,
                list,
                negated,
                insensitive,
            } => {
                if let ExprKind::Field(r) = &value.kind
                    && list.iter().all(|i| i.as_literal().is_some())
                {
                    let f = self.field(r, value.span)?;
                    let lits: Vec<&Literal> = list
                        .iter()
                        .filter_map(Expr::as_literal)
                        .filter(|l| **l != Literal::Null)
                        .collect();
                    let mut cs = Vec::new();
                    for l in &lits {
                        cs.push(self.consts_for(f.kind, l, e.span, &f.name)?);
                    }
                    let pred = if *insensitive {
                        let folded = cs
                            .iter()
                            .filter_map(|c| c.keyword.as_deref())
                            .map(|k| fold(k).into_owned())
                            .collect();
                        Pred::InInsensitive(folded, cs)
                    } else {
                        Pred::In(cs)
                    };
                    let leaf = self.leaf_node(e, Test::Field(f, pred));
                    return Ok(if *negated {
                        Node::Not(Box::new(leaf))
                    } else {
                        leaf
                    });
                }
            }
            ExprKind::Match {
                value,
                op,
                patterns,
                ..
            } => {
                if let ExprKind::Field(r) = &value.kind {
                    let pred = self.match_pred(*op, patterns, e.span)?;
                    return self.field_leaf(e, r, value.span, pred);
                }
            }
            ExprKind::Call {
                name,
                insensitive,
                args,
            } => {
                let (func, ..) = self.check_call(name, *insensitive, args, e.span)?;
                if let Some(ExprKind::Field(r)) = args.first().map(|a| &a.kind) {
                    let ci = *insensitive;
                    let pat = |s: &str| {
                        if ci {
                            fold(s).into_owned()
                        } else {
                            s.to_owned()
                        }
                    };
                    let pred = match func {
                        Func::StartsWith if args.len() == 2 => {
                            is_str_lit(&args[1]).map(|s| Pred::StartsWith(pat(s), ci))
                        }
                        // Sent as a Lucene wildcard query built from the unescaped constant
                        // (eql planner QueryTranslator.CaseInsensitiveScalarFunctions): `*`, `?`
                        // and `\` in the constant act as wildcard syntax.
                        Func::EndsWith if args.len() == 2 => is_str_lit(&args[1]).map(|s| {
                            let w = Wildcard::lucene(&format!("*{s}"), ci);
                            Pred::Wildcards(vec![(w, Consts::of(&Literal::Null))])
                        }),
                        Func::StringContains if args.len() == 2 => is_str_lit(&args[1]).map(|s| {
                            let w = Wildcard::lucene(&format!("*{s}*"), ci);
                            Pred::Wildcards(vec![(w, Consts::of(&Literal::Null))])
                        }),
                        Func::CidrMatch if args[1..].iter().all(|a| is_str_lit(a).is_some()) => {
                            let mut nets = Vec::new();
                            for a in &args[1..] {
                                let s = is_str_lit(a).expect("checked");
                                nets.push(IpNet::parse(s).ok_or_else(|| {
                                    CompileError::new(
                                        a.span,
                                        format!(
                                            "cidrMatch: \"{s}\" is not a CIDR block or IP address"
                                        ),
                                    )
                                })?);
                            }
                            Some(Pred::Cidr(nets))
                        }
                        _ => None,
                    };
                    if let Some(pred) = pred {
                        return self.field_leaf(e, r, args[0].span, pred);
                    }
                }
            }
            _ => {}
        }
        let s = self.sexpr(e)?;
        Ok(self.leaf_node(e, Test::Script(Script::new(s))))
    }

    fn match_pred(
        &self,
        op: MatchOp,
        patterns: &[Literal],
        span: Span,
    ) -> Result<Pred, CompileError> {
        let strs: Vec<&str> = patterns
            .iter()
            .map(|p| match p {
                Literal::Str(s) => Ok(s.as_str()),
                other => Err(CompileError::new(
                    span,
                    format!(
                        "'{}' compares strings, but {other} is not a string; quote it",
                        op.symbol()
                    ),
                )),
            })
            .collect::<Result<_, _>>()?;
        Ok(if op.is_regex() {
            Pred::Regex(
                strs.iter()
                    .map(|s| {
                        lucene_regex(s, op.case_insensitive())
                            .map_err(|m| CompileError::new(span, m))
                    })
                    .collect::<Result<_, _>>()?,
            )
        } else {
            Pred::Wildcards(
                strs.iter()
                    .map(|s| {
                        (
                            Wildcard::new(s, op.case_insensitive()),
                            Consts::of(&Literal::Str((*s).to_owned())),
                        )
                    })
                    .collect(),
            )
        })
    }

    fn check_call(
        &self,
        name: &str,
        insensitive: bool,
        args: &[Expr],
        span: Span,
    ) -> Result<(Func, usize, usize, bool), CompileError> {
        let Some(r @ (_, min, max, tilde)) = Func::resolve(name) else {
            return Err(CompileError::new(
                span,
                format!(
                    "unknown function `{name}`: Elasticsearch EQL has add, between, cidrMatch, concat, divide, endsWith, indexOf, length, modulo, multiply, number, startsWith, string, stringContains, substring, subtract"
                ),
            ));
        };
        if insensitive && !tilde {
            return Err(CompileError::new(
                span,
                format!("function `{name}` has no case-insensitive `~` form"),
            ));
        }
        if args.len() < min || args.len() > max {
            let want = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(CompileError::new(
                span,
                format!(
                    "function `{name}` takes {want} arguments, found {}",
                    args.len()
                ),
            ));
        }
        Ok(r)
    }

    fn sexpr(&mut self, e: &Expr) -> Result<SExpr, CompileError> {
        Ok(match &e.kind {
            ExprKind::Literal(l) => SExpr::Const(lit_val(l)),
            ExprKind::Field(r) => SExpr::Field(self.field(r, e.span)?),
            ExprKind::Neg(inner) => SExpr::Neg(Box::new(self.sexpr(inner)?)),
            ExprKind::Arith { op, left, right } => SExpr::Arith(
                *op,
                Box::new(self.sexpr(left)?),
                Box::new(self.sexpr(right)?),
            ),
            ExprKind::Compare { op, left, right } => {
                if left.as_field().is_some() && right.as_field().is_some() {
                    return Err(CompileError::new(
                        e.span,
                        "comparing a field to another field is not supported by Elasticsearch EQL",
                    ));
                }
                SExpr::Cmp(
                    *op,
                    Box::new(self.sexpr(left)?),
                    Box::new(self.sexpr(right)?),
                )
            }
            ExprKind::In {
                value,
                list,
                negated,
                insensitive,
            } => {
                let s = SExpr::In {
                    value: Box::new(self.sexpr(value)?),
                    list: list
                        .iter()
                        .map(|i| self.sexpr(i))
                        .collect::<Result<_, _>>()?,
                    insensitive: *insensitive,
                };
                if *negated { SExpr::Not(Box::new(s)) } else { s }
            }
            ExprKind::Match {
                value,
                op,
                patterns,
                ..
            } => {
                let v = Box::new(self.sexpr(value)?);
                match self.match_pred(*op, patterns, e.span)? {
                    Pred::Regex(rs) => SExpr::Regex(v, rs),
                    Pred::Wildcards(ws) => {
                        SExpr::Wildcards(v, ws.into_iter().map(|(w, _)| w).collect())
                    }
                    _ => unreachable!("match_pred gives regex or wildcards"),
                }
            }
            ExprKind::Not(inner) => SExpr::Not(Box::new(self.sexpr(inner)?)),
            ExprKind::And(items) => SExpr::And(
                items
                    .iter()
                    .map(|i| self.sexpr(i))
                    .collect::<Result<_, _>>()?,
            ),
            ExprKind::Or(items) => SExpr::Or(
                items
                    .iter()
                    .map(|i| self.sexpr(i))
                    .collect::<Result<_, _>>()?,
            ),
            ExprKind::Call {
                name,
                insensitive,
                args,
            } => {
                let (func, ..) = self.check_call(name, *insensitive, args, e.span)?;
                if func == Func::Number && args.len() == 2 && args[1].as_field().is_some() {
                    return Err(CompileError::new(
                        args[1].span,
                        "number(): the base cannot be a field",
                    ));
                }
                SExpr::Call(
                    func,
                    *insensitive,
                    args.iter()
                        .map(|a| self.sexpr(a))
                        .collect::<Result<_, _>>()?,
                )
            }
        })
    }
}

fn lit_val(l: &Literal) -> Val<'static> {
    match l {
        Literal::Null => Val::Null,
        Literal::Bool(b) => Val::Bool(*b),
        Literal::Int(i) => Val::Int(*i),
        Literal::Float(f) => Val::Float(*f),
        Literal::Str(s) => Val::Str(Cow::Owned(s.clone())),
    }
}

/// How EQL searches a mapped field (`text` fields through their keyword sub-field, as
/// Elasticsearch's `exactAttribute` does).
fn kind_of(def: &FieldDef) -> Result<Kind, String> {
    let ty = def.ty;
    if def.is_flattened_leaf()
        || ty.is_keyword_family()
        || ty == FieldType::Version
        || ty == FieldType::Flattened
    {
        return Ok(Kind::Keyword {
            ignore_above: def.ignore_above,
        });
    }
    if ty.is_text_family() {
        return def
            .multi_fields
            .iter()
            .find(|m| m.ty.is_keyword_family())
            .map(|m| Kind::Keyword {
                ignore_above: m.ignore_above,
            })
            .ok_or_else(|| {
                format!(
                    "a `{ty}` field without a keyword sub-field cannot be searched with EQL (Elasticsearch: text fields are not supported)"
                )
            });
    }
    if ty.is_numeric() {
        return Ok(Kind::Number);
    }
    Ok(match ty {
        FieldType::Boolean => Kind::Bool,
        FieldType::Ip => Kind::Ip,
        FieldType::Date | FieldType::DateNanos => Kind::Date,
        // An object path: its leaves are unknown to us, so the values decide.
        FieldType::Object => Kind::Dynamic {
            ignore_above: Some(1024),
        },
        FieldType::Nested => return Err("EQL cannot search `nested` fields".into()),
        other => return Err(format!("EQL cannot compare `{other}` fields")),
    })
}

// ---------------------------------------------------------------------------------------------
// Evaluation

impl Node {
    pub(crate) fn matches(&self, event: &dyn Event) -> bool {
        match self {
            Node::Const(b) => *b,
            Node::And(items) => items.iter().all(|i| i.matches(event)),
            Node::Or(items) => items.iter().any(|i| i.matches(event)),
            Node::Not(inner) => !inner.matches(event),
            Node::Leaf(leaf) => leaf.matches(event),
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
            Node::Const(b) => boolean(&b.to_string(), *b, Vec::new()),
            Node::And(items) => {
                let mut children = Vec::new();
                for i in items {
                    let e = i.explain(event);
                    if !e.matched {
                        return boolean("and", false, vec![e]);
                    }
                    children.push(e);
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
            Node::Leaf(leaf) => {
                let (values, how) = match &leaf.test {
                    Test::Field(f, p) => (
                        event.values(f.id),
                        format!("{} field, {}", f.kind.describe(), p.describe()),
                    ),
                    Test::Exists(f) => (event.values(f.id), "exists".to_owned()),
                    Test::Script(_) => (Vec::new(), String::new()),
                };
                Explanation {
                    matched: leaf.matches(event),
                    clause: leaf.clause.clone(),
                    values,
                    how: if matches!(leaf.test, Test::Script(_)) {
                        String::new()
                    } else {
                        how
                    },
                    children: Vec::new(),
                }
            }
        }
    }

    fn required(&self) -> Vec<Vec<RequiredLiteral>> {
        match self {
            Node::Const(_) | Node::Not(_) => Vec::new(),
            Node::And(items) => literals::all_of(items.iter().map(Node::required)),
            Node::Or(items) => literals::any_of(items.iter().map(Node::required)),
            Node::Leaf(leaf) => leaf.required(),
        }
    }
}

impl Leaf {
    fn matches(&self, event: &dyn Event) -> bool {
        match &self.test {
            Test::Field(f, pred) => {
                event.any(f.id, &mut |v| f.indexed(v).is_some_and(|d| pred.test(&d)))
            }
            Test::Exists(f) => event.any(f.id, &mut |v| f.indexed(v).is_some()),
            Test::Script(s) => s.matches(event),
        }
    }

    fn required(&self) -> Vec<Vec<RequiredLiteral>> {
        let Test::Field(f, pred) = &self.test else {
            return Vec::new();
        };
        // Only keyword values are searched as the literal text; numbers may be spelled otherwise.
        let keyword = matches!(f.kind, Kind::Keyword { .. });
        let lit = |literal: &str, exact: bool, case_sensitive: bool| RequiredLiteral {
            field: f.name.clone(),
            literal: literal.to_owned(),
            exact,
            prefix: false,
            case_sensitive,
        };
        let kw_of = |c: &Consts| {
            c.keyword
                .clone()
                .filter(|k| !k.is_empty() && (keyword || c.number.is_none()))
        };
        match pred {
            Pred::Eq(c) => kw_of(c)
                .map(|k| vec![vec![lit(&k, true, true)]])
                .unwrap_or_default(),
            Pred::In(cs) => {
                let ks: Option<Vec<String>> = cs.iter().map(kw_of).collect();
                match ks {
                    Some(ks) if !ks.is_empty() => {
                        vec![ks.iter().map(|k| lit(k, true, true)).collect()]
                    }
                    _ => Vec::new(),
                }
            }
            Pred::InInsensitive(folded, cs) => {
                if folded.len() == cs.len()
                    && !folded.is_empty()
                    && folded.iter().all(|k| !k.is_empty())
                    && (keyword || cs.iter().all(|c| c.number.is_none()))
                {
                    vec![folded.iter().map(|k| lit(k, true, false)).collect()]
                } else {
                    Vec::new()
                }
            }
            Pred::Wildcards(ws) => {
                // One literal piece per pattern (the longest): each match contains one of them.
                let mut clause = Vec::new();
                for (w, _) in ws {
                    let Some(best) = w.pieces().into_iter().max_by_key(|p| p.len()) else {
                        return Vec::new();
                    };
                    if !keyword && w.is_literal() && number_of_str(&best).is_some() {
                        return Vec::new();
                    }
                    clause.push(lit(&best, w.is_literal(), !is_insensitive(ws)));
                }
                if clause.is_empty() {
                    Vec::new()
                } else {
                    vec![clause]
                }
            }
            Pred::StartsWith(p, ci) if !p.is_empty() => {
                vec![vec![lit(p, false, !ci)]]
            }
            _ => Vec::new(),
        }
    }
}

fn is_insensitive(ws: &[(Wildcard, Consts)]) -> bool {
    // All patterns of one predicate share the operator.
    ws.first().is_some_and(|(w, _)| w.insensitive())
}

impl SExpr {
    /// Replaces each field reference by a slot, collecting the fields in slot order.
    fn bind_slots(&mut self, slots: &mut Vec<CField>) {
        match self {
            SExpr::Field(f) => {
                slots.push(f.clone());
                *self = SExpr::Slot(slots.len() - 1);
            }
            SExpr::Const(_) | SExpr::Slot(_) => {}
            SExpr::Neg(e) | SExpr::Not(e) | SExpr::Wildcards(e, _) | SExpr::Regex(e, _) => {
                e.bind_slots(slots)
            }
            SExpr::Arith(_, l, r) | SExpr::Cmp(_, l, r) => {
                l.bind_slots(slots);
                r.bind_slots(slots);
            }
            SExpr::In { value, list, .. } => {
                value.bind_slots(slots);
                list.iter_mut().for_each(|i| i.bind_slots(slots));
            }
            SExpr::And(items) | SExpr::Or(items) | SExpr::Call(_, _, items) => {
                items.iter_mut().for_each(|i| i.bind_slots(slots))
            }
        }
    }

    fn eval<'a>(&self, event: &'a dyn Event, env: &[Val<'a>]) -> Val<'a> {
        match self {
            SExpr::Const(v) => v.clone(),
            SExpr::Field(f) => f.doc_value(event),
            SExpr::Slot(i) => env[*i].clone(),
            SExpr::Neg(inner) => match inner.eval(event, env) {
                Val::Int(i) => Val::Int(i.wrapping_neg()),
                Val::Float(f) => Val::Float(-f),
                _ => Val::Null,
            },
            SExpr::Arith(op, l, r) => arith(*op, &l.eval(event, env), &r.eval(event, env)),
            SExpr::Cmp(op, l, r) => {
                let (a, b) = (l.eval(event, env), r.eval(event, env));
                match compare(&a, &b) {
                    Some(o) => Val::Bool(cmp_holds(*op, o)),
                    None => Val::Null,
                }
            }
            SExpr::In {
                value,
                list,
                insensitive,
            } => {
                let v = value.eval(event, env);
                if v == Val::Null {
                    return Val::Null;
                }
                let mut saw_null = false;
                for item in list {
                    let c = item.eval(event, env);
                    if c == Val::Null {
                        saw_null = true;
                        continue;
                    }
                    let eq = match (&v, &c, insensitive) {
                        (Val::Str(a), Val::Str(b), true) => fold(a) == fold(b),
                        _ => compare(&v, &c) == Some(std::cmp::Ordering::Equal),
                    };
                    if eq {
                        return Val::Bool(true);
                    }
                }
                if saw_null {
                    Val::Null
                } else {
                    Val::Bool(false)
                }
            }
            SExpr::Wildcards(v, ws) => match v.eval(event, env) {
                Val::Str(s) => Val::Bool(ws.iter().any(|w| w.matches(&s))),
                _ => Val::Null,
            },
            SExpr::Regex(v, rs) => match v.eval(event, env) {
                Val::Str(s) => Val::Bool(rs.iter().any(|r| r.is_match(&s))),
                _ => Val::Null,
            },
            SExpr::Not(inner) => match inner.eval(event, env) {
                Val::Bool(b) => Val::Bool(!b),
                _ => Val::Null,
            },
            SExpr::And(items) => {
                let mut null = false;
                for i in items {
                    match i.eval(event, env) {
                        Val::Bool(false) => return Val::Bool(false),
                        Val::Bool(true) => {}
                        _ => null = true,
                    }
                }
                if null { Val::Null } else { Val::Bool(true) }
            }
            SExpr::Or(items) => {
                let mut null = false;
                for i in items {
                    match i.eval(event, env) {
                        Val::Bool(true) => return Val::Bool(true),
                        Val::Bool(false) => {}
                        _ => null = true,
                    }
                }
                if null { Val::Null } else { Val::Bool(false) }
            }
            SExpr::Call(func, ci, args) => {
                let vals: Vec<Val<'a>> = args.iter().map(|a| a.eval(event, env)).collect();
                crate::functions::call(*func, *ci, vals)
            }
        }
    }
}

fn arith<'a>(op: ArithOp, a: &Val<'_>, b: &Val<'_>) -> Val<'a> {
    match (a, b) {
        (Val::Int(x), Val::Int(y)) => match op {
            ArithOp::Add => Val::Int(x.wrapping_add(*y)),
            ArithOp::Sub => Val::Int(x.wrapping_sub(*y)),
            ArithOp::Mul => Val::Int(x.wrapping_mul(*y)),
            // Integer division truncates, as Java's does; a zero divisor has no value.
            ArithOp::Div => x.checked_div(*y).map_or(Val::Null, Val::Int),
            ArithOp::Mod => x.checked_rem(*y).map_or(Val::Null, Val::Int),
        },
        _ => {
            let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
                return Val::Null;
            };
            Val::Float(match op {
                ArithOp::Add => x + y,
                ArithOp::Sub => x - y,
                ArithOp::Mul => x * y,
                ArithOp::Div => x / y,
                ArithOp::Mod => x % y,
            })
        }
    }
}

impl CompiledQuery {
    /// Whether the event matches. For an event query, its condition; for a sequence or sample,
    /// whether the event can take part in it (matches some step or the `until` condition) —
    /// use [`CompiledQuery::sequence_matcher`] to find sequences.
    pub fn matches(&self, event: &dyn Event) -> bool {
        match &self.body {
            Body::Event(f) => f.matches(event),
            Body::Sequence(s) => {
                s.steps.iter().any(|st| st.filter.matches(event))
                    || s.until.as_ref().is_some_and(|u| u.filter.matches(event))
            }
            Body::Sample(steps) => steps.iter().any(|st| st.filter.matches(event)),
        }
    }

    /// Which clauses decided the outcome, with the values they saw (the first step's filter for
    /// sequences and samples).
    pub fn explain(&self, event: &dyn Event) -> Explanation {
        match &self.body {
            Body::Event(f) => f.explain(event),
            Body::Sequence(s) => s.steps[0].filter.explain(event),
            Body::Sample(steps) => steps[0].filter.explain(event),
        }
    }

    /// Literals every matching event must contain, in conjunctive normal form. For sequences
    /// and samples, facts common to every step (an event of any step may be needed).
    pub fn required_literals(&self) -> Vec<Vec<RequiredLiteral>> {
        let filters: Vec<&Filter> = match &self.body {
            Body::Event(f) => return f.required(),
            Body::Sequence(s) => s
                .steps
                .iter()
                .chain(s.until.iter())
                .map(|s| &s.filter)
                .collect(),
            Body::Sample(steps) => steps.iter().map(|s| &s.filter).collect(),
        };
        // An event is useful if it matches any filter: the OR of their CNFs.
        let as_or = Node::Or(
            filters
                .iter()
                .map(|f| {
                    let mut parts = vec![f.cond.clone()];
                    if let Some((id, field, cat)) = &f.category {
                        parts.push(Node::Leaf(Box::new(Leaf {
                            clause: format!("{field} == \"{cat}\""),
                            test: Test::Field(
                                CField {
                                    id: *id,
                                    name: field.clone(),
                                    kind: Kind::Keyword { ignore_above: None },
                                },
                                Pred::Eq(Consts::of(&Literal::Str(cat.clone()))),
                            ),
                        })));
                    }
                    Node::And(parts)
                })
                .collect(),
        );
        as_or.required()
    }

    pub fn kind(&self) -> QueryKind {
        match &self.body {
            Body::Event(_) => QueryKind::Event,
            Body::Sequence(_) => QueryKind::Sequence,
            Body::Sample(_) => QueryKind::Sample,
        }
    }

    /// The pipes (`| head N`, `| tail N`) to apply to the results.
    pub fn pipes(&self) -> &[Pipe] {
        &self.pipes
    }

    /// The fields the query reads.
    pub fn fields(&self) -> &[QueryField] {
        &self.fields
    }

    /// Non-optional field names the schema does not know (each once).
    pub fn unknown_fields(&self) -> &[String] {
        &self.unknown_fields
    }

    /// The query in canonical EQL.
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
    use dragnet_event::{JsonEvent, JsonPaths};
    use serde_json::json;

    use super::*;

    fn compiled(q: &str, options: &CompileOptions) -> (CompiledQuery, FieldTable) {
        let mut table = FieldTable::new();
        let parsed = crate::parse(q).unwrap();
        let c = compile_with(&parsed, Schema::builtin(), &mut table, options).unwrap();
        (c, table)
    }

    #[test]
    fn category_field_override() {
        let opts = CompileOptions {
            category_field: "event.dataset".into(),
        };
        let (c, table) = compiled(r#""aws.cloudtrail" where event.action == "X""#, &opts);
        let paths = JsonPaths::bind(&table);
        let doc = json!({"event": {"dataset": "aws.cloudtrail", "action": "X"}});
        assert!(c.matches(&JsonEvent::new(&doc, &paths)));
        let doc = json!({"event": {"category": "aws.cloudtrail", "action": "X"}});
        assert!(!c.matches(&JsonEvent::new(&doc, &paths)));
    }

    #[test]
    fn required_literals_are_sound_facts() {
        let d = CompileOptions::default();
        let lits = |q: &str| compiled(q, &d).0.required_literals();
        let r = lits(r#"any where event.action == "CreateAccessKey" and user.name : "ad*min""#);
        assert_eq!(r.len(), 2);
        assert!(r[0][0].exact && r[0][0].case_sensitive && r[0][0].literal == "CreateAccessKey");
        assert!(!r[1][0].exact && !r[1][0].case_sensitive && r[1][0].literal == "min");
        assert!(lits(r#"any where not event.action == "X""#).is_empty());
        assert!(lits(r#"any where event.action == "X" or length(user.name) > 3"#).is_empty());
        let r = lits(r#"any where event.action in ("A", "B")"#);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].len(), 2);
        // A sequence: an event of either step may be needed, so only a disjunction remains.
        let r = lits(r#"sequence [any where event.action == "A"] [any where event.action == "B"]"#);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].len(), 2);
    }

    #[test]
    fn not_of_a_script_is_a_script_and_null_does_not_match() {
        // Nots.doTranslate (x-pack/plugin/ql ExpressionTranslators): `not` over a script query
        // becomes a script of the negation; `not null` is null, so the event does not match.
        // A `not` over a field query stays a bool must_not (an event without the value matches).
        let d = CompileOptions::default();
        let (c, table) = compiled(r#"any where not (indexOf(s, "e") == 1)"#, &d);
        let paths = JsonPaths::bind(&table);
        let is = |doc: serde_json::Value| c.matches(&JsonEvent::new(&doc, &paths));
        assert!(!is(json!({"s": "read"})), "indexOf = 1");
        assert!(is(json!({"s": "write"})), "indexOf = 4");
        assert!(
            !is(json!({"s": "login"})),
            "indexOf is null: not null is null"
        );
        assert!(!is(json!({"t": "x"})), "missing field: null");
        let (c, table) = compiled(r#"any where not not (indexOf(s, "e") == 1)"#, &d);
        let paths = JsonPaths::bind(&table);
        let doc = json!({"s": "login"});
        assert!(!c.matches(&JsonEvent::new(&doc, &paths)));
        let (c, table) = compiled(r#"any where not s == "x""#, &d);
        let paths = JsonPaths::bind(&table);
        let doc = json!({"t": "y"});
        assert!(c.matches(&JsonEvent::new(&doc, &paths)));
    }

    #[test]
    fn explain_names_the_deciding_clause() {
        let (c, table) = compiled(
            r#"any where event.action == "X" and user.name : "bob""#,
            &CompileOptions::default(),
        );
        let paths = JsonPaths::bind(&table);
        let doc = json!({"event": {"action": "X"}, "user": {"name": "alice"}});
        let e = c.explain(&JsonEvent::new(&doc, &paths));
        assert!(!e.matched);
        let text = e.to_string();
        assert!(text.contains("NO MATCH user.name : \"bob\""), "{text}");
        assert!(text.contains("\"alice\""), "{text}");
    }
}
