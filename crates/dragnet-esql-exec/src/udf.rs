//! ES|QL scalar functions as DataFusion scalar UDFs, and the warnings they record.
//!
//! A [`EsqlFunction`] runs a [`Kernel`] cell by cell over its argument columns. A kernel's
//! failure makes the cell null and records a warning the way Elasticsearch words it
//! (`Line 1:27: evaluation of [x + 1] failed, treating result as null. Only first 20 failures
//! recorded.` then up to 20 `Line 1:27: <exception>` lines per expression).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{ArrayRef, BooleanArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};

use crate::functions::Kernel;
use crate::types::EsqlType;
use crate::value::{Column, Mv, Val, build};

/// Failures recorded per expression, as Elasticsearch caps them.
pub const MAX_FAILURES_PER_EXPRESSION: usize = 20;
/// Warning lines kept per query in all (a hostile input cannot grow them without bound).
pub const MAX_WARNING_LINES: usize = 1_000;

/// Where an expression is in the query: its `line:column` and source text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Origin {
    pub line: usize,
    pub column: usize,
    pub text: String,
}

#[derive(Default, Debug)]
struct WarningState {
    lines: Vec<String>,
    failures: HashMap<String, usize>,
    dropped: u64,
}

/// The warnings of one query run, shared by its functions.
#[derive(Clone, Default, Debug)]
pub struct Warnings(Arc<Mutex<WarningState>>);

impl Warnings {
    pub fn record(&self, origin: &Origin, message: &str) {
        self.record_treated_as(origin, message, "null");
    }

    /// A failure whose result is taken as `treated_as` (`false` for a CASE condition).
    pub fn record_treated_as(&self, origin: &Origin, message: &str, treated_as: &str) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let key = format!("{}:{}:{}", origin.line, origin.column, origin.text);
        let seen = state.failures.entry(key).or_insert(0);
        *seen += 1;
        let seen = *seen;
        if seen > MAX_FAILURES_PER_EXPRESSION {
            return;
        }
        let at = format!("Line {}:{}", origin.line, origin.column);
        let push = |state: &mut WarningState, line: String| {
            // Elasticsearch returns warnings as response headers, whose identical values collapse
            // into one (`ThreadContext.addResponseHeader`): ten rows failing the same way warn
            // once (conditional.csv-spec nullOnMultivaluesMathOperation).
            if state.lines.contains(&line) {
                return;
            }
            if state.lines.len() < MAX_WARNING_LINES {
                state.lines.push(line);
            } else {
                state.dropped += 1;
            }
        };
        if seen == 1 {
            push(
                &mut state,
                format!(
                    "{at}: evaluation of [{}] failed, treating result as {treated_as}. Only first {MAX_FAILURES_PER_EXPRESSION} failures recorded.",
                    origin.text
                ),
            );
        }
        push(&mut state, format!("{at}: {message}"));
    }

    /// A warning about the query itself (not a failed evaluation), at `line:column`.
    pub fn note(&self, line: usize, column: usize, message: &str) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let line = format!("Line {line}:{column}: {message}");
        if state.lines.contains(&line) {
            return;
        }
        if state.lines.len() < MAX_WARNING_LINES {
            state.lines.push(line);
        } else {
            state.dropped += 1;
        }
    }

    /// The warning lines so far, and how many were left out past [`MAX_WARNING_LINES`].
    pub fn lines(&self) -> (Vec<String>, u64) {
        let state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        (state.lines.clone(), state.dropped)
    }

    pub fn clear(&self) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *state = WarningState::default();
    }
}

/// What a function's column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Output {
    /// A list column of the function's ES|QL type.
    Cells,
    /// A plain boolean: true exactly where the cell is the single value `true` (`WHERE`,
    /// per-aggregate filters: null and false both drop the row).
    Truth,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

pub struct EsqlFunction {
    name: String,
    kernel: Kernel,
    arg_types: Vec<EsqlType>,
    ret: EsqlType,
    output: Output,
    signature: Signature,
    warnings: Warnings,
    origin: Origin,
}

impl std::fmt::Debug for EsqlFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsqlFunction")
            .field("name", &self.name)
            .finish()
    }
}

impl EsqlFunction {
    /// A UDF named after `label` (unique per instance: kernels with the same label may hold
    /// different constants, so DataFusion must never merge two of them).
    pub fn udf(
        label: &str,
        kernel: Kernel,
        arg_types: Vec<EsqlType>,
        ret: EsqlType,
        output: Output,
        warnings: Warnings,
        origin: Origin,
    ) -> ScalarUDF {
        let id = NEXT_ID.fetch_add(1, AtomicOrdering::Relaxed);
        ScalarUDF::new_from_impl(EsqlFunction {
            name: format!("{label}#{id}"),
            kernel,
            arg_types,
            ret,
            output,
            signature: Signature::new(TypeSignature::VariadicAny, Volatility::Immutable),
            warnings,
            origin,
        })
    }
}

impl EsqlFunction {
    /// A UDF whose value may change between runs of one plan (`NOW()` read from a clock): the
    /// optimizer must not fold it into a constant.
    pub fn volatile_udf(
        label: &str,
        kernel: Kernel,
        arg_types: Vec<EsqlType>,
        ret: EsqlType,
        warnings: Warnings,
        origin: Origin,
    ) -> ScalarUDF {
        let id = NEXT_ID.fetch_add(1, AtomicOrdering::Relaxed);
        ScalarUDF::new_from_impl(EsqlFunction {
            name: format!("{label}#{id}"),
            kernel,
            arg_types,
            ret,
            output: Output::Cells,
            signature: Signature::new(TypeSignature::VariadicAny, Volatility::Volatile),
            warnings,
            origin,
        })
    }
}

impl PartialEq for EsqlFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for EsqlFunction {}
impl Hash for EsqlFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for EsqlFunction {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(match self.output {
            Output::Cells => self.ret.column(),
            Output::Truth => DataType::Boolean,
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.to_array(n))
            .collect::<Result<_>>()?;
        let columns: Vec<Column<'_>> = arrays
            .iter()
            .zip(&self.arg_types)
            .map(|(a, t)| Column::new(a, *t))
            .collect();
        let mut cells: Vec<Mv> = Vec::with_capacity(n);
        let mut row_args: Vec<Mv> = Vec::with_capacity(columns.len());
        for row in 0..n {
            row_args.clear();
            row_args.extend(columns.iter().map(|c| c.get(row)));
            let cell = match (self.kernel)(&row_args) {
                Ok(cell) => cell,
                Err(message) => {
                    self.warnings.record(&self.origin, &message);
                    Vec::new()
                }
            };
            cells.push(cell);
        }
        let array: ArrayRef = match self.output {
            Output::Cells => build(self.ret, &cells)?,
            Output::Truth => Arc::new(
                cells
                    .iter()
                    .map(|c| Some(matches!(c.as_slice(), [Val::Bool(true)])))
                    .collect::<BooleanArray>(),
            ),
        };
        Ok(ColumnarValue::Array(array))
    }
}
