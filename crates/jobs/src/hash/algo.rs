//! The digest algorithms and a streaming hasher over them.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

use super::DigestBytes;
use serde::{Deserialize, Serialize};

/// A digest algorithm the `hash` job can compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Algo {
    /// MD5, as `md5sum` computes it (the default, matching the seed script).
    #[default]
    Md5,
    /// SHA-1, as `sha1sum`.
    Sha1,
    /// SHA-256, as `sha256sum`.
    Sha256,
    /// BLAKE3 with 256-bit output, as `b3sum`.
    Blake3,
}

impl Algo {
    /// Every algorithm, in the order help texts list them.
    pub const ALL: [Algo; 4] = [Algo::Md5, Algo::Sha1, Algo::Sha256, Algo::Blake3];

    /// The lowercase name used on the command line and in output.
    pub fn name(self) -> &'static str {
        match self {
            Algo::Md5 => "md5",
            Algo::Sha1 => "sha1",
            Algo::Sha256 => "sha256",
            Algo::Blake3 => "blake3",
        }
    }

    /// Length of the digest in lowercase hex characters.
    pub fn hex_len(self) -> usize {
        match self {
            Algo::Md5 => 32,
            Algo::Sha1 => 40,
            Algo::Sha256 | Algo::Blake3 => 64,
        }
    }

    pub(crate) fn hasher(self) -> StreamHasher {
        match self {
            Algo::Md5 => StreamHasher::Md5(<md5_many::Md5 as md5_many::Digest>::new()),
            Algo::Sha1 => StreamHasher::Sha1(sha1::Sha1::new()),
            Algo::Sha256 => StreamHasher::Sha256(sha2::Sha256::new()),
            Algo::Blake3 => StreamHasher::Blake3(Box::new(blake3::Hasher::new())),
        }
    }
}

impl fmt::Display for Algo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An algorithm name that is not one of [`Algo::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hash algorithm {given:?} (valid: md5, sha1, sha256, blake3)")]
pub struct ParseAlgoError {
    /// The name as the user gave it.
    pub given: String,
}

impl FromStr for Algo {
    type Err = ParseAlgoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algo::ALL
            .into_iter()
            .find(|algo| algo.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseAlgoError {
                given: s.to_owned(),
            })
    }
}

/// One hasher per algorithm behind a single type, so the read loop is written once.
pub(crate) enum StreamHasher {
    Md5(md5_many::Md5),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    // Boxed because the BLAKE3 state is an order of magnitude larger than the others.
    Blake3(Box<blake3::Hasher>),
}

impl StreamHasher {
    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            StreamHasher::Md5(h) => md5_many::Digest::update(h, data),
            StreamHasher::Sha1(h) => h.update(data),
            StreamHasher::Sha256(h) => h.update(data),
            StreamHasher::Blake3(h) => {
                h.update(data);
            }
        }
    }

    pub(crate) fn finish(self) -> DigestBytes {
        let digest = match self {
            StreamHasher::Md5(h) => DigestBytes::new(&md5_many::Digest::finalize(h)),
            StreamHasher::Sha1(h) => DigestBytes::new(&h.finalize()),
            StreamHasher::Sha256(h) => DigestBytes::new(&h.finalize()),
            StreamHasher::Blake3(h) => DigestBytes::new(h.finalize().as_bytes()),
        };
        digest.expect("every digest here is at most 32 bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_case_insensitively() {
        assert_eq!("md5".parse(), Ok(Algo::Md5));
        assert_eq!("SHA1".parse(), Ok(Algo::Sha1));
        assert_eq!("Sha256".parse(), Ok(Algo::Sha256));
        assert_eq!("BLAKE3".parse(), Ok(Algo::Blake3));
    }

    #[test]
    fn bad_name_error_lists_valid_ones() {
        let err = "crc32".parse::<Algo>().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"crc32\""), "{text}");
        for algo in Algo::ALL {
            assert!(text.contains(algo.name()), "{text}");
        }
    }

    #[test]
    fn display_round_trips_and_default_is_md5() {
        for algo in Algo::ALL {
            assert_eq!(algo.to_string().parse(), Ok(algo));
        }
        assert_eq!(Algo::default(), Algo::Md5);
    }

    #[test]
    fn hex_len_matches_empty_digest() {
        for algo in Algo::ALL {
            assert_eq!(algo.hasher().finish().hex().len(), algo.hex_len(), "{algo}");
        }
    }
}
