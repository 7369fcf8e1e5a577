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
    fn keeps_the_bytes_and_prints_lowercase_hex() {
        let d = DigestBytes::new(&[0xd4, 0x1d, 0x8c, 0xd9]).unwrap();
        assert_eq!(d.hex(), "d41d8cd9");
        assert_eq!(d.as_bytes(), &[0xd4, 0x1d, 0x8c, 0xd9]);
        let full = DigestBytes::new(&[0xab; 32]).unwrap();
        assert_eq!(full.hex(), "ab".repeat(32));
    }

    #[test]
    fn refuses_what_does_not_fit() {
        assert_eq!(DigestBytes::new(&[0; 33]), None);
    }
}
