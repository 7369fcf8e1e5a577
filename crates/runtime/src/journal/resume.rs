//! Reopening a journal after a crash: read what survived, cut off a torn tail, append on.

use super::format::{self, HEADER_LEN, HeaderError};
use super::{Fingerprint, JournalError, JournalWriter};
use crate::Outcome;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// What [`resume`] hands back: a writer positioned after the last good record, and the
/// recorded outcomes sorted by task index.
pub type Resumed<O> = (JournalWriter<O>, Vec<(u64, Outcome<O>)>);

/// Reopens the journal at `path` for the run identified by `fingerprint` and `total_tasks`.
///
/// Returns a writer positioned after the last good record, and the recorded outcomes sorted by
/// task index (a task recorded twice appears once, with its last outcome). Reading stops at
/// the first record that is incomplete, fails its checksum, does not decode or names a task
/// index out of range: that is where a crash tore the file, so the file is cut back to the end
/// of the last good record ([`JournalWriter::discarded_bytes`] says how much went).
///
/// # Errors
///
/// [`JournalError::NotAJournal`] for a file without the journal magic,
/// [`JournalError::Mismatch`] for a journal of another job, setup or task list,
/// [`JournalError::UnsupportedVersion`] and [`JournalError::DamagedHeader`] for headers this
/// build cannot use, [`JournalError::Io`] when the file cannot be read or cut.
pub fn resume<O: Serialize + DeserializeOwned>(
    path: impl AsRef<Path>,
    fingerprint: Fingerprint,
    total_tasks: u64,
) -> Result<Resumed<O>, JournalError> {
    let path = path.as_ref();
    let io_err = |e| JournalError::io(path, e);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();

    let mut reader = BufReader::with_capacity(64 << 10, &file);
    let mut head = Vec::with_capacity(HEADER_LEN);
    (&mut reader)
        .take(HEADER_LEN as u64)
        .read_to_end(&mut head)
        .map_err(io_err)?;
    let header = format::decode_header(&head).map_err(|e| match e {
        HeaderError::NotAJournal => JournalError::NotAJournal(path.to_path_buf()),
        HeaderError::Version(version) => JournalError::UnsupportedVersion {
            path: path.to_path_buf(),
            version,
        },
        HeaderError::Damaged(reason) => JournalError::DamagedHeader {
            path: path.to_path_buf(),
            reason,
        },
    })?;
    if header.fingerprint != fingerprint || header.total_tasks != total_tasks {
        return Err(JournalError::Mismatch {
            path: path.to_path_buf(),
        });
    }

    let mut good_end = HEADER_LEN as u64;
    let mut outcomes = BTreeMap::new();
    let mut payload = Vec::new();
    while let Some(record) = format::read_record::<O>(&mut reader, &mut payload).map_err(io_err)? {
        // A valid checksum over an impossible index is not something this run wrote.
        if record.index >= total_tasks {
            break;
        }
        outcomes.insert(record.index, record.outcome);
        good_end += record.size;
    }
    drop(reader);

    if good_end < file_len {
        // Appending after a torn record would hide everything appended later behind it.
        file.set_len(good_end).map_err(io_err)?;
        file.sync_data().map_err(io_err)?;
    }
    file.seek(SeekFrom::Start(good_end)).map_err(io_err)?;
    let writer = JournalWriter::from_file(file, path, file_len - good_end)?;
    Ok((writer, outcomes.into_iter().collect()))
}
