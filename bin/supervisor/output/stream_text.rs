//! A task's output as JSON string or CSV field, written piece by piece, so a stream of
//! gigabytes never has to be held in memory (nor a copy of it escaped).

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;

/// Bytes read from a file per step.
const CHUNK: usize = 64 * 1024;

/// Output bytes, in memory or in a file.
pub enum Stream {
    /// All of it.
    Bytes(Vec<u8>),
    /// In an open file, from offset 0 (read with `pread`, so any number of passes work).
    File {
        /// The file.
        file: File,
        /// Its length when the task ended.
        size: u64,
    },
}

impl Stream {
    /// The stream's length.
    pub fn len(&self) -> u64 {
        match self {
            Stream::Bytes(bytes) => bytes.len() as u64,
            Stream::File { size, .. } => *size,
        }
    }

    /// Calls `each` with consecutive pieces of the stream, using `buf` for file reads.
    pub fn for_each_chunk(
        &self,
        buf: &mut Vec<u8>,
        mut each: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        match self {
            Stream::Bytes(bytes) => each(bytes),
            Stream::File { file, size } => {
                buf.resize(CHUNK, 0);
                let mut offset = 0u64;
                while offset < *size {
                    let want = CHUNK.min((*size - offset) as usize);
                    let n = file.read_at(&mut buf[..want], offset)?;
                    if n == 0 {
                        // Truncated since the task ended: what is there is all there is.
                        break;
                    }
                    each(&buf[..n])?;
                    offset += n as u64;
                }
                Ok(())
            }
        }
    }

    /// Copies the stream to `out`.
    pub fn copy_to(&self, buf: &mut Vec<u8>, out: &mut impl Write) -> io::Result<()> {
        self.for_each_chunk(buf, |chunk| out.write_all(chunk))
    }
}

/// Writes the stream as one JSON string, as `serde_json` would write its text decoded lossily
/// (each invalid UTF-8 sequence as U+FFFD, like `String::from_utf8_lossy`). Returns false when
/// the bytes were not all valid UTF-8, so the caller can add them exactly.
pub fn write_json_string(
    stream: &Stream,
    buf: &mut Vec<u8>,
    out: &mut impl Write,
) -> io::Result<bool> {
    let mut valid = true;
    // Up to 3 bytes of a character cut by a chunk boundary.
    let mut carry: Vec<u8> = Vec::new();
    let mut joined: Vec<u8> = Vec::new();
    out.write_all(b"\"")?;
    stream.for_each_chunk(buf, |chunk| {
        let piece: &[u8] = if carry.is_empty() {
            chunk
        } else {
            joined.clear();
            joined.extend_from_slice(&carry);
            joined.extend_from_slice(chunk);
            carry.clear();
            &joined
        };
        let tail = escape_utf8_lossy(piece, false, &mut valid, out)?;
        carry.extend_from_slice(tail);
        Ok(())
    })?;
    if !carry.is_empty() {
        escape_utf8_lossy(&carry, true, &mut valid, out)?;
    }
    out.write_all(b"\"")?;
    Ok(valid)
}

/// Escapes `bytes` into `out`; returns the incomplete character at the end (to be completed by
/// the next piece) unless `last`, when it is an invalid sequence like any other.
fn escape_utf8_lossy<'a>(
    mut bytes: &'a [u8],
    last: bool,
    valid: &mut bool,
    out: &mut impl Write,
) -> io::Result<&'a [u8]> {
    loop {
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                escape_str(text, out)?;
                return Ok(&[]);
            }
            Err(e) => {
                let (good, rest) = bytes.split_at(e.valid_up_to());
                // The prefix was just checked to be valid UTF-8.
                escape_str(std::str::from_utf8(good).unwrap_or_default(), out)?;
                match e.error_len() {
                    None if !last => return Ok(rest),
                    None => {
                        *valid = false;
                        out.write_all("\u{fffd}".as_bytes())?;
                        return Ok(&[]);
                    }
                    Some(len) => {
                        *valid = false;
                        out.write_all("\u{fffd}".as_bytes())?;
                        bytes = &rest[len..];
                    }
                }
            }
        }
    }
}

/// JSON string escaping, exactly as `serde_json` does it.
fn escape_str(text: &str, out: &mut impl Write) -> io::Result<()> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ],
            _ => continue,
        };
        out.write_all(&bytes[start..i])?;
        out.write_all(escaped)?;
        start = i + 1;
    }
    out.write_all(&bytes[start..])
}

/// Writes the stream's exact bytes as a JSON array of numbers.
pub fn write_json_bytes(
    stream: &Stream,
    buf: &mut Vec<u8>,
    out: &mut impl Write,
) -> io::Result<()> {
    out.write_all(b"[")?;
    let mut first = true;
    stream.for_each_chunk(buf, |chunk| {
        for &b in chunk {
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            write!(out, "{b}")?;
        }
        Ok(())
    })?;
    out.write_all(b"]")
}

/// Writes the stream as one quoted CSV field (RFC 4180: `"` doubled), whatever it holds.
pub fn write_csv_quoted(
    stream: &Stream,
    buf: &mut Vec<u8>,
    out: &mut impl Write,
) -> io::Result<()> {
    out.write_all(b"\"")?;
    stream.for_each_chunk(buf, |chunk| {
        for piece in chunk.split_inclusive(|&b| b == b'"') {
            out.write_all(piece)?;
            if piece.last() == Some(&b'"') {
                out.write_all(b"\"")?;
            }
        }
        Ok(())
    })?;
    out.write_all(b"\"")
}

/// Writes a short CSV field, quoted only when it must be (a comma, quote or line break).
pub fn write_csv_field(field: &[u8], out: &mut impl Write) -> io::Result<()> {
    if field.iter().any(|b| b",\"\r\n".contains(b)) {
        write_csv_quoted(&Stream::Bytes(field.to_vec()), &mut Vec::new(), out)
    } else {
        out.write_all(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_stream(bytes: &[u8]) -> Stream {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        Stream::File {
            file,
            size: bytes.len() as u64,
        }
    }

    fn json_of(stream: &Stream) -> (String, bool) {
        let mut out = Vec::new();
        let valid = write_json_string(stream, &mut Vec::new(), &mut out).unwrap();
        (String::from_utf8(out).unwrap(), valid)
    }

    #[test]
    fn json_strings_are_what_serde_json_writes() {
        let mut samples: Vec<Vec<u8>> = vec![
            b"plain".to_vec(),
            b"quote\" back\\ nl\n cr\r tab\t bs\x08 ff\x0c nul\x00 us\x1f del\x7f".to_vec(),
            "é ü 日本 🎉".as_bytes().to_vec(),
            b"bad \xff\xfe and \xe6\x97 cut".to_vec(),
            b"\xf0\x9f\x8e".to_vec(),
            Vec::new(),
        ];
        // Long enough to cross chunk boundaries inside multibyte characters.
        samples.push("ab日本🎉é\u{7f}\"".repeat(20_000).into_bytes());
        let mut broken = "x🎉".repeat(30_000).into_bytes();
        broken.insert(CHUNK - 1, 0xff);
        samples.push(broken);
        for bytes in samples {
            let expected = serde_json::to_string(&String::from_utf8_lossy(&bytes)).unwrap();
            let utf8 = std::str::from_utf8(&bytes).is_ok();
            for stream in [Stream::Bytes(bytes.clone()), file_stream(&bytes)] {
                let (got, valid) = json_of(&stream);
                assert!(got == expected, "{} bytes differ", bytes.len());
                assert_eq!(valid, utf8);
            }
        }
    }

    #[test]
    fn exact_bytes_and_csv_fields() {
        let stream = file_stream(b"a\"b\xff");
        let mut out = Vec::new();
        write_json_bytes(&stream, &mut Vec::new(), &mut out).unwrap();
        assert_eq!(out, b"[97,34,98,255]");
        let mut out = Vec::new();
        write_csv_quoted(&stream, &mut Vec::new(), &mut out).unwrap();
        assert_eq!(out, b"\"a\"\"b\xff\"");
        let mut out = Vec::new();
        write_csv_field(b"plain", &mut out).unwrap();
        write_csv_field(b"a,b", &mut out).unwrap();
        assert_eq!(out, b"plain\"a,b\"");
    }
}
