//! [`Mapper`] (bound once to a [`FieldTable`]) and [`CloudTrailEvent`] (one lazily mapped record).

use std::cell::OnceCell;
use std::ops::ControlFlow;
use std::path::PathBuf;

use dragnet_event::{
    Event, FieldId, FieldTable, JsonEvent, JsonPaths, PathKeys, Scalar, leaves, values_at,
};
use serde_json::{Map, Value};

use crate::failure::{self, PipelineFailure};
use crate::geo::Geo;
use crate::mapping::{self, CATALOG, GROUP_COUNT, Group, Out, Source};
use crate::node::{self, Node};
use crate::steps::{self, Step};

/// The integration's `retain` setting: which copies of `requestParameters` & co. are kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Retain {
    /// Rendered strings and `aws.cloudtrail.flattened.*` objects (the integration's default).
    #[default]
    All,
    /// Rendered strings only.
    Keyword,
    /// Flattened objects only.
    Flattened,
    /// Rendered strings plus the flattened paths Elastic's prebuilt rules use.
    Minimal,
    /// Neither (digest and Insights content is kept).
    None,
}

/// How records are mapped.
#[derive(Clone, Debug)]
pub struct MapperOptions {
    /// MaxMind City database for `source.geo.*`; without it those fields are absent.
    pub geoip_db: Option<PathBuf>,
    /// MaxMind ASN database for `source.as.*`; without it those fields are absent.
    pub asn_db: Option<PathBuf>,
    /// Keep the raw record text in `event.original` (in [`CloudTrailEvent::to_ecs`] and as a
    /// field).
    pub include_original: bool,
    pub retain: Retain,
    /// The integration's `actor_target_mapping` option: the `*.entity.id` fields.
    pub actor_target_mapping: bool,
    /// When the record was read (the agent's `@timestamp`): `event.created`, and `@timestamp`
    /// when the record has no usable time. `None` leaves both to the record.
    pub read_time: Option<String>,
    /// Document `tags` (`preserve_original_event` is added to documents with errors).
    pub tags: Vec<String>,
}

impl Default for MapperOptions {
    fn default() -> Self {
        Self {
            geoip_db: None,
            asn_db: None,
            include_original: false,
            retain: Retain::All,
            actor_target_mapping: true,
            read_time: None,
            tags: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MapperError {
    #[error("cannot open MaxMind database {}: {reason}", path.display())]
    Database { path: PathBuf, reason: String },
}

/// Why one record could not be mapped. The caller reports it with the record's location and
/// goes on with the next record.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("a CloudTrail record must be a JSON object, found {0}")]
    NotAnObject(&'static str),
    /// Containers nest deeper than the limit (`--max-json-depth`).
    #[error("JSON nests deeper than {0} levels")]
    TooDeep(usize),
}

/// How one field of the table is answered.
#[derive(Clone, Debug)]
enum Binding {
    Absent,
    Catalog {
        source: Source,
        name: &'static str,
        /// The pipeline step that sets the field ([`steps::set_at`]): absent when the
        /// pipeline stopped at or before it.
        step: Step,
        sub: Vec<String>,
        /// `sub` prepared for [`values_at`] (group outputs are JSON values).
        sub_keys: PathKeys,
    },
    /// `event.original`.
    Original,
    /// A name that is an object above catalog fields (`user`, `aws.cloudtrail.user_identity`):
    /// answered from the full document.
    Document(PathKeys),
}

/// Maps raw CloudTrail records for one set of fields. Build once per run, share across threads.
pub struct Mapper {
    bindings: Vec<Binding>,
    /// The same fields as paths into the materialised document, for the whole-document
    /// questions (`visit_fields`, `visit_nested`).
    paths: JsonPaths,
    pub(crate) options: MapperOptions,
    pub(crate) geo: Option<Geo>,
}

impl Mapper {
    /// Decides, for every field of `table`, which derivation serves it.
    pub fn bind(table: &FieldTable, options: MapperOptions) -> Result<Self, MapperError> {
        let geo = Geo::open(options.geoip_db.as_deref(), options.asn_db.as_deref())?;
        let bindings = table.iter().map(|(_, name)| binding(name)).collect();
        Ok(Self {
            bindings,
            paths: JsonPaths::bind(table),
            options,
            geo,
        })
    }

    /// Parses one record. Fields are derived when first visited.
    ///
    /// An empty (whitespace-only) input maps to the document the pipeline makes of an empty
    /// message (constants and `event.kind/outcome/type` only); any other non-object is an error.
    pub fn map<'a>(&'a self, raw: &'a [u8]) -> Result<CloudTrailEvent<'a>, RecordError> {
        self.map_within(raw, node::DEFAULT_MAX_DEPTH)
    }

    /// [`Mapper::map`] for a record nested at most `max_depth` deep (`--max-json-depth`):
    /// deeper is [`RecordError::TooDeep`].
    pub fn map_within<'a>(
        &'a self,
        raw: &'a [u8],
        max_depth: usize,
    ) -> Result<CloudTrailEvent<'a>, RecordError> {
        let root = if raw.iter().all(u8::is_ascii_whitespace) {
            Node::Null
        } else {
            let root = match node::parse_within(raw, max_depth) {
                Ok(root) => root,
                Err(node::ParseError::Json(e)) => return Err(RecordError::Json(e)),
                Err(node::ParseError::TooDeep(max)) => return Err(RecordError::TooDeep(max)),
            };
            match root {
                Node::Object(_) => root,
                Node::Null => return Err(RecordError::NotAnObject("null")),
                Node::Bool(_) => return Err(RecordError::NotAnObject("a boolean")),
                Node::Int(_) | Node::UInt(_) | Node::Float(_) => {
                    return Err(RecordError::NotAnObject("a number"));
                }
                Node::Str(_) => return Err(RecordError::NotAnObject("a string")),
                Node::Array(_) => return Err(RecordError::NotAnObject("an array")),
            }
        };
        Ok(CloudTrailEvent {
            raw,
            root,
            mapper: self,
            groups: Default::default(),
            failure: OnceCell::new(),
            document: OnceCell::new(),
        })
    }

    pub fn options(&self) -> &MapperOptions {
        &self.options
    }
}

// One mapper serves every evaluation thread.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Mapper>();
};

/// Every catalog field has a step (a unit test of `failure` checks it).
fn step_of(name: &str) -> Step {
    steps::set_at(name).unwrap_or(0)
}

/// Whether the mapping can give `name` a value at all: `false` for a field no derivation
/// produces (`host.os.type`, `destination.port`: a rule for other data sources), which every
/// mapped record lacks ([`Mapper::bind`] binds it to nothing).
pub(crate) fn field_is_mapped(name: &str) -> bool {
    !matches!(binding(name), Binding::Absent)
}

fn binding(name: &str) -> Binding {
    if name == "event.original" {
        return Binding::Original;
    }
    if let Some((n, s)) = CATALOG.iter().find(|(n, _)| *n == name) {
        return Binding::Catalog {
            source: *s,
            name: n,
            step: step_of(n),
            sub: Vec::new(),
            sub_keys: PathKeys::default(),
        };
    }
    // Below an object-valued field: `aws.cloudtrail.flattened.request_parameters.instanceId`.
    let below = CATALOG
        .iter()
        .filter(|(n, _)| {
            name.len() > n.len() && name.starts_with(n) && name.as_bytes()[n.len()] == b'.'
        })
        .max_by_key(|(n, _)| n.len());
    if let Some((n, s)) = below {
        let sub: Vec<String> = name[n.len() + 1..].split('.').map(str::to_owned).collect();
        return Binding::Catalog {
            source: *s,
            name: n,
            step: step_of(n),
            sub_keys: PathKeys::new(&sub),
            sub,
        };
    }
    let above = CATALOG.iter().any(|(n, _)| {
        n.len() > name.len() && n.starts_with(name) && n.as_bytes()[name.len()] == b'.'
    });
    if above {
        return Binding::Document(PathKeys::parse(name));
    }
    Binding::Absent
}

/// One raw CloudTrail record seen as the ECS document Elastic's pipeline would make of it.
///
/// Fields named in the [`FieldTable`] are derived lazily ([`Event::visit`]). The questions
/// about the whole document, [`Event::visit_fields`] (KQL free text and field patterns) and
/// [`Event::visit_nested`], materialise it once per record ([`CloudTrailEvent::to_ecs`]: every
/// derivation group runs and the tree is copied into a `serde_json::Value`, roughly the cost
/// of `dragnet normalize` on the record) and then answer from that cached document, exactly
/// as a [`JsonEvent`] over the normalised document would.
pub struct CloudTrailEvent<'a> {
    raw: &'a [u8],
    pub(crate) root: Node<'a>,
    pub(crate) mapper: &'a Mapper,
    groups: [OnceCell<Out>; GROUP_COUNT],
    failure: OnceCell<Option<PipelineFailure>>,
    document: OnceCell<Value>,
}

impl<'a> CloudTrailEvent<'a> {
    pub(crate) fn group(&self, g: Group) -> &Out {
        self.groups[g as usize].get_or_init(|| mapping::compute(self, g))
    }

    /// The processor at which Elastic's pipeline stops on this record, if any.
    pub(crate) fn failure(&self) -> Option<&PipelineFailure> {
        self.failure
            .get_or_init(|| failure::detect(&self.root))
            .as_ref()
    }

    /// The step the pipeline stopped at, [`steps::step::NONE`] when it ran to the end.
    pub(crate) fn failure_step(&self) -> Step {
        self.failure().map_or(steps::step::NONE, |f| f.step)
    }

    /// False for a field set at `step` when the pipeline stopped at or before that step.
    /// Fields set before the earliest possible failure skip the detection.
    fn keeps(&self, step: Step) -> bool {
        step < steps::EARLIEST_FAILURE || step < self.failure_step()
    }

    /// The raw record bytes.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The whole ECS document (every field the pipeline sets; `event.original` when the
    /// options ask for it), keys nested as Elasticsearch's `_source` would hold them.
    pub fn to_ecs(&self) -> Value {
        let mut doc = Map::new();
        // The slow path (a field-by-field step lookup) only for a record the pipeline fails on.
        let failed = self.failure().is_some();
        let kept = |name: &str| !failed || self.keeps(step_of(name));
        for (name, source) in CATALOG {
            if matches!(source, Source::Group(_)) || !kept(name) {
                continue;
            }
            if let Some(v) = self.catalog_value(*source, name) {
                insert(&mut doc, name, v);
            }
        }
        for g in Group::ALL {
            for (name, v) in &self.group(g).fields {
                // `_…` entries are a group's working values, not fields.
                if !name.starts_with('_') && kept(name) {
                    insert(&mut doc, name, v.clone());
                }
            }
        }
        if self.mapper.options.include_original
            && let Some(o) = self.original()
        {
            insert(&mut doc, "event.original", Value::String(o.to_string()));
        }
        Value::Object(doc)
    }

    /// The materialised ECS document, built on first use and kept for the record's lifetime.
    fn document(&self) -> &Value {
        self.document.get_or_init(|| self.to_ecs())
    }

    fn original(&self) -> Option<&str> {
        let s = std::str::from_utf8(self.raw).ok()?.trim();
        (!s.is_empty()).then_some(s)
    }

    /// The paths of a `RawFirst` field whose processors ran: `cloud.account.id` comes from
    /// `userIdentity.accountId` (step 16), else `recipientAccountId` (73), else
    /// `awsAccountId` (87), so a pipeline stopped in between only had the earlier ones.
    fn ran_paths(
        &self,
        name: &str,
        paths: &'static [&'static [&'static str]],
    ) -> &'static [&'static [&'static str]] {
        if name != "cloud.account.id" {
            return paths;
        }
        let stop = self.failure_step();
        let ran = [
            steps::step::CLOUD_ACCOUNT_FROM_IDENTITY,
            steps::step::CLOUD_ACCOUNT_FROM_RECIPIENT,
            steps::step::CLOUD_ACCOUNT_FROM_DIGEST,
        ]
        .iter()
        .take_while(|s| **s < stop)
        .count();
        &paths[..ran.min(paths.len())]
    }

    fn catalog_value(&self, source: Source, name: &str) -> Option<Value> {
        match source {
            Source::Const(c) => Some(Value::String(c.to_string())),
            Source::Raw(path) => mapping::kept(&self.root, path).and_then(Node::pruned),
            Source::RawString(path) => mapping::kept(&self.root, path)
                .and_then(Node::as_str)
                .map(|s| Value::String(s.to_owned())),
            Source::RawText(path) => mapping::kept(&self.root, path)
                .and_then(|n| n.scalar_text().map(|t| Value::String(t.into_owned()))),
            Source::RawFirst(paths) => self
                .ran_paths(name, paths)
                .iter()
                .find_map(|p| mapping::kept(&self.root, p))
                .and_then(Node::pruned),
            Source::Group(g) => self.group(g).get(name).cloned(),
        }
    }
}

/// Puts `value` at the dotted `name` (`@timestamp` stays one key).
fn insert(doc: &mut Map<String, Value>, name: &str, value: Value) {
    match name.split_once('.') {
        None => {
            doc.insert(name.to_string(), value);
        }
        Some((head, rest)) => {
            // Look up before inserting: most parents exist already, and `entry` needs an owned key.
            if !doc.get(head).is_some_and(Value::is_object) {
                doc.insert(head.to_string(), Value::Object(Map::new()));
            }
            let Some(Value::Object(child)) = doc.get_mut(head) else {
                unreachable!("just made an object")
            };
            insert(child, rest, value);
        }
    }
}

impl Event for CloudTrailEvent<'_> {
    fn to_document(&self) -> Option<Value> {
        Some(self.document().clone())
    }

    fn document_json(&self) -> Option<String> {
        Some(self.document().to_string())
    }

    /// Materialises the whole document (see [`CloudTrailEvent`]): the rare path, taken only by
    /// queries with free text or field patterns.
    fn visit_fields(
        &self,
        visit: &mut dyn FnMut(&str, Scalar<'_>) -> ControlFlow<()>,
    ) -> Option<ControlFlow<()>> {
        JsonEvent::new(self.document(), &self.mapper.paths).visit_fields(visit)
    }

    /// Materialises the whole document (see [`CloudTrailEvent`]); each object of `path` is
    /// then one event, other fields read from the document.
    fn visit_nested(
        &self,
        path: FieldId,
        visit: &mut dyn FnMut(&dyn Event) -> ControlFlow<()>,
    ) -> Option<ControlFlow<()>> {
        JsonEvent::new(self.document(), &self.mapper.paths).visit_nested(path, visit)
    }

    fn visit(
        &self,
        field: FieldId,
        visit: &mut dyn FnMut(Scalar<'_>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let Some(binding) = self.mapper.bindings.get(field.index()) else {
            return ControlFlow::Continue(());
        };
        match binding {
            Binding::Absent => ControlFlow::Continue(()),
            Binding::Original => {
                if self.mapper.options.include_original
                    && let Some(o) = self.original()
                {
                    visit(Scalar::Str(o))?;
                }
                ControlFlow::Continue(())
            }
            Binding::Document(keys) => {
                values_at(self.document(), keys.rows(), &mut |v| leaves(v, visit))
            }
            Binding::Catalog { step, .. } if !self.keeps(*step) => ControlFlow::Continue(()),
            Binding::Catalog {
                source,
                name,
                sub,
                sub_keys,
                step: _,
            } => match source {
                Source::Const(c) => {
                    if sub.is_empty() {
                        visit(Scalar::Str(c))?;
                    }
                    ControlFlow::Continue(())
                }
                Source::RawString(path) => match mapping::kept(&self.root, path) {
                    Some(n) if n.as_str().is_some() => walk_node(n, sub, visit),
                    _ => ControlFlow::Continue(()),
                },
                Source::Raw(path) => match mapping::kept(&self.root, path) {
                    Some(n) => walk_node(n, sub, visit),
                    None => ControlFlow::Continue(()),
                },
                Source::RawFirst(paths) => {
                    let paths = self.ran_paths(name, paths);
                    match paths.iter().find_map(|p| mapping::kept(&self.root, p)) {
                        Some(n) => walk_node(n, sub, visit),
                        None => ControlFlow::Continue(()),
                    }
                }
                Source::RawText(path) => {
                    if sub.is_empty()
                        && let Some(t) =
                            mapping::kept(&self.root, path).and_then(|n| n.scalar_text())
                    {
                        visit(Scalar::Str(&t))?;
                    }
                    ControlFlow::Continue(())
                }
                Source::Group(g) => match self.group(*g).get(name) {
                    Some(v) => values_at(v, sub_keys.rows(), &mut |v| leaves(v, visit)),
                    None => ControlFlow::Continue(()),
                },
            },
        }
    }
}

/// Like `JsonEvent`: arrays flatten, dotted keys and nested objects are equivalent, objects
/// yield their leaves; values the pipeline's clean-up deletes are skipped.
fn walk_node(
    node: &Node<'_>,
    segs: &[String],
    visit: &mut dyn FnMut(Scalar<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    match node {
        Node::Array(items) => {
            for item in items {
                walk_node(item, segs, visit)?;
            }
            ControlFlow::Continue(())
        }
        Node::Object(entries) if !segs.is_empty() => {
            let mut key = String::new();
            for i in 0..segs.len() {
                if i > 0 {
                    key.push('.');
                }
                key.push_str(&segs[i]);
                if let Some(v) = node.get(&key) {
                    walk_node(v, &segs[i + 1..], visit)?;
                }
            }
            let _ = entries;
            ControlFlow::Continue(())
        }
        _ if !segs.is_empty() => ControlFlow::Continue(()),
        Node::Null => ControlFlow::Continue(()),
        Node::Bool(b) => visit(Scalar::Bool(*b)),
        Node::Int(i) => visit(Scalar::Int(*i)),
        Node::UInt(u) => visit(Scalar::Float(*u as f64)),
        Node::Float(f) => visit(Scalar::Float(*f)),
        Node::Str(s) => {
            if matches!(&**s, "" | "-" | "none") {
                ControlFlow::Continue(())
            } else {
                visit(Scalar::Str(s))
            }
        }
        Node::Object(entries) => {
            // First key wins for duplicates, as in `Node::get`.
            for (i, (k, v)) in entries.iter().enumerate() {
                if entries[..i].iter().any(|(k2, _)| k2 == k) {
                    continue;
                }
                walk_node(v, &[], visit)?;
            }
            ControlFlow::Continue(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document as JSON text (what new_terms keeps) is the document serialized, before and
    /// after the document was built for another reader.
    #[test]
    fn document_json_is_the_document_serialized() {
        let raw = br#"{"eventTime":"2024-01-01T00:00:00Z","eventName":"AssumeRole","eventSource":"sts.amazonaws.com","sourceIPAddress":"1.2.3.4","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/u\u00e9"},"requestParameters":{"roleArn":"arn:aws:iam::1:role/R"}}"#;
        let mapper = Mapper::bind(&FieldTable::new(), MapperOptions::default()).unwrap();
        let fresh = mapper.map(raw).unwrap();
        let json = fresh.document_json().unwrap();
        let built = mapper.map(raw).unwrap();
        let doc = built.to_document().unwrap();
        assert_eq!(json, doc.to_string());
        assert_eq!(built.document_json().unwrap(), json);
        assert!(json.contains(r#""action":"AssumeRole""#), "{json}");
    }

    /// `to_ecs` writes group outputs directly; each must be the catalog field that the lazy
    /// binding would ask that same group for.
    #[test]
    fn every_group_output_is_its_catalog_field() {
        let records: &[&[u8]] = &[
            br#"{"eventTime":"2024-01-01T00:00:00Z","eventName":"ConsoleLogin","eventSource":"signin.amazonaws.com","sourceIPAddress":"1.2.3.4","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/R/a@b.c","sessionContext":{"sessionIssuer":{"userName":"R","arn":"arn:aws:iam::1:role/R"},"attributes":{"creationDate":"20131102T010628Z"}}},"responseElements":{"ConsoleLogin":"Success"},"additionalEventData":{"MobileVersion":"No","MFAUsed":"Yes","LoginTo":"x"},"tlsDetails":{"tlsVersion":"TLSv1.2","cipherSuite":"c","clientProvidedHostHeader":"h.example.com"},"recipientAccountId":"1","resources":[{"ARN":"arn:aws:ec2:r:1:instance/i-0123456789","accountId":"1","type":"AWS::EC2::Instance"}],"serviceEventDetails":{"sourceIpAddress":"5.6.7.8"},"requestParameters":{"instanceId":"i-0123456789a","computerName":"pc"}}"#,
            br#"{"digestEndTime":"2024-01-01T01:00:00Z","previousDigestHashValue":"h","eventTime":"bad"}"#,
            br#"{"eventName":"SendCommand","eventSource":"ssm.amazonaws.com","requestParameters":{"instanceIds":["i-0123456789abcdef0"]},"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/u"}}"#,
        ];
        let mapper = Mapper::bind(
            &FieldTable::new(),
            MapperOptions {
                read_time: Some("2024-01-01T00:00:00.000Z".into()),
                ..Default::default()
            },
        )
        .unwrap();
        let mut seen = 0;
        for raw in records {
            let ev = mapper.map(raw).unwrap();
            for g in Group::ALL {
                for (name, _) in &ev.group(g).fields {
                    if name.starts_with('_') {
                        continue;
                    }
                    seen += 1;
                    assert!(
                        CATALOG
                            .iter()
                            .any(|(n, s)| n == name && matches!(s, Source::Group(x) if *x == g)),
                        "{g:?} writes {name}, which the catalog does not give to {g:?}"
                    );
                }
            }
        }
        assert!(seen > 40, "{seen}");
    }
}
