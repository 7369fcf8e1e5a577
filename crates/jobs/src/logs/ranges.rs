//! Splitting big log files into byte ranges that different workers can count independently.

/// The range that means "the whole stream, however long": how a gzip file (never split) is
/// counted, since its decompressed length is unknown until it has been read.
pub const WHOLE_STREAM: (u64, u64) = (0, u64::MAX);

/// Plans the ranges one file is counted in, in file order.
///
/// A plain file larger than `target` bytes becomes `ceil(size / target)` ranges of nearly equal
/// length (`[start, end)`, the first starting at 0, each starting where the previous ended, the
/// last ending at `size`); any other plain file, empty ones included, is one range `(0, size)`.
/// Ranges cut at arbitrary bytes: [`count_range`](super::count_range) gives each line to the
/// range holding its first byte, so the counts of the ranges add up to those of the file.
///
/// A gzip file is never split (deflate streams cannot be entered in the middle) and gets
/// [`WHOLE_STREAM`]. A `target` of 0 means "never split".
pub fn plan_ranges(size: u64, gzip: bool, target: u64) -> Vec<(u64, u64)> {
    if gzip {
        return vec![WHOLE_STREAM];
    }
    if target == 0 || size <= target {
        return vec![(0, size)];
    }
    let parts = size.div_ceil(target);
    // Boundaries at i * size / parts spread the remainder evenly; u128 keeps the product exact.
    let boundary = |i: u64| (u128::from(i) * u128::from(size) / u128::from(parts)) as u64;
    (0..parts).map(|i| (boundary(i), boundary(i + 1))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_covers(ranges: &[(u64, u64)], size: u64) {
        assert_eq!(ranges.first().unwrap().0, 0);
        assert_eq!(ranges.last().unwrap().1, size);
        for pair in ranges.windows(2) {
            assert_eq!(pair[0].1, pair[1].0, "{ranges:?}");
        }
    }

    #[test]
    fn small_and_empty_files_are_one_range() {
        assert_eq!(plan_ranges(0, false, 10), [(0, 0)]);
        assert_eq!(plan_ranges(10, false, 10), [(0, 10)]);
        assert_eq!(plan_ranges(1 << 40, false, 0), [(0, 1 << 40)]);
    }

    #[test]
    fn gzip_is_never_split() {
        assert_eq!(plan_ranges(1 << 40, true, 10), [WHOLE_STREAM]);
        assert_eq!(plan_ranges(0, true, 10), [WHOLE_STREAM]);
    }

    #[test]
    fn big_files_split_evenly_and_exactly() {
        assert_eq!(plan_ranges(11, false, 10), [(0, 5), (5, 11)]);
        assert_eq!(plan_ranges(30, false, 10), [(0, 10), (10, 20), (20, 30)]);
        for (size, target) in [(1001, 10), (999_999_937, 1 << 20), (u64::MAX, 1 << 60)] {
            let ranges = plan_ranges(size, false, target);
            assert_eq!(ranges.len() as u64, size.div_ceil(target));
            assert_covers(&ranges, size);
            for &(start, end) in &ranges {
                assert!(start < end && end - start <= target, "{start}..{end}");
            }
        }
    }
}
