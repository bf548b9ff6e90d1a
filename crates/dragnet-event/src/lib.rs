//! The event model every query language evaluates against and every record source implements.
//!
//! Query engines resolve field names to [`FieldId`]s once, at compile time, through a shared
//! [`FieldTable`]; a source (a lazily mapped CloudTrail record, an ECS document) then answers
//! "the indexed values of field N" per event through the [`Event`] trait, without string lookups.
//!
//! Values are given as Elasticsearch would index them: arrays are flattened (any element may
//! match), `null` is not indexed (so never visited), and a field whose value is an object yields
//! every leaf below it (the semantics of a `flattened` root field).
//!
//! [`literals`] is the other half of the contract between the query languages and the engine:
//! what a compiled query guarantees every matching event contains, for raw-bytes prefilters.

use std::collections::HashMap;
use std::ops::ControlFlow;

mod json;
pub mod literals;

pub use json::{JsonEvent, JsonPaths, PathKeys, leaves, values_at, values_at_path};
pub use literals::RequiredLiteral;

/// Index of a field name in a [`FieldTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldId(pub u32);

impl FieldId {
    /// The position of this field in its table, for per-field side tables.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Interns dotted ECS field names (`event.action`) into dense [`FieldId`]s.
///
/// One table is shared by every rule of a run; sources bind to it after compilation.
#[derive(Clone, Debug, Default)]
pub struct FieldTable {
    names: Vec<Box<str>>,
    ids: HashMap<Box<str>, FieldId>,
}

impl FieldTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the id of `name`, adding it if it is new.
    pub fn intern(&mut self, name: &str) -> FieldId {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = FieldId(u32::try_from(self.names.len()).expect("fewer than 2^32 fields"));
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    /// The id of `name` if it was interned.
    pub fn get(&self, name: &str) -> Option<FieldId> {
        self.ids.get(name).copied()
    }

    pub fn name(&self, id: FieldId) -> &str {
        &self.names[id.index()]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every `(id, name)` pair in id order.
    pub fn iter(&self) -> impl Iterator<Item = (FieldId, &str)> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, n)| (FieldId(i as u32), &**n))
    }
}

/// One indexed value of a field.
///
/// JSON numbers keep their JSON form: integers that fit in `i64` are `Int`, other numbers are
/// `Float`. Big unsigned integers that do not fit are given as `Float`, as Elasticsearch's
/// dynamic mapping would (it maps them to `float`/`long` and rejects overflow).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar<'_> {
    /// The value as the string Elasticsearch would index for a `keyword` field
    /// (numbers and booleans in their JSON spelling).
    pub fn to_keyword(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Scalar::Str(s) => std::borrow::Cow::Borrowed(s),
            Scalar::Int(i) => std::borrow::Cow::Owned(i.to_string()),
            Scalar::Float(f) => std::borrow::Cow::Owned(f.to_string()),
            Scalar::Bool(b) => std::borrow::Cow::Borrowed(if *b { "true" } else { "false" }),
        }
    }
}

/// An owned [`Scalar`], for sources that compute values and cache them.
#[derive(Clone, Debug, PartialEq)]
pub enum OwnedScalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl OwnedScalar {
    pub fn as_scalar(&self) -> Scalar<'_> {
        match self {
            OwnedScalar::Str(s) => Scalar::Str(s),
            OwnedScalar::Int(i) => Scalar::Int(*i),
            OwnedScalar::Float(f) => Scalar::Float(*f),
            OwnedScalar::Bool(b) => Scalar::Bool(*b),
        }
    }
}

impl From<Scalar<'_>> for OwnedScalar {
    fn from(s: Scalar<'_>) -> Self {
        match s {
            Scalar::Str(s) => OwnedScalar::Str(s.to_owned()),
            Scalar::Int(i) => OwnedScalar::Int(i),
            Scalar::Float(f) => OwnedScalar::Float(f),
            Scalar::Bool(b) => OwnedScalar::Bool(b),
        }
    }
}

/// A document the query engines can evaluate: answers the values of a field by id.
pub trait Event {
    /// Calls `visit` with each indexed value of `field`, flattening arrays and descending into
    /// objects; stops early when `visit` breaks and returns that break. A missing field or a
    /// `null` calls nothing.
    fn visit(
        &self,
        field: FieldId,
        visit: &mut dyn FnMut(Scalar<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()>;

    /// True when any value of `field` satisfies `pred`.
    fn any(&self, field: FieldId, pred: &mut dyn FnMut(Scalar<'_>) -> bool) -> bool {
        self.visit(field, &mut |v| {
            if pred(v) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .is_break()
    }

    /// True when `field` has at least one indexed value.
    fn exists(&self, field: FieldId) -> bool {
        self.any(field, &mut |_| true)
    }

    /// Calls `visit` with the name and each indexed value of every field of the event, for
    /// searches that name no field (KQL free text searches all fields). Returns `None` when
    /// the source cannot list its fields (the default), so callers can say so.
    fn visit_fields(
        &self,
        _visit: &mut dyn FnMut(&str, Scalar<'_>) -> ControlFlow<()>,
    ) -> Option<ControlFlow<()>> {
        None
    }

    /// Calls `visit` once per object of the (array of) objects at `path`, each seen as an
    /// event of its own (fields still named in full, `path.sub`; fields outside `path` read
    /// from the whole event), for Elasticsearch `nested` queries whose clauses must all hold
    /// in one object. Returns `None` when the source cannot split its objects (the default);
    /// callers then evaluate the whole event, where clauses may hold in different objects.
    fn visit_nested(
        &self,
        _path: FieldId,
        _visit: &mut dyn FnMut(&dyn Event) -> ControlFlow<()>,
    ) -> Option<ControlFlow<()>> {
        None
    }

    /// The whole event as the ECS JSON document Elasticsearch would hold in `_source`, for
    /// detectors that build alerts after the run (new terms). `None` when the source cannot
    /// produce it (the default).
    fn to_document(&self) -> Option<serde_json::Value> {
        None
    }

    /// [`Event::to_document`] as compact JSON, the form detectors keep documents in: sources
    /// that hold the document serialize it in place instead of copying it first.
    fn document_json(&self) -> Option<String> {
        self.to_document().map(|d| d.to_string())
    }

    /// Every value of `field`, owned (for alerts and explanations, not for hot paths).
    fn values(&self, field: FieldId) -> Vec<OwnedScalar> {
        let mut out = Vec::new();
        let _ = self.visit(field, &mut |v| {
            out.push(v.into());
            ControlFlow::Continue(())
        });
        out
    }
}
