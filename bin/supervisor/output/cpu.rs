//! How cpu results look in each format.

use super::decode::{self, Decode};
use super::{Record, View};
use serde_json::{Map, Value};

/// The cpu job's table and CSV layout.
pub fn view() -> View {
    View {
        csv_header: ["n", "result", "error", "attempts"]
            .map(String::from)
            .to_vec(),
        table_header: format!("{:>8}  RESULT", "N"),
        table_row: |r| {
            if r.failed {
                return None;
            }
            let n = r.json.get("n").and_then(Value::as_u64).unwrap_or(0);
            let result = r.json.get("result").and_then(Value::as_str).unwrap_or("");
            Some((0, format!("{n:>8}  {result}")))
        },
        table_total: |records| format!("total: {} tasks", records.count()),
    }
}

/// A finished task; the exact u128 is a decimal string (JSON numbers lose precision).
pub fn result(index: usize, n: u64, result: u128, attempts: u32) -> Record {
    let mut json = Map::new();
    json.insert("n".into(), Value::from(n));
    json.insert("result".into(), Value::from(result.to_string()));
    if attempts > 1 {
        json.insert("attempts".into(), Value::from(attempts));
    }
    Record {
        order: (index as u64).to_be_bytes().to_vec(),
        failed: false,
        json,
        csv: vec![
            n.to_string().into_bytes(),
            result.to_string().into_bytes(),
            Vec::new(),
            attempts.to_string().into_bytes(),
        ],
        sums: None,
        error_line: None,
    }
}

/// A task that failed, with the cause.
pub fn failure(index: usize, n: u64, message: &str, attempts: u32) -> Record {
    let mut json = Map::new();
    json.insert("n".into(), Value::from(n));
    json.insert("error".into(), Value::from(message));
    json.insert("attempts".into(), Value::from(attempts));
    Record {
        order: (index as u64).to_be_bytes().to_vec(),
        failed: true,
        json,
        csv: vec![
            n.to_string().into_bytes(),
            Vec::new(),
            message.as_bytes().to_vec(),
            attempts.to_string().into_bytes(),
        ],
        sums: None,
        error_line: Some(format!("n={n}: {message} (attempts: {attempts})")),
    }
}

/// Rebuilds cpu records from their JSON (`supervisor merge`).
pub fn decoder() -> Decode {
    Box::new(|json, order, failed, _| {
        let index = decode::position(order)?;
        let n = decode::number(json, "n")?;
        let attempts = decode::attempts(json)?;
        let record = match decode::optional_text(json, "error")? {
            Some(message) => failure(index, n, message, attempts),
            None => {
                let sum = decode::text(json, "result")?;
                let sum: u128 = sum
                    .parse()
                    .map_err(|_| format!("result {sum:?} is not a whole number"))?;
                result(index, n, sum, attempts)
            }
        };
        decode::checked(record, order, failed)
    })
}
