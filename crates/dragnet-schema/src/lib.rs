//! dragnet-schema: field name -> Elasticsearch mapping type, for the query engines.
//!
//! The built-in [`Schema::builtin`] is a table compiled into the binary (`src/generated.rs`,
//! written by `examples/generate` and checked by `tests/generated_is_current.rs`) from:
//! - the Elastic Common Schema, `../shared/schemas/ecs/ecs_flat.yml` and `fields.csv`
//!   (ECS version and commit in [`ECS_VERSION`], [`ECS_COMMIT`], per `schemas/ecs/SOURCE.md`);
//! - the AWS integration's CloudTrail data stream field files,
//!   `../shared/fixtures/aws-cloudtrail-pipeline/fields/*.yml` (package [`AWS_PACKAGE_VERSION`]):
//!   `fields.yml` (`aws.*`, entity ids), `ecs.yml` (`external: ecs` references), `agent.yml`
//!   (`cloud.*`, `host.*`, `container.*`) and `base-fields.yml` (the conventions every package
//!   data stream carries: `data_stream.*` and `event.module`/`event.dataset` as
//!   `constant_keyword` with values `aws` / `aws.cloudtrail`, `@timestamp` date), turned into
//!   mappings the way Fleet's template builder does (keyword `ignore_above` 1024 by default,
//!   `integer` as `long`). Integration definitions win over ECS ones of the same name.
//!   `external: ecs` references resolve against the ECS copy above; the package itself is built
//!   against the ECS release pinned in its `_dev/build/build.yml` (not in the fixtures), so an
//!   ECS change between the two releases would show here.
//!
//! Where this differs from a live `logs-aws.cloudtrail-*` index: ECS fields that the integration
//! does not list are mapped there only when first seen, by the `ecs@mappings` dynamic templates
//! (see [`DynamicPolicy`]). Those agree with ECS for common fields, but not always: ECS `nested`
//! fields (`threat.enrichments`) would be plain objects, `integer` fields `long`, and some keyword
//! fields (`*.name`) would have no `ignore_above`. The built-in table uses the ECS definition.
//! Load the index's real mapping with [`Schema::from_mapping_json`] when that matters.
//!
//! A user's `GET <index>/_mapping` response can be loaded with [`Schema::from_mapping_json`]
//! and laid over the built-in table with [`Schema::overlay`]. Fields that no mapping knows are
//! typed the way Elasticsearch's dynamic mapping would type them, see [`DynamicPolicy`].

mod builtin;
mod dynamic;
#[rustfmt::skip]
mod generated;
mod mapping;
mod types;

use std::borrow::Cow;
use std::sync::OnceLock;

pub use dynamic::{DynamicPolicy, dynamic_type_for, is_dynamic_date};
pub use types::{FieldDef, FieldType, MultiField, Origin};

/// ECS version of the built-in table (from `fields.csv`).
pub const ECS_VERSION: &str = generated::ECS_VERSION;
/// elastic/ecs commit the ECS files were taken from (`schemas/ecs/SOURCE.md`).
pub const ECS_COMMIT: &str = generated::ECS_COMMIT;
/// Version of Elastic's AWS integration package whose field files are compiled in.
pub const AWS_PACKAGE_VERSION: &str = generated::AWS_PACKAGE_VERSION;

/// Why a mapping could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("mapping JSON is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "mapping JSON has an unexpected shape at `{path}`: {reason} (expected the response of `GET <index>/_mapping`)"
    )]
    Shape { path: String, reason: String },
    #[error(
        "field `{field}` has type `{ty}`, which dragnet does not know; remove it from the mapping or report it"
    )]
    UnknownType { field: String, ty: String },
    #[error("alias field `{field}` points to `{path}`, which the mapping does not define")]
    DanglingAlias { field: String, path: String },
}

/// What a field name refers to in a schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved<'a> {
    /// A mapped field (including a multi-field sub-field such as `user_agent.original.text`).
    Known(&'a FieldDef),
    /// A key below a `flattened` field: indexed as a keyword leaf of `root`.
    FlattenedLeaf { root: &'a FieldDef },
    /// A leaf below an `object` field whose `object_type` types its dynamic children
    /// (ECS `labels.*` are keywords).
    ObjectLeaf { parent: &'a FieldDef, ty: FieldType },
    /// An object: a path with mapped fields below it (or an explicit `object` mapping).
    Object(Option<&'a FieldDef>),
    /// A path below a leaf field that is neither `flattened` nor a multi-field, such as
    /// `source.geo.location.lat` (part of a `geo_point` value) or `event.action.extra`.
    /// Elasticsearch has no such field and will not map one dynamically: queries on it match
    /// nothing.
    BelowLeaf { leaf: &'a FieldDef },
    /// Not in the schema: the value decides its type (dynamic mapping).
    Unknown,
}

/// A set of field definitions, sorted by name for binary search.
#[derive(Debug, Clone)]
pub struct Schema {
    /// Sorted by name, unique; multi-fields also appear as their own entries.
    fields: Vec<FieldDef>,
    dynamic: DynamicPolicy,
    conflicts: Vec<String>,
}

impl Schema {
    /// ECS + the AWS integration, compiled in. Built once on first use.
    pub fn builtin() -> &'static Schema {
        static BUILTIN: OnceLock<Schema> = OnceLock::new();
        BUILTIN.get_or_init(|| Schema::from_defs(builtin_defs(), DynamicPolicy::default()))
    }

    /// A schema from definitions (later definitions of a name replace earlier ones).
    /// Multi-fields are expanded into entries of their own.
    pub fn from_defs(defs: Vec<FieldDef>, dynamic: DynamicPolicy) -> Schema {
        let mut fields: Vec<FieldDef> = Vec::with_capacity(defs.len() * 11 / 10);
        for def in defs {
            let subs: Vec<FieldDef> = def
                .multi_fields
                .iter()
                .map(|m| {
                    let mut sub =
                        FieldDef::new(format!("{}.{}", def.name, m.name), m.ty, Origin::Derived);
                    sub.ignore_above = m.ignore_above;
                    sub.normalizer = m.normalizer.clone();
                    sub.multi_field_of = Some(def.name.clone());
                    sub
                })
                .collect();
            fields.push(def);
            fields.extend(subs);
        }
        // Stable sort keeps insertion order among equal names; keep the last of each name.
        fields.sort_by(|a, b| a.name.cmp(&b.name));
        let mut unique: Vec<FieldDef> = Vec::with_capacity(fields.len());
        for def in fields {
            match unique.last_mut() {
                Some(last) if last.name == def.name => *last = def,
                _ => unique.push(def),
            }
        }
        Schema {
            fields: unique,
            dynamic,
            conflicts: Vec::new(),
        }
    }

    /// Number of entries (fields, objects, and multi-field sub-fields each count once).
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// All entries, sorted by name.
    pub fn fields(&self) -> &[FieldDef] {
        &self.fields
    }

    /// How unmapped fields are typed (see [`DynamicPolicy`]).
    pub fn dynamic_policy(&self) -> DynamicPolicy {
        self.dynamic
    }

    /// The same schema with another dynamic-mapping policy.
    pub fn with_dynamic_policy(mut self, policy: DynamicPolicy) -> Schema {
        self.dynamic = policy;
        self
    }

    /// Fields a multi-index mapping defined with different types (the first one is kept),
    /// as human-readable notes.
    pub fn conflicts(&self) -> &[String] {
        &self.conflicts
    }

    fn exact(&self, name: &str) -> Option<&FieldDef> {
        self.fields
            .binary_search_by(|f| f.name.as_ref().cmp(name))
            .ok()
            .map(|i| &self.fields[i])
    }

    fn has_children(&self, name: &str) -> bool {
        let start = self
            .fields
            .partition_point(|f| f.name.as_ref() < name)
            .min(self.fields.len());
        self.fields[start..]
            .iter()
            .take_while(|f| f.name.starts_with(name))
            .any(|f| f.name.as_bytes().get(name.len()) == Some(&b'.'))
    }

    /// Resolves a field name: a mapped field, a leaf below a `flattened` or typed `object`
    /// field, an object path, or unknown.
    pub fn resolve(&self, name: &str) -> Resolved<'_> {
        if let Some(def) = self.exact(name) {
            return match def.ty {
                FieldType::Object => Resolved::Object(Some(def)),
                _ => Resolved::Known(def),
            };
        }
        // The nearest mapped ancestor decides: `a.b.c` under flattened `a.b` is a leaf of it.
        let mut end = name.len();
        while let Some(dot) = name[..end].rfind('.') {
            end = dot;
            if let Some(parent) = self.exact(&name[..end]) {
                match parent.ty {
                    FieldType::Flattened => return Resolved::FlattenedLeaf { root: parent },
                    FieldType::Object => {
                        if let Some(ty) = parent.object_type {
                            return Resolved::ObjectLeaf { parent, ty };
                        }
                    }
                    FieldType::Nested => {}
                    _ => return Resolved::BelowLeaf { leaf: parent },
                }
                break;
            }
        }
        if self.has_children(name) {
            Resolved::Object(None)
        } else {
            Resolved::Unknown
        }
    }

    /// The definition for a field name: exact entries (including multi-field sub-fields such as
    /// `user_agent.original.text` and explicit `object`/`nested` mappings), and derived keyword
    /// definitions for leaves below a `flattened` field (with [`FieldDef::flattened_root`] set)
    /// or below an `object` with an `object_type`. `None` for unknown names and implicit objects.
    pub fn get(&self, name: &str) -> Option<Cow<'_, FieldDef>> {
        match self.resolve(name) {
            Resolved::Known(def) | Resolved::Object(Some(def)) => Some(Cow::Borrowed(def)),
            Resolved::FlattenedLeaf { root } => {
                let mut leaf = FieldDef::new(name.to_string(), FieldType::Keyword, Origin::Derived);
                leaf.ignore_above = root.ignore_above;
                leaf.index = root.index;
                leaf.doc_values = root.doc_values;
                leaf.flattened_root = Some(root.name.clone());
                Some(Cow::Owned(leaf))
            }
            Resolved::ObjectLeaf { ty, .. } => {
                let mut leaf = FieldDef::new(name.to_string(), ty, Origin::Derived);
                if ty == FieldType::Keyword {
                    // Fleet maps `object_type: keyword` children with the keyword defaults.
                    leaf.ignore_above = Some(1024);
                }
                Some(Cow::Owned(leaf))
            }
            Resolved::Object(None) | Resolved::BelowLeaf { .. } | Resolved::Unknown => None,
        }
    }

    /// The definition for `name`, or the type dynamic mapping would give it for `value`
    /// (under this schema's [`DynamicPolicy`]) when no mapping knows it. `None` when no field
    /// would exist: a null/empty value, or a path below a leaf ([`Resolved::BelowLeaf`]).
    pub fn get_or_dynamic(
        &self,
        name: &str,
        value: &serde_json::Value,
    ) -> Option<Cow<'_, FieldDef>> {
        if let Some(def) = self.get(name) {
            return Some(def);
        }
        if self.below_leaf(name).is_some() {
            return None;
        }
        self.dynamic.type_for(name, value).map(Cow::Owned)
    }

    /// The leaf field (not `flattened`, not an object) that `name` lies below, if any:
    /// such a name can never be a field, mapped or dynamic ([`Resolved::BelowLeaf`]).
    pub fn below_leaf(&self, name: &str) -> Option<&FieldDef> {
        match self.resolve(name) {
            Resolved::BelowLeaf { leaf } => Some(leaf),
            _ => None,
        }
    }

    /// The nearest enclosing `nested` field of `name`, if any (KQL needs `nested:{…}` syntax).
    pub fn nested_parent(&self, name: &str) -> Option<&FieldDef> {
        let mut end = name.len();
        while let Some(dot) = name[..end].rfind('.') {
            end = dot;
            if let Some(def) = self.exact(&name[..end])
                && def.ty == FieldType::Nested
            {
                return Some(def);
            }
        }
        None
    }

    /// Fields whose names match a KQL field pattern, where `*` matches any run of characters
    /// (dots included) and everything else is literal and case-sensitive. This is how Kibana
    /// expands field wildcards against a data view's field list (`@kbn/es-query`
    /// `kuery/functions/utils/get_fields.ts` with `node_types/wildcard.ts` `test`). `object` and
    /// `nested` parents are skipped: a data view lists leaf fields (multi-fields included).
    pub fn matching<'a>(&'a self, pattern: &'a str) -> impl Iterator<Item = &'a FieldDef> + 'a {
        let literal_prefix = pattern.split('*').next().unwrap_or("");
        let start = self
            .fields
            .partition_point(|f| f.name.as_ref() < literal_prefix);
        self.fields[start..]
            .iter()
            .take_while(move |f| f.name.starts_with(literal_prefix))
            .filter(move |f| {
                !matches!(f.ty, FieldType::Object | FieldType::Nested)
                    && glob_match(pattern, &f.name)
            })
    }

    /// Parses an Elasticsearch `GET <index>/_mapping` response (one or several indices; also a
    /// bare `{"mappings": …}` or `{"properties": …}` body). See [`mapping`](crate::mapping).
    pub fn from_mapping_json(json: &str) -> Result<Schema, SchemaError> {
        mapping::parse(json)
    }

    /// This schema with `user`'s definitions laid over it: a name `user` defines replaces ours,
    /// together with our sub-fields of it when `user` maps it as a leaf, and our leaf
    /// definitions of its object ancestors. The dynamic policy is kept.
    pub fn overlay(&self, user: &Schema) -> Schema {
        let user_base: Vec<&FieldDef> = user
            .fields
            .iter()
            .filter(|f| f.multi_field_of.is_none())
            .collect();
        let shadowed = |def: &FieldDef| {
            // Replaced by name, or below a user leaf, or a leaf of ours where user has children.
            user.exact(&def.name).is_some()
                || ancestors(&def.name).any(|p| {
                    user.exact(p)
                        .is_some_and(|u| !matches!(u.ty, FieldType::Object | FieldType::Nested))
                })
                || (!matches!(def.ty, FieldType::Object | FieldType::Nested)
                    && user.has_children(&def.name))
        };
        let mut defs: Vec<FieldDef> = self
            .fields
            .iter()
            .filter(|f| f.multi_field_of.is_none() && !shadowed(f))
            .cloned()
            .collect();
        defs.extend(user_base.into_iter().cloned());
        let mut merged = Schema::from_defs(defs, self.dynamic);
        merged.conflicts = self
            .conflicts
            .iter()
            .chain(&user.conflicts)
            .cloned()
            .collect();
        merged
    }
}

/// The proper ancestors of a dotted name, nearest first (`a.b.c` -> `a.b`, `a`).
fn ancestors(name: &str) -> impl Iterator<Item = &str> {
    let mut end = name.len();
    std::iter::from_fn(move || {
        let dot = name[..end].rfind('.')?;
        end = dot;
        Some(&name[..dot])
    })
}

/// `*`-only glob over the whole string (no `?`, no escapes), iterative with backtracking.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// The compiled-in table's definitions (multi-fields not yet expanded into their own entries).
fn builtin_defs() -> Vec<types::FieldDef> {
    generated::ROWS.iter().map(|r| r.to_def()).collect()
}

#[cfg(test)]
mod tests;
