//! The `hash` job: list regular files under some roots, digest each one, print `*sum` lines.
//!
//! [`discover`] runs in the parent and yields [`Found`] entries; each [`FileEntry`] becomes a
//! task whose work is [`hash_file`]. A parent that holds a whole tree keeps it as a
//! [`Discovered`] ([`Discover::into_discovered`]): the paths in one [`crate::PathList`], each task
//! a [`ListedFile`] pointing into it, which crosses to a worker as a [`FileEntry`] would. [`sums_line`] renders a result exactly as GNU `md5sum`
//! would ([`sums_line_styled`] with `--tag`, `--binary` or `--zero`), and
//! [`parse_sums_line`] reads such a line back.
//!
//! Checking (`hash --check`) reads checksum files as the coreutils tools do
//! ([`checksum_file_lines`], [`ChecksumParser`], [`guess_tool`]), names files in its
//! messages as they do ([`NameQuoter`]), and sizes the listed files for scheduling only where
//! that pays ([`listed_sizes`]).

mod algo;
mod c_paths;
mod check_line;
mod digest_bytes;
mod digest_file;
mod digest_group;
mod discover;
mod ext_filter;
mod file_io;
mod listed;
mod listed_sizes;
mod quote;
mod side_by_side;
mod sums;

pub use algo::{Algo, Blake2bLen, ParseAlgoError};
pub use check_line::{ChecksumLine, ChecksumParser, checksum_file_lines, guess_tool};
pub use digest_bytes::DigestBytes;
pub use digest_file::{CHUNK_SIZE, FileDigest, HashError, hash_file};
pub use digest_group::{GROUP_FILES, GroupDigester};
pub use discover::{Discover, DiscoverOptions, Discovered, FileEntry, Found, SkipReason, discover};
pub use file_io::{FileIo, IO_URING_ENV};
pub use listed::ListedFile;
pub use listed_sizes::listed_sizes;
pub use quote::NameQuoter;
pub use sums::{
    ParseSumsError, SumsStyle, check_name, parse_sums_line, push_sums_line, push_sums_line_parts,
    sums_line, sums_line_styled,
};
