//! Partitions: one run's tasks split over N independent runs (the tasks of a Slurm job array,
//! a Kubernetes Indexed Job, an AWS Batch array), each run keeping only its own share.
//!
//! A task belongs to partition `M` of `N` (1-based, like cargo-nextest's `--partition
//! hash:M/N`) when the stable hash of its *key* modulo `N` is `M − 1`. The hash is BLAKE3 of
//! the key's bytes, its first eight bytes read as a little-endian `u64`: a fixed, published
//! function, so every machine, every build and every later version puts a key in the same
//! partition (never std's randomly seeded hasher).
//!
//! The key names a task independently of where and how it was found, so that all partitions
//! agree on it without talking to each other:
//!
//! * a file found by a walk ([`path_key`]): the 0-based index of the root operand it was found
//!   under, as eight little-endian bytes, then its path relative to that operand (empty for an
//!   operand that is itself a file). Independent of mount points, listing order and filters;
//! * anything else: whatever bytes identify the task (a probe target as written, a CPU task's
//!   index and `n`, an `exec` item), given to [`Partition::owns`].

use std::fmt;

/// One partition of a run: the `number`-th (1-based) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Partition {
    index: u32,
    count: u32,
}

/// A partition that cannot exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartitionError {
    /// Zero partitions were asked for.
    #[error("the number of partitions must be at least 1")]
    NoPartitions,
    /// The partition number is outside `1..=count`.
    #[error("partition {number} does not exist: there are {count} (numbered from 1)")]
    OutOfRange {
        /// The 1-based number asked for.
        number: u64,
        /// How many partitions there are.
        count: u32,
    },
}

impl Partition {
    /// The partition numbered `number` (1-based) of `count`.
    pub fn new(number: u64, count: u32) -> Result<Self, PartitionError> {
        if count == 0 {
            return Err(PartitionError::NoPartitions);
        }
        if number == 0 || number > u64::from(count) {
            return Err(PartitionError::OutOfRange { number, count });
        }
        Ok(Partition {
            index: (number - 1) as u32,
            count,
        })
    }

    /// The whole run as one partition.
    pub fn whole() -> Self {
        Partition { index: 0, count: 1 }
    }

    /// The 1-based partition number `M` of `M/N`.
    pub fn number(&self) -> u32 {
        self.index + 1
    }

    /// The 0-based index (`M − 1`).
    pub fn index(&self) -> u32 {
        self.index
    }

    /// How many partitions there are (`N`).
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The 0-based index of the partition that owns `key` among `count`.
    pub fn index_of(key: &[u8], count: u32) -> u32 {
        Self::index_of_parts(&[key], count)
    }

    /// [`Partition::index_of`] the concatenation of `parts`, without building it.
    fn index_of_parts(parts: &[&[u8]], count: u32) -> u32 {
        if count <= 1 {
            return 0;
        }
        let mut hasher = blake3::Hasher::new();
        for part in parts {
            hasher.update(part);
        }
        let mut first = [0u8; 8];
        first.copy_from_slice(&hasher.finalize().as_bytes()[..8]);
        (u64::from_le_bytes(first) % u64::from(count)) as u32
    }

    /// Whether the task with this key is in this partition.
    pub fn owns(&self, key: &[u8]) -> bool {
        self.count <= 1 || Self::index_of(key, self.count) == self.index
    }

    /// Whether the file at `path`, found under the root operand number `operand` (0-based)
    /// given as `root`, is in this partition (see [`path_key`]).
    pub fn owns_path(&self, operand: usize, root: &[u8], path: &[u8]) -> bool {
        let operand = (operand as u64).to_le_bytes();
        let parts = [&operand[..], relative_path(root, path)];
        self.count <= 1 || Self::index_of_parts(&parts, self.count) == self.index
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number(), self.count)
    }
}

/// The key of a file found by a walk: the operand's 0-based index as eight little-endian bytes,
/// then the path relative to the operand.
pub fn path_key(operand: usize, relative: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + relative.len());
    key.extend_from_slice(&(operand as u64).to_le_bytes());
    key.extend_from_slice(relative);
    key
}

/// `path` relative to the `root` it was found under: walks build every path as the root as
/// given joined with the names below it, so this is what follows the root's bytes and the
/// separators after them (`"./a/b"` under `"."` is `"a/b"`; the root itself is `""`).
pub fn relative_path<'a>(root: &[u8], path: &'a [u8]) -> &'a [u8] {
    let rest = path.strip_prefix(root).unwrap_or(path);
    let start = rest.iter().position(|&b| b != b'/').unwrap_or(rest.len());
    &rest[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_one_based_and_checked() {
        let p = Partition::new(2, 3).unwrap();
        assert_eq!((p.number(), p.index(), p.count()), (2, 1, 3));
        assert_eq!(p.to_string(), "2/3");
        assert_eq!(Partition::new(1, 0), Err(PartitionError::NoPartitions));
        assert_eq!(
            Partition::new(0, 3).unwrap_err().to_string(),
            "partition 0 does not exist: there are 3 (numbered from 1)"
        );
        assert!(Partition::new(4, 3).is_err());
    }

    #[test]
    fn the_hash_is_pinned() {
        // BLAKE3 is a published function: these values must never change, or partitions run by
        // different versions would disagree about who owns what. Worked out with `b3sum`
        // (the empty key's digest is BLAKE3's published test vector, af1349b9f5f9a1a6...).
        assert_eq!(Partition::index_of(b"", 1000), 863);
        assert_eq!(Partition::index_of(&path_key(0, b"a/b.txt"), 1000), 588);
        assert_eq!(Partition::index_of(b"db1:5432", 7), 4);
        assert!(
            Partition::new(589, 1000)
                .unwrap()
                .owns_path(0, b"/x", b"/x/a/b.txt")
        );
    }

    #[test]
    fn every_key_is_in_exactly_one_partition() {
        for count in [1, 2, 3, 7] {
            for n in 0..500u32 {
                let key = path_key(n as usize % 3, format!("dir/{n}").as_bytes());
                let owners = (1..=count)
                    .filter(|&m| Partition::new(u64::from(m), count).unwrap().owns(&key))
                    .count();
                assert_eq!(owners, 1, "key {n} of {count}");
            }
        }
    }

    #[test]
    fn relative_paths_ignore_how_the_root_was_written() {
        assert_eq!(relative_path(b".", b"./a/b"), b"a/b");
        assert_eq!(relative_path(b"./", b"./a/b"), b"a/b");
        assert_eq!(relative_path(b"/srv/data", b"/srv/data/x"), b"x");
        assert_eq!(relative_path(b"/srv/data/", b"/srv/data/x"), b"x");
        assert_eq!(relative_path(b"/", b"/etc/hosts"), b"etc/hosts");
        assert_eq!(relative_path(b"file.txt", b"file.txt"), b"");
        // The same tree mounted elsewhere gives the same keys.
        let a = Partition::new(2, 5).unwrap();
        for name in ["x", "d/e", "d/f/g"] {
            assert_eq!(
                a.owns_path(0, b"/mnt/a", format!("/mnt/a/{name}").as_bytes()),
                a.owns_path(0, b"b", format!("b/{name}").as_bytes()),
            );
        }
    }
}
