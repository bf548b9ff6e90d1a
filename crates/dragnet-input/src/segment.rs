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
    InputOptions, MappedFile, Problem, RecordBatch, RecordLocation, RecordSpan, Source,
    SourceStats, Validation,
};

/// What [`read_work`] hands over: a batch it framed itself, or a file's segments, in file
/// order, for the consumer to frame (on any threads, with [`Segment::frame`]). The segments
/// come as one iterator that cuts each as it is taken (a short newline search), so workers
/// need not wait on a reader thread between segments, and no page is touched ahead of need.
pub enum Work {
    Batch(RecordBatch),
    Segments(Segments),
}

/// The segments of one file, cut as they are taken.
pub struct Segments {
    source: Arc<str>,
    file: MappedFile,
    segment_bytes: usize,
    next_start: usize,
    next_ordinal: u64,
}

impl Iterator for Segments {
    type Item = Segment;

    fn next(&mut self) -> Option<Segment> {
        let all = &self.file.all;
        let start = self.next_start;
        if start >= all.len() {
            return None;
        }
        let end = next_cut(all, start + self.segment_bytes).unwrap_or(all.len());
        let segment = Segment {
            source: self.source.clone(),
            ordinal: self.next_ordinal,
            rest: all.slice(start..),
            len: end - start,
            offset: start as u64,
            map: self.file.map.clone(),
        };
        self.next_start = end;
        self.next_ordinal += 1;
        Some(segment)
    }
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
    /// The mapping, to release pages far behind the segment.
    map: Arc<memmap2::Mmap>,
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
    /// Releases the mapped pages well behind this segment (call once it is framed and
    /// evaluated): resident memory then stays flat over a file of any size when segments are
    /// taken in order. Each 32 MiB block is released once, by the segment that crosses the
    /// boundary two blocks after it; a page released under a slow worker is faulted back in
    /// from the page cache, a cost and never an error.
    pub fn release_pages_behind(&self) {
        #[cfg(unix)]
        {
            const BLOCK: u64 = 32 << 20;
            let start = self.offset;
            let end = self.offset + self.len as u64;
            // The first block boundary inside (start, end], if any.
            let boundary = (start / BLOCK + 1) * BLOCK;
            if boundary <= end && boundary >= 2 * BLOCK {
                let from = (boundary - 2 * BLOCK) as usize;
                crate::frame::drop_pages(&self.map, from, BLOCK as usize);
            }
        }
    }

    /// Frames the segment as [`crate::read_batches`] frames a file, with locations local to
    /// the segment (see the module doc).
    pub fn frame(
        &self,
        opts: &InputOptions,
        on_batch: &mut dyn FnMut(RecordBatch) -> ControlFlow<()>,
        on_problem: &mut dyn FnMut(Problem),
    ) -> SegmentStats {
        self.frame_reusing(opts, Vec::new(), on_batch, on_problem)
    }

    /// [`Segment::frame`], collecting the first batch's records into `spans` (emptied first):
    /// a worker that hands back the `records` of the batches it was given frames segment
    /// after segment without allocating their record lists anew.
    pub fn frame_reusing(
        &self,
        opts: &InputOptions,
        mut spans: Vec<RecordSpan>,
        on_batch: &mut dyn FnMut(RecordBatch) -> ControlFlow<()>,
        on_problem: &mut dyn FnMut(Problem),
    ) -> SegmentStats {
        spans.clear();
        let mut framer = Framer::segment(
            self.rest.clone(),
            self.len,
            self.offset,
            self.ordinal == 0,
            self.source.clone(),
            opts,
            spans,
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

/// Hands the mapped file over as segments, cut as the consumer takes them.
fn cut(
    mapped: MappedFile,
    name: Arc<str>,
    segment_bytes: usize,
    on_work: &mut dyn FnMut(Work) -> ControlFlow<()>,
) -> SourceStats {
    let len = mapped.all.len() as u64;
    let _ = on_work(Work::Segments(Segments {
        source: name,
        file: mapped,
        segment_bytes,
        next_start: 0,
        next_ordinal: 0,
    }));
    // Records, problems and batches are counted by whoever frames the segments.
    SourceStats {
        bytes: len,
        compressed_bytes: len,
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
