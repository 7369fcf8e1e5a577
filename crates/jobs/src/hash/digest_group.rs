//! Digesting many files side by side: MD5 in the lanes of SIMD registers.
//!
//! One MD5 stream cannot use SIMD: every 64-byte block depends on the state the previous one
//! left. Independent files can share a register though, one file per lane: `md5-many` runs 8
//! (AVX2) or 16 (AVX-512) messages through one instruction stream, several times the
//! throughput of the fastest single-stream code on a tree of many files. The parent dispatches
//! the largest files first, so the files of one group have similar sizes and the lanes stay
//! busy.
//!
//! Files are read whole into one reused arena and hashed together when it is full or the group
//! ends. A file too large for that is streamed alone (single-stream MD5 is already at compute
//! speed for it), and so is one that grew past its `fstat` size while being read.

use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;

use super::digest_file::{FileDigest, HashError, stream};
use super::{Algo, DigestBytes};
use crate::open_regular::open_regular;

/// The most files digested side by side in one group (a worker's tasks per group).
pub const GROUP_FILES: usize = 64;

/// Bytes of file contents held at once at most. The arena grows to what groups need, and a
/// refused allocation (a small `--memory-limit`) only means files are streamed one by one.
const ARENA_BYTES: usize = 32 << 20;

/// Files larger than this are streamed alone.
const SIDE_BY_SIDE_MAX: u64 = 4 << 20;

/// Reusable state for digesting groups of files: the SIMD engine (its CPU features detected
/// once), the arena and the streaming buffer.
pub struct GroupDigester {
    engine: md5_many::Md5Many,
    arena: Vec<u8>,
    buf: Vec<u8>,
    /// Files read into the arena and not yet hashed: (index in the group, bytes in the arena).
    held: Vec<(usize, Range<usize>)>,
}

impl Default for GroupDigester {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for GroupDigester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupDigester").finish_non_exhaustive()
    }
}

/// How reading a file into its arena slot ended.
enum Slot {
    /// The whole file: this many bytes.
    Whole(usize),
    /// The slot (one byte more than `fstat` said) filled up: the file grew.
    Grown,
}

impl GroupDigester {
    /// A digester with nothing allocated yet.
    pub fn new() -> Self {
        GroupDigester {
            engine: md5_many::Md5Many::new(),
            arena: Vec::new(),
            buf: Vec::new(),
            held: Vec::new(),
        }
    }

    /// The MD5 of each file in `paths` (raw bytes of Unix paths), in order, exactly as
    /// [`super::hash_file`] would give them one by one.
    ///
    /// `at(i)` is called before file `i` is opened, so a caller can tell which file a hang or
    /// a crash happened on.
    pub fn md5(
        &mut self,
        paths: &[&[u8]],
        at: &mut dyn FnMut(usize),
    ) -> Vec<Result<FileDigest, HashError>> {
        let mut out: Vec<Option<Result<FileDigest, HashError>>> =
            std::iter::repeat_with(|| None).take(paths.len()).collect();
        let mut used = 0;
        for (i, path) in paths.iter().enumerate() {
            at(i);
            let (mut file, expected) = match open_regular(path) {
                Ok(opened) => opened,
                Err(err) => {
                    out[i] = Some(Err(err.into()));
                    continue;
                }
            };
            if expected > SIDE_BY_SIDE_MAX {
                out[i] = Some(stream(&mut file, expected, Algo::Md5, &[], &mut self.buf));
                continue;
            }
            let want = expected as usize + 1;
            if used + want > ARENA_BYTES {
                self.hash_held(&mut out);
                used = 0;
            }
            if !self.grow_arena(used + want) {
                out[i] = Some(stream(&mut file, expected, Algo::Md5, &[], &mut self.buf));
                continue;
            }
            let slot = &mut self.arena[used..used + want];
            out[i] = match read_slot(&mut file, expected, slot) {
                Ok(Slot::Whole(n)) => {
                    self.held.push((i, used..used + n));
                    used += n;
                    continue;
                }
                Ok(Slot::Grown) => {
                    Some(stream(&mut file, expected, Algo::Md5, slot, &mut self.buf))
                }
                Err(err) => Some(Err(err.into())),
            };
        }
        self.hash_held(&mut out);
        out.into_iter()
            .map(|digest| digest.expect("every file of the group has a result"))
            .collect()
    }

    /// Makes the arena at least `len` bytes long (doubling, up to [`ARENA_BYTES`]); false if
    /// the memory is refused.
    fn grow_arena(&mut self, len: usize) -> bool {
        if self.arena.len() >= len {
            return true;
        }
        let target = (self.arena.len() * 2).clamp(len, ARENA_BYTES.max(len));
        if self
            .arena
            .try_reserve_exact(target - self.arena.len())
            .is_err()
        {
            return false;
        }
        self.arena.resize(target, 0);
        true
    }

    /// Hashes every file held in the arena side by side and empties it.
    fn hash_held(&mut self, out: &mut [Option<Result<FileDigest, HashError>>]) {
        if self.held.is_empty() {
            return;
        }
        let inputs: Vec<&[u8]> = self
            .held
            .iter()
            .map(|(_, range)| &self.arena[range.clone()])
            .collect();
        let mut digests = vec![[0u8; 16]; inputs.len()];
        self.engine.hash_many(&inputs, &mut digests);
        for ((i, range), digest) in self.held.drain(..).zip(digests) {
            out[i] = Some(Ok(FileDigest {
                size: range.len() as u64,
                digest: DigestBytes::new(&digest).expect("16 bytes"),
            }));
        }
    }
}

/// Reads `file` (of `fstat` size `expected`) into `slot`, which is one byte longer, stopping at
/// the first short read that reaches `expected` as [`stream`] does.
fn read_slot(file: &mut File, expected: u64, slot: &mut [u8]) -> io::Result<Slot> {
    let mut filled = 0;
    loop {
        if filled == slot.len() {
            return Ok(Slot::Grown);
        }
        match file.read(&mut slot[filled..]) {
            Ok(0) => return Ok(Slot::Whole(filled)),
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
        if filled as u64 >= expected && filled < slot.len() {
            return Ok(Slot::Whole(filled));
        }
    }
}

#[cfg(test)]
mod tests;
