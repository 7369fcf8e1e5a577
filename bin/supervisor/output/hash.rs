//! How hash results look in each format.

use super::decode::{self, Decode};
use super::{Needs, Record, View, display_path, insert_path, summary::human_bytes};
use serde_json::{Map, Value};
use supervisor_jobs::hash::{Algo, SumsStyle, sums_line_styled};

/// The hash job's table and CSV layout.
pub fn view() -> View {
    View {
        csv_header: ["path", "size", "digest", "algo", "error", "attempts"]
            .map(String::from)
            .to_vec(),
        table_header: format!("{:>14}  {:<32}  PATH", "SIZE", "DIGEST"),
        table_row: |r| {
            if r.failed {
                return None;
            }
            let size = r.json.get("size").and_then(Value::as_u64).unwrap_or(0);
            let digest = r.json.get("digest").and_then(Value::as_str).unwrap_or("");
            Some((
                size,
                format!("{size:>14}  {digest:<32}  {}", display_path(&r.order)),
            ))
        },
        table_total: |records| {
            let (files, bytes) = records
                .filter(|r| !r.failed)
                .fold((0u64, 0u64), |(n, b), r| {
                    (
                        n + 1,
                        b + r.json.get("size").and_then(Value::as_u64).unwrap_or(0),
                    )
                });
            format!(
                "total: {files} files, {} ({bytes} bytes)",
                human_bytes(bytes)
            )
        },
    }
}

/// A file that was hashed (with only the views `needs` asks for; its sums line laid out as
/// `style` says).
pub fn digest(
    path: &[u8],
    size: u64,
    digest: &str,
    (algo, style): (Algo, SumsStyle),
    attempts: u32,
    needs: Needs,
) -> Record {
    let mut json = Map::new();
    if needs.json {
        insert_path(&mut json, "path", path);
        json.insert("size".into(), Value::from(size));
        json.insert("digest".into(), Value::from(digest));
        json.insert("algo".into(), Value::from(algo.name()));
        if attempts > 1 {
            json.insert("attempts".into(), Value::from(attempts));
        }
    }
    let csv = if needs.csv {
        vec![
            path.to_vec(),
            size.to_string().into_bytes(),
            digest.as_bytes().to_vec(),
            algo.name().as_bytes().to_vec(),
            Vec::new(),
            attempts.to_string().into_bytes(),
        ]
    } else {
        Vec::new()
    };
    Record {
        order: path.to_vec(),
        failed: false,
        json,
        csv,
        sums: needs
            .sums
            .then(|| sums_line_styled(digest, path, algo, style)),
        error_line: None,
    }
}

/// A path that could not be hashed, with the reason.
pub fn error(path: &[u8], message: &str, attempts: u32) -> Record {
    let mut json = Map::new();
    insert_path(&mut json, "path", path);
    json.insert("error".into(), Value::from(message));
    if attempts > 1 {
        json.insert("attempts".into(), Value::from(attempts));
    }
    Record {
        order: path.to_vec(),
        failed: true,
        json,
        csv: vec![
            path.to_vec(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            message.as_bytes().to_vec(),
            attempts.to_string().into_bytes(),
        ],
        sums: None,
        error_line: Some(if attempts > 1 {
            format!("{}: {message} (attempts: {attempts})", display_path(path))
        } else {
            format!("{}: {message}", display_path(path))
        }),
    }
}

/// Rebuilds hash records from their JSON (`supervisor merge`), `sums` lines in `style`.
pub fn decoder(style: SumsStyle) -> Decode {
    Box::new(move |json, order, failed, needs| {
        let path = decode::path(json, "path")?;
        let attempts = decode::attempts(json)?;
        let record = match decode::optional_text(json, "error")? {
            Some(message) => error(&path, message, attempts),
            None => {
                let algo: Algo = decode::text(json, "algo")?
                    .parse()
                    .map_err(|e: supervisor_jobs::hash::ParseAlgoError| e.to_string())?;
                let size = decode::number(json, "size")?;
                digest(
                    &path,
                    size,
                    decode::text(json, "digest")?,
                    (algo, style),
                    attempts,
                    needs,
                )
            }
        };
        decode::checked(record, order, failed)
    })
}
