//! ES|QL's data types and how each is carried in Arrow.
//!
//! Every ES|QL value may be multi-valued, so every column of a plan is an Arrow `List` of
//! the type's element (`null` when the field has no value, one element for a single value).
//! Dates are milliseconds since the epoch in an `Int64` element; `ip`, `version` and the
//! string types are `Utf8` (an ip in its canonical text form). The plan compiler tracks each
//! column's ES|QL type beside the Arrow schema, since several ES|QL types share one element.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field};
use dragnet_schema::FieldType;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EsqlType {
    Keyword,
    Text,
    Ip,
    Version,
    Long,
    Integer,
    UnsignedLong,
    Double,
    Boolean,
    /// `datetime`: milliseconds since the epoch.
    Date,
    /// A literal `null` (no type yet).
    Null,
    /// `time_duration` (`1 hour`): milliseconds; only as a constant argument.
    TimeDuration,
    /// `date_period` (`1 month`): months and days; only as a constant argument.
    DatePeriod,
    /// A mapped type ES|QL reads as `unsupported` (objects, geo shapes, ranges...).
    Unsupported,
}

impl EsqlType {
    /// The type ES|QL gives a field of this Elasticsearch mapping type.
    pub fn of_field(ty: FieldType) -> EsqlType {
        use FieldType as F;
        match ty {
            F::Keyword | F::ConstantKeyword | F::Wildcard | F::CountedKeyword | F::Flattened => {
                EsqlType::Keyword
            }
            F::Text | F::MatchOnlyText | F::SearchAsYouType | F::SemanticText => EsqlType::Text,
            F::Long => EsqlType::Long,
            F::Integer | F::Short | F::Byte | F::TokenCount => EsqlType::Integer,
            F::Double | F::Float | F::HalfFloat | F::ScaledFloat => EsqlType::Double,
            F::UnsignedLong => EsqlType::UnsignedLong,
            F::Boolean => EsqlType::Boolean,
            F::Date | F::DateNanos => EsqlType::Date,
            F::Ip => EsqlType::Ip,
            F::Version => EsqlType::Version,
            // geo_point is read as its WKT text (`POINT (lon lat)`): dragnet keeps it a string.
            F::GeoPoint => EsqlType::Keyword,
            _ => EsqlType::Unsupported,
        }
    }

    /// The name ES|QL prints for the type (column headers of `dragnet esql`, errors).
    pub fn name(self) -> &'static str {
        match self {
            EsqlType::Keyword => "keyword",
            EsqlType::Text => "text",
            EsqlType::Ip => "ip",
            EsqlType::Version => "version",
            EsqlType::Long => "long",
            EsqlType::Integer => "integer",
            EsqlType::UnsignedLong => "unsigned_long",
            EsqlType::Double => "double",
            EsqlType::Boolean => "boolean",
            EsqlType::Date => "date",
            EsqlType::Null => "null",
            EsqlType::TimeDuration => "time_duration",
            EsqlType::DatePeriod => "date_period",
            EsqlType::Unsupported => "unsupported",
        }
    }

    /// Parses a csv-spec / cast type name (`keyword`, `long`, `datetime`, `date`, `ip`...).
    pub fn from_name(name: &str) -> Option<EsqlType> {
        Some(match name.to_ascii_lowercase().as_str() {
            "keyword" | "string" | "k" | "s" => EsqlType::Keyword,
            "text" | "txt" => EsqlType::Text,
            "ip" => EsqlType::Ip,
            "version" | "v" => EsqlType::Version,
            "long" | "l" => EsqlType::Long,
            "integer" | "int" | "i" | "short" | "byte" => EsqlType::Integer,
            "unsigned_long" | "ul" => EsqlType::UnsignedLong,
            "double" | "d" | "float" | "f" | "half_float" | "scaled_float" => EsqlType::Double,
            "boolean" | "bool" | "b" => EsqlType::Boolean,
            "date" | "datetime" | "date_time" | "dt" => EsqlType::Date,
            "null" => EsqlType::Null,
            _ => return None,
        })
    }

    pub fn is_string(self) -> bool {
        matches!(self, EsqlType::Keyword | EsqlType::Text)
    }

    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            EsqlType::Long | EsqlType::Integer | EsqlType::Double | EsqlType::UnsignedLong
        )
    }

    /// The Arrow type of one element.
    pub fn element(self) -> DataType {
        match self {
            EsqlType::Keyword
            | EsqlType::Text
            | EsqlType::Ip
            | EsqlType::Version
            | EsqlType::Null
            | EsqlType::Unsupported => DataType::Utf8,
            EsqlType::Long | EsqlType::Date | EsqlType::TimeDuration | EsqlType::DatePeriod => {
                DataType::Int64
            }
            EsqlType::UnsignedLong => DataType::UInt64,
            EsqlType::Integer => DataType::Int32,
            EsqlType::Double => DataType::Float64,
            EsqlType::Boolean => DataType::Boolean,
        }
    }

    /// The Arrow type of a column: a list of elements.
    pub fn column(self) -> DataType {
        DataType::List(Arc::new(Field::new("item", self.element(), true)))
    }

    /// The common type of two branches (CASE, COALESCE): a null literal takes the other's;
    /// keyword and text meet in keyword.
    pub fn unify(self, other: EsqlType) -> Option<EsqlType> {
        match (self, other) {
            (a, b) if a == b => Some(a),
            (EsqlType::Null, b) => Some(b),
            (a, EsqlType::Null) => Some(a),
            (a, b) if a.is_string() && b.is_string() => Some(EsqlType::Keyword),
            _ => None,
        }
    }
}

impl std::fmt::Display for EsqlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
