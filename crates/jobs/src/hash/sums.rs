//! `md5sum`-compatible lines: writing them and reading them back.
//!
//! GNU coreutils 9.1 writes `HEX  NAME\n`. If the name contains a backslash, newline or
//! carriage return, the line starts with a backslash and those three are written as `\\`, `\n`
//! and `\r`, so that every line is one line and `md5sum -c` can invert it. `b3sum` does the
//! same for backslash and newline only: a carriage return stays raw, and its `--check` refuses
//! `\r`. All other bytes, including invalid UTF-8, are written raw.
//!
//! `--tag` writes the BSD layout instead (`MD5 (NAME) = HEX`, escaped the same way, the
//! backslash before the tag), `--binary` marks the name with `*` (`HEX *NAME`), and `--zero`
//! ends lines with NUL and escapes nothing.

use std::borrow::Cow;

use super::Algo;

/// How a sums line is laid out, as `md5sum`'s `--tag`, `--binary` and `--zero` choose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SumsStyle {
    /// The BSD layout: `MD5 (NAME) = HEX`.
    pub tag: bool,
    /// `HEX *NAME` instead of `HEX  NAME` (untagged only).
    pub binary: bool,
    /// End the line with NUL instead of a newline, and escape nothing.
    pub zero: bool,
}

/// Renders one line exactly as the reference tool of `algo` (`md5sum`, `sha1sum`, `sha256sum`,
/// `b3sum`) prints it, newline included.
pub fn sums_line(digest_hex: &str, path: &[u8], algo: Algo) -> Vec<u8> {
    sums_line_styled(digest_hex, path, algo, SumsStyle::default())
}

/// Renders one line as the reference tool of `algo` prints it with the options of `style`
/// (`md5sum --tag`, `sha256sum --binary`, `b2sum --zero`, ...), line end included.
pub fn sums_line_styled(digest_hex: &str, path: &[u8], algo: Algo, style: SumsStyle) -> Vec<u8> {
    let mut line = Vec::with_capacity(digest_hex.len() + path.len() + 24);
    push_sums_line(&mut line, digest_hex, path, algo, style);
    line
}

/// [`sums_line_styled`] appended to `line` (a writer of a million lines reuses one buffer).
pub fn push_sums_line(
    line: &mut Vec<u8>,
    digest_hex: &str,
    path: &[u8],
    algo: Algo,
    style: SumsStyle,
) {
    push_line(line, Hex::Text(digest_hex), (path, b""), algo, style);
}

/// [`push_sums_line`] of the digest `digest` (its bytes, written in lowercase hex here) and
/// the path `dir` + `name` (its two parts as a [`crate::PathList`] keeps them), without
/// joining them unless the name must be escaped.
pub fn push_sums_line_parts(
    line: &mut Vec<u8>,
    digest: &[u8],
    parts: (&[u8], &[u8]),
    algo: Algo,
    style: SumsStyle,
) {
    push_line(line, Hex::Bytes(digest), parts, algo, style);
}

/// Each byte's two lowercase hex digits.
static HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0u8; 2]; 256];
    let mut byte = 0;
    while byte < 256 {
        pairs[byte] = [DIGITS[byte >> 4], DIGITS[byte & 15]];
        byte += 1;
    }
    pairs
};

/// A digest as a sums line is given it.
#[derive(Clone, Copy)]
enum Hex<'a> {
    /// Already in hex.
    Text(&'a str),
    /// Raw bytes, to write in lowercase hex.
    Bytes(&'a [u8]),
}

impl Hex<'_> {
    fn push_to(self, line: &mut Vec<u8>) {
        match self {
            Hex::Text(text) => line.extend_from_slice(text.as_bytes()),
            Hex::Bytes(bytes) => {
                // A byte's two digits at once, through a stack buffer appended in one piece:
                // a million lines are written this way at the end of a run, and `hex`'s
                // digit-by-digit encoder was a third of it.
                let mut text = [0u8; 128];
                let Some(text) = text.get_mut(..2 * bytes.len()) else {
                    line.extend_from_slice(hex::encode(bytes).as_bytes());
                    return;
                };
                for (pair, &byte) in text.chunks_exact_mut(2).zip(bytes) {
                    pair.copy_from_slice(&HEX_PAIRS[usize::from(byte)]);
                }
                line.extend_from_slice(text);
            }
        }
    }
}

fn push_line(
    line: &mut Vec<u8>,
    hex: Hex<'_>,
    (dir, name): (&[u8], &[u8]),
    algo: Algo,
    style: SumsStyle,
) {
    let escaped = !style.zero && (needs_escape(dir, algo) || needs_escape(name, algo));
    let joined;
    let parts: [&[u8]; 2] = if escaped {
        joined = escape_name(&[dir, name].concat(), algo).1.into_owned();
        [&joined, b""]
    } else {
        [dir, name]
    };
    if escaped {
        line.push(b'\\');
    }
    if style.tag {
        line.extend_from_slice(algo.tag().as_bytes());
        if let Algo::Blake2b(len) = algo
            && Algo::Blake2b(len) != Algo::BLAKE2B
        {
            line.extend_from_slice(format!("-{}", len.bits()).as_bytes());
        }
        line.extend_from_slice(b" (");
        parts.iter().for_each(|part| line.extend_from_slice(part));
        line.extend_from_slice(b") = ");
        hex.push_to(line);
    } else {
        hex.push_to(line);
        line.extend_from_slice(if style.binary { b" *" } else { b"  " });
        parts.iter().for_each(|part| line.extend_from_slice(part));
    }
    line.push(if style.zero { 0 } else { b'\n' });
}

/// A name as the reference tool of `algo` prints it in its sums lines: `(true, escaped)` when
/// it holds a character that must be escaped (the caller then starts the line with a
/// backslash), else `(false, name)` unchanged.
fn escape_name(path: &[u8], algo: Algo) -> (bool, Cow<'_, [u8]>) {
    let specials = sums_specials(algo);
    escape(path, specials, specials)
}

/// The bytes that make the reference tool of `algo` escape a name in its sums lines.
fn sums_specials(algo: Algo) -> &'static [u8] {
    if algo == Algo::Blake3 {
        b"\\\n"
    } else {
        b"\\\n\r"
    }
}

/// Whether [`escape_name`] would escape `path`.
fn needs_escape(path: &[u8], algo: Algo) -> bool {
    triggered(path, sums_specials(algo))
}

/// A name as `md5sum -c` prints it in its `NAME: OK` lines: unlike the sums lines, only a
/// newline makes it escape (then backslashes and carriage returns are escaped too).
pub fn check_name(path: &[u8]) -> (bool, Vec<u8>) {
    let (escaped, name) = escape(path, b"\n", b"\\\n\r");
    (escaped, name.into_owned())
}

/// GNU's escaping: when `path` holds any of `triggers`, each of `escaped` becomes a backslash
/// sequence (`\\`, `\n`, `\r`) and the caller marks the line with a leading backslash.
fn escape<'a>(path: &'a [u8], triggers: &[u8], escaped: &[u8]) -> (bool, Cow<'a, [u8]>) {
    if !triggered(path, triggers) {
        return (false, Cow::Borrowed(path));
    }
    let mut name = Vec::with_capacity(path.len() + 4);
    for &byte in path {
        match byte {
            b'\\' if escaped.contains(&byte) => name.extend_from_slice(b"\\\\"),
            b'\n' if escaped.contains(&byte) => name.extend_from_slice(b"\\n"),
            b'\r' if escaped.contains(&byte) => name.extend_from_slice(b"\\r"),
            other => name.push(other),
        }
    }
    (true, Cow::Owned(name))
}

/// Whether `path` holds any of `triggers`: a SIMD scan (almost no name needs escaping, and this
/// runs once per output line).
fn triggered(path: &[u8], triggers: &[u8]) -> bool {
    match *triggers {
        [a] => memchr::memchr(a, path).is_some(),
        [a, b] => memchr::memchr2(a, b, path).is_some(),
        [a, b, c] => memchr::memchr3(a, b, c, path).is_some(),
        _ => path.iter().any(|b| triggers.contains(b)),
    }
}

/// A line that is not in `md5sum` format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseSumsError {
    /// The line does not start with a hex digest.
    #[error("no hex digest at the start of the line")]
    MissingDigest,
    /// The digest is not followed by two spaces or by a space and `*`.
    #[error("digest not followed by \"  \" or \" *\"")]
    BadSeparator,
    /// Nothing follows the separator.
    #[error("empty file name")]
    EmptyPath,
    /// An escaped line contains a backslash sequence other than `\\`, `\n` or `\r`.
    #[error("invalid escape sequence in file name")]
    BadEscape,
}

/// Parses one line as written by [`sums_line`] or `md5sum` (text `HEX  PATH` or binary
/// `HEX *PATH` mode, escaped or not), returning the lowercase digest and the raw path.
///
/// A single trailing `\n` is accepted and removed; any other byte belongs to the name.
pub fn parse_sums_line(line: &[u8]) -> Result<(String, Vec<u8>), ParseSumsError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let (escaped, rest) = match line.strip_prefix(b"\\") {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let hex_len = rest.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if hex_len == 0 || hex_len % 2 != 0 {
        return Err(ParseSumsError::MissingDigest);
    }
    let (hex, rest) = rest.split_at(hex_len);
    let name = match rest {
        [b' ', b' ' | b'*', name @ ..] => name,
        _ => return Err(ParseSumsError::BadSeparator),
    };
    if name.is_empty() {
        return Err(ParseSumsError::EmptyPath);
    }
    let path = if escaped {
        unescape(name)?
    } else {
        name.to_vec()
    };
    let hex = String::from_utf8_lossy(hex).to_ascii_lowercase();
    Ok((hex, path))
}

fn unescape(name: &[u8]) -> Result<Vec<u8>, ParseSumsError> {
    let mut out = Vec::with_capacity(name.len());
    let mut bytes = name.iter();
    while let Some(&byte) = bytes.next() {
        if byte != b'\\' {
            out.push(byte);
            continue;
        }
        out.push(match bytes.next() {
            Some(b'\\') => b'\\',
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            _ => return Err(ParseSumsError::BadEscape),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::process::Command;

    use crate::hash::{Algo, hash_file};

    /// Names that exercise every escaping rule, plus bytes that must pass through raw.
    const AWKWARD_NAMES: &[&[u8]] = &[
        b"plain.txt",
        b"with space",
        b"back\\slash",
        b"new\nline",
        b"carriage\rreturn",
        b"all\\three\n\r",
        b"\xff\xfe not utf-8",
        b"star*",
        b"tab\there",
    ];

    #[test]
    fn lines_match_real_md5sum_output() {
        let dir = tempfile::tempdir().unwrap();
        let mut buf = Vec::new();
        for (i, name) in AWKWARD_NAMES.iter().enumerate() {
            let path = dir.path().join(OsStr::from_bytes(name));
            std::fs::write(&path, format!("content {i}")).unwrap();
            let path_bytes = path.as_os_str().as_bytes();
            let digest = hash_file(path_bytes, Algo::Md5, &mut buf).unwrap();
            let expected = Command::new("md5sum").arg(&path).output().unwrap();
            assert!(expected.status.success());
            assert_eq!(
                sums_line(&digest.digest.hex(), path_bytes, Algo::Md5),
                expected.stdout,
                "name {:?}",
                String::from_utf8_lossy(name)
            );
        }
    }

    #[test]
    fn md5sum_check_accepts_our_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut buf = Vec::new();
        let mut list = Vec::new();
        for name in AWKWARD_NAMES {
            let path = dir.path().join(OsStr::from_bytes(name));
            std::fs::write(&path, name).unwrap();
            let path_bytes = path.as_os_str().as_bytes();
            let digest = hash_file(path_bytes, Algo::Md5, &mut buf).unwrap();
            list.extend(sums_line(&digest.digest.hex(), path_bytes, Algo::Md5));
        }
        let list_path = dir.path().join("list.md5");
        std::fs::write(&list_path, &list).unwrap();
        let status = Command::new("md5sum")
            .arg("--check")
            .arg("--quiet")
            .arg(&list_path)
            .status()
            .unwrap();
        assert!(status.success());
    }

    #[test]
    fn parse_inverts_sums_line() {
        let hex = "d41d8cd98f00b204e9800998ecf8427e";
        for name in AWKWARD_NAMES {
            let line = sums_line(hex, name, Algo::Md5);
            assert_eq!(
                parse_sums_line(&line),
                Ok((hex.to_owned(), name.to_vec())),
                "{:?}",
                String::from_utf8_lossy(&line)
            );
        }
    }

    #[test]
    fn parse_binary_mode_and_uppercase() {
        assert_eq!(
            parse_sums_line(b"ABCDEF01 *file\n"),
            Ok(("abcdef01".to_owned(), b"file".to_vec()))
        );
        assert_eq!(
            parse_sums_line(b"\\ab *x\\\\y"),
            Ok(("ab".to_owned(), b"x\\y".to_vec()))
        );
    }

    #[test]
    fn parse_rejects_malformed_lines() {
        assert_eq!(
            parse_sums_line(b"  name"),
            Err(ParseSumsError::MissingDigest)
        );
        assert_eq!(
            parse_sums_line(b"abc  name"),
            Err(ParseSumsError::MissingDigest)
        );
        assert_eq!(
            parse_sums_line(b"ab name"),
            Err(ParseSumsError::BadSeparator)
        );
        assert_eq!(parse_sums_line(b"abxx"), Err(ParseSumsError::BadSeparator));
        assert_eq!(parse_sums_line(b"ab  \n"), Err(ParseSumsError::EmptyPath));
        assert_eq!(
            parse_sums_line(b"\\ab  a\\tb"),
            Err(ParseSumsError::BadEscape)
        );
        assert_eq!(
            parse_sums_line(b"\\ab  a\\"),
            Err(ParseSumsError::BadEscape)
        );
    }

    #[test]
    fn unescaped_backslash_in_plain_line_is_literal() {
        // Only a leading backslash switches escaping on, as in md5sum -c.
        assert_eq!(
            parse_sums_line(b"ab  a\\nb"),
            Ok(("ab".to_owned(), b"a\\nb".to_vec()))
        );
    }

    #[test]
    fn check_names_escape_carriage_returns_only_with_a_newline() {
        assert_eq!(check_name(b"a\rb"), (false, b"a\rb".to_vec()));
        assert_eq!(check_name(b"a\\b"), (false, b"a\\b".to_vec()));
        assert_eq!(check_name(b"a\nb\r\\"), (true, b"a\\nb\\r\\\\".to_vec()));
    }

    #[test]
    fn styled_lines_are_md5sums() {
        let dir = tempfile::tempdir().unwrap();
        let mut buf = Vec::new();
        let styles = [
            (
                vec!["--tag"],
                SumsStyle {
                    tag: true,
                    ..SumsStyle::default()
                },
            ),
            (
                vec!["--binary"],
                SumsStyle {
                    binary: true,
                    ..SumsStyle::default()
                },
            ),
            (
                vec!["--zero"],
                SumsStyle {
                    zero: true,
                    ..SumsStyle::default()
                },
            ),
            (
                vec!["--tag", "--zero"],
                SumsStyle {
                    tag: true,
                    binary: false,
                    zero: true,
                },
            ),
        ];
        for algo in Algo::ALL.into_iter().filter(|&a| a != Algo::Blake3) {
            let tool = algo.tool();
            for (i, name) in AWKWARD_NAMES.iter().enumerate() {
                let path = dir.path().join(OsStr::from_bytes(name));
                std::fs::write(&path, format!("content {i}")).unwrap();
                let path_bytes = path.as_os_str().as_bytes();
                let digest = hash_file(path_bytes, algo, &mut buf).unwrap();
                for (args, style) in &styles {
                    let expected = Command::new(tool).args(args).arg(&path).output().unwrap();
                    assert!(expected.status.success());
                    assert_eq!(
                        sums_line_styled(&digest.digest.hex(), path_bytes, algo, *style),
                        expected.stdout,
                        "{tool} {args:?} {:?}",
                        String::from_utf8_lossy(name)
                    );
                }
            }
        }
    }

    #[test]
    fn b3sum_lines_keep_carriage_returns_raw() {
        assert_eq!(sums_line("ab", b"a\rb", Algo::Blake3), b"ab  a\rb\n");
        assert_eq!(sums_line("ab", b"a\rb", Algo::Md5), b"\\ab  a\\rb\n");
        assert_eq!(sums_line("ab", b"a\nb", Algo::Blake3), b"\\ab  a\\nb\n");
    }
}
