//! An `exec` result in a partition file, and back.
//!
//! A result is a line `{"order": POSITION, "failed": BOOL, "result": OBJECT}` like every
//! job's (POSITION: the item's place in the input, from 0, as eight big-endian bytes), where
//! OBJECT is what one run prints for it in `json`. A stream of more than [`IN_LINE`] bytes
//! (what a worker spills to a file rather than send) is left out of OBJECT, named in
//! `"follows"`, and comes after the line as base64, [`PIECE`] bytes a line, ending with a
//! shorter line (empty if need be). So any bytes survive exactly, and neither the partition
//! that writes a gigabyte of output nor the merge that reads it holds more than a line of it:
//!
//! ```text
//! {"order":[0,0,0,0,0,0,0,4],"failed":false,"result":{"item":"big","seq":5,...},"follows":["stdout"]}
//! {"stdout":"QUJD…"}
//! {"stdout":"…"}
//! ```
//!
//! With `--output-dir` the streams stay in their files (`DIR/SEQ.stdout`): OBJECT names them as
//! one run's `json` does, and `merge` reads them there, so DIR must be storage that the
//! partitions and the merge share.

use super::decode;
use super::exec_row::{Encoder, Output, Row};
use super::stream_text::Stream;
use crate::error::CliError;
use crate::lines::Lines;
use crate::partition::{PartitionLine, bytes_to_json};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use std::io::{self, Write};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// The most bytes of one stream written inside the result object: what travels inline from a
/// worker.
pub const IN_LINE: u64 = supervisor_jobs::exec::INLINE_MAX;

/// Bytes of a following stream per line (64 KiB of base64).
pub const PIECE: usize = 48 * 1024;

/// The streams, in the order they are written.
const STREAMS: [&str; 2] = ["stdout", "stderr"];

/// Writes `row` as partition lines: the result line, then its big streams.
pub fn write(encoder: &mut Encoder<'_>, row: &Row) -> io::Result<()> {
    let output_dir = encoder.output_dir;
    let follows = [&row.stdout, &row.stderr].map(|output| match output {
        Output::Content(stream) if !output_dir && stream.len() > IN_LINE => Some(stream),
        _ => None,
    });
    let position = row.seq.saturating_sub(1);
    let order = serde_json::to_vec(&bytes_to_json(&position.to_be_bytes())).unwrap_or_default();
    encoder.sink.write(b"{\"order\":");
    encoder.sink.write(&order);
    encoder
        .sink
        .write(format!(",\"failed\":{},\"result\":", row.failed).as_bytes());
    encoder.json_leaving_out(row, follows.map(|f| f.is_some()))?;
    let names: Vec<&str> = STREAMS
        .iter()
        .zip(&follows)
        .filter_map(|(name, f)| f.map(|_| *name))
        .collect();
    if !names.is_empty() {
        encoder.sink.write(b",\"follows\":");
        encoder
            .sink
            .write(&serde_json::to_vec(&names).unwrap_or_default());
    }
    encoder.sink.write(b"}\n");
    for (name, stream) in STREAMS.iter().zip(follows) {
        if let Some(stream) = stream {
            write_pieces(name, stream, encoder)?;
        }
    }
    Ok(())
}

/// `{"NAME":"BASE64"}` lines of [`PIECE`] bytes each, the last one shorter.
fn write_pieces(name: &str, stream: &Stream, encoder: &mut Encoder<'_>) -> io::Result<()> {
    let mut piece = Vec::with_capacity(PIECE);
    let mut text = String::new();
    let sink = &mut *encoder.sink;
    let mut emit = |piece: &[u8]| {
        text.clear();
        STANDARD.encode_string(piece, &mut text);
        sink.write(format!("{{\"{name}\":\"").as_bytes());
        sink.write(text.as_bytes());
        sink.write(b"\"}\n");
    };
    stream.for_each_chunk(encoder.buf, |mut chunk| {
        while !chunk.is_empty() {
            let take = (PIECE - piece.len()).min(chunk.len());
            piece.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if piece.len() == PIECE {
                emit(&piece);
                piece.clear();
            }
        }
        Ok(())
    })?;
    emit(&piece);
    Ok(())
}

/// A result line read back: the row, without the streams that follow the line (empty in it),
/// and which of stdout and stderr follow.
pub struct Head {
    pub row: Row,
    pub follows: [bool; 2],
}

/// Rebuilds the row of a result line (`output_dir`: the run had `--output-dir`). The row's
/// `index` is its position in the input.
pub fn decode(line: &[u8], output_dir: bool) -> Result<Head, String> {
    let line = PartitionLine::parse(line)?;
    let json = &line.result;
    let position = decode::position(&line.order)?;
    let seq = decode::number(json, "seq")?;
    if seq != position as u64 + 1 {
        return Err("its seq does not agree with its order key".into());
    }
    let mut follows = [false, false];
    match line.rest.get("follows") {
        None => {}
        Some(Value::Array(names)) if !output_dir => {
            for name in names {
                let at = STREAMS
                    .iter()
                    .position(|s| name.as_str() == Some(s))
                    .ok_or_else(|| format!("\"follows\" names no stream: {name}"))?;
                follows[at] = true;
            }
        }
        Some(other) => return Err(format!("unexpected \"follows\": {other}")),
    }
    let stream = |at: usize| -> Result<Output, String> {
        let name = STREAMS[at];
        if output_dir {
            return in_dir(json, name);
        }
        let bytes = if follows[at] {
            Vec::new()
        } else {
            decode::path(json, name)?
        };
        Ok(Output::Content(Stream::Bytes(bytes)))
    };
    let row = Row {
        index: position,
        seq,
        item: decode::path(json, "item")?,
        exit_code: match json.get("exit_code") {
            None | Some(Value::Null) => None,
            Some(code) => Some(
                code.as_i64()
                    .and_then(|c| i32::try_from(c).ok())
                    .ok_or("field \"exit_code\" is not an exit status")?,
            ),
        },
        signal: decode::optional_text(json, "signal")?.map(str::to_string),
        error: decode::optional_text(json, "error")?.map(str::to_string),
        failed: line.failed,
        stdout: stream(0)?,
        stderr: stream(1)?,
        duration_ms: match json.get("duration_ms") {
            None | Some(Value::Null) => None,
            Some(ms) => Some(whole_microseconds(
                ms.as_f64().ok_or("field \"duration_ms\" is not a number")?,
            )),
        },
        attempts: decode::attempts(json)?,
    };
    Ok(Head { row, follows })
}

/// An `--output-dir` stream: `NAME_file` and `NAME_size` (a task that never ran has no file).
fn in_dir(json: &Map<String, Value>, name: &str) -> Result<Output, String> {
    let file = format!("{name}_file");
    let size = decode::number(json, &format!("{name}_size"))?;
    if matches!(json.get(&file), Some(Value::Null)) {
        if size != 0 {
            return Err(format!("a {name}_size without a {name}_file"));
        }
        return Ok(Output::Content(Stream::Bytes(Vec::new())));
    }
    let path = PathBuf::from(std::ffi::OsString::from_vec(decode::path(json, &file)?));
    Ok(Output::InDir { path, size })
}

/// A duration written as whole microseconds / 1000 and read back as exactly that value (a
/// JSON reader may land one unit in the last place off, which would print differently).
fn whole_microseconds(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// Reads the lines of one following stream from `lines` into `out`; returns its length.
pub fn read_pieces(
    lines: &mut Lines,
    name: &str,
    out: &mut dyn Write,
    buf: &mut Vec<u8>,
) -> Result<u64, CliError> {
    let mut total = 0u64;
    loop {
        let Some((line, at)) = lines.next_line()? else {
            return Err(CliError::Usage(format!(
                "{} ends inside the {name} of a result",
                lines.path().display()
            )));
        };
        let piece = piece_of(line, name, buf)
            .map_err(|e| CliError::Usage(format!("{at}: not a piece of {name}: {e}")))?;
        out.write_all(&buf[..piece]).map_err(|e| {
            CliError::Output(format!(
                "cannot write a temporary file: {}",
                supervisor_jobs::describe_io_error(&e)
            ))
        })?;
        total += piece as u64;
        if piece < PIECE {
            return Ok(total);
        }
    }
}

/// Decodes a `{"NAME":"BASE64"}` line into `buf`; returns how many bytes it holds.
fn piece_of(line: &[u8], name: &str, buf: &mut Vec<u8>) -> Result<usize, String> {
    let mut object: Map<String, Value> = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    let text = match object.remove(name) {
        Some(Value::String(text)) if object.is_empty() => text,
        _ => return Err(format!("expected {{\"{name}\": BASE64}}")),
    };
    buf.clear();
    STANDARD
        .decode_vec(text.as_bytes(), buf)
        .map_err(|e| e.to_string())?;
    if buf.len() > PIECE {
        return Err(format!("more than {PIECE} bytes"));
    }
    Ok(buf.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Sink;

    fn row(seq: u64, stdout: Vec<u8>, stderr: Vec<u8>) -> Row {
        Row {
            index: 0,
            seq,
            item: b"it\xffem".to_vec(),
            exit_code: Some(3),
            signal: None,
            error: None,
            failed: true,
            stdout: Output::Content(Stream::Bytes(stdout)),
            stderr: Output::Content(Stream::Bytes(stderr)),
            duration_ms: Some(1234.567),
            attempts: 2,
        }
    }

    /// The lines written for `row`, through a scratch sink.
    fn lines_of(row: &Row) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = Sink::scratch(dir.path()).unwrap();
        let mut buf = Vec::new();
        let mut encoder = Encoder {
            sink: &mut sink,
            buf: &mut buf,
            output_dir: false,
        };
        write(&mut encoder, row).unwrap();
        let mut file = sink.into_scratch().unwrap();
        let path = dir.path().join("part.jsonl");
        io::copy(&mut file, &mut std::fs::File::create(&path).unwrap()).unwrap();
        (dir, path)
    }

    fn content(output: &Output) -> &[u8] {
        match output {
            Output::Content(Stream::Bytes(bytes)) => bytes,
            _ => panic!("not inline"),
        }
    }

    #[test]
    fn small_streams_stay_in_the_result_and_big_ones_follow_exactly() {
        // Exactly one piece, a piece and a bit, a big non-UTF-8 stream; and small ones.
        let big: Vec<u8> = (0..(PIECE * 3 + 17)).map(|i| (i * 7 % 256) as u8).collect();
        let cases = [
            (b"small \xff out\n".to_vec(), b"err\n".to_vec()),
            (vec![b'x'; PIECE * 2], b"e".to_vec()),
            (big.clone(), big[..IN_LINE as usize + 1].to_vec()),
            (vec![b'y'; IN_LINE as usize], Vec::new()),
        ];
        for (stdout, stderr) in cases {
            let (_dir, path) = lines_of(&row(9, stdout.clone(), stderr.clone()));
            let mut lines = Lines::open(&path).unwrap();
            let head = decode(lines.first().unwrap(), false).unwrap();
            assert_eq!(
                head.follows,
                [stdout.len() as u64 > IN_LINE, stderr.len() as u64 > IN_LINE]
            );
            assert_eq!((head.row.index, head.row.seq), (8, 9));
            assert_eq!(head.row.item, b"it\xffem");
            assert_eq!((head.row.exit_code, head.row.attempts), (Some(3), 2));
            assert_eq!(head.row.duration_ms, Some(1234.567));
            let mut buf = Vec::new();
            for (at, expected) in [stdout, stderr].iter().enumerate() {
                if head.follows[at] {
                    let mut got = Vec::new();
                    let name = STREAMS[at];
                    let len = read_pieces(&mut lines, name, &mut got, &mut buf).unwrap();
                    assert_eq!(len, expected.len() as u64);
                    assert!(got == *expected, "{name} differs");
                } else {
                    let output = if at == 0 {
                        &head.row.stdout
                    } else {
                        &head.row.stderr
                    };
                    assert_eq!(content(output), &expected[..]);
                }
            }
            assert!(lines.next_line().unwrap().is_none(), "lines left over");
        }
    }

    #[test]
    fn a_cut_or_foreign_piece_is_refused() {
        let (_dir, path) = lines_of(&row(1, vec![b'z'; PIECE + 5], Vec::new()));
        let body = std::fs::read(&path).unwrap();
        // Only the result line and the first, full piece: the stream never ends.
        let cut: Vec<&[u8]> = body.split(|&b| b == b'\n').take(2).collect();
        std::fs::write(&path, cut.join(&b'\n')).unwrap();
        let mut lines = Lines::open(&path).unwrap();
        decode(lines.first().unwrap(), false).unwrap();
        let err = read_pieces(&mut lines, "stdout", &mut io::sink(), &mut Vec::new());
        assert!(
            err.unwrap_err()
                .to_string()
                .contains("ends inside the stdout")
        );
        let mut buf = Vec::new();
        assert!(piece_of(b"{\"stderr\":\"QQ==\"}", "stdout", &mut buf).is_err());
        assert!(piece_of(b"{\"stdout\":\"not base64!\"}", "stdout", &mut buf).is_err());
        assert_eq!(
            piece_of(b"{\"stdout\":\"QQ==\"}", "stdout", &mut buf),
            Ok(1)
        );
    }

    #[test]
    fn durations_come_back_as_written() {
        for us in [0u64, 1, 999, 1_234_567, 86_400_000_000, 123_456_789_012] {
            let ms = us as f64 / 1000.0;
            let text = serde_json::to_string(&ms).unwrap();
            let back: f64 = serde_json::from_str(&text).unwrap();
            assert_eq!(whole_microseconds(back).to_bits(), ms.to_bits(), "{us}");
        }
    }
}
