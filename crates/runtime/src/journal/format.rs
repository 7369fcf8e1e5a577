//! The bytes of a journal: the header and the records (layout in the module docs).

use super::Fingerprint;
use crate::Outcome;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::{self, Read};

/// The first eight bytes of every journal.
pub(super) const MAGIC: &[u8; 8] = b"SUPVJRN1";
/// Bumped whenever the header or record layout changes.
pub(super) const VERSION: u32 = 1;
/// magic + version + total tasks + fingerprint + crc.
pub(super) const HEADER_LEN: usize = 8 + 4 + 8 + 32 + 4;
/// Payload length + payload crc.
const FRAME_LEN: usize = 8;
/// No outcome is this large; a bigger length field is garbage from a torn write, and trusting
/// it would make the reader swallow (and then cut away) good records after it.
pub(super) const MAX_PAYLOAD: usize = 64 << 20;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// What a header says.
pub(super) struct Header {
    pub(super) total_tasks: u64,
    pub(super) fingerprint: Fingerprint,
}

/// Why a header was refused.
pub(super) enum HeaderError {
    NotAJournal,
    Version(u32),
    Damaged(&'static str),
}

pub(super) fn encode_header(fingerprint: &Fingerprint, total_tasks: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&total_tasks.to_le_bytes());
    out.extend_from_slice(fingerprint.as_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Parses a header from the first (up to) [`HEADER_LEN`] bytes of a file.
pub(super) fn decode_header(bytes: &[u8]) -> Result<Header, HeaderError> {
    let magic_len = bytes.len().min(MAGIC.len());
    if bytes.is_empty() || bytes[..magic_len] != MAGIC[..magic_len] {
        return Err(HeaderError::NotAJournal);
    }
    if bytes.len() < HEADER_LEN {
        return Err(HeaderError::Damaged("it is cut short"));
    }
    // The version comes before the checksum check: another version may lay the rest out
    // differently, and "written by another version" is the more useful message.
    let version = u32::from_le_bytes(take(bytes, 8));
    if version != VERSION {
        return Err(HeaderError::Version(version));
    }
    let stored_crc = u32::from_le_bytes(take(bytes, HEADER_LEN - 4));
    if crc32fast::hash(&bytes[..HEADER_LEN - 4]) != stored_crc {
        return Err(HeaderError::Damaged("its checksum does not match"));
    }
    Ok(Header {
        total_tasks: u64::from_le_bytes(take(bytes, 12)),
        fingerprint: Fingerprint::from_bytes(take(bytes, 20)),
    })
}

/// `N` bytes of `bytes` at `at`; the caller has checked the length.
fn take<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    bytes[at..at + N].try_into().expect("length checked")
}

/// Why a record could not be encoded.
pub(super) enum EncodeProblem {
    Bincode(String),
    TooLarge(usize),
}

/// Appends one framed record to `buf`; on error `buf` is left as it was.
pub(super) fn encode_record<O: Serialize>(
    buf: &mut Vec<u8>,
    index: u64,
    outcome: &Outcome<O>,
) -> Result<(), EncodeProblem> {
    let start = buf.len();
    // Encode in place behind a placeholder frame, so a record costs no extra allocation.
    buf.extend_from_slice(&[0; FRAME_LEN]);
    let encoded = bincode::serde::encode_into_std_write((index, outcome), buf, config());
    let len = buf.len() - start - FRAME_LEN;
    let problem = match encoded {
        Err(e) => Some(EncodeProblem::Bincode(e.to_string())),
        Ok(_) if len > MAX_PAYLOAD => Some(EncodeProblem::TooLarge(len)),
        Ok(_) => None,
    };
    if let Some(problem) = problem {
        buf.truncate(start);
        return Err(problem);
    }
    let crc = crc32fast::hash(&buf[start + FRAME_LEN..]);
    buf[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
    buf[start + 4..start + FRAME_LEN].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// A record read back: the task index, its outcome, and the record's size in the file.
pub(super) struct Record<O> {
    pub(super) index: u64,
    pub(super) outcome: Outcome<O>,
    pub(super) size: u64,
}

/// Reads the next record. `Ok(None)` means end of file or an invalid record (torn, corrupt,
/// undecodable): either way the good part of the journal ends here. `payload` is scratch
/// space reused between calls.
pub(super) fn read_record<O: DeserializeOwned>(
    reader: &mut impl Read,
    payload: &mut Vec<u8>,
) -> io::Result<Option<Record<O>>> {
    let mut frame = Vec::with_capacity(FRAME_LEN);
    reader
        .by_ref()
        .take(FRAME_LEN as u64)
        .read_to_end(&mut frame)?;
    if frame.len() < FRAME_LEN {
        return Ok(None);
    }
    let len = u32::from_le_bytes(take(&frame, 0)) as usize;
    let crc = u32::from_le_bytes(take(&frame, 4));
    if len > MAX_PAYLOAD {
        return Ok(None);
    }
    payload.clear();
    // `take` + `read_to_end` grows the buffer only as far as the file really goes, so a
    // garbage length does not allocate up front.
    reader.by_ref().take(len as u64).read_to_end(payload)?;
    if payload.len() < len || crc32fast::hash(payload) != crc {
        return Ok(None);
    }
    match bincode::serde::decode_from_slice::<(u64, Outcome<O>), _>(payload, config()) {
        Ok(((index, outcome), used)) if used == len => Ok(Some(Record {
            index,
            outcome,
            size: (FRAME_LEN + len) as u64,
        })),
        _ => Ok(None),
    }
}
