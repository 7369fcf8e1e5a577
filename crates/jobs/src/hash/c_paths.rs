//! [`CPaths`]: a group's paths as C strings, back to back in one buffer.

use std::ffi::CStr;

/// The paths of a group of files as NUL-terminated C strings in one buffer: the kernel takes
/// each by pointer, and a group of 64 files costs one allocation, not one per path (and, with
/// the last components taken as tails of the same strings, not two).
pub(crate) struct CPaths {
    bytes: Vec<u8>,
    /// Where path `i` starts in `bytes` (its NUL is just before the next one's start), or
    /// `None` when it holds a NUL of its own and cannot be passed to the kernel.
    starts: Vec<Option<usize>>,
    /// `bytes.len()` after each path.
    ends: Vec<usize>,
}

impl CPaths {
    pub(crate) fn new(paths: &[&[u8]]) -> CPaths {
        let mut bytes = Vec::with_capacity(paths.iter().map(|p| p.len() + 1).sum());
        let mut starts = Vec::with_capacity(paths.len());
        let mut ends = Vec::with_capacity(paths.len());
        for path in paths {
            if memchr::memchr(0, path).is_some() {
                starts.push(None);
            } else {
                starts.push(Some(bytes.len()));
                bytes.extend_from_slice(path);
                bytes.push(0);
            }
            ends.push(bytes.len());
        }
        CPaths {
            bytes,
            starts,
            ends,
        }
    }

    /// Path `i`, or `None` if it holds a NUL.
    pub(crate) fn get(&self, i: usize) -> Option<&CStr> {
        self.tail(i, 0)
    }

    /// Path `i` from byte `from` on (its last component, for an open relative to its
    /// directory), or `None` if it holds a NUL or is shorter.
    pub(crate) fn tail(&self, i: usize, from: usize) -> Option<&CStr> {
        let start = self.starts[i]? + from;
        let bytes = self.bytes.get(start..self.ends[i])?;
        CStr::from_bytes_with_nul(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_path_and_its_tails_as_c_strings() {
        let paths: [&[u8]; 4] = [b"a/b/c", b"", b"bad\0name", b"x"];
        let c = CPaths::new(&paths);
        assert_eq!(c.get(0).unwrap().to_bytes(), b"a/b/c");
        assert_eq!(c.tail(0, 4).unwrap().to_bytes(), b"c");
        assert_eq!(c.tail(0, 5).unwrap().to_bytes(), b"");
        assert_eq!(c.tail(0, 6), None, "past the end");
        assert_eq!(c.get(1).unwrap().to_bytes(), b"");
        assert_eq!(c.get(2), None, "a NUL inside");
        assert_eq!(c.tail(2, 4), None);
        assert_eq!(c.get(3).unwrap().to_bytes(), b"x");
    }
}
