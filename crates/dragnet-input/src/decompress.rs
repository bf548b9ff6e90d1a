//! Gzip detection by magic bytes and decompression under the bomb limits, on a thread of its
//! own that hands buffers to the framer through a bounded channel (so memory stays flat and
//! decompression overlaps framing).

use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};

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
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.count.fetch_add(amt as u64, Ordering::Relaxed);
        self.inner.consume(amt)
    }
}

/// Decompressed reader enforcing the byte and ratio limits.
struct Bounded<R> {
    inner: R,
    compressed: Arc<AtomicU64>,
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
        let compressed = self.compressed.load(Ordering::Relaxed).max(1);
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
    compressed: Arc<AtomicU64>,
}

impl Opened {
    /// Compressed bytes consumed so far (raw bytes for plain sources).
    pub fn compressed_bytes(&self) -> u64 {
        self.compressed.load(Ordering::Relaxed)
    }
}

pub(crate) fn open(
    raw: Box<dyn Read + Send>,
    max_bytes: u64,
    max_ratio: u64,
) -> io::Result<Opened> {
    let count = Arc::new(AtomicU64::new(0));
    let mut buffered = Counting {
        inner: BufReader::with_capacity(256 << 10, raw),
        count: count.clone(),
    };
    let head = buffered.inner.fill_buf()?;
    let gzip = head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b;
    let reader: Box<dyn Read> = if gzip {
        let decoder = Bounded {
            inner: flate2::bufread::MultiGzDecoder::new(buffered),
            compressed: count.clone(),
            produced: 0,
            max_bytes,
            max_ratio,
        };
        Piped::spawn(decoder)
    } else {
        Box::new(buffered)
    };
    Ok(Opened {
        reader,
        gzip,
        compressed: count,
    })
}

/// Bytes asked from the decoder per read on its thread.
const PIPE_CHUNK: usize = 1 << 20;
/// Filled buffers that may wait for the framer: memory per gzip source is about
/// `(PIPE_DEPTH + 2) * PIPE_CHUNK`.
const PIPE_DEPTH: usize = 4;

/// Reads what a decoder thread produced, in order; the decoder's error (a limit, a cut
/// stream) comes after the bytes decoded before it, as it would from the decoder itself.
struct Piped {
    filled: Receiver<io::Result<(Vec<u8>, usize)>>,
    /// Emptied buffers go back to the decoder, so their memory is reused (and never zeroed
    /// again).
    emptied: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    len: usize,
    at: usize,
    done: bool,
}

impl Piped {
    /// Runs `decoder` on its own thread; decodes on the caller's thread if no thread can be
    /// started.
    fn spawn(decoder: impl Read + Send + 'static) -> Box<dyn Read> {
        let (filled_tx, filled) = sync_channel::<io::Result<(Vec<u8>, usize)>>(PIPE_DEPTH);
        let (emptied, emptied_rx) = sync_channel::<Vec<u8>>(PIPE_DEPTH + 2);
        let (start_tx, start_rx) = sync_channel::<Box<dyn Read + Send>>(1);
        let spawned = std::thread::Builder::new()
            .name("dragnet-gunzip".into())
            .spawn(move || {
                let Ok(mut decoder) = start_rx.recv() else {
                    return;
                };
                decode_into(&mut *decoder, &filled_tx, &emptied_rx);
            });
        match spawned {
            Ok(_) => {
                // The decoder moves to the thread only once it runs; on failure it stays here.
                let _ = start_tx.send(Box::new(decoder));
                Box::new(Piped {
                    filled,
                    emptied,
                    current: Vec::new(),
                    len: 0,
                    at: 0,
                    done: false,
                })
            }
            Err(_) => Box::new(decoder),
        }
    }
}

/// The decoder thread's loop: fill a buffer, send it, until the end, an error, or the reader
/// hangs up (the framer stopped early).
fn decode_into(
    decoder: &mut dyn Read,
    filled: &SyncSender<io::Result<(Vec<u8>, usize)>>,
    emptied: &Receiver<Vec<u8>>,
) {
    loop {
        let mut buf = match emptied.try_recv() {
            Ok(buf) => buf,
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => vec![0; PIPE_CHUNK],
        };
        match decoder.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if filled.send(Ok((buf, n))).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = filled.send(Err(e));
                return;
            }
        }
    }
}

impl Read for Piped {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.at < self.len {
                let n = (self.len - self.at).min(out.len());
                out[..n].copy_from_slice(&self.current[self.at..self.at + n]);
                self.at += n;
                return Ok(n);
            }
            if self.done {
                return Ok(0);
            }
            if !self.current.is_empty() {
                let _ = self.emptied.try_send(std::mem::take(&mut self.current));
            }
            match self.filled.recv() {
                Ok(Ok((buf, len))) => {
                    self.current = buf;
                    self.len = len;
                    self.at = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
    }
}
