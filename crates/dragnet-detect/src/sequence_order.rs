//! Puts an EQL sequence rule's candidate events in time order for `dragnet_eql`'s streaming
//! sequence matcher, with memory that does not grow with the input.
//!
//! Candidates (events matching some step or `until`) arrive from parallel workers. A
//! [`SequenceFeed`] holds them in a reorder window (a min-heap bounded in bytes and count) and,
//! when the window is full, releases its oldest candidate to the matcher ([`Matching`], behind
//! its own lock: one worker at a time feeds it the queue of released candidates, in release
//! order, while the others keep pushing). As long as no candidate arrives older than one already
//! released, the input was ordered enough: the matcher ran as the data streamed, its pending
//! state expiring by `maxspan`. Released candidates are also appended to a temporary file (a
//! sorted run). The first candidate that arrives older than the last released one breaks the
//! order: what the streaming matcher found is dropped and the feed becomes an external sort — the window and every later candidate go to a memory buffer
//! that is sorted and spilled to temporary files at its budget — and at the end the runs are
//! merged and replayed through a fresh matcher. Both paths give the matcher the same
//! candidates in the same order (by timestamp, tiebreaker, id, then document bytes, exact
//! duplicates dropped), so the sequences found do not depend on input order, thread count or
//! which path ran. Unordered input costs disk (about 1 KB per candidate), not memory.
//!
//! Memory per sequence rule: the window and the sort buffer (32 MiB each by default;
//! `DRAGNET_SEQUENCE_MEMORY=BYTES` sets both), the matcher's pending sequences (expired by
//! `maxspan`; without one, capped at [`dragnet_eql::DEFAULT_MAX_PENDING`] with a warning), each
//! holding its candidates' deflated documents, and the sequences found until the end. Temporary
//! files live in the system temporary directory (`TMPDIR`) and are deleted when closed.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::sync::Arc;

use dragnet_eql::{CompiledQuery, SequenceMatch, SequenceMatcher};
use dragnet_event::{JsonEvent, JsonPaths};
use jiff::Timestamp;
use serde_json::Value;

/// Default bytes of candidates the reorder window holds before releasing the oldest.
pub(crate) const DEFAULT_WINDOW_BYTES: usize = 32 << 20;
/// Default bytes of unordered candidates buffered before a sorted run is spilled to disk.
pub(crate) const DEFAULT_SORT_BUFFER_BYTES: usize = 32 << 20;

/// What orders candidates: the rule's timestamp field, then its tiebreaker field, then
/// `event.id` (`None` sorts first, as Elasticsearch puts missing tiebreakers).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub time_ns: i128,
    pub tiebreaker: Option<String>,
    pub id: String,
}

/// An event that may take part in a sequence: its ordering key and its ECS document as
/// deflated JSON (about 1 KB for a CloudTrail event, a tenth of a `serde_json::Value`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub key: Key,
    pub doc: Box<[u8]>,
}

impl Candidate {
    /// Approximate bytes held in memory, for the budgets.
    fn footprint(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.doc.len()
            + self.key.id.len()
            + self.key.tiebreaker.as_ref().map_or(0, String::len)
            // Allocation headers and the heap slot.
            + 48
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Key, then document bytes: a total order, so which of two deliveries with the same key is
/// kept never depends on arrival order.
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key
            .cmp(&other.key)
            .then_with(|| self.doc.cmp(&other.doc))
    }
}

thread_local! {
    /// Per-thread compressor and decompressor: a fresh deflate state allocates and zeroes
    /// hundreds of KB, far more than one document costs to compress.
    static CODEC: std::cell::RefCell<(flate2::Compress, flate2::Decompress)> =
        std::cell::RefCell::new((
            flate2::Compress::new(flate2::Compression::fast(), false),
            flate2::Decompress::new(false),
        ));
}

/// The document as JSON, raw-deflated (fast level: candidates are many, CPU is spent once each).
pub(crate) fn deflate(doc: &Value) -> Box<[u8]> {
    // serde_json cannot fail on a Value.
    let json = serde_json::to_vec(doc).unwrap_or_default();
    CODEC.with(|codec| {
        let compress = &mut codec.borrow_mut().0;
        compress.reset();
        let mut out = Vec::with_capacity(json.len() / 3 + 64);
        loop {
            let consumed = compress.total_in() as usize;
            match compress.compress_vec(&json[consumed..], &mut out, flate2::FlushCompress::Finish)
            {
                Ok(flate2::Status::StreamEnd) => break,
                Ok(_) => out.reserve(out.capacity().max(256)),
                // Compressing into a Vec has no failure mode but a corrupt state: store nothing.
                Err(_) => return Box::default(),
            }
        }
        out.into_boxed_slice()
    })
}

/// The document [`deflate`] stored (`null` if the bytes are not one).
pub(crate) fn inflate(bytes: &[u8]) -> Value {
    let json = CODEC.with(|codec| {
        let decompress = &mut codec.borrow_mut().1;
        decompress.reset(false);
        let mut out = Vec::with_capacity(bytes.len() * 4 + 64);
        loop {
            let consumed = decompress.total_in() as usize;
            match decompress.decompress_vec(
                &bytes[consumed..],
                &mut out,
                flate2::FlushDecompress::Finish,
            ) {
                Ok(flate2::Status::StreamEnd) => return Some(out),
                Ok(_) if out.len() < out.capacity() => return None,
                Ok(_) => out.reserve(out.capacity()),
                Err(_) => return None,
            }
        }
    });
    json.and_then(|j| serde_json::from_slice(&j).ok())
        .unwrap_or(Value::Null)
}

// ---- sorted runs on disk ----------------------------------------------------------------

/// No tiebreaker, in the `u32` length slot of a run record.
const NO_TIEBREAKER: u32 = u32::MAX;

fn write_bytes(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "candidate field over 4 GB"))?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(bytes)
}

/// Run record: time (i128 LE), tiebreaker (u32 length or [`NO_TIEBREAKER`], bytes), id, doc.
fn write_candidate(out: &mut impl Write, c: &Candidate) -> io::Result<()> {
    out.write_all(&c.key.time_ns.to_le_bytes())?;
    match &c.key.tiebreaker {
        Some(t) => write_bytes(out, t.as_bytes())?,
        None => out.write_all(&NO_TIEBREAKER.to_le_bytes())?,
    }
    write_bytes(out, c.key.id.as_bytes())?;
    write_bytes(out, &c.doc)
}

fn read_u32(input: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    input.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_vec(input: &mut impl Read, len: u32) -> io::Result<Vec<u8>> {
    let mut v = vec![0u8; len as usize];
    input.read_exact(&mut v)?;
    Ok(v)
}

fn read_string(input: &mut impl Read, len: u32) -> io::Result<String> {
    String::from_utf8(read_vec(input, len)?)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The next record of a run, `None` at its end.
fn read_candidate(input: &mut impl Read) -> io::Result<Option<Candidate>> {
    let mut time = [0u8; 16];
    match input.read_exact(&mut time) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let tiebreaker = match read_u32(input)? {
        NO_TIEBREAKER => None,
        len => Some(read_string(input, len)?),
    };
    let len = read_u32(input)?;
    let id = read_string(input, len)?;
    let len = read_u32(input)?;
    let doc = read_vec(input, len)?.into_boxed_slice();
    Ok(Some(Candidate {
        key: Key {
            time_ns: i128::from_le_bytes(time),
            tiebreaker,
            id,
        },
        doc,
    }))
}

/// A run being written, in order, to an anonymous temporary file (removed when dropped).
struct RunWriter {
    out: BufWriter<File>,
}

impl RunWriter {
    fn create() -> io::Result<Self> {
        Ok(Self {
            out: BufWriter::with_capacity(1 << 16, tempfile::tempfile()?),
        })
    }

    fn push(&mut self, c: &Candidate) -> io::Result<()> {
        write_candidate(&mut self.out, c)
    }

    /// The finished run, rewound for reading.
    fn finish(self) -> io::Result<File> {
        let mut file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        Ok(file)
    }
}

/// An external sort of candidates: a memory buffer up to a byte budget, then sorted runs in
/// temporary files, merged at the end.
struct ExternalSort {
    buffer: Vec<Candidate>,
    buffer_bytes: usize,
    budget: usize,
    runs: Vec<File>,
    /// Candidates written to runs.
    spilled: u64,
}

impl ExternalSort {
    fn new(budget: usize) -> Self {
        Self {
            buffer: Vec::new(),
            buffer_bytes: 0,
            budget,
            runs: Vec::new(),
            spilled: 0,
        }
    }

    fn push(&mut self, c: Candidate) -> io::Result<()> {
        self.buffer_bytes += c.footprint();
        self.buffer.push(c);
        if self.buffer_bytes > self.budget {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> io::Result<()> {
        self.buffer.sort_unstable();
        let mut run = RunWriter::create()?;
        for c in self.buffer.drain(..) {
            run.push(&c)?;
            self.spilled += 1;
        }
        self.buffer_bytes = 0;
        self.runs.push(run.finish()?);
        Ok(())
    }

    /// Every candidate pushed (and `extra` runs), in order.
    fn merge(mut self, extra: Vec<File>) -> Merge {
        self.buffer.sort_unstable();
        let mut sources: Vec<Source> = self
            .runs
            .into_iter()
            .chain(extra)
            .map(|f| Source::Run(BufReader::with_capacity(1 << 16, f)))
            .collect();
        sources.push(Source::Memory(self.buffer.into_iter()));
        Merge {
            sources,
            heads: BinaryHeap::new(),
            started: false,
        }
    }
}

enum Source {
    Run(BufReader<File>),
    Memory(std::vec::IntoIter<Candidate>),
}

impl Source {
    fn next(&mut self) -> io::Result<Option<Candidate>> {
        match self {
            Source::Run(r) => read_candidate(r),
            Source::Memory(it) => Ok(it.next()),
        }
    }
}

/// A k-way merge of sorted sources.
struct Merge {
    sources: Vec<Source>,
    heads: BinaryHeap<Reverse<(Candidate, usize)>>,
    started: bool,
}

impl Merge {
    fn next(&mut self) -> io::Result<Option<Candidate>> {
        if !self.started {
            self.started = true;
            for i in 0..self.sources.len() {
                if let Some(c) = self.sources[i].next()? {
                    self.heads.push(Reverse((c, i)));
                }
            }
        }
        let Some(Reverse((c, i))) = self.heads.pop() else {
            return Ok(None);
        };
        if let Some(next) = self.sources[i].next()? {
            self.heads.push(Reverse((next, i)));
        }
        Ok(Some(c))
    }
}

// ---- the feed ---------------------------------------------------------------------------

/// Memory limits of a [`SequenceFeed`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budgets {
    /// Bytes of candidates the reorder window holds.
    pub window_bytes: usize,
    /// Bytes of unordered candidates buffered before spilling a sorted run.
    pub sort_buffer_bytes: usize,
    /// Candidates kept for sorting (in the window, on disk, in the buffer): beyond it, an
    /// unordered input loses candidates, with a warning. Also bounds the window's count.
    pub max_candidates: usize,
}

/// How the feed is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FeedMode {
    /// Candidates came in order (within the window): the matcher ran as they came.
    Streaming,
    /// A candidate came older than one already released: sorted at the end.
    Sorting,
}

enum State {
    Streaming {
        /// Released candidates, in order, as a sorted run for the fallback (created lazily).
        record: Option<RunWriter>,
        recorded: usize,
        /// Released candidates not recorded because `max_candidates` were.
        unrecorded: u64,
    },
    Sorting {
        /// The run of candidates released before the order broke.
        released: Option<File>,
        sort: ExternalSort,
        kept: usize,
    },
}

/// What a feed found, with its counts.
pub(crate) struct FeedResult {
    /// Completed sequences; the matcher's order (the order of their completion).
    pub found: Vec<SequenceMatch<Arc<Candidate>>>,
    /// The matcher's own warning (pending sequences dropped at its cap).
    pub matcher_warning: Option<String>,
    /// Candidates lost because `max_candidates` were kept for sorting.
    pub over_cap: u64,
    /// A temporary-file error that cost candidates (sequences may be missing).
    pub io_error: Option<String>,
    pub mode: FeedMode,
    /// Candidates written to temporary files.
    pub spilled: u64,
}

/// One sequence rule's candidates on their way to the matcher: see the module documentation.
pub(crate) struct SequenceFeed {
    budgets: Budgets,
    window: BinaryHeap<Reverse<Candidate>>,
    window_bytes: usize,
    /// The last candidate released (in order).
    last: Option<Arc<Candidate>>,
    /// Released candidates waiting for the streaming [`Matching`], in order.
    released: Vec<Arc<Candidate>>,
    state: State,
    over_cap: u64,
    io_error: Option<String>,
    spilled: u64,
}

impl SequenceFeed {
    pub(crate) fn new(budgets: Budgets) -> Self {
        Self {
            budgets,
            window: BinaryHeap::new(),
            window_bytes: 0,
            last: None,
            released: Vec::new(),
            state: State::Streaming {
                record: None,
                recorded: 0,
                unrecorded: 0,
            },
            over_cap: 0,
            io_error: None,
            spilled: 0,
        }
    }

    /// Bytes of candidates in the reorder window.
    #[cfg(test)]
    pub(crate) fn window_bytes(&self) -> usize {
        self.window_bytes
    }

    /// Whether candidates still come in order (the streaming matcher's work counts).
    pub(crate) fn is_streaming(&self) -> bool {
        matches!(self.state, State::Streaming { .. })
    }

    /// Released candidates not yet taken.
    pub(crate) fn released_len(&self) -> usize {
        self.released.len()
    }

    /// The released candidates, in order, for the streaming [`Matching`]. Only one taker at a
    /// time (the holder of the matching's lock), so batches reach the matcher in order.
    pub(crate) fn take_released(&mut self) -> Vec<Arc<Candidate>> {
        std::mem::take(&mut self.released)
    }

    /// Whether a new candidate would be dropped at the cap (callers may skip building it).
    pub(crate) fn is_full(&self) -> bool {
        matches!(self.state, State::Sorting { kept, .. } if kept >= self.budgets.max_candidates)
    }

    fn note_io_error(&mut self, e: io::Error) {
        if self.io_error.is_none() {
            self.io_error = Some(format!(
                "a temporary file for sorting sequence candidates failed ({e}); sequences may be missing: free space in the temporary directory (TMPDIR) or give input in time order"
            ));
        }
    }

    /// Takes one candidate (from any worker, under the caller's lock).
    pub(crate) fn push(&mut self, c: Candidate) {
        if let State::Sorting { sort, kept, .. } = &mut self.state {
            if *kept >= self.budgets.max_candidates {
                self.over_cap += 1;
                return;
            }
            *kept += 1;
            if let Err(e) = sort.push(c) {
                self.note_io_error(e);
            }
            return;
        }
        if let Some(last) = &self.last {
            match c.cmp(last) {
                // The same delivery again: the matcher already has it.
                Ordering::Equal => return,
                Ordering::Less => {
                    self.fall_back();
                    return self.push(c);
                }
                Ordering::Greater => {}
            }
        }
        self.window_bytes += c.footprint();
        self.window.push(Reverse(c));
        while self.window_bytes > self.budgets.window_bytes
            || self.window.len() > self.budgets.max_candidates
        {
            let Some(Reverse(oldest)) = self.window.pop() else {
                break;
            };
            self.window_bytes -= oldest.footprint();
            self.release(oldest, true);
        }
    }

    /// Queues the window's oldest candidate for the streaming matcher.
    fn release(&mut self, c: Candidate, record: bool) {
        if self.last.as_deref() == Some(&c) {
            return;
        }
        if record && let Err(e) = self.record(&c) {
            self.note_io_error(e);
        }
        let c = Arc::new(c);
        self.released.push(Arc::clone(&c));
        self.last = Some(c);
    }

    fn record(&mut self, c: &Candidate) -> io::Result<()> {
        let State::Streaming {
            record,
            recorded,
            unrecorded,
        } = &mut self.state
        else {
            return Ok(());
        };
        if *recorded >= self.budgets.max_candidates {
            *unrecorded += 1;
            return Ok(());
        }
        if record.is_none() {
            *record = Some(RunWriter::create()?);
        }
        if let Some(w) = record {
            w.push(c)?;
            *recorded += 1;
            self.spilled += 1;
        }
        Ok(())
    }

    /// The order broke: keep every candidate for a sort at the end.
    fn fall_back(&mut self) {
        let State::Streaming {
            record,
            recorded,
            unrecorded,
        } = std::mem::replace(
            &mut self.state,
            State::Streaming {
                record: None,
                recorded: 0,
                unrecorded: 0,
            },
        )
        else {
            return;
        };
        self.over_cap += unrecorded;
        let released = match record.map(RunWriter::finish).transpose() {
            Ok(f) => f,
            Err(e) => {
                self.note_io_error(e);
                None
            }
        };
        // Recorded: the sort replays them.
        self.released.clear();
        let mut sort = ExternalSort::new(self.budgets.sort_buffer_bytes);
        let mut kept = recorded;
        let window = std::mem::take(&mut self.window);
        self.window_bytes = 0;
        for Reverse(c) in window {
            if kept >= self.budgets.max_candidates {
                self.over_cap += 1;
                continue;
            }
            kept += 1;
            if let Err(e) = sort.push(c) {
                self.note_io_error(e);
            }
        }
        self.state = State::Sorting {
            released,
            sort,
            kept,
        };
    }

    /// Ends the stream: the sequences of every candidate in order. `streaming`: the matching
    /// that took every batch of released candidates so far (used if the order held).
    pub(crate) fn finish(
        mut self,
        query: &CompiledQuery,
        paths: &JsonPaths,
        streaming: Matching,
    ) -> FeedResult {
        let state = std::mem::replace(
            &mut self.state,
            State::Streaming {
                record: None,
                recorded: 0,
                unrecorded: 0,
            },
        );
        let mode;
        let matching = match state {
            State::Streaming { .. } => {
                mode = FeedMode::Streaming;
                let mut matching = streaming;
                while let Some(Reverse(c)) = self.window.pop() {
                    self.release(c, false);
                }
                for c in self.take_released() {
                    matching.feed(&c, paths);
                }
                matching
            }
            State::Sorting { released, sort, .. } => {
                mode = FeedMode::Sorting;
                drop(streaming);
                self.spilled += sort.spilled;
                let mut merge = sort.merge(released.into_iter().collect());
                let mut matching = Matching::new(query);
                let mut last: Option<Arc<Candidate>> = None;
                loop {
                    let c = match merge.next() {
                        Ok(Some(c)) => c,
                        Ok(None) => break,
                        Err(e) => {
                            self.note_io_error(e);
                            break;
                        }
                    };
                    if last.as_deref() == Some(&c) {
                        continue;
                    }
                    let c = Arc::new(c);
                    matching.feed(&c, paths);
                    last = Some(c);
                }
                matching
            }
        };
        let (found, matcher_warning) = matching.finish();
        FeedResult {
            found,
            matcher_warning,
            over_cap: self.over_cap,
            io_error: self.io_error.take(),
            mode,
            spilled: self.spilled,
        }
    }
}

/// The sequence matcher over candidates in order, and what it found so far. Kept apart from
/// the [`SequenceFeed`] (its own lock) so workers can push candidates while one of them feeds
/// released ones to the matcher.
pub(crate) struct Matching {
    matcher: Option<SequenceMatcher<Arc<Candidate>>>,
    found: Vec<SequenceMatch<Arc<Candidate>>>,
}

impl Matching {
    pub(crate) fn new(query: &CompiledQuery) -> Self {
        Self {
            matcher: query.sequence_matcher(),
            found: Vec::new(),
        }
    }

    /// One candidate through the matcher (candidates must come in order).
    pub(crate) fn feed(&mut self, c: &Arc<Candidate>, paths: &JsonPaths) {
        let Some(matcher) = &mut self.matcher else {
            return;
        };
        let doc = inflate(&c.doc);
        let ts = Timestamp::from_nanosecond(c.key.time_ns).unwrap_or(Timestamp::UNIX_EPOCH);
        self.found
            .extend(matcher.on_event(&JsonEvent::new(&doc, paths), ts, Arc::clone(c)));
    }

    /// Ends the stream: every sequence found, and the matcher's warning.
    fn finish(mut self) -> (Vec<SequenceMatch<Arc<Candidate>>>, Option<String>) {
        let mut found = std::mem::take(&mut self.found);
        let mut warning = None;
        if let Some(m) = &mut self.matcher {
            found.extend(m.finish());
            warning = m.warning();
        }
        (found, warning)
    }
}

#[cfg(test)]
mod tests {
    use dragnet_event::JsonEvent;
    use dragnet_testdata::Xorshift;
    use serde_json::json;

    use super::*;
    use crate::detector::{Detection, Detector};
    use crate::eql::SequenceDetector;

    fn candidate(time_ns: i128, tiebreaker: Option<&str>, id: &str, body: &str) -> Candidate {
        Candidate {
            key: Key {
                time_ns,
                tiebreaker: tiebreaker.map(str::to_owned),
                id: id.to_owned(),
            },
            doc: deflate(&json!({ "body": body })),
        }
    }

    #[test]
    fn documents_round_trip_through_the_per_thread_codec() {
        // Incompressible text larger than the first output guesses, then a small document
        // (the reused state must be reset between them).
        let mut rng = Xorshift(1);
        let noise: String = (0..20_000)
            .map(|_| char::from(b'a' + rng.below(26) as u8))
            .collect();
        let big = json!({"noise": noise, "n": [1, 2.5, null]});
        let small = json!({"a": {"b": "c"}});
        for doc in [&big, &small, &big] {
            let stored = deflate(doc);
            assert_eq!(&inflate(&stored), doc);
        }
        let stored = deflate(&big);
        assert_eq!(
            inflate(&stored[..stored.len() / 2]),
            Value::Null,
            "truncated"
        );
        assert_eq!(inflate(b"not deflate"), Value::Null);
        assert_eq!(inflate(&deflate(&small)), small, "usable after an error");
    }

    #[test]
    fn run_records_round_trip() {
        let cs = [
            candidate(-5, None, "a", "x"),
            candidate(i128::MAX, Some(""), "", ""),
            candidate(7, Some("tié"), "é", "y"),
        ];
        let mut w = RunWriter::create().unwrap();
        for c in &cs {
            w.push(c).unwrap();
        }
        let mut r = BufReader::new(w.finish().unwrap());
        for c in &cs {
            assert_eq!(read_candidate(&mut r).unwrap().as_ref(), Some(c));
        }
        assert!(read_candidate(&mut r).unwrap().is_none());
    }

    #[test]
    fn external_sort_spills_runs_and_merges_them_in_order() {
        let mut rng = Xorshift(7);
        let mut all: Vec<Candidate> = (0..2000)
            .map(|i| {
                let t = rng.below(300) as i128;
                let tb = (i % 3 != 0).then(|| format!("{}", rng.below(4)));
                candidate(t, tb.as_deref(), &format!("id{}", rng.below(50)), "d")
            })
            .collect();
        // A budget of a few candidates: many runs on disk.
        let mut sort = ExternalSort::new(4096);
        for c in &all {
            sort.push(Candidate {
                key: c.key.clone(),
                doc: c.doc.clone(),
            })
            .unwrap();
        }
        assert!(sort.runs.len() > 10, "{} runs", sort.runs.len());
        assert!(sort.spilled > 1000);
        let mut merge = sort.merge(Vec::new());
        let mut got = Vec::new();
        while let Some(c) = merge.next().unwrap() {
            got.push(c);
        }
        all.sort();
        assert_eq!(got, all);
    }

    fn rule(query: &str, tiebreaker: Option<&str>) -> dragnet_rules::Rule {
        let tiebreaker = tiebreaker
            .map(|t| format!("tiebreaker_field = \"{t}\"\n"))
            .unwrap_or_default();
        let text = format!(
            r#"[metadata]
creation_date = "2025/01/01"
maturity = "production"
updated_date = "2025/01/01"

[rule]
author = ["dragnet tests"]
description = "sequence order test"
index = ["logs-aws.cloudtrail-*"]
language = "eql"
license = "Apache-2.0"
name = "sequence order test"
risk_score = 21
rule_id = "00000000-0000-4000-8000-0000000000aa"
severity = "low"
type = "eql"
{tiebreaker}query = '''
{query}
'''
"#
        );
        let file = dragnet_rules::SourceFile::new("t.toml", text);
        let (rule, diags) = dragnet_rules::parse_toml(&file);
        rule.unwrap_or_else(|| panic!("{diags:?}"))
    }

    /// ECS documents in time order: 40 users doing A, B, C, X at random, sometimes several in
    /// the same second (ties broken by the tiebreaker or id), some delivered twice.
    fn events(n: usize, seed: u64) -> Vec<Value> {
        let mut rng = Xorshift(seed);
        let mut t = 1_700_000_000i64;
        let mut out = Vec::new();
        for i in 0..n {
            t += rng.below(40) as i64;
            let action = ["A", "B", "C", "X", "A", "B"][rng.below(6)];
            let time = Timestamp::from_second(t).unwrap().to_string();
            let doc = json!({
                "@timestamp": time,
                "event": {"id": format!("e{i:05}"), "action": action, "sequence": rng.below(3)},
                "user": {"name": format!("u{}", rng.below(40))},
            });
            if rng.below(50) == 0 {
                out.push(doc.clone());
            }
            out.push(doc);
        }
        out
    }

    /// Everything a sequence detection says, in the order the detector reported it.
    fn describe(d: &Detection) -> String {
        match d {
            Detection::Composed {
                ecs,
                id,
                timestamp,
                fields,
                ..
            } => format!(
                "{id} {timestamp:?} {} {}",
                serde_json::to_string(fields).unwrap(),
                ecs
            ),
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Runs the detector over `docs` split into `threads` contiguous shares fed concurrently
    /// (like workers taking batches); returns the detections and the feed's path.
    fn run(
        detector: &SequenceDetector,
        docs: &[Value],
        threads: usize,
    ) -> (Vec<String>, Option<FeedMode>, u64) {
        detector.prepare(&crate::detector::DetectorOptions::default());
        let paths = detector.paths();
        let chunk = docs.len().div_ceil(threads.max(1));
        std::thread::scope(|scope| {
            for share in docs.chunks(chunk.max(1)) {
                scope.spawn(move || {
                    for doc in share {
                        let mut out = Vec::new();
                        detector.on_event(&JsonEvent::new(doc, paths), false, &mut out);
                        assert!(out.is_empty());
                    }
                });
            }
        });
        let mut out = Vec::new();
        detector.finish(&mut out);
        let (mode, spilled) = detector.last_mode();
        (out.iter().map(describe).collect(), mode, spilled)
    }

    const QUERIES: &[(&str, Option<&str>)] = &[
        (
            r#"sequence by user.name with maxspan=5m
                [any where event.action == "A"]
                [any where event.action == "B"]
                until [any where event.action == "C"]"#,
            None,
        ),
        (
            r#"sequence by user.name with maxspan=10m
                [any where event.action == "A"]
                ![any where event.action == "X"]
                [any where event.action == "B"]
                [any where event.action == "A"]"#,
            Some("event.sequence"),
        ),
        (
            // No maxspan: pending state only ends by replacement or `until`.
            r#"sequence
                [any where event.action == "A"] by user.name
                [any where event.action == "X"] by user.name
                until [any where event.action == "C"] by user.name"#,
            None,
        ),
    ];

    #[test]
    fn streaming_spilling_and_sorting_find_the_same_sequences() {
        let docs = events(3000, 42);
        for (query, tiebreaker) in QUERIES {
            let rule = rule(query, *tiebreaker);
            // Reference: budgets so large every candidate stays in the window until the end.
            let roomy = SequenceDetector::for_tests(&rule, usize::MAX, usize::MAX);
            let (expected, mode, spilled) = run(&roomy, &docs, 1);
            assert_eq!((mode, spilled), (Some(FeedMode::Streaming), 0));
            assert!(
                expected.len() > 20,
                "{query}: {} detections",
                expected.len()
            );

            // Ordered input through a window of a few candidates: the matcher streams.
            let tight = SequenceDetector::for_tests(&rule, 2048, 4096);
            let (got, mode, spilled) = run(&tight, &docs, 1);
            assert_eq!(mode, Some(FeedMode::Streaming), "{query}");
            assert!(
                spilled > 1000,
                "released candidates are recorded: {spilled}"
            );
            assert_eq!(got, expected, "{query}: ordered, streaming");

            // Shuffled: the order breaks, candidates are sorted through spilled runs.
            let mut shuffled = docs.clone();
            Xorshift(9).shuffle(&mut shuffled);
            let (got, mode, spilled) = run(&tight, &shuffled, 1);
            assert_eq!(mode, Some(FeedMode::Sorting), "{query}");
            assert!(spilled > 1000, "{spilled}");
            assert_eq!(got, expected, "{query}: shuffled, sorted on disk");
            let (got, _, _) = run(&roomy, &shuffled, 1);
            assert_eq!(got, expected, "{query}: shuffled, sorted in memory");

            // Files given out of order: reversed halves.
            let (a, b) = docs.split_at(docs.len() / 2);
            let swapped: Vec<Value> = b.iter().chain(a).cloned().collect();
            let (got, mode, _) = run(&tight, &swapped, 1);
            assert_eq!(mode, Some(FeedMode::Sorting));
            assert_eq!(got, expected, "{query}: halves swapped");

            // Two and three workers at once, each on its own time range: the order breaks
            // somewhere unless the window covers it; the result never changes.
            for threads in [2, 3] {
                for detector in [&tight, &roomy] {
                    let (got, _, _) = run(detector, &docs, threads);
                    assert_eq!(got, expected, "{query}: {threads} threads");
                }
            }
        }
    }

    #[test]
    fn a_window_as_wide_as_the_disorder_streams_without_sorting() {
        // Each event displaced by up to 5 positions (workers finishing batches out of order).
        let docs = events(2000, 3);
        let mut jittered = docs.clone();
        let mut rng = Xorshift(5);
        for start in (0..jittered.len()).step_by(5) {
            let end = (start + 5).min(jittered.len());
            rng.shuffle(&mut jittered[start..end]);
        }
        let rule = rule(QUERIES[0].0, None);
        let reference = SequenceDetector::for_tests(&rule, usize::MAX, usize::MAX);
        let (expected, _, _) = run(&reference, &docs, 1);
        // A window of ~20 candidates absorbs the jitter and still releases as it goes.
        let window = SequenceDetector::for_tests(&rule, 20 * 300, 4096);
        let (got, mode, spilled) = run(&window, &jittered, 1);
        assert_eq!(mode, Some(FeedMode::Streaming));
        assert!(spilled > 500);
        assert_eq!(got, expected);
    }

    #[test]
    fn ordered_input_keeps_memory_within_the_window_and_maxspan() {
        // 20,000 candidates in time order, each user's A answered by a B much later than
        // maxspan: nothing completes, and the matcher's pending state must expire.
        let query = r#"sequence by user.name with maxspan=1m
            [any where event.action == "A"] [any where event.action == "B"]"#;
        let rule = rule(query, None);
        let detector = SequenceDetector::for_tests(&rule, 64 << 10, 64 << 10);
        detector.prepare(&crate::detector::DetectorOptions::default());
        let paths = detector.paths();
        let mut peak_window = 0;
        for i in 0..20_000i64 {
            let doc = json!({
                "@timestamp": Timestamp::from_second(1_700_000_000 + i * 10).unwrap().to_string(),
                "event": {"id": format!("e{i}"), "action": if i % 2 == 0 { "A" } else { "B" }},
                "user": {"name": format!("u{}", i % 1000)},
            });
            detector.on_event(&JsonEvent::new(&doc, paths), false, &mut Vec::new());
            let window = detector.window_bytes_now();
            peak_window = peak_window.max(window);
            assert!(window <= 64 << 10, "{window}");
        }
        assert!(peak_window > 32 << 10, "the window fills: {peak_window}");
        let mut out = Vec::new();
        detector.finish(&mut out);
        assert!(out.is_empty());
        assert_eq!(detector.last_mode().0, Some(FeedMode::Streaming));
        assert!(detector.warnings().is_empty(), "{:?}", detector.warnings());
    }

    #[test]
    fn duplicates_count_once_on_every_path() {
        let doc = |id: &str, t: i64, action: &str| {
            json!({
                "@timestamp": Timestamp::from_second(t).unwrap().to_string(),
                "event": {"id": id, "action": action},
                "user": {"name": "u"},
            })
        };
        let a = doc("a", 100, "A");
        let b = doc("b", 110, "B");
        let rule = rule(QUERIES[0].0, None);
        for (window, input) in [
            (usize::MAX, vec![a.clone(), a.clone(), b.clone()]),
            (1, vec![a.clone(), a.clone(), b.clone(), b.clone()]),
            (1, vec![b.clone(), a.clone(), b.clone(), a.clone()]),
        ] {
            let detector = SequenceDetector::for_tests(&rule, window, 1);
            let (got, _, _) = run(&detector, &input, 1);
            assert_eq!(got.len(), 3, "two building blocks and a shell: {got:?}");
        }
    }

    #[test]
    fn the_cap_applies_to_candidates_kept_for_sorting() {
        let docs = events(500, 11);
        let rule = rule(QUERIES[0].0, None);
        let detector = SequenceDetector::for_tests(&rule, 1, 1 << 20);
        let options = crate::detector::DetectorOptions {
            max_sequence_candidates: Some(50),
            ..Default::default()
        };
        // In order: nothing needs keeping, so the cap costs nothing.
        detector.prepare(&options);
        for d in &docs {
            detector.on_event(&JsonEvent::new(d, detector.paths()), false, &mut Vec::new());
        }
        detector.finish(&mut Vec::new());
        assert!(detector.warnings().is_empty(), "{:?}", detector.warnings());
        // Reversed: the order breaks at once and only 50 candidates can be sorted.
        detector.prepare(&options);
        for d in docs.iter().rev() {
            detector.on_event(&JsonEvent::new(d, detector.paths()), false, &mut Vec::new());
        }
        detector.finish(&mut Vec::new());
        let warnings = detector.warnings();
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("limit max-sequence-candidates (50) reached")),
            "{warnings:?}"
        );
    }
}
