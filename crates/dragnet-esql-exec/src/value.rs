//! Row-level ES|QL values and their Arrow columns.
//!
//! A cell is an [`Mv`]: no value (null), one, or several. [`Column`] reads the cells of an
//! Arrow array (a `List` column, or a plain array as DataFusion produces for grouping keys);
//! [`build`] writes cells back as a `List` column of an ES|QL type.

use std::cmp::Ordering;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder,
    ListArray, ListBuilder, StringBuilder, UInt64Builder,
};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type, UInt64Type};
use datafusion::common::{Result, ScalarValue, exec_err};

use crate::types::EsqlType;

/// One ES|QL value.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Str(String),
    Long(i64),
    Int(i32),
    ULong(u64),
    Double(f64),
    Bool(bool),
    /// Milliseconds since the epoch.
    Date(i64),
}

/// A cell: empty is null, one element a single value, more a multi-value.
pub type Mv = Vec<Val>;

impl Val {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a double (numbers only).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Long(v) | Val::Date(v) => Some(*v as f64),
            Val::Int(v) => Some(*v as f64),
            Val::ULong(v) => Some(*v as f64),
            Val::Double(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as a long (integral numbers and dates).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Val::Long(v) | Val::Date(v) => Some(*v),
            Val::Int(v) => Some(i64::from(*v)),
            Val::ULong(v) => i64::try_from(*v).ok(),
            _ => None,
        }
    }

    /// ES|QL's order between two values of comparable types: numbers across their types,
    /// strings by UTF-8 bytes (Lucene's `BytesRef` order), booleans false first.
    pub fn compare(&self, other: &Val) -> Option<Ordering> {
        match (self, other) {
            (Val::Str(a), Val::Str(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Val::Bool(a), Val::Bool(b)) => Some(a.cmp(b)),
            (Val::Date(a), Val::Date(b)) => Some(a.cmp(b)),
            (Val::Long(a), Val::Long(b)) => Some(a.cmp(b)),
            (Val::Int(a), Val::Int(b)) => Some(a.cmp(b)),
            (Val::ULong(a), Val::ULong(b)) => Some(a.cmp(b)),
            (a, b) => match (a.integral(), b.integral()) {
                (Some(x), Some(y)) => Some(x.cmp(&y)),
                _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
            },
        }
    }

    fn integral(&self) -> Option<i128> {
        match self {
            Val::Long(v) | Val::Date(v) => Some(i128::from(*v)),
            Val::Int(v) => Some(i128::from(*v)),
            Val::ULong(v) => Some(i128::from(*v)),
            _ => None,
        }
    }

    /// The value as ES|QL prints it (`TO_STRING`, result tables): dates in ISO 8601 with
    /// milliseconds, doubles in Java's shortest form.
    pub fn render(&self) -> String {
        match self {
            Val::Str(s) => s.clone(),
            Val::Long(v) => v.to_string(),
            Val::Int(v) => v.to_string(),
            Val::ULong(v) => v.to_string(),
            Val::Double(v) => render_double(*v),
            Val::Bool(v) => v.to_string(),
            Val::Date(ms) => render_date(*ms),
        }
    }
}

/// A double as Java's `Double.toString` spells the common cases: always a decimal point,
/// scientific notation outside `[1e-3, 1e7)`.
pub fn render_double(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let abs = v.abs();
    if v == 0.0 || (1e-3..1e7).contains(&abs) {
        let s = format!("{v:?}");
        if s.contains('.') || s.contains('e') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        // Rust's `{:e}` gives `1.5e7`; Java writes `1.5E7`.
        let s = format!("{v:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exp}")
    }
}

/// Milliseconds since the epoch as `2023-10-23T12:15:03.360Z`.
pub fn render_date(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => ms.to_string(),
    }
}

/// Reads the cells of one argument array.
pub struct Column<'a> {
    list: Option<&'a ListArray>,
    values: &'a dyn Array,
    ty: EsqlType,
}

impl<'a> Column<'a> {
    pub fn new(array: &'a ArrayRef, ty: EsqlType) -> Column<'a> {
        match array.data_type() {
            DataType::List(_) => {
                let list = array.as_list::<i32>();
                Column {
                    list: Some(list),
                    values: list.values().as_ref(),
                    ty,
                }
            }
            _ => Column {
                list: None,
                values: array.as_ref(),
                ty,
            },
        }
    }

    pub fn get(&self, row: usize) -> Mv {
        match self.list {
            Some(list) => {
                if list.is_null(row) {
                    return Vec::new();
                }
                let offsets = list.value_offsets();
                let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
                (start..end)
                    .filter_map(|i| element(self.values, i, self.ty))
                    .collect()
            }
            None => element(self.values, row, self.ty).into_iter().collect(),
        }
    }

    /// Whether the cell is null, without building it.
    pub fn is_null(&self, row: usize) -> bool {
        match self.list {
            Some(list) => list.is_null(row) || list.value_length(row) == 0,
            None => self.values.is_null(row),
        }
    }
}

fn element(values: &dyn Array, i: usize, ty: EsqlType) -> Option<Val> {
    if values.is_null(i) {
        return None;
    }
    Some(match values.data_type() {
        DataType::Utf8 => Val::Str(values.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => Val::Str(values.as_string::<i64>().value(i).to_string()),
        DataType::Utf8View => Val::Str(values.as_string_view().value(i).to_string()),
        DataType::Int64 => {
            let v = values.as_primitive::<Int64Type>().value(i);
            if ty == EsqlType::Date {
                Val::Date(v)
            } else {
                Val::Long(v)
            }
        }
        DataType::Int32 => Val::Int(values.as_primitive::<Int32Type>().value(i)),
        DataType::UInt64 => Val::ULong(values.as_primitive::<UInt64Type>().value(i)),
        DataType::Float64 => Val::Double(values.as_primitive::<Float64Type>().value(i)),
        DataType::Boolean => Val::Bool(values.as_boolean().value(i)),
        _ => return None,
    })
}

/// Writes cells as a `List` column of `ty`. A value of another type than `ty` is converted
/// where ES|QL would (an int into a long column); one that cannot be is an error.
pub fn build(ty: EsqlType, cells: &[Mv]) -> Result<ArrayRef> {
    macro_rules! list {
        ($builder:expr, $push:expr) => {{
            let mut b = ListBuilder::new($builder);
            for cell in cells {
                if cell.is_empty() {
                    b.append(false);
                    continue;
                }
                for v in cell {
                    $push(b.values(), v)?;
                }
                b.append(true);
            }
            Arc::new(b.finish()) as ArrayRef
        }};
    }
    let array = match ty.element() {
        DataType::Utf8 => list!(StringBuilder::new(), |b: &mut StringBuilder, v: &Val| {
            match v {
                Val::Str(s) => b.append_value(s),
                other => b.append_value(other.render()),
            }
            Ok::<_, datafusion::error::DataFusionError>(())
        }),
        DataType::Int64 => list!(Int64Builder::new(), |b: &mut Int64Builder, v: &Val| {
            match v.as_i64() {
                Some(x) => b.append_value(x),
                None => return exec_err!("ES|QL: {v:?} in a {ty} column"),
            }
            Ok(())
        }),
        DataType::Int32 => list!(Int32Builder::new(), |b: &mut Int32Builder, v: &Val| {
            match v {
                Val::Int(x) => b.append_value(*x),
                _ => return exec_err!("ES|QL: {v:?} in an integer column"),
            }
            Ok(())
        }),
        DataType::UInt64 => list!(UInt64Builder::new(), |b: &mut UInt64Builder, v: &Val| {
            match v {
                Val::ULong(x) => b.append_value(*x),
                _ => return exec_err!("ES|QL: {v:?} in an unsigned_long column"),
            }
            Ok(())
        }),
        DataType::Float64 => list!(Float64Builder::new(), |b: &mut Float64Builder, v: &Val| {
            match v.as_f64() {
                Some(x) => b.append_value(x),
                None => return exec_err!("ES|QL: {v:?} in a double column"),
            }
            Ok(())
        }),
        DataType::Boolean => list!(BooleanBuilder::new(), |b: &mut BooleanBuilder, v: &Val| {
            match v {
                Val::Bool(x) => b.append_value(*x),
                _ => return exec_err!("ES|QL: {v:?} in a boolean column"),
            }
            Ok(())
        }),
        other => return exec_err!("ES|QL: no column of element type {other}"),
    };
    Ok(array)
}

/// A constant cell as a DataFusion literal (a one-row list).
pub fn literal(ty: EsqlType, cell: Mv) -> Result<ScalarValue> {
    let array = build(ty, &[cell])?;
    Ok(ScalarValue::List(Arc::new(array.as_list::<i32>().clone())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_round_trip_through_list_columns() {
        let cells = vec![
            vec![Val::Str("a".into())],
            vec![],
            vec![Val::Str("b".into()), Val::Str("c".into())],
        ];
        let array = build(EsqlType::Keyword, &cells).unwrap();
        let column = Column::new(&array, EsqlType::Keyword);
        assert_eq!((0..3).map(|i| column.get(i)).collect::<Vec<_>>(), cells);
        assert!(column.is_null(1));
        let dates = build(EsqlType::Date, &[vec![Val::Date(5)]]).unwrap();
        assert_eq!(
            Column::new(&dates, EsqlType::Date).get(0),
            vec![Val::Date(5)]
        );
    }

    #[test]
    fn doubles_print_as_java_does() {
        assert_eq!(render_double(1.0), "1.0");
        assert_eq!(render_double(0.5), "0.5");
        assert_eq!(render_double(1.5e7), "1.5E7");
        assert_eq!(render_double(1e-4), "1.0E-4");
        assert_eq!(render_date(0), "1970-01-01T00:00:00.000Z");
    }
}
