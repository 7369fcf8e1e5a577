//! The partition file: a header line that describes the run, one line per result, and the
//! summary line.
//!
//! ```text
//! {"supervisor_partition": {"format": 1, "job": "hash", "args": {...}, "fingerprint": "…",
//!   "partition": 2, "partitions": 3, "scheme": "hash", "source": "…", "tool_version": "…",
//!   "host": "…", "started": "…", "ended": "…"}}
//! {"order": "a/b", "failed": false, "result": {"path": "a/b", "size": 3, ...}}
//! ...
//! {"summary": {...}}
//! ```
//!
//! `result` is exactly the object one run prints for that result in `json`/`jsonl`; `order`
//! is its place in the canonical output order (path bytes, or the input position as eight
//! big-endian bytes), `failed` whether it counts as a failure. Byte strings are JSON strings
//! when they are UTF-8 without control characters, else arrays of byte values.

use super::Share;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::time::SystemTime;

/// The version of the partition file format.
pub const FORMAT: u32 = 1;

/// The key of the header object on the first line.
const HEADER_KEY: &str = "supervisor_partition";

/// The first line of a partition's output.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT`].
    pub format: u32,
    pub job: String,
    pub args: Value,
    pub fingerprint: String,
    /// M of M/N (1-based).
    pub partition: u32,
    /// N.
    pub partitions: u32,
    /// `hash` (by the hash of each task's key) or `plan` (a share of a plan).
    pub scheme: String,
    /// The plan's id, for a planned share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// How the partition was chosen (the option, or the scheduler's variables).
    pub source: String,
    pub tool_version: String,
    pub host: String,
    /// RFC 3339, UTC, milliseconds.
    pub started: String,
    pub ended: String,
}

impl Header {
    /// The header of `share`, ended now.
    pub fn new(share: &Share) -> Self {
        Header {
            format: FORMAT,
            job: share.identity.job.clone(),
            args: share.identity.args.clone(),
            fingerprint: share.identity.fingerprint.clone(),
            partition: share.partition.number(),
            partitions: share.partition.count(),
            scheme: if share.plan.is_some() { "plan" } else { "hash" }.into(),
            plan: share.plan.as_ref().map(|p| p.id.clone()),
            source: share.source.clone(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            host: host_name(),
            started: timestamp(share.started),
            ended: timestamp(SystemTime::now()),
        }
    }

    /// The header line, newline included.
    pub fn line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(&json!({ HEADER_KEY: self })).unwrap_or_default();
        line.push(b'\n');
        line
    }

    /// Reads a header line; `None` if the line is not one.
    pub fn parse(line: &[u8]) -> Option<Result<Header, String>> {
        let mut value: Value = serde_json::from_slice(line).ok()?;
        let header = value.as_object_mut()?.remove(HEADER_KEY)?;
        Some(serde_json::from_value(header).map_err(|e| e.to_string()))
    }

    /// The timestamps as instants.
    pub fn span(&self) -> Option<(SystemTime, SystemTime)> {
        let started = humantime::parse_rfc3339(&self.started).ok()?;
        let ended = humantime::parse_rfc3339(&self.ended).ok()?;
        Some((started, ended))
    }

    /// "partition 2/3 (hash)", "partition 1/3 of plan 5e0c…".
    pub fn describe(&self) -> String {
        match &self.plan {
            Some(id) => format!(
                "partition {}/{} of plan {id}",
                self.partition, self.partitions
            ),
            None => format!(
                "partition {}/{} ({})",
                self.partition, self.partitions, self.scheme
            ),
        }
    }
}

/// One result line of a partition file.
pub struct PartitionLine {
    pub order: Vec<u8>,
    pub failed: bool,
    pub result: Map<String, Value>,
    /// The line's other fields (an `exec` result's `follows`).
    pub rest: Map<String, Value>,
}

impl PartitionLine {
    /// The line for a result (newline included).
    pub fn encode(order: &[u8], failed: bool, result: &Map<String, Value>) -> Vec<u8> {
        let mut line = serde_json::to_vec(&json!({
            "order": bytes_to_json(order),
            "failed": failed,
            "result": result,
        }))
        .unwrap_or_default();
        line.push(b'\n');
        line
    }

    /// Reads a result line.
    pub fn parse(line: &[u8]) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(line).map_err(|e| e.to_string())?;
        let Value::Object(mut object) = value else {
            return Err("not a JSON object".into());
        };
        let order = object
            .get("order")
            .and_then(bytes_from_json)
            .ok_or("no \"order\"")?;
        let failed = object
            .get("failed")
            .and_then(Value::as_bool)
            .ok_or("no \"failed\"")?;
        let Some(Value::Object(result)) = object.remove("result") else {
            return Err("no \"result\" object".into());
        };
        object.remove("order");
        object.remove("failed");
        Ok(PartitionLine {
            order,
            failed,
            result,
            rest: object,
        })
    }
}

/// Bytes as JSON: a string when they are UTF-8 without control characters, else an array of
/// byte values (lossless either way).
pub fn bytes_to_json(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => Value::from(text),
        _ => bytes.iter().map(|&b| Value::from(b)).collect(),
    }
}

/// The inverse of [`bytes_to_json`].
pub fn bytes_from_json(value: &Value) -> Option<Vec<u8>> {
    match value {
        Value::String(text) => Some(text.as_bytes().to_vec()),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect(),
        _ => None,
    }
}

/// An RFC 3339 timestamp in UTC with milliseconds.
pub fn timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// This machine's name (the kernel's hostname).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_as_text_or_numbers() {
        for bytes in [
            &b"a/b c"[..],
            b"\xff\xfe",
            b"new\nline",
            &7u64.to_be_bytes(),
            b"",
        ] {
            let json = bytes_to_json(bytes);
            assert_eq!(bytes_from_json(&json).as_deref(), Some(bytes), "{json}");
        }
        assert_eq!(bytes_to_json(b"plain"), Value::from("plain"));
        assert_eq!(bytes_to_json(&[0, 5]), json!([0, 5]));
    }

    #[test]
    fn result_lines_round_trip() {
        let mut result = Map::new();
        result.insert("path".into(), Value::from("x"));
        let line = PartitionLine::encode(b"x", true, &result);
        let back = PartitionLine::parse(&line).unwrap();
        assert_eq!((back.order.as_slice(), back.failed), (&b"x"[..], true));
        assert_eq!(back.result, result);
        assert!(PartitionLine::parse(b"{\"summary\": {}}").is_err());
    }
}
