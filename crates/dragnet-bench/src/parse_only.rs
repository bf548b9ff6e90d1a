//! The parse-only baseline: every JSON line parsed into a `serde_json::Value` and dropped, on a
//! rayon pool of the same size dragnet uses. It bounds what any full-parse engine can reach.

use std::io::Read;
use std::sync::mpsc::sync_channel;

use rayon::prelude::*;

/// Result of a parse-only pass.
pub struct ParseStats {
    pub lines: u64,
    pub invalid: u64,
    pub bytes: u64,
}

const CHUNK: usize = 8 << 20;

/// Parses every non-empty line of `reader` with `threads` workers. Reading happens on its own
/// thread, in 8 MiB chunks cut at line ends, with at most two chunks in flight (flat memory).
pub fn parse_lines(mut reader: impl Read + Send, threads: usize) -> std::io::Result<ParseStats> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(std::io::Error::other)?;
    let (tx, rx) = sync_channel::<Vec<u8>>(2);
    std::thread::scope(|scope| {
        let reading = scope.spawn(move || -> std::io::Result<u64> {
            let mut carry: Vec<u8> = Vec::new();
            let mut total = 0u64;
            loop {
                let mut chunk = std::mem::take(&mut carry);
                let start = chunk.len();
                chunk.resize(start + CHUNK, 0);
                let mut filled = start;
                while filled < chunk.len() {
                    let n = reader.read(&mut chunk[filled..])?;
                    if n == 0 {
                        break;
                    }
                    filled += n;
                }
                total += (filled - start) as u64;
                chunk.truncate(filled);
                let eof = filled < start + CHUNK;
                if !eof {
                    // Keep the partial last line for the next chunk.
                    let cut = memchr::memrchr(b'\n', &chunk).map_or(0, |i| i + 1);
                    carry = chunk.split_off(cut);
                }
                if !chunk.is_empty() && tx.send(chunk).is_err() {
                    break;
                }
                if eof {
                    break;
                }
            }
            Ok(total)
        });
        let mut stats = ParseStats {
            lines: 0,
            invalid: 0,
            bytes: 0,
        };
        for chunk in rx {
            let (lines, invalid) = pool.install(|| {
                chunk
                    .par_split(|b| *b == b'\n')
                    .filter(|line| !line.trim_ascii().is_empty())
                    .map(
                        |line| match serde_json::from_slice::<serde_json::Value>(line) {
                            Ok(v) => {
                                drop(v);
                                (1u64, 0u64)
                            }
                            Err(_) => (1, 1),
                        },
                    )
                    .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
            });
            stats.lines += lines;
            stats.invalid += invalid;
        }
        stats.bytes = reading.join().expect("reader thread panicked")?;
        Ok(stats)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lines_and_invalid() {
        let data = b"{\"a\":1}\n\n{\"b\":[1,2]}\nnot json\n{\"c\":null}";
        let s = parse_lines(&data[..], 2).unwrap();
        assert_eq!(s.lines, 4);
        assert_eq!(s.invalid, 1);
        assert_eq!(s.bytes, data.len() as u64);
    }
}
