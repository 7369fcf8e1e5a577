//! The `hash` job: list regular files under some roots, digest each one, print `*sum` lines.
//!
//! [`discover`] runs in the parent and yields [`Found`] entries; each [`FileEntry`] becomes a
//! task whose work is [`hash_file`]. [`sums_line`] renders a result exactly as GNU `md5sum`
//! would, and [`parse_sums_line`] reads such a line back.

mod algo;
mod digest_bytes;
mod digest_file;
mod digest_group;
mod discover;
mod ext_filter;
mod sums;

pub use algo::{Algo, ParseAlgoError};
pub use digest_bytes::DigestBytes;
pub use digest_file::{CHUNK_SIZE, FileDigest, HashError, hash_file};
pub use digest_group::{GROUP_FILES, GroupDigester};
pub use discover::{Discover, DiscoverOptions, FileEntry, Found, SkipReason, discover};
pub use sums::{ParseSumsError, check_name, parse_sums_line, sums_line};
