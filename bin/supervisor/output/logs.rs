//! How log counts look in each format.

use super::decode::{self, Decode};
use super::{Record, View, display_path, insert_path};
use serde_json::{Map, Value};
use supervisor_jobs::logs::LogCounts;

/// The logs job's table and CSV layout for these patterns.
pub fn view(patterns: &[String]) -> View {
    let mut csv_header: Vec<String> = vec!["path".into(), "lines".into()];
    csv_header.extend(patterns.iter().cloned());
    csv_header.push("error".into());
    View {
        csv_header,
        table_header: String::new(),
        table_row: |r| {
            let counts = r.json.get("counts")?.as_object()?;
            if counts.values().all(|n| n.as_u64() == Some(0)) {
                return None;
            }
            let parts: Vec<String> = counts
                .iter()
                .map(|(pattern, n)| format!("{} {pattern}", n.as_u64().unwrap_or(0)))
                .collect();
            Some((
                0,
                format!("{}: {}", display_path(&r.order), parts.join(", ")),
            ))
        },
        table_total: |records| {
            let mut files = 0u64;
            let mut lines = 0u64;
            let mut totals: Vec<(String, u64)> = Vec::new();
            for r in records.filter(|r| !r.failed) {
                files += 1;
                lines += r.json.get("lines").and_then(Value::as_u64).unwrap_or(0);
                let Some(counts) = r.json.get("counts").and_then(Value::as_object) else {
                    continue;
                };
                for (i, (pattern, n)) in counts.iter().enumerate() {
                    if totals.len() <= i {
                        totals.push((pattern.clone(), 0));
                    }
                    totals[i].1 += n.as_u64().unwrap_or(0);
                }
            }
            let parts: Vec<String> = totals
                .iter()
                .map(|(pattern, n)| format!("{n} {pattern}"))
                .collect();
            format!(
                "total: {files} files, {lines} lines: {}",
                if parts.is_empty() {
                    "no patterns".to_string()
                } else {
                    parts.join(", ")
                }
            )
        },
    }
}

/// A file's merged counts.
pub fn counts(path: &[u8], counts: &LogCounts, patterns: &[String]) -> Record {
    let mut json = Map::new();
    insert_path(&mut json, "path", path);
    json.insert("lines".into(), Value::from(counts.lines));
    // Keys keep pattern order (serde_json's preserve_order): the seed's ERROR, then WARNING.
    let mut per_pattern = Map::new();
    for (pattern, n) in patterns.iter().zip(&counts.counts) {
        per_pattern.insert(pattern.clone(), Value::from(*n));
    }
    json.insert("counts".into(), Value::Object(per_pattern));
    let mut csv = vec![path.to_vec(), counts.lines.to_string().into_bytes()];
    csv.extend(counts.counts.iter().map(|n| n.to_string().into_bytes()));
    csv.push(Vec::new());
    Record {
        order: path.to_vec(),
        failed: false,
        json,
        csv,
        sums: None,
        error_line: None,
    }
}

/// A file that could not be read.
pub fn error(path: &[u8], message: &str, patterns: usize) -> Record {
    let mut json = Map::new();
    insert_path(&mut json, "path", path);
    json.insert("error".into(), Value::from(message));
    let mut csv = vec![path.to_vec(), Vec::new()];
    csv.extend(std::iter::repeat_n(Vec::new(), patterns));
    csv.push(message.as_bytes().to_vec());
    Record {
        order: path.to_vec(),
        failed: true,
        json,
        csv,
        sums: None,
        error_line: Some(format!("{}: {message}", display_path(path))),
    }
}

/// Rebuilds log records for these patterns from their JSON (`supervisor merge`).
pub fn decoder(patterns: Vec<String>) -> Decode {
    Box::new(move |json, order, failed, _| {
        let path = decode::path(json, "path")?;
        let record = match decode::optional_text(json, "error")? {
            Some(message) => error(&path, message, patterns.len()),
            None => {
                let mut found = LogCounts::new(patterns.len());
                found.lines = decode::number(json, "lines")?;
                let per_pattern = json
                    .get("counts")
                    .and_then(Value::as_object)
                    .ok_or("no \"counts\" object")?;
                for (n, pattern) in found.counts.iter_mut().zip(&patterns) {
                    *n = decode::number(per_pattern, pattern)?;
                }
                counts(&path, &found, &patterns)
            }
        };
        decode::checked(record, order, failed)
    })
}
