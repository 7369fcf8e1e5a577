//! A digest held inline, as raw bytes.

use serde::{Deserialize, Serialize};

/// A digest of up to 32 bytes, kept inline: a million results must not mean a million small
/// allocations, neither in a worker nor in the parent that collects them.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DigestBytes {
    bytes: [u8; 32],
    len: u8,
}

impl DigestBytes {
    /// The digest `bytes`; `None` if there are more than 32.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        let mut inline = [0u8; 32];
        inline.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(DigestBytes {
            bytes: inline,
            len: bytes.len() as u8,
        })
    }

    /// From hex; `None` if it is not hex of at most 32 bytes.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        let len = text.len() / 2;
        if !text.len().is_multiple_of(2) || len > bytes.len() {
            return None;
        }
        hex::decode_to_slice(text, &mut bytes[..len]).ok()?;
        Some(DigestBytes {
            bytes,
            len: len as u8,
        })
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// Lowercase hex, as `md5sum` prints it.
    pub fn hex(&self) -> String {
        // Through a stack buffer: `hex::encode` goes char by char, which shows in the profile
        // of a run that prints a million digests.
        let mut text = [0u8; 64];
        let text = &mut text[..2 * self.len as usize];
        hex::encode_to_slice(self.as_bytes(), text).expect("the buffer is twice the digest");
        String::from_utf8(text.to_vec()).expect("hex is ASCII")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_hex() {
        let d = DigestBytes::new(&[0xd4, 0x1d, 0x8c, 0xd9]).unwrap();
        assert_eq!(d.hex(), "d41d8cd9");
        assert_eq!(DigestBytes::from_hex("d41d8cd9"), Some(d));
        assert_eq!(d.as_bytes(), &[0xd4, 0x1d, 0x8c, 0xd9]);
    }

    #[test]
    fn refuses_what_does_not_fit() {
        assert_eq!(DigestBytes::new(&[0; 33]), None);
        assert_eq!(DigestBytes::from_hex(&"ab".repeat(33)), None);
        assert_eq!(DigestBytes::from_hex("abc"), None);
        assert_eq!(DigestBytes::from_hex("zz"), None);
    }
}
