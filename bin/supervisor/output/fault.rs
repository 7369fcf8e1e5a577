//! How fault-job results look in each format.

use super::decode::{self, Decode};
use super::{Needs, Record, View};
use serde_json::{Map, Value};

/// The fault job's table and CSV layout.
pub fn view() -> View {
    View {
        csv_header: ["item", "value", "error", "attempts"]
            .map(String::from)
            .to_vec(),
        table_header: format!("{:>8}  {:>20}  ATTEMPTS", "ITEM", "VALUE"),
        table_row: |r| {
            if r.failed {
                return None;
            }
            let item = r.json.get("item").and_then(Value::as_u64).unwrap_or(0);
            let value = r.json.get("value").and_then(Value::as_u64).unwrap_or(0);
            let attempts = r.json.get("attempts").and_then(Value::as_u64).unwrap_or(1);
            Some((0, format!("{item:>8}  {value:>20}  {attempts}")))
        },
        table_total: |records| {
            let (items, failed) =
                records.fold((0, 0), |(n, f), r| (n + 1, f + u64::from(r.failed)));
            format!("total: {items} items, {failed} failed")
        },
    }
}

/// A task that produced its value.
pub fn value(item: u64, value: u64, attempts: u32, needs: Needs) -> Record {
    let mut json = Map::new();
    if needs.json {
        json.insert("item".into(), Value::from(item));
        json.insert("value".into(), Value::from(value));
        json.insert("attempts".into(), Value::from(attempts));
    }
    Record {
        order: item.to_be_bytes().to_vec(),
        failed: false,
        json,
        csv: if needs.csv {
            vec![
                item.to_string().into_bytes(),
                value.to_string().into_bytes(),
                Vec::new(),
                attempts.to_string().into_bytes(),
            ]
        } else {
            Vec::new()
        },
        sums: None,
        error_line: None,
    }
}

/// A task that failed, with the cause.
pub fn failure(item: u64, message: &str, attempts: u32) -> Record {
    let mut json = Map::new();
    json.insert("item".into(), Value::from(item));
    json.insert("error".into(), Value::from(message));
    json.insert("attempts".into(), Value::from(attempts));
    Record {
        order: item.to_be_bytes().to_vec(),
        failed: true,
        json,
        csv: vec![
            item.to_string().into_bytes(),
            Vec::new(),
            message.as_bytes().to_vec(),
            attempts.to_string().into_bytes(),
        ],
        sums: None,
        error_line: Some(format!("item {item}: {message} (attempts: {attempts})")),
    }
}

/// Rebuilds fault-job records from their JSON (`supervisor merge`).
pub fn decoder() -> Decode {
    Box::new(|json, order, failed, needs| {
        let item = decode::number(json, "item")?;
        let attempts = decode::attempts(json)?;
        let record = match decode::optional_text(json, "error")? {
            Some(message) => failure(item, message, attempts),
            None => value(item, decode::number(json, "value")?, attempts, needs),
        };
        decode::checked(record, order, failed)
    })
}
