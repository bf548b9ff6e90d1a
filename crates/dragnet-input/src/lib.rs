//! dragnet-input: turns what the user points at (files, folders, `-` for stdin, `s3://bucket/prefix`)
//! into batches of raw CloudTrail record byte slices, each with its location, without parsing
//! the records. Bad input is reported as a [`Problem`] with its location and never stops the run.
//!
//! # Use
//! ```no_run
//! use std::ops::ControlFlow;
//! use dragnet_input::{discover, read_batches, InputOptions, Validation};
//! let opts = InputOptions { validate: Validation::Framing, ..InputOptions::default() };
//! let found = dragnet_input::discover(&["logs/".to_string()], &opts);
//! for p in &found.problems { eprintln!("{p}"); }
//! for source in &found.sources {
//!     let stats = read_batches(source, &opts, &mut |batch| {
//!         for (bytes, span) in batch.iter() { /* prefilter bytes, then parse survivors */ let _ = (bytes, span); }
//!         ControlFlow::Continue(())
//!     }, &mut |problem| eprintln!("{problem}"));
//!     let _ = stats.records;
//! }
//! ```
//!
//! # Shapes (detected per file, and per value in JSON lines, by the keys present)
//! - `{"Records":[…]}` (S3 delivery, compact or pretty, `.json.gz` or not): each element.
//! - a top-level array of records, and JSON lines (one value per line, values may differ in shape).
//! - `aws cloudtrail lookup-events` output `{"Events":[{"CloudTrailEvent":"<json>",…}]}`: the
//!   unescaped `CloudTrailEvent` string, copied into the batch buffer.
//! - EventBridge / CloudWatch Events envelopes `{"detail-type":…,"detail":{…}}`: the `detail`
//!   object when it holds CloudTrail keys; other EventBridge events are reported `NotCloudTrail`.
//! - CloudWatch Logs: subscription payloads `{"messageType":…,"logEvents":[{"message":"<json>"}]}`
//!   (as Firehose writes them to S3, back to back) and `aws logs filter-log-events` output
//!   `{"events":[{"message":"<json>"}]}`: the unescaped `message`, copied into the batch buffer;
//!   messages that are not CloudTrail JSON (control messages) are reported `NotCloudTrail`.
//! - ECS documents exported from Elastic (`@timestamp` with `event`/`ecs`, and no
//!   `eventVersion`/`eventSource`): [`RecordKind::Ecs`]; also Elasticsearch hits
//!   (`{"_index":…,"_source":{…}}`, e.g. elasticdump output): the `_source` document.
//! - any number of these values may follow each other in one file (JSON lines, concatenation).
//! - anything else (licence, README, YAML, zip, unrelated JSON) is reported once per file as
//!   [`ProblemKind::NotCloudTrail`] ("skipped: …"), not as an error.
//!
//! Gzip is recognised by its magic bytes, whatever the name, and decompressed under two limits
//! (bytes per file, compression ratio).
//!
//! # Which layer reports what
//! With [`Validation::Full`] (the default) the framer validates each record's JSON *structure*
//! as it frames it (brackets, quoting, `:`/`,`, scalar shapes, nesting depth) and that its bytes
//! are UTF-8, so broken lines, cut files and limits are reported here, with the location. It
//! does not decode escapes or check number syntax: when the engine's full parse of a delivered
//! span fails, the engine reports it with [`Problem::malformed_record`] and the span's location.
//!
//! # Validation modes
//! [`Validation::Framing`] (what `dragnet hunt` wants: most records are dropped by the
//! prefilter and never parsed) frames the two shapes that carry nearly all the bytes without
//! a structural scan; everything else is framed exactly as in `Full` mode.
//! - **JSON lines**: a value whose first member key is `eventVersion` or `eventSource` (as
//!   CloudTrail writes every record) and whose line ends, after blanks, with `}` is delivered
//!   whole, from its `{` to that `}`, as a [`RecordKind::CloudTrail`] record, once the span is
//!   checked to be UTF-8 and within `max-record-bytes`. A value failing any of these checks
//!   (other first key: ECS, EventBridge, `{"Records":…}`, lookup-events…; a line cut short;
//!   garbage after the `}`; bad UTF-8; too long) goes through the full scan and is reported
//!   exactly as in `Full` mode.
//! - **`Records` arrays**: each element is skipped over by following only strings (with their
//!   escapes) and `{`/`}` nesting; `max-json-depth` bounds object nesting only. When the skip
//!   does not end right before `,` or `]` (or runs out of input), the element is scanned fully
//!   and reported as in `Full` mode.
//!
//! What `Framing` mode therefore does *not* report here, and the engine's parse reports as
//! `Malformed` (via [`Problem::malformed_record`]) **only if the record survives the
//! prefilter** (a record no rule can match is never parsed, so its breakage goes unreported):
//! - a fast JSON line broken between its first key and its last `}` (missing `,`/`:`, an
//!   extra `}`, unquoted keys, bad scalars, unbalanced brackets);
//! - two values on one fast line (`{…} {…}`): one span, not two records;
//! - a fast line nested deeper than `max-json-depth` (the consumer's parse counts the depth
//!   against the same limit: [`parse_json_within`], `dragnet_cloudtrail::node::parse_within`;
//!   serde_json's own recursion limit is off);
//! - inside a `Records` element: any grammar error that leaves strings and braces balanced,
//!   and array nesting beyond `max-json-depth`; and an unbalanced `{`/`}` whose skip happens
//!   to end before a `,` or `]`, which joins the element with its neighbours into one span.
//!
//! A fast JSON line is never classified by its other keys: a line starting with
//! `eventVersion` is a CloudTrail record even if it also holds, say, a `Records` array (which
//! `Full` mode would expand). Locations (line, record index, byte offset), counts, and every
//! problem the framer does report are the same in both modes; on valid input with one value
//! per line (and no such odd line) both modes deliver the same spans.
//!
//! After a broken element of an array (`Records`, `Events`, a top-level array), framing goes on
//! with the next element when the broken one's end can be found: strings followed and
//! brackets counted (one counter, so any depth costs no memory) up to a `,` or `]` at its own
//! level; an element nested too deep or too long is skipped that way without being buffered.
//! That keeps a single-line `{"Records":[…]}` file (the S3 delivery format) from losing every
//! record after one bad member. Where the end cannot be found (brackets that do not balance),
//! and after any other broken value, framing resumes at the next line whose first non-blank
//! byte is `{` or `[`; the lines passed over are counted in the problem's message, and inside
//! an array the bytes given up too. Whitespace between values is not buffered; a run longer
//! than `max-record-bytes` is reported as that limit. In JSON lines (and in
//! `zcat`-concatenated `{"Records":[…]}` files, one per line) that is exactly the next value. In
//! a pretty-printed file it is best effort: the next such line may be an object nested inside a
//! record (reported [`ProblemKind::NotCloudTrail`]) before a whole record is reached. A file cut
//! short (or a cut gzip stream) ends framing for that file; the records before the cut are
//! delivered.
//!
//! | kind | when | what is skipped |
//! |---|---|---|
//! | `Malformed` | structure broken (unbalanced, unquoted key, missing `,`/`:`, garbage line) | that value, up to the resume line |
//! | `Truncated` | input ends inside a record or array; gzip stream cut or corrupt | the rest of that source |
//! | `NotUtf8` | a framed record has non-UTF-8 bytes (message gives the byte offset) | nothing: each bad byte is replaced by U+FFFD (as Filebeat/Elastic Agent do) and the record delivered |
//! | `NotAnObject` | a number, string, array, `null`, boolean where a record belongs | that slot |
//! | `LimitExceeded` | `max-record-bytes`, `max-json-depth` (that value); `max-decompressed-bytes`, `max-compression-ratio` (rest of the file) | see left; message names the flag |
//! | `NotCloudTrail` | whole file not CloudTrail (`at: None`, message `skipped: …`); or one value without CloudTrail keys | that file / value |
//! | `Io` | cannot open, list or read | that source |
//!
//! Each [`Problem`] carries the source name, the [`RecordLocation`] (1-based line of the value's
//! first byte, 0-based record slot, byte offset; `None` for whole-source problems) and a message.
//! For EventBridge envelopes and lookup-events entries the location is that of the wrapping
//! object; the span's bytes are the `detail` object / the unescaped `CloudTrailEvent`.
//!
//! # Parallel framing of one large file
//! [`read_work`] hands a large memory-mapped JSON-lines file of CloudTrail records over as an
//! iterator of [`Segment`]s ([`Segments`]: about 1 MiB each, cut as they are taken, just before
//! a line starting `{"eventVersion":` or `{"eventSource":`), which the consumer's workers take
//! in file order and frame themselves with [`Segment::frame`]:
//! framing is then spread over every core instead of being one thread every batch waits for,
//! and a worker evaluates a segment's records while its bytes are still in cache. A segment's
//! locations count lines and record slots from its own start; [`SegmentBase`] rebases them
//! once the segments before it are framed. Records, problems, locations and counts are the
//! same as framing the file whole (`tests/segments.rs` checks it for many cut sizes).
//!
//! In framing mode the JSON-lines fast path also notes, in the same pass that finds the line
//! end, whether a record holds a `\u` or `\/` escape ([`RecordSpan::escaped`]), so a raw-bytes
//! prefilter need not search the batch for escapes again; where a probed member key occurs
//! ([`InputOptions::probes`], [`RecordSpan::key_hits`]); whether the line holds one of a
//! few probed literals ([`InputOptions::probes`], [`RecordSpan::needle_hit`]); and
//! whether it holds any byte outside ASCII (only then is it validated as UTF-8). One SIMD pass
//! finds all of it.
//!
//! # Memory
//! Plain local files of at least [`InputOptions::map_min_bytes`] (1 MiB) are memory-mapped:
//! nothing is copied, and a batch's [`RecordBatch::buf`] is a slice of the mapping. A helper
//! thread faults pages in 48 MiB ahead of the framer (`MADV_POPULATE_READ`, Linux) and releases
//! those more than 32 MiB behind it (`MADV_DONTNEED`), so resident memory stays flat whatever
//! the file size. (A mapped file truncated by another process while being read can
//! crash the reader, as with ripgrep; read such a file from stdin instead.) Other sources are
//! read in 1 MiB chunks; a batch is handed over when it holds [`InputOptions::batch_bytes`], so
//! memory is about `batch_bytes + max_record_bytes` per reader plus the batches the consumer
//! still holds. A gzip source is decompressed on a thread of its own, which hands 1 MiB buffers
//! to the framer through a bounded channel (at most 6 MiB per source in flight; emptied buffers
//! are reused).

mod decompress;
mod discover;
mod frame;
mod line_scan;
mod path_date;
mod problem;
mod scan;
mod segment;
mod surrogate;

use std::io::Read;
use std::ops::{ControlFlow, Range};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use dragnet_prefilter::{KeyHits, ProbedRecord, Probes};

pub use discover::discover;
pub use path_date::path_may_overlap;
pub use problem::{JsonError, Limit, Problem, ProblemKind, RecordLocation};
pub use segment::{Segment, SegmentBase, SegmentStats, Segments, Work, read_work};

/// Parses one framed record (e.g. an ECS document) whose containers nest at most `max_depth`
/// deep (`--max-json-depth`, counted as the framer counts: the record itself is level 1). The
/// one nesting limit is that one: serde_json's own recursion limit (128) is off, and the depth
/// is checked by a scan before the parse.
pub fn parse_json_within(bytes: &[u8], max_depth: usize) -> Result<serde_json::Value, JsonError> {
    use serde::Deserialize;
    if let Some(start) = scan::skip_ws(bytes, 0)
        && let Err(scan::ScanError::TooDeep { .. }) =
            scan::Scanner::default().scan_value(bytes, start, max_depth)
    {
        return Err(JsonError::TooDeep(max_depth));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.disable_recursion_limit();
    let value = serde_json::Value::deserialize(&mut de).map_err(JsonError::Syntax)?;
    de.end().map_err(JsonError::Syntax)?;
    Ok(value)
}

/// What [`discover()`] found.
#[derive(Debug, Default)]
pub struct Discovered {
    /// Sources in the order given; folders walked depth-first, entries sorted by name.
    pub sources: Vec<Source>,
    /// Inputs that could not be opened or listed.
    pub problems: Vec<Problem>,
    /// Files (or S3 objects) not read because their path date is outside the time range.
    pub pruned_by_date: u64,
}

/// How records are to be evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A raw CloudTrail record (to be mapped the way the AWS integration's pipeline does).
    CloudTrail,
    /// An ECS document exported from Elastic (already mapped).
    Ecs,
}

/// One record of a batch: where its bytes are in [`RecordBatch::buf`] and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSpan {
    /// Byte range in the batch buffer. The bytes are one JSON object, valid UTF-8.
    pub range: Range<usize>,
    pub location: RecordLocation,
    pub kind: RecordKind,
    /// Whether the record's text holds a `\u` or `\/` escape (which can spell a character
    /// another way, hiding it from a raw-bytes search), when the framer looked while framing
    /// it; `None` when it did not.
    pub escaped: Option<bool>,
    /// Where [`InputOptions::probes`] occurs in the record, when the framer looked while
    /// framing it (the JSON-lines fast path does).
    pub key_hits: KeyHits,
    /// Whether one of [`InputOptions::probes`] occurs in the record, when the framer
    /// looked while framing it (the JSON-lines fast path does, for up to
    /// [`dragnet_prefilter::MAX_NEEDLE_PROBES`] needles).
    pub needle_hit: Option<bool>,
    /// When [`RecordSpan::key_hits`] is [`KeyHits::Once`] and a plain JSON string follows the
    /// key (no `\` in it, ending within 64 bytes): the string's text as (offset from the
    /// record's first byte, length), read by the framer while the line was in cache.
    pub key_value: Option<(u32, u32)>,
}

/// The framer's notes, as the prefilter reads them.
impl ProbedRecord for RecordSpan {
    #[inline]
    fn range(&self) -> Range<usize> {
        self.range.clone()
    }
    #[inline]
    fn escaped(&self) -> Option<bool> {
        self.escaped
    }
    #[inline]
    fn key_hits(&self) -> KeyHits {
        self.key_hits
    }
    #[inline]
    fn needle_hit(&self) -> Option<bool> {
        self.needle_hit
    }
    #[inline]
    fn key_value(&self) -> Option<(u32, u32)> {
        self.key_value
    }
}

/// A batch of framed records from one source, owning its bytes (so batches can be evaluated on
/// other threads while the next one is read).
#[derive(Debug, Clone)]
pub struct RecordBatch {
    /// Display name of the source (path, `-`, `s3://bucket/key`).
    pub source: Arc<str>,
    /// The records' bytes: read input, or a slice of a memory-mapped file (shared, not copied).
    pub buf: Bytes,
    pub records: Vec<RecordSpan>,
}

impl RecordBatch {
    /// The bytes of one record.
    pub fn bytes(&self, span: &RecordSpan) -> &[u8] {
        &self.buf[span.range.clone()]
    }

    /// The records with their bytes, in source order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &RecordSpan)> {
        self.records.iter().map(|s| (self.bytes(s), s))
    }
}

/// Limits and filters for reading input. `Default` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct InputOptions {
    /// `--from/--to`: files and S3 day prefixes whose path date lies wholly outside this range
    /// (with [`PATH_DATE_SLACK`] on both sides) are not read. Records are not filtered here.
    pub time_range: Option<(jiff::Timestamp, jiff::Timestamp)>,
    /// `--max-decompressed-bytes`: bytes one gzip file may expand to (default 4 GiB).
    pub max_decompressed_bytes: u64,
    /// `--max-compression-ratio`: decompressed/compressed ratio allowed past 16 MiB (default 250).
    pub max_compression_ratio: u64,
    /// `--max-record-bytes`: bytes of one record or JSON line (default 64 MiB).
    pub max_record_bytes: usize,
    /// `--max-json-depth`: JSON nesting depth of one record, counted from its top level
    /// (default 256).
    pub max_depth: usize,
    /// `--max-files`: files one folder walk may find (default [`MAX_FILES`]); past it the
    /// walk stops with a problem naming the flag.
    pub max_files: usize,
    /// Bytes of records per batch (default 4 MiB).
    pub batch_bytes: usize,
    /// `--endpoint-url` (else `AWS_ENDPOINT_URL`) for `s3://` inputs.
    pub endpoint_url: Option<String>,
    /// How much of each record's JSON the framer checks (default [`Validation::Full`]; see
    /// the crate doc, "Validation modes").
    pub validate: Validation,
    /// Memory-map plain (not gzip) local files of at least this many bytes instead of reading
    /// them: nothing is copied, and batches share the mapping. Default [`MAP_MIN_BYTES`];
    /// `None` reads every file.
    pub map_min_bytes: Option<u64>,
    /// What a prefilter wants noted about each record (its probe key's occurrences, whether
    /// one of its needles occurs), noted by the JSON-lines fast path in the pass that finds the
    /// line's end, so the prefilter need not search each record for them
    /// ([`dragnet_prefilter::ProbedRecord`]). More than
    /// [`dragnet_prefilter::MAX_NEEDLE_PROBES`] needles are not probed, nor any on a CPU
    /// without AVX-512BW (there the consumer's own search is cheaper). Default: nothing.
    pub probes: Probes,
}

/// The default of [`InputOptions::max_files`].
pub const MAX_FILES: usize = 1_000_000;

/// Files smaller than this are read: mapping costs more than copying a few pages.
pub const MAP_MIN_BYTES: u64 = 1 << 20;

/// How much JSON checking the framer does before handing a record over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Validation {
    /// Every record's structure is scanned (brackets, quoting, `:`/`,`, scalars, depth), so a
    /// broken record is reported here, with its location, whatever the consumer does next.
    #[default]
    Full,
    /// Fast paths for the common shapes (a JSON line whose first key is `eventVersion` or
    /// `eventSource`; an element of a `Records` array) check only what framing needs; a record
    /// that is broken inside is reported by the consumer's parse, if it parses the record.
    Framing,
}

/// Slack applied around [`InputOptions::time_range`] when pruning by path date: CloudTrail names
/// files and day folders by delivery time, which trails the events by minutes (not guaranteed).
pub const PATH_DATE_SLACK: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

impl Default for InputOptions {
    fn default() -> Self {
        InputOptions {
            time_range: None,
            max_decompressed_bytes: 4 << 30,
            max_compression_ratio: 250,
            max_record_bytes: 64 << 20,
            max_depth: 256,
            max_files: MAX_FILES,
            batch_bytes: 4 << 20,
            endpoint_url: None,
            validate: Validation::Full,
            map_min_bytes: Some(MAP_MIN_BYTES),
            probes: Probes::default(),
        }
    }
}

/// One thing to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Stdin,
    S3(s3::S3Object),
}

impl Source {
    /// The name used in locations and messages.
    pub fn name(&self) -> Arc<str> {
        match self {
            Source::File(p) => p.display().to_string().into(),
            Source::Stdin => "-".into(),
            Source::S3(o) => o.url().into(),
        }
    }
}

/// What reading one source did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Records delivered in batches.
    pub records: u64,
    /// Record slots reported as problems instead of delivered.
    pub skipped_records: u64,
    /// Problems reported for this source.
    pub problems: u64,
    /// Batches delivered.
    pub batches: u64,
    /// Bytes read after decompression.
    pub bytes: u64,
    /// Bytes read before decompression (equal to `bytes` for plain text).
    pub compressed_bytes: u64,
    pub gzip: bool,
    /// The whole source was skipped: not CloudTrail data, or it could not be opened (see its
    /// problem for why).
    pub skipped_file: bool,
}

pub mod s3;

/// Reads one source, handing batches of records to `on_batch` (return `Break` to stop early)
/// and every problem to `on_problem`. Never panics on bad input and never fails: whatever goes
/// wrong is a problem, and the stats say what was delivered.
pub fn read_batches(
    source: &Source,
    opts: &InputOptions,
    on_batch: &mut dyn FnMut(RecordBatch) -> ControlFlow<()>,
    on_problem: &mut dyn FnMut(Problem),
) -> SourceStats {
    let name = source.name();
    let raw: Box<dyn Read + Send> = match source {
        Source::File(path) => match std::fs::File::open(path) {
            Ok(f) => {
                if let Some(min) = opts.map_min_bytes
                    && let Some(mapped) = map_plain_file(&f, min)
                {
                    return read_mapped(mapped, name, opts, on_batch, on_problem);
                }
                Box::new(f)
            }
            Err(e) => {
                on_problem(Problem::new(
                    name,
                    None,
                    ProblemKind::Io,
                    format!("cannot open: {e}; skipped"),
                ));
                // Counted with the run's skipped files (issue 16: permission denied was not).
                return SourceStats {
                    problems: 1,
                    skipped_file: true,
                    ..SourceStats::default()
                };
            }
        },
        Source::Stdin => Box::new(std::io::stdin()),
        Source::S3(object) => match object.open(opts) {
            Ok(r) => r,
            Err(e) => {
                on_problem(Problem::new(name, None, ProblemKind::Io, e.to_string()));
                return SourceStats {
                    problems: 1,
                    skipped_file: true,
                    ..SourceStats::default()
                };
            }
        },
    };
    read_reader(raw, name, opts, on_batch, on_problem)
}

/// Frames a mapped file while a second thread faults its pages in ahead of the framer
/// (`MADV_POPULATE_READ`) and releases them behind it, so the page-table work is off the
/// framing thread, which every batch waits for.
fn read_mapped(
    mapped: MappedFile,
    name: Arc<str>,
    opts: &InputOptions,
    on_batch: &mut dyn FnMut(RecordBatch) -> ControlFlow<()>,
    on_problem: &mut dyn FnMut(Problem),
) -> SourceStats {
    let map = mapped.map.clone();
    let position = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut stats = std::thread::scope(|scope| {
        let prefetcher = scope.spawn(|| prefetch(&map, &position, &done));
        let mut framer = frame::Framer::mapped(mapped, name, opts);
        framer.progress = Some((position.clone(), prefetcher.thread().clone()));
        framer.run(on_batch, on_problem);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        prefetcher.thread().unpark();
        framer.stats
    });
    stats.compressed_bytes = stats.bytes;
    stats
}

/// Pages are faulted in this far ahead of the framer, a chunk at a time.
const PREFETCH_LEAD: usize = 48 << 20;
const PREFETCH_CHUNK: usize = 4 << 20;

/// Faults `map`'s pages in, a chunk at a time, staying at most [`PREFETCH_LEAD`] ahead of
/// `position` (where framing is), and releases those far behind it, until `done`.
fn prefetch(
    map: &memmap2::Mmap,
    position: &std::sync::atomic::AtomicUsize,
    done: &std::sync::atomic::AtomicBool,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut next = 0usize;
    // Prefaulting needs Linux 5.14; without it this thread only releases pages.
    let mut populate = cfg!(target_os = "linux");
    #[cfg(unix)]
    let mut released = 0usize;
    while !done.load(Relaxed) {
        let at = position.load(Relaxed);
        #[cfg(unix)]
        frame::release_pages_behind(map, &mut released, at);
        // Framing overtook the prefetch: skip to where it is.
        next = next.max(at / PREFETCH_CHUNK * PREFETCH_CHUNK);
        if populate && next < map.len() && next < at + PREFETCH_LEAD {
            let len = PREFETCH_CHUNK.min(map.len() - next);
            #[cfg(target_os = "linux")]
            {
                populate = map
                    .advise_range(memmap2::Advice::PopulateRead, next, len)
                    .is_ok();
            }
            next += len;
        } else {
            std::thread::park_timeout(std::time::Duration::from_millis(5));
        }
    }
}

/// A memory-mapped file: its bytes (shared by the batches cut from it) and the mapping, to
/// release pages the framer has left behind.
pub(crate) struct MappedFile {
    pub all: Bytes,
    pub map: Arc<memmap2::Mmap>,
}

/// Lets [`Bytes`] own a shared mapping.
struct MapOwner(Arc<memmap2::Mmap>);

impl AsRef<[u8]> for MapOwner {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// The file memory-mapped, when it is a regular file of at least `min_bytes` (and not empty)
/// that is not gzip (which must be decompressed: the reader path does that). `None` (read it
/// instead) when mapping is not possible.
pub(crate) fn map_plain_file(file: &std::fs::File, min_bytes: u64) -> Option<MappedFile> {
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() < min_bytes.max(1) {
        return None;
    }
    // SAFETY: the mapping is read-only and private; the hazard is another process truncating
    // or rewriting the file while dragnet reads it, which can fault (SIGBUS) or show the new
    // bytes — the same trade-off ripgrep makes for large files. Log archives are not written in
    // place; for a file being appended to, read it from stdin (`cat f | dragnet hunt -`).
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(file) }.ok()?;
    if map.starts_with(&[0x1f, 0x8b]) {
        return None;
    }
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    let map = Arc::new(map);
    Some(MappedFile {
        all: Bytes::from_owner(MapOwner(map.clone())),
        map,
    })
}

/// Like [`read_batches`] over any reader (gzip or plain), named `name` in locations. A gzip
/// stream is decompressed on a thread of its own, hence `Send`.
pub fn read_reader(
    raw: Box<dyn Read + Send>,
    name: Arc<str>,
    opts: &InputOptions,
    on_batch: &mut dyn FnMut(RecordBatch) -> ControlFlow<()>,
    on_problem: &mut dyn FnMut(Problem),
) -> SourceStats {
    let mut opened =
        match decompress::open(raw, opts.max_decompressed_bytes, opts.max_compression_ratio) {
            Ok(o) => o,
            Err(e) => {
                on_problem(Problem::new(
                    name,
                    None,
                    ProblemKind::Io,
                    format!("read failed: {e}"),
                ));
                return SourceStats {
                    problems: 1,
                    ..SourceStats::default()
                };
            }
        };
    let gzip = opened.gzip;
    let mut framer = frame::Framer::new(&mut *opened.reader, name, opts);
    framer.run(on_batch, on_problem);
    let mut stats = framer.stats;
    stats.gzip = gzip;
    stats.compressed_bytes = opened.compressed_bytes();
    stats
}
