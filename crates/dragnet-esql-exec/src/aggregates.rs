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
#[cfg(test)]
use crate::value::build;
use crate::value::{Column, Mv, Val, literal};

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
            _ => return Err(format!("Unknown aggregate function [{name}]")),
        };
        let ty = match op {
            AggOp::CountRows | AggOp::Count | AggOp::CountDistinct => EsqlType::Long,
            AggOp::Avg => {
                if !input.is_numeric() && input != EsqlType::Null {
                    return Err(format!(
                        "argument of [{name}] must be [numeric], found value of type [{input}]"
                    ));
                }
                EsqlType::Double
            }
            AggOp::Sum => match input {
                EsqlType::Integer | EsqlType::Long | EsqlType::Null => EsqlType::Long,
                EsqlType::Double | EsqlType::UnsignedLong => input,
                _ => {
                    return Err(format!(
                        "argument of [{name}] must be [numeric], found value of type [{input}]"
                    ));
                }
            },
            AggOp::Min | AggOp::Max | AggOp::Values => match input {
                EsqlType::Text if op != AggOp::Values => EsqlType::Keyword,
                t => t,
            },
        };
        Ok((op, ty))
    }

    pub fn is_aggregate(name: &str) -> bool {
        matches!(
            name.to_ascii_lowercase().as_str(),
            "count" | "count_distinct" | "min" | "max" | "sum" | "avg" | "values"
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
    signature: Signature,
}

impl EsqlAggregate {
    pub fn new(name: String, op: AggOp, input: EsqlType, ret: EsqlType) -> Self {
        EsqlAggregate {
            name,
            op,
            input,
            ret,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    /// The type of the state's elements (one list per group between partial and final).
    fn state_type(&self) -> EsqlType {
        match self.op {
            AggOp::CountRows | AggOp::Count => EsqlType::Long,
            AggOp::Avg => EsqlType::Double,
            AggOp::Sum => self.ret,
            _ => self.input,
        }
    }
}

impl PartialEq for EsqlAggregate {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
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
            failed: false,
            avg: (0.0, 0.0),
            best: None,
            set: BTreeSet::new(),
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

#[derive(Debug)]
struct EsqlAccumulator {
    op: AggOp,
    input: EsqlType,
    ret: EsqlType,
    state_ty: EsqlType,
    count: i64,
    sum: Option<Val>,
    failed: bool,
    avg: (f64, f64),
    best: Option<Val>,
    set: BTreeSet<Ordered>,
}

impl EsqlAccumulator {
    fn add(&mut self, v: &Val) {
        match self.op {
            AggOp::CountRows => {}
            AggOp::Count => self.count += 1,
            AggOp::CountDistinct | AggOp::Values => {
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
                let v = match (self.ret, v) {
                    (EsqlType::Long, Val::Int(i)) => Val::Long(i64::from(*i)),
                    (_, v) => v.clone(),
                };
                self.sum = match self.sum.take() {
                    None => Some(v),
                    Some(acc) => match arith(Arith::Add, &acc, &v) {
                        Ok(s) => Some(s),
                        Err(_) => {
                            self.failed = true;
                            None
                        }
                    },
                };
            }
            AggOp::Avg => {
                if let Some(x) = v.as_f64() {
                    self.avg.0 += x;
                    self.avg.1 += 1.0;
                }
            }
        }
    }

    fn result(&self) -> Mv {
        match self.op {
            AggOp::CountRows | AggOp::Count => vec![Val::Long(self.count)],
            AggOp::CountDistinct => vec![Val::Long(self.set.len() as i64)],
            AggOp::Values => self.set.iter().map(|o| o.0.clone()).collect(),
            AggOp::Min | AggOp::Max => self.best.iter().cloned().collect(),
            AggOp::Sum => self.sum.iter().cloned().collect(),
            AggOp::Avg if self.avg.1 > 0.0 => vec![Val::Double(self.avg.0 / self.avg.1)],
            AggOp::Avg => Vec::new(),
        }
    }

    fn state_cell(&self) -> Mv {
        match self.op {
            AggOp::Avg => vec![Val::Double(self.avg.0), Val::Double(self.avg.1)],
            AggOp::CountDistinct => self.set.iter().map(|o| o.0.clone()).collect(),
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
                AggOp::CountRows | AggOp::Count => {
                    self.count += cell.first().and_then(Val::as_i64).unwrap_or(0);
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
        std::mem::size_of::<Self>() + self.set.len() * (std::mem::size_of::<Ordered>() + 16)
    }
}

/// Builds a one-column array of results (used by tests).
#[cfg(test)]
fn run(op: AggOp, input: EsqlType, cells: &[Mv]) -> Mv {
    let (_, ret) = AggOp::resolve(
        match op {
            AggOp::CountRows | AggOp::Count => "count",
            AggOp::CountDistinct => "count_distinct",
            AggOp::Min => "min",
            AggOp::Max => "max",
            AggOp::Sum => "sum",
            AggOp::Avg => "avg",
            AggOp::Values => "values",
        },
        op == AggOp::CountRows,
        input,
    )
    .unwrap();
    let agg = EsqlAggregate::new("t".into(), op, input, ret);
    let mut acc = EsqlAccumulator {
        op,
        input,
        ret,
        state_ty: agg.state_type(),
        count: 0,
        sum: None,
        failed: false,
        avg: (0.0, 0.0),
        best: None,
        set: BTreeSet::new(),
    };
    acc.update_batch(&[build(input, cells).unwrap()]).unwrap();
    acc.result()
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
}
