//! How probe results look in each format.

use super::decode::{self, Decode};
use super::{Record, View};
use serde_json::{Map, Value};
use supervisor_jobs::probe::{ProbeResult, ProbeStatus};

/// The probe job's table and CSV layout.
pub fn view() -> View {
    View {
        csv_header: ["target", "status", "latency_ms", "error"]
            .map(String::from)
            .to_vec(),
        table_header: format!("{:<40} {:<8} {:>10}  ERROR", "TARGET", "STATUS", "LATENCY"),
        table_row: |r| {
            let text = |key: &str| {
                r.json
                    .get(key)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let latency = r
                .json
                .get("latency_ms")
                .and_then(Value::as_f64)
                .map(|ms| format!("{ms:.2} ms"))
                .unwrap_or_else(|| "-".into());
            Some((
                0,
                format!(
                    "{:<40} {:<8} {latency:>10}  {}",
                    text("target"),
                    text("status"),
                    text("error")
                )
                .trim_end()
                .to_string(),
            ))
        },
        table_total: |records| {
            let mut counts = [0usize; 4];
            let mut total = 0;
            for r in records {
                total += 1;
                let status = r.json.get("status").and_then(Value::as_str);
                if let Some(k) = ["up", "down", "timeout", "error"]
                    .iter()
                    .position(|s| Some(*s) == status)
                {
                    counts[k] += 1;
                }
            }
            format!(
                "total: {total} targets: {} up, {} down, {} timeout, {} error",
                counts[0], counts[1], counts[2], counts[3]
            )
        },
    }
}

/// One target's result; `failed` says whether it counts against the exit code.
pub fn result(index: usize, result: &ProbeResult, failed: bool) -> Record {
    record(
        index,
        &result.target,
        &result.status.to_string(),
        result.latency_ms,
        result.error.as_deref(),
        failed,
    )
}

/// A target whose task could not be completed (its worker died every attempt), or one that
/// did not parse.
pub fn error(index: usize, target: &str, message: &str) -> Record {
    record(
        index,
        target,
        &ProbeStatus::Error.to_string(),
        None,
        Some(message),
        true,
    )
}

fn record(
    index: usize,
    target: &str,
    status: &str,
    latency_ms: Option<f64>,
    error: Option<&str>,
    failed: bool,
) -> Record {
    let mut json = Map::new();
    json.insert("target".into(), Value::from(target));
    json.insert("status".into(), Value::from(status));
    json.insert(
        "latency_ms".into(),
        latency_ms.map(Value::from).unwrap_or(Value::Null),
    );
    json.insert(
        "error".into(),
        error.map(Value::from).unwrap_or(Value::Null),
    );
    Record {
        order: (index as u64).to_be_bytes().to_vec(),
        failed,
        json,
        csv: vec![
            target.as_bytes().to_vec(),
            status.as_bytes().to_vec(),
            latency_ms
                .map(|ms| format!("{ms:.3}"))
                .unwrap_or_default()
                .into_bytes(),
            error.unwrap_or("").as_bytes().to_vec(),
        ],
        sums: None,
        error_line: failed.then(|| match error {
            Some(message) => format!("{target}: {status}: {message}"),
            None => format!("{target}: {status}"),
        }),
    }
}

/// Rebuilds probe records from their JSON (`supervisor merge`); whether a result failed
/// depends on --fail-on-down, so it comes with the line.
pub fn decoder() -> Decode {
    Box::new(|json, order, failed, _| {
        let latency_ms = match json.get("latency_ms") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_f64().ok_or("field \"latency_ms\" is not a number")?),
        };
        let record = record(
            decode::position(order)?,
            decode::text(json, "target")?,
            decode::text(json, "status")?,
            latency_ms,
            decode::optional_text(json, "error")?,
            failed,
        );
        decode::checked(record, order, failed)
    })
}
