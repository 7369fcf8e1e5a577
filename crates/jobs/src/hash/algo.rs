//! The digest algorithms and a streaming hasher over them.

use std::fmt;
use std::str::FromStr;

use blake2::digest::VariableOutput as _;
use sha2::Digest as _;

use super::DigestBytes;
use serde::{Deserialize, Serialize};

/// A digest algorithm the `hash` job can compute.
///
/// Variants are in the order they were added (the order is part of the wire format); help
/// texts list them in [`Algo::ALL`]'s order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Algo {
    /// MD5, as `md5sum` computes it (the default, as in the Python hashing example).
    #[default]
    Md5,
    /// SHA-1, as `sha1sum`.
    Sha1,
    /// SHA-256, as `sha256sum`.
    Sha256,
    /// BLAKE3 with 256-bit output, as `b3sum`.
    Blake3,
    /// SHA-224, as `sha224sum`.
    Sha224,
    /// SHA-384, as `sha384sum`.
    Sha384,
    /// SHA-512, as `sha512sum`.
    Sha512,
    /// BLAKE2b, as `b2sum`: 512 bits unless a checksum line asks for fewer
    /// (`BLAKE2b-128 (NAME) = ...`, or a shorter untagged digest).
    Blake2b(Blake2bLen),
}

/// The output length of a BLAKE2b digest: a whole number of bytes from 1 to 64, as `b2sum -l`
/// allows (8 to 512 bits in steps of 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Blake2bLen(u8);

impl Blake2bLen {
    /// 512 bits, `b2sum`'s default.
    pub const MAX: Blake2bLen = Blake2bLen(64);

    /// The length of `bits` bits, if `b2sum` accepts it (a multiple of 8 from 8 to 512).
    pub fn from_bits(bits: u64) -> Option<Self> {
        (bits.is_multiple_of(8) && (8..=512).contains(&bits))
            .then_some(Blake2bLen((bits / 8) as u8))
    }

    /// The length in bits.
    pub fn bits(self) -> u32 {
        u32::from(self.0) * 8
    }

    /// The length in bytes.
    pub fn bytes(self) -> usize {
        usize::from(self.0)
    }
}

impl Algo {
    /// Every algorithm (BLAKE2b at its full 512 bits), in the order help texts list them.
    pub const ALL: [Algo; 8] = [
        Algo::Md5,
        Algo::Sha1,
        Algo::Sha224,
        Algo::Sha256,
        Algo::Sha384,
        Algo::Sha512,
        Algo::BLAKE2B,
        Algo::Blake3,
    ];

    /// BLAKE2b-512, what `b2sum` computes by default.
    pub const BLAKE2B: Algo = Algo::Blake2b(Blake2bLen::MAX);

    /// The lowercase name used on the command line and in output (BLAKE2b of any length is
    /// `blake2b`; [`Display`](fmt::Display) adds the length when it is not 512 bits).
    pub fn name(self) -> &'static str {
        match self {
            Algo::Md5 => "md5",
            Algo::Sha1 => "sha1",
            Algo::Sha224 => "sha224",
            Algo::Sha256 => "sha256",
            Algo::Sha384 => "sha384",
            Algo::Sha512 => "sha512",
            Algo::Blake2b(_) => "blake2b",
            Algo::Blake3 => "blake3",
        }
    }

    /// The name in the tagged (BSD) format of `md5sum --tag` and of checksum lines such as
    /// `SHA256 (NAME) = HEX`, without a BLAKE2b length suffix.
    pub fn tag(self) -> &'static str {
        match self {
            Algo::Md5 => "MD5",
            Algo::Sha1 => "SHA1",
            Algo::Sha224 => "SHA224",
            Algo::Sha256 => "SHA256",
            Algo::Sha384 => "SHA384",
            Algo::Sha512 => "SHA512",
            Algo::Blake2b(_) => "BLAKE2b",
            Algo::Blake3 => "BLAKE3",
        }
    }

    /// The coreutils program that computes this digest (`b3sum` for BLAKE3).
    pub fn tool(self) -> &'static str {
        match self {
            Algo::Md5 => "md5sum",
            Algo::Sha1 => "sha1sum",
            Algo::Sha224 => "sha224sum",
            Algo::Sha256 => "sha256sum",
            Algo::Sha384 => "sha384sum",
            Algo::Sha512 => "sha512sum",
            Algo::Blake2b(_) => "b2sum",
            Algo::Blake3 => "b3sum",
        }
    }

    /// Length of the digest in lowercase hex characters.
    pub fn hex_len(self) -> usize {
        2 * self.digest_len()
    }

    /// Length of the digest in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Algo::Md5 => 16,
            Algo::Sha1 => 20,
            Algo::Sha224 => 28,
            Algo::Sha256 | Algo::Blake3 => 32,
            Algo::Sha384 => 48,
            Algo::Sha512 => 64,
            Algo::Blake2b(len) => len.bytes(),
        }
    }

    /// The digest of `data`, for input that is not a file (standard input).
    pub fn digest(self, data: &[u8]) -> DigestBytes {
        let mut hasher = self.hasher();
        hasher.update(data);
        hasher.finish()
    }

    pub(crate) fn hasher(self) -> StreamHasher {
        match self {
            Algo::Md5 => StreamHasher::Md5(<md5_many::Md5 as md5_many::Digest>::new()),
            Algo::Sha1 => StreamHasher::Sha1(sha1::Sha1::new()),
            Algo::Sha224 => StreamHasher::Sha224(sha2::Sha224::new()),
            Algo::Sha256 => StreamHasher::Sha256(sha2::Sha256::new()),
            Algo::Sha384 => StreamHasher::Sha384(Box::new(sha2::Sha384::new())),
            Algo::Sha512 => StreamHasher::Sha512(Box::new(sha2::Sha512::new())),
            Algo::Blake2b(len) => StreamHasher::Blake2b(Box::new(
                blake2::Blake2bVar::new(len.bytes()).expect("1 to 64 bytes"),
            )),
            Algo::Blake3 => StreamHasher::Blake3(Box::new(blake3::Hasher::new())),
        }
    }
}

impl fmt::Display for Algo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Algo::Blake2b(len) if *len != Blake2bLen::MAX => write!(f, "blake2b-{}", len.bits()),
            _ => f.write_str(self.name()),
        }
    }
}

/// An algorithm name that is not one of [`Algo::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown hash algorithm {given:?} (valid: md5, sha1, sha224, sha256, sha384, sha512, blake2b, blake3)"
)]
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
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    // Boxed: the 64-bit SHA-2 states and BLAKE2b/BLAKE3 are much larger than the others.
    Sha384(Box<sha2::Sha384>),
    Sha512(Box<sha2::Sha512>),
    Blake2b(Box<blake2::Blake2bVar>),
    Blake3(Box<blake3::Hasher>),
}

impl StreamHasher {
    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            StreamHasher::Md5(h) => md5_many::Digest::update(h, data),
            StreamHasher::Sha1(h) => sha2::Digest::update(h, data),
            StreamHasher::Sha224(h) => sha2::Digest::update(h, data),
            StreamHasher::Sha256(h) => sha2::Digest::update(h, data),
            StreamHasher::Sha384(h) => sha2::Digest::update(h.as_mut(), data),
            StreamHasher::Sha512(h) => sha2::Digest::update(h.as_mut(), data),
            StreamHasher::Blake2b(h) => blake2::digest::Update::update(h.as_mut(), data),
            StreamHasher::Blake3(h) => {
                h.update(data);
            }
        }
    }

    pub(crate) fn finish(self) -> DigestBytes {
        let digest = match self {
            StreamHasher::Md5(h) => DigestBytes::new(&md5_many::Digest::finalize(h)),
            StreamHasher::Sha1(h) => DigestBytes::new(&h.finalize()),
            StreamHasher::Sha224(h) => DigestBytes::new(&h.finalize()),
            StreamHasher::Sha256(h) => DigestBytes::new(&h.finalize()),
            StreamHasher::Sha384(h) => DigestBytes::new(&h.finalize()),
            StreamHasher::Sha512(h) => DigestBytes::new(&h.finalize()),
            StreamHasher::Blake2b(h) => {
                let mut out = [0u8; 64];
                let out = &mut out[..h.output_size()];
                h.finalize_variable(out)
                    .expect("the buffer has the output size");
                DigestBytes::new(out)
            }
            StreamHasher::Blake3(h) => DigestBytes::new(h.finalize().as_bytes()),
        };
        digest.expect("every digest here is at most 64 bytes")
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
        assert_eq!("sha224".parse(), Ok(Algo::Sha224));
        assert_eq!("SHA384".parse(), Ok(Algo::Sha384));
        assert_eq!("sha512".parse(), Ok(Algo::Sha512));
        assert_eq!("BLAKE2b".parse(), Ok(Algo::BLAKE2B));
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
        let short = Algo::Blake2b(Blake2bLen::from_bits(128).unwrap());
        assert_eq!(short.to_string(), "blake2b-128");
        assert_eq!(short.name(), "blake2b");
    }

    #[test]
    fn hex_len_matches_empty_digest() {
        for algo in Algo::ALL {
            assert_eq!(algo.hasher().finish().hex().len(), algo.hex_len(), "{algo}");
        }
        for bits in [8, 128, 256, 504] {
            let algo = Algo::Blake2b(Blake2bLen::from_bits(bits).unwrap());
            assert_eq!(algo.hasher().finish().hex().len(), algo.hex_len(), "{algo}");
        }
    }

    #[test]
    fn blake2b_lengths_are_b2sums() {
        for bits in [8, 16, 128, 384, 512] {
            assert_eq!(Blake2bLen::from_bits(bits).unwrap().bits(), bits as u32);
        }
        for bits in [0, 4, 12, 520, 1024] {
            assert_eq!(Blake2bLen::from_bits(bits), None, "{bits}");
        }
    }
}
