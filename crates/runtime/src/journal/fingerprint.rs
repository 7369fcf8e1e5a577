//! The identity of a run: which job, with which setup, over which tasks.

use std::fmt;

/// Domain separation, so this hash never equals a blake3 of the same bytes computed elsewhere.
const DOMAIN: &[u8] = b"supervisor journal fingerprint v1\0";

/// A blake3 digest of a job name and the serialized pieces of a run (setup, every task), stored
/// in a journal's header so a journal is only resumed by the run that wrote it.
///
/// Every piece is hashed with its length in front, so different splits of the same bytes
/// (`["ab", "c"]` and `["a", "bc"]`) give different fingerprints.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of `job_name` followed by `parts`, in order.
    pub fn new(job_name: &str, parts: &[&[u8]]) -> Self {
        let mut builder = Self::builder(job_name);
        for part in parts {
            builder.add(part);
        }
        builder.finish()
    }

    /// Starts a fingerprint for `job_name`, for feeding parts one at a time (e.g. while
    /// serializing tasks one by one).
    pub fn builder(job_name: &str) -> FingerprintBuilder {
        let mut hasher = blake3::Hasher::new();
        hasher.update(DOMAIN);
        let mut builder = FingerprintBuilder { hasher };
        builder.add(job_name.as_bytes());
        builder
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub(super) fn from_bytes(bytes: [u8; 32]) -> Self {
        Fingerprint(bytes)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// Accumulates the parts of a [`Fingerprint`]; see [`Fingerprint::builder`].
#[derive(Clone, Debug)]
pub struct FingerprintBuilder {
    hasher: blake3::Hasher,
}

impl FingerprintBuilder {
    /// Adds one part (its length, then its bytes).
    pub fn add(&mut self, part: &[u8]) -> &mut Self {
        self.hasher.update(&(part.len() as u64).to_le_bytes());
        self.hasher.update(part);
        self
    }

    /// The fingerprint of everything added so far.
    pub fn finish(&self) -> Fingerprint {
        Fingerprint(*self.hasher.finalize().as_bytes())
    }
}
