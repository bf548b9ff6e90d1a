//! Gzip detection by magic bytes and decompression under the bomb limits.

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

use crate::problem::Limit;

/// Raised (inside an `io::Error`) when a decompression limit is hit.
#[derive(Debug, thiserror::Error)]
#[error("{} exceeded ({detail}); raise it with {}", .limit.name(), .limit.flag())]
pub(crate) struct LimitError {
    pub limit: Limit,
    pub detail: String,
}

/// Raised (inside an `io::Error`) when the gzip stream is cut or corrupt.
#[derive(Debug, thiserror::Error)]
#[error("gzip stream is cut or corrupt: {0}")]
pub(crate) struct GzipError(pub io::Error);

/// Counts the bytes read through it (the compressed side).
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.count.set(self.count.get() + amt as u64);
        self.inner.consume(amt)
    }
}

/// Decompressed reader enforcing the byte and ratio limits.
struct Bounded<R> {
    inner: R,
    compressed: Rc<Cell<u64>>,
    produced: u64,
    max_bytes: u64,
    max_ratio: u64,
}

/// The ratio is only judged past this many decompressed bytes: small files compress oddly.
const RATIO_GRACE_BYTES: u64 = 16 << 20;

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self
            .inner
            .read(buf)
            .map_err(|e| io::Error::other(GzipError(e)))?;
        self.produced += n as u64;
        if self.produced > self.max_bytes {
            return Err(io::Error::other(LimitError {
                limit: Limit::DecompressedBytes,
                detail: format!(
                    "more than {} bytes after decompression; the rest of the file is skipped",
                    self.max_bytes
                ),
            }));
        }
        let compressed = self.compressed.get().max(1);
        if self.produced > RATIO_GRACE_BYTES && self.produced / compressed > self.max_ratio {
            return Err(io::Error::other(LimitError {
                limit: Limit::CompressionRatio,
                detail: format!(
                    "{} bytes from {} compressed bytes is more than {}:1 (a gzip bomb?); the rest of the file is skipped",
                    self.produced, compressed, self.max_ratio
                ),
            }));
        }
        Ok(n)
    }
}

/// A readable source's bytes: decompressed when they start with the gzip magic `1f 8b`.
pub(crate) struct Opened {
    pub reader: Box<dyn Read>,
    pub gzip: bool,
    compressed: Rc<Cell<u64>>,
}

impl Opened {
    /// Compressed bytes consumed so far (raw bytes for plain sources).
    pub fn compressed_bytes(&self) -> u64 {
        self.compressed.get()
    }
}

pub(crate) fn open(raw: Box<dyn Read>, max_bytes: u64, max_ratio: u64) -> io::Result<Opened> {
    let count = Rc::new(Cell::new(0));
    let mut buffered = Counting {
        inner: BufReader::with_capacity(256 << 10, raw),
        count: count.clone(),
    };
    let head = buffered.inner.fill_buf()?;
    let gzip = head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b;
    let reader: Box<dyn Read> = if gzip {
        Box::new(Bounded {
            inner: flate2::bufread::MultiGzDecoder::new(buffered),
            compressed: count.clone(),
            produced: 0,
            max_bytes,
            max_ratio,
        })
    } else {
        Box::new(buffered)
    };
    Ok(Opened {
        reader,
        gzip,
        compressed: count,
    })
}
