//! The seeded PRNG: ChaCha8 (its output stream is stable across `rand_chacha` versions), plus the
//! few sampling helpers the generator needs.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// Deterministic random source; the same seed always yields the same sequence.
pub struct Rng(ChaCha8Rng);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(ChaCha8Rng::seed_from_u64(seed))
    }

    pub fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift (bias is below 2^-32, irrelevant here).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.0.next_u32() as u64 * n as u64) >> 32) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + (self.u64() % (hi - lo + 1))
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.0.next_u32() as f64) < p * 4_294_967_296.0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `n` characters from `alphabet`.
    pub fn chars(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| alphabet[self.below(alphabet.len())] as char)
            .collect()
    }

    pub fn hex(&mut self, n: usize) -> String {
        self.chars(b"0123456789abcdef", n)
    }

    pub fn upper_alnum(&mut self, n: usize) -> String {
        self.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", n)
    }

    pub fn digits(&mut self, n: usize) -> String {
        self.chars(b"0123456789", n)
    }

    pub fn uuid(&mut self) -> String {
        let a = self.u64();
        let b = self.u64();
        format_uuid(a, b)
    }
}

/// Formats 128 bits as a version-4-looking UUID.
pub fn format_uuid(hi: u64, lo: u64) -> String {
    let hi = (hi & !0xF000) | 0x4000;
    let lo = (lo & !(0xC << 60)) | (0x8 << 60);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

/// A bijection on 48-bit integers: distinct counters give distinct outputs, so eventIDs built
/// from it are unique without keeping a set, yet do not look sequential.
pub fn mix48(x: u64) -> u64 {
    const MASK: u64 = (1 << 48) - 1;
    let mut x = x & MASK;
    x = (x ^ (x >> 23)) & MASK;
    x = x.wrapping_mul(0x9E37_79B9_7F4B) & MASK; // odd multiplier: invertible mod 2^48
    x = (x ^ (x >> 29)) & MASK;
    x = x.wrapping_mul(0xBF58_476D_1CE5) & MASK;
    x ^ (x >> 31)
}

/// Cumulative-weight table for sampling indices proportionally to weights.
pub struct Weighted {
    cumulative: Vec<u64>,
}

impl Weighted {
    pub fn new(weights: impl IntoIterator<Item = u32>) -> Self {
        let mut total = 0u64;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += w as u64;
                total
            })
            .collect();
        Weighted { cumulative }
    }

    /// The weights the table was built from.
    pub fn weights(&self) -> Vec<u32> {
        let mut previous = 0;
        self.cumulative
            .iter()
            .map(|&c| {
                let w = (c - previous) as u32;
                previous = c;
                w
            })
            .collect()
    }

    pub fn sample(&self, rng: &mut Rng) -> usize {
        let total = *self.cumulative.last().expect("non-empty weights");
        let x = rng.u64() % total;
        self.cumulative.partition_point(|&c| c <= x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix48_is_injective_on_a_range() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..200_000u64 {
            assert!(seen.insert(mix48(i)), "collision at {i}");
        }
    }

    #[test]
    fn same_seed_same_stream() {
        let (mut a, mut b, mut c) = (Rng::new(7), Rng::new(7), Rng::new(8));
        let xa: Vec<u64> = (0..8).map(|_| a.u64()).collect();
        let xb: Vec<u64> = (0..8).map(|_| b.u64()).collect();
        let xc: Vec<u64> = (0..8).map(|_| c.u64()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
    }

    #[test]
    fn weighted_respects_zero_and_bounds() {
        let w = Weighted::new([0, 5, 0, 5]);
        let mut rng = Rng::new(1);
        for _ in 0..1000 {
            let i = w.sample(&mut rng);
            assert!(i == 1 || i == 3, "sampled zero-weight index {i}");
        }
    }

    #[test]
    fn uuid_shape() {
        let u = format_uuid(u64::MAX, 0);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }
}
