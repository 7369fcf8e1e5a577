//! Counting whole lines in one pass: newlines and every pattern's candidates from the same
//! 32-byte loads (AVX2), instead of one SIMD pass for newlines and one per pattern.
//!
//! Per block of 32 bytes the scan builds a newline mask and, for each pattern, a candidate
//! mask: the pattern's first byte here and its last byte where it would end. It steps two
//! blocks at a time, and most steps have no candidate and cost one popcount. A candidate is checked against the whole pattern; the
//! first real match in a line decides it (or, if it is not the first pattern, the rest of the
//! line is searched for an earlier one), and the scan jumps to the line's end, so a matching
//! line is never looked at twice. Lines, and counts per pattern, equal
//! [`LineCounter`](super::counter::LineCounter)'s search-based counting exactly; a test
//! compares the two on random text.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m256i, _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_movemask_epi8, _mm256_or_si256,
    _mm256_set1_epi8, _mm256_setzero_si256,
};

use super::LogCounts;

/// The most patterns the one-pass scan handles; more fall back to one search per pattern.
pub(crate) const MAX_PATTERNS: usize = 4;

/// Bytes per block: one AVX2 register.
const BLOCK: usize = 32;

/// The patterns, prepared for the scan.
pub(crate) struct LineScan {
    patterns: Vec<Pattern>,
    /// Runs the scan for this many patterns; only [`crate::sys::simd`] can make one.
    kernel: Kernel,
}

/// A compiled scan over whole lines, updating the counts.
pub(crate) type Kernel = fn(&LineScan, &[u8], &mut LogCounts);

struct Pattern {
    bytes: Vec<u8>,
    /// Offset of the last byte, the second byte a candidate must match.
    last: usize,
    /// The first 8 bytes (zero-padded) and a mask of the pattern's bytes among them, for a
    /// one-word comparison of short patterns.
    word: u64,
    mask: u64,
}

impl Pattern {
    fn new(bytes: &[u8]) -> Self {
        let mut word = [0u8; 8];
        let head = bytes.len().min(8);
        word[..head].copy_from_slice(&bytes[..head]);
        Pattern {
            bytes: bytes.to_vec(),
            last: bytes.len() - 1,
            word: u64::from_le_bytes(word),
            mask: u64::MAX >> (8 * (8 - head)),
        }
    }

    /// Whether the pattern occurs at `at` in `hay`.
    #[inline(always)]
    fn is_at(&self, hay: &[u8], at: usize) -> bool {
        match hay.get(at..at + 8) {
            Some(word) if self.bytes.len() <= 8 => {
                let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
                (word ^ self.word) & self.mask == 0
            }
            _ => hay[at..].starts_with(&self.bytes),
        }
    }
}

impl LineScan {
    /// A scan for `patterns` (each non-empty, without a newline), or `None` when this CPU
    /// cannot run it or there are more than [`MAX_PATTERNS`] (or none).
    pub(crate) fn new(patterns: &[Vec<u8>]) -> Option<Self> {
        let kernel = crate::sys::simd::line_scan_kernel(patterns.len())?;
        Some(LineScan {
            patterns: patterns.iter().map(|p| Pattern::new(p)).collect(),
            kernel,
        })
    }

    /// Counts `body`, whole lines each ending with a newline (or nothing at all): every line
    /// in `counts.lines`, and in `counts.counts[k]` the lines whose first listed pattern found
    /// in them is `k`.
    pub(crate) fn count(&self, body: &[u8], counts: &mut LogCounts) {
        (self.kernel)(self, body, counts)
    }

    /// The scan for exactly `N` patterns.
    ///
    /// Its body is safe code; it is a `target_feature` function only so that the intrinsics
    /// compile to AVX2, and may run only where the CPU has AVX2, POPCNT and BMI1.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt,bmi1")]
    pub(crate) fn avx2<const N: usize>(&self, body: &[u8], counts: &mut LogCounts) {
        let pats: &[Pattern; N] = self.patterns.as_slice().try_into().expect("N patterns");
        let reach = pats.iter().map(|p| p.last).max().unwrap_or(0);
        let newline = _mm256_set1_epi8(b'\n' as i8);
        let firsts: [__m256i; N] =
            std::array::from_fn(|k| _mm256_set1_epi8(pats[k].bytes[0] as i8));
        let lasts: [__m256i; N] =
            std::array::from_fn(|k| _mm256_set1_epi8(pats[k].bytes[pats[k].last] as i8));
        let load = |at: usize| -> __m256i { bytemuck::pod_read_unaligned(&body[at..at + BLOCK]) };
        // The newline mask of the block at `at`, and the candidates of patterns `0..upto`.
        let block = |at: usize, upto: usize| -> (u32, u32) {
            let here = load(at);
            let mut any = _mm256_setzero_si256();
            for k in 0..upto.min(N) {
                let there = load(at + pats[k].last);
                let first = _mm256_cmpeq_epi8(here, firsts[k]);
                let last = _mm256_cmpeq_epi8(there, lasts[k]);
                any = _mm256_or_si256(any, _mm256_and_si256(first, last));
            }
            let newlines = _mm256_movemask_epi8(_mm256_cmpeq_epi8(here, newline)) as u32;
            (newlines, _mm256_movemask_epi8(any) as u32)
        };
        // Whole blocks can be loaded while the furthest candidate check stays inside `body`.
        let fits = |at: usize| at + BLOCK + reach <= body.len();
        let mut lines = 0u64;
        let mut at = 0;
        // Two blocks per step: most steps find no candidate and cost a popcount.
        'blocks: while fits(at + BLOCK) {
            let (low_newlines, low_candidates) = block(at, N);
            let (high_newlines, high_candidates) = block(at + BLOCK, N);
            let newlines = u64::from(low_newlines) | u64::from(high_newlines) << 32;
            let mut candidates = u64::from(low_candidates) | u64::from(high_candidates) << 32;
            while candidates != 0 {
                let offset = candidates.trailing_zeros() as usize;
                candidates &= candidates - 1;
                let start = at + offset;
                let Some(found) = (0..N).find(|&k| pats[k].is_at(body, start)) else {
                    continue;
                };
                // The first match of its line (any earlier one would have been found first).
                lines += u64::from((newlines & ((1 << offset) - 1)).count_ones());
                let (end, best) = self.finish_line::<N>(body, start, found, &block, &fits);
                counts.counts[best] += 1;
                lines += 1;
                at = end + 1;
                continue 'blocks;
            }
            lines += u64::from(newlines.count_ones());
            at += 2 * BLOCK;
        }
        // The last few bytes, byte by byte; no match was found yet in the line they continue.
        let mut best = N;
        for i in at..body.len() {
            if body[i] == b'\n' {
                lines += 1;
                if best < N {
                    counts.counts[best] += 1;
                }
                best = N;
            } else if let Some(k) = (0..best).find(|&k| pats[k].is_at(body, i)) {
                best = k;
            }
        }
        counts.lines += lines;
    }

    /// The rest of a line in which pattern `found` was the first match, at `start`: where the
    /// line ends, and the first listed pattern in it (an earlier one may still follow).
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn finish_line<const N: usize>(
        &self,
        body: &[u8],
        start: usize,
        found: usize,
        block: &impl Fn(usize, usize) -> (u32, u32),
        fits: &impl Fn(usize) -> bool,
    ) -> (usize, usize) {
        let pats = &self.patterns;
        let mut best = found;
        let mut at = start + 1;
        while fits(at) {
            let (newlines, mut candidates) = block(at, best);
            if newlines != 0 {
                candidates &= (1 << newlines.trailing_zeros()) - 1;
            }
            while candidates != 0 {
                let i = at + candidates.trailing_zeros() as usize;
                candidates &= candidates - 1;
                if let Some(k) = (0..best).find(|&k| pats[k].is_at(body, i)) {
                    best = k;
                }
            }
            if newlines != 0 {
                return (at + newlines.trailing_zeros() as usize, best);
            }
            at += BLOCK;
        }
        // Near the end of `body`, which ends with a newline.
        while body[at] != b'\n' {
            if let Some(k) = (0..best).find(|&k| pats[k].is_at(body, at)) {
                best = k;
            }
            at += 1;
        }
        (at, best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::LogPatterns;
    use crate::logs::counter::search_reference;
    use crate::logs::test_rng::Rng;

    /// A number in `0..n`.
    fn pick(rng: &mut Rng, n: usize) -> usize {
        rng.below(n as u64) as usize
    }

    /// Text made of the patterns, their halves, near misses, filler runs that make lines span
    /// several blocks, and newlines (including `\r\n` and empty lines); it ends with a newline.
    fn text(rng: &mut Rng, patterns: &[Vec<u8>], len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 64);
        while out.len() < len {
            match pick(rng, 10) {
                0 | 1 => out.push(b'\n'),
                2 => out.extend_from_slice(b"\r\n"),
                3 | 4 => out.extend_from_slice(&patterns[pick(rng, patterns.len())]),
                5 => {
                    let p = &patterns[pick(rng, patterns.len())];
                    let cut = pick(rng, p.len());
                    out.extend_from_slice(if pick(rng, 2) == 0 {
                        &p[..cut]
                    } else {
                        &p[cut..]
                    });
                }
                6 => {
                    let run = pick(rng, 90);
                    out.extend(std::iter::repeat_n(b'.', run));
                }
                _ => {
                    let alphabet = b"ERWANIGOabx \t\xff";
                    out.push(alphabet[pick(rng, alphabet.len())]);
                }
            }
        }
        out.push(b'\n');
        out
    }

    fn sets() -> Vec<Vec<Vec<u8>>> {
        let set = |ps: &[&[u8]]| ps.iter().map(|p| p.to_vec()).collect::<Vec<_>>();
        vec![
            set(&[b"ERROR", b"WARNING"]),
            set(&[b"WARNING", b"ERROR"]),
            set(&[b"E"]),
            set(&[b"AB", b"BA", b"ABA"]),
            set(&[b"a", b"aa"]),
            set(&[b"aa", b"a", b"x", b"\r"]),
            set(&[b"ERRORS AND WARNINGS", b"RR"]),
            set(&[b"..........................................x", b"."]),
            set(&[b"\xff\xff", b"NIG"]),
        ]
    }

    #[test]
    fn one_pass_counts_equal_the_search_on_random_text() {
        if LineScan::new(&[b"x".to_vec()]).is_none() {
            eprintln!("no AVX2 on this CPU: the one-pass scan is not used here");
            return;
        }
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for patterns in sets() {
            let scan = LineScan::new(&patterns).expect("1 to 4 patterns");
            let set = LogPatterns::new(patterns.clone()).unwrap();
            for case in 0..400 {
                let len = [0, 1, 31, 32, 33, 64, 200, 1000, 4000][case % 9] + pick(&mut rng, 40);
                let body = text(&mut rng, &patterns, len);
                let mut got = LogCounts::new(patterns.len());
                scan.count(&body, &mut got);
                let want = search_reference(&set, &body);
                assert_eq!(
                    (got.lines, &got.counts),
                    (want.lines, &want.counts),
                    "patterns {patterns:?}, case {case}, text {:?}",
                    String::from_utf8_lossy(&body)
                );
            }
        }
    }

    #[test]
    fn empty_and_tiny_bodies() {
        let patterns = vec![b"ERROR".to_vec(), b"WARNING".to_vec()];
        let Some(scan) = LineScan::new(&patterns) else {
            return;
        };
        for (body, lines, counts) in [
            (&b""[..], 0, [0, 0]),
            (b"\n", 1, [0, 0]),
            (b"ERROR\n", 1, [1, 0]),
            (b"WARNING ERROR\nWARNING\n\n", 3, [1, 1]),
        ] {
            let mut got = LogCounts::new(2);
            scan.count(body, &mut got);
            assert_eq!((got.lines, got.counts.as_slice()), (lines, &counts[..]));
        }
    }

    #[test]
    fn more_patterns_than_the_scan_takes_fall_back() {
        let five: Vec<Vec<u8>> = (b'a'..=b'e').map(|c| vec![c]).collect();
        assert!(LineScan::new(&five).is_none());
        assert!(LineScan::new(&[]).is_none());
    }
}
