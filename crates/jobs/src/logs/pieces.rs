//! Where a range's bytes come from: pieces read into our buffer, or windows of the file
//! mapped in place. The counting rule ([`count_pieces`](super::count_range)) is the same over
//! both.

use std::fs::File;
use std::io::{self, Read};

use crate::sys::mapped::{Mapped, page_size};

/// A stream's bytes in pieces, each starting with the last bytes of the one before.
pub(super) trait Pieces {
    /// The next piece: the last `carried` bytes of the previous piece (0 for the first),
    /// then the new bytes that follow them in the stream. A piece of `carried` bytes or fewer
    /// means the stream has ended.
    fn next(&mut self, carried: usize) -> io::Result<&[u8]>;
}

/// Pieces read into a buffer the caller reuses, as full as the stream allows.
pub(super) struct ReadPieces<'b, R> {
    reader: R,
    buf: &'b mut [u8],
    len: usize,
}

impl<'b, R: Read> ReadPieces<'b, R> {
    /// Pieces of `reader`, each up to `buf.len()` bytes.
    pub(super) fn new(reader: R, buf: &'b mut [u8]) -> Self {
        ReadPieces {
            reader,
            buf,
            len: 0,
        }
    }
}

impl<R: Read> Pieces for ReadPieces<'_, R> {
    fn next(&mut self, carried: usize) -> io::Result<&[u8]> {
        self.buf.copy_within(self.len - carried..self.len, 0);
        let n = fill(&mut self.reader, &mut self.buf[carried..])?;
        self.len = carried + n;
        Ok(&self.buf[..self.len])
    }
}

/// Reads until `buf` is full or the stream ends; fewer, fuller pieces mean fewer searches.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

/// Bytes mapped at a time: a window's pages count in the worker's resident memory while it is
/// mapped, so windows keep a huge log from inflating it, and a smaller window means more
/// system calls. Measured on the bench's logs (paired rounds against reading): 0.88 of the CPU
/// time in windows of 16 MiB, 0.86 for 32 and 64 MiB.
pub(super) const WINDOW: u64 = 32 << 20;

/// How far past a range's end its first windows reach, for the line running over the end;
/// a line longer than that gets windows of this size until it ends.
const PAST_END: u64 = 64 << 10;

/// Windows of a file mapped one at a time, up to where it ended when it was opened. The
/// previous window is unmapped before the next is mapped; each new window starts on the page
/// holding the bytes carried over, so a piece is always one contiguous mapping. Windows stop
/// a little past the range's end: mapping populates every page, and the next range's pages
/// are another worker's to read.
pub(super) struct MappedPieces<'f> {
    file: &'f File,
    /// The offset of the first byte no piece has had yet.
    next: u64,
    /// The file's size when it was opened: nothing past it is mapped.
    size: u64,
    /// The end of the range being counted.
    end: u64,
    window: u64,
    map: Option<Mapped>,
    /// Where the first piece starts, its window mapped by `new` (so that a file that cannot
    /// be mapped shows there) but not handed out yet.
    first: Option<u64>,
}

impl<'f> MappedPieces<'f> {
    /// The file from `offset` to `size`, for a range ending at `end`, in windows of about
    /// `window` bytes (at least four pages); the first is mapped now, so an `Err` means the
    /// file cannot be mapped at all.
    pub(super) fn new(
        file: &'f File,
        offset: u64,
        size: u64,
        end: u64,
        window: u64,
    ) -> io::Result<Self> {
        let mut pieces = MappedPieces {
            file,
            next: offset,
            size,
            end,
            window: window.max(4 * page_size()),
            map: None,
            first: None,
        };
        if offset < size {
            pieces.map_from(offset)?;
            pieces.first = Some(offset);
        }
        Ok(pieces)
    }

    /// Maps the window holding `from`, up to the size; `from` must be below the size.
    fn map_from(&mut self, from: u64) -> io::Result<()> {
        self.map = None;
        let page = page_size();
        let base = from & !(page - 1);
        // Past the range's end only to finish its last line (`from` is then past it too).
        let reach = self.end.max(from).saturating_add(PAST_END);
        let end = (base + self.window)
            .min(reach.div_ceil(page).saturating_mul(page))
            .min(self.size);
        let len = usize::try_from(end - base).expect("a window fits in memory");
        self.map = Some(Mapped::new(self.file, base, len)?);
        self.next = end;
        Ok(())
    }
}

impl Pieces for MappedPieces<'_> {
    fn next(&mut self, carried: usize) -> io::Result<&[u8]> {
        let from = match self.first.take() {
            Some(from) => from,
            None if self.next >= self.size => {
                self.map = None;
                return Ok(&[]);
            }
            None => {
                let from = self.next - carried as u64;
                self.map_from(from)?;
                from
            }
        };
        let map = self.map.as_ref().expect("a window is mapped");
        let base = self.next - map.bytes().len() as u64;
        Ok(&map.bytes()[(from - base) as usize..])
    }
}
