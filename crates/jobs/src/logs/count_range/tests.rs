use std::ffi::OsStr;
use std::fs;
use std::io::{Cursor, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::*;
use crate::logs::plan_ranges;
use crate::logs::test_rng::Rng;

fn b(path: &Path) -> Vec<u8> {
    path.as_os_str().as_bytes().to_vec()
}

fn patterns(list: &[&[u8]]) -> LogPatterns {
    LogPatterns::new(list.iter().map(|p| p.to_vec()).collect()).unwrap()
}

fn task(path: &Path, start: u64, end: u64, gzip: bool) -> LogTask {
    LogTask {
        path: b(path),
        start,
        end,
        gzip,
    }
}

/// The seed's rule, written as plainly as possible.
fn reference(data: &[u8], set: &LogPatterns) -> LogCounts {
    let mut counts = LogCounts::new(set.patterns.len());
    for line in data.split_inclusive(|&byte| byte == b'\n') {
        counts.lines += 1;
        counts.bytes += line.len() as u64;
        let hit = set
            .patterns
            .iter()
            .position(|p| line.windows(p.len()).any(|w| w == p.as_slice()));
        if let Some(k) = hit {
            counts.counts[k] += 1;
        }
    }
    counts
}

fn counts(lines: u64, per_pattern: &[u64], bytes: u64) -> LogCounts {
    LogCounts {
        lines,
        counts: per_pattern.to_vec(),
        bytes,
    }
}

/// Counts `data` as one whole file, through the real file path.
fn count_file(data: &[u8], set: &LogPatterns) -> LogCounts {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.log");
    fs::write(&path, data).unwrap();
    let size = data.len() as u64;
    let whole = count_range(&task(&path, 0, size, false), set, &mut Vec::new()).unwrap();
    let open = count_range(&task(&path, 0, u64::MAX, false), set, &mut Vec::new()).unwrap();
    assert_eq!(whole, open, "(0, size) and (0, MAX) disagree");
    for access in [
        SMALL_WINDOWS,
        Access::Map {
            window: WINDOW,
            from: 0,
        },
    ] {
        let mapped = count_range_by(&task(&path, 0, size, false), set, &mut Vec::new(), access);
        assert_eq!(mapped.unwrap(), whole, "mapped in {access:?}");
    }
    whole
}

/// Mapped in the smallest windows there are (four pages), whatever the range's length.
const SMALL_WINDOWS: Access = Access::Map { window: 0, from: 0 };

#[test]
fn tricky_inputs() {
    let set = LogPatterns::default();
    let table: &[(&str, &[u8], LogCounts)] = &[
        ("empty file", b"", counts(0, &[0, 0], 0)),
        (
            "both words, ERROR wins",
            b"ERROR and WARNING\n",
            counts(1, &[1, 0], 18),
        ),
        (
            "ERROR wins even when second",
            b"WARNING: ERROR\n",
            counts(1, &[1, 0], 15),
        ),
        (
            "twice on a line counts once",
            b"ERROR ERROR ERROR\n",
            counts(1, &[1, 0], 18),
        ),
        (
            "case-sensitive",
            b"error warning Error\n",
            counts(1, &[0, 0], 20),
        ),
        ("no final newline", b"x\nWARNING", counts(2, &[0, 1], 9)),
        ("only newlines", b"\n\n\n", counts(3, &[0, 0], 3)),
        (
            "CRLF is one line",
            b"a ERROR\r\n\r\nWARNING\r\n",
            counts(3, &[1, 1], 20),
        ),
        (
            "split by a newline",
            b"ERR\nOR WARN\nING\n",
            counts(3, &[0, 0], 16),
        ),
        (
            "invalid UTF-8",
            b"\xff\xfeERROR\xc3\n\x80WARNING\xed\xa0\x80\n\xc0",
            counts(3, &[1, 1], 22),
        ),
        ("NUL bytes", b"\0ERROR\0\n\0", counts(2, &[1, 0], 9)),
    ];
    for (name, data, expected) in table {
        assert_eq!(&reference(data, &set), expected, "reference: {name}");
        assert_eq!(&count_file(data, &set), expected, "{name}");
    }
}

#[test]
fn multi_megabyte_line_with_a_match_across_the_read_boundary() {
    let set = LogPatterns::default();
    // The first read fills READ_SIZE + overlap bytes; put WARNING across that edge.
    let edge = READ_SIZE + LineCounter::overlap(&set);
    let mut data = vec![b'x'; 5_000_000];
    data[edge - 3..edge + 4].copy_from_slice(b"WARNING");
    let mut with_tail = data.clone();
    with_tail.extend_from_slice(b"\nERROR\n");
    assert_eq!(count_file(&data, &set), counts(1, &[0, 1], 5_000_000));
    assert_eq!(count_file(&with_tail, &set), counts(2, &[1, 1], 5_000_007));
    // An ERROR later in the same long line outranks the WARNING seen pieces earlier.
    data[4_999_000..4_999_005].copy_from_slice(b"ERROR");
    assert_eq!(count_file(&data, &set), counts(1, &[1, 0], 5_000_000));
}

#[test]
fn a_line_belongs_to_the_range_holding_its_first_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.log");
    // Lines start at 0, 6 and 12.
    fs::write(&path, b"ERROR\nabcde\nWARNING\n").unwrap();
    let set = LogPatterns::default();
    let run = |start, end| count_range(&task(&path, start, end, false), &set, &mut Vec::new());
    assert_eq!(run(0, 1).unwrap(), counts(1, &[1, 0], 6));
    assert_eq!(run(1, 6).unwrap(), counts(0, &[0, 0], 0));
    assert_eq!(run(1, 7).unwrap(), counts(1, &[0, 0], 6));
    assert_eq!(run(6, 12).unwrap(), counts(1, &[0, 0], 6));
    assert_eq!(run(7, 13).unwrap(), counts(1, &[0, 1], 8));
    assert_eq!(run(13, 20).unwrap(), counts(0, &[0, 0], 0));
    assert_eq!(run(5, 5).unwrap(), counts(0, &[0, 0], 0));
    assert_eq!(run(100, 200).unwrap(), counts(0, &[0, 0], 0));
}

/// Log-like bytes: pattern words and their fragments, newlines, CRLF, arbitrary bytes, and
/// now and then a long run without a newline.
fn random_log(rng: &mut Rng) -> Vec<u8> {
    const TOKENS: &[&[u8]] = &[
        b"ERROR",
        b"WARNING",
        b"ERR",
        b"OR",
        b"WARN",
        b"ING",
        b"error",
        b"\n",
        b"\n",
        b"\n",
        b"\r\n",
        b" ",
        b"x",
        b"yy",
        b"\xff",
        b"\xc3\xa9",
    ];
    let len = rng.below(400) as usize;
    let mut data = Vec::with_capacity(len * 4);
    for _ in 0..len {
        match rng.below(40) {
            0 => data.push(rng.next() as u8),
            1 => data.extend(std::iter::repeat_n(b'z', rng.below(300) as usize)),
            _ => data.extend_from_slice(TOKENS[rng.below(TOKENS.len() as u64) as usize]),
        }
    }
    data
}

fn pattern_sets() -> Vec<LogPatterns> {
    vec![
        LogPatterns::default(),
        // Overlapping patterns, a later one inside an earlier one and the reverse.
        patterns(&[b"OR", b"ERROR", b"R", b"WARNING"]),
        patterns(&[b"\xff", b"NG\r"]),
        patterns(&[]),
    ]
}

/// Counts `data[start..end)` through `count_pieces` with a tiny buffer and a reader that
/// returns a few bytes per call, positioned like a seek (`seek`) or from 0 like gzip.
fn count_in_memory(
    data: &[u8],
    start: u64,
    end: u64,
    set: &LogPatterns,
    room: usize,
    seek: bool,
) -> LogCounts {
    let first = if seek { start.saturating_sub(1) } else { 0 };
    let first = first.min(data.len() as u64);
    let reader = Trickle(Cursor::new(&data[first as usize..]), 3);
    let mut buf = vec![0; LineCounter::overlap(set) + room];
    count_pieces(
        &mut ReadPieces::new(reader, &mut buf),
        first,
        start,
        end,
        set,
    )
    .unwrap()
}

/// Hands out at most `.1` bytes per read.
struct Trickle<R>(R, usize);

impl<R: Read> Read for Trickle<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let max = buf.len().min(self.1);
        self.0.read(&mut buf[..max])
    }
}

#[test]
fn random_splits_merge_to_the_whole() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..300 {
        let data = random_log(&mut rng);
        let size = data.len() as u64;
        for set in pattern_sets() {
            let expected = reference(&data, &set);
            let room = 1 + rng.below(12) as usize;
            let whole = count_in_memory(&data, 0, u64::MAX, &set, room, true);
            assert_eq!(whole, expected, "round {round}, whole, room {room}");
            // Arbitrary cut points, including repeated ones (empty ranges).
            let mut cuts: Vec<u64> = (0..rng.below(6)).map(|_| rng.below(size + 1)).collect();
            cuts.push(0);
            cuts.push(size);
            cuts.sort_unstable();
            let seek = rng.below(2) == 0;
            let mut merged = LogCounts::new(set.patterns.len());
            for pair in cuts.windows(2) {
                let part = count_in_memory(&data, pair[0], pair[1], &set, room, seek);
                merged.merge(&part);
            }
            assert_eq!(
                merged, expected,
                "round {round}, cuts {cuts:?}, seek {seek}"
            );
        }
    }
}

#[test]
fn planned_ranges_of_real_files_merge_to_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.log");
    let mut rng = Rng(42);
    let mut buf = Vec::new();
    for round in 0..25 {
        let data = random_log(&mut rng);
        fs::write(&path, &data).unwrap();
        let size = data.len() as u64;
        for set in pattern_sets() {
            let expected = reference(&data, &set);
            for target in [1, 2, 3, 7, 50, 1 + rng.below(size + 1), size + 1] {
                let mut merged = LogCounts::new(set.patterns.len());
                for (start, end) in plan_ranges(size, false, target) {
                    let part = count_range(&task(&path, start, end, false), &set, &mut buf);
                    merged.merge(&part.unwrap());
                }
                assert_eq!(merged, expected, "round {round}, target {target}");
            }
        }
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn gzip_round_trip_and_multiple_members() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log.1.gz");
    let set = LogPatterns::default();
    let mut rng = Rng(7);
    let mut data: Vec<u8> = Vec::new();
    while data.len() < 3 * READ_SIZE {
        data.extend(random_log(&mut rng));
    }
    fs::write(&path, gzip(&data)).unwrap();
    let expected = reference(&data, &set);
    let whole = count_range(&task(&path, 0, u64::MAX, true), &set, &mut Vec::new()).unwrap();
    assert_eq!(whole, expected);
    assert_eq!(whole.bytes, data.len() as u64);
    // Offsets in the decompressed stream follow the same rule, so halves merge too.
    let half = data.len() as u64 / 2;
    let mut merged = count_range(&task(&path, 0, half, true), &set, &mut Vec::new()).unwrap();
    merged.merge(&count_range(&task(&path, half, u64::MAX, true), &set, &mut Vec::new()).unwrap());
    assert_eq!(merged, expected);

    // `cat a.gz b.gz` is a valid gzip file holding both.
    let mut two = gzip(b"ERROR one\nno newline ");
    two.extend(gzip(b"WARNING\nERROR\n"));
    fs::write(&path, two).unwrap();
    let got = count_range(&task(&path, 0, u64::MAX, true), &set, &mut Vec::new()).unwrap();
    assert_eq!(got, counts(3, &[2, 1], 35));
}

#[test]
fn bad_gzip_is_a_clean_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fake.log.gz");
    fs::write(&path, b"plain text, not gzip\n").unwrap();
    let set = LogPatterns::default();
    let err = count_range(&task(&path, 0, u64::MAX, true), &set, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, LogError::Gzip(_)), "{err:?}");
    assert!(err.message().starts_with("gzip: "), "{}", err.message());
    let mut truncated = gzip(&vec![b'E'; 100_000]);
    truncated.truncate(truncated.len() / 2);
    fs::write(&path, truncated).unwrap();
    let err = count_range(&task(&path, 0, u64::MAX, true), &set, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, LogError::Gzip(_)), "{err:?}");
}

#[test]
fn not_regular_files_and_bad_patterns_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let set = LogPatterns::default();
    let mut buf = Vec::new();
    let err = count_range(&task(dir.path(), 0, 1, false), &set, &mut buf).unwrap_err();
    assert_eq!(err.message(), "Is a directory");
    let fifo = dir.path().join("pipe.log");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // Without O_NONBLOCK this open would wait forever for a writer.
    let err = count_range(&task(&fifo, 0, 1, false), &set, &mut buf).unwrap_err();
    assert_eq!(err.message(), "not a regular file");
    let missing = Path::new(OsStr::from_bytes(b"/nonexistent/\xff.log"));
    let err = count_range(&task(missing, 0, 1, false), &set, &mut buf).unwrap_err();
    assert_eq!(err.message(), "No such file or directory");
    let bad = LogPatterns {
        patterns: vec![b"".to_vec()],
    };
    let file = dir.path().join("f.log");
    fs::write(&file, b"x\n").unwrap();
    let err = count_range(&task(&file, 0, 2, false), &bad, &mut buf).unwrap_err();
    assert_eq!(err.message(), "empty pattern");
}

#[test]
fn error_serializes_as_its_message() {
    let config = bincode::config::standard();
    let err = LogError::Io(io::Error::from_raw_os_error(libc::EACCES));
    let encoded = bincode::serde::encode_to_vec(&err, config).unwrap();
    let (text, _): (String, usize) = bincode::serde::decode_from_slice(&encoded, config).unwrap();
    assert_eq!(text, "Permission denied");
}

#[test]
fn task_and_counts_cross_the_process_boundary() {
    let config = bincode::config::standard();
    let task = LogTask {
        path: b"/var/log/\xff.log".to_vec(),
        start: 5,
        end: u64::MAX,
        gzip: true,
    };
    let encoded = bincode::serde::encode_to_vec(&task, config).unwrap();
    let (back, _): (LogTask, usize) = bincode::serde::decode_from_slice(&encoded, config).unwrap();
    assert_eq!(back, task);
    let got = counts(3, &[1, 2], 99);
    let encoded = bincode::serde::encode_to_vec(&got, config).unwrap();
    let (back, _): (LogCounts, usize) =
        bincode::serde::decode_from_slice(&encoded, config).unwrap();
    assert_eq!(back, got);
}

#[test]
fn a_log_truncated_between_its_ranges_counts_what_is_left_and_fails_nothing() {
    // copytruncate mid-count: the ranges counted before the cut saw the whole file, those
    // after it see it end early (a range wholly past the end counts nothing).
    let mut rng = Rng(16);
    let mut data = Vec::new();
    while data.len() < 5000 {
        data.extend(random_log(&mut rng));
    }
    let set = patterns(&[b"ERROR", b"WARNING"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    fs::write(&path, &data).unwrap();
    let ranges = plan_ranges(data.len() as u64, false, 1000);
    assert!(ranges.len() >= 5);
    // Cut inside the third range (mid-line, most likely), past the end of the last line the
    // second range counts (it reads its last line to the end, before the cut).
    let second_done =
        ranges[1].1 - 1 + memchr(b'\n', &data[ranges[1].1 as usize - 1..]).unwrap() as u64 + 1;
    let cut = ((ranges[2].0 + ranges[2].1) / 2).max(second_done + 1);
    assert!(
        cut < ranges[2].1,
        "the data has no cut point in the third range"
    );
    let mut merged = LogCounts::new(2);
    let mut buf = Vec::new();
    for (k, &(start, end)) in ranges.iter().enumerate() {
        if k == 2 {
            fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(cut)
                .unwrap();
        }
        let counts = count_range(&task(&path, start, end, false), &set, &mut buf).unwrap();
        merged.merge(&counts);
    }
    assert_eq!(merged, reference(&data[..cut as usize], &set));
}

#[test]
fn mapped_in_small_windows_every_range_counts_as_read() {
    // Windows of four pages cut lines and patterns everywhere; the pieces of the mapped path
    // carry bytes over from one window to the next as the read path does between reads.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.log");
    let mut rng = Rng(7);
    let mut buf = Vec::new();
    for round in 0..6 {
        let mut data = Vec::new();
        while data.len() < 100_000 {
            data.extend(random_log(&mut rng));
        }
        fs::write(&path, &data).unwrap();
        let size = data.len() as u64;
        for set in pattern_sets() {
            let expected = reference(&data, &set);
            for target in [size + 1, 40_000, 7_777, 1 + rng.below(size)] {
                let mut merged = LogCounts::new(set.patterns.len());
                for (start, end) in plan_ranges(size, false, target) {
                    let range = task(&path, start, end, false);
                    let mapped = count_range_by(&range, &set, &mut buf, SMALL_WINDOWS).unwrap();
                    let read = count_range(&range, &set, &mut buf).unwrap();
                    assert_eq!(mapped, read, "round {round}, {start}..{end}");
                    merged.merge(&mapped);
                }
                assert_eq!(merged, expected, "round {round}, target {target}");
            }
        }
    }
}

#[test]
fn a_pattern_across_a_window_edge_is_found() {
    // The first window ends at four pages; the next maps from the page holding the bytes
    // carried over, so WARNING cut by the edge is whole in the next piece.
    let set = LogPatterns::default();
    let edge = 4 * crate::sys::mapped::page_size() as usize;
    for cut in 1..7 {
        let mut data = vec![b'x'; 3 * edge];
        data[edge - cut..edge - cut + 7].copy_from_slice(b"WARNING");
        data[2 * edge] = b'\n';
        assert_eq!(
            count_file(&data, &set),
            counts(2, &[0, 1], data.len() as u64)
        );
    }
}

#[test]
fn mapping_is_only_for_ranges_long_enough_and_files_that_can_be() {
    let dir = tempfile::tempdir().unwrap();
    let set = LogPatterns::default();
    // An empty file, a range past the end and an empty range: nothing to map, nothing counted.
    let empty = dir.path().join("empty.log");
    fs::write(&empty, b"").unwrap();
    let path = dir.path().join("x.log");
    fs::write(&path, b"ERROR\nWARNING\n").unwrap();
    let mut buf = Vec::new();
    for range in [
        task(&empty, 0, 0, false),
        task(&path, 100, 200, false),
        task(&path, 3, 3, false),
    ] {
        let mapped = count_range_by(&range, &set, &mut buf, SMALL_WINDOWS).unwrap();
        assert_eq!(mapped, counts(0, &[0, 0], 0), "{range:?}");
    }
    // A file in /proc reports a size of 0 (and could not be mapped anyway): it is read.
    let status = task(Path::new("/proc/self/status"), 0, u64::MAX, false);
    let mapped = count_range_by(&status, &set, &mut buf, SMALL_WINDOWS).unwrap();
    assert!(mapped.lines > 5, "{mapped:?}");
    // The public mapped counting of a short range is the read one.
    assert_eq!(
        count_range_mapped(&task(&path, 0, 14, false), &set, &mut buf).unwrap(),
        counts(2, &[1, 1], 14)
    );
}

#[test]
fn a_last_line_running_far_past_the_range_end_is_finished() {
    // Windows reach only a little past a range's end; the line holding its last byte is
    // followed, window after window, to its newline.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.log");
    let mut data = b"ERROR\n".to_vec();
    data.extend(std::iter::repeat_n(b'x', 300_000));
    data.extend_from_slice(b"WARNING");
    data.extend(std::iter::repeat_n(b'x', 50_000));
    data.extend_from_slice(b"\nERROR\n");
    fs::write(&path, &data).unwrap();
    let set = LogPatterns::default();
    let long_line = 300_000 + 7 + 50_000 + 1;
    let mut buf = Vec::new();
    for access in [
        SMALL_WINDOWS,
        Access::Map {
            window: WINDOW,
            from: 0,
        },
        Access::Read,
    ] {
        let first = count_range_by(&task(&path, 0, 10, false), &set, &mut buf, access);
        assert_eq!(
            first.unwrap(),
            counts(2, &[1, 1], 6 + long_line),
            "{access:?}"
        );
        let rest = count_range_by(&task(&path, 10, u64::MAX, false), &set, &mut buf, access);
        assert_eq!(rest.unwrap(), counts(1, &[1, 0], 6), "{access:?}");
    }
}
