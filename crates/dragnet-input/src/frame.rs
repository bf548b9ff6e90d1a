//! Streaming framer: decompressed bytes -> batches of record spans, problems on the side.

use std::io::{self, Read};
use std::ops::{ControlFlow, Range};
use std::sync::Arc;

use bytes::Bytes;
use dragnet_prefilter::KeyHits;

use crate::decompress::{GzipError, LimitError};
use crate::line_scan::{self, LineScan, ScanProbes};
use crate::problem::{Limit, Problem, ProblemKind, RecordLocation};
use crate::scan::{Member, ScanError, Scanner, skip_object_fast, skip_ws};
use crate::surrogate::{has_unpaired_surrogate, repair_surrogate_escapes};
use crate::{
    InputOptions, MappedFile, RecordBatch, RecordKind, RecordSpan, SourceStats, Validation,
};

/// Bytes asked from the reader per refill when nothing bigger is pending.
const READ_CHUNK: usize = 1 << 20;

/// Why a slot could not be framed.
enum SlotError {
    Scan(ScanError),
    TooLarge,
    /// The input ended inside the value.
    Eof,
}

/// Where skipping a broken array element ([`Framer::skip_to_separator`]) ended.
enum Skip {
    /// At the `,`, `]` or `}` at the element's own level (a position in the buffer); whether
    /// bytes before it were dropped on the way.
    At(usize, bool),
    /// The element runs on past `max-record-bytes` (or to the end of the input) and bytes may
    /// not be dropped: nothing was consumed.
    GaveUp,
    /// The input ended inside the element after bytes were dropped.
    Eof,
}

/// How framing goes on after a container.
enum Flow {
    Continue,
    /// A broken value was reported and framing resumed at a later line.
    Resynced,
    Stop,
}

/// What one record slot turned out to be.
enum Item {
    Record {
        range: Range<usize>,
        kind: RecordKind,
        start: usize,
    },
    Owned {
        bytes: Vec<u8>,
        kind: RecordKind,
        start: usize,
        /// Bytes that were not UTF-8 and unpaired surrogate escapes already replaced by U+FFFD
        /// in the string it was unescaped from (noted when the record is delivered).
        replaced: usize,
    },
    Problem {
        start: usize,
        kind: ProblemKind,
        message: String,
    },
}

/// `bytes` with each byte that is not part of a valid UTF-8 sequence replaced by U+FFFD, and
/// how many were. One replacement per byte, as Go's decoders do (`utf8.DecodeRune` returns
/// `RuneError` with width 1 for each invalid byte; `encoding/json` unmarshals invalid UTF-8 in
/// strings as U+FFFD), which is how Filebeat and Elastic Agent (Go) index such a record.
pub(crate) fn replace_invalid_utf8(mut bytes: &[u8]) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(bytes.len() + 8);
    let mut replaced = 0;
    loop {
        match std::str::from_utf8(bytes) {
            Ok(rest) => {
                out.extend_from_slice(rest.as_bytes());
                return (out, replaced);
            }
            Err(e) => {
                let good = e.valid_up_to();
                out.extend_from_slice(&bytes[..good]);
                let bad = e.error_len().unwrap_or(bytes.len() - good);
                for _ in 0..bad {
                    out.extend_from_slice("\u{FFFD}".as_bytes());
                }
                replaced += bad;
                bytes = &bytes[good + bad..];
            }
        }
    }
}

/// A JSON string decoded as Go's `encoding/json` decodes it for Filebeat and Elastic Agent:
/// bytes that are not UTF-8 and unpaired surrogate escapes become U+FFFD (see
/// [`replace_invalid_utf8`] and `surrogate.rs`).
/// Returns the string and how many characters were replaced.
fn decode_string_lossy(json: &[u8]) -> Result<(String, usize), serde_json::Error> {
    let (utf8, bad_bytes) = match std::str::from_utf8(json) {
        Ok(_) => (std::borrow::Cow::Borrowed(json), 0),
        Err(_) => {
            let (fixed, n) = replace_invalid_utf8(json);
            (std::borrow::Cow::Owned(fixed), n)
        }
    };
    match repair_surrogate_escapes(&utf8) {
        Some((fixed, n)) => Ok((serde_json::from_slice(&fixed)?, bad_bytes + n)),
        None => Ok((serde_json::from_slice(&utf8)?, bad_bytes)),
    }
}

/// Which shape the slot is an element of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    /// A top-level value, JSON-lines value or element of a top-level array: classified by keys.
    Generic,
    /// An element of a `Records` array: a CloudTrail record by definition.
    RecordsElement,
    /// An element of an array whose entries carry the record as a JSON string in member
    /// `field`: lookup-events `Events[].CloudTrailEvent`, CloudWatch Logs
    /// `events[].message` (filter-log-events) and `logEvents[].message` (subscriptions).
    Embedded {
        field: &'static [u8],
        what: &'static str,
    },
}

const LOOKUP_EVENTS: Context = Context::Embedded {
    field: b"CloudTrailEvent",
    what: "lookup-events entry",
};
const LOG_EVENTS: Context = Context::Embedded {
    field: b"message",
    what: "CloudWatch Logs event",
};

/// The bytes the framer works on: a buffer of input read so far, or a memory-mapped file.
enum Window {
    /// Grows as [`Framer::fill`] reads; consumed bytes are dropped at each batch.
    Owned(Vec<u8>),
    /// `all[start..]`: the whole file is there from the start; a batch is a slice of it.
    Mapped { all: Bytes, start: usize },
}

impl std::ops::Deref for Window {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Window::Owned(v) => v,
            Window::Mapped { all, start } => &all[*start..],
        }
    }
}

/// How far behind the framing position mapped pages are kept resident. The batches in flight
/// (a bounded channel of two 4 MiB batches per worker) usually lie within it; a page released
/// under a slow worker is faulted back in from the page cache, a cost and never an error.
const RELEASE_LAG: usize = 32 << 20;

/// Pages are released at least this many at a time.
const RELEASE_STEP: usize = 32 << 20;

/// Drops the mapped pages more than [`RELEASE_LAG`] behind `position` (the framing position),
/// from `released` (how far earlier calls went) on: the batches cut from them have long been
/// evaluated, so resident memory stays flat over a file of any size.
#[cfg(unix)]
pub(crate) fn release_pages_behind(map: &memmap2::Mmap, released: &mut usize, position: usize) {
    let page = 4096;
    let keep_from = position.saturating_sub(RELEASE_LAG) / page * page;
    // In large steps: each release interrupts the other cores to flush their TLBs.
    if keep_from >= *released + RELEASE_STEP {
        drop_pages(map, *released, keep_from - *released);
        *released = keep_from;
    }
}

/// Drops the mapped pages of `map[from..from + len]` (clamped to the mapping).
#[cfg(unix)]
pub(crate) fn drop_pages(map: &memmap2::Mmap, from: usize, len: usize) {
    let len = len.min(map.len().saturating_sub(from));
    // SAFETY: the mapping is private and read-only, so dropping pages loses nothing: a later
    // access (a batch still being evaluated) faults the same bytes back in from the file. No
    // reference is invalidated; the address range stays mapped.
    #[allow(unsafe_code)]
    let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, len) };
}

/// The consumed bytes a batch is cut from.
enum Head {
    Owned(Vec<u8>),
    Shared(Bytes),
}

pub(crate) struct Framer<'a> {
    src: Option<&'a mut dyn Read>,
    source: Arc<str>,
    opts: &'a InputOptions,
    buf: Window,
    /// Offset in the decompressed text of `buf[0]`.
    base: u64,
    pos: usize,
    eof: bool,
    read_error: Option<io::Error>,
    read_error_reported: bool,
    /// Newlines counted in `buf[..line_pos]` plus those of bytes already dropped.
    line_pos: usize,
    newlines: u64,
    batch: Vec<RecordSpan>,
    owned: Vec<u8>,
    owned_spans: Vec<usize>,
    index: u64,
    scanner: Scanner,
    items: Vec<Item>,
    /// The first value of the source decides whether it carries CloudTrail at all.
    decided: bool,
    stopped: bool,
    pub stats: SourceStats,
    /// For a segment: the offset where it ends; no value starting there or later is framed.
    stop: Option<u64>,
    /// For a mapped file: the mapping and how far its pages were released.
    mapping: Option<(Arc<memmap2::Mmap>, usize)>,
    /// For a mapped file read ahead by a prefetch thread: where framing is, and the thread
    /// to wake when framing moves on.
    pub(crate) progress: Option<(Arc<std::sync::atomic::AtomicUsize>, std::thread::Thread)>,
    /// Lines the fast path scanned ahead ([`line_scan::scan_lines`]), not yet framed, and
    /// where the first of them starts.
    scanned: std::collections::VecDeque<LineScan>,
    scanned_from: usize,
    /// [`Framer::next_non_ws`] stopped at `max-record-bytes` of whitespace.
    ws_overrun: bool,
}

/// Lines scanned ahead at once by the fast path: one pass finds a line's end and the next
/// line's start, and the scan's setup is paid once for all of them.
const LINES_AHEAD: usize = 32;

fn describe_scan_error(e: ScanError) -> String {
    match e {
        ScanError::Syntax { expected, .. } => format!("expected {expected}"),
        ScanError::TooDeep { .. } => "nested too deep".into(),
        ScanError::Incomplete => "input ends inside the value".into(),
    }
}

/// Whether `rest` (the bytes after an object's `{`) starts with the member key `eventVersion`
/// or `eventSource` and its `:` (blanks allowed), as CloudTrail writes every record.
pub(crate) fn starts_with_cloudtrail_key(rest: &[u8]) -> bool {
    let Some(q) = skip_ws(rest, 0) else {
        return false;
    };
    let after_key = [&b"\"eventVersion\""[..], b"\"eventSource\""]
        .iter()
        .find(|k| rest[q..].starts_with(k))
        .map(|k| q + k.len());
    after_key
        .and_then(|a| skip_ws(rest, a))
        .is_some_and(|c| rest[c] == b':')
}

fn starts_value(b: u8) -> bool {
    b == b'{' || b == b'['
}

fn first_byte_kind(b: u8) -> &'static str {
    match b {
        b'"' => "a string",
        b'-' | b'0'..=b'9' => "a number",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        b'[' => "an array",
        _ => "not JSON",
    }
}

/// CloudTrail record keys; any of them at the top of an object marks a CloudTrail record
/// (including digest and Insights records).
const CLOUDTRAIL_KEYS: &[&[u8]] = &[
    b"eventVersion",
    b"eventSource",
    b"eventName",
    b"eventTime",
    b"eventID",
    b"eventType",
    b"userIdentity",
    b"awsRegion",
    b"recipientAccountId",
    b"requestParameters",
    b"digestStartTime",
    b"digestEndTime",
    b"insightDetails",
];

enum Shape {
    CloudTrail,
    Ecs,
    Envelope {
        detail: Range<usize>,
    },
    Records(Range<usize>),
    Embedded(Range<usize>, Context),
    /// An Elasticsearch hit (`_index`, `_source`): the `_source` document.
    Hit {
        source: Range<usize>,
    },
    Unknown,
}

fn member<'m>(buf: &[u8], members: &'m [Member], name: &[u8]) -> Option<&'m Member> {
    members.iter().find(|m| &buf[m.key.clone()] == name)
}

fn is_array(buf: &[u8], r: &Range<usize>) -> bool {
    buf.get(r.start) == Some(&b'[')
}

/// The keys that decide an object's shape, found in one pass over its members.
#[derive(Default)]
struct Keys<'m> {
    records: Option<&'m Member>,
    lookup_events: Option<&'m Member>,
    log_events: Option<&'m Member>,
    detail: Option<&'m Member>,
    source_doc: Option<&'m Member>,
    version_or_source: bool,
    other_cloudtrail: bool,
    envelope: bool,
    timestamp: bool,
    ecs: bool,
    /// `ecs` or `data_stream`: only documents indexed by Elastic carry these, with or without
    /// `@timestamp` (the AWS pipeline keeps a record whose `eventTime` does not parse).
    ecs_marker: bool,
    index: bool,
}

fn keys<'m>(buf: &[u8], members: &'m [Member]) -> Keys<'m> {
    let mut k = Keys::default();
    for m in members {
        match &buf[m.key.clone()] {
            b"eventVersion" | b"eventSource" => k.version_or_source = true,
            b"Records" => k.records = k.records.or(Some(m)),
            b"Events" => k.lookup_events = k.lookup_events.or(Some(m)),
            b"events" | b"logEvents" => k.log_events = k.log_events.or(Some(m)),
            b"detail" => k.detail = k.detail.or(Some(m)),
            b"detail-type" | b"source" => k.envelope = true,
            b"@timestamp" => k.timestamp = true,
            b"event" => k.ecs = true,
            b"ecs" | b"data_stream" => {
                k.ecs = true;
                k.ecs_marker = true;
            }
            b"_source" => k.source_doc = k.source_doc.or(Some(m)),
            b"_index" => k.index = true,
            key => k.other_cloudtrail |= CLOUDTRAIL_KEYS.contains(&key),
        }
    }
    k
}

fn classify(buf: &[u8], members: &[Member]) -> Shape {
    let k = keys(buf, members);
    let object = |m: &Member| buf.get(m.value.start) == Some(&b'{');
    if let Some(m) = k.records.filter(|m| is_array(buf, &m.value)) {
        return Shape::Records(m.value.clone());
    }
    if let Some(m) = k.lookup_events.filter(|m| is_array(buf, &m.value)) {
        return Shape::Embedded(m.value.clone(), LOOKUP_EVENTS);
    }
    if let Some(m) = k.log_events.filter(|m| is_array(buf, &m.value)) {
        return Shape::Embedded(m.value.clone(), LOG_EVENTS);
    }
    if k.version_or_source {
        return Shape::CloudTrail;
    }
    if let Some(d) = k.detail.filter(|d| object(d))
        && k.envelope
    {
        return Shape::Envelope {
            detail: d.value.clone(),
        };
    }
    if (k.timestamp && k.ecs) || k.ecs_marker {
        return Shape::Ecs;
    }
    if let Some(m) = k.source_doc.filter(|m| object(m))
        && k.index
    {
        return Shape::Hit {
            source: m.value.clone(),
        };
    }
    if k.other_cloudtrail {
        return Shape::CloudTrail;
    }
    Shape::Unknown
}

fn is_cloudtrail(buf: &[u8], members: &[Member]) -> bool {
    let k = keys(buf, members);
    k.version_or_source || k.other_cloudtrail
}

/// Appends the items for the already-scanned value `buf[start..end]` (its direct members in
/// `members` when it is an object).
fn items_for_value(
    buf: &[u8],
    range: Range<usize>,
    members: &[Member],
    ctx: Context,
    max_depth: usize,
    out: &mut Vec<Item>,
) {
    let start = range.start;
    let problem = |kind, message: String| Item::Problem {
        start,
        kind,
        message,
    };
    if buf[start] != b'{' {
        out.push(problem(
            ProblemKind::NotAnObject,
            format!(
                "expected a JSON object here, found {}; skipped",
                first_byte_kind(buf[start])
            ),
        ));
        return;
    }
    match ctx {
        Context::RecordsElement => out.push(Item::Record {
            range,
            kind: RecordKind::CloudTrail,
            start,
        }),
        Context::Embedded { field, what } => {
            let field_name = String::from_utf8_lossy(field);
            let Some(m) = member(buf, members, field) else {
                out.push(problem(
                    ProblemKind::NotCloudTrail,
                    format!("{what} without a {field_name} member; skipped"),
                ));
                return;
            };
            let (text, replaced) = match decode_string_lossy(&buf[m.value.clone()]) {
                Ok(decoded) => decoded,
                Err(e) => {
                    out.push(problem(
                        ProblemKind::Malformed,
                        format!("{what}: {field_name} is not a valid JSON string ({e}); skipped"),
                    ));
                    return;
                }
            };
            let bytes = text.into_bytes();
            let mut inner = Scanner::default();
            let first = skip_ws(&bytes, 0);
            let scanned = match first {
                Some(p) => inner.scan_value(&bytes, p, max_depth).map(|e| (p, e)),
                None => Err(ScanError::Incomplete),
            };
            match scanned {
                Ok((p, end))
                    if bytes[p] == b'{'
                        && skip_ws(&bytes, end).is_none()
                        && is_cloudtrail(&bytes, &inner.members) =>
                {
                    out.push(Item::Owned {
                        bytes: bytes[p..end].to_vec(),
                        kind: RecordKind::CloudTrail,
                        start,
                        replaced,
                    })
                }
                Ok((p, end)) if bytes[p] == b'{' && skip_ws(&bytes, end).is_none() => {
                    out.push(problem(
                        ProblemKind::NotCloudTrail,
                        format!("{what}: {field_name} holds a JSON object without CloudTrail keys; skipped"),
                    ))
                }
                Err(ScanError::TooDeep { .. }) => out.push(problem(
                    ProblemKind::LimitExceeded {
                        limit: Limit::JsonDepth,
                    },
                    format!(
                        "{what}: {field_name} nests deeper than {max_depth} levels; skipped (raise it with {})",
                        Limit::JsonDepth.flag()
                    ),
                )),
                _ => out.push(problem(
                    ProblemKind::NotCloudTrail,
                    format!("{what}: {field_name} does not hold one JSON object; skipped"),
                )),
            }
        }
        Context::Generic => match classify(buf, members) {
            Shape::CloudTrail => out.push(Item::Record {
                range,
                kind: RecordKind::CloudTrail,
                start,
            }),
            Shape::Ecs => out.push(Item::Record {
                range,
                kind: RecordKind::Ecs,
                start,
            }),
            Shape::Envelope { detail } => {
                let mut inner = Scanner::default();
                // The detail was scanned as part of the envelope: it is complete and valid.
                let ok = inner.scan_value(buf, detail.start, max_depth).is_ok();
                if ok && is_cloudtrail(buf, &inner.members) {
                    out.push(Item::Record {
                        range: detail,
                        kind: RecordKind::CloudTrail,
                        start,
                    });
                } else {
                    let detail_type = member(buf, members, b"detail-type")
                        .map(|m| String::from_utf8_lossy(&buf[m.value.clone()]).into_owned())
                        .unwrap_or_else(|| "not given".into());
                    out.push(problem(
                        ProblemKind::NotCloudTrail,
                        format!(
                            "EventBridge event (detail-type {detail_type}) carries no CloudTrail record; skipped"
                        ),
                    ));
                }
            }
            Shape::Records(array) => {
                expand_array(buf, array, Context::RecordsElement, max_depth, out)
            }
            Shape::Embedded(array, ctx) => expand_array(buf, array, ctx, max_depth, out),
            Shape::Hit { source } => {
                let mut inner = Scanner::default();
                let ok = inner.scan_value(buf, source.start, max_depth).is_ok();
                let has = |k: &[u8]| member(buf, &inner.members, k).is_some();
                let kind = if ok && (has(b"eventVersion") || has(b"eventSource")) {
                    Some(RecordKind::CloudTrail)
                } else if ok && has(b"@timestamp") {
                    Some(RecordKind::Ecs)
                } else {
                    None
                };
                match kind {
                    Some(kind) => out.push(Item::Record {
                        range: source,
                        kind,
                        start,
                    }),
                    None => out.push(problem(
                        ProblemKind::NotCloudTrail,
                        "Elasticsearch hit whose _source has neither CloudTrail keys nor @timestamp; skipped".into(),
                    )),
                }
            }
            Shape::Unknown => out.push(problem(
                ProblemKind::NotCloudTrail,
                "JSON object with no CloudTrail, EventBridge or ECS keys; skipped".into(),
            )),
        },
    }
}

/// Items for each element of a complete, already validated array value.
fn expand_array(
    buf: &[u8],
    array: Range<usize>,
    ctx: Context,
    max_depth: usize,
    out: &mut Vec<Item>,
) {
    let mut inner = Scanner::default();
    let mut at = array.start + 1;
    loop {
        let Some(p) = skip_ws(buf, at) else { return };
        match buf[p] {
            b']' => return,
            b',' => {
                at = p + 1;
                continue;
            }
            _ => {}
        }
        // Validated as part of the enclosing value, so this cannot fail; stop quietly if it does.
        let Ok(end) = inner.scan_value(buf, p, max_depth) else {
            return;
        };
        let members = std::mem::take(&mut inner.members);
        items_for_value(buf, p..end, &members, ctx, max_depth, out);
        inner.members = members;
        at = end;
    }
}

impl<'a> Framer<'a> {
    pub(crate) fn new(src: &'a mut dyn Read, source: Arc<str>, opts: &'a InputOptions) -> Self {
        Self::with_window(
            Some(src),
            Window::Owned(Vec::with_capacity(READ_CHUNK + opts.batch_bytes)),
            source,
            opts,
        )
    }

    /// A framer over a whole memory-mapped file: nothing is read or copied, and each batch is
    /// a slice of the mapping.
    pub(crate) fn mapped(file: MappedFile, source: Arc<str>, opts: &'a InputOptions) -> Self {
        let len = file.all.len() as u64;
        let window = Window::Mapped {
            all: file.all,
            start: 0,
        };
        let mut framer = Self::with_window(None, window, source, opts);
        framer.eof = true;
        framer.stats.bytes = len;
        framer.mapping = Some((file.map, 0));
        framer
    }

    /// A framer over one segment of a mapped file (see [`crate::segment`]): `offset` is the
    /// segment's place in the file, for byte offsets; lines and record slots count from the
    /// segment's start. Only the `first` segment decides whether the file holds CloudTrail.
    ///
    /// `rest` is the file from the segment's start on, `len` the segment's length: values that
    /// start in the segment are framed (reading past its end when a broken one runs on, as
    /// framing the whole file would), and framing stops at the first value starting after it.
    pub(crate) fn segment(
        rest: Bytes,
        len: usize,
        offset: u64,
        first: bool,
        source: Arc<str>,
        opts: &'a InputOptions,
        mut spans: Vec<RecordSpan>,
    ) -> Self {
        let window = Window::Mapped {
            all: rest,
            start: 0,
        };
        let mut framer = Self::with_window(None, window, source, opts);
        framer.eof = true;
        framer.base = offset;
        framer.stop = Some(offset + len as u64);
        // CloudTrail records run about 1.3 KB: room for the segment's spans at once.
        spans.reserve(len / 1024 + 8);
        framer.batch = spans;
        framer.decided = !first;
        framer.stats.bytes = len as u64;
        framer.stats.compressed_bytes = len as u64;
        framer
    }

    /// After [`Framer::run`] over a segment: the newlines in it and the record slots framed.
    pub(crate) fn lines_and_slots(&self) -> (u64, u64) {
        let end = self.stop.map_or(self.buf.len(), |stop| {
            (stop.saturating_sub(self.base) as usize).min(self.buf.len())
        });
        let newlines = if end >= self.line_pos {
            self.count_newlines(end)
        } else {
            self.newlines - memchr::memchr_iter(b'\n', &self.buf[end..self.line_pos]).count() as u64
        };
        (newlines, self.index)
    }

    /// Drops the mapped pages well behind the framing position (the batches cut from them
    /// have long been evaluated), so resident memory stays flat over a file of any size.
    #[cfg(unix)]
    fn release_behind(&mut self, position: usize) {
        if let Some((map, released)) = &mut self.mapping {
            release_pages_behind(map, released, position);
        }
    }

    /// Elsewhere the operating system pages the mapping out as it sees fit.
    #[cfg(not(unix))]
    fn release_behind(&mut self, _position: usize) {}

    fn with_window(
        src: Option<&'a mut dyn Read>,
        buf: Window,
        source: Arc<str>,
        opts: &'a InputOptions,
    ) -> Self {
        Framer {
            src,
            source,
            opts,
            buf,
            base: 0,
            pos: 0,
            eof: false,
            read_error: None,
            read_error_reported: false,
            line_pos: 0,
            newlines: 0,
            batch: Vec::new(),
            owned: Vec::new(),
            owned_spans: Vec::new(),
            index: 0,
            scanner: Scanner::default(),
            items: Vec::new(),
            decided: false,
            stopped: false,
            stats: SourceStats::default(),
            stop: None,
            mapping: None,
            progress: None,
            scanned: std::collections::VecDeque::with_capacity(LINES_AHEAD),
            scanned_from: 0,
            ws_overrun: false,
        }
    }

    /// Reads at least `want` more bytes (up to a chunk more) unless the input ends first, so a
    /// pipe that delivers slowly is framed as it comes. False when nothing came.
    fn fill(&mut self, want: usize) -> bool {
        if self.eof {
            return false;
        }
        let (Window::Owned(buf), Some(src)) = (&mut self.buf, self.src.as_mut()) else {
            self.eof = true;
            return false;
        };
        // A line scanned ahead up to the buffer's end may go on in what comes.
        if self.scanned.back().is_some_and(|l| l.newline.is_none()) {
            self.scanned.pop_back();
        }
        let old = buf.len();
        let target = old + want.max(READ_CHUNK);
        buf.resize(target, 0);
        let mut len = old;
        while len < old + want.max(1) {
            match src.read(&mut buf[len..target]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.read_error = Some(e);
                    self.eof = true;
                    break;
                }
            }
        }
        buf.truncate(len);
        self.stats.bytes += (len - old) as u64;
        len > old
    }

    /// The next non-whitespace position at or after `from`, reading as needed; `None` where
    /// the input ends, or (noted in `ws_overrun`) once more than `max-record-bytes` of
    /// whitespace were read without one: whitespace counts against the record limit, checked
    /// before more is buffered.
    fn next_non_ws(&mut self, mut from: usize) -> Option<usize> {
        let start = from;
        self.ws_overrun = false;
        loop {
            if let Some(p) = skip_ws(&self.buf, from) {
                return Some(p);
            }
            from = self.buf.len();
            if from - start > self.opts.max_record_bytes {
                self.ws_overrun = true;
                return None;
            }
            if !self.fill(1) {
                return None;
            }
        }
    }

    /// [`Self::next_non_ws`] between values, where the framer holds no position before `from`:
    /// a long run of whitespace is not buffered (the records framed so far are handed over and
    /// the blanks dropped, a chunk at a time), and one longer than `max-record-bytes` is
    /// reported, naming the flag, before framing goes on after it.
    fn next_value_start(
        &mut self,
        mut from: usize,
        on_batch: &mut dyn FnMut(RecordBatch) -> ControlFlow<()>,
        on_problem: &mut dyn FnMut(Problem),
    ) -> Option<usize> {
        let run_start = self.base + from as u64;
        self.ws_overrun = false;
        loop {
            let found = skip_ws(&self.buf, from);
            let run_end = self.base + found.unwrap_or(self.buf.len()) as u64;
            let at_end = found.is_some() || (self.eof && self.read_error.is_none());
            // Reported where the run ends, which both validation modes agree on (the fast
            // JSON-lines path has already passed the newline that starts it).
            if at_end && run_end - run_start > self.opts.max_record_bytes as u64 {
                let p = self.problem(
                    None,
                    ProblemKind::LimitExceeded {
                        limit: Limit::RecordBytes,
                    },
                    format!(
                        "more than {} bytes of whitespace between records, up to byte {run_end}; not buffered, framing goes on after it (raise it with {})",
                        self.opts.max_record_bytes,
                        Limit::RecordBytes.flag()
                    ),
                );
                on_problem(p);
            }
            if let Some(p) = found {
                return Some(p);
            }
            from = self.buf.len();
            if matches!(self.buf, Window::Owned(_)) && from - self.pos.min(from) >= READ_CHUNK {
                self.pos = from;
                self.maybe_emit(on_batch, true);
                from = self.pos;
                if self.stopped {
                    return None;
                }
            }
            if !self.fill(1) {
                return None;
            }
        }
    }

    fn count_newlines(&self, upto: usize) -> u64 {
        self.newlines + memchr::memchr_iter(b'\n', &self.buf[self.line_pos..upto]).count() as u64
    }

    /// Location of the byte at `at` (which must not precede earlier located bytes).
    fn locate(&mut self, at: usize) -> RecordLocation {
        let at = at.max(self.line_pos);
        self.newlines = self.count_newlines(at);
        self.line_pos = at;
        RecordLocation {
            line: self.newlines + 1,
            index: self.index,
            offset: self.base + at as u64,
        }
    }

    fn problem(
        &mut self,
        at: Option<RecordLocation>,
        kind: ProblemKind,
        message: String,
    ) -> Problem {
        self.stats.problems += 1;
        Problem::new(self.source.clone(), at, kind, message)
    }

    /// Scans the value starting at `start`, reading more input as needed, within the limits.
    fn scan_slot(&mut self, start: usize) -> Result<usize, SlotError> {
        self.scan_slot_with(start, false)
    }

    /// [`Self::scan_slot`]; with `fast`, the object at `start` is only skipped over
    /// ([`skip_object_fast`]: no grammar check, no members listed).
    fn scan_slot_with(&mut self, start: usize, fast: bool) -> Result<usize, SlotError> {
        loop {
            let scanned = if fast {
                skip_object_fast(&self.buf, start, self.opts.max_depth)
            } else {
                self.scanner
                    .scan_value(&self.buf, start, self.opts.max_depth)
            };
            match scanned {
                Ok(end) => {
                    if end - start > self.opts.max_record_bytes {
                        return Err(SlotError::TooLarge);
                    }
                    return Ok(end);
                }
                Err(ScanError::Incomplete) => {
                    let pending = self.buf.len() - start;
                    if pending > self.opts.max_record_bytes {
                        return Err(SlotError::TooLarge);
                    }
                    // Ask for as much again as is pending so rescans stay linear overall.
                    if !self.fill(pending) {
                        // A number at the very end of the input is complete at EOF.
                        if let Some(end) = self.scalar_at_eof(start) {
                            return Ok(end);
                        }
                        return Err(SlotError::Eof);
                    }
                }
                Err(e) => return Err(SlotError::Scan(e)),
            }
        }
    }

    fn scalar_at_eof(&self, start: usize) -> Option<usize> {
        let b = self.buf[start];
        if matches!(b, b'-' | b'0'..=b'9' | b't' | b'f' | b'n') {
            let mut tmp = self.buf[start..].to_vec();
            tmp.push(b' ');
            return Scanner::default()
                .scan_value(&tmp, 0, 1)
                .ok()
                .map(|e| start + e);
        }
        None
    }

    /// Adds a record whose bytes are not a slice of the input (unescaped or repaired): they are
    /// copied to the owned buffer, which the batch carries after the input's bytes.
    fn push_owned(&mut self, bytes: &[u8], location: RecordLocation, kind: RecordKind) {
        let at = self.owned.len();
        self.owned.extend_from_slice(bytes);
        self.owned_spans.push(self.batch.len());
        self.batch.push(RecordSpan {
            range: at..self.owned.len(),
            location,
            kind,
            escaped: None,
            key_hits: KeyHits::NotLooked,
            needle_hit: None,
            key_value: None,
        });
        self.stats.records += 1;
    }

    /// The note for a record delivered after `replaced` bytes that were not UTF-8 or unpaired
    /// surrogate escapes were replaced by U+FFFD.
    fn surrogates_replaced(&mut self, loc: RecordLocation, replaced: usize) -> Problem {
        self.problem(
            Some(loc),
            ProblemKind::NotUtf8,
            format!(
                "record contains {replaced} invalid character(s) (bytes that are not UTF-8 or \\u escapes of unpaired UTF-16 surrogates); replaced by U+FFFD, as Filebeat and Elastic Agent do, and the record evaluated"
            ),
        )
    }

    /// Applies the collected items for one or more slots, in order.
    fn apply_items(&mut self, on_problem: &mut dyn FnMut(Problem)) {
        let items = std::mem::take(&mut self.items);
        for item in items.iter() {
            match item {
                Item::Record { range, kind, start } => {
                    let loc = self.locate(*start);
                    match std::str::from_utf8(&self.buf[range.clone()]) {
                        Ok(_) => {
                            if let Some((fixed, replaced)) =
                                repair_surrogate_escapes(&self.buf[range.clone()])
                            {
                                self.push_owned(&fixed, loc, *kind);
                                on_problem(self.surrogates_replaced(loc, replaced));
                                self.index += 1;
                                continue;
                            }
                            self.batch.push(RecordSpan {
                                range: range.clone(),
                                location: loc,
                                kind: *kind,
                                escaped: None,
                                key_hits: KeyHits::NotLooked,
                                needle_hit: None,
                                key_value: None,
                            });
                            self.stats.records += 1;
                        }
                        Err(e) => {
                            // Evaluated as Filebeat and Elastic Agent index it: each byte
                            // that is not UTF-8 becomes U+FFFD (see `replace_invalid_utf8`).
                            let bad = self.base + (range.start + e.valid_up_to()) as u64;
                            let (mut fixed, replaced) =
                                replace_invalid_utf8(&self.buf[range.clone()]);
                            let surrogates = repair_surrogate_escapes(&fixed);
                            if let Some((repaired, _)) = &surrogates {
                                fixed.clone_from(repaired);
                            }
                            self.push_owned(&fixed, loc, *kind);
                            if let Some((_, n)) = surrogates {
                                on_problem(self.surrogates_replaced(loc, n));
                            }
                            let p = self.problem(
                                Some(loc),
                                ProblemKind::NotUtf8,
                                format!(
                                    "record contains bytes that are not UTF-8 (first at byte {bad}); {replaced} replaced by U+FFFD, as Filebeat and Elastic Agent do, and the record evaluated"
                                ),
                            );
                            on_problem(p);
                        }
                    }
                }
                Item::Owned {
                    bytes,
                    kind,
                    start,
                    replaced,
                } => {
                    let loc = self.locate(*start);
                    let inner = repair_surrogate_escapes(bytes);
                    let bytes = inner.as_ref().map_or(bytes.as_slice(), |(b, _)| b);
                    self.push_owned(bytes, loc, *kind);
                    let replaced = replaced + inner.map_or(0, |(_, n)| n);
                    if replaced > 0 {
                        on_problem(self.surrogates_replaced(loc, replaced));
                    }
                }
                Item::Problem {
                    start,
                    kind,
                    message,
                } => {
                    let loc = self.locate(*start);
                    let p = self.problem(Some(loc), kind.clone(), message.clone());
                    self.stats.skipped_records += 1;
                    on_problem(p);
                }
            }
            self.index += 1;
        }
        self.items = items;
        self.items.clear();
    }

    /// Hands the batch to the consumer once it holds `batch_bytes`, or drops consumed bytes.
    fn maybe_emit(
        &mut self,
        on_batch: &mut dyn FnMut(RecordBatch) -> ControlFlow<()>,
        force: bool,
    ) {
        let cut = self.pos.min(self.buf.len());
        if !force && cut < self.opts.batch_bytes {
            return;
        }
        self.newlines = self.count_newlines(cut.max(self.line_pos));
        self.line_pos = cut.max(self.line_pos);
        let head = match &mut self.buf {
            Window::Owned(buf) => {
                let mut rest =
                    Vec::with_capacity((buf.len() - cut).max(READ_CHUNK) + self.opts.batch_bytes);
                rest.extend_from_slice(&buf[cut..]);
                let mut head = std::mem::replace(buf, rest);
                head.truncate(cut);
                Head::Owned(head)
            }
            Window::Mapped { all, start } => {
                let head = all.slice(*start..*start + cut);
                *start += cut;
                Head::Shared(head)
            }
        };
        let position = self.base as usize + cut;
        match &self.progress {
            // The prefetch thread releases pages too, off this thread.
            Some((at, prefetcher)) => {
                at.store(position, std::sync::atomic::Ordering::Relaxed);
                prefetcher.unpark();
            }
            None => self.release_behind(position),
        }
        self.base += cut as u64;
        self.pos -= cut;
        self.line_pos -= cut;
        // Lines scanned ahead lie after `pos`: they move with the buffer.
        if self.scanned_from >= cut {
            self.scanned_from -= cut;
            for line in &mut self.scanned {
                line.newline = line.newline.map(|n| n - cut);
            }
        } else {
            self.scanned.clear();
        }
        if self.batch.is_empty() {
            return;
        }
        // The next batch likely holds as many records: one allocation instead of a dozen
        // doublings, each copying the spans so far. A segment is mostly framed into one
        // batch: its framer allocates again only if more come.
        let capacity = if self.stop.is_some() {
            0
        } else {
            self.batch.len()
        };
        let mut records = std::mem::replace(&mut self.batch, Vec::with_capacity(capacity));
        let buf = if self.owned.is_empty() {
            match head {
                Head::Owned(v) => Bytes::from(v),
                Head::Shared(b) => b,
            }
        } else {
            let mut head = match head {
                Head::Owned(v) => v,
                Head::Shared(b) => b.to_vec(),
            };
            let shift = head.len();
            head.extend_from_slice(&self.owned);
            for &i in &self.owned_spans {
                let r = &mut records[i].range;
                *r = r.start + shift..r.end + shift;
            }
            self.owned.clear();
            self.owned_spans.clear();
            Bytes::from(head)
        };
        self.stats.batches += 1;
        let batch = RecordBatch {
            source: self.source.clone(),
            buf,
            records,
        };
        if on_batch(batch).is_break() {
            self.stopped = true;
        }
    }

    /// Skips to the start of the line after `from`; then past lines that do not start a JSON
    /// object or array. Returns how many lines were passed over after the first.
    fn resync(&mut self, from: usize) -> u64 {
        let mut at = from;
        let mut skipped = 0u64;
        let mut first = true;
        loop {
            // Find the end of the current line, reading (and dropping bytes when nothing is
            // pending) so memory stays bounded on endless lines.
            let nl = loop {
                if let Some(k) = memchr::memchr(b'\n', &self.buf[at..]) {
                    break Some(at + k);
                }
                at = self.buf.len();
                if self.batch.is_empty() && self.owned.is_empty() {
                    self.pos = at;
                    self.maybe_emit(&mut |_| ControlFlow::Continue(()), true);
                    at = self.pos;
                }
                if !self.fill(1) {
                    break None;
                }
            };
            if !first {
                skipped += 1;
            }
            first = false;
            let Some(nl) = nl else {
                self.pos = self.buf.len();
                return skipped;
            };
            self.pos = nl + 1;
            match self.next_non_ws(self.pos) {
                None => {
                    self.pos = self.buf.len();
                    return skipped;
                }
                Some(p) if starts_value(self.buf[p]) => {
                    // Only count whole lines: `p` may sit on a later line after blank ones.
                    self.pos = p;
                    return skipped;
                }
                Some(p) => at = p,
            }
        }
    }

    fn report_read_error(
        &mut self,
        at: Option<RecordLocation>,
        on_problem: &mut dyn FnMut(Problem),
    ) {
        if self.read_error_reported {
            return;
        }
        let Some(e) = self.read_error.take() else {
            return;
        };
        self.read_error_reported = true;
        let records = self.stats.records;
        let inner = e.get_ref();
        let (kind, message) =
            if let Some(limit) = inner.and_then(|i| i.downcast_ref::<LimitError>()) {
                (
                    ProblemKind::LimitExceeded { limit: limit.limit },
                    limit.to_string(),
                )
            } else if let Some(gz) = inner.and_then(|i| i.downcast_ref::<GzipError>()) {
                (
                    ProblemKind::Truncated,
                    format!("{gz}; the {records} records before that point were read"),
                )
            } else {
                (
                    ProblemKind::Io,
                    format!("read failed: {e}; the {records} records before that point were read"),
                )
            };
        let p = self.problem(at, kind, message);
        on_problem(p);
    }

    /// From the broken element at `p` on, finds the `,` (or closing bracket) that ends it at
    /// its own level, following strings and counting `{`/`[` against `}`/`]` (one counter,
    /// whatever the nesting: memory stays constant however deep the element goes). Looks at
    /// most `max-record-bytes` ahead keeping the bytes (so the caller can fall back to
    /// resynchronising on lines from `p`); past that, when `may_drop`, goes on handing over the
    /// records framed so far and dropping the skipped bytes, so an endless element costs no
    /// memory.
    fn skip_to_separator(
        &mut self,
        p: usize,
        may_drop: bool,
        on_batch: &mut dyn FnMut(RecordBatch) -> ControlFlow<()>,
    ) -> Skip {
        let mut depth = 0u64;
        let (mut in_string, mut escaped) = (false, false);
        let mut at = p;
        let mut dropping = false;
        loop {
            while at < self.buf.len() {
                let b = self.buf[at];
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_string = false;
                    }
                } else {
                    match b {
                        b'"' => in_string = true,
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' if depth > 0 => depth -= 1,
                        b'}' | b']' | b',' if depth == 0 => return Skip::At(at, dropping),
                        _ => {}
                    }
                }
                at += 1;
            }
            if !dropping && at - p > self.opts.max_record_bytes {
                if !may_drop {
                    return Skip::GaveUp;
                }
                dropping = true;
            }
            if dropping {
                self.pos = at;
                self.maybe_emit(on_batch, true);
                at = self.pos;
            }
            if !self.fill(1) {
                return if dropping { Skip::Eof } else { Skip::GaveUp };
            }
        }
    }

    /// An element of an array that could not be framed (`err`): when its end can be found
    /// ([`Self::skip_to_separator`]) and a `,` or `]` follows, it is reported and skipped and
    /// `None` says to go on with the next element, so one bad member of a single-line
    /// `{"Records":[…]}` file does not take the rest of the file with it. Otherwise the flow
    /// the array ends with: resynchronised on the next line (the bytes passed over are
    /// counted in the message), or stopped where the input ends.
    fn skip_bad_element(
        &mut self,
        p: usize,
        err: SlotError,
        on_batch: &mut dyn FnMut(RecordBatch) -> ControlFlow<()>,
        on_problem: &mut dyn FnMut(Problem),
    ) -> Option<Flow> {
        let loc = self.locate(p);
        let (kind, message) = match &err {
            SlotError::TooLarge => (
                ProblemKind::LimitExceeded {
                    limit: Limit::RecordBytes,
                },
                format!(
                    "record is longer than {} bytes; skipped (raise it with {})",
                    self.opts.max_record_bytes,
                    Limit::RecordBytes.flag()
                ),
            ),
            SlotError::Scan(e) => self.describe_scan_failure(loc, *e),
            SlotError::Eof => return Some(self.resync_after(p, err, on_batch, on_problem)),
        };
        let may_drop = matches!(
            err,
            SlotError::TooLarge | SlotError::Scan(ScanError::TooDeep { .. })
        );
        let skip = self.skip_to_separator(p, may_drop, on_batch);
        let (at, dropped) = match skip {
            Skip::At(at, dropped) => (at, dropped),
            Skip::GaveUp => return Some(self.resync_after(p, err, on_batch, on_problem)),
            Skip::Eof => {
                self.index += 1;
                self.stats.skipped_records += 1;
                let problem = self.problem(Some(loc), kind, message);
                on_problem(problem);
                return Some(self.container_cut(None, on_problem));
            }
        };
        let separator = matches!(self.buf[at], b',' | b']');
        if !separator && !dropped {
            // Its brackets do not balance: the old way, from the next line.
            return Some(self.resync_after(p, err, on_batch, on_problem));
        }
        self.decided = true;
        self.index += 1;
        self.stats.skipped_records += 1;
        let problem = self.problem(Some(loc), kind, message);
        on_problem(problem);
        self.pos = at;
        if separator {
            return None;
        }
        let from = self.base + at as u64;
        self.resync(at);
        let passed = self.base + self.pos as u64 - from;
        let problem = self.problem(
            Some(loc),
            ProblemKind::Malformed,
            format!(
                "after that record the array does not go on with ',' or ']'; {passed} more bytes skipped up to the next line that starts a JSON value"
            ),
        );
        on_problem(problem);
        Some(Flow::Resynced)
    }

    /// What a scan error of the value located at `loc` is reported as.
    fn describe_scan_failure(&self, loc: RecordLocation, e: ScanError) -> (ProblemKind, String) {
        match e {
            ScanError::TooDeep { .. } => (
                ProblemKind::LimitExceeded {
                    limit: Limit::JsonDepth,
                },
                format!(
                    "JSON nests deeper than {} levels; skipped (raise it with {})",
                    self.opts.max_depth,
                    Limit::JsonDepth.flag()
                ),
            ),
            ScanError::Syntax { at, .. } => {
                // Lines below the record's first, not the file's line: a segment framed on
                // its own does not know the file's line numbers (its locations are rebased).
                let below = self.count_newlines(at.max(self.line_pos)) + 1 - loc.line;
                let whereabouts = match below {
                    0 => String::new(),
                    1 => ", on the record's second line".to_string(),
                    n => format!(", {n} lines below the record's first"),
                };
                (
                    ProblemKind::Malformed,
                    format!(
                        "not valid JSON: {} at byte {}{whereabouts}; skipped",
                        describe_scan_error(e),
                        self.base + at as u64
                    ),
                )
            }
            ScanError::Incomplete => (
                ProblemKind::Truncated,
                "input ends inside this record; skipped".to_string(),
            ),
        }
    }

    /// Handles a slot that could not be framed at the top level: reports, then resyncs.
    fn top_level_failure(
        &mut self,
        start: usize,
        err: SlotError,
        in_array: bool,
        on_batch: &mut dyn FnMut(RecordBatch) -> ControlFlow<()>,
        on_problem: &mut dyn FnMut(Problem),
    ) -> bool {
        let loc = self.locate(start);
        self.index += 1;
        self.stats.skipped_records += 1;
        let (kind, message) = match err {
            SlotError::Eof => {
                if self.read_error.is_some() {
                    self.report_read_error(Some(loc), on_problem);
                    return false;
                }
                (
                    ProblemKind::Truncated,
                    "input ends inside this record (file cut short?); skipped".to_string(),
                )
            }
            SlotError::TooLarge => (
                ProblemKind::LimitExceeded {
                    limit: Limit::RecordBytes,
                },
                format!(
                    "record or line is longer than {} bytes; skipped up to the next line (raise it with {})",
                    self.opts.max_record_bytes,
                    Limit::RecordBytes.flag()
                ),
            ),
            SlotError::Scan(e) => self.describe_scan_failure(loc, e),
        };
        // Hand over what was framed before this point so resync can drop the bytes it skips.
        self.pos = start;
        self.maybe_emit(on_batch, true);
        let skipped_lines = self.resync(0);
        let mut message = if skipped_lines > 0 {
            format!(
                "{message}; {skipped_lines} following lines that start no JSON value were skipped too"
            )
        } else {
            message
        };
        if in_array {
            // What else of the array was given up with it: framing goes on at the next line.
            let passed = (self.base + self.pos as u64).saturating_sub(loc.offset);
            message.push_str(&format!(
                "; framing resumed at the next line that starts a JSON value, {passed} bytes on (any records of the array in them are lost)"
            ));
        }
        let p = self.problem(Some(loc), kind, message);
        on_problem(p);
        true
    }

    /// The scan of the line starting at `p`: the next of the lines scanned ahead when it starts
    /// there, else a new scan from `p` of up to [`LINES_AHEAD`] lines (not past the segment's
    /// end). A line that runs to the buffer's end is not kept.
    fn scanned_line(&mut self, p: usize) -> LineScan {
        if self.scanned_from != p || self.scanned.is_empty() {
            self.scanned.clear();
            let stop = self.stop.map_or(usize::MAX, |stop| {
                stop.saturating_sub(self.base)
                    .try_into()
                    .unwrap_or(usize::MAX)
            });
            let mut scanned = std::mem::take(&mut self.scanned);
            let probes = ScanProbes {
                key: self.opts.probes.key.as_ref(),
                needles: if line_scan::needles_pay_off() {
                    &self.opts.probes.needles
                } else {
                    &[]
                },
            };
            line_scan::scan_lines(&self.buf, p, probes, &mut |line| {
                scanned.push_back(line);
                scanned.len() < LINES_AHEAD && line.newline.is_some_and(|n| n + 1 < stop)
            });
            self.scanned = scanned;
        }
        let line = self.scanned.pop_front().expect("a scan reports a line");
        match line.newline {
            Some(n) => self.scanned_from = n + 1,
            None => self.scanned.clear(),
        }
        line
    }

    /// [`Validation::Framing`]'s JSON-lines path: when the object at `p` starts with the key
    /// `eventVersion` or `eventSource` and its line ends (after blanks) with `}`, the whole
    /// rest of the line is delivered as one CloudTrail record after a UTF-8 check, without a
    /// structural scan. False (nothing consumed) when any check fails: the full path then
    /// frames and reports the value exactly as [`Validation::Full`] does.
    fn fast_line(
        &mut self,
        p: usize,
        on_batch: &mut dyn FnMut(RecordBatch) -> ControlFlow<()>,
    ) -> bool {
        while self.buf.len() < p + 32 && self.fill(1) {}
        if !starts_with_cloudtrail_key(&self.buf[p + 1..]) {
            return false;
        }
        // One pass finds the line's end and notes escapes that can hide a character from a
        // raw-bytes search, bytes outside ASCII and where the probed key occurs (see
        // `line_scan`), so neither the UTF-8 check nor the consumer's prefilter reads the
        // line again.
        let scan = loop {
            let scan = self.scanned_line(p);
            if scan.newline.is_some() {
                break scan;
            }
            let pending = self.buf.len() - p;
            if pending > self.opts.max_record_bytes {
                return false;
            }
            // At least doubles what is buffered, so rescanning the line from `p` after each
            // read costs at most as much again.
            if !self.fill(pending) {
                break scan;
            }
        };
        let nl = scan.newline;
        let line_end = nl.unwrap_or(self.buf.len());
        let mut end = line_end;
        while end > p && matches!(self.buf[end - 1], b' ' | b'\t' | b'\r') {
            end -= 1;
        }
        // Records that need repair (bytes that are not UTF-8, unpaired surrogate escapes) take
        // the general path, which repairs and notes them.
        if self.buf[end - 1] != b'}'
            || end - p > self.opts.max_record_bytes
            || (scan.non_ascii && simdutf8::basic::from_utf8(&self.buf[p..end]).is_err())
            || (scan.escaped && has_unpaired_surrogate(&self.buf[p..end]))
        {
            return false;
        }
        let location = self.locate(p);
        self.batch.push(RecordSpan {
            range: p..end,
            location,
            kind: RecordKind::CloudTrail,
            escaped: Some(scan.escaped),
            key_hits: scan.keys,
            needle_hit: scan.needle,
            key_value: scan.key_value,
        });
        self.stats.records += 1;
        self.index += 1;
        self.decided = true;
        // The line's newline is counted here so no later pass counts the line's bytes again.
        match nl {
            Some(nl) => {
                self.newlines += 1;
                self.line_pos = nl + 1;
                self.pos = nl + 1;
            }
            None => {
                self.line_pos = line_end;
                self.pos = line_end;
            }
        }
        self.maybe_emit(on_batch, false);
        true
    }

    /// If the object at `p` begins `{"Records":[`, `{"Events":[` or `{"events":[`, the position just after
    /// the `[` and which array it is.
    fn container_start(&mut self, p: usize) -> Option<(usize, Context)> {
        while self.buf.len() < p + 256 && !self.eof {
            self.fill(1);
        }
        let b = &self.buf;
        let q = skip_ws(b, p + 1)?;
        let (ctx, len) = if b[q..].starts_with(b"\"Records\"") {
            (Context::RecordsElement, 9)
        } else if b[q..].starts_with(b"\"Events\"") {
            (LOOKUP_EVENTS, 8)
        } else if b[q..].starts_with(b"\"events\"") {
            (LOG_EVENTS, 8)
        } else {
            return None;
        };
        let c = skip_ws(b, q + len)?;
        if b[c] != b':' {
            return None;
        }
        let a = skip_ws(b, c + 1)?;
        (b[a] == b'[').then_some((a + 1, ctx))
    }

    /// Frames the elements of an array whose `[` is just before `self.pos`, streaming.
    fn stream_array(
        &mut self,
        ctx: Context,
        on_batch: &mut dyn FnMut(RecordBatch) -> ControlFlow<()>,
        on_problem: &mut dyn FnMut(Problem),
    ) -> Flow {
        let mut first = true;
        loop {
            let Some(mut p) = self.next_value_start(self.pos, on_batch, on_problem) else {
                return self.container_cut(None, on_problem);
            };
            if self.buf[p] == b']' {
                self.pos = p + 1;
                return Flow::Continue;
            }
            if !first {
                if self.buf[p] != b',' {
                    let err = SlotError::Scan(ScanError::Syntax {
                        at: p,
                        expected: "',' or ']' between array elements",
                    });
                    return self.resync_after(p, err, on_batch, on_problem);
                }
                match self.next_value_start(p + 1, on_batch, on_problem) {
                    Some(q) => p = q,
                    None => return self.container_cut(None, on_problem),
                }
            }
            first = false;
            // Framing mode: an element of `Records` needs no members (it is a record by
            // definition), so it is skipped over rather than scanned.
            let fast = ctx == Context::RecordsElement
                && self.opts.validate == Validation::Framing
                && self.buf[p] == b'{';
            let mut scanned = self.scan_slot_with(p, fast);
            if fast {
                // A skip that does not end right before `,` or `]` (or does not end) means the
                // element is broken: scan it fully, so it is reported as in full validation.
                let followed_well = match &scanned {
                    Ok(end) => {
                        matches!(
                            self.next_non_ws(*end).map(|q| self.buf[q]),
                            Some(b',' | b']')
                        )
                    }
                    Err(_) => false,
                };
                if !followed_well {
                    scanned = self.scan_slot(p);
                }
            }
            match scanned {
                Ok(end) => {
                    let members = std::mem::take(&mut self.scanner.members);
                    let mut items = std::mem::take(&mut self.items);
                    items_for_value(
                        &self.buf,
                        p..end,
                        &members,
                        ctx,
                        self.opts.max_depth,
                        &mut items,
                    );
                    self.scanner.members = members;
                    self.items = items;
                    if !self.decided && ctx == Context::Generic && self.first_slot_unrecognized() {
                        return Flow::Stop;
                    }
                    self.decided = true;
                    self.apply_items(on_problem);
                    self.pos = end;
                    self.maybe_emit(on_batch, false);
                    if self.stopped {
                        return Flow::Stop;
                    }
                }
                Err(SlotError::Eof) => {
                    let loc = self.locate(p);
                    self.index += 1;
                    self.stats.skipped_records += 1;
                    return self.container_cut(Some(loc), on_problem);
                }
                Err(e) => {
                    if let Some(flow) = self.skip_bad_element(p, e, on_batch, on_problem) {
                        return flow;
                    }
                }
            }
        }
    }

    /// A broken element inside an array: reported, then framing resumes at the next line that
    /// starts a JSON value (best effort: in pretty-printed files that can be an object nested
    /// in a record, which is then reported as not CloudTrail).
    fn resync_after(
        &mut self,
        p: usize,
        err: SlotError,
        on_batch: &mut dyn FnMut(RecordBatch) -> ControlFlow<()>,
        on_problem: &mut dyn FnMut(Problem),
    ) -> Flow {
        self.decided = true;
        if self.top_level_failure(p, err, true, on_batch, on_problem) {
            Flow::Resynced
        } else {
            Flow::Stop
        }
    }

    /// The input ended inside a container: report (once) and stop.
    fn container_cut(
        &mut self,
        at: Option<RecordLocation>,
        on_problem: &mut dyn FnMut(Problem),
    ) -> Flow {
        self.decided = true;
        if self.read_error.is_some() {
            self.report_read_error(at, on_problem);
        } else if std::mem::take(&mut self.ws_overrun) {
            let records = self.stats.records;
            let p = self.problem(
                at,
                ProblemKind::LimitExceeded {
                    limit: Limit::RecordBytes,
                },
                format!(
                    "more than {} bytes of whitespace inside the array of records; the rest of this source is skipped, the {records} records before that point were read (raise it with {})",
                    self.opts.max_record_bytes,
                    Limit::RecordBytes.flag()
                ),
            );
            on_problem(p);
        } else {
            let records = self.stats.records;
            let p = self.problem(
                at,
                ProblemKind::Truncated,
                format!("input ends inside the array of records (file cut short?); the {records} records before that point were read"),
            );
            on_problem(p);
        }
        Flow::Stop
    }

    /// True (and the file reported skipped) when the first slot of the source shows it is not
    /// CloudTrail data at all.
    fn first_slot_unrecognized(&mut self) -> bool {
        let unrecognized = self.items.len() == 1
            && matches!(
                &self.items[0],
                Item::Problem {
                    kind: ProblemKind::NotCloudTrail | ProblemKind::NotAnObject,
                    ..
                }
            );
        if unrecognized {
            self.items.clear();
        }
        unrecognized
    }

    /// After a `{"Records":[…]` array: the rest of the wrapper object (other members, `}`).
    fn finish_wrapper(
        &mut self,
        on_batch: &mut dyn FnMut(RecordBatch) -> ControlFlow<()>,
        on_problem: &mut dyn FnMut(Problem),
    ) -> Flow {
        loop {
            let Some(p) = self.next_value_start(self.pos, on_batch, on_problem) else {
                return self.container_cut(None, on_problem);
            };
            match self.buf[p] {
                b'}' => {
                    self.pos = p + 1;
                    return Flow::Continue;
                }
                b',' => {
                    // key, ':', value: each scanned as a value, limits applied.
                    let Some(k) = self.next_non_ws(p + 1) else {
                        return self.container_cut(None, on_problem);
                    };
                    let ok = self.buf[k] == b'"'
                        && match self.scan_slot(k) {
                            Ok(kend) => match self.next_non_ws(kend) {
                                Some(c) if self.buf[c] == b':' => match self.next_non_ws(c + 1) {
                                    Some(v) => match self.scan_slot(v) {
                                        Ok(vend) => {
                                            self.pos = vend;
                                            true
                                        }
                                        Err(_) => false,
                                    },
                                    None => false,
                                },
                                _ => false,
                            },
                            Err(_) => false,
                        };
                    if !ok {
                        break;
                    }
                }
                _ => break,
            }
        }
        let at = self.pos;
        let err = SlotError::Scan(ScanError::Syntax {
            at,
            expected: "',' and another member, or '}', after the array of records",
        });
        self.resync_after(at, err, on_batch, on_problem)
    }

    fn skip_file(&mut self, on_problem: &mut dyn FnMut(Problem), why: String) {
        self.stats.skipped_file = true;
        let p = self.problem(None, ProblemKind::NotCloudTrail, format!("skipped: {why}"));
        on_problem(p);
    }

    /// Frames the whole source.
    pub(crate) fn run(
        &mut self,
        on_batch: &mut dyn FnMut(RecordBatch) -> ControlFlow<()>,
        on_problem: &mut dyn FnMut(Problem),
    ) {
        while self.buf.len() < 4 && self.fill(1) {}
        if self.buf.starts_with(b"\xEF\xBB\xBF") {
            self.pos = 3;
        }
        loop {
            if self.stopped {
                return;
            }
            let Some(p) = self.next_value_start(self.pos, on_batch, on_problem) else {
                break;
            };
            if self.stop.is_some_and(|stop| self.base + p as u64 >= stop) {
                break;
            }
            self.pos = p;
            let b = self.buf[p];
            if !starts_value(b) {
                if !self.decided {
                    let why = if self.buf[p..].starts_with(b"PK\x03\x04") {
                        "zip archive (unpack it first)".to_string()
                    } else if std::str::from_utf8(&self.buf[p..self.buf.len().min(p + 512)])
                        .is_err()
                    {
                        "binary data, not JSON text".to_string()
                    } else {
                        "not JSON: does not start with '{' or '['".to_string()
                    };
                    self.skip_file(on_problem, why);
                    return;
                }
                // A scalar where a record belongs is framed (and reported as not an object);
                // anything else is garbage.
                if !matches!(b, b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') {
                    let err = SlotError::Scan(ScanError::Syntax {
                        at: p,
                        expected: "a JSON object or array starting the next record",
                    });
                    if !self.top_level_failure(p, err, false, on_batch, on_problem) {
                        break;
                    }
                    continue;
                }
            }
            if b == b'{' && self.opts.validate == Validation::Framing && self.fast_line(p, on_batch)
            {
                continue;
            }
            if b == b'{'
                && let Some((after, ctx)) = self.container_start(p)
            {
                self.decided = true;
                self.pos = after;
                match self.stream_array(ctx, on_batch, on_problem) {
                    Flow::Continue => match self.finish_wrapper(on_batch, on_problem) {
                        Flow::Stop => break,
                        Flow::Continue | Flow::Resynced => continue,
                    },
                    Flow::Resynced => continue,
                    Flow::Stop => break,
                }
            }
            if b == b'[' {
                self.pos = p + 1;
                match self.stream_array(Context::Generic, on_batch, on_problem) {
                    Flow::Continue => {
                        self.decided = true;
                        continue;
                    }
                    Flow::Resynced => continue,
                    Flow::Stop => {
                        if !self.decided {
                            self.skip_file(
                                on_problem,
                                "a JSON array whose first element is not a CloudTrail, EventBridge or ECS object".into(),
                            );
                        }
                        break;
                    }
                }
            }
            match self.scan_slot(p) {
                Ok(end) => {
                    let members = std::mem::take(&mut self.scanner.members);
                    let mut items = std::mem::take(&mut self.items);
                    items_for_value(
                        &self.buf,
                        p..end,
                        &members,
                        Context::Generic,
                        self.opts.max_depth,
                        &mut items,
                    );
                    self.scanner.members = members;
                    self.items = items;
                    if !self.decided && self.first_slot_unrecognized() {
                        self.skip_file(
                            on_problem,
                            "JSON with no CloudTrail, EventBridge, lookup-events or ECS keys"
                                .into(),
                        );
                        return;
                    }
                    self.decided = true;
                    self.apply_items(on_problem);
                    self.pos = end;
                    self.maybe_emit(on_batch, false);
                }
                Err(e) => {
                    self.decided = true;
                    if !self.top_level_failure(p, e, false, on_batch, on_problem) {
                        break;
                    }
                }
            }
        }
        self.report_read_error(None, on_problem);
        if !self.stopped {
            // A segment's batch ends where the segment does, or after the last value framed.
            let end = self.stop.map_or(self.buf.len(), |stop| {
                (stop.saturating_sub(self.base) as usize)
                    .clamp(self.pos.min(self.buf.len()), self.buf.len())
            });
            self.pos = end;
            self.maybe_emit(on_batch, true);
        }
    }
}
