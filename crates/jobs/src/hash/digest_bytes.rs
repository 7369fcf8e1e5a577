//! A digest held inline, as raw bytes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A digest of up to 64 bytes. Those of up to 32 (MD5, SHA-1, SHA-256, BLAKE3) are kept
/// inline: a million results must not mean a million small allocations, neither in a worker
/// nor in the parent that collects them. The longer SHA-384, SHA-512 and BLAKE2b digests are
/// boxed, so the common case stays small.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DigestBytes(Repr);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Repr {
    Inline { len: u8, bytes: [u8; 32] },
    Long(Box<[u8]>),
}

/// The most bytes a digest may have (SHA-512, BLAKE2b-512).
const MAX_LEN: usize = 64;

impl DigestBytes {
    /// The digest `bytes`; `None` if there are more than 64.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > MAX_LEN {
            return None;
        }
        let mut inline = [0u8; 32];
        Some(DigestBytes(match inline.get_mut(..bytes.len()) {
            Some(prefix) => {
                prefix.copy_from_slice(bytes);
                Repr::Inline {
                    len: bytes.len() as u8,
                    bytes: inline,
                }
            }
            None => Repr::Long(bytes.into()),
        }))
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..*len as usize],
            Repr::Long(bytes) => bytes,
        }
    }

    /// Lowercase hex, as `md5sum` prints it.
    pub fn hex(&self) -> String {
        // Through a stack buffer: `hex::encode` goes char by char, which shows in the profile
        // of a run that prints a million digests.
        let bytes = self.as_bytes();
        let mut text = [0u8; 2 * MAX_LEN];
        let text = &mut text[..2 * bytes.len()];
        hex::encode_to_slice(bytes, text).expect("the buffer is twice the digest");
        String::from_utf8(text.to_vec()).expect("hex is ASCII")
    }

    /// True when `hex` spells this digest, in either case (as `md5sum -c` compares).
    pub fn matches_hex(&self, hex: &[u8]) -> bool {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let bytes = self.as_bytes();
        hex.len() == 2 * bytes.len()
            && bytes.iter().zip(hex.chunks_exact(2)).all(|(&b, pair)| {
                pair[0].to_ascii_lowercase() == DIGITS[usize::from(b >> 4)]
                    && pair[1].to_ascii_lowercase() == DIGITS[usize::from(b & 0xf)]
            })
    }
}

/// Serialized as a byte string: 17 bytes on the wire for MD5, not a fixed-size array.
impl Serialize for DigestBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.as_bytes())
    }
}

/// Read straight from the bytes the format hands over (borrowed from the message where it can),
/// without a buffer of their own: the parent reads a digest per file.
impl<'de> Deserialize<'de> for DigestBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_bytes(DigestVisitor)
    }
}

struct DigestVisitor;

impl<'de> serde::de::Visitor<'de> for DigestVisitor {
    type Value = DigestBytes;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a digest of at most 64 bytes")
    }

    fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<DigestBytes, E> {
        DigestBytes::new(bytes).ok_or_else(|| E::invalid_length(bytes.len(), &self))
    }

    /// Formats without a byte string (JSON) write the bytes as a sequence of numbers.
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<DigestBytes, A::Error> {
        let mut bytes = [0u8; MAX_LEN];
        let mut len = 0;
        while let Some(byte) = seq.next_element::<u8>()? {
            let slot = bytes
                .get_mut(len)
                .ok_or_else(|| serde::de::Error::invalid_length(len + 1, &self))?;
            *slot = byte;
            len += 1;
        }
        self.visit_bytes(&bytes[..len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_bytes_and_prints_lowercase_hex() {
        let d = DigestBytes::new(&[0xd4, 0x1d, 0x8c, 0xd9]).unwrap();
        assert_eq!(d.hex(), "d41d8cd9");
        assert_eq!(d.as_bytes(), &[0xd4, 0x1d, 0x8c, 0xd9]);
        let full = DigestBytes::new(&[0xab; 32]).unwrap();
        assert_eq!(full.hex(), "ab".repeat(32));
        let long = DigestBytes::new(&[0xcd; 64]).unwrap();
        assert_eq!(long.hex(), "cd".repeat(64));
        assert_eq!(long.as_bytes().len(), 64);
    }

    #[test]
    fn refuses_what_does_not_fit() {
        assert_eq!(DigestBytes::new(&[0; 65]), None);
    }

    #[test]
    fn compares_hex_in_either_case() {
        let d = DigestBytes::new(&[0xab, 0x0f]).unwrap();
        assert!(d.matches_hex(b"ab0f"));
        assert!(d.matches_hex(b"AB0F"));
        assert!(!d.matches_hex(b"ab0e"));
        assert!(!d.matches_hex(b"ab0"));
        assert!(!d.matches_hex(b"ab0f00"));
    }

    #[test]
    fn round_trips_through_bincode_compactly() {
        let config = bincode::config::standard();
        for len in [16, 32, 48, 64] {
            let d = DigestBytes::new(&vec![7u8; len]).unwrap();
            let encoded = bincode::serde::encode_to_vec(&d, config).unwrap();
            assert_eq!(encoded.len(), len + 1, "a length byte and the digest");
            let (back, _): (DigestBytes, usize) =
                bincode::serde::decode_from_slice(&encoded, config).unwrap();
            assert_eq!(back, d);
        }
        let too_long =
            bincode::serde::encode_to_vec(serde_bytes::Bytes::new(&[1; 65]), config).unwrap();
        assert!(
            bincode::serde::decode_from_slice::<DigestBytes, _>(&too_long, config).is_err(),
            "65 bytes are refused"
        );
    }

    #[test]
    fn round_trips_through_json_as_numbers() {
        let d = DigestBytes::new(&[1, 2, 250]).unwrap();
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, "[1,2,250]");
        assert_eq!(serde_json::from_str::<DigestBytes>(&json).unwrap(), d);
        let too_long = serde_json::to_string(&vec![7u8; 65]).unwrap();
        assert!(serde_json::from_str::<DigestBytes>(&too_long).is_err());
    }
}
