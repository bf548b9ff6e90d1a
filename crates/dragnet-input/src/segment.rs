//! Parallel framing of one large file: a memory-mapped JSON-lines file is cut into segments
//! that the consumer's worker threads frame themselves, so framing is no longer one thread
//! that every batch waits for.
//!
//! Cutting is cheap (one newline search per segment). A segment ends right after a newline
//! that is followed by a line starting `{"eventVersion":` or `{"eventSource":` (how CloudTrail
//! writes every record), so a cut never falls inside a JSON line. Each segment is framed
//! exactly as the whole file would be, with one difference: its locations are *local* (line
//! 1 and record slot 0 are the segment's first). [`SegmentStats`] says how many lines and
//! slots a segment held; once every earlier segment is framed, [`SegmentBase`] turns local
//! locations into the file's. Byte offsets are the file's from the start.
//!
//! Only files whose first line is such a CloudTrail line are cut, and only in
//! [`Validation::Framing`] mode. A value spanning several lines (say, a pretty-printed object
//! in the middle of a JSON-lines file) is still framed correctly unless one of its inner
//! lines starts at column 0 with `{"eventVersion":`, which pretty-printers never write.

use std::ops::ControlFlow;
use std::sync::Arc;

use bytes::Bytes;

use crate::frame::{Framer, starts_with_cloudtrail_key};
use crate::scan::skip_ws;
use crate::{
    InputOptions, MappedFile, Problem, RecordBatch, RecordLocation, Source, SourceStats, Validation,
};

/// What [`read_work`] hands over: a batch it framed itself, or a segment for the consumer to
/// frame (on any thread, with [`Segment::frame`]).
pub enum Work {
    Batch(RecordBatch),
    Segment(Segment),
}

/// A line-aligned piece of a memory-mapped JSON-lines file.
pub struct Segment {
    source: Arc<str>,
    /// 0-based position of the segment in its file.
    pub ordinal: u64,
    /// The file from the segment's start on (a slice of the mapping): a broken value at the
    /// segment's end is framed as far as framing the whole file would read.
    rest: Bytes,
    /// Bytes in the segment.
    len: usize,
    /// Offset of the segment's first byte in the file.
    offset: u64,
}

/// What framing a segment found, to place the next segments' locations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentStats {
    pub source: SourceStats,
    /// Newlines in the segment: the segment after it starts on line `newlines + 1` of it.
    pub newlines: u64,
    /// Record slots (records and reported values) framed from the segment.
    pub slots: u64,
}

/// Lines and record slots before a segment: added to its local locations they give the file's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmentBase {
    pub lines: u64,
    pub slots: u64,
}

impl SegmentBase {
    /// The base of the segment after one that starts at `self` and framed `stats`.
    pub fn after(self, stats: &SegmentStats) -> SegmentBase {
        SegmentBase {
            lines: self.lines + stats.newlines,
            slots: self.slots + stats.slots,
        }
    }

    /// Turns a location local to the segment into the file's.
    pub fn rebase(self, location: &mut RecordLocation) {
        location.line += self.lines;
        location.index += self.slots;
    }
}

impl Segment {
    /// Display name of the file.
    pub fn source(&self) -> &Arc<str> {
        &self.source
    }

    /// Bytes in the segment.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Frames the segment as [`crate::read_batches`] frames a file, with locations local to
    /// the segment (see the module doc).
    pub fn frame(
        &self,
        opts: &InputOptions,
        on_batch: &mut dyn FnMut(RecordBatch) -> ControlFlow<()>,
        on_problem: &mut dyn FnMut(Problem),
    ) -> SegmentStats {
        let mut framer = Framer::segment(
            self.rest.clone(),
            self.len,
            self.offset,
            self.ordinal == 0,
            self.source.clone(),
            opts,
        );
        framer.run(on_batch, on_problem);
        let (newlines, slots) = framer.lines_and_slots();
        SegmentStats {
            source: framer.stats,
            newlines,
            slots,
        }
    }
}

/// Like [`crate::read_batches`], but a large memory-mapped JSON-lines file of CloudTrail
/// records is handed over as segments of about `segment_bytes` for the consumer to frame in
/// parallel (see the module doc); every other source comes as batches.
pub fn read_work(
    source: &Source,
    opts: &InputOptions,
    segment_bytes: usize,
    on_work: &mut dyn FnMut(Work) -> ControlFlow<()>,
    on_problem: &mut dyn FnMut(Problem),
) -> SourceStats {
    if let Source::File(path) = source
        && opts.validate == Validation::Framing
        && let Some(min) = opts.map_min_bytes
        && let Ok(file) = std::fs::File::open(path)
        && let Some(mapped) = crate::map_plain_file(&file, min)
        && mapped.all.len() > segment_bytes
        && is_cloudtrail_json_lines(&mapped.all, opts.max_record_bytes)
    {
        return cut(mapped, source.name(), segment_bytes.max(1), on_work);
    }
    crate::read_batches(
        source,
        opts,
        &mut |batch| on_work(Work::Batch(batch)),
        on_problem,
    )
}

/// Whether the file's first line (after a byte-order mark and blanks) is one CloudTrail record
/// written the way CloudTrail writes it: `{"eventVersion":…}` or `{"eventSource":…}`.
fn is_cloudtrail_json_lines(all: &[u8], max_record_bytes: usize) -> bool {
    let start = if all.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let Some(p) = skip_ws(all, start) else {
        return false;
    };
    if all[p] != b'{' || !starts_with_cloudtrail_key(&all[p + 1..]) {
        return false;
    }
    let line_end = memchr::memchr(b'\n', &all[p..]).map_or(all.len(), |n| p + n);
    let line = all[p..line_end].trim_ascii_end();
    line.len() <= max_record_bytes && line.ends_with(b"}")
}

/// Where the segment starting at or after `target` begins: just after a newline followed by a
/// CloudTrail line start; `None` when no such line follows.
fn next_cut(all: &[u8], target: usize) -> Option<usize> {
    let mut from = target;
    if from >= all.len() {
        return None;
    }
    while let Some(n) = memchr::memchr(b'\n', &all[from..]) {
        let start = from + n + 1;
        if all.get(start) == Some(&b'{') && starts_with_cloudtrail_key(&all[start + 1..]) {
            return Some(start);
        }
        from = start;
    }
    None
}

/// Cuts the mapped file into segments, releasing the pages far behind the cuts (in large steps,
/// from this thread, which mostly waits for the workers) so resident memory stays flat.
fn cut(
    mapped: MappedFile,
    name: Arc<str>,
    segment_bytes: usize,
    on_work: &mut dyn FnMut(Work) -> ControlFlow<()>,
) -> SourceStats {
    let len = mapped.all.len();
    let mut start = 0;
    let mut ordinal = 0u64;
    #[cfg(unix)]
    let mut released = 0usize;
    while start < len {
        let end = next_cut(&mapped.all, start + segment_bytes).unwrap_or(len);
        let segment = Segment {
            source: name.clone(),
            ordinal,
            rest: mapped.all.slice(start..),
            len: end - start,
            offset: start as u64,
        };
        ordinal += 1;
        #[cfg(unix)]
        crate::frame::release_pages_behind(&mapped.map, &mut released, start);
        if on_work(Work::Segment(segment)).is_break() {
            break;
        }
        start = end;
    }
    // Records, problems and batches are counted by whoever frames the segments.
    SourceStats {
        bytes: len as u64,
        compressed_bytes: len as u64,
        batches: ordinal,
        ..SourceStats::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_only_before_cloudtrail_lines() {
        let text = b"{\"eventVersion\":\"1\"}\n  {\"x\":1}\n{\"a\":2}\n{\"eventSource\":\"s\"}\n";
        let cut = next_cut(text, 0).unwrap();
        assert!(text[cut..].starts_with(b"{\"eventSource\""));
        assert_eq!(next_cut(text, cut), None);
        assert_eq!(next_cut(text, text.len() + 5), None);
    }

    #[test]
    fn recognises_cloudtrail_json_lines() {
        assert!(is_cloudtrail_json_lines(
            b"\xEF\xBB\xBF {\"eventVersion\": \"1.08\"}  \n{",
            100
        ));
        assert!(!is_cloudtrail_json_lines(b"{\"Records\":[{}]}\n", 100));
        assert!(!is_cloudtrail_json_lines(
            b"{\"eventVersion\":\n\"1\"}\n",
            100
        ));
        assert!(!is_cloudtrail_json_lines(b"{\"eventVersion\":\"1.08\"}", 5));
    }
}
