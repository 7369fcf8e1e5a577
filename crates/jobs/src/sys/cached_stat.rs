//! `fstat` from what the kernel has cached: the type and size of an open file without a round
//! trip to a network file system's server or a FUSE daemon.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The type bits (`S_IFMT` of the mode) and the size of the open file `fd`, from a `statx` with
/// `AT_STATX_DONT_SYNC`: a local file system answers exactly as `fstat` would; NFS or FUSE
/// answer from their attribute cache (filled by the open just made), so the call cannot hang
/// on a dead server. The type of an inode never changes; a stale size is only a first guess
/// for readers that go on to the end of the file anyway.
pub(crate) fn cached_type_and_size(fd: BorrowedFd<'_>) -> io::Result<(u32, u64)> {
    // SAFETY: `statx` is plain integers, for which all zero bytes are a valid value.
    let mut stat: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: the path is a NUL-terminated empty string and `stat` a live, exclusively
    // borrowed record of the type the kernel fills; `fd` is open for the call's duration.
    let rc = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_STATX_DONT_SYNC,
            libc::STATX_TYPE | libc::STATX_SIZE,
            &mut stat,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((u32::from(stat.stx_mode) & libc::S_IFMT, stat.stx_size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn the_type_and_size_of_a_file_and_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345").unwrap();
        let file = std::fs::File::open(&path).unwrap();
        assert_eq!(
            cached_type_and_size(file.as_fd()).unwrap(),
            (libc::S_IFREG, 5)
        );
        let d = std::fs::File::open(dir.path()).unwrap();
        assert_eq!(cached_type_and_size(d.as_fd()).unwrap().0, libc::S_IFDIR);
    }
}
