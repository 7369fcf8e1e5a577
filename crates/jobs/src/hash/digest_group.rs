//! Digesting many files side by side: MD5 in the lanes of SIMD registers.
//!
//! One MD5 stream cannot use SIMD: every 64-byte block depends on the state the previous one
//! left. Independent files can share a register though, one file per lane: `md5-many` runs 8
//! (AVX2) or 16 (AVX-512) messages through one instruction stream, several times the
//! throughput of the fastest single-stream code on a tree of many files. The parent dispatches
//! files from 16 KiB up largest first, so the files of one group have similar sizes and the
//! lanes stay busy, and the smaller ones in the walk's order, so a group of them shares a few
//! directories ([`GroupDirs`]).
//!
//! Files are read whole into one reused arena and hashed together when it is full or the group
//! ends. The group's files too large for that are streamed together, a piece of each at a
//! time, one per lane ([`super::side_by_side`]); one that grew past its `fstat` size while
//! being read is streamed alone.

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::os::fd::{AsFd, OwnedFd};

use super::c_paths::CPaths;
use super::digest_file::{FileDigest, HashError, stream};
use super::file_io::FileIo;
use super::side_by_side::md5_side_by_side;
use super::{Algo, DigestBytes};
use crate::open_regular::{checked_regular_cached, open_regular, open_regular_at};
use crate::sys::uring::{Done, Op, Uring};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// The most files digested side by side in one group (a worker's tasks per group).
pub const GROUP_FILES: usize = 64;

/// Bytes of file contents held at once at most. The arena grows to what groups need, and a
/// refused allocation (a small `--memory-limit`) only means files are streamed one by one.
const ARENA_BYTES: usize = 32 << 20;

/// The fewest files of one group in one directory for that directory to be opened and the
/// files opened relative to it (see [`GroupDirs`]); the others are opened by their paths.
const SHARED_DIR_FILES: usize = 3;

/// Files larger than this are not read whole into the arena but streamed, side by side with
/// the group's other big files.
const SIDE_BY_SIDE_MAX: u64 = 4 << 20;

/// Reusable state for digesting groups of files: the SIMD engine (its CPU features detected
/// once), the arena, the streaming buffer and, where the kernel allows it, the io_uring the
/// files are opened, read and closed through.
pub struct GroupDigester {
    engine: md5_many::Md5Many,
    arena: Vec<u8>,
    buf: Vec<u8>,
    /// The pieces of the big files streamed side by side.
    pieces: Vec<u8>,
    /// Files read into the arena and not yet hashed: (index in the group, bytes in the arena).
    held: Vec<(usize, Range<usize>)>,
    /// Batched I/O, or `None` (then [`GroupDigester::io`] says why).
    uring: Option<Uring>,
    io: FileIo,
}

impl Default for GroupDigester {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for GroupDigester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupDigester")
            .field("io", &self.io)
            .finish_non_exhaustive()
    }
}

/// How reading a file into its arena slot ended.
enum Slot {
    /// The whole file: this many bytes.
    Whole(usize),
    /// The slot (one byte more than `fstat` said) filled up: the file grew.
    Grown,
}

/// One group's results as they are filled in.
type Results = Vec<Option<Result<FileDigest, HashError>>>;

impl GroupDigester {
    /// A digester with nothing allocated yet, reading through io_uring unless the kernel
    /// lacks or refuses it or `SUPERVISOR_IO_URING=off` (see [`FileIo::probe`]).
    pub fn new() -> Self {
        let (uring, io) = FileIo::setup();
        GroupDigester {
            engine: md5_many::Md5Many::new(),
            arena: Vec::new(),
            buf: Vec::new(),
            pieces: Vec::new(),
            held: Vec::new(),
            uring,
            io,
        }
    }

    /// A digester that never uses io_uring: one system call per open, `fstat`, read and close
    /// (what [`GroupDigester::new`] falls back to where io_uring is missing or refused).
    pub fn without_io_uring() -> Self {
        GroupDigester {
            engine: md5_many::Md5Many::new(),
            arena: Vec::new(),
            buf: Vec::new(),
            pieces: Vec::new(),
            held: Vec::new(),
            uring: None,
            io: FileIo::Syscalls {
                reason: "GroupDigester::without_io_uring".into(),
            },
        }
    }

    /// How this digester reads files.
    pub fn io(&self) -> &FileIo {
        &self.io
    }

    /// The MD5 of each file in `paths` (raw bytes of Unix paths), in order, exactly as
    /// [`super::hash_file`] would give them one by one.
    ///
    /// `at(i)` is called before anything is done on behalf of file `i` that could block or
    /// fail (with io_uring, before each batch with its first file and before each wait with
    /// the lowest file still in flight), so a caller can tell which file a hang or a crash
    /// happened on.
    pub fn md5(
        &mut self,
        paths: &[&[u8]],
        at: &mut dyn FnMut(usize),
    ) -> Vec<Result<FileDigest, HashError>> {
        let mut out: Results = std::iter::repeat_with(|| None).take(paths.len()).collect();
        match self.uring.take() {
            Some(mut uring) => {
                self.md5_batched(&mut uring, paths, at, &mut out);
                self.uring = Some(uring);
            }
            None => self.md5_one_by_one(paths, at, &mut out),
        }
        out.into_iter()
            .map(|digest| digest.expect("every file of the group has a result"))
            .collect()
    }

    /// One system call per open (relative to the file's directory), `fstat`, read and close.
    fn md5_one_by_one(&mut self, paths: &[&[u8]], at: &mut dyn FnMut(usize), out: &mut Results) {
        let mut used = 0;
        let names = CPaths::new(paths);
        let mut dirs = GroupDirs::new(paths, &names);
        let mut big = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            at(i);
            dirs.open_dir_of(i);
            let opened = match dirs.of(i) {
                Some((dir, base)) => open_regular_at(dir, base),
                None => open_regular(path),
            };
            let (mut file, expected) = match opened {
                Ok(opened) => opened,
                Err(err) => {
                    out[i] = Some(Err(err.into()));
                    continue;
                }
            };
            if expected > SIDE_BY_SIDE_MAX {
                big.push((i, file, expected));
                continue;
            }
            let want = expected as usize + 1;
            if used + want > ARENA_BYTES {
                self.hash_held(out);
                used = 0;
            }
            if !self.grow_arena(used + want) {
                out[i] = Some(stream(&mut file, expected, Algo::Md5, &[], &mut self.buf));
                continue;
            }
            let slot = &mut self.arena[used..used + want];
            out[i] = match read_slot(&mut file, expected, slot, 0) {
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
        self.hash_held(out);
        self.stream_big(big, at, out);
    }

    /// Batched on io_uring: every file of the group opened in one submission, checked to be
    /// regular on its descriptor (`fstat`, from the kernel's cache), the small ones read into the arena in one
    /// submission per arena-full, and closed in one more.
    fn md5_batched(
        &mut self,
        uring: &mut Uring,
        paths: &[&[u8]],
        at: &mut dyn FnMut(usize),
        out: &mut Results,
    ) {
        let names = CPaths::new(paths);
        let mut dirs = GroupDirs::new(paths, &names);
        for i in 0..paths.len() {
            if dirs.unopened(i) {
                at(i);
                dirs.open_dir_of(i);
            }
        }
        let opens = (0..paths.len())
            .filter_map(|i| {
                let op = match dirs.of(i) {
                    Some((dir, base)) => Op::Open(Some(dir), base),
                    None => Op::Open(None, names.get(i)?),
                };
                Some((i, op))
            })
            .collect();
        let mut opened = uring.run(opens, at).into_iter();
        let mut small: Vec<(usize, File, u64)> = Vec::new();
        let mut big: Vec<(usize, File, u64)> = Vec::new();
        for (i, slot) in out.iter_mut().enumerate() {
            if names.get(i).is_none() {
                // As std's `open` says of a path it cannot pass to the kernel.
                *slot = Some(Err(HashError::Io(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "file name contained an unexpected NUL byte",
                ))));
                continue;
            }
            let fd = match opened.next().expect("one result per open") {
                Done::Opened(fd) => fd,
                Done::Failed(err) => {
                    *slot = Some(Err(err.into()));
                    continue;
                }
                other => unreachable!("an open ended as {other:?}"),
            };
            // From the kernel's cache: it cannot wait on a server, so the file named for the
            // batch of opens is still the right one to blame (naming each file here was 2% of
            // the run on a million small files).
            match checked_regular_cached(File::from(fd)) {
                Err(err) => *slot = Some(Err(err.into())),
                Ok((file, expected)) if expected > SIDE_BY_SIDE_MAX => {
                    big.push((i, file, expected));
                }
                Ok((file, expected)) => small.push((i, file, expected)),
            }
        }
        while !small.is_empty() {
            let slots = self.plan_round(&small);
            let round: Vec<(usize, File, u64)> = small.drain(..slots.len().max(1)).collect();
            let closes = self
                .read_round(uring, round, &slots, at, out)
                .into_iter()
                .map(|(i, file)| (i, Op::Close(OwnedFd::from(file))))
                .collect();
            uring.run(closes, at);
            self.hash_held(out);
        }
        self.stream_big(big, at, out);
    }

    /// Streams the group's big files side by side (each alone if the memory for that is
    /// refused).
    fn stream_big(
        &mut self,
        big: Vec<(usize, File, u64)>,
        at: &mut dyn FnMut(usize),
        out: &mut Results,
    ) {
        if big.is_empty() {
            return;
        }
        if let Err(big) = md5_side_by_side(self.engine, &mut self.pieces, big, at, out) {
            for (i, mut file, expected) in big {
                at(i);
                out[i] = Some(stream(&mut file, expected, Algo::Md5, &[], &mut self.buf));
            }
        }
    }

    /// The arena slots (one byte more than each `fstat` size) of as many of `files` as the
    /// arena holds, growing it as needed; empty if not even the first one's could be allocated.
    fn plan_round(&mut self, files: &[(usize, File, u64)]) -> Vec<Range<usize>> {
        let mut slots: Vec<Range<usize>> = Vec::new();
        let mut used = 0;
        for (_, _, expected) in files {
            let want = *expected as usize + 1;
            if (used + want > ARENA_BYTES && !slots.is_empty()) || !self.grow_arena(used + want) {
                break;
            }
            slots.push(used..used + want);
            used += want;
        }
        slots
    }

    /// Reads `round` (index, open regular file, `fstat` size) into `slots` of the arena in one
    /// submission (or, without slots, streams its one file), and hands the files back for
    /// closing.
    fn read_round(
        &mut self,
        uring: &mut Uring,
        mut round: Vec<(usize, File, u64)>,
        slots: &[Range<usize>],
        at: &mut dyn FnMut(usize),
        out: &mut Results,
    ) -> Vec<(usize, File)> {
        if slots.is_empty() {
            // The memory for a slot was refused: stream the file through the small buffer.
            let (i, file, expected) = &mut round[0];
            at(*i);
            out[*i] = Some(stream(file, *expected, Algo::Md5, &[], &mut self.buf));
        } else {
            let used = slots.last().map_or(0, |last| last.end);
            let mut free = &mut self.arena[..used];
            let mut reads = Vec::with_capacity(round.len());
            for ((i, file, _), range) in round.iter().zip(slots) {
                let (slot, tail) = std::mem::take(&mut free).split_at_mut(range.len());
                free = tail;
                reads.push((*i, Op::Read(file.as_fd(), slot)));
            }
            let done = uring.run(reads, at);
            for (((i, file, expected), range), done) in round.iter_mut().zip(slots).zip(done) {
                let slot = &mut self.arena[range.clone()];
                let read = match done {
                    Done::Read(n) if n == slot.len() => Ok(Slot::Grown),
                    Done::Read(n) if n as u64 >= *expected => Ok(Slot::Whole(n)),
                    // Short of the `fstat` size: shrunk, or a partial read; go on as the
                    // one-by-one path would, from where the read stopped.
                    Done::Read(n) => {
                        at(*i);
                        read_slot(file, *expected, slot, n)
                    }
                    Done::Failed(err) => Err(err),
                    other => unreachable!("a read ended as {other:?}"),
                };
                out[*i] = match read {
                    Ok(Slot::Whole(n)) => {
                        self.held.push((*i, range.start..range.start + n));
                        continue;
                    }
                    Ok(Slot::Grown) => {
                        // The read advanced the file position, so streaming goes on after it.
                        at(*i);
                        Some(stream(file, *expected, Algo::Md5, slot, &mut self.buf))
                    }
                    Err(err) => Some(Err(err.into())),
                };
            }
        }
        round.into_iter().map(|(i, file, _)| (i, file)).collect()
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
        // Longest first, so each register's lanes hold files of similar lengths: the parent's
        // largest-first order does that across groups where it knows sizes, this within one.
        // (Unstable: the order among equal lengths does not matter, and it sorts in place.)
        self.held
            .sort_unstable_by_key(|(_, range)| std::cmp::Reverse(range.len()));
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
/// the first short read that reaches `expected` as [`stream`] does. The first `filled` bytes
/// of the slot were read already.
fn read_slot(
    file: &mut File,
    expected: u64,
    slot: &mut [u8],
    mut filled: usize,
) -> io::Result<Slot> {
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

/// The directories of a group's files, each opened once (`O_PATH`), and each file's last
/// component: the files are opened relative to their directory, so the kernel looks up one
/// name per file instead of every component of its path. On a tree of a million small files
/// (6 components each) that path walk was a tenth of the whole run's CPU time.
///
/// Only a directory holding at least [`SHARED_DIR_FILES`] of the group's files is opened: the
/// open is a system call of its own that walks the directory's path, so for one or two files
/// it costs more than the walks it saves. On the benchmark's mixed tree, whose files from
/// 16 KiB up are dispatched largest first and so come from all over the tree, nearly every
/// directory of such a group holds one file (opening each cost 6-9% of the run's CPU time); its
/// smaller files come in the walk's order, a group's from one or two directories.
///
/// A file whose directory cannot be opened this way (it vanished, a component is not
/// searchable) or whose path has no directory part is opened by its whole path, so every
/// error is the one that path's own open gives. A directory is opened after `at` named the
/// first file that needs it, so a hang there (a dead NFS server) is charged to that file.
struct GroupDirs<'a> {
    /// Each directory, and its descriptor once an open was tried (`Some(None)`: it failed).
    dirs: Vec<(&'a [u8], Option<Option<OwnedFd>>)>,
    /// For each file: the index of its directory in `dirs` and its last component.
    files: Vec<Option<(usize, &'a CStr)>>,
}

impl<'a> GroupDirs<'a> {
    /// Splits each path that `names` holds as a C string (its last component is the tail of
    /// that string); opens nothing.
    fn new(paths: &[&'a [u8]], names: &'a CPaths) -> GroupDirs<'a> {
        let mut dirs: Vec<(&'a [u8], Option<Option<OwnedFd>>)> = Vec::new();
        let files = paths
            .iter()
            .enumerate()
            .map(|(i, path)| {
                let split = path.iter().rposition(|&b| b == b'/')? + 1;
                let (dir, base) = path.split_at(split);
                if base.is_empty() || base == b"." || base == b".." {
                    return None;
                }
                let base = names.tail(i, split)?;
                let d = match dirs.iter().rposition(|(known, _)| *known == dir) {
                    Some(d) => d,
                    None => {
                        dirs.push((dir, None));
                        dirs.len() - 1
                    }
                };
                Some((d, base))
            })
            .collect::<Vec<Option<(usize, &CStr)>>>();
        let mut shared = vec![0usize; dirs.len()];
        for (d, _) in files.iter().flatten() {
            shared[*d] += 1;
        }
        let files = files
            .into_iter()
            .map(|file| file.filter(|(d, _)| shared[*d] >= SHARED_DIR_FILES))
            .collect();
        GroupDirs { dirs, files }
    }

    /// True when file `i`'s directory is still to be opened.
    fn unopened(&self, i: usize) -> bool {
        self.files[i]
            .as_ref()
            .is_some_and(|(d, _)| self.dirs[*d].1.is_none())
    }

    /// Opens file `i`'s directory unless that was tried already.
    fn open_dir_of(&mut self, i: usize) {
        if let Some((d, _)) = &self.files[i]
            && self.dirs[*d].1.is_none()
        {
            let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
            let fd = nix::fcntl::open(self.dirs[*d].0, flags, Mode::empty()).ok();
            self.dirs[*d].1 = Some(fd);
        }
    }

    /// File `i`'s directory and last component, if it is opened relative to it.
    fn of(&self, i: usize) -> Option<(std::os::fd::BorrowedFd<'_>, &'a CStr)> {
        let (d, base) = self.files[i].as_ref()?;
        let fd = self.dirs[*d].1.as_ref()?.as_ref()?;
        Some((fd.as_fd(), base))
    }
}

#[cfg(test)]
mod tests;
