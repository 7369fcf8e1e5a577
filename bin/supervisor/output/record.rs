//! One result, ready to be written in any format.

use serde_json::{Map, Value};

/// A result row as every format needs it.
#[derive(Clone)]
pub struct Record {
    /// The canonical output order (e.g. path bytes, or a big-endian index).
    pub order: Vec<u8>,
    /// True when this result counts as a failure.
    pub failed: bool,
    /// The JSON object (also the jsonl line).
    pub json: Map<String, Value>,
    /// CSV fields, in the job's header order.
    pub csv: Vec<Vec<u8>>,
    /// A `md5sum`-style line, for results that have one.
    pub sums: Option<Vec<u8>>,
    /// For a failure, a one-line description naming the thing ("PATH: Permission denied").
    pub error_line: Option<String>,
}

impl Record {
    /// Text of `sums` lines a job rendered itself, to be written as it is (see
    /// [`super::Output::stream_sums`]): not a result of its own.
    pub fn sums_text(text: Vec<u8>) -> Self {
        Record {
            order: Vec::new(),
            failed: false,
            json: Map::new(),
            csv: Vec::new(),
            sums: Some(text),
            error_line: None,
        }
    }
}

/// Which of a record's views the chosen format reads, so a million records do not each build
/// three: `json` (json, jsonl, and the table, whose rows read it), `csv`, `sums`.
#[derive(Clone, Copy, Debug)]
pub struct Needs {
    /// The JSON object.
    pub json: bool,
    /// The CSV fields.
    pub csv: bool,
    /// The `md5sum`-style line.
    pub sums: bool,
}

impl Needs {
    /// What `format` reads.
    pub fn of(format: crate::cli::Format) -> Self {
        use crate::cli::Format;
        Needs {
            json: matches!(
                format,
                Format::Json | Format::Jsonl | Format::Table | Format::Partition
            ),
            csv: format == Format::Csv,
            sums: format == Format::Sums,
        }
    }
}

/// Adds `path` to a JSON object losslessly: a UTF-8 path as a string; any other as its lossy
/// text in `path` plus the exact bytes in `path_bytes`.
pub fn insert_path(json: &mut Map<String, Value>, key: &str, path: &[u8]) {
    match std::str::from_utf8(path) {
        Ok(text) => {
            json.insert(key.to_string(), Value::from(text));
        }
        Err(_) => {
            json.insert(
                key.to_string(),
                Value::from(String::from_utf8_lossy(path).into_owned()),
            );
            json.insert(
                format!("{key}_bytes"),
                Value::Array(path.iter().map(|&b| Value::from(b)).collect()),
            );
        }
    }
}

/// A path for human-readable text: lossy, with control characters escaped so one result is
/// always one line.
pub fn display_path(path: &[u8]) -> String {
    let text = String::from_utf8_lossy(path);
    if !text.chars().any(char::is_control) {
        return text.into_owned();
    }
    text.chars()
        .map(|c| match c {
            '\n' => "\\n".to_string(),
            '\r' => "\\r".to_string(),
            '\t' => "\\t".to_string(),
            c if c.is_control() => format!("\\x{:02x}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_paths_keep_their_bytes() {
        let mut json = Map::new();
        insert_path(&mut json, "path", b"a\xffb");
        assert_eq!(json["path"], Value::from("a\u{fffd}b"));
        assert_eq!(json["path_bytes"], serde_json::json!([97, 255, 98]));
        let mut json = Map::new();
        insert_path(&mut json, "path", "é".as_bytes());
        assert!(!json.contains_key("path_bytes"));
    }

    #[test]
    fn display_paths_stay_on_one_line() {
        assert_eq!(display_path(b"a\nb"), "a\\nb");
        assert_eq!(display_path(b"plain"), "plain");
    }
}
