//! The Elasticsearch field types and the per-field definition record.

use std::borrow::Cow;
use std::fmt;

/// An Elasticsearch field mapping type (the `type` of a field in a mapping).
///
/// Matching semantics in the query engines depend on it: `keyword` family fields match exactly
/// and case-sensitively, `text` family fields are analysed, `ip` fields accept CIDR, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldType {
    Keyword,
    ConstantKeyword,
    Wildcard,
    CountedKeyword,
    Text,
    MatchOnlyText,
    SearchAsYouType,
    SemanticText,
    TokenCount,
    Long,
    Integer,
    Short,
    Byte,
    Double,
    Float,
    HalfFloat,
    ScaledFloat,
    UnsignedLong,
    Boolean,
    Date,
    DateNanos,
    Ip,
    Flattened,
    Object,
    Nested,
    GeoPoint,
    GeoShape,
    Point,
    Shape,
    Binary,
    Version,
    IntegerRange,
    LongRange,
    FloatRange,
    DoubleRange,
    DateRange,
    IpRange,
    Histogram,
    AggregateMetricDouble,
    DenseVector,
    SparseVector,
    RankFeature,
    RankFeatures,
    Completion,
    Percolator,
    Join,
    Murmur3,
    Alias,
}

impl FieldType {
    const NAMES: &'static [(&'static str, FieldType)] = &[
        ("keyword", FieldType::Keyword),
        ("constant_keyword", FieldType::ConstantKeyword),
        ("wildcard", FieldType::Wildcard),
        ("counted_keyword", FieldType::CountedKeyword),
        ("text", FieldType::Text),
        ("match_only_text", FieldType::MatchOnlyText),
        ("search_as_you_type", FieldType::SearchAsYouType),
        ("semantic_text", FieldType::SemanticText),
        ("token_count", FieldType::TokenCount),
        ("long", FieldType::Long),
        ("integer", FieldType::Integer),
        ("short", FieldType::Short),
        ("byte", FieldType::Byte),
        ("double", FieldType::Double),
        ("float", FieldType::Float),
        ("half_float", FieldType::HalfFloat),
        ("scaled_float", FieldType::ScaledFloat),
        ("unsigned_long", FieldType::UnsignedLong),
        ("boolean", FieldType::Boolean),
        ("date", FieldType::Date),
        ("date_nanos", FieldType::DateNanos),
        ("ip", FieldType::Ip),
        ("flattened", FieldType::Flattened),
        ("object", FieldType::Object),
        ("nested", FieldType::Nested),
        ("geo_point", FieldType::GeoPoint),
        ("geo_shape", FieldType::GeoShape),
        ("point", FieldType::Point),
        ("shape", FieldType::Shape),
        ("binary", FieldType::Binary),
        ("version", FieldType::Version),
        ("integer_range", FieldType::IntegerRange),
        ("long_range", FieldType::LongRange),
        ("float_range", FieldType::FloatRange),
        ("double_range", FieldType::DoubleRange),
        ("date_range", FieldType::DateRange),
        ("ip_range", FieldType::IpRange),
        ("histogram", FieldType::Histogram),
        ("aggregate_metric_double", FieldType::AggregateMetricDouble),
        ("dense_vector", FieldType::DenseVector),
        ("sparse_vector", FieldType::SparseVector),
        ("rank_feature", FieldType::RankFeature),
        ("rank_features", FieldType::RankFeatures),
        ("completion", FieldType::Completion),
        ("percolator", FieldType::Percolator),
        ("join", FieldType::Join),
        ("murmur3", FieldType::Murmur3),
        ("alias", FieldType::Alias),
    ];

    /// Parses the Elasticsearch type name (`"keyword"`, `"match_only_text"`, ...).
    pub fn from_es_name(name: &str) -> Option<FieldType> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
    }

    /// The Elasticsearch type name, as it appears in a mapping.
    pub fn es_name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, t)| *t == self)
            .map(|(n, _)| *n)
            .expect("every FieldType variant is listed in NAMES")
    }

    /// `keyword`, `constant_keyword`, `wildcard`, `counted_keyword`: exact, case-sensitive terms.
    pub fn is_keyword_family(self) -> bool {
        matches!(
            self,
            FieldType::Keyword
                | FieldType::ConstantKeyword
                | FieldType::Wildcard
                | FieldType::CountedKeyword
        )
    }

    /// Analysed string types (`text`, `match_only_text`, ...).
    pub fn is_text_family(self) -> bool {
        matches!(
            self,
            FieldType::Text
                | FieldType::MatchOnlyText
                | FieldType::SearchAsYouType
                | FieldType::SemanticText
        )
    }

    /// Numeric types (integers, floating point, `scaled_float`, `unsigned_long`).
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::Long
                | FieldType::Integer
                | FieldType::Short
                | FieldType::Byte
                | FieldType::Double
                | FieldType::Float
                | FieldType::HalfFloat
                | FieldType::ScaledFloat
                | FieldType::UnsignedLong
                | FieldType::TokenCount
        )
    }

    /// `date` and `date_nanos`.
    pub fn is_date(self) -> bool {
        matches!(self, FieldType::Date | FieldType::DateNanos)
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.es_name())
    }
}

/// Where a field definition came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `ecs_flat.yml` of the Elastic Common Schema (the field set the ECS templates define).
    Ecs,
    /// The AWS integration's data stream field definitions (`fields/*.yml`, package 8.9.0),
    /// as Fleet turns them into the index template.
    AwsIntegration,
    /// A user-supplied Elasticsearch `_mapping`.
    UserMapping,
    /// Derived from another definition: a multi-field sub-field, a leaf below a `flattened`
    /// field, or a leaf below an `object` with an `object_type`.
    Derived,
    /// Elasticsearch dynamic mapping of an unmapped field.
    Dynamic,
}

/// A multi-field sub-field, e.g. `text` (type `match_only_text`) under `user_agent.original`.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiField {
    /// The sub-field's own name (`text`, `keyword`), not the full dotted path.
    pub name: Cow<'static, str>,
    pub ty: FieldType,
    pub ignore_above: Option<u32>,
    pub normalizer: Option<Cow<'static, str>>,
}

/// Everything dragnet needs to know about one mapped field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDef {
    /// Full dotted path, e.g. `aws.cloudtrail.request_parameters`.
    pub name: Cow<'static, str>,
    pub ty: FieldType,
    /// Strings longer than this many characters are not indexed (keyword family, flattened).
    pub ignore_above: Option<u32>,
    /// Sub-fields indexing the same value differently (`<name>.<sub>`).
    pub multi_fields: Vec<MultiField>,
    /// The keyword normalizer (e.g. `lowercase`), if the mapping names one.
    pub normalizer: Option<Cow<'static, str>>,
    /// `index: false` fields are not searchable through the inverted index.
    pub index: bool,
    /// `doc_values: false` fields cannot be searched through doc values either.
    pub doc_values: bool,
    /// The `value` of a `constant_keyword` field, when the mapping fixes it.
    pub constant_value: Option<Cow<'static, str>>,
    /// For `object` fields: the type given to leaves below it (ECS `labels`: keyword).
    pub object_type: Option<FieldType>,
    /// For `scaled_float` fields.
    pub scaling_factor: Option<f64>,
    /// Set on a multi-field entry (`user_agent.original.text`): the parent field's name.
    pub multi_field_of: Option<Cow<'static, str>>,
    /// Set on a leaf below a `flattened` field: the flattened field's name. Such leaves are
    /// indexed as keywords (values are turned into strings).
    pub flattened_root: Option<Cow<'static, str>>,
    pub origin: Origin,
}

impl FieldDef {
    /// A definition with the type's Elasticsearch defaults (indexed, doc values, no extras).
    pub fn new(name: impl Into<Cow<'static, str>>, ty: FieldType, origin: Origin) -> FieldDef {
        FieldDef {
            name: name.into(),
            ty,
            ignore_above: None,
            multi_fields: Vec::new(),
            normalizer: None,
            index: true,
            doc_values: true,
            constant_value: None,
            object_type: None,
            scaling_factor: None,
            multi_field_of: None,
            flattened_root: None,
            origin,
        }
    }

    /// True when queries on this field can find anything (indexed or with doc values).
    pub fn is_searchable(&self) -> bool {
        self.index || self.doc_values
    }

    /// True for a leaf of a `flattened` field.
    pub fn is_flattened_leaf(&self) -> bool {
        self.flattened_root.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip() {
        for (name, ty) in FieldType::NAMES {
            assert_eq!(FieldType::from_es_name(name), Some(*ty));
            assert_eq!(ty.es_name(), *name);
        }
        assert_eq!(FieldType::from_es_name("group"), None);
    }
}
