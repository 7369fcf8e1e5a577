//! The line counter: pure byte crunching over a stream fed in pieces, no I/O.
//!
//! It never walks lines one by one. The complete lines of a piece go, where the CPU has
//! AVX-512BW or AVX2 and there are at most four patterns, through [`LineScan`]: one SIMD pass
//! that finds newlines and every pattern's candidates together and counts the lines holding
//! them by arithmetic on the masks, without a branch per line or per match. Otherwise it counts newlines with `memchr` and runs one `memmem` search per
//! pattern over all the complete lines at once, looking individually only at the lines a
//! search hits. Either way the cost is SIMD passes over the data, which is what lets it beat
//! ripgrep.

use memchr::memmem::Finder;
use memchr::{memchr, memchr_iter, memrchr};

use super::LogCounts;
use super::line_scan::LineScan;
use super::patterns::LogPatterns;

/// Counts lines, and lines per pattern, over bytes fed in order by [`LineCounter::feed`].
///
/// A line may span any number of pieces: the counter keeps, instead of the line, the lowest
/// pattern index seen in it so far, and the caller re-feeds the line's last few bytes
/// ([`LineCounter::overlap`]) so that a match cut in two by a piece boundary is still found.
pub(crate) struct LineCounter {
    finders: Vec<Finder<'static>>,
    /// The one-pass scan of whole lines, where the CPU and the number of patterns allow it.
    scan: Option<LineScan>,
    counts: LogCounts,
    /// Whether the current line has bytes but no newline yet.
    partial: bool,
    /// Lowest pattern index found in the current partial line; `finders.len()` for none.
    best: usize,
}

impl LineCounter {
    /// A counter for `patterns`, which must have passed [`LogPatterns::validate`]: the search
    /// relies on no pattern being empty or containing a newline.
    pub(crate) fn new(patterns: &LogPatterns) -> Self {
        let finders: Vec<_> = patterns
            .patterns
            .iter()
            .map(|p| Finder::new(p).into_owned())
            .collect();
        LineCounter {
            scan: LineScan::new(&patterns.patterns),
            counts: LogCounts::new(finders.len()),
            best: finders.len(),
            finders,
            partial: false,
        }
    }

    /// How many trailing bytes of an unfinished line must be fed again with the next piece:
    /// one less than the longest pattern, the most a match can have on either side of a cut.
    pub(crate) fn overlap(patterns: &LogPatterns) -> usize {
        patterns.max_len().saturating_sub(1)
    }

    /// Counts `hay[carried..]`, new bytes that follow all bytes fed before. `hay[..carried]`
    /// must be the last bytes of the current unfinished line, fed before and given again only
    /// to be searched; they contain no newline.
    ///
    /// Returns how many bytes at the end of `hay` belong to the line still unfinished (0 when
    /// `hay` ends with a newline); the caller keeps up to [`LineCounter::overlap`] of them.
    pub(crate) fn feed(&mut self, hay: &[u8], carried: usize) -> usize {
        let fresh = &hay[carried..];
        self.counts.bytes += fresh.len() as u64;
        let Some(first_nl) = memchr(b'\n', fresh) else {
            if !fresh.is_empty() {
                self.partial = true;
                self.best = self.best_in(hay, self.best);
            }
            return hay.len();
        };
        // The first line may have begun in earlier pieces, so it carries state: count it alone.
        let first_nl = carried + first_nl;
        let best = self.best_in(&hay[..first_nl], self.best);
        self.end_line(best);
        let last_nl = carried + memrchr(b'\n', fresh).expect("fresh has a newline");
        self.count_lines(&hay[first_nl + 1..=last_nl]);
        let tail = &hay[last_nl + 1..];
        if !tail.is_empty() {
            self.partial = true;
            self.best = self.best_in(tail, self.best);
        }
        tail.len()
    }

    /// Ends the stream: a last line without a newline still counts.
    pub(crate) fn finish(mut self) -> LogCounts {
        if self.partial {
            self.end_line(self.best);
        }
        self.counts
    }

    /// The lowest pattern index below `limit` found in `hay`, or `limit`.
    fn best_in(&self, hay: &[u8], limit: usize) -> usize {
        (0..limit)
            .find(|&k| self.finders[k].find(hay).is_some())
            .unwrap_or(limit)
    }

    fn end_line(&mut self, best: usize) {
        self.counts.lines += 1;
        if let Some(count) = self.counts.counts.get_mut(best) {
            *count += 1;
        }
        self.partial = false;
        self.best = self.finders.len();
    }

    /// Counts `body`, whole lines each ending with a newline (or nothing at all): in one pass
    /// where [`LineScan`] can run, else by [`LineCounter::search_lines`]. Both count the same.
    fn count_lines(&mut self, body: &[u8]) {
        match &self.scan {
            Some(scan) => scan.count(body, &mut self.counts),
            None => self.search_lines(body),
        }
    }

    /// [`LineCounter::count_lines`] by one search per pattern over the whole body.
    ///
    /// A line hit by pattern `k` counts for `k` unless it also contains an earlier pattern,
    /// checked within that line only; the search then resumes after the line, so each line
    /// counts at most once per pattern, and over all patterns exactly once for its lowest one.
    pub(crate) fn search_lines(&mut self, body: &[u8]) {
        self.counts.lines += memchr_iter(b'\n', body).count() as u64;
        for k in 0..self.finders.len() {
            let (earlier, rest) = self.finders.split_at(k);
            let finder = &rest[0];
            // `pos` is always the start of a line, which bounds the backward scan below.
            let mut pos = 0;
            while let Some(found) = finder.find(&body[pos..]) {
                let at = pos + found;
                // No pattern contains a newline, so the match ends inside this line.
                let end = at + memchr(b'\n', &body[at..]).expect("body ends with a newline");
                // The line's start matters only if an earlier pattern could be in it (a
                // quarter of all lines match in common logs: skip the backward scan for the
                // first pattern).
                let shadowed = !earlier.is_empty() && {
                    let start = memrchr(b'\n', &body[pos..at]).map_or(pos, |i| pos + i + 1);
                    let line = &body[start..end];
                    earlier.iter().any(|f| f.find(line).is_some())
                };
                if !shadowed {
                    self.counts.counts[k] += 1;
                }
                pos = end + 1;
            }
        }
    }
}

/// Counts whole lines by the per-pattern search alone, as the reference the one-pass scan is
/// tested against.
#[cfg(test)]
pub(crate) fn search_reference(patterns: &LogPatterns, body: &[u8]) -> LogCounts {
    let mut counter = LineCounter::new(patterns);
    counter.search_lines(body);
    counter.counts
}
