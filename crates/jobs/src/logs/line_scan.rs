//! Counting whole lines in one pass over 64-byte blocks, with no branch per line or per match.
//!
//! Per block the scan builds, from SIMD compares, a newline mask and for each pattern a
//! candidate mask: the pattern's first byte here and its last byte where it would end. Which
//! lines hold a candidate is then pure arithmetic on the masks: with `R = !newlines` (runs of
//! 1s, one per piece of line) and the candidates `S ⊆ R`, the sum `R + S` carries out of every
//! run that holds a candidate into the newline ending it, so `popcount((R + S) & newlines)`
//! is the number of lines in the block with a candidate, and the carry out of bit 63 says
//! whether the unfinished line at the block's end has one (it is fed into the next block's
//! sum). Doing this for the union of patterns `0..=k`, for each `k`, gives the lines whose
//! first listed pattern is `k` as a difference of two such counts.
//!
//! Candidates are only first-and-last-byte matches, so they are verified, but not in the
//! block loop: a data-dependent branch or load there (one in four lines matches in common
//! logs) cost more than all the rest of the scan. The loop only notes the blocks that had a
//! candidate; after every [`CHUNK`] blocks a second, branch-light loop checks the first
//! candidate of each pattern in each noted block against the whole pattern. Only if one
//! fails, or a block holds two candidates of one pattern, are that chunk's candidates
//! visited one by one, and each line holding a false candidate is counted again exactly and
//! its count corrected. Lines, and counts per pattern, equal
//! [`LineCounter`](super::counter::LineCounter)'s search-based counting exactly; a test
//! compares the two on random text full of near misses.

use memchr::{memchr, memrchr};

use super::LogCounts;

/// The most patterns the one-pass scan handles; more fall back to one search per pattern.
pub(crate) const MAX_PATTERNS: usize = 4;

/// Bytes per block: one AVX-512 register, or two AVX2 registers; one bit each in a `u64`.
const BLOCK: usize = 64;

/// Blocks scanned between two verifications of their candidates: which of them had one fits
/// in the bits of a `u64`, and the chunk (4 KiB) is still in L1 when its candidates are
/// checked.
const CHUNK: usize = 64;

/// How far ahead of the chunk being scanned the scan asks for the bytes it will read: two
/// chunks (8 KiB), long enough for them to arrive from memory while two chunks are scanned,
/// as near as the hint pays (one chunk ahead gains less; four or eight, no more).
const PREFETCH_AHEAD: usize = 2 * CHUNK * BLOCK;

/// The patterns, prepared for the scan.
pub(crate) struct LineScan {
    patterns: Vec<Pattern>,
    /// Runs the scan for this many patterns; only [`crate::sys::simd`] can make one.
    kernel: Kernel,
}

/// A compiled scan over whole lines, updating the counts.
pub(crate) type Kernel = fn(&LineScan, &[u8], &mut LogCounts);

/// The vector width a [`Kernel`] is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Width {
    /// One 64-byte AVX-512 register per block (AVX-512BW).
    Avx512,
    /// Two 32-byte AVX2 registers per block.
    Avx2,
}

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

    /// Whether `at` is a candidate: the pattern's first byte there and its last byte where it
    /// would end (what the block masks test).
    fn is_candidate_at(&self, hay: &[u8], at: usize) -> bool {
        hay[at] == self.bytes[0] && hay.get(at + self.last) == Some(&self.bytes[self.last])
    }
}

impl LineScan {
    /// A scan for `patterns` (each non-empty, without a newline), or `None` when this CPU
    /// cannot run it or there are more than [`MAX_PATTERNS`] (or none).
    pub(crate) fn new(patterns: &[Vec<u8>]) -> Option<Self> {
        let kernel = crate::sys::simd::line_scan_kernel(patterns.len())?;
        Some(Self::with_kernel(patterns, kernel))
    }

    /// A scan of the given width, or `None` when this CPU cannot run it: for tests, which
    /// check every width the CPU has.
    #[cfg(test)]
    pub(crate) fn with_width(patterns: &[Vec<u8>], width: Width) -> Option<Self> {
        let kernel = crate::sys::simd::line_scan_kernel_of(patterns.len(), width)?;
        Some(Self::with_kernel(patterns, kernel))
    }

    fn with_kernel(patterns: &[Vec<u8>], kernel: Kernel) -> Self {
        LineScan {
            patterns: patterns.iter().map(|p| Pattern::new(p)).collect(),
            kernel,
        }
    }

    /// Counts `body`, whole lines each ending with a newline (or nothing at all): every line
    /// in `counts.lines`, and in `counts.counts[k]` the lines whose first listed pattern found
    /// in them is `k`.
    pub(crate) fn count(&self, body: &[u8], counts: &mut LogCounts) {
        (self.kernel)(self, body, counts)
    }

    /// The scan for exactly `N` patterns, one AVX-512 register per block.
    ///
    /// Its body is safe code; it is a `target_feature` function only so that the intrinsics
    /// compile to AVX-512, and may run only where the CPU has AVX-512BW, POPCNT and BMI1.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512bw,popcnt,bmi1")]
    pub(crate) fn avx512<const N: usize>(&self, body: &[u8], counts: &mut LogCounts) {
        use std::arch::x86_64::{
            __m512i, _mm512_cmpeq_epi8_mask, _mm512_mask_cmpeq_epi8_mask, _mm512_set1_epi8,
        };
        let pats: &[Pattern; N] = self.patterns.as_slice().try_into().expect("N patterns");
        let newline = _mm512_set1_epi8(b'\n' as i8);
        let firsts: [__m512i; N] =
            std::array::from_fn(|k| _mm512_set1_epi8(pats[k].bytes[0] as i8));
        let lasts: [__m512i; N] =
            std::array::from_fn(|k| _mm512_set1_epi8(pats[k].bytes[pats[k].last] as i8));
        let load = |from: &[u8]| -> __m512i { bytemuck::pod_read_unaligned(&from[..BLOCK]) };
        self.count_blocks::<N>(body, counts, |block, ends| {
            let here = load(block);
            let candidates = std::array::from_fn(|k| {
                let first = _mm512_cmpeq_epi8_mask(here, firsts[k]);
                _mm512_mask_cmpeq_epi8_mask(first, load(ends[k]), lasts[k])
            });
            (_mm512_cmpeq_epi8_mask(here, newline), candidates)
        })
    }

    /// The scan for exactly `N` patterns, two AVX2 registers per block.
    ///
    /// Its body is safe code; it is a `target_feature` function only so that the intrinsics
    /// compile to AVX2, and may run only where the CPU has AVX2, POPCNT and BMI1.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt,bmi1")]
    pub(crate) fn avx2<const N: usize>(&self, body: &[u8], counts: &mut LogCounts) {
        use std::arch::x86_64::{
            __m256i, _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_movemask_epi8, _mm256_set1_epi8,
        };
        const HALF: usize = BLOCK / 2;
        let pats: &[Pattern; N] = self.patterns.as_slice().try_into().expect("N patterns");
        let newline = _mm256_set1_epi8(b'\n' as i8);
        let firsts: [__m256i; N] =
            std::array::from_fn(|k| _mm256_set1_epi8(pats[k].bytes[0] as i8));
        let lasts: [__m256i; N] =
            std::array::from_fn(|k| _mm256_set1_epi8(pats[k].bytes[pats[k].last] as i8));
        let load = |from: &[u8]| -> __m256i { bytemuck::pod_read_unaligned(&from[..HALF]) };
        // The 64-bit mask of two 32-byte halves.
        let mask = |low: __m256i, high: __m256i| -> u64 {
            u64::from(_mm256_movemask_epi8(low) as u32)
                | u64::from(_mm256_movemask_epi8(high) as u32) << HALF
        };
        self.count_blocks::<N>(body, counts, |block, ends| {
            let (low, high) = (load(block), load(&block[HALF..]));
            let candidates = std::array::from_fn(|k| {
                let (end_low, end_high) = (load(ends[k]), load(&ends[k][HALF..]));
                mask(
                    _mm256_and_si256(
                        _mm256_cmpeq_epi8(low, firsts[k]),
                        _mm256_cmpeq_epi8(end_low, lasts[k]),
                    ),
                    _mm256_and_si256(
                        _mm256_cmpeq_epi8(high, firsts[k]),
                        _mm256_cmpeq_epi8(end_high, lasts[k]),
                    ),
                )
            });
            let newlines = mask(
                _mm256_cmpeq_epi8(low, newline),
                _mm256_cmpeq_epi8(high, newline),
            );
            (newlines, candidates)
        })
    }

    /// The scan itself, for any width: `masks(block, ends)` gives, for a block and for each
    /// pattern the block as far past it as the pattern's last byte, the newline mask and each
    /// pattern's candidate mask.
    #[inline(always)]
    fn count_blocks<const N: usize>(
        &self,
        body: &[u8],
        counts: &mut LogCounts,
        masks: impl Fn(&[u8], [&[u8]; N]) -> (u64, [u64; N]),
    ) {
        let pats: &[Pattern; N] = self.patterns.as_slice().try_into().expect("N patterns");
        let reach = pats.iter().map(|p| p.last).max().unwrap_or(0);
        // Blocks run while every candidate's last byte is inside `body`; the rest is the tail.
        let stop = body.len().saturating_sub(reach) / BLOCK * BLOCK;
        // Per `k`: lines holding a candidate of a pattern in `0..=k`, and whether the line
        // not yet ended holds one (the carry into the next block).
        let mut hits = [0u64; N];
        let mut carry = [0u64; N];
        let mut lines = 0u64;
        // Per pattern (and one for none): what correcting lines with false candidates
        // changed.
        let mut fixes = [0i64; MAX_PATTERNS + 1];
        let mut fixed_until = 0;
        let mut noted = [0usize; CHUNK];
        // The blocks, and for each pattern the bytes its last byte is compared with: all
        // `stop` long, and walked in steps of a block without an index to check.
        let blocks = &body[..stop];
        let ends: [&[u8]; N] =
            std::array::from_fn(|k| &body[pats[k].last.min(body.len())..][..stop]);
        let mut at = 0;
        while at < stop {
            let chunk_start = at;
            let chunk_end = (at + CHUNK * BLOCK).min(stop);
            let ahead = (chunk_start + PREFETCH_AHEAD).min(body.len());
            crate::sys::simd::prefetch(&body[ahead..(ahead + CHUNK * BLOCK).min(body.len())]);
            // The block loop's sums, in registers. Bit `j` from the top of `with_candidates`:
            // block `j` of the chunk had a candidate (a bit, not a store per block).
            let mut with_candidates = 0u64;
            let mut chunk_hits = [0u64; N];
            let mut chunk_lines = 0u64;
            let mut end_blocks: [std::slice::ChunksExact<'_, u8>; N] =
                std::array::from_fn(|k| ends[k][chunk_start..chunk_end].chunks_exact(BLOCK));
            for block in blocks[chunk_start..chunk_end].chunks_exact(BLOCK) {
                let (newlines, candidates) = masks(
                    block,
                    std::array::from_fn(|k| end_blocks[k].next().unwrap_or_default()),
                );
                let mut union = 0;
                for k in 0..N {
                    union |= candidates[k];
                    // The carry in is added as a candidate at bit 0: the same carry-out,
                    // and at a newline in bit 0 the same count.
                    let (sum, out) = (!newlines).overflowing_add(union | carry[k]);
                    chunk_hits[k] += u64::from((sum & newlines).count_ones());
                    carry[k] = u64::from(out);
                }
                with_candidates = with_candidates << 1 | u64::from(union != 0);
                chunk_lines += u64::from(newlines.count_ones());
            }
            at = chunk_end;
            for (hit, chunk_hit) in hits.iter_mut().zip(chunk_hits) {
                *hit += chunk_hit;
            }
            lines += chunk_lines;
            // Back to bit `j` for block `j`.
            with_candidates <<= CHUNK - (at - chunk_start) / BLOCK;
            with_candidates = with_candidates.reverse_bits();
            let mut n = 0;
            while with_candidates != 0 {
                noted[n] = chunk_start + BLOCK * with_candidates.trailing_zeros() as usize;
                with_candidates &= with_candidates - 1;
                n += 1;
            }
            let noted = &noted[..n];
            if self.any_suspect::<N>(body, noted, &masks) {
                fixed_until =
                    self.correct_false::<N>(body, noted, &masks, stop, fixed_until, &mut fixes);
            }
        }
        // The tail, byte by byte, exactly; its first line may have begun in the blocks.
        let mut best = (0..N).find(|&k| carry[k] != 0).unwrap_or(N);
        for i in stop..body.len() {
            if body[i] == b'\n' {
                lines += 1;
                for hit in &mut hits[best..] {
                    *hit += 1;
                }
                best = N;
            } else if let Some(k) = (0..best).find(|&k| pats[k].is_at(body, i)) {
                best = k;
            }
        }
        counts.lines += lines;
        let mut below = 0;
        for (k, &hit) in hits.iter().enumerate() {
            let count = (hit - below) as i64 + fixes[k];
            debug_assert!(count >= 0, "pattern {k}: {count} lines after corrections");
            counts.counts[k] += count as u64;
            below = hit;
        }
    }

    /// Where each pattern's last byte would be for a candidate in the block at `at`: the
    /// blocks `masks` compares with the patterns' last bytes.
    #[inline(always)]
    fn ends_at<'b, const N: usize>(&self, body: &'b [u8], at: usize) -> [&'b [u8]; N] {
        std::array::from_fn(|k| &body[at + self.patterns[k].last..][..BLOCK])
    }

    /// Whether a noted block may hold a false candidate: its first candidate of some pattern
    /// is not the whole pattern, or it holds two of one pattern (not checked here). A loop of
    /// loads and compares without a data-dependent branch.
    #[inline(always)]
    fn any_suspect<const N: usize>(
        &self,
        body: &[u8],
        noted: &[usize],
        masks: &impl Fn(&[u8], [&[u8]; N]) -> (u64, [u64; N]),
    ) -> bool {
        let pats: &[Pattern; N] = self.patterns.as_slice().try_into().expect("N patterns");
        let mut suspect = false;
        for &at in noted {
            let (_, candidates) = masks(&body[at..at + BLOCK], self.ends_at(body, at));
            for k in 0..N {
                let c = candidates[k];
                // With no candidate, bit 0 is checked and ignored.
                let first = at + (c.trailing_zeros() as usize & (BLOCK - 1));
                suspect |= (c != 0) & !pats[k].is_at(body, first);
                suspect |= c & c.wrapping_sub(1) != 0;
            }
        }
        suspect
    }

    /// Visits the noted blocks' candidates in order and corrects the count of each line that
    /// holds a false one (once per line: lines up to `fixed_until` are done). Returns the new
    /// `fixed_until`.
    #[cold]
    #[allow(clippy::too_many_arguments)]
    fn correct_false<const N: usize>(
        &self,
        body: &[u8],
        noted: &[usize],
        masks: &impl Fn(&[u8], [&[u8]; N]) -> (u64, [u64; N]),
        stop: usize,
        mut fixed_until: usize,
        fixes: &mut [i64; MAX_PATTERNS + 1],
    ) -> usize {
        for &at in noted {
            let (_, candidates) = masks(&body[at..at + BLOCK], self.ends_at(body, at));
            let mut all = candidates.iter().fold(0, |all, &c| all | c);
            while all != 0 {
                let bit = all.trailing_zeros();
                all &= all - 1;
                let p = at + bit as usize;
                let false_one = (0..N)
                    .any(|k| candidates[k] >> bit & 1 == 1 && !self.patterns[k].is_at(body, p));
                if false_one && p >= fixed_until {
                    fixed_until = self.recount_line(body, p, stop, fixes);
                }
            }
        }
        fixed_until
    }

    /// For the line holding position `p`: takes back what the scan counted it as (its first
    /// pattern with a candidate before `stop`, or a whole match from `stop` on, where the
    /// tail is matched exactly) and counts what it is. Returns where the line ends.
    fn recount_line(
        &self,
        body: &[u8],
        p: usize,
        stop: usize,
        fixes: &mut [i64; MAX_PATTERNS + 1],
    ) -> usize {
        let start = memrchr(b'\n', &body[..p]).map_or(0, |i| i + 1);
        let end = p + memchr(b'\n', &body[p..]).expect("whole lines end with a newline");
        let pats = &self.patterns;
        let first_pattern = |found: &dyn Fn(&Pattern, usize) -> bool| {
            (0..pats.len())
                .find(|&k| (start..end).any(|q| found(&pats[k], q)))
                .unwrap_or(pats.len())
        };
        let counted = first_pattern(&|pat, q| {
            if q < stop {
                pat.is_candidate_at(body, q)
            } else {
                pat.is_at(body, q)
            }
        });
        let actual = first_pattern(&|pat, q| pat.is_at(body, q));
        fixes[counted] -= 1;
        fixes[actual] += 1;
        end
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

    /// Text made of the patterns, their halves, near misses (first and last byte right),
    /// filler runs that make lines span several blocks, and newlines (including `\r\n` and
    /// empty lines); it ends with a newline.
    fn text(rng: &mut Rng, patterns: &[Vec<u8>], len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 64);
        while out.len() < len {
            match pick(rng, 11) {
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
                // A near miss the block masks cannot tell from a match: the first and last
                // bytes right, one byte between them wrong.
                8 => {
                    let mut near = patterns[pick(rng, patterns.len())].clone();
                    if near.len() > 2 {
                        let inner = 1 + pick(rng, near.len() - 2);
                        near[inner] ^= 0x20;
                    }
                    out.extend_from_slice(&near);
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

    /// The widths this CPU runs, naming those it cannot.
    fn widths() -> Vec<Width> {
        [Width::Avx512, Width::Avx2]
            .into_iter()
            .filter(|&width| {
                let runs = LineScan::with_width(&[b"x".to_vec()], width).is_some();
                if !runs {
                    eprintln!("no {width:?} on this CPU: that scan is not tested here");
                }
                runs
            })
            .collect()
    }

    #[test]
    fn one_pass_counts_equal_the_search_on_random_text() {
        for width in widths() {
            one_pass_equals_the_search(width);
        }
    }

    fn one_pass_equals_the_search(width: Width) {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for patterns in sets() {
            let scan = LineScan::with_width(&patterns, width).expect("1 to 4 patterns");
            let set = LogPatterns::new(patterns.clone()).unwrap();
            // Up to three chunks of blocks, so candidates are checked across chunk ends too.
            let sizes = [0, 1, 31, 32, 33, 64, 200, 1000, 4000, 9000, 20000];
            for case in 0..440 {
                let len = sizes[case % sizes.len()] + pick(&mut rng, 40);
                let body = text(&mut rng, &patterns, len);
                let mut got = LogCounts::new(patterns.len());
                scan.count(&body, &mut got);
                let want = search_reference(&set, &body);
                assert_eq!(
                    (got.lines, &got.counts),
                    (want.lines, &want.counts),
                    "{width:?}, patterns {patterns:?}, case {case}, text {:?}",
                    String::from_utf8_lossy(&body)
                );
            }
        }
    }

    #[test]
    fn empty_and_tiny_bodies() {
        let patterns = vec![b"ERROR".to_vec(), b"WARNING".to_vec()];
        for width in widths() {
            let scan = LineScan::with_width(&patterns, width).expect("2 patterns");
            tiny_bodies(&scan);
        }
    }

    fn tiny_bodies(scan: &LineScan) {
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
