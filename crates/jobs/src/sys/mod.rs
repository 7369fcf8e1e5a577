//! The crate's only `unsafe` code, each use with its `// SAFETY:` argument:
//!
//! * [`locale`]: the user's locale (character set, printable characters) from glibc, so names
//!   in `hash --check` messages are quoted as coreutils quotes them;
//! * [`signals`]: dying by a signal, or ignoring SIGTERM, for the `fault` job (libc calls std
//!   does not offer);
//! * [`simd`]: handing out the AVX-512 and AVX2 line scans of the `logs` job as safe
//!   functions, each only after the CPU was found to have the instructions it is compiled for,
//!   and the prefetch the scan asks for the bytes ahead of it;
//! * [`mapped`]: part of a file mapped read-only, which the `logs` job counts in place;
//! * [`guardian`]: the `exec` job's process-group guardian (a fork without exec, and waiting
//!   for signals);
//! * [`link`]: naming an unnamed temp file (`linkat` through `/proc/self/fd`) for `exec`;
//! * [`cached_stat`]: the type and size of an open file from the kernel's cache (`statx` with
//!   `AT_STATX_DONT_SYNC`), for the `hash` job's batched reads;
//! * [`dirents`]: a directory's entries read with `getdents64` into our own buffer, for the
//!   parallel walk;
//! * [`uring`]: batched opens, reads and closes on io_uring for the `hash` job, whose
//!   submissions hand the kernel pointers into our buffers.
//!
//! Everything else in the crate is `#![deny(unsafe_code)]`.

pub(crate) mod cached_stat;
pub(crate) mod dirents;
pub(crate) mod guardian;
pub(crate) mod link;
pub(crate) mod locale;
pub(crate) mod mapped;
pub(crate) mod signals;
pub(crate) mod simd;
pub(crate) mod uring;
