//! dragnet-cloudtrail: raw AWS CloudTrail records as lazy ECS events, reproducing Elastic's AWS
//! integration ingest pipeline (aws package 8.9.0) field for field.
//!
//! Use: intern every field the rules need in a [`FieldTable`](dragnet_event::FieldTable), then
//! [`Mapper::bind`] once; per record, [`Mapper::map`] and evaluate the returned
//! [`CloudTrailEvent`] through [`dragnet_event::Event`]. [`CloudTrailEvent::to_ecs`] gives the
//! whole document (for `dragnet normalize` and alert bodies). [`raw_needle`] tells the
//! prefilter which bytes a record must contain for a field to hold a literal.
//!
//! # Cost model
//! - `map`: one JSON parse into an order-keeping tree ([`node::Node`]) whose strings borrow
//!   from the input unless they contain escapes. Nothing else happens until a field is visited.
//! - A renamed field (`event.action`, `event.provider`, `cloud.region`, most
//!   `aws.cloudtrail.*`): a walk of at most a few keys in the tree per visit, no allocation.
//! - A constant (`event.dataset`, `event.module`, `cloud.provider`): free.
//! - A derived field belongs to a group computed once per record on first access and cached:
//!   e.g. `aws.cloudtrail.request_parameters` renders that one object (Java `HashMap` order),
//!   `user.name` runs the identity logic, `related.entity` the entity script. Fields of
//!   untouched groups cost nothing.
//! - A name above catalog fields (`user`, `aws.cloudtrail`) materialises the whole document
//!   once per record; a name the mapping never produces is bound to "absent" at bind time.
//! - `Event::visit_fields` (KQL free text, field patterns) and `Event::visit_nested` also
//!   materialise the whole document once per record (every group, then a JSON tree: about the
//!   cost of normalising the record) and answer from it as a `JsonEvent` would.
//!
//! # Records the pipeline fails on
//! Where a processor fails on a record's shape (a number where the pipeline's Painless expects a
//! string, a string where it expects an object…), Elasticsearch indexes what the processors
//! before it set plus its `on_failure` result (`event.kind: pipeline_error`, `error.message`).
//! `failure.rs` knows which step sets each field and which steps can fail; the mapped document
//! and what rules see follow it. Table: `docs/pipeline-failures.md`.
//!
//! # Differences from Elastic
//! `user_agent.*` comes from uap-core's rules as the `ua-parser` crate ships and applies them
//! (see `user_agent.rs` for where that can differ from Elasticsearch's copy); the entity
//! script's `error.message` texts approximate Elasticsearch's; records that are not JSON
//! objects are reported as skipped rather than indexed as `pipeline_error` documents; integers
//! beyond `u64` render as doubles; a `HashMap` bucket of 9+ colliding keys (Java's
//! treeification) is not modelled; duplicate JSON keys (which make Elasticsearch's `json`
//! processor fail) are accepted, the first occurrence winning.

mod categories;
mod entity;
mod event;
mod failure;
mod geo;
mod java_double;
pub mod java_map;
mod mapping;
mod needle;
pub mod node;
mod painless;
mod steps;
mod time;
mod user_agent;

pub use event::{CloudTrailEvent, Mapper, MapperError, MapperOptions, RecordError, Retain};
pub use needle::{raw_key_needle, raw_needle, raw_prefix_needle};

/// Every field name the mapping can produce (for `normalize`, round-trip tests and docs).
pub fn field_names() -> impl Iterator<Item = &'static str> {
    mapping::CATALOG.iter().map(|(n, _)| *n)
}
