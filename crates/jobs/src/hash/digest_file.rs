//! Digesting one file: the per-task work of the `hash` job, run in a worker.

use std::io::{self, Read};

use serde::{Deserialize, Serialize, Serializer};

use super::{Algo, DigestBytes};
use crate::describe_io_error;
use crate::open_regular::{OpenError, open_regular};

/// Size of the read buffer [`hash_file`] wants: large enough that syscall overhead vanishes
/// next to hashing, small enough to stay in L2 on common CPUs.
pub const CHUNK_SIZE: usize = 1 << 20;

/// The digest of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    /// Bytes actually read, which differs from the listed size if the file changed meanwhile.
    pub size: u64,
    /// The digest.
    pub digest: DigestBytes,
}

/// Why a file could not be digested. An ordinary result, not a reason to retry.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Opening, inspecting or reading the file failed.
    #[error("{}", describe_io_error(.0))]
    Io(io::Error),
    /// The path names a directory (possibly replaced since discovery).
    #[error("Is a directory")]
    IsDirectory,
    /// The path names a FIFO, socket or device (possibly replaced since discovery).
    #[error("not a regular file")]
    NotRegular,
}

impl HashError {
    /// The user-facing message, e.g. `"Permission denied"`, without `"(os error N)"`.
    pub fn message(&self) -> String {
        self.to_string()
    }
}

impl From<io::Error> for HashError {
    fn from(err: io::Error) -> Self {
        HashError::Io(err)
    }
}

impl From<OpenError> for HashError {
    fn from(err: OpenError) -> Self {
        match err {
            OpenError::Io(err) => HashError::Io(err),
            OpenError::IsDirectory => HashError::IsDirectory,
            OpenError::NotRegular => HashError::NotRegular,
        }
    }
}

/// Serialized as its message: the kind of error is not needed across the process boundary,
/// and `io::Error` itself cannot be serialized.
impl Serialize for HashError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.message())
    }
}

/// Digests the file at `path` (raw bytes of a Unix path) with `algo`.
///
/// `buf` is the caller's reusable read buffer; it is grown to [`CHUNK_SIZE`] if smaller, so a
/// worker allocates it once, not once per file.
///
/// The file is opened with `O_NONBLOCK` and checked with `fstat` before any read: discovery
/// listed it as a regular file, but it may have been replaced by a FIFO (whose `open` would
/// otherwise block forever waiting for a writer) or a device since. Checking the open
/// descriptor rather than the path leaves no window for another swap.
pub fn hash_file(path: &[u8], algo: Algo, buf: &mut Vec<u8>) -> Result<FileDigest, HashError> {
    let (mut file, expected) = open_regular(path)?;
    if algo == Algo::Blake3 && expected >= PARALLEL_BLAKE3_MIN {
        return blake3_parallel(&file);
    }
    stream(&mut file, expected, algo, &[], buf)
}

/// Digests `prefix` followed by the rest of `file`, whose size `fstat` reported as `expected`.
pub(super) fn stream(
    file: &mut std::fs::File,
    expected: u64,
    algo: Algo,
    prefix: &[u8],
    buf: &mut Vec<u8>,
) -> Result<FileDigest, HashError> {
    if buf.len() < CHUNK_SIZE {
        buf.resize(CHUNK_SIZE, 0);
    }
    let mut hasher = algo.hasher();
    hasher.update(prefix);
    let mut size = prefix.len() as u64;
    loop {
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err.into()),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
        // A short read that reaches the size fstat reported is the end: most files are
        // small, and the read that would only return 0 is a fifth of their syscalls. (A
        // file growing meanwhile is hashed as it was when opened, as it would be anyway
        // had it grown a moment later.)
        if n < buf.len() && size >= expected {
            break;
        }
    }
    Ok(FileDigest {
        size,
        digest: hasher.finish(),
    })
}

/// From this size on, one BLAKE3 file is hashed by all cores at once (its tree structure
/// allows it), mapped instead of copied through a buffer: one huge file must not leave the
/// other cores idle.
pub const PARALLEL_BLAKE3_MIN: u64 = 16 << 20;

fn blake3_parallel(file: &std::fs::File) -> Result<FileDigest, HashError> {
    use std::os::fd::AsRawFd;
    // Through our own descriptor (already checked to be a regular file), so nothing swapped
    // in under the path since can be opened instead.
    let fd_path = format!("/proc/self/fd/{}", file.as_raw_fd());
    let mut hasher = blake3::Hasher::new();
    hasher.update_mmap_rayon(fd_path)?;
    Ok(FileDigest {
        size: hasher.count(),
        digest: DigestBytes::new(hasher.finalize().as_bytes()).expect("32 bytes"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::process::Command;

    fn coreutils_digest(tool: &str, path: &Path) -> String {
        let out = Command::new(tool)
            .arg(path)
            .output()
            .expect("run coreutils");
        assert!(out.status.success(), "{tool} failed");
        let text = String::from_utf8(out.stdout).unwrap();
        text.split_whitespace().next().unwrap().to_owned()
    }

    fn bytes(path: &Path) -> &[u8] {
        path.as_os_str().as_bytes()
    }

    /// Content spanning several chunks and ending mid-chunk exercises the read loop's edges.
    fn sample_content() -> Vec<u8> {
        (0..(CHUNK_SIZE * 2 + 12345))
            .map(|i| (i * 31 % 251) as u8)
            .collect()
    }

    #[test]
    fn digests_match_coreutils_and_blake3() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.bin");
        let content = sample_content();
        std::fs::write(&path, &content).unwrap();
        let mut buf = Vec::new();
        for (algo, tool) in [
            (Algo::Md5, "md5sum"),
            (Algo::Sha1, "sha1sum"),
            (Algo::Sha256, "sha256sum"),
        ] {
            let got = hash_file(bytes(&path), algo, &mut buf).unwrap();
            assert_eq!(got.size, content.len() as u64);
            assert_eq!(got.digest.hex(), coreutils_digest(tool, &path), "{algo}");
            assert_eq!(got.digest.hex().len(), algo.hex_len());
        }
        let got = hash_file(bytes(&path), Algo::Blake3, &mut buf).unwrap();
        assert_eq!(got.digest.hex(), blake3::hash(&content).to_hex().as_str());
        assert_eq!(buf.len(), CHUNK_SIZE);
    }

    #[test]
    fn a_big_blake3_file_is_hashed_in_parallel_to_the_same_digest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.bin");
        let content: Vec<u8> = (0..PARALLEL_BLAKE3_MIN as usize + 12345)
            .map(|i| (i * 131 % 251) as u8)
            .collect();
        std::fs::write(&path, &content).unwrap();
        let got = hash_file(bytes(&path), Algo::Blake3, &mut Vec::new()).unwrap();
        assert_eq!(got.size, content.len() as u64);
        assert_eq!(got.digest.hex(), blake3::hash(&content).to_hex().as_str());
    }

    #[test]
    fn empty_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty");
        std::fs::write(&path, b"").unwrap();
        let got = hash_file(bytes(&path), Algo::Md5, &mut Vec::new()).unwrap();
        assert_eq!(got.size, 0);
        assert_eq!(got.digest.hex(), "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn small_caller_buffer_is_grown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        let mut buf = vec![0; 7];
        let got = hash_file(bytes(&path), Algo::Sha256, &mut buf).unwrap();
        assert_eq!(got.size, 3);
        assert_eq!(buf.len(), CHUNK_SIZE);
    }

    #[test]
    fn missing_file_is_a_clean_message() {
        let err = hash_file(b"/nonexistent/really/not", Algo::Md5, &mut Vec::new()).unwrap_err();
        assert_eq!(err.message(), "No such file or directory");
    }

    #[test]
    fn directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = hash_file(bytes(dir.path()), Algo::Md5, &mut Vec::new()).unwrap_err();
        assert_eq!(err.message(), "Is a directory");
    }

    #[test]
    fn fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipe");
        let status = Command::new("mkfifo").arg(&path).status().unwrap();
        assert!(status.success());
        // Without O_NONBLOCK this open would wait forever for a writer.
        let err = hash_file(bytes(&path), Algo::Md5, &mut Vec::new()).unwrap_err();
        assert_eq!(err.message(), "not a regular file");
    }

    #[test]
    fn device_is_refused() {
        let err = hash_file(b"/dev/null", Algo::Md5, &mut Vec::new()).unwrap_err();
        assert!(matches!(err, HashError::NotRegular));
    }

    #[test]
    fn error_serializes_as_its_message() {
        let config = bincode::config::standard();
        let err = HashError::Io(io::Error::from_raw_os_error(libc::EACCES));
        let encoded = bincode::serde::encode_to_vec(&err, config).unwrap();
        let (text, _): (String, usize) =
            bincode::serde::decode_from_slice(&encoded, config).unwrap();
        assert_eq!(text, "Permission denied");
    }
}
