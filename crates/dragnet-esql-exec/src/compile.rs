//! ES|QL syntax tree -> DataFusion logical plan.
//!
//! Commands map onto relational operators (`WHERE` a filter, `EVAL` a projection, `STATS` an
//! unnest of multi-valued keys then an aggregation, `SORT`, `LIMIT`, `MV_EXPAND` an unnest);
//! expressions onto ES|QL functions ([`crate::udf`]) over list columns. Types are checked here,
//! as Elasticsearch's analyzer does, so a query that cannot run fails before any data is read.
//! The plan reads its rows from the [`CellTable`] the [`Catalog`] gives `FROM`: where they come
//! from (events, csv-spec data, Parquet) is not the compiler's business.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};

use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::Schema;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, Result as DfResult, UnnestOptions};
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::execution_props::ExecutionProps;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{
    AggregateUDF, Expr as DfExpr, LogicalPlan, LogicalPlanBuilder, SortExpr,
};
use datafusion::physical_expr::create_physical_expr;
use dragnet_esql::{
    Aggregate, BinaryOp, CommandKind, Expr, ExprKind, Field, IndexPattern, Literal, NullsOrder,
    Order, Query, Rename,
};

use crate::aggregates::{AggOp, EsqlAggregate};
use crate::dates::{self, Span as TimeSpan};
use crate::functions::{self, Arith, Kernel, MULTI_VALUE, arith, arith_type, ip_text, single};
use crate::table::CellTable;
use crate::types::EsqlType;
use crate::udf::{EsqlFunction, Origin, Output, Warnings};
use crate::value::{Column as ValueColumn, Mv, Val, literal};

/// Names of the hidden boolean columns that carry a full-text function's result (`KQL("…")`)
/// start with this (a character no mapping names a field with). A source that can evaluate
/// the function on its documents adds the column ([`full_text_column`]); the compiler never
/// shows it to `*`, `KEEP` or the output.
pub const FULL_TEXT_COLUMN_PREFIX: &str = "\u{1}";

/// The hidden column a source adds to carry `FUNCTION("query")` for each of its rows (the
/// function's name in lower case, e.g. `kql`).
pub fn full_text_column(function: &str, query: &str) -> String {
    format!("{FULL_TEXT_COLUMN_PREFIX}{function}:{query}")
}

/// Where `FROM` reads: the table for a list of index patterns.
pub trait Catalog {
    /// The table `FROM indices METADATA metadata` reads, or why it cannot.
    fn table(
        &self,
        indices: &[IndexPattern],
        metadata: &[String],
    ) -> Result<Arc<CellTable>, String>;
}

/// One table whatever `FROM` names: a source of a single dataset (the output of another
/// query, a test table).
impl Catalog for Arc<CellTable> {
    fn table(&self, _: &[IndexPattern], _: &[String]) -> Result<Arc<CellTable>, String> {
        Ok(self.clone())
    }
}

/// A compile error: the message and where in the query it points.
#[derive(Clone, Debug, PartialEq)]
pub struct CompileError {
    pub message: String,
    pub span: Option<dragnet_esql::Span>,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

type CResult<T> = Result<T, CompileError>;

fn err<T>(message: impl Into<String>, span: Option<dragnet_esql::Span>) -> CResult<T> {
    Err(CompileError {
        message: message.into(),
        span,
    })
}

fn df<T>(r: DfResult<T>) -> CResult<T> {
    r.map_err(|e| CompileError {
        message: format!("planning failed: {e}"),
        span: None,
    })
}

/// A compiled query.
pub struct Compiled {
    pub plan: LogicalPlan,
    /// The result's columns with their ES|QL types, in order.
    pub columns: Vec<(String, EsqlType)>,
    /// The table `FROM` reads (none for `ROW`).
    pub table: Option<Arc<CellTable>>,
}

/// What the compiler needs besides the query.
pub struct Options<'a> {
    pub catalog: &'a dyn Catalog,
    /// `NOW()`, in epoch milliseconds.
    pub now_ms: i64,
    /// When set, `NOW()` reads this clock at run time instead of `now_ms` (a plan prepared
    /// once and run for many executions of a rule).
    pub now_clock: Option<Arc<AtomicI64>>,
    /// The limit ES|QL applies to a query without `LIMIT` (1,000 in Elasticsearch); `None`
    /// for none (detection rules, which Kibana bounds by `max_signals`).
    pub default_limit: Option<usize>,
    pub warnings: Warnings,
}

#[derive(Clone, Debug)]
struct Col {
    name: String,
    ty: EsqlType,
}

/// An expression with its type, and its value when known at plan time.
struct Typed {
    expr: DfExpr,
    ty: EsqlType,
    constant: Option<Mv>,
    span: Option<TimeSpan>,
}

pub fn compile(query: &Query, text: &str, options: &Options<'_>) -> CResult<Compiled> {
    if let Some(reason) = dragnet_esql::unsupported(query) {
        return err(reason.reason, Some(reason.span));
    }
    let mut c = Compiler {
        text,
        options,
        env: Vec::new(),
        builder: None,
        table: None,
        limited: false,
        foldable: Vec::new(),
        full_text: Err(FullTextPlace::Outside),
        reshaped_by: None,
        pending_filter: Vec::new(),
    };
    for command in query.commands() {
        c.full_text = match (&command.kind, &c.reshaped_by) {
            (CommandKind::Where(_), None) => Ok(()),
            (CommandKind::Where(_), Some(after)) => Err(FullTextPlace::After(after.clone())),
            _ => Err(FullTextPlace::Outside),
        };
        if !matches!(command.kind, CommandKind::Where(_)) {
            c.apply_pending_filter()?;
        }
        c.command(&command.kind, command.span)?;
        if !matches!(
            command.kind,
            CommandKind::From { .. } | CommandKind::Where(_)
        ) && c.reshaped_by.is_none()
        {
            c.reshaped_by = Some(command_keyword(text, command.span));
        }
    }
    c.apply_pending_filter()?;
    if !c.limited
        && let Some(limit) = options.default_limit
    {
        c.map(|b| b.limit(0, Some(limit)))?;
    }
    // Pin the output to the environment's names and order.
    let exprs: Vec<DfExpr> = c.env.iter().map(|col| column(&col.name)).collect();
    c.map(|b| b.project(exprs))?;
    let plan = df(c.builder.take().expect("a source command ran").build())?;
    Ok(Compiled {
        plan,
        columns: c.env.iter().map(|col| (col.name.clone(), col.ty)).collect(),
        table: c.table,
    })
}

fn column(name: &str) -> DfExpr {
    DfExpr::Column(Column::new_unqualified(name))
}

struct Compiler<'a> {
    text: &'a str,
    options: &'a Options<'a>,
    env: Vec<Col>,
    builder: Option<LogicalPlanBuilder>,
    table: Option<Arc<CellTable>>,
    limited: bool,
    /// Columns EVAL computed from constants alone, each as an expression over no column:
    /// Elasticsearch's optimizer propagates them into LIKE/RLIKE patterns (where-like.csv-spec
    /// likeEvalPropagatedConcat, likeMultiLevelEvalChain).
    foldable: Vec<(String, DfExpr)>,
    /// Whether a full-text function may appear in the expression being compiled.
    full_text: Result<(), FullTextPlace>,
    /// The first command after `FROM` that is not a `WHERE`: full-text functions filter the
    /// source's documents, so Elasticsearch refuses them after such a command.
    reshaped_by: Option<String>,
    /// The condition of the `WHERE`s just compiled, not yet applied: Elasticsearch combines
    /// adjacent `WHERE`s into one `AND` (`PushDownAndCombineFilters`), which evaluates both
    /// sides on every row, so the second one warns on rows the first drops too
    /// (boolean.csv-spec in).
    pending_filter: Vec<(Typed, dragnet_esql::Span)>,
}

/// `AND` (`is_and`) or `OR` over every argument, in Kleene logic: false AND null = false,
/// true OR null = true.
fn logic_kernel(is_and: bool) -> Kernel {
    Arc::new(move |args: &[Mv]| {
        let mut unknown = false;
        for a in args {
            match single(a)? {
                Some(Val::Bool(b)) if *b != is_and => return Ok(vec![Val::Bool(*b)]),
                Some(_) => {}
                None => unknown = true,
            }
        }
        Ok(if unknown {
            Vec::new()
        } else {
            vec![Val::Bool(is_and)]
        })
    })
}

/// Why a full-text function cannot appear where it is.
enum FullTextPlace {
    Outside,
    After(String),
}

/// The command's keyword as written (`LIMIT`, `STATS`, …), upper-cased.
fn command_keyword(text: &str, span: dragnet_esql::Span) -> String {
    let source = text.get(span.start..span.end).unwrap_or_default();
    let word: String = source
        .trim_start_matches(|c: char| c == '|' || c.is_whitespace())
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    word.to_ascii_uppercase()
}

impl Compiler<'_> {
    fn map(
        &mut self,
        f: impl FnOnce(LogicalPlanBuilder) -> DfResult<LogicalPlanBuilder>,
    ) -> CResult<()> {
        let b = self.builder.take().expect("a source command ran");
        self.builder = Some(df(f(b))?);
        Ok(())
    }

    fn origin(&self, span: dragnet_esql::Span) -> Origin {
        let (line, column) = dragnet_esql::line_col(self.text, span.start);
        let text = self
            .text
            .get(span.start..span.end)
            .unwrap_or_default()
            .to_string();
        Origin { line, column, text }
    }

    fn lookup(&self, name: &str, span: dragnet_esql::Span) -> CResult<&Col> {
        match self.env.iter().find(|c| c.name == name) {
            Some(c) => Ok(c),
            None => err(format!("Unknown column [{name}]"), Some(span)),
        }
    }

    fn call(
        &self,
        label: &str,
        kernel: Kernel,
        args: Vec<Typed>,
        ret: EsqlType,
        output: Output,
        span: dragnet_esql::Span,
    ) -> Typed {
        let types = args.iter().map(|a| a.ty).collect();
        let udf = EsqlFunction::udf(
            label,
            kernel,
            types,
            ret,
            output,
            self.options.warnings.clone(),
            self.origin(span),
        );
        Typed {
            expr: Arc::new(udf).call(args.into_iter().map(|a| a.expr).collect()),
            ty: ret,
            constant: None,
            span: None,
        }
    }

    /// The plan's projection of every environment column plus `extra` (replacing same names).
    fn project_with(&mut self, extra: Vec<(String, Typed)>) -> CResult<()> {
        for (name, t) in &extra {
            self.env.retain(|c| &c.name != name);
            self.env.push(Col {
                name: name.clone(),
                ty: t.ty,
            });
        }
        let mut exprs: Vec<DfExpr> = Vec::new();
        for col in &self.env {
            match extra.iter().find(|(n, _)| n == &col.name) {
                Some((n, t)) => exprs.push(t.expr.clone().alias(n)),
                None => exprs.push(column(&col.name)),
            }
        }
        self.map(|b| b.project(exprs))
    }

    fn command(&mut self, kind: &CommandKind, span: dragnet_esql::Span) -> CResult<()> {
        // Commands that may redefine a column forget which columns are constant.
        if !matches!(
            kind,
            CommandKind::Eval(_)
                | CommandKind::Where(_)
                | CommandKind::Sort(_)
                | CommandKind::Limit(_)
                | CommandKind::Keep(_)
                | CommandKind::Drop(_)
        ) {
            self.foldable.clear();
        }
        match kind {
            CommandKind::From {
                indices, metadata, ..
            } => {
                let table =
                    self.options
                        .catalog
                        .table(indices, metadata)
                        .map_err(|m| CompileError {
                            message: m,
                            span: Some(span),
                        })?;
                self.env = table
                    .columns()
                    .iter()
                    .filter(|(n, _)| !n.starts_with(FULL_TEXT_COLUMN_PREFIX))
                    .map(|(n, t)| Col {
                        name: n.clone(),
                        ty: *t,
                    })
                    .collect();
                let source = provider_as_source(table.clone());
                self.builder = Some(df(LogicalPlanBuilder::scan("source", source, None))?);
                self.table = Some(table);
            }
            CommandKind::Row(fields) => {
                self.builder = Some(LogicalPlanBuilder::empty(true));
                self.eval(fields)?;
            }
            CommandKind::Where(cond) => {
                let t = self.expr(cond)?;
                if !matches!(t.ty, EsqlType::Boolean | EsqlType::Null) {
                    return err(
                        format!("Condition expression needs to be boolean, found [{}]", t.ty),
                        Some(cond.span),
                    );
                }
                self.pending_filter.push((t, cond.span));
            }
            CommandKind::Eval(fields) => self.eval(fields)?,
            CommandKind::Stats {
                aggregates,
                groups,
                inline: false,
            } => self.stats(aggregates, groups, span)?,
            CommandKind::Keep(patterns) => {
                let kept = self.keep(patterns, span)?;
                self.env = kept;
                self.project_with(Vec::new())?;
            }
            CommandKind::Drop(patterns) => {
                // Every name resolves against DROP's input, so one dropped twice is no error
                // (drop.csv-spec shadowingInternal, subfieldsWildcard).
                for p in patterns {
                    if !self.env.iter().any(|c| wildcard_match(p, &c.name)) {
                        if p.contains('*') {
                            return err(format!("No matches found for pattern [{p}]"), Some(span));
                        }
                        return err(format!("Unknown column [{p}]"), Some(span));
                    }
                }
                self.env
                    .retain(|c| !patterns.iter().any(|p| wildcard_match(p, &c.name)));
                self.project_with(Vec::new())?;
            }
            CommandKind::Rename(renames) => self.rename(renames, span)?,
            CommandKind::Sort(keys) => {
                let mut sorts = Vec::new();
                for key in keys {
                    let t = self.expr(&key.expr)?;
                    let desc = key.order == Some(Order::Desc);
                    let nulls_first = match key.nulls {
                        Some(NullsOrder::First) => true,
                        Some(NullsOrder::Last) => false,
                        // Nulls sort as larger than any value.
                        None => desc,
                    };
                    // A multi-value sorts by its least value ascending, its greatest descending.
                    let ty = t.ty;
                    let kernel: Kernel = Arc::new(move |args: &[Mv]| {
                        let mut best: Option<&Val> = None;
                        for v in &args[0] {
                            let better = match best {
                                None => true,
                                Some(b) => {
                                    let o = v.compare(b);
                                    if desc {
                                        o == Some(std::cmp::Ordering::Greater)
                                    } else {
                                        o == Some(std::cmp::Ordering::Less)
                                    }
                                }
                            };
                            if better {
                                best = Some(v);
                            }
                        }
                        Ok(best.cloned().into_iter().collect())
                    });
                    let k = self.call(
                        "esql_sort_key",
                        kernel,
                        vec![t],
                        ty,
                        Output::Cells,
                        key.expr.span,
                    );
                    sorts.push(SortExpr::new(k.expr, !desc, nulls_first));
                }
                self.map(|b| b.sort(sorts))?;
            }
            CommandKind::Limit(n) => {
                let n = usize::try_from(*n).unwrap_or(usize::MAX);
                self.map(|b| b.limit(0, Some(n)))?;
                self.limited = true;
            }
            CommandKind::Dissect {
                input,
                pattern,
                options,
            } => {
                let mut separator = String::new();
                for (name, value) in options {
                    if !name.eq_ignore_ascii_case("append_separator") {
                        return err(format!("Invalid option for dissect: [{name}]"), Some(span));
                    }
                    match &value.kind {
                        ExprKind::Literal(Literal::String(s)) => separator = s.clone(),
                        _ => {
                            return err(
                                "Invalid value for dissect append_separator: expected a string",
                                Some(value.span),
                            );
                        }
                    }
                }
                let dissect = crate::pattern::Dissect::parse(pattern, &separator).map_err(|m| {
                    CompileError {
                        message: m,
                        span: Some(span),
                    }
                })?;
                let source = self.expr(input)?;
                self.require_string(&source, input.span, "DISSECT")?;
                let dissect = Arc::new(dissect);
                let mut outs = Vec::new();
                for (k, key) in dissect.keys.iter().enumerate() {
                    let d = dissect.clone();
                    let kernel: Kernel = Arc::new(move |args: &[Mv]| {
                        let mut out = Vec::new();
                        for v in &args[0] {
                            if let Some(values) = d.apply(v.as_str().unwrap_or_default()) {
                                out.push(Val::Str(values[k].clone()));
                            }
                        }
                        Ok(out)
                    });
                    let arg = Typed {
                        expr: source.expr.clone(),
                        ty: source.ty,
                        constant: None,
                        span: None,
                    };
                    outs.push((
                        key.clone(),
                        self.call(
                            "esql_dissect",
                            kernel,
                            vec![arg],
                            EsqlType::Keyword,
                            Output::Cells,
                            span,
                        ),
                    ));
                }
                self.project_with(outs)?;
            }
            CommandKind::Grok { input, patterns } => {
                // Several patterns: the first that matches a value extracts from it, and the
                // outputs are every pattern's keys (grok.csv-spec multiPatterns, multiPatterns2).
                let groks = patterns
                    .iter()
                    .map(|p| crate::pattern::Grok::compile(p))
                    .collect::<Result<Vec<_>, String>>()
                    .map_err(|m| CompileError {
                        message: m,
                        span: Some(span),
                    })?;
                let mut keys: Vec<(String, EsqlType)> = Vec::new();
                for grok in &groks {
                    for (key, ty) in &grok.keys {
                        match keys.iter().find(|(k, _)| k == key) {
                            Some((_, seen)) if seen != ty => {
                                return err(
                                    format!(
                                        "Invalid GROK patterns: key [{key}] is of type [{seen}] in one pattern and [{ty}] in another"
                                    ),
                                    Some(span),
                                );
                            }
                            Some(_) => {}
                            None => keys.push((key.clone(), *ty)),
                        }
                    }
                }
                let source = self.expr(input)?;
                self.require_string(&source, input.span, "GROK")?;
                let groks = Arc::new(groks);
                let mut outs = Vec::new();
                for (key, ty) in &keys {
                    let g = groks.clone();
                    let key_name = key.clone();
                    let kernel: Kernel = Arc::new(move |args: &[Mv]| {
                        let mut out = Vec::new();
                        for v in &args[0] {
                            let text = v.as_str().unwrap_or_default();
                            let Some((grok, mut values)) =
                                g.iter().find_map(|grok| Some((grok, grok.apply(text)?)))
                            else {
                                continue;
                            };
                            if let Some(k) = grok.keys.iter().position(|(n, _)| n == &key_name) {
                                out.append(&mut values[k]);
                            }
                        }
                        Ok(out)
                    });
                    let arg = Typed {
                        expr: source.expr.clone(),
                        ty: source.ty,
                        constant: None,
                        span: None,
                    };
                    outs.push((
                        key.clone(),
                        self.call("esql_grok", kernel, vec![arg], *ty, Output::Cells, span),
                    ));
                }
                self.project_with(outs)?;
            }
            CommandKind::MvExpand(name) => {
                let ty = self.lookup(name, span)?.ty;
                let position = self
                    .env
                    .iter()
                    .position(|c| &c.name == name)
                    .expect("looked up");
                let name = name.clone();
                self.map(|b| {
                    b.unnest_column_with_options(
                        Column::new_unqualified(&name),
                        UnnestOptions::new().with_preserve_nulls(true),
                    )
                })?;
                let wrapped = self.wrap(column(&name), ty, span);
                self.project_with(vec![(name, wrapped)])?;
                // The expanded column keeps its place (mv_expand.csv-spec simple, explosion).
                let expanded = self.env.pop().expect("the expanded column");
                self.env.insert(position, expanded);
            }
            other => {
                return err(
                    format!("{} is not supported by dragnet", command_name(other)),
                    Some(span),
                );
            }
        }
        Ok(())
    }

    /// A plain column (a grouping key, an unnested value) back into a list column.
    fn wrap(&self, expr: DfExpr, ty: EsqlType, span: dragnet_esql::Span) -> Typed {
        let kernel: Kernel = Arc::new(|args: &[Mv]| Ok(args[0].clone()));
        self.call(
            "esql_cell",
            kernel,
            vec![Typed {
                expr,
                ty,
                constant: None,
                span: None,
            }],
            ty,
            Output::Cells,
            span,
        )
    }

    /// `KQL("query")`: true when the row's source document matches the KQL query. It filters
    /// documents (Elasticsearch runs it as a Lucene query against the index), so it reads the
    /// hidden column the source computed for it, and only where the documents are still the
    /// rows: in a `WHERE` before any other command, as Elasticsearch's verifier requires
    /// ("[KQL] function cannot be used after LIMIT").
    fn kql(&self, args: &[Expr], e: &Expr) -> CResult<Typed> {
        match &self.full_text {
            Ok(()) => {}
            Err(FullTextPlace::Outside) => {
                return err(
                    "[KQL] function is only supported in WHERE commands",
                    Some(e.span),
                );
            }
            Err(FullTextPlace::After(command)) => {
                return err(
                    format!("[KQL] function cannot be used after {command}"),
                    Some(e.span),
                );
            }
        }
        let query = match args {
            [
                Expr {
                    kind: ExprKind::Literal(Literal::String(q)),
                    ..
                },
            ] => q,
            [_] => {
                return err(
                    "argument of [KQL] must be a constant string (the KQL query)",
                    Some(e.span),
                );
            }
            _ => return err("KQL takes 1 argument: the KQL query", Some(e.span)),
        };
        let name = full_text_column("kql", query);
        let present = self
            .table
            .as_ref()
            .is_some_and(|t| t.columns().iter().any(|(n, _)| *n == name));
        if !present {
            return err(
                "[KQL] needs the source's documents to run the KQL query on, and this source does not provide them",
                Some(e.span),
            );
        }
        Ok(Typed {
            expr: column(&name),
            ty: EsqlType::Boolean,
            constant: None,
            span: None,
        })
    }

    /// Filters the rows by the pending `WHERE` condition, if any.
    fn apply_pending_filter(&mut self) -> CResult<()> {
        let mut conditions = std::mem::take(&mut self.pending_filter);
        let (t, span) = match conditions.len() {
            0 => return Ok(()),
            1 => conditions.remove(0),
            _ => {
                let first = conditions[0].1;
                // Each condition still fails on a multi-valued cell at its own place.
                let singles = conditions
                    .into_iter()
                    .map(|(t, span)| {
                        let kernel: Kernel = Arc::new(|args: &[Mv]| match args[0].as_slice() {
                            [] | [_] => Ok(args[0].clone()),
                            _ => Err(MULTI_VALUE.into()),
                        });
                        self.call(
                            "esql_single",
                            kernel,
                            vec![t],
                            EsqlType::Boolean,
                            Output::Cells,
                            span,
                        )
                    })
                    .collect();
                let and = self.call(
                    "esql_and",
                    logic_kernel(true),
                    singles,
                    EsqlType::Boolean,
                    Output::Cells,
                    first,
                );
                (and, first)
            }
        };
        let truth = self.truth(t, span);
        self.map(|b| b.filter(truth))?;
        Ok(())
    }

    fn truth(&self, t: Typed, span: dragnet_esql::Span) -> DfExpr {
        let kernel: Kernel = Arc::new(|args: &[Mv]| match args[0].as_slice() {
            [] | [_] => Ok(args[0].clone()),
            _ => Err(MULTI_VALUE.into()),
        });
        self.call(
            "esql_true",
            kernel,
            vec![t],
            EsqlType::Boolean,
            Output::Truth,
            span,
        )
        .expr
    }

    fn require_string(&self, t: &Typed, span: dragnet_esql::Span, what: &str) -> CResult<()> {
        if t.ty.is_string() || t.ty == EsqlType::Null {
            Ok(())
        } else {
            err(
                format!(
                    "{what} only supports KEYWORD or TEXT values, found expression [{}] type [{}]",
                    self.origin(span).text,
                    t.ty
                ),
                Some(span),
            )
        }
    }

    fn eval(&mut self, fields: &[Field]) -> CResult<()> {
        for field in fields {
            let t = self.expr(&field.expr)?;
            if matches!(t.ty, EsqlType::TimeDuration | EsqlType::DatePeriod) {
                return err(
                    format!(
                        "EVAL does not support type [{}] as the return data type of expression [{}]",
                        t.ty, field.name
                    ),
                    Some(field.expr.span),
                );
            }
            let closed = self.inline_foldable(&t.expr);
            self.foldable.retain(|(n, _)| n != &field.name);
            if let Some(closed) = closed {
                self.foldable.push((field.name.clone(), closed));
            }
            self.project_with(vec![(field.name.clone(), t)])?;
        }
        Ok(())
    }

    /// `expr` with each column EVAL computed from constants replaced by its expression, if
    /// every column it reads is one of those.
    fn inline_foldable(&self, expr: &DfExpr) -> Option<DfExpr> {
        let mut closed = true;
        let inlined = expr
            .clone()
            .transform(|e| {
                if let DfExpr::Column(c) = &e {
                    match self.foldable.iter().find(|(n, _)| n == &c.name) {
                        Some((_, f)) => return Ok(Transformed::yes(f.clone())),
                        None => closed = false,
                    }
                }
                Ok(Transformed::no(e))
            })
            .ok()?
            .data;
        closed.then_some(inlined)
    }

    /// The value of an expression over no column, computed now (LIKE/RLIKE patterns must be
    /// known when the query is planned).
    fn fold(&self, expr: &DfExpr, ty: EsqlType) -> Option<Mv> {
        let closed = self.inline_foldable(expr)?;
        let physical = create_physical_expr(
            &closed,
            &DFSchema::empty(),
            &ExecutionProps::new(),
            &PhysicalPlanningContext::default(),
        )
        .ok()?;
        let one_row = RecordBatch::try_new_with_options(
            Arc::new(Schema::empty()),
            Vec::new(),
            &RecordBatchOptions::new().with_row_count(Some(1)),
        )
        .ok()?;
        let array = physical.evaluate(&one_row).ok()?.into_array(1).ok()?;
        Some(ValueColumn::new(&array, ty).get(0))
    }

    fn keep(&self, patterns: &[String], span: dragnet_esql::Span) -> CResult<Vec<Col>> {
        // Each column goes to the pattern of highest priority naming it, the right-most of
        // equal ones: an exact name, then a partial wildcard (`last*`), then `*` (Elasticsearch's
        // KEEP docs; keep.csv-spec shadowingInternalWildcard). Columns are ordered by it.
        let mut placed: Vec<(usize, usize, usize)> = Vec::new(); // (pattern, specificity, env index)
        for (pi, p) in patterns.iter().enumerate() {
            let exact = !p.contains('*');
            let mut any = false;
            for (ci, col) in self.env.iter().enumerate() {
                if !wildcard_match(p, &col.name) {
                    continue;
                }
                any = true;
                let specificity = if exact {
                    2
                } else if p.chars().all(|c| c == '*') {
                    0
                } else {
                    1
                };
                match placed.iter_mut().find(|(_, _, c)| *c == ci) {
                    Some(slot) if specificity >= slot.1 => *slot = (pi, specificity, ci),
                    Some(_) => {}
                    None => placed.push((pi, specificity, ci)),
                }
            }
            if !any {
                if exact {
                    return err(format!("Unknown column [{p}]"), Some(span));
                }
                return err(format!("No matches found for pattern [{p}]"), Some(span));
            }
        }
        placed.sort_by_key(|(pi, _, ci)| (*pi, *ci));
        Ok(placed
            .into_iter()
            .map(|(_, _, ci)| self.env[ci].clone())
            .collect())
    }

    fn rename(&mut self, renames: &[Rename], span: dragnet_esql::Span) -> CResult<()> {
        for r in renames {
            let Some(i) = self.env.iter().position(|c| c.name == r.old) else {
                return err(format!("Unknown column [{}]", r.old), Some(span));
            };
            if r.old == r.new {
                continue;
            }
            let ty = self.env[i].ty;
            let old = r.old.clone();
            let new = r.new.clone();
            // The renamed column keeps its place; a column already named `new` goes.
            let mut exprs = Vec::new();
            let mut env = Vec::new();
            for (j, col) in self.env.iter().enumerate() {
                if j == i {
                    exprs.push(column(&old).alias(&new));
                    env.push(Col {
                        name: new.clone(),
                        ty,
                    });
                } else if col.name != new {
                    exprs.push(column(&col.name));
                    env.push(col.clone());
                }
            }
            self.env = env;
            self.map(|b| b.project(exprs))?;
        }
        Ok(())
    }

    fn stats(
        &mut self,
        aggregates: &[Aggregate],
        groups: &[Field],
        span: dragnet_esql::Span,
    ) -> CResult<()> {
        self.warn_shadowed(aggregates, groups);
        // Of grouping keys of one name only the last groups (stats.csv-spec
        // nestedAggsOverGroupingTwiceWithAlias, byTwoCalculatedSecondSameNameAsFirst).
        let groups: Vec<Field> = groups
            .iter()
            .enumerate()
            .filter(|(i, g)| !groups[i + 1..].iter().any(|later| later.name == g.name))
            .map(|(_, g)| g.clone())
            .collect();
        let groups = groups.as_slice();
        // 1. Grouping keys that are expressions become columns; every key then unnests, so a
        //    row with a multi-valued key joins the group of each value (a null key: its own).
        let mut key_cols: Vec<Col> = Vec::new();
        let mut computed = Vec::new();
        for g in groups {
            let name = g.name.clone();
            match &g.expr.kind {
                ExprKind::Field(f) if f == &name => {
                    let ty = self.lookup(f, g.expr.span)?.ty;
                    key_cols.push(Col { name, ty });
                }
                _ => {
                    let t = self.expr(&g.expr)?;
                    key_cols.push(Col {
                        name: name.clone(),
                        ty: t.ty,
                    });
                    computed.push((name, t));
                }
            }
        }
        // An output that is an expression over aggregates and grouping keys (`MIN(a) + 1`,
        // `length(key) + COUNT(*)`) becomes, as in Elasticsearch's planner, an aggregation of
        // its inner aggregate calls followed by an evaluation over their results and the keys
        // (csv-spec stats:nestedAggsNoGrouping, stats:nestedAggsOverGroupingWithAlias).
        let key_names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
        let mut inner: Vec<Aggregate> = Vec::new();
        let mut outputs: Vec<(String, Result<usize, Expr>)> = Vec::new();
        for agg in aggregates {
            let e = &agg.field.expr;
            if is_aggregate_call(e) {
                outputs.push((agg.field.name.clone(), Ok(inner.len())));
                inner.push(Aggregate {
                    field: Field {
                        name: format!("__agg{}", inner.len()),
                        expr: e.clone(),
                    },
                    filter: agg.filter.clone(),
                });
                continue;
            }
            let mut calls = Vec::new();
            let mut reads_key_or_aggregate = false;
            let rewritten = self.split_aggregates(
                e,
                groups,
                &key_names,
                inner.len(),
                &mut calls,
                &mut reads_key_or_aggregate,
            )?;
            if calls.is_empty() && !reads_key_or_aggregate {
                return err(
                    format!(
                        "expected an aggregate function but found [{}]",
                        self.origin(e.span).text
                    ),
                    Some(e.span),
                );
            }
            for call in calls {
                inner.push(Aggregate {
                    field: Field {
                        name: format!("__agg{}", inner.len()),
                        expr: call,
                    },
                    filter: agg.filter.clone(),
                });
            }
            outputs.push((agg.field.name.clone(), Err(rewritten)));
        }
        // Aggregate arguments and filters see the columns before the keys were computed
        // over them: evaluate them first as hidden columns.
        let mut agg_exprs = Vec::new();
        let mut hidden = Vec::new();
        for (i, agg) in inner.iter().enumerate() {
            let agg = Aggregate {
                field: Field {
                    name: agg.field.name.clone(),
                    expr: substitute_keys(&agg.field.expr, groups)?,
                },
                filter: match &agg.filter {
                    Some(f) => Some(substitute_keys(f, groups)?),
                    None => None,
                },
            };
            let (call, filter) = self.aggregate(&agg, &mut hidden, i)?;
            agg_exprs.push((call, filter));
        }
        let mut extra: Vec<(String, Typed)> = hidden;
        extra.extend(computed);
        if !extra.is_empty() {
            self.project_with(extra)?;
        }
        let mut seen_keys = Vec::new();
        for key in &key_cols {
            if seen_keys.contains(&key.name) {
                continue;
            }
            seen_keys.push(key.name.clone());
            let name = key.name.clone();
            self.map(|b| {
                b.unnest_column_with_options(
                    Column::new_unqualified(&name),
                    UnnestOptions::new().with_preserve_nulls(true),
                )
            })?;
        }
        let group_exprs: Vec<DfExpr> = seen_keys.iter().map(|k| column(k)).collect();
        let aggr: Vec<DfExpr> = agg_exprs
            .iter()
            .enumerate()
            .map(|(i, ((udaf, arg, _), filter))| {
                DfExpr::AggregateFunction(AggregateFunction::new_udf(
                    udaf.clone(),
                    vec![arg.clone()],
                    false,
                    filter.clone().map(Box::new),
                    vec![],
                    None,
                ))
                .alias(format!("__agg{i}"))
            })
            .collect();
        self.map(|b| b.aggregate(group_exprs, aggr))?;
        // 2. The aggregates' results and the keys (back as list columns), which the outputs
        //    that are expressions are evaluated over.
        let mut stage: Vec<DfExpr> = Vec::new();
        let mut stage_env: Vec<Col> = Vec::new();
        for (i, ((_, _, ty), _)) in agg_exprs.iter().enumerate() {
            let name = format!("__agg{i}");
            stage.push(column(&name));
            stage_env.push(Col { name, ty: *ty });
        }
        for key in &key_cols {
            if !seen_keys.contains(&key.name) || stage_env.iter().any(|c| c.name == key.name) {
                continue;
            }
            let wrapped = self.wrap(column(&key.name), key.ty, span);
            stage.push(wrapped.expr.alias(&key.name));
            stage_env.push(key.clone());
        }
        self.map(|b| b.project(stage))?;
        self.env = stage_env;
        // 3. Output: aggregates in order, then the keys; a later name wins over an earlier one
        //    and a key over an aggregate of the same name.
        let mut out: Vec<(String, DfExpr, EsqlType)> = Vec::new();
        for (name, output) in &outputs {
            let (expr, ty) = match output {
                Ok(i) => (column(&format!("__agg{i}")), agg_exprs[*i].0.2),
                Err(e) => {
                    let t = self.expr(e)?;
                    (t.expr, t.ty)
                }
            };
            out.retain(|(n, _, _)| n != name);
            out.push((name.clone(), expr, ty));
        }
        for key in &key_cols {
            if !seen_keys.contains(&key.name) {
                continue;
            }
            out.retain(|(n, _, _)| n != &key.name);
            out.push((key.name.clone(), column(&key.name), key.ty));
        }
        let exprs: Vec<DfExpr> = out.iter().map(|(n, e, _)| e.clone().alias(n)).collect();
        self.map(|b| b.project(exprs))?;
        self.env = out
            .into_iter()
            .map(|(name, _, ty)| Col { name, ty })
            .collect();
        Ok(())
    }

    /// Elasticsearch's warning for each STATS output hidden by a later one of the same name
    /// (the last grouping key of a name wins, else the last aggregate): `Field 'x' shadowed by
    /// field at line L:C`, at the hidden one (stats.csv-spec shadowingInternalWithGroup,
    /// IfDuplicateNamesGroupingHasPriority).
    fn warn_shadowed(&self, aggregates: &[Aggregate], groups: &[Field]) {
        let fields: Vec<(&Field, bool)> = aggregates
            .iter()
            .map(|a| (&a.field, false))
            .chain(groups.iter().map(|g| (g, true)))
            .collect();
        for (i, (field, _)) in fields.iter().enumerate() {
            let same: Vec<usize> = (0..fields.len())
                .filter(|j| fields[*j].0.name == field.name)
                .collect();
            let winner = same
                .iter()
                .rev()
                .find(|j| fields[**j].1)
                .or(same.last())
                .copied()
                .unwrap_or(i);
            if winner == i {
                continue;
            }
            let (line, column) = dragnet_esql::line_col(self.text, self.name_start(field));
            let (winner_line, winner_column) =
                dragnet_esql::line_col(self.text, self.name_start(fields[winner].0));
            self.options.warnings.note(
                line,
                column,
                &format!(
                    "Field '{}' shadowed by field at line {winner_line}:{winner_column}",
                    field.name
                ),
            );
        }
    }

    /// Where `field` starts in the query: at its name in `name = expr`, else at its expression.
    fn name_start(&self, field: &Field) -> usize {
        let start = field.expr.span.start;
        let bytes = self.text.as_bytes();
        let skip_space = |mut i: usize| {
            while i > 0 && bytes[i - 1].is_ascii_whitespace() {
                i -= 1;
            }
            i
        };
        let mut i = skip_space(start.min(bytes.len()));
        if i == 0 || bytes[i - 1] != b'=' {
            return start;
        }
        i = skip_space(i - 1);
        if i > 0 && bytes[i - 1] == b'`' {
            i -= 1;
            while i > 0 && bytes[i - 1] != b'`' {
                i -= 1;
            }
            return i.saturating_sub(1);
        }
        while i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || b"_.@".contains(&bytes[i - 1])) {
            i -= 1;
        }
        i
    }

    /// `e` with each aggregate call replaced by a reference to `__agg{first + n}` (the call
    /// pushed onto `calls`) and each grouping expression by its key: what is left is evaluated
    /// after the aggregation. A column outside an aggregate must be a grouping key.
    fn split_aggregates(
        &self,
        e: &Expr,
        groups: &[Field],
        key_names: &[String],
        first: usize,
        calls: &mut Vec<Expr>,
        reads_key_or_aggregate: &mut bool,
    ) -> CResult<Expr> {
        if let ExprKind::Call { name, args, .. } = &e.kind
            && name.eq_ignore_ascii_case("weighted_avg")
        {
            *reads_key_or_aggregate = true;
            let surrogate = self.weighted_average(args, e)?;
            return self.split_aggregates(
                &surrogate,
                groups,
                key_names,
                first,
                calls,
                reads_key_or_aggregate,
            );
        }
        if is_aggregate_call(e) {
            let name = format!("__agg{}", first + calls.len());
            calls.push(e.clone());
            return Ok(Expr::new(ExprKind::Field(name), e.span));
        }
        if let Some(g) = groups
            .iter()
            .find(|g| !matches!(g.expr.kind, ExprKind::Field(_)) && g.expr == *e)
        {
            *reads_key_or_aggregate = true;
            return Ok(Expr::new(ExprKind::Field(g.name.clone()), e.span));
        }
        if let ExprKind::Field(name) = &e.kind {
            if !key_names.contains(name) {
                return err(
                    format!(
                        "column [{name}] must appear in the STATS BY clause or be used in an aggregate function"
                    ),
                    Some(e.span),
                );
            }
            *reads_key_or_aggregate = true;
            return Ok(e.clone());
        }
        let kind = map_children(e, &mut |x: &Expr| {
            self.split_aggregates(x, groups, key_names, first, calls, reads_key_or_aggregate)
        })?;
        Ok(Expr::new(kind, e.span))
    }

    #[allow(clippy::type_complexity)]
    fn aggregate(
        &mut self,
        agg: &Aggregate,
        hidden: &mut Vec<(String, Typed)>,
        i: usize,
    ) -> CResult<((Arc<AggregateUDF>, DfExpr, EsqlType), Option<DfExpr>)> {
        let e = &agg.field.expr;
        let ExprKind::Call {
            name, args, star, ..
        } = &e.kind
        else {
            return err(
                format!(
                    "expected an aggregate function but found [{}]",
                    self.origin(e.span).text
                ),
                Some(e.span),
            );
        };
        if !AggOp::is_aggregate(name) {
            return err(
                format!(
                    "expected an aggregate function but found [{}]",
                    self.origin(e.span).text
                ),
                Some(e.span),
            );
        }
        let (arg, input_ty) = if *star || args.is_empty() {
            if !name.eq_ignore_ascii_case("count") {
                return err(format!("[{name}] needs an argument"), Some(e.span));
            }
            let one = literal(EsqlType::Long, vec![Val::Long(1)]).map_err(|e| CompileError {
                message: e.to_string(),
                span: None,
            })?;
            (DfExpr::Literal(one, None), EsqlType::Long)
        } else {
            let most = match name.to_ascii_lowercase().as_str() {
                "count_distinct" | "percentile" => 2,
                "top" => 3,
                _ => 1,
            };
            if args.len() > most {
                return err(format!("too many arguments for [{name}]"), Some(e.span));
            }
            let t = self.expr(&args[0])?;
            if matches!(t.ty, EsqlType::Unsupported) {
                return err(
                    format!(
                        "argument of [{}] has unsupported type",
                        self.origin(e.span).text
                    ),
                    Some(e.span),
                );
            }
            let ty = t.ty;
            let hidden_name = format!("__arg{i}");
            hidden.push((hidden_name.clone(), t));
            (column(&hidden_name), ty)
        };
        let star = *star || args.is_empty();
        let (op, ret) = AggOp::resolve(name, star, input_ty).map_err(|m| CompileError {
            message: m,
            span: Some(e.span),
        })?;
        let mut implementation = EsqlAggregate::new(
            format!("{}#{}", name.to_ascii_lowercase(), i),
            op,
            input_ty,
            ret,
        );
        if name.eq_ignore_ascii_case("top") {
            let (limit, descending) = self.top_arguments(args, e)?;
            implementation = implementation.with_top(limit, descending);
        }
        if name.eq_ignore_ascii_case("percentile") {
            implementation = implementation.with_percentile(self.percentile_argument(args, e)?);
        }
        implementation =
            implementation.with_warnings(self.options.warnings.clone(), self.origin(e.span));
        let udaf = Arc::new(AggregateUDF::new_from_impl(implementation));
        let filter = match &agg.filter {
            Some(f) => {
                let t = self.expr(f)?;
                let truth = self.truth(t, f.span);
                let hidden_name = format!("__filter{i}");
                hidden.push((
                    hidden_name.clone(),
                    Typed {
                        expr: truth,
                        ty: EsqlType::Boolean,
                        constant: None,
                        span: None,
                    },
                ));
                Some(column(&hidden_name))
            }
            None => None,
        };
        Ok(((udaf, arg, ret), filter))
    }

    /// The constant limit and order (`"asc"` or `"desc"`) of `TOP(x, limit, order)`.
    fn top_arguments(&self, args: &[Expr], e: &Expr) -> CResult<(usize, bool)> {
        let text = self.origin(e.span).text;
        let (Some(limit), Some(order)) = (args.get(1), args.get(2)) else {
            return err(
                format!("[{text}] takes a field, a limit and an order (\"asc\" or \"desc\")"),
                Some(e.span),
            );
        };
        let limit_value = self.expr(limit)?;
        let limit_value = match limit_value.constant.as_deref() {
            Some([v]) if matches!(limit_value.ty, EsqlType::Integer | EsqlType::Long) => v
                .as_i64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n > 0),
            _ => None,
        };
        let Some(limit_value) = limit_value else {
            return err(
                format!("Limit of [{text}] must be a constant integer greater than 0"),
                Some(limit.span),
            );
        };
        let order_value = self.expr(order)?;
        let descending = match order_value.constant.as_deref() {
            Some([Val::Str(s)]) if s.eq_ignore_ascii_case("asc") => false,
            Some([Val::Str(s)]) if s.eq_ignore_ascii_case("desc") => true,
            _ => {
                return err(
                    format!("Invalid order value in [{text}], expected [ASC, DESC]"),
                    Some(order.span),
                );
            }
        };
        Ok((limit_value, descending))
    }

    /// The constant second argument of `PERCENTILE(x, p)`, between 0 and 100.
    fn percentile_argument(&self, args: &[Expr], e: &Expr) -> CResult<f64> {
        let Some(arg) = args.get(1) else {
            return err(
                format!(
                    "[{}] needs the percentile as its second argument",
                    self.origin(e.span).text
                ),
                Some(e.span),
            );
        };
        let t = self.expr(arg)?;
        let value = match t.constant.as_deref() {
            Some([v]) if t.ty.is_numeric() => v.as_f64(),
            _ => None,
        };
        match value {
            Some(p) if (0.0..=100.0).contains(&p) => Ok(p),
            _ => err(
                format!(
                    "second argument of [{}] must be a constant number between 0 and 100",
                    self.origin(e.span).text
                ),
                Some(arg.span),
            ),
        }
    }

    /// `WEIGHTED_AVG(v, w)` as Elasticsearch's surrogate (`WeightedAvg.surrogate`):
    /// `SUM(v * w) / SUM(w)`, or `SUM(v) / COUNT(v)` when the weight is a constant, or
    /// `MV_AVG(v)` when the value is; every part carries the call's position, so a failure
    /// is reported as the call's (stats.csv-spec weightedAvgWeightZero,
    /// weightedAvgFieldMvWarning).
    fn weighted_average(&self, args: &[Expr], e: &Expr) -> CResult<Expr> {
        let [value, weight] = args else {
            return err(
                format!("[{}] takes a value and a weight", self.origin(e.span).text),
                Some(e.span),
            );
        };
        let at = |kind: ExprKind| Expr::new(kind, e.span);
        let call = |name: &str, args: Vec<Expr>| {
            at(ExprKind::Call {
                name: name.into(),
                args,
                star: false,
                options: None,
            })
        };
        if self.expr(value)?.constant.is_some() {
            return Ok(call("to_double", vec![call("mv_avg", vec![value.clone()])]));
        }
        let (numerator, denominator) = if self.expr(weight)?.constant.is_some() {
            (
                call("sum", vec![value.clone()]),
                call("count", vec![value.clone()]),
            )
        } else {
            let product = at(ExprKind::Binary {
                op: BinaryOp::Mul,
                left: Box::new(value.clone()),
                right: Box::new(weight.clone()),
            });
            (
                call("sum", vec![product]),
                call("sum", vec![weight.clone()]),
            )
        };
        Ok(at(ExprKind::Binary {
            op: BinaryOp::Div,
            left: Box::new(call("to_double", vec![numerator])),
            right: Box::new(call("to_double", vec![denominator])),
        }))
    }

    fn constant(&self, ty: EsqlType, cell: Mv) -> CResult<Typed> {
        let value = literal(ty, cell.clone()).map_err(|e| CompileError {
            message: e.to_string(),
            span: None,
        })?;
        Ok(Typed {
            expr: DfExpr::Literal(value, None),
            ty,
            constant: Some(cell),
            span: None,
        })
    }

    fn expr(&self, e: &Expr) -> CResult<Typed> {
        match &e.kind {
            ExprKind::Literal(l) => self.literal(l, e.span),
            ExprKind::Field(name) => {
                let col = self.lookup(name, e.span)?;
                Ok(Typed {
                    expr: column(&col.name),
                    ty: col.ty,
                    constant: None,
                    span: None,
                })
            }
            ExprKind::Param(p) => err(
                format!(
                    "query parameter [?{p}] has no value: dragnet runs queries without parameters"
                ),
                Some(e.span),
            ),
            ExprKind::Call {
                name, args, star, ..
            } => self.function(name, args, *star, e),
            ExprKind::Neg(inner) => {
                let t = self.expr(inner)?;
                if let Some(span) = t.span {
                    let neg = match span {
                        TimeSpan::Millis(ms) => TimeSpan::Millis(-ms),
                        TimeSpan::Period { months, days } => TimeSpan::Period {
                            months: -months,
                            days: -days,
                        },
                    };
                    return Ok(Typed {
                        span: Some(neg),
                        ..t
                    });
                }
                if !t.ty.is_numeric() && t.ty != EsqlType::Null {
                    return err(
                        format!(
                            "argument of [{}] must be [numeric], found value of type [{}]",
                            self.origin(e.span).text,
                            t.ty
                        ),
                        Some(e.span),
                    );
                }
                let ty = t.ty;
                let kernel: Kernel = Arc::new(|args: &[Mv]| match single(&args[0])? {
                    Some(v) => arith(Arith::Sub, &zero_like(v), v).map(|r| vec![r]),
                    None => Ok(Vec::new()),
                });
                Ok(self.call("esql_neg", kernel, vec![t], ty, Output::Cells, e.span))
            }
            ExprKind::Not(inner) => {
                let t = self.boolean(inner)?;
                let kernel: Kernel = Arc::new(|args: &[Mv]| match single(&args[0])? {
                    Some(Val::Bool(b)) => Ok(vec![Val::Bool(!b)]),
                    _ => Ok(Vec::new()),
                });
                Ok(self.call(
                    "esql_not",
                    kernel,
                    vec![t],
                    EsqlType::Boolean,
                    Output::Cells,
                    e.span,
                ))
            }
            ExprKind::And(items) | ExprKind::Or(items) => {
                let is_and = matches!(e.kind, ExprKind::And(_));
                let args = items
                    .iter()
                    .map(|i| self.boolean(i))
                    .collect::<CResult<Vec<_>>>()?;
                Ok(self.call(
                    if is_and { "esql_and" } else { "esql_or" },
                    logic_kernel(is_and),
                    args,
                    EsqlType::Boolean,
                    Output::Cells,
                    e.span,
                ))
            }
            ExprKind::Binary { op, left, right } => self.binary(*op, left, right, e),
            ExprKind::In {
                expr,
                list,
                negated,
            } => {
                let value = self.expr(expr)?;
                let mut args = vec![];
                let mut items = Vec::new();
                for item in list {
                    let t = self.expr(item)?;
                    items.push(self.coerce_to(t, value.ty, item.span)?);
                }
                for t in &items {
                    if !comparable(value.ty, t.ty) {
                        return err(
                            format!(
                                "{} and [{}] are not compatible in [{}]",
                                value.ty,
                                t.ty,
                                self.origin(e.span).text
                            ),
                            Some(e.span),
                        );
                    }
                }
                args.push(self.coerce_to(value, EsqlType::Null, expr.span)?);
                args.extend(items);
                let negated = *negated;
                let kernel: Kernel = Arc::new(move |args: &[Mv]| {
                    let Some(v) = single(&args[0])? else {
                        return Ok(Vec::new());
                    };
                    let mut unknown = false;
                    for item in &args[1..] {
                        match single(item)? {
                            Some(x) if equal(v, x) => return Ok(vec![Val::Bool(!negated)]),
                            Some(_) => {}
                            None => unknown = true,
                        }
                    }
                    Ok(if unknown {
                        Vec::new()
                    } else {
                        vec![Val::Bool(negated)]
                    })
                });
                Ok(self.call(
                    "esql_in",
                    kernel,
                    args,
                    EsqlType::Boolean,
                    Output::Cells,
                    e.span,
                ))
            }
            ExprKind::Like {
                expr,
                patterns,
                regex,
                negated,
            } => {
                let value = self.expr(expr)?;
                self.require_string(&value, expr.span, if *regex { "RLIKE" } else { "LIKE" })?;
                let mut texts = Vec::new();
                for p in patterns {
                    let t = self.expr(p)?;
                    // A pattern may be any constant expression (where-like.csv-spec
                    // likeConstantExpressionConcat, likeEvalPropagatedLiteral).
                    let value = t.constant.clone().or_else(|| self.fold(&t.expr, t.ty));
                    match value.as_deref() {
                        Some([Val::Str(s)]) => texts.push(s.clone()),
                        _ => {
                            return err(
                                "LIKE and RLIKE patterns must be constant strings",
                                Some(p.span),
                            );
                        }
                    }
                }
                // Elasticsearch's optimizer turns a match-everything pattern into IS NOT NULL
                // (so NOT LIKE "*" keeps the null rows): where-like.csv-spec notLikeListAllWildcard.
                let everything = texts
                    .iter()
                    .any(|t| if *regex { t == ".*" } else { t == "*" });
                if everything {
                    let negated = *negated;
                    let kernel: Kernel = Arc::new(move |args: &[Mv]| {
                        Ok(vec![Val::Bool(args[0].is_empty() == negated)])
                    });
                    return Ok(self.call(
                        "esql_like_all",
                        kernel,
                        vec![value],
                        EsqlType::Boolean,
                        Output::Cells,
                        e.span,
                    ));
                }
                let matchers: Vec<Matcher> = texts
                    .iter()
                    .map(|t| {
                        if *regex {
                            dragnet_eql::lucene_regex(t, false).map(Matcher::Regex)
                        } else {
                            Ok(Matcher::Wildcard(dragnet_eql::Wildcard::lucene(t, false)))
                        }
                    })
                    .collect::<Result<_, String>>()
                    .map_err(|m| CompileError {
                        message: m,
                        span: Some(e.span),
                    })?;
                let negated = *negated;
                let kernel: Kernel = Arc::new(move |args: &[Mv]| {
                    let Some(v) = single(&args[0])? else {
                        return Ok(Vec::new());
                    };
                    let s = v.as_str().unwrap_or_default();
                    let hit = matchers.iter().any(|m| m.matches(s));
                    Ok(vec![Val::Bool(hit != negated)])
                });
                Ok(self.call(
                    "esql_like",
                    kernel,
                    vec![value],
                    EsqlType::Boolean,
                    Output::Cells,
                    e.span,
                ))
            }
            ExprKind::IsNull { expr, negated } => {
                let value = self.expr(expr)?;
                let negated = *negated;
                let kernel: Kernel =
                    Arc::new(move |args: &[Mv]| Ok(vec![Val::Bool(args[0].is_empty() != negated)]));
                Ok(self.call(
                    "esql_is_null",
                    kernel,
                    vec![value],
                    EsqlType::Boolean,
                    Output::Cells,
                    e.span,
                ))
            }
            ExprKind::Cast { expr, to } => {
                let value = self.expr(expr)?;
                let Some(target) = EsqlType::from_name(to) else {
                    return err(
                        format!("Unsupported conversion to type [{to}]"),
                        Some(e.span),
                    );
                };
                self.convert(value, target, e.span)
            }
            ExprKind::Match { .. } => err(
                "full-text search (MATCH, `:`) needs Elasticsearch's inverted index; dragnet cannot run it",
                Some(e.span),
            ),
        }
    }

    fn convert(&self, value: Typed, target: EsqlType, span: dragnet_esql::Span) -> CResult<Typed> {
        if let Some(ts) = value.span {
            return Ok(Typed {
                span: Some(ts),
                ..value
            });
        }
        let warnings = self.options.warnings.clone();
        let origin = self.origin(span);
        let report: functions::Reporter = Arc::new(move |m: &str| warnings.record(&origin, m));
        let r = functions::cast_reporting(value.ty, target, report).map_err(|m| CompileError {
            message: m,
            span: Some(span),
        })?;
        Ok(self.call(
            "esql_cast",
            r.kernel,
            vec![value],
            r.ty,
            Output::Cells,
            span,
        ))
    }

    /// A string constant compared with a date, ip or number is read as that type (ES|QL's
    /// implicit casting of literals).
    fn coerce_to(&self, t: Typed, target: EsqlType, span: dragnet_esql::Span) -> CResult<Typed> {
        if !t.ty.is_string()
            || t.constant.is_none()
            || target.is_string()
            || target == EsqlType::Null
        {
            return Ok(t);
        }
        let cell = t.constant.clone().unwrap_or_default();
        let mut out = Vec::new();
        for v in &cell {
            let s = v.as_str().unwrap_or_default();
            let converted = match target {
                EsqlType::Date => dates::parse_iso(s).map(Val::Date),
                EsqlType::Ip => ip_text(s).map(Val::Str),
                EsqlType::Version => Some(Val::Str(s.to_string())),
                EsqlType::Long => s.parse().ok().map(Val::Long),
                EsqlType::Integer => s.parse().ok().map(Val::Int),
                EsqlType::Double => s.parse().ok().map(Val::Double),
                EsqlType::Boolean => match s.to_ascii_lowercase().as_str() {
                    "true" => Some(Val::Bool(true)),
                    "false" => Some(Val::Bool(false)),
                    _ => None,
                },
                _ => return Ok(t),
            };
            match converted {
                Some(c) => out.push(c),
                None => {
                    return err(
                        format!("Cannot convert string [{s}] to [{target}]"),
                        Some(span),
                    );
                }
            }
        }
        self.constant(target, out)
    }

    fn boolean(&self, e: &Expr) -> CResult<Typed> {
        let t = self.expr(e)?;
        if !matches!(t.ty, EsqlType::Boolean | EsqlType::Null) {
            return err(
                format!(
                    "argument of [{}] must be [boolean], found value of type [{}]",
                    self.origin(e.span).text,
                    t.ty
                ),
                Some(e.span),
            );
        }
        Ok(t)
    }

    fn literal(&self, l: &Literal, span: dragnet_esql::Span) -> CResult<Typed> {
        let (ty, cell) = literal_cell(l).map_err(|m| CompileError {
            message: m,
            span: Some(span),
        })?;
        if let Literal::TimeSpan { value, unit } = l {
            let ts = dates::span(*value, unit).map_err(|m| CompileError {
                message: m,
                span: Some(span),
            })?;
            let ty = match ts {
                TimeSpan::Millis(_) => EsqlType::TimeDuration,
                TimeSpan::Period { .. } => EsqlType::DatePeriod,
            };
            let mut t = self.constant(EsqlType::Long, Vec::new())?;
            t.ty = ty;
            t.span = Some(ts);
            return Ok(t);
        }
        self.constant(ty, cell)
    }

    fn binary(&self, op: BinaryOp, left: &Expr, right: &Expr, e: &Expr) -> CResult<Typed> {
        let mut l = self.expr(left)?;
        let mut r = self.expr(right)?;
        let text = self.origin(e.span).text;
        if matches!(op, BinaryOp::Add | BinaryOp::Sub) {
            // A string literal added to a span is read as a datetime (date.csv-spec
            // implicitCastingArithmeticOperationAdd, implicitCastingArithmeticOperationSub).
            if r.span.is_some() && l.constant.is_some() && l.ty.is_string() {
                l = self.convert(l, EsqlType::Date, left.span)?;
            }
            if l.span.is_some() && r.constant.is_some() && r.ty.is_string() {
                r = self.convert(r, EsqlType::Date, right.span)?;
            }
            // span ± null is null, which a date then absorbs (date.csv-spec
            // datePlusNullAndDuration, datePlusNullAndPeriod).
            if (l.span.is_some() && r.ty == EsqlType::Null)
                || (r.span.is_some() && l.ty == EsqlType::Null)
            {
                return self.constant(EsqlType::Null, Vec::new());
            }
        }
        match op {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
                // span ± span of one kind folds into a span (date.csv-spec
                // datePlusSumOfDurationsFromLeft, datePlusSumOfPeriodsFromLeft).
                if let (Some(a), Some(b)) = (l.span, r.span)
                    && matches!(op, BinaryOp::Add | BinaryOp::Sub)
                {
                    let sign = if op == BinaryOp::Sub { -1 } else { 1 };
                    let folded = match (a, b) {
                        (TimeSpan::Millis(x), TimeSpan::Millis(y)) => y
                            .checked_mul(sign)
                            .and_then(|y| x.checked_add(y))
                            .map(TimeSpan::Millis),
                        (
                            TimeSpan::Period {
                                months: m1,
                                days: d1,
                            },
                            TimeSpan::Period {
                                months: m2,
                                days: d2,
                            },
                        ) => match (
                            m2.checked_mul(sign).and_then(|m| m1.checked_add(m)),
                            d2.checked_mul(sign).and_then(|d| d1.checked_add(d)),
                        ) {
                            (Some(months), Some(days)) => Some(TimeSpan::Period { months, days }),
                            _ => None,
                        },
                        _ => None,
                    };
                    if let Some(span) = folded {
                        return Ok(Typed {
                            span: Some(span),
                            ..l
                        });
                    }
                }
                // date ± null is a null date (date.csv-spec datePlusNull, dateMinusNull).
                if matches!(op, BinaryOp::Add | BinaryOp::Sub)
                    && matches!(
                        (l.ty, r.ty),
                        (EsqlType::Date, EsqlType::Null) | (EsqlType::Null, EsqlType::Date)
                    )
                {
                    return self.constant(EsqlType::Date, Vec::new());
                }
                // date ± span, span + date.
                let date_span = match (l.ty, r.span, l.span, r.ty) {
                    (EsqlType::Date | EsqlType::Null, Some(s), _, _)
                        if matches!(op, BinaryOp::Add | BinaryOp::Sub) =>
                    {
                        Some((true, s, op == BinaryOp::Sub))
                    }
                    (_, _, Some(s), EsqlType::Date) if op == BinaryOp::Add => {
                        Some((false, s, false))
                    }
                    _ => None,
                };
                if let Some((date_left, span, negate)) = date_span {
                    let date = if date_left { l } else { r };
                    let kernel: Kernel = Arc::new(move |args: &[Mv]| {
                        match single(&args[0])?.and_then(Val::as_i64) {
                            Some(ms) => dates::add(ms, span, negate).map(|d| vec![Val::Date(d)]),
                            None => Ok(Vec::new()),
                        }
                    });
                    return Ok(self.call(
                        "esql_date_add",
                        kernel,
                        vec![date],
                        EsqlType::Date,
                        Output::Cells,
                        e.span,
                    ));
                }
                let Some(ty) = arith_type(l.ty, r.ty) else {
                    return err(
                        format!(
                            "[{}] has arguments with incompatible types [{}] and [{}]",
                            text, l.ty, r.ty
                        ),
                        Some(e.span),
                    );
                };
                let a = match op {
                    BinaryOp::Add => Arith::Add,
                    BinaryOp::Sub => Arith::Sub,
                    BinaryOp::Mul => Arith::Mul,
                    BinaryOp::Div => Arith::Div,
                    _ => Arith::Mod,
                };
                let kernel: Kernel = Arc::new(move |args: &[Mv]| {
                    let (Some(x), Some(y)) = (single(&args[0])?, single(&args[1])?) else {
                        return Ok(Vec::new());
                    };
                    arith(a, x, y).map(|v| vec![v])
                });
                Ok(self.call("esql_arith", kernel, vec![l, r], ty, Output::Cells, e.span))
            }
            _ => {
                let l = self.coerce_to(l, r.ty, left.span)?;
                let r = self.coerce_to(r, l.ty, right.span)?;
                if !comparable(l.ty, r.ty) {
                    return err(
                        format!(
                            "first argument of [{text}] is [{}] so second argument must also be [{}] but was [{}]",
                            l.ty, l.ty, r.ty
                        ),
                        Some(e.span),
                    );
                }
                let ip = l.ty == EsqlType::Ip || r.ty == EsqlType::Ip;
                let kernel: Kernel = Arc::new(move |args: &[Mv]| {
                    let (Some(x), Some(y)) = (single(&args[0])?, single(&args[1])?) else {
                        return Ok(Vec::new());
                    };
                    let ord = if ip { ip_order(x, y) } else { x.compare(y) };
                    let Some(ord) = ord else {
                        return Ok(Vec::new());
                    };
                    use std::cmp::Ordering::*;
                    let b = match op {
                        BinaryOp::Eq => ord == Equal,
                        BinaryOp::Neq => ord != Equal,
                        BinaryOp::Lt => ord == Less,
                        BinaryOp::Lte => ord != Greater,
                        BinaryOp::Gt => ord == Greater,
                        BinaryOp::Gte => ord != Less,
                        BinaryOp::CaseInsensitiveEq => match (x, y) {
                            (Val::Str(a), Val::Str(b)) => a.to_lowercase() == b.to_lowercase(),
                            _ => ord == Equal,
                        },
                        _ => false,
                    };
                    Ok(vec![Val::Bool(b)])
                });
                Ok(self.call(
                    "esql_compare",
                    kernel,
                    vec![l, r],
                    EsqlType::Boolean,
                    Output::Cells,
                    e.span,
                ))
            }
        }
    }

    fn function(&self, name: &str, args: &[Expr], star: bool, e: &Expr) -> CResult<Typed> {
        let lower = name.to_ascii_lowercase();
        if AggOp::is_aggregate(&lower) {
            return err(
                format!(
                    "aggregate function [{}] is only allowed in STATS",
                    self.origin(e.span).text
                ),
                Some(e.span),
            );
        }
        if star {
            return err(format!("[{name}] does not take [*]"), Some(e.span));
        }
        match lower.as_str() {
            "now" => {
                if !args.is_empty() {
                    return err("NOW takes no arguments", Some(e.span));
                }
                if let Some(clock) = &self.options.now_clock {
                    let clock = clock.clone();
                    let kernel: Kernel = Arc::new(move |_: &[Mv]| {
                        Ok(vec![Val::Date(clock.load(AtomicOrdering::Relaxed))])
                    });
                    // One constant argument: DataFusion gives a function its row count through it.
                    let anchor = self.constant(EsqlType::Long, vec![Val::Long(0)])?;
                    let types = vec![EsqlType::Long];
                    let udf = EsqlFunction::volatile_udf(
                        "esql_now",
                        kernel,
                        types,
                        EsqlType::Date,
                        self.options.warnings.clone(),
                        self.origin(e.span),
                    );
                    return Ok(Typed {
                        expr: Arc::new(udf).call(vec![anchor.expr]),
                        ty: EsqlType::Date,
                        constant: None,
                        span: None,
                    });
                }
                return self.constant(EsqlType::Date, vec![Val::Date(self.options.now_ms)]);
            }
            "kql" => return self.kql(args, e),
            "qstr" | "match" | "match_phrase" | "multi_match" | "score" => {
                return err(
                    format!(
                        "[{name}] is a full-text search function: it needs Elasticsearch's inverted index, which dragnet does not have"
                    ),
                    Some(e.span),
                );
            }
            "case" => return self.case(args, e),
            // Constants (stats.csv-spec nestedAggsWithScalars uses PI() and E()).
            "pi" | "e" | "tau" => {
                if !args.is_empty() {
                    return err(format!("[{name}] takes no arguments"), Some(e.span));
                }
                let value = match lower.as_str() {
                    "pi" => std::f64::consts::PI,
                    "e" => std::f64::consts::E,
                    _ => std::f64::consts::TAU,
                };
                return self.constant(EsqlType::Double, vec![Val::Double(value)]);
            }
            "date_trunc" => {
                if args.len() != 2 {
                    return err("DATE_TRUNC takes 2 arguments", Some(e.span));
                }
                let interval = self.expr(&args[0])?;
                let mut date = self.expr(&args[1])?;
                // date.csv-spec evalDateTruncString: a string literal is read as a datetime.
                if date.constant.is_some() && date.ty.is_string() {
                    date = self.convert(date, EsqlType::Date, args[1].span)?;
                }
                let Some(span) = interval.span else {
                    return err(
                        format!(
                            "first argument of [{}] must be a time span (`1 hour`, `1 month`)",
                            self.origin(e.span).text
                        ),
                        Some(args[0].span),
                    );
                };
                if !matches!(date.ty, EsqlType::Date | EsqlType::Null) {
                    return err(
                        format!(
                            "second argument of [{}] must be [datetime], found value of type [{}]",
                            self.origin(e.span).text,
                            date.ty
                        ),
                        Some(args[1].span),
                    );
                }
                let kernel: Kernel =
                    Arc::new(
                        move |args: &[Mv]| match single(&args[0])?.and_then(Val::as_i64) {
                            Some(ms) => dates::trunc(ms, span).map(|d| vec![Val::Date(d)]),
                            None => Ok(Vec::new()),
                        },
                    );
                return Ok(self.call(
                    "esql_date_trunc",
                    kernel,
                    vec![date],
                    EsqlType::Date,
                    Output::Cells,
                    e.span,
                ));
            }
            _ => {}
        }
        let typed = args
            .iter()
            .map(|a| self.expr(a))
            .collect::<CResult<Vec<_>>>()?;
        for (a, t) in args.iter().zip(&typed) {
            if t.span.is_some() {
                return err(
                    format!("[{name}] does not take a time span argument"),
                    Some(a.span),
                );
            }
            if t.ty == EsqlType::Unsupported {
                return err(
                    format!(
                        "argument of [{}] has an unsupported type",
                        self.origin(e.span).text
                    ),
                    Some(a.span),
                );
            }
        }
        // A string literal where a date function takes a datetime is read as one (date.csv-spec
        // evalDateDiffString, dateExtractString, evalDateFormatString).
        let date_positions: &[usize] = match (lower.as_str(), args.len()) {
            ("date_diff", _) => &[1, 2],
            ("date_extract", _) | ("date_format", 2) => &[1],
            ("date_format", 1) => &[0],
            _ => &[],
        };
        let mut typed = typed;
        for &i in date_positions {
            if let Some(t) = typed.get(i)
                && t.constant.is_some()
                && t.ty.is_string()
            {
                let t = typed.remove(i);
                typed.insert(i, self.convert(t, EsqlType::Date, args[i].span)?);
            }
        }
        let types: Vec<EsqlType> = typed.iter().map(|t| t.ty).collect();
        let constants: Vec<Option<Mv>> = typed.iter().map(|t| t.constant.clone()).collect();
        let warnings = self.options.warnings.clone();
        let origin = self.origin(e.span);
        let report: functions::Reporter = Arc::new(move |m: &str| warnings.record(&origin, m));
        let r = functions::resolve_reporting(name, &types, &constants, report).map_err(|m| {
            CompileError {
                message: m,
                span: Some(e.span),
            }
        })?;
        Ok(self.call(
            &format!("esql_{lower}"),
            r.kernel,
            typed,
            r.ty,
            Output::Cells,
            e.span,
        ))
    }

    fn case(&self, args: &[Expr], e: &Expr) -> CResult<Typed> {
        if args.len() < 2 {
            return err("CASE needs at least a condition and a value", Some(e.span));
        }
        let typed = args
            .iter()
            .map(|a| self.expr(a))
            .collect::<CResult<Vec<_>>>()?;
        let mut ty = EsqlType::Null;
        for (i, t) in typed.iter().enumerate() {
            let is_condition = i % 2 == 0 && i + 1 < typed.len();
            if is_condition {
                if !matches!(t.ty, EsqlType::Boolean | EsqlType::Null) {
                    return err(
                        format!(
                            "condition of [{}] must be [boolean], found [{}]",
                            self.origin(e.span).text,
                            t.ty
                        ),
                        Some(args[i].span),
                    );
                }
            } else {
                ty = ty
                    .unify(t.ty)
                    .or_else(|| widen_numeric(ty, t.ty))
                    .ok_or_else(|| CompileError {
                        message: format!(
                            "all values of [{}] must have the same type, found [{ty}] and [{}]",
                            self.origin(e.span).text,
                            t.ty
                        ),
                        span: Some(args[i].span),
                    })?;
            }
        }
        // A time span exists only at planning time, so a CASE of spans folds on its constant
        // conditions (conditional.csv-spec caseWithTemporalAmount: `d + CASE(true, 1 DAY,
        // 10 DAYS)`).
        if matches!(ty, EsqlType::TimeDuration | EsqlType::DatePeriod) {
            let mut arms = typed.into_iter();
            while let Some(condition) = arms.next() {
                let Some(value) = arms.next() else {
                    return Ok(condition);
                };
                match condition.constant.as_deref() {
                    Some([Val::Bool(true)]) => return Ok(value),
                    Some([Val::Bool(false)] | []) => {}
                    _ => {
                        return err(
                            format!(
                                "[{}] returns a time span, so its conditions must be constant",
                                self.origin(e.span).text
                            ),
                            Some(e.span),
                        );
                    }
                }
            }
            return err(
                format!(
                    "[{}] returns no time span when no condition holds; add a default value",
                    self.origin(e.span).text
                ),
                Some(e.span),
            );
        }
        // CASE never returns `text`: text arms give keyword (conditional.csv-spec
        // casePartialFoldTrueToTextKeepsKeyword, casePartialFoldKeywordIsGroupable).
        if ty == EsqlType::Text {
            ty = EsqlType::Keyword;
        }
        let n = typed.len();
        // Mixed numeric arms take the widest type (conditional.csv-spec caseWithMixedNumericValue).
        let widen = move |cell: &Mv| -> Mv {
            cell.iter()
                .map(|v| match (ty, v) {
                    (EsqlType::Double, Val::Int(_) | Val::Long(_)) => {
                        Val::Double(v.as_f64().unwrap_or_default())
                    }
                    (EsqlType::Long, Val::Int(i)) => Val::Long(i64::from(*i)),
                    _ => v.clone(),
                })
                .collect()
        };
        // A multi-valued or null condition is false (the next branch is tried); a multi-valued
        // one warns, as Elasticsearch's CASE does (conditional.csv-spec caseOnMv,
        // caseOnConstantMvFalseTrue).
        let warnings = self.options.warnings.clone();
        let origin = self.origin(e.span);
        let kernel: Kernel = Arc::new(move |args: &[Mv]| {
            let mut i = 0;
            while i + 1 < n {
                match args[i].as_slice() {
                    [Val::Bool(true)] => return Ok(widen(&args[i + 1])),
                    [] | [_] => {}
                    _ => warnings.record_treated_as(&origin, MULTI_VALUE, "false"),
                }
                i += 2;
            }
            Ok(if n % 2 == 1 {
                widen(&args[n - 1])
            } else {
                Vec::new()
            })
        });
        Ok(self.call("esql_case", kernel, typed, ty, Output::Cells, e.span))
    }
}

/// The common type of two numeric CASE arms: double over long over integer
/// (`unsigned_long` mixes with nothing).
fn widen_numeric(a: EsqlType, b: EsqlType) -> Option<EsqlType> {
    use EsqlType::{Double, Integer, Long};
    match (a, b) {
        (Double, Integer | Long) | (Integer | Long, Double) => Some(Double),
        (Long, Integer) | (Integer, Long) => Some(Long),
        _ => None,
    }
}

enum Matcher {
    Wildcard(dragnet_eql::Wildcard),
    Regex(regex::Regex),
}

impl Matcher {
    fn matches(&self, s: &str) -> bool {
        match self {
            Matcher::Wildcard(w) => w.matches(s),
            Matcher::Regex(r) => r.is_match(s),
        }
    }
}

fn zero_like(v: &Val) -> Val {
    match v {
        Val::Int(_) => Val::Int(0),
        Val::Double(_) => Val::Double(0.0),
        Val::ULong(_) => Val::ULong(0),
        _ => Val::Long(0),
    }
}

fn equal(a: &Val, b: &Val) -> bool {
    a.compare(b) == Some(std::cmp::Ordering::Equal)
}

fn ip_order(a: &Val, b: &Val) -> Option<std::cmp::Ordering> {
    let parse = |v: &Val| v.as_str().and_then(|s| s.parse::<std::net::IpAddr>().ok());
    let (x, y) = (parse(a)?, parse(b)?);
    let key = |ip: std::net::IpAddr| match ip {
        std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        std::net::IpAddr::V6(v6) => v6.octets(),
    };
    Some(key(x).cmp(&key(y)))
}

fn comparable(a: EsqlType, b: EsqlType) -> bool {
    a == b
        || a == EsqlType::Null
        || b == EsqlType::Null
        || (a.is_string() && b.is_string())
        || (a.is_numeric() && b.is_numeric())
}

/// The type and cell of a literal.
pub fn literal_cell(l: &Literal) -> Result<(EsqlType, Mv), String> {
    Ok(match l {
        Literal::Null => (EsqlType::Null, Vec::new()),
        Literal::Bool(b) => (EsqlType::Boolean, vec![Val::Bool(*b)]),
        Literal::Integer(i) => {
            if let Ok(v) = i32::try_from(*i) {
                (EsqlType::Integer, vec![Val::Int(v)])
            } else if let Ok(v) = i64::try_from(*i) {
                (EsqlType::Long, vec![Val::Long(v)])
            } else if let Ok(v) = u64::try_from(*i) {
                (EsqlType::UnsignedLong, vec![Val::ULong(v)])
            } else {
                (EsqlType::Double, vec![Val::Double(*i as f64)])
            }
        }
        Literal::Decimal(d) => (EsqlType::Double, vec![Val::Double(*d)]),
        Literal::String(s) => (EsqlType::Keyword, vec![Val::Str(s.clone())]),
        Literal::TimeSpan { .. } => (EsqlType::TimeDuration, Vec::new()),
        Literal::List(items) => {
            let mut ty = EsqlType::Null;
            let mut cell = Vec::new();
            for item in items {
                let (t, mut c) = literal_cell(item)?;
                ty = ty
                    .unify(t)
                    .or(if ty.is_numeric() && t.is_numeric() {
                        Some(if ty == EsqlType::Double || t == EsqlType::Double {
                            EsqlType::Double
                        } else if ty == EsqlType::UnsignedLong || t == EsqlType::UnsignedLong {
                            // A list with a value past long's range is unsigned_long
                            // (boolean.csv-spec convertFromUnsignedLong).
                            EsqlType::UnsignedLong
                        } else {
                            EsqlType::Long
                        })
                    } else {
                        None
                    })
                    .ok_or_else(|| format!("a list literal mixes [{ty}] and [{t}]"))?;
                cell.append(&mut c);
            }
            if ty == EsqlType::UnsignedLong {
                cell = cell
                    .into_iter()
                    .map(|v| match v.as_i64().map(u64::try_from) {
                        Some(Ok(u)) => Ok(Val::ULong(u)),
                        Some(Err(_)) => Err(format!(
                            "a list literal mixes [unsigned_long] and negative value [{}]",
                            v.as_i64().unwrap_or_default()
                        )),
                        None => Ok(v),
                    })
                    .collect::<Result<_, String>>()?;
            } else if ty == EsqlType::Long {
                cell = cell
                    .into_iter()
                    .map(|v| v.as_i64().map(Val::Long).unwrap_or(v))
                    .collect();
            } else if ty == EsqlType::Double {
                cell = cell
                    .into_iter()
                    .map(|v| v.as_f64().map(Val::Double).unwrap_or(v))
                    .collect();
            }
            (ty, cell)
        }
    })
}

/// `e`'s own node over its operands mapped by `f` (leaves are kept as they are).
fn map_children(e: &Expr, f: &mut dyn FnMut(&Expr) -> CResult<Expr>) -> CResult<ExprKind> {
    let mut list = |xs: &[Expr]| xs.iter().map(&mut *f).collect::<CResult<Vec<_>>>();
    Ok(match &e.kind {
        ExprKind::Literal(_) | ExprKind::Field(_) | ExprKind::Param(_) | ExprKind::Match { .. } => {
            e.kind.clone()
        }
        ExprKind::Call {
            name,
            args,
            star,
            options,
        } => ExprKind::Call {
            name: name.clone(),
            args: list(args)?,
            star: *star,
            options: options.clone(),
        },
        ExprKind::And(xs) => ExprKind::And(list(xs)?),
        ExprKind::Or(xs) => ExprKind::Or(list(xs)?),
        ExprKind::In {
            expr,
            list: items,
            negated,
        } => {
            let items = list(items)?;
            ExprKind::In {
                expr: Box::new(f(expr)?),
                list: items,
                negated: *negated,
            }
        }
        ExprKind::Like {
            expr,
            patterns,
            regex,
            negated,
        } => {
            let patterns = list(patterns)?;
            ExprKind::Like {
                expr: Box::new(f(expr)?),
                patterns,
                regex: *regex,
                negated: *negated,
            }
        }
        ExprKind::Neg(x) => ExprKind::Neg(Box::new(f(x)?)),
        ExprKind::Not(x) => ExprKind::Not(Box::new(f(x)?)),
        ExprKind::Binary { op, left, right } => ExprKind::Binary {
            op: *op,
            left: Box::new(f(left)?),
            right: Box::new(f(right)?),
        },
        ExprKind::IsNull { expr, negated } => ExprKind::IsNull {
            expr: Box::new(f(expr)?),
            negated: *negated,
        },
        ExprKind::Cast { expr, to } => ExprKind::Cast {
            expr: Box::new(f(expr)?),
            to: to.clone(),
        },
    })
}

/// `e` with each reference to a grouping key's alias replaced by the key's expression: an
/// aggregate's argument and filter see `l` of `BY l = languages` as `languages`, before any
/// column of that name (stats.csv-spec statsWithFilteringAndGrouping, statsWithFilterOnSameColumn).
fn substitute_keys(e: &Expr, groups: &[Field]) -> CResult<Expr> {
    if let ExprKind::Field(name) = &e.kind {
        let alias = groups
            .iter()
            .rev()
            .find(|g| &g.name == name && !matches!(&g.expr.kind, ExprKind::Field(f) if f == name));
        return Ok(alias.map_or_else(|| e.clone(), |g| g.expr.clone()));
    }
    Ok(Expr::new(
        map_children(e, &mut |x: &Expr| substitute_keys(x, groups))?,
        e.span,
    ))
}

/// A call of an aggregate function (`COUNT(*)`, `MIN(x)`), which STATS computes directly.
/// `WEIGHTED_AVG` is not one: it stands for an expression over aggregates.
fn is_aggregate_call(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Call { name, .. }
        if AggOp::is_aggregate(name) && !name.eq_ignore_ascii_case("weighted_avg"))
}

/// `*` wildcard matching of column names (KEEP, DROP).
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == name;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

fn command_name(kind: &CommandKind) -> &'static str {
    match kind {
        CommandKind::Stats { inline: true, .. } => "INLINE STATS",
        CommandKind::ShowInfo => "SHOW INFO",
        CommandKind::Enrich { .. } => "ENRICH",
        CommandKind::LookupJoin { .. } => "LOOKUP JOIN",
        CommandKind::Sample(_) => "SAMPLE",
        CommandKind::Other { .. } => "this command",
        _ => "this command",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_column_names() {
        assert!(wildcard_match("Esql.*", "Esql.count"));
        assert!(wildcard_match("*", "a"));
        assert!(wildcard_match("a*c", "abc"));
        assert!(!wildcard_match("a*c", "abd"));
        assert!(wildcard_match(
            "source.geo.*",
            "source.geo.country_iso_code"
        ));
    }
}
