//! One pass over JSON lines that finds everything the fast path and a raw-bytes prefilter
//! need from their bytes: where each line ends, whether it holds a `\u`/`\/` escape, whether it
//! holds a byte outside ASCII (only then must UTF-8 be validated), where a probed member key
//! (`"eventName"`) occurs and the plain string after it, and whether one of a few probed
//! needles occurs.
//!
//! Finding these in separate passes (`memchr2`, `memmem`, UTF-8 validation, a needle search)
//! touches every byte several times; the first touch streams the line from memory, the others
//! run over cached bytes and cost about as much again. The SIMD kernels here (AVX-512BW, AVX2,
//! SSE2, chosen once at run time) test 64 bytes a step for all of it at once, line after line
//! ([`scan_lines`]). [`scan_line_portable`] is the same scan built from `memchr`/`memmem`: the
//! fallback off x86-64 and the reference the kernels are tested against.

// SIMD intrinsics and unchecked loads; each `unsafe` says why it holds.
#![allow(unsafe_code)]

use dragnet_prefilter::{KeyHits, KeyProbe, MAX_NEEDLE_PROBES, NeedleProbe};
use memchr::memmem;

/// What a scan looks for besides line ends and escapes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ScanProbes<'a> {
    pub key: Option<&'a KeyProbe>,
    /// Ignored (not probed) when there are more than [`MAX_NEEDLE_PROBES`].
    pub needles: &'a [NeedleProbe],
}

impl ScanProbes<'_> {
    fn needles(&self) -> &[NeedleProbe] {
        if self.needles.len() > MAX_NEEDLE_PROBES {
            &[]
        } else {
            self.needles
        }
    }
}

/// What one scan of a line found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LineScan {
    /// Position of the `\n` ending the line; `None` when the buffer ends first.
    pub newline: Option<usize>,
    /// A `\` (not itself escaped) followed by `u` or `/`, or a `\` that ends the buffer.
    pub escaped: bool,
    /// A byte of 0x80 or above before the line's end.
    pub non_ascii: bool,
    /// The probed key's occurrences before the line's end, as offsets from the scan's start;
    /// [`KeyHits::NotLooked`] without a probe.
    pub keys: KeyHits,
    /// Whether a probed needle starts before the line's end; `None` without needle probes.
    pub needle: Option<bool>,
    /// When the key occurs once and a plain JSON string follows it (blanks, `:`, blanks, `"`,
    /// then no `\` before the closing `"`, within [`VALUE_LOOKAHEAD`] bytes): where that
    /// string's text starts (from the line's first byte) and its length. Read while the line
    /// is in cache, so a consumer can rule the value out by its length without touching the
    /// record again.
    pub key_value: Option<(u32, u32)>,
}

/// How far after the key [`LineScan::key_value`] looks for the value's end.
const VALUE_LOOKAHEAD: usize = 64;

/// The plain JSON string after the key ending at `after_key` (see [`LineScan::key_value`]):
/// its start and length. `None` when something else follows, when it holds a `\`, or when
/// the line or the lookahead ends first: the consumer then reads the record itself.
fn string_value(buf: &[u8], after_key: usize) -> Option<(usize, usize)> {
    let blank = |b: u8| matches!(b, b' ' | b'\t' | b'\r');
    let mut i = after_key;
    while buf.get(i).copied().is_some_and(blank) {
        i += 1;
    }
    if buf.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    while buf.get(i).copied().is_some_and(blank) {
        i += 1;
    }
    if buf.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let near = buf.get(start..(start + VALUE_LOOKAHEAD).min(buf.len()))?;
    let len = near
        .iter()
        .position(|&b| matches!(b, b'"' | b'\\' | b'\n'))?;
    (near[len] == b'"').then_some((start, len))
}

/// Scans `buf` from `start` to the first newline that is not escaped (a `\` consumes the byte
/// after it, as JSON reads it), or to the buffer's end.
#[cfg(test)]
pub(crate) fn scan_line(buf: &[u8], start: usize, probes: ScanProbes<'_>) -> LineScan {
    let mut line = None;
    scan_lines(buf, start, probes, &mut |scan| {
        line = Some(scan);
        false
    });
    line.expect("a scan reports at least one line")
}

/// Scans `buf` from `start` line after line, calling `on_line` for each (offsets of key hits
/// are from that line's first byte), until it returns `false` or the buffer ends: the last
/// line reported is then the rest of the buffer, with no newline. One continuous pass: a line's
/// end and the next line's start are found in the same step.
pub(crate) fn scan_lines(
    buf: &[u8],
    start: usize,
    probes: ScanProbes<'_>,
    on_line: &mut dyn FnMut(LineScan) -> bool,
) {
    scan_lines_with(kernel(), buf, start, probes, on_line)
}

/// [`scan_lines`] with this kernel, which must be one of [`available_kernels`].
fn scan_lines_with(
    kernel: ScanKernel,
    buf: &[u8],
    start: usize,
    probes: ScanProbes<'_>,
    on_line: &mut dyn FnMut(LineScan) -> bool,
) {
    match kernel {
        // SAFETY: the caller took it from `available_kernels`: the CPU has AVX-512BW.
        #[cfg(target_arch = "x86_64")]
        ScanKernel::Avx512 => unsafe { x86::scan_avx512(buf, start, probes, on_line) },
        // SAFETY: the caller took it from `available_kernels`: the CPU has AVX2.
        #[cfg(target_arch = "x86_64")]
        ScanKernel::Avx2 => unsafe { x86::scan_avx2(buf, start, probes, on_line) },
        // SAFETY: SSE2 is part of x86-64.
        #[cfg(target_arch = "x86_64")]
        ScanKernel::Sse2 => unsafe { x86::scan_sse2(buf, start, probes, on_line) },
        ScanKernel::Portable => scan_lines_portable(buf, start, probes, on_line),
    }
}

/// The scan implementations, fastest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScanKernel {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Sse2,
    Portable,
}

/// The fastest kernel the CPU runs, chosen once. `DRAGNET_SCAN_KERNEL` (`avx512`, `avx2`,
/// `sse2`, `portable`) picks a slower one, to benchmark what a machine without the faster
/// instructions would do; a kernel the CPU lacks is never picked.
fn kernel() -> ScanKernel {
    static KERNEL: std::sync::OnceLock<ScanKernel> = std::sync::OnceLock::new();
    *KERNEL.get_or_init(|| {
        let available = available_kernels();
        let wanted = std::env::var("DRAGNET_SCAN_KERNEL").ok();
        let named =
            |k: ScanKernel| format!("{k:?}").eq_ignore_ascii_case(wanted.as_deref().unwrap_or(""));
        available
            .iter()
            .copied()
            .find(|&k| named(k))
            .unwrap_or(available[0])
    })
}

/// Whether the scan should look for needles at all: only the AVX-512 kernel tests their bytes
/// cheaply enough. With AVX2, probing the AWS rules' two byte gate needles cost more CPU than
/// the consumer's own search for them (measured over the 1 GB benchmark trail: 494 ms of user
/// CPU against 393 ms; with AVX-512, 343 ms against 377 ms).
pub(crate) fn needles_pay_off() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        kernel() == ScanKernel::Avx512
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The kernels this CPU can run, fastest first (the portable scan always).
fn available_kernels() -> Vec<ScanKernel> {
    let mut out = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512bw") {
            out.push(ScanKernel::Avx512);
        }
        if std::is_x86_feature_detected!("avx2") {
            out.push(ScanKernel::Avx2);
        }
        out.push(ScanKernel::Sse2);
    }
    out.push(ScanKernel::Portable);
    out
}

/// [`scan_lines`] built from [`scan_line_portable`].
pub(crate) fn scan_lines_portable(
    buf: &[u8],
    mut start: usize,
    probes: ScanProbes<'_>,
    on_line: &mut dyn FnMut(LineScan) -> bool,
) {
    loop {
        let scan = scan_line_portable(buf, start, probes);
        let next = scan.newline.map(|n| n + 1);
        if !on_line(scan) {
            return;
        }
        match next {
            Some(n) => start = n,
            None => return,
        }
    }
}

/// What a scan carries from the part of the line already scanned.
#[derive(Clone, Copy, Debug)]
struct Carry {
    /// Bytes before this were consumed by a `\`.
    skip_to: usize,
    escaped: bool,
    non_ascii: bool,
    keys: KeyHits,
    needle: Option<bool>,
    /// The first key occurrence's value, from the line's first byte.
    key_value: Option<(u32, u32)>,
}

impl Carry {
    fn new(start: usize, probes: ScanProbes<'_>) -> Carry {
        Carry {
            skip_to: start,
            escaped: false,
            non_ascii: false,
            keys: if probes.key.is_some() {
                KeyHits::Absent
            } else {
                KeyHits::NotLooked
            },
            needle: (!probes.needles().is_empty()).then_some(false),
            key_value: None,
        }
    }

    /// Notes the key at `at` in the line starting at `line`, and the value after it when it
    /// is the first.
    #[inline(always)]
    fn key(&mut self, buf: &[u8], line: usize, at: usize, probe: &KeyProbe) {
        if self.keys == KeyHits::Absent {
            self.key_value = string_value(buf, at + probe.quoted().len())
                .and_then(|(s, l)| Some((u32::try_from(s - line).ok()?, l as u32)));
        }
        self.keys.add(at - line);
    }

    /// What the scan found, the line ending at `newline`.
    fn finish(self, newline: Option<usize>) -> LineScan {
        LineScan {
            newline,
            escaped: self.escaped,
            non_ascii: self.non_ascii,
            keys: self.keys,
            needle: self.needle,
            key_value: if matches!(self.keys, KeyHits::Once(_)) {
                self.key_value
            } else {
                None
            },
        }
    }

    /// Notes the needle probes' candidate whose first tested byte is at `at`, in the line
    /// starting at `line`, when one of them really starts there.
    #[inline(always)]
    fn needle_candidate(&mut self, buf: &[u8], line: usize, at: usize, probes: ScanProbes<'_>) {
        for probe in probes.needles() {
            let first = probe.tested_offsets()[0];
            if probe.bytes()[first] == buf[at] && at >= line + first && probe.is_at(buf, at - first)
            {
                self.needle = Some(true);
            }
        }
    }

    /// Handles the `\` at `at`: notes an escape that can hide a character, consumes the byte
    /// after it.
    #[inline(always)]
    fn backslash(&mut self, buf: &[u8], at: usize) {
        match buf.get(at + 1) {
            Some(b'u' | b'/') => self.escaped = true,
            Some(_) => {}
            // The escaped byte is not in the buffer: assume the worst.
            None => self.escaped = true,
        }
        self.skip_to = at + 2;
    }
}

/// The scan built from `memchr2`, `memmem` and `is_ascii`.
pub(crate) fn scan_line_portable(buf: &[u8], start: usize, probes: ScanProbes<'_>) -> LineScan {
    finish_portable(buf, start, start, probes, Carry::new(start, probes))
}

/// Scans on from `from` (key occurrences starting before it, and needles whose first tested
/// byte is before it, are in `carry`).
fn finish_portable(
    buf: &[u8],
    start: usize,
    from: usize,
    probes: ScanProbes<'_>,
    mut carry: Carry,
) -> LineScan {
    let mut searched = from.max(carry.skip_to);
    let newline = loop {
        let Some(k) = memchr::memchr2(b'\n', b'\\', buf.get(searched..).unwrap_or_default()) else {
            break None;
        };
        let at = searched + k;
        if buf[at] == b'\n' {
            break Some(at);
        }
        carry.backslash(buf, at);
        searched = carry.skip_to;
    };
    let end = newline.unwrap_or(buf.len());
    let rest = &buf[from.min(end)..end];
    carry.non_ascii |= !rest.is_ascii();
    for probe in probes.needles() {
        // Needles starting at `from - at[0]` or later (earlier ones were the caller's).
        let first = from
            .saturating_sub(probe.tested_offsets()[0])
            .max(start)
            .min(end);
        if memmem::find(&buf[first..end], probe.bytes()).is_some() {
            carry.needle = Some(true);
        }
    }
    if let Some(probe) = probes.key {
        // Overlapping occurrences too (`"eventName"eventName"`, only in broken JSON), as the
        // kernels see them.
        let mut at = 0;
        while let Some(k) = memmem::find(&rest[at..], probe.quoted()) {
            carry.key(buf, start, from.min(end) + at + k, probe);
            at += k + 1;
        }
    }
    carry.finish(newline)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Carry, LineScan, NeedleProbe, ScanProbes, finish_portable};

    /// Bytes one step of a kernel covers.
    const BLOCK: usize = 64;

    /// The probe's bytes and offsets, for the kernels.
    struct Probe {
        mid: usize,
        mid_byte: u8,
    }

    /// One 64-byte step: bit `i` of the mask marks a `\n` or `\` at byte `i`, or a `"` where
    /// the probed key may start (its probe byte is where it should be).
    /// The bytes are also OR-ed into an accumulator, which says afterwards whether any byte
    /// of 0x80 or above was seen: that is rare, and then the exact test runs on the line.
    /// (One mask per step rather than three: `movemask` is the scarce instruction.)
    trait Kernel: Sized {
        /// The accumulator's vector type.
        type Seen: Copy;
        fn new(probe: Option<&Probe>, needles: &[NeedleProbe]) -> Self;
        fn nothing_seen() -> Self::Seen;
        /// # Safety
        /// `p..p + 64 + reach` must be readable, `reach` being the probe byte's offset in the
        /// quoted key.
        unsafe fn step(&self, p: *const u8, seen: &mut Self::Seen) -> u64;
        fn any_high(seen: Self::Seen) -> bool;
    }

    /// A needle probe's tested bytes, for a kernel whose vector type is `V`: offsets from the
    /// first tested byte (the first is 0) and each byte repeated across a vector.
    #[derive(Clone, Copy)]
    struct NeedleChecks<V: Copy> {
        len: usize,
        rel: [usize; 3],
        bytes: [V; 3],
    }

    impl<V: Copy> NeedleChecks<V> {
        /// The checks of each probe (at most [`super::MAX_NEEDLE_PROBES`]), with `splat`
        /// repeating a byte across a vector.
        #[inline(always)]
        fn all(
            needles: &[NeedleProbe],
            splat: impl Fn(u8) -> V,
        ) -> ([NeedleChecks<V>; super::MAX_NEEDLE_PROBES], usize) {
            let empty = NeedleChecks {
                len: 0,
                rel: [0; 3],
                bytes: [splat(0); 3],
            };
            let mut out = [empty; super::MAX_NEEDLE_PROBES];
            for (slot, probe) in out.iter_mut().zip(needles) {
                slot.len = probe.tested_offsets().len();
                for (k, &at) in probe.tested_offsets().iter().enumerate() {
                    slot.rel[k] = at - probe.tested_offsets()[0];
                    slot.bytes[k] = splat(probe.bytes()[at]);
                }
            }
            (out, needles.len().min(super::MAX_NEEDLE_PROBES))
        }
    }

    /// AVX-512BW: one 64-byte vector per step, and compares that give bit masks directly.
    struct Avx512 {
        nl: __m512i,
        bs: __m512i,
        quote: __m512i,
        mid: __m512i,
        mid_at: usize,
        probing: bool,
        needles: [NeedleChecks<__m512i>; super::MAX_NEEDLE_PROBES],
        needle_count: usize,
    }

    impl Kernel for Avx512 {
        type Seen = __m512i;

        #[inline(always)]
        fn new(probe: Option<&Probe>, needles: &[NeedleProbe]) -> Self {
            // SAFETY (all intrinsics): only used from `scan_avx512`, whose caller checked
            // AVX-512BW.
            unsafe {
                let (needles, needle_count) =
                    NeedleChecks::all(needles, |b| _mm512_set1_epi8(b as i8));
                Avx512 {
                    nl: _mm512_set1_epi8(b'\n' as i8),
                    bs: _mm512_set1_epi8(b'\\' as i8),
                    quote: _mm512_set1_epi8(b'"' as i8),
                    mid: _mm512_set1_epi8(probe.map_or(0, |k| k.mid_byte) as i8),
                    mid_at: probe.map_or(0, |k| k.mid),
                    probing: probe.is_some(),
                    needles,
                    needle_count,
                }
            }
        }

        #[inline(always)]
        fn nothing_seen() -> __m512i {
            // SAFETY: as in `new`.
            unsafe { _mm512_setzero_si512() }
        }

        #[inline(always)]
        unsafe fn step(&self, p: *const u8, seen: &mut __m512i) -> u64 {
            // SAFETY (all intrinsics): as in `new`; the caller guarantees the loads are in
            // bounds.
            unsafe {
                let v = _mm512_loadu_si512(p as *const __m512i);
                *seen = _mm512_or_si512(*seen, v);
                let mut mask =
                    _mm512_cmpeq_epi8_mask(v, self.nl) | _mm512_cmpeq_epi8_mask(v, self.bs);
                if self.probing {
                    let mid = _mm512_loadu_si512(p.add(self.mid_at) as *const __m512i);
                    mask |= _mm512_cmpeq_epi8_mask(v, self.quote)
                        & _mm512_cmpeq_epi8_mask(mid, self.mid);
                }
                for checks in &self.needles[..self.needle_count] {
                    let mut m = _mm512_cmpeq_epi8_mask(v, checks.bytes[0]);
                    for k in 1..checks.len {
                        let w = _mm512_loadu_si512(p.add(checks.rel[k]) as *const __m512i);
                        m &= _mm512_cmpeq_epi8_mask(w, checks.bytes[k]);
                    }
                    mask |= m;
                }
                mask
            }
        }

        #[inline(always)]
        fn any_high(seen: __m512i) -> bool {
            // SAFETY: as in `new`.
            unsafe { _mm512_movepi8_mask(seen) != 0 }
        }
    }

    struct Avx2 {
        /// Per low nibble, the byte of `\n`, `\\` (and `"` when probing the key) that has it,
        /// 0x80 elsewhere: a byte equal to its own lookup is one of them.
        table: __m256i,
        quote: __m256i,
        mid: __m256i,
        mid_at: usize,
        probing: bool,
        needles: [NeedleChecks<__m256i>; super::MAX_NEEDLE_PROBES],
        needle_count: usize,
    }

    impl Avx2 {
        /// [`Kernel::step`] for 32 bytes. (Not a closure: closures do not inherit the
        /// caller's target features, and the intrinsics would become calls.)
        #[inline(always)]
        unsafe fn half(&self, p: *const u8, seen: &mut __m256i) -> u64 {
            // SAFETY (all intrinsics): only used from `scan_avx2`, whose caller checked AVX2;
            // the caller guarantees the loads are in bounds.
            unsafe {
                let v = _mm256_loadu_si256(p as *const __m256i);
                *seen = _mm256_or_si256(*seen, v);
                // One lookup and one compare find `\n`, `\\` and `"` (a byte of 0x80 or above
                // looks up 0 and matches nothing).
                let mut m = _mm256_cmpeq_epi8(_mm256_shuffle_epi8(self.table, v), v);
                if self.probing {
                    // Keep only the quotes the probe byte follows.
                    let q = _mm256_cmpeq_epi8(v, self.quote);
                    let mid = _mm256_loadu_si256(p.add(self.mid_at) as *const __m256i);
                    let mid = _mm256_cmpeq_epi8(mid, self.mid);
                    m = _mm256_andnot_si256(_mm256_andnot_si256(mid, q), m);
                }
                for checks in &self.needles[..self.needle_count] {
                    let mut n = _mm256_cmpeq_epi8(v, checks.bytes[0]);
                    for k in 1..checks.len {
                        let w = _mm256_loadu_si256(p.add(checks.rel[k]) as *const __m256i);
                        n = _mm256_and_si256(n, _mm256_cmpeq_epi8(w, checks.bytes[k]));
                    }
                    m = _mm256_or_si256(m, n);
                }
                _mm256_movemask_epi8(m) as u32 as u64
            }
        }
    }

    impl Kernel for Avx2 {
        type Seen = __m256i;

        #[inline(always)]
        fn new(probe: Option<&Probe>, needles: &[NeedleProbe]) -> Self {
            // SAFETY (all intrinsics): only used from `scan_avx2`, whose caller checked AVX2.
            unsafe {
                let (needles, needle_count) =
                    NeedleChecks::all(needles, |b| _mm256_set1_epi8(b as i8));
                let mut table = [0x80u8; 32];
                for b in [b'\n', b'\\'].into_iter().chain(probe.map(|_| b'"')) {
                    // Both 128-bit lanes: the lookup works per lane.
                    table[usize::from(b & 0x0f)] = b;
                    table[16 + usize::from(b & 0x0f)] = b;
                }
                Avx2 {
                    table: _mm256_loadu_si256(table.as_ptr() as *const __m256i),
                    quote: _mm256_set1_epi8(b'"' as i8),
                    mid: _mm256_set1_epi8(probe.map_or(0, |k| k.mid_byte) as i8),
                    mid_at: probe.map_or(0, |k| k.mid),
                    probing: probe.is_some(),
                    needles,
                    needle_count,
                }
            }
        }

        #[inline(always)]
        fn nothing_seen() -> __m256i {
            // SAFETY: as in `new`.
            unsafe { _mm256_setzero_si256() }
        }

        #[inline(always)]
        unsafe fn step(&self, p: *const u8, seen: &mut __m256i) -> u64 {
            // SAFETY: the caller's guarantee.
            unsafe { self.half(p, seen) | (self.half(p.add(32), seen) << 32) }
        }

        #[inline(always)]
        fn any_high(seen: __m256i) -> bool {
            // SAFETY: as in `new`.
            unsafe { _mm256_movemask_epi8(seen) != 0 }
        }
    }

    struct Sse2 {
        nl: __m128i,
        bs: __m128i,
        quote: __m128i,
        mid: __m128i,
        mid_at: usize,
        probing: bool,
        needles: [NeedleChecks<__m128i>; super::MAX_NEEDLE_PROBES],
        needle_count: usize,
    }

    impl Kernel for Sse2 {
        type Seen = __m128i;

        #[inline(always)]
        fn new(probe: Option<&Probe>, needles: &[NeedleProbe]) -> Self {
            // SAFETY (all intrinsics): SSE2 is part of x86-64.
            unsafe {
                let (needles, needle_count) =
                    NeedleChecks::all(needles, |b| _mm_set1_epi8(b as i8));
                Sse2 {
                    nl: _mm_set1_epi8(b'\n' as i8),
                    bs: _mm_set1_epi8(b'\\' as i8),
                    quote: _mm_set1_epi8(b'"' as i8),
                    mid: _mm_set1_epi8(probe.map_or(0, |k| k.mid_byte) as i8),
                    mid_at: probe.map_or(0, |k| k.mid),
                    probing: probe.is_some(),
                    needles,
                    needle_count,
                }
            }
        }

        #[inline(always)]
        fn nothing_seen() -> __m128i {
            // SAFETY: SSE2 is part of x86-64.
            unsafe { _mm_setzero_si128() }
        }

        #[inline(always)]
        unsafe fn step(&self, p: *const u8, seen: &mut __m128i) -> u64 {
            // SAFETY (all intrinsics): SSE2 is part of x86-64; the caller guarantees the loads
            // are in bounds.
            unsafe {
                let mut mask = 0u64;
                for part in 0..4 {
                    let at = part * 16;
                    let v = _mm_loadu_si128(p.add(at) as *const __m128i);
                    *seen = _mm_or_si128(*seen, v);
                    let mut m =
                        _mm_or_si128(_mm_cmpeq_epi8(v, self.nl), _mm_cmpeq_epi8(v, self.bs));
                    if self.probing {
                        let q = _mm_cmpeq_epi8(v, self.quote);
                        let mid = _mm_loadu_si128(p.add(at + self.mid_at) as *const __m128i);
                        let mid = _mm_cmpeq_epi8(mid, self.mid);
                        m = _mm_or_si128(m, _mm_and_si128(q, mid));
                    }
                    for checks in &self.needles[..self.needle_count] {
                        let mut n = _mm_cmpeq_epi8(v, checks.bytes[0]);
                        for k in 1..checks.len {
                            let w = _mm_loadu_si128(p.add(at + checks.rel[k]) as *const __m128i);
                            n = _mm_and_si128(n, _mm_cmpeq_epi8(w, checks.bytes[k]));
                        }
                        m = _mm_or_si128(m, n);
                    }
                    mask |= (_mm_movemask_epi8(m) as u32 as u64) << at;
                }
                mask
            }
        }

        #[inline(always)]
        fn any_high(seen: __m128i) -> bool {
            // SAFETY: SSE2 is part of x86-64.
            unsafe { _mm_movemask_epi8(seen) != 0 }
        }
    }

    /// # Safety
    /// The CPU must support AVX-512BW.
    #[target_feature(enable = "avx512bw")]
    pub(super) unsafe fn scan_avx512(
        buf: &[u8],
        start: usize,
        probes: ScanProbes<'_>,
        on_line: &mut dyn FnMut(LineScan) -> bool,
    ) {
        drive::<Avx512>(buf, start, probes, on_line)
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn scan_avx2(
        buf: &[u8],
        start: usize,
        probes: ScanProbes<'_>,
        on_line: &mut dyn FnMut(LineScan) -> bool,
    ) {
        drive::<Avx2>(buf, start, probes, on_line)
    }

    /// # Safety
    /// Always safe on x86-64 (SSE2 is part of it); `unsafe` to match [`scan_avx2`].
    pub(super) unsafe fn scan_sse2(
        buf: &[u8],
        start: usize,
        probes: ScanProbes<'_>,
        on_line: &mut dyn FnMut(LineScan) -> bool,
    ) {
        drive::<Sse2>(buf, start, probes, on_line)
    }

    #[inline(always)]
    fn drive<K: Kernel>(
        buf: &[u8],
        start: usize,
        probes: ScanProbes<'_>,
        on_line: &mut dyn FnMut(LineScan) -> bool,
    ) {
        let mut line = start;
        let probe = probes.key;
        let mut carry = Carry::new(start, probes);
        let kernel_probe = probe.map(|k| Probe {
            mid: k.tested_index(),
            mid_byte: k.quoted()[k.tested_index()],
        });
        let kernel = K::new(kernel_probe.as_ref(), probes.needles());
        // How far past a block the kernel reads.
        let needle_reach = probes
            .needles()
            .iter()
            .map(|n| n.tested_offsets()[n.tested_offsets().len() - 1] - n.tested_offsets()[0]);
        let reach = needle_reach
            .chain(kernel_probe.as_ref().map(|k| k.mid))
            .max()
            .unwrap_or(0);
        let fits = |b: usize| b + BLOCK + reach <= buf.len();
        // Whether a byte of 0x80 or above was seen since the line's first block began: the
        // accumulator cannot tell lines within a block apart, so a line sharing a block with
        // such a byte tests its own bytes.
        let mut high = false;
        let mut b = start;
        'blocks: while fits(b) {
            // The hot loop: no call in it, so the accumulator stays in a register.
            let mut seen = K::nothing_seen();
            let mut mask = loop {
                // SAFETY: b + 64 + reach <= buf.len().
                let mask = unsafe { kernel.step(buf.as_ptr().add(b), &mut seen) };
                if mask != 0 {
                    break mask;
                }
                b += BLOCK;
                if !fits(b) {
                    high |= K::any_high(seen);
                    break 'blocks;
                }
            };
            let block_high = K::any_high(seen);
            high |= block_high;
            while mask != 0 {
                let at = b + mask.trailing_zeros() as usize;
                mask &= mask - 1;
                match buf[at] {
                    // A key candidate (escaped or not: the caller reads what follows it).
                    b'"' => {
                        if let Some(probe) = probe
                            && probe.is_at(buf, at)
                        {
                            carry.key(buf, line, at, probe);
                        }
                    }
                    b'\n' | b'\\' if at < carry.skip_to => {}
                    b'\n' => {
                        carry.non_ascii = high && !buf[line..at].is_ascii();
                        if !on_line(carry.finish(Some(at))) {
                            return;
                        }
                        line = at + 1;
                        carry = Carry::new(line, probes);
                        high = block_high;
                    }
                    b'\\' => carry.backslash(buf, at),
                    // A needle candidate, by its first tested byte (never one of the above).
                    _ => carry.needle_candidate(buf, line, at, probes),
                }
            }
            b += BLOCK;
        }
        // Every byte the kernel saw since the line's first block is in `high`; the last bytes,
        // too few for a whole block and its probe reach, are scanned without the kernel.
        carry.non_ascii = high && !buf[line..b.clamp(line, buf.len())].is_ascii();
        let scan = finish_portable(buf, line, b.clamp(line, buf.len()), probes, carry);
        if on_line(scan)
            && let Some(newline) = scan.newline
        {
            super::scan_lines_portable(buf, newline + 1, probes, on_line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe() -> KeyProbe {
        KeyProbe::new("eventName").unwrap()
    }

    fn key(p: &KeyProbe) -> ScanProbes<'_> {
        ScanProbes {
            key: Some(p),
            needles: &[],
        }
    }

    #[test]
    fn needle_probes_test_rare_bytes_first() {
        let p = NeedleProbe::new(b"requestParameters too large").unwrap();
        // `P`, then the two blanks after it.
        assert_eq!(p.tested_offsets(), [7, 17, 21]);
        let p = NeedleProbe::new(b"\"abc").unwrap();
        assert_eq!(p.tested_offsets()[0], 2, "never reported by a quote");
        assert_eq!(NeedleProbe::new(b"a").unwrap().tested_offsets(), [0]);
        for bad in [&b""[..], b"a\nb", b"\"\\"] {
            assert_eq!(NeedleProbe::new(bad), None, "{bad:?}");
        }
        let needles = [NeedleProbe::new(b"SendCommand").unwrap()];
        let probes = ScanProbes {
            key: None,
            needles: &needles,
        };
        let buf = b"{\"a\":\"xSendCommandx\"}\n{\"a\":\"SendComman\"}\n";
        let mut found = Vec::new();
        scan_lines(buf, 0, probes, &mut |l| {
            found.push(l.needle);
            true
        });
        assert_eq!(found, vec![Some(true), Some(false), Some(false)]);
        assert_eq!(scan_line(buf, 0, ScanProbes::default()).needle, None);
    }

    #[test]
    fn probes_pick_a_rare_inner_byte() {
        let p = probe();
        assert_eq!(p.quoted(), b"\"eventName\"");
        assert_eq!(p.quoted()[p.tested_index()], b'N');
        assert_eq!(p.key(), "eventName");
        assert_eq!(KeyProbe::new("a").unwrap().tested_index(), 1);
        for bad in ["", "a\"b", "a\\b", "tab\there", "é"] {
            assert_eq!(KeyProbe::new(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_line_reports_its_end_escapes_bytes_and_keys() {
        let line = br#"{"eventVersion":"1","eventName":"A","x":{"eventName":"\u0041"}}"#;
        let mut buf = line.to_vec();
        buf.extend_from_slice(b"\n{\"eventName\":\"B\"}");
        let p = probe();
        let scan = scan_line(&buf, 0, key(&p));
        assert_eq!(scan.newline, Some(line.len()));
        assert!(scan.escaped);
        assert!(!scan.non_ascii);
        assert_eq!(scan.keys, KeyHits::Several);
        let second = scan_line(&buf, line.len() + 1, key(&p));
        assert_eq!(second.newline, None);
        assert_eq!(second.keys, KeyHits::Once(1));
        assert_eq!(
            scan_line(&buf, 0, ScanProbes::default()).keys,
            KeyHits::NotLooked
        );
    }

    /// Lines built from the pieces that matter (newlines, backslash runs before `u`, `/`,
    /// `"` and newlines, keys whole and cut, bytes above 0x7f) at every alignment against the
    /// 64-byte blocks and the buffer's end: every kernel must agree with the portable scan.
    #[test]
    fn kernels_agree_with_the_portable_scan() {
        const PIECES: &[&[u8]] = &[
            b"\"eventName\"",
            b"\"eventName\":\"SendCommand\"",
            b"SendCommand",
            b"Name\" \\u",
            b"\"eventNam",
            b"eventName\"",
            b"\"event",
            b"Name\"",
            b"\\",
            b"\\\\",
            b"\\u",
            b"\\/",
            b"\\\"",
            b"\\\n",
            b"\n",
            b"\xc3\xa9",
            b"\xff",
            b"x",
            b"\"",
            b"N",
            b"abcdefghijklmnopqrstuvwxyz0123456789",
            b"                                                                ",
        ];
        let p = probe();
        // Needles made of the pieces, one reported by a byte the events also use (`N` of
        // the key probe), one longer than a block's reach so far.
        let needles: Vec<NeedleProbe> = [&b"SendCommand"[..], b"ventNa", b"xyz0", b"Name\" \\u"]
            .iter()
            .map(|n| NeedleProbe::new(n).unwrap())
            .collect();
        let mut rng = dragnet_testdata::Xorshift(0x9e37_79b9_7f4a_7c15);
        // Every line `scan` reports from `start`, stopping after `stop` lines.
        type Scan<'a> = &'a dyn Fn(&[u8], usize, ScanProbes<'_>, &mut dyn FnMut(LineScan) -> bool);
        let lines =
            |scan: Scan<'_>, buf: &[u8], start: usize, probes: ScanProbes<'_>, stop: usize| {
                let mut out = Vec::new();
                scan(buf, start, probes, &mut |line| {
                    out.push(line);
                    out.len() < stop
                });
                out
            };
        for case in 0..20_000 {
            let mut buf = Vec::new();
            let pieces = 1 + rng.below(80);
            for _ in 0..pieces {
                buf.extend_from_slice(PIECES[rng.below(PIECES.len())]);
            }
            let start = rng.below(buf.len().min(70) + 1);
            let stop = 1 + rng.below(6);
            let all = [
                ScanProbes::default(),
                key(&p),
                ScanProbes {
                    key: Some(&p),
                    needles: &needles,
                },
                ScanProbes {
                    key: None,
                    needles: &needles[..1],
                },
            ];
            for probe in all {
                let expected = lines(&scan_lines_portable, &buf, start, probe, stop);
                assert_eq!(scan_line(&buf, start, probe), expected[0]);
                for kernel in available_kernels() {
                    let with =
                        |b: &[u8],
                         s: usize,
                         p: ScanProbes<'_>,
                         f: &mut dyn FnMut(LineScan) -> bool| {
                            scan_lines_with(kernel, b, s, p, f)
                        };
                    let got = lines(&with, &buf, start, probe, stop);
                    assert_eq!(
                        got, expected,
                        "{kernel:?}, case {case}: {buf:?} from {start}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_value_after_a_key_found_once_is_read_when_plain() {
        let p = probe();
        let value = |line: &str| scan_line(line.as_bytes(), 0, key(&p)).key_value;
        assert_eq!(
            value(r#"{"eventName":"SendCommand","x":1}"#),
            Some((14, 11))
        );
        assert_eq!(value(r#"{"eventName" : "A"}"#), Some((16, 1)));
        assert_eq!(value(r#"{"eventName":""}"#), Some((14, 0)));
        // Not a plain string, or not one within the line and the lookahead: the consumer
        // reads the record itself.
        for other in [
            r#"{"eventName":5}"#,
            r#"{"eventName":"a\"b"}"#,
            r#"{"k":"eventName","x":1}"#,
            r#"{"eventName":"cut"#,
            "{\"eventName\":\"a\nb\"}",
        ] {
            assert_eq!(value(other), None, "{other}");
        }
        let long = format!(r#"{{"eventName":"{}"}}"#, "x".repeat(VALUE_LOOKAHEAD));
        assert_eq!(value(&long), None);
        let longest = format!(r#"{{"eventName":"{}"}}"#, "x".repeat(VALUE_LOOKAHEAD - 1));
        assert_eq!(value(&longest), Some((14, VALUE_LOOKAHEAD as u32 - 1)));
        // Several keys: none is read.
        assert_eq!(value(r#"{"eventName":"A","y":{"eventName":"B"}}"#), None);
    }

    #[test]
    fn the_portable_scan_follows_json_escapes() {
        let p = probe();
        let scan = |s: &[u8]| scan_line_portable(s, 0, key(&p));
        // An escaped backslash does not escape what follows it.
        assert!(!scan(br#"{"a":"\\u"}"#).escaped);
        assert!(scan(br#"{"a":"\\\u0041"}"#).escaped);
        assert!(scan(br#"{"a":"https:\/\/"}"#).escaped);
        // A backslash ending the buffer may begin any escape.
        assert!(scan(br#"{"a":"\"#).escaped);
        // A backslash consumes the newline after it.
        assert_eq!(scan(b"{\"a\":\"\\\n\"}\n").newline, Some(10));
        assert!(scan("{\"a\":\"é\"}".as_bytes()).non_ascii);
        // Bytes after the newline are not the line's.
        let s = scan(b"{\"a\":1}\n\"eventName\"\xff");
        assert!(!s.non_ascii);
        assert_eq!(s.keys, KeyHits::Absent);
    }
}
