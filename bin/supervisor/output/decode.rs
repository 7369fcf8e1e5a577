//! Reading a record's JSON view back, for `supervisor merge`: each job's `decode` takes the
//! object one run printed for a result and rebuilds the record through the job's own
//! constructors, so merged output is rendered by the very code that renders a run's.

use super::{Needs, Record};
use serde_json::{Map, Value};

/// Rebuilds a record from its JSON object, its order key and whether it failed.
pub type Decode =
    Box<dyn Fn(&Map<String, Value>, &[u8], bool, Needs) -> Result<Record, String> + Send + Sync>;

/// A text field.
pub fn text<'a>(json: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    json.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no text field {key:?}"))
}

/// A whole-number field.
pub fn number(json: &Map<String, Value>, key: &str) -> Result<u64, String> {
    json.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("no number field {key:?}"))
}

/// An optional text field (absent or null: `None`).
pub fn optional_text<'a>(
    json: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, String> {
    match json.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(format!("field {key:?} is not text")),
    }
}

/// `attempts`, 1 when absent (records name it only past the first).
pub fn attempts(json: &Map<String, Value>) -> Result<u32, String> {
    match json.get("attempts") {
        None => Ok(1),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| "field \"attempts\" is not a count".into()),
    }
}

/// A path written by `insert_path`: the exact bytes in `KEY_bytes` when present, else the text.
pub fn path(json: &Map<String, Value>, key: &str) -> Result<Vec<u8>, String> {
    if let Some(bytes) = json.get(&format!("{key}_bytes")) {
        return bytes
            .as_array()
            .and_then(|items| {
                items
                    .iter()
                    .map(|v| v.as_u64().and_then(|b| u8::try_from(b).ok()))
                    .collect()
            })
            .ok_or_else(|| format!("field \"{key}_bytes\" is not a list of bytes"));
    }
    text(json, key).map(|t| t.as_bytes().to_vec())
}

/// An input position written as an order key (eight big-endian bytes).
pub fn position(order: &[u8]) -> Result<usize, String> {
    let bytes: [u8; 8] = order
        .try_into()
        .map_err(|_| "the order key is not a position".to_string())?;
    Ok(u64::from_be_bytes(bytes) as usize)
}

/// Fails unless the record rebuilt is the one described (its order and failure agree).
pub fn checked(record: Record, order: &[u8], failed: bool) -> Result<Record, String> {
    if record.order != order || record.failed != failed {
        return Err("the result does not agree with its order key or failure flag".into());
    }
    Ok(record)
}
