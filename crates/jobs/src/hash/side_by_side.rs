//! Streaming big files through MD5 side by side: one file per SIMD lane, read a piece at a time.
//!
//! A file too big for the group's arena used to be streamed alone, at single-stream speed
//! (about 0.8 GB/s here). But the parent dispatches the largest files first, so the big files of
//! a tree arrive together, in the same groups: on the benchmark tree one group held its 8
//! largest files (11-50 MB) and the next group the other 8 over 4 MiB, and streaming them one
//! by one was over half of that worker's time. `md5-many` keeps one [`Md5State`] per stream and
//! advances up to 16 of them per call (`update_many`), all 16 lanes for the time of one, so
//! here every open big file of a group gets a lane: each round reads the next piece of every
//! file, then advances all lanes by the same number of bytes, padding the call to 16 streams
//! with throwaway ones (a call of 16 equal, block-aligned inputs takes `md5-many`'s fastest,
//! lockstep path; 6 streams took 30 times as long as 16). When a file ends, its last piece is
//! hashed alone and the next waiting file takes its lane. One file left on its own is hashed
//! alone: one useful lane of 16 is slower than the single-stream code.
//!
//! Each file is read as [`super::digest_file::stream`] reads one: to the end, a short read that
//! reaches the `fstat` size ending it, `EINTR` retried, and any other error that file's result
//! alone. `at(i)` is called before every read of file `i`.

use std::fs::File;
use std::io::{self, Read};

use md5_many::{Md5Many, Md5State};

use super::DigestBytes;
use super::digest_file::{FileDigest, HashError};

/// Streams advanced per call: AVX-512's 16 lanes, or AVX2's 8 twice.
const LANES: usize = 16;

/// Bytes read from each file per round. Each file's last piece is hashed alone, so it is kept
/// small; 16 of them (4 MiB) are what this holds in memory.
const PIECE: usize = 256 << 10;

/// A big file of a group: its index in the group, the open file, its `fstat` size.
pub(super) type BigFile = (usize, File, u64);

/// The results of a group, by the file's index in it.
type Results = [Option<Result<FileDigest, HashError>>];

/// A big file being hashed, in its lane.
struct Lane {
    /// The file's index in the group.
    index: usize,
    file: File,
    /// Its `fstat` size when opened.
    expected: u64,
    /// Bytes read so far.
    size: u64,
    state: Md5State,
    /// Which `PIECE` of the buffer is this lane's, and how many bytes the last read put there.
    slot: usize,
    len: usize,
    /// Whether the last read was the end of the file.
    ended: bool,
}

impl Lane {
    /// Reads the lane's next piece into its slot (the last one is hashed by now). An error is
    /// the file's result.
    fn fill(&mut self, buf: &mut [u8], at: &mut dyn FnMut(usize)) -> io::Result<()> {
        let slot = &mut buf[self.slot * PIECE..(self.slot + 1) * PIECE];
        self.len = 0;
        at(self.index);
        loop {
            match self.file.read(slot) {
                Ok(0) => self.ended = true,
                Ok(n) => {
                    self.len = n;
                    self.size += n as u64;
                    // As `stream`: a short read that reaches the `fstat` size is the end.
                    self.ended = n < PIECE && self.size >= self.expected;
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
            return Ok(());
        }
    }

    fn digest(&self) -> FileDigest {
        FileDigest {
            size: self.size,
            digest: DigestBytes::new(&self.state.finalize()).expect("16 bytes"),
        }
    }
}

/// Hashes `files` (index in the group, open regular file, `fstat` size), largest first, into
/// `out`, as they would be hashed one by one. Gives the files back untouched if the memory for
/// the pieces was refused.
pub(super) fn md5_side_by_side(
    engine: Md5Many,
    buf: &mut Vec<u8>,
    files: Vec<BigFile>,
    at: &mut dyn FnMut(usize),
    out: &mut Results,
) -> Result<(), Vec<BigFile>> {
    let lanes_needed = files.len().min(LANES);
    if buf.len() < lanes_needed * PIECE {
        if buf
            .try_reserve_exact(lanes_needed * PIECE - buf.len())
            .is_err()
        {
            return Err(files);
        }
        buf.resize(lanes_needed * PIECE, 0);
    }
    let mut waiting = files.into_iter();
    let mut lanes: Vec<Lane> = Vec::with_capacity(LANES);
    let mut free_slots: Vec<usize> = (0..lanes_needed).rev().collect();
    loop {
        while let Some(slot) = free_slots.pop() {
            let Some((index, file, expected)) = waiting.next() else {
                free_slots.push(slot);
                break;
            };
            lanes.push(Lane {
                index,
                file,
                expected,
                size: 0,
                state: Md5State::new(),
                slot,
                len: 0,
                ended: false,
            });
        }
        if lanes.is_empty() {
            return Ok(());
        }
        // Read the next piece of every lane; a failed read ends that file with its error, and
        // a file read to its end is finished alone (its last piece is short).
        let mut k = 0;
        while k < lanes.len() {
            let lane = &mut lanes[k];
            if let Err(err) = lane.fill(buf, at) {
                out[lane.index] = Some(Err(err.into()));
            } else if lane.ended {
                lane.state.update(piece(buf, lane));
                out[lane.index] = Some(Ok(lane.digest()));
            } else {
                k += 1;
                continue;
            }
            free_slots.push(lane.slot);
            lanes.swap_remove(k);
        }
        advance(engine, buf, &mut lanes);
    }
}

/// The bytes the lane's last read put in its slot.
fn piece<'b>(buf: &'b [u8], lane: &Lane) -> &'b [u8] {
    &buf[lane.slot * PIECE..][..lane.len]
}

/// Hashes the bytes every lane has read: side by side as far as all have whole blocks in
/// common, the rest of each alone (only after a short read in the middle of a file).
fn advance(engine: Md5Many, buf: &[u8], lanes: &mut [Lane]) {
    let common = lanes.iter().map(|lane| lane.len).min().unwrap_or(0) / 64 * 64;
    let mut hashed = 0;
    if lanes.len() > 1 && common > 0 {
        let mut states = [Md5State::new(); LANES];
        let mut inputs: [&[u8]; LANES] = [&[]; LANES];
        for (k, lane) in lanes.iter().enumerate() {
            states[k] = lane.state;
            inputs[k] = &piece(buf, lane)[..common];
        }
        // The unused lanes hash a copy of the first lane's bytes into states thrown away.
        for k in lanes.len()..LANES {
            inputs[k] = inputs[0];
        }
        engine.update_many(&mut states, &inputs);
        for (k, lane) in lanes.iter_mut().enumerate() {
            lane.state = states[k];
        }
        hashed = common;
    }
    for lane in lanes.iter_mut() {
        lane.state.update(&piece(buf, lane)[hashed..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5_reference::Digest as _;

    /// Deterministic content that differs from file to file.
    fn content(seed: usize, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| ((i * 131 + seed * 7919) % 251) as u8)
            .collect()
    }

    fn open_all(dir: &std::path::Path, lens: &[usize]) -> (Vec<Vec<u8>>, Vec<BigFile>) {
        let contents: Vec<Vec<u8>> = lens
            .iter()
            .enumerate()
            .map(|(i, &n)| content(i, n))
            .collect();
        let files = contents
            .iter()
            .enumerate()
            .map(|(i, data)| {
                let path = dir.join(format!("f{i}"));
                std::fs::write(&path, data).unwrap();
                (i, File::open(&path).unwrap(), data.len() as u64)
            })
            .collect();
        (contents, files)
    }

    #[test]
    fn files_of_every_length_side_by_side_equal_an_independent_md5() {
        let dir = tempfile::tempdir().unwrap();
        // More files than lanes, so lanes are refilled as files end; lengths around the piece
        // size and block boundaries, an empty file and one file left alone at the end.
        let lens = [
            3 * PIECE + 1_000_003,
            PIECE,
            PIECE - 1,
            PIECE + 1,
            2 * PIECE + 64,
            0,
            1,
            63,
            64,
            65,
            100_000,
            PIECE * 3 / 2,
            777_777,
            5 * PIECE,
            12_345,
            PIECE + 55,
            PIECE + 56,
            2 * PIECE - 7,
            3 * PIECE,
            4_000_000,
        ];
        let (contents, files) = open_all(dir.path(), &lens);
        let mut out: Vec<Option<Result<FileDigest, HashError>>> =
            std::iter::repeat_with(|| None).take(lens.len()).collect();
        let mut named = Vec::new();
        md5_side_by_side(
            Md5Many::new(),
            &mut Vec::new(),
            files,
            &mut |i| named.push(i),
            &mut out,
        )
        .map_err(|_| "no memory")
        .unwrap();
        for (i, data) in contents.iter().enumerate() {
            let got = out[i].as_ref().expect("a result").as_ref().expect("hashed");
            assert_eq!(got.size, data.len() as u64, "file {i}");
            assert_eq!(
                got.digest.hex(),
                hex::encode(md5_reference::Md5::digest(data)),
                "file {i} of {} bytes",
                data.len()
            );
            assert!(named.contains(&i), "file {i} was never named before a read");
        }
    }

    #[test]
    fn a_file_that_fails_to_read_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (contents, mut files) = open_all(dir.path(), &[PIECE * 2, 10, PIECE * 3]);
        // A descriptor opened for writing only: every read fails with EBADF.
        let path = dir.path().join("write-only");
        std::fs::write(&path, b"x").unwrap();
        let unreadable = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        files.insert(1, (3, unreadable, 1));
        let mut out: Vec<Option<Result<FileDigest, HashError>>> =
            std::iter::repeat_with(|| None).take(4).collect();
        md5_side_by_side(
            Md5Many::new(),
            &mut Vec::new(),
            files,
            &mut |_| {},
            &mut out,
        )
        .map_err(|_| "no memory")
        .unwrap();
        assert!(matches!(out[3], Some(Err(_))), "{:?}", out[3]);
        for (i, data) in contents.iter().enumerate() {
            let got = out[i].as_ref().unwrap().as_ref().unwrap();
            assert_eq!(
                got.digest.hex(),
                hex::encode(md5_reference::Md5::digest(data))
            );
        }
    }
}
