//! ES|QL's aggregate functions as DataFusion aggregate UDFs.
//!
//! Aggregates consume every value of a multi-valued cell (`COUNT(field)` counts values, not
//! rows; `MIN` looks at each element), skip nulls, and give null over no values (`COUNT` and
//! `COUNT_DISTINCT` give 0). DataFusion does the hashing, grouping and per-aggregate
//! `WHERE` filtering; the accumulators here keep ES|QL's values.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

use crate::functions::{Arith, arith};
use crate::types::EsqlType;
use crate::udf::{Origin, Warnings};
#[cfg(test)]
use crate::value::build;
use crate::value::{Column, Mv, Val, literal};

/// Values one group of `MEDIAN`, `PERCENTILE`, `MEDIAN_ABSOLUTE_DEVIATION` or `VALUES` keeps in
/// memory (these keep every value, or every distinct value, of their group). Past it the
/// aggregate stops accumulating and warns that its result may be partial.
pub const MAX_VALUES_PER_GROUP: usize = 100_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggOp {
    /// `COUNT(*)`: rows.
    CountRows,
    /// `COUNT(x)`: values.
    Count,
    CountDistinct,
    Min,
    Max,
    Sum,
    Avg,
    Values,
    /// `MEDIAN(x)`, `PERCENTILE(x, p)`: the value at rank `p/100 * (n - 1)` of the sorted
    /// values, interpolated linearly between neighbours.
    Percentile,
    MedianAbsoluteDeviation,
    /// Population standard deviation and variance (Welford's algorithm, as Elasticsearch's
    /// `WelfordAlgorithm`).
    StdDev,
    Variance,
    /// `PRESENT(x)`: whether any value was seen; `ABSENT(x)` its negation.
    Present,
    Absent,
    /// `TOP(x, limit, order)`: the `limit` first values in `order`, repeats included.
    Top,
}

impl AggOp {
    /// The aggregate named `name` (case-insensitive), with its result type over `input`.
    pub fn resolve(name: &str, star: bool, input: EsqlType) -> Result<(AggOp, EsqlType), String> {
        let op = match name.to_ascii_lowercase().as_str() {
            "count" if star => AggOp::CountRows,
            "count" => AggOp::Count,
            "count_distinct" => AggOp::CountDistinct,
            "min" => AggOp::Min,
            "max" => AggOp::Max,
            "sum" => AggOp::Sum,
            "avg" => AggOp::Avg,
            "values" => AggOp::Values,
            "median" | "percentile" => AggOp::Percentile,
            "median_absolute_deviation" => AggOp::MedianAbsoluteDeviation,
            "std_dev" => AggOp::StdDev,
            // stats.csv-spec varianceWithInts: `STD_VAR(salary)` of employees is 1.894786801075E8,
            // the population variance, as `VARIANCE`.
            "variance" | "std_var" => AggOp::Variance,
            "present" => AggOp::Present,
            "absent" => AggOp::Absent,
            "top" => AggOp::Top,
            _ => return Err(format!("Unknown aggregate function [{name}]")),
        };
        let ty = match op {
            AggOp::CountRows | AggOp::Count | AggOp::CountDistinct => EsqlType::Long,
            AggOp::Present | AggOp::Absent => EsqlType::Boolean,
            AggOp::Avg
            | AggOp::Percentile
            | AggOp::MedianAbsoluteDeviation
            | AggOp::StdDev
            | AggOp::Variance => {
                if !input.is_numeric() && input != EsqlType::Null {
                    return Err(format!(
                        "argument of [{name}] must be [numeric], found value of type [{input}]"
                    ));
                }
                EsqlType::Double
            }
            AggOp::Sum => match input {
                EsqlType::Integer | EsqlType::Long => EsqlType::Long,
                // null.csv-spec sumOfNullWithEval: `SUM(null)` is of type null.
                EsqlType::Null => EsqlType::Null,
                EsqlType::Double | EsqlType::UnsignedLong => input,
                _ => {
                    return Err(format!(
                        "argument of [{name}] must be [numeric], found value of type [{input}]"
                    ));
                }
            },
            AggOp::Min | AggOp::Max | AggOp::Values | AggOp::Top => match input {
                EsqlType::Text if op != AggOp::Values => EsqlType::Keyword,
                t => t,
            },
        };
        Ok((op, ty))
    }

    pub fn is_aggregate(name: &str) -> bool {
        matches!(
            name.to_ascii_lowercase().as_str(),
            "count"
                | "count_distinct"
                | "min"
                | "max"
                | "sum"
                | "avg"
                | "values"
                | "median"
                | "percentile"
                | "median_absolute_deviation"
                | "std_dev"
                | "variance"
                | "std_var"
                | "present"
                | "absent"
                | "top"
                | "weighted_avg"
        )
    }
}

/// One ES|QL aggregate over an input of one type.
#[derive(Debug)]
pub struct EsqlAggregate {
    name: String,
    op: AggOp,
    input: EsqlType,
    ret: EsqlType,
    /// The percentile (0 to 100) of [`AggOp::Percentile`].
    percentile: f64,
    /// Where a failure (a `SUM` overflowing) is reported.
    failures: Option<(Warnings, Origin)>,
    /// How many values [`AggOp::Top`] keeps, and whether the largest.
    top: (usize, bool),
    signature: Signature,
}

impl EsqlAggregate {
    pub fn new(name: String, op: AggOp, input: EsqlType, ret: EsqlType) -> Self {
        EsqlAggregate {
            name,
            op,
            input,
            ret,
            percentile: 50.0,
            failures: None,
            top: (1, false),
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    /// [`AggOp::Top`] keeping `limit` values, the largest ones if `descending`.
    pub fn with_top(mut self, limit: usize, descending: bool) -> Self {
        self.top = (limit, descending);
        self
    }

    /// Reports failures (a `SUM` overflowing) as the call at `origin`'s.
    pub fn with_warnings(mut self, warnings: Warnings, origin: Origin) -> Self {
        self.failures = Some((warnings, origin));
        self
    }

    /// [`AggOp::Percentile`] at `percentile` (0 to 100) instead of the median.
    pub fn with_percentile(mut self, percentile: f64) -> Self {
        self.percentile = percentile;
        self
    }

    /// The type of the state's elements (one list per group between partial and final).
    fn state_type(&self) -> EsqlType {
        match self.op {
            AggOp::CountRows | AggOp::Count | AggOp::Present | AggOp::Absent => EsqlType::Long,
            AggOp::Avg
            | AggOp::Percentile
            | AggOp::MedianAbsoluteDeviation
            | AggOp::StdDev
            | AggOp::Variance => EsqlType::Double,
            AggOp::Sum => self.ret,
            _ => self.input,
        }
    }
}

impl PartialEq for EsqlAggregate {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.percentile == other.percentile && self.top == other.top
    }
}
impl Eq for EsqlAggregate {}
impl Hash for EsqlAggregate {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl AggregateUDFImpl for EsqlAggregate {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(self.ret.column())
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[state]", args.name),
            self.state_type().column(),
            true,
        ))])
    }
    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(EsqlAccumulator {
            op: self.op,
            input: self.input,
            ret: self.ret,
            state_ty: self.state_type(),
            count: 0,
            sum: None,
            delta: 0.0,
            failed: false,
            avg: (0.0, 0.0),
            best: None,
            set: BTreeSet::new(),
            percentile: self.percentile,
            values: Vec::new(),
            welford: Welford::default(),
            failures: self.failures.clone(),
            top: self.top,
            kept: Vec::new(),
            capped: false,
        }))
    }
}

/// A value ordered for sets: by ES|QL's comparison, then by its debug form for types that do
/// not compare (never mixed within one column).
#[derive(Clone, Debug)]
struct Ordered(Val);

impl PartialEq for Ordered {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ordered {}
impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.0, &other.0) {
            (Val::Double(a), Val::Double(b)) => a.total_cmp(b),
            (a, b) => a
                .compare(b)
                .unwrap_or_else(|| format!("{a:?}").cmp(&format!("{b:?}"))),
        }
    }
}

/// The first `limit` of `values` in ascending order, or descending.
fn top_of(mut values: Vec<Ordered>, (limit, descending): (usize, bool)) -> Vec<Ordered> {
    if descending {
        values.sort_by(|a, b| b.cmp(a));
    } else {
        values.sort();
    }
    values.truncate(limit);
    values
}

/// Kahan summation step (Elasticsearch's `CompensatedSum.add`): the new total and compensation.
fn compensated_add(total: f64, delta: f64, x: f64) -> (f64, f64) {
    if !x.is_finite() || !total.is_finite() {
        return (total + x, delta);
    }
    let corrected = x + delta;
    let updated = total + corrected;
    (updated, corrected - (updated - total))
}

#[derive(Debug)]
struct EsqlAccumulator {
    op: AggOp,
    input: EsqlType,
    ret: EsqlType,
    state_ty: EsqlType,
    count: i64,
    sum: Option<Val>,
    /// Kahan compensation of a double `SUM`/`AVG` (Elasticsearch's `CompensatedSum`).
    delta: f64,
    failed: bool,
    avg: (f64, f64),
    best: Option<Val>,
    set: BTreeSet<Ordered>,
    percentile: f64,
    /// Every value of a percentile or median absolute deviation (exact; Elasticsearch's
    /// t-digest is exact too on as few values as the csv-spec datasets hold).
    values: Vec<f64>,
    welford: Welford,
    failures: Option<(Warnings, Origin)>,
    top: (usize, bool),
    /// The values [`AggOp::Top`] keeps so far (at most twice its limit between trims).
    kept: Vec<Ordered>,
    /// Whether values were left out at [`MAX_VALUES_PER_GROUP`].
    capped: bool,
}

/// Running count, mean and sum of squared differences (Elasticsearch's `WelfordAlgorithm`).
#[derive(Debug, Default, Clone, Copy)]
struct Welford {
    count: f64,
    mean: f64,
    m2: f64,
}

impl Welford {
    fn add(&mut self, x: f64) {
        self.count += 1.0;
        let delta = x - self.mean;
        self.mean += delta / self.count;
        self.m2 += delta * (x - self.mean);
    }

    fn merge(&mut self, other: Welford) {
        if other.count == 0.0 {
            return;
        }
        let count = self.count + other.count;
        let delta = other.mean - self.mean;
        self.mean += delta * other.count / count;
        self.m2 += other.m2 + delta * delta * self.count * other.count / count;
        self.count = count;
    }

    fn variance(&self) -> Option<f64> {
        (self.count > 0.0).then(|| self.m2 / self.count)
    }
}

/// The value at rank `percentile / 100 * (n - 1)` of `sorted`, interpolated linearly
/// between its neighbours (what Elasticsearch's t-digest gives on few values: stats.csv-spec
/// medianOfConst expects `MEDIAN([-1, 0, 1, 3])` = 0.5, percentileWithConditions
/// `PERCENTILE([1, 2, 3], 50)` = 2.0).
fn percentile_of(sorted: &[f64], percentile: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = percentile / 100.0 * last as f64;
    let below = rank.floor() as usize;
    let above = rank.ceil() as usize;
    let (lo, hi) = (sorted[below.min(last)], sorted[above.min(last)]);
    Some(lo + (hi - lo) * (rank - below as f64))
}

/// The median of the absolute deviations from the median (stats.csv-spec
/// medianAbsoluteDeviationWithConditions).
fn median_absolute_deviation(sorted: &[f64]) -> Option<f64> {
    let median = percentile_of(sorted, 50.0)?;
    let mut deviations: Vec<f64> = sorted.iter().map(|x| (x - median).abs()).collect();
    deviations.sort_by(f64::total_cmp);
    percentile_of(&deviations, 50.0)
}

impl EsqlAccumulator {
    /// Keeps only [`AggOp::Top`]'s first values.
    fn trim_top(&mut self) {
        self.kept = top_of(std::mem::take(&mut self.kept), self.top);
    }

    /// Records that a value was left out at [`MAX_VALUES_PER_GROUP`] (warning once per group;
    /// identical lines collapse across groups).
    fn leave_out(&mut self) {
        if self.capped {
            return;
        }
        self.capped = true;
        if let Some((warnings, origin)) = &self.failures {
            warnings.note(
                origin.line,
                origin.column,
                &format!(
                    "limit MAX_VALUES_PER_GROUP ({MAX_VALUES_PER_GROUP}) reached: [{}] kept the first {MAX_VALUES_PER_GROUP} values of a group and left the rest out, so its result may be partial; narrow the input or group more finely",
                    origin.text
                ),
            );
        }
    }

    fn add(&mut self, v: &Val) {
        match self.op {
            AggOp::CountRows => {}
            AggOp::Count | AggOp::Present | AggOp::Absent => self.count += 1,
            AggOp::Top => {
                self.kept.push(Ordered(v.clone()));
                if self.kept.len() > self.top.0.saturating_mul(2).max(64) {
                    self.trim_top();
                }
            }
            AggOp::Percentile | AggOp::MedianAbsoluteDeviation => {
                if let Some(x) = v.as_f64() {
                    if self.values.len() < MAX_VALUES_PER_GROUP {
                        self.values.push(x);
                    } else {
                        self.leave_out();
                    }
                }
            }
            AggOp::StdDev | AggOp::Variance => {
                if let Some(x) = v.as_f64() {
                    self.welford.add(x);
                }
            }
            AggOp::Values => {
                let v = Ordered(v.clone());
                if self.set.len() < MAX_VALUES_PER_GROUP || self.set.contains(&v) {
                    self.set.insert(v);
                } else {
                    self.leave_out();
                }
            }
            AggOp::CountDistinct => {
                self.set.insert(Ordered(v.clone()));
            }
            AggOp::Min | AggOp::Max => {
                let better = match &self.best {
                    None => true,
                    Some(b) => {
                        let o = Ordered(v.clone()).cmp(&Ordered(b.clone()));
                        if self.op == AggOp::Min {
                            o == Ordering::Less
                        } else {
                            o == Ordering::Greater
                        }
                    }
                };
                if better {
                    self.best = Some(v.clone());
                }
            }
            AggOp::Sum => {
                if self.failed {
                    return;
                }
                // Doubles add with compensation, as Elasticsearch's `SumDoubleAggregator`: the
                // sum of 1.19 and 13.5 is 14.69, not 14.690000000000001 (stats.csv-spec
                // statsByMvFieldEval, statsByMvFieldWhere).
                if let (EsqlType::Double, Some(x)) = (self.ret, v.as_f64()) {
                    let total = self.sum.as_ref().and_then(Val::as_f64).unwrap_or(0.0);
                    let (total, delta) = compensated_add(total, self.delta, x);
                    self.delta = delta;
                    self.sum = Some(Val::Double(total));
                    return;
                }
                let v = match (self.ret, v) {
                    (EsqlType::Long, Val::Int(i)) => Val::Long(i64::from(*i)),
                    (_, v) => v.clone(),
                };
                self.sum = match self.sum.take() {
                    None => Some(v),
                    Some(acc) => match arith(Arith::Add, &acc, &v) {
                        Ok(s) => Some(s),
                        Err(message) => {
                            // stats.csv-spec sumWithOverflow: the group's sum is null, with
                            // Elasticsearch's warning at the call.
                            if let Some((warnings, origin)) = &self.failures {
                                warnings.record(origin, &message);
                            }
                            self.failed = true;
                            None
                        }
                    },
                };
            }
            AggOp::Avg => {
                if let Some(x) = v.as_f64() {
                    (self.avg.0, self.delta) = compensated_add(self.avg.0, self.delta, x);
                    self.avg.1 += 1.0;
                }
            }
        }
    }

    fn result(&self) -> Mv {
        match self.op {
            AggOp::Top => top_of(self.kept.clone(), self.top)
                .into_iter()
                .map(|o| o.0)
                .collect(),
            AggOp::CountRows | AggOp::Count => vec![Val::Long(self.count)],
            AggOp::CountDistinct => vec![Val::Long(self.set.len() as i64)],
            AggOp::Values => self.set.iter().map(|o| o.0.clone()).collect(),
            AggOp::Min | AggOp::Max => self.best.iter().cloned().collect(),
            AggOp::Sum => self.sum.iter().cloned().collect(),
            AggOp::Avg if self.avg.1 > 0.0 => vec![Val::Double(self.avg.0 / self.avg.1)],
            AggOp::Avg => Vec::new(),
            AggOp::Present => vec![Val::Bool(self.count > 0)],
            AggOp::Absent => vec![Val::Bool(self.count == 0)],
            AggOp::Percentile | AggOp::MedianAbsoluteDeviation => {
                let mut sorted = self.values.clone();
                sorted.sort_by(f64::total_cmp);
                let r = if self.op == AggOp::Percentile {
                    percentile_of(&sorted, self.percentile)
                } else {
                    median_absolute_deviation(&sorted)
                };
                r.map(Val::Double).into_iter().collect()
            }
            AggOp::Variance => self
                .welford
                .variance()
                .map(Val::Double)
                .into_iter()
                .collect(),
            AggOp::StdDev => self
                .welford
                .variance()
                .map(|v| Val::Double(v.sqrt()))
                .into_iter()
                .collect(),
        }
    }

    fn state_cell(&self) -> Mv {
        match self.op {
            AggOp::Avg => vec![Val::Double(self.avg.0), Val::Double(self.avg.1)],
            AggOp::CountDistinct => self.set.iter().map(|o| o.0.clone()).collect(),
            AggOp::Count | AggOp::Present | AggOp::Absent => vec![Val::Long(self.count)],
            AggOp::Percentile | AggOp::MedianAbsoluteDeviation => {
                self.values.iter().map(|x| Val::Double(*x)).collect()
            }
            // A failed sum's state is two values (a sum's is at most one), so merging
            // keeps the failure.
            AggOp::Sum if self.failed => {
                let zero = match self.ret {
                    EsqlType::UnsignedLong => Val::ULong(0),
                    EsqlType::Double => Val::Double(0.0),
                    _ => Val::Long(0),
                };
                vec![zero.clone(), zero]
            }
            AggOp::StdDev | AggOp::Variance => vec![
                Val::Double(self.welford.count),
                Val::Double(self.welford.mean),
                Val::Double(self.welford.m2),
            ],
            _ => self.result(),
        }
    }
}

impl Accumulator for EsqlAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(array) = values.first() else {
            return Ok(());
        };
        if self.op == AggOp::CountRows {
            self.count += array.len() as i64;
            return Ok(());
        }
        let column = Column::new(array, self.input);
        for row in 0..array.len() {
            for v in column.get(row) {
                self.add(&v);
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(array) = states.first() else {
            return Ok(());
        };
        let column = Column::new(array, self.state_ty);
        for row in 0..array.len() {
            let cell = column.get(row);
            match self.op {
                AggOp::CountRows | AggOp::Count | AggOp::Present | AggOp::Absent => {
                    self.count += cell.first().and_then(Val::as_i64).unwrap_or(0);
                }
                AggOp::Sum if cell.len() > 1 => {
                    self.failed = true;
                    self.sum = None;
                }
                AggOp::StdDev | AggOp::Variance => {
                    if let [Val::Double(count), Val::Double(mean), Val::Double(m2)] =
                        cell.as_slice()
                    {
                        self.welford.merge(Welford {
                            count: *count,
                            mean: *mean,
                            m2: *m2,
                        });
                    }
                }
                AggOp::Avg => {
                    if let [Val::Double(s), Val::Double(n)] = cell.as_slice() {
                        self.avg.0 += s;
                        self.avg.1 += n;
                    }
                }
                _ => cell.iter().for_each(|v| self.add(v)),
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![literal(self.state_ty, self.state_cell())?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        literal(self.ret, self.result())
    }

    fn size(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.set.len() * (std::mem::size_of::<Ordered>() + 16)
            + self.values.capacity() * std::mem::size_of::<f64>()
            + self.kept.capacity() * (std::mem::size_of::<Ordered>() + 16)
    }
}

/// Builds a one-column array of results (used by tests).
#[cfg(test)]
fn run(op: AggOp, input: EsqlType, cells: &[Mv]) -> Mv {
    let mut acc = fresh(op, input);
    acc.update_batch(&[build(input, cells).unwrap()]).unwrap();
    acc.result()
}

/// An empty accumulator of `op` over `input` (used by tests).
#[cfg(test)]
fn fresh(op: AggOp, input: EsqlType) -> EsqlAccumulator {
    let (_, ret) = AggOp::resolve(
        match op {
            AggOp::CountRows | AggOp::Count => "count",
            AggOp::CountDistinct => "count_distinct",
            AggOp::Min => "min",
            AggOp::Max => "max",
            AggOp::Sum => "sum",
            AggOp::Avg => "avg",
            AggOp::Values => "values",
            AggOp::Percentile => "median",
            AggOp::MedianAbsoluteDeviation => "median_absolute_deviation",
            AggOp::StdDev => "std_dev",
            AggOp::Variance => "variance",
            AggOp::Present => "present",
            AggOp::Absent => "absent",
            AggOp::Top => "top",
        },
        op == AggOp::CountRows,
        input,
    )
    .unwrap();
    let agg = EsqlAggregate::new("t".into(), op, input, ret);
    EsqlAccumulator {
        op,
        input,
        ret,
        state_ty: agg.state_type(),
        count: 0,
        sum: None,
        delta: 0.0,
        failed: false,
        avg: (0.0, 0.0),
        best: None,
        set: BTreeSet::new(),
        percentile: 50.0,
        values: Vec::new(),
        welford: Welford::default(),
        failures: None,
        top: (1, false),
        kept: Vec::new(),
        capped: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_consume_every_value_and_skip_nulls() {
        let cells = vec![vec![Val::Long(3), Val::Long(1)], vec![], vec![Val::Long(2)]];
        assert_eq!(
            run(AggOp::Count, EsqlType::Long, &cells),
            vec![Val::Long(3)]
        );
        assert_eq!(
            run(AggOp::CountRows, EsqlType::Long, &cells),
            vec![Val::Long(3)]
        );
        assert_eq!(run(AggOp::Min, EsqlType::Long, &cells), vec![Val::Long(1)]);
        assert_eq!(run(AggOp::Sum, EsqlType::Long, &cells), vec![Val::Long(6)]);
        assert_eq!(run(AggOp::Max, EsqlType::Long, &[vec![]]), vec![]);
        assert_eq!(
            run(AggOp::CountDistinct, EsqlType::Long, &[vec![]]),
            vec![Val::Long(0)]
        );
        let ints = vec![vec![Val::Int(i32::MAX)], vec![Val::Int(1)]];
        assert_eq!(
            run(AggOp::Sum, EsqlType::Integer, &ints),
            vec![Val::Long(i64::from(i32::MAX) + 1)]
        );
    }

    #[test]
    fn double_sums_are_compensated() {
        // stats.csv-spec statsByMvFieldEval: Elasticsearch sums doubles with Kahan
        // compensation; a naive sum of ten 0.1s is 0.9999999999999999.
        let tenths = vec![vec![Val::Double(0.1)]; 10];
        assert_eq!(
            run(AggOp::Sum, EsqlType::Double, &tenths),
            vec![Val::Double(1.0)]
        );
        assert_eq!(
            run(AggOp::Avg, EsqlType::Double, &tenths),
            vec![Val::Double(0.1)]
        );
    }

    #[test]
    fn percentiles_interpolate_and_deviations_are_population() {
        let cells: Vec<Mv> = [1, 3, 4, 7, 11, 18]
            .iter()
            .map(|x| vec![Val::Int(*x)])
            .collect();
        // stats.csv-spec medianAbsoluteDeviationWithConditions: 3.5 over these values.
        assert_eq!(
            run(AggOp::MedianAbsoluteDeviation, EsqlType::Integer, &cells),
            vec![Val::Double(3.5)]
        );
        // An even count takes the mean of the middle two (stats.csv-spec medianOfConst).
        assert_eq!(
            run(AggOp::Percentile, EsqlType::Integer, &cells),
            vec![Val::Double(5.5)]
        );
        assert_eq!(run(AggOp::Percentile, EsqlType::Integer, &[vec![]]), vec![]);
        let two = vec![vec![Val::Double(1.0), Val::Double(3.0)]];
        assert_eq!(
            run(AggOp::Variance, EsqlType::Double, &two),
            vec![Val::Double(1.0)]
        );
        assert_eq!(
            run(AggOp::StdDev, EsqlType::Double, &two),
            vec![Val::Double(1.0)]
        );
        assert_eq!(
            run(AggOp::Present, EsqlType::Double, &[vec![]]),
            vec![Val::Bool(false)]
        );
    }

    #[test]
    fn an_overflowed_sum_stays_null_through_a_merge() {
        // stats.csv-spec sumWithOverflow: a group whose sum overflows is null, also when its
        // partial state meets another partition's.
        let mut overflowed = fresh(AggOp::Sum, EsqlType::Long);
        let huge = vec![vec![Val::Long(i64::MAX)], vec![Val::Long(1)]];
        overflowed
            .update_batch(&[build(EsqlType::Long, &huge).unwrap()])
            .unwrap();
        assert_eq!(overflowed.result(), vec![]);
        let state = overflowed.state().unwrap();
        let mut other = fresh(AggOp::Sum, EsqlType::Long);
        other
            .update_batch(&[build(EsqlType::Long, &[vec![Val::Long(2)]]).unwrap()])
            .unwrap();
        other.merge_batch(&[state[0].to_array().unwrap()]).unwrap();
        assert_eq!(other.result(), vec![]);
    }

    #[test]
    fn top_keeps_the_first_values_in_order_with_repeats() {
        // stats.csv-spec topWithConditions.
        let mut acc = fresh(AggOp::Top, EsqlType::Integer);
        acc.top = (3, true);
        let cells: Vec<Mv> = [5, 9, 9, 1, 7].iter().map(|x| vec![Val::Int(*x)]).collect();
        acc.update_batch(&[build(EsqlType::Integer, &cells).unwrap()])
            .unwrap();
        assert_eq!(acc.result(), vec![Val::Int(9), Val::Int(9), Val::Int(7)]);
    }

    #[test]
    fn value_keeping_aggregates_stop_at_the_cap_and_warn() {
        for op in [AggOp::Percentile, AggOp::Values] {
            let mut acc = fresh(op, EsqlType::Long);
            let warnings = Warnings::default();
            let origin = Origin {
                line: 1,
                column: 7,
                text: "MEDIAN(x)".into(),
            };
            acc.failures = Some((warnings.clone(), origin));
            let cells: Vec<Mv> = (0..MAX_VALUES_PER_GROUP as i64 + 10)
                .map(|x| vec![Val::Long(x)])
                .collect();
            acc.update_batch(&[build(EsqlType::Long, &cells).unwrap()])
                .unwrap();
            let kept = if op == AggOp::Values {
                acc.set.len()
            } else {
                acc.values.len()
            };
            assert_eq!(kept, MAX_VALUES_PER_GROUP);
            let (lines, _) = warnings.lines();
            assert_eq!(lines.len(), 1, "{lines:?}");
            assert!(
                lines[0].starts_with(
                    "Line 1:7: limit MAX_VALUES_PER_GROUP (100000) reached: [MEDIAN(x)]"
                )
            );
            assert!(lines[0].contains("may be partial"));
            // A value already kept still counts: VALUES of repeats is unaffected.
            if op == AggOp::Values {
                let before = acc.result().len();
                acc.add(&Val::Long(0));
                assert_eq!(acc.result().len(), before);
            }
        }
        // Under the cap nothing is recorded.
        let mut acc = fresh(AggOp::Percentile, EsqlType::Long);
        let warnings = Warnings::default();
        acc.failures = Some((warnings.clone(), Origin::default()));
        acc.update_batch(&[build(EsqlType::Long, &[vec![Val::Long(1)]]).unwrap()])
            .unwrap();
        assert_eq!(warnings.lines().0, Vec::<String>::new());
    }
}
