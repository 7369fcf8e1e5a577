//! Reading checksum files line by line as GNU coreutils 9.1's `md5sum -c`, `sha256sum -c`,
//! `b2sum -c`, ... do.
//!
//! What a checking tool accepts on one line, after a run of blanks (spaces, tabs) and an
//! optional backslash that marks an escaped name:
//!
//! * its own tag in the BSD layout, `MD5 (NAME) = HEX` (`md5sum --tag`, BSD `md5`), or the
//!   OpenSSL one, `MD5(NAME)= HEX`: the name runs to the last `)`. Another tool's tag is no
//!   checksum line for it (`sha1sum -c` rejects `MD5 (f) = ...`). `b2sum` also reads a
//!   length, `BLAKE2b-128 (NAME) = HEX`;
//! * the GNU layout, `HEX  NAME` or `HEX *NAME` (binary), with exactly the tool's number of
//!   hex digits (`b2sum`: any even number up to 128, which gives the length). A single space
//!   instead (`HEX NAME`, "BSD reversed", as `md5 -r` writes) is accepted too, but not mixed
//!   with the GNU layout in one run: whichever comes first wins.
//!
//! An escaped name turns `\\`, `\n` and `\r` back into what they stand for; any other
//! backslash sequence makes the line malformed. Comments (`#` first), empty lines and line
//! ends (`\n`, one `\r` before it) are handled by [`checksum_file_lines`].

use super::{Algo, Blake2bLen};

/// One line of a checksum file that names a file to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumLine {
    /// The expected digest as written: hex digits in either case.
    pub hex: Vec<u8>,
    /// The algorithm the line asks for: the checking tool's, with the line's BLAKE2b length.
    pub algo: Algo,
    /// The name of the file, unescaped.
    pub name: Vec<u8>,
}

/// The lines of a checksum file that a checking tool looks at, with their 1-based numbers
/// (which count every line): comments (`#` first) and lines empty once `\n` and one `\r`
/// are removed are skipped, as `md5sum -c` skips them.
pub fn checksum_file_lines(text: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    let lines = if text.is_empty() {
        None
    } else {
        // Split with memchr: a byte-by-byte split was a tenth of reading a million lines.
        let mut start = 0;
        let ends = memchr::memchr_iter(b'\n', text).chain(std::iter::once(text.len()));
        Some(ends.map(move |end| {
            let line = &text[start..end];
            start = end + 1;
            line
        }))
    };
    lines
        .into_iter()
        .flatten()
        .zip(1u64..)
        .filter_map(|(line, number)| {
            if line.first() == Some(&b'#') {
                return None;
            }
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            (!line.is_empty()).then_some((number, line))
        })
}

/// The checking tool a checksum file is meant for: the first tool that takes one of its
/// lines, trying MD5, SHA-1, SHA-224, SHA-256, SHA-384, SHA-512, then BLAKE2b (so 128 hex
/// digits mean SHA-512; a BLAKE2b file says so with its tags or needs `--algo blake2b`).
/// `None` when no line is a checksum line for any of them.
pub fn guess_tool(text: &[u8]) -> Option<Algo> {
    checksum_file_lines(text).find_map(|(_, line)| {
        // `Algo::ALL` lists them in that order; BLAKE3 has no coreutils tool to imitate.
        Algo::ALL
            .into_iter()
            .filter(|&tool| tool != Algo::Blake3)
            .find(|&tool| ChecksumParser::new().parse(line, tool).is_some())
    })
}

/// Parses checksum lines, remembering across lines (and files) which of the two untagged
/// layouts came first.
#[derive(Debug, Default)]
pub struct ChecksumParser {
    /// `Some(true)`: "HEX NAME" (BSD reversed) was seen first; `Some(false)`: "HEX  NAME".
    bsd_reversed: Option<bool>,
}

impl ChecksumParser {
    /// A parser that has seen no line yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The checksum line `line` (without its line end) is for `tool` (the algorithm of the
    /// `*sum -c` being imitated), or `None` when that tool calls it improperly formatted.
    pub fn parse(&mut self, line: &[u8], tool: Algo) -> Option<ChecksumLine> {
        // C string semantics: reading past the end gives NUL.
        let at = |i: usize| line.get(i).copied().unwrap_or(0);
        let mut i = line.iter().take_while(|&&b| is_blank(b)).count();
        let escaped = at(i) == b'\\';
        if escaped {
            i += 1;
        }
        let tag = tool.tag().as_bytes();
        if line[i..].starts_with(tag) {
            return tagged(&line[i + tag.len()..], tool, escaped);
        }
        let blake2b = matches!(tool, Algo::Blake2b(_));
        let min_len = if blake2b { 3 } else { tool.hex_len() + 2 };
        if line.len() - i < min_len + usize::from(at(i) == b'\\') {
            return None;
        }
        let start = i;
        let mut algo = tool;
        let hex_len = if blake2b {
            let digits = line[i..]
                .iter()
                .take_while(|b| b.is_ascii_hexdigit())
                .count();
            if digits < 2 || digits % 2 != 0 || digits > 128 {
                return None;
            }
            algo = Algo::Blake2b(Blake2bLen::from_bits(4 * digits as u64)?);
            digits
        } else {
            tool.hex_len()
        };
        i += hex_len;
        if !is_blank(at(i)) {
            return None;
        }
        let hex = &line[start..start + hex_len];
        if !all_hex_digits(hex) {
            return None;
        }
        i += 1;
        if line.len() - i == 1 || (at(i) != b' ' && at(i) != b'*') {
            // "HEX NAME": only if the untagged GNU layout has not been seen first, so that a
            // file renamed to start with a space cannot be mistaken for another.
            if self.bsd_reversed == Some(false) {
                return None;
            }
            self.bsd_reversed = Some(true);
        } else if self.bsd_reversed != Some(true) {
            self.bsd_reversed = Some(false);
            // The text (' ') or binary ('*') marker.
            i += 1;
        }
        Some(ChecksumLine {
            hex: hex.to_vec(),
            algo,
            name: name(&line[i..], escaped)?,
        })
    }
}

/// The rest of a tagged line after `tool`'s tag: `[-BITS] [ ](NAME) = HEX`.
fn tagged(rest: &[u8], tool: Algo, escaped: bool) -> Option<ChecksumLine> {
    let at = |i: usize| rest.get(i).copied().unwrap_or(0);
    let mut i = 0;
    let mut algo = tool;
    if let Algo::Blake2b(_) = tool {
        // b2sum consumes the byte after the tag whatever it is, unless it is the `(` of the
        // OpenSSL layout; a tag that ends the line is malformed.
        if rest.is_empty() {
            return None;
        }
        let length_given = at(0) == b'-';
        if at(0) != b'(' {
            i += 1;
        }
        if length_given {
            let (bits, used) = parse_length(&rest[i..])?;
            algo = Algo::Blake2b(Blake2bLen::from_bits(bits)?);
            i += used;
        }
    }
    if at(i) == b' ' {
        i += 1;
    }
    if at(i) != b'(' {
        return None;
    }
    let s = &rest[i + 1..];
    // The name runs to the last ')'.
    let close = s.iter().rposition(|&b| b == b')')?;
    let name = name(&s[..close], escaped)?;
    let mut i = close + 1;
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    while is_blank(at(i)) {
        i += 1;
    }
    if at(i) != b'=' {
        return None;
    }
    i += 1;
    while is_blank(at(i)) {
        i += 1;
    }
    let hex = &s[i.min(s.len())..];
    let hex = &hex[..hex.len().min(algo.hex_len())];
    let after = s.get(i + algo.hex_len()).copied().unwrap_or(0);
    if hex.len() != algo.hex_len() || !all_hex_digits(hex) || after != 0 {
        return None;
    }
    Some(ChecksumLine {
        hex: hex.to_vec(),
        algo,
        name,
    })
}

/// Whether every byte of `hex` is a hexadecimal digit: without an early exit, so the loop
/// vectorizes (checking the digits one by one was most of parsing a checksum line).
fn all_hex_digits(hex: &[u8]) -> bool {
    hex.iter().fold(true, |all, b| all & b.is_ascii_hexdigit())
}

/// A file name as the checking tool takes it: unescaped when the line is marked escaped
/// (then a NUL or a backslash before anything but `\`, `n`, `r` is malformed), else up to a
/// NUL (the C string the tool would open).
fn name(raw: &[u8], escaped: bool) -> Option<Vec<u8>> {
    if !escaped {
        let end = memchr::memchr(0, raw).unwrap_or(raw.len());
        return Some(raw[..end].to_vec());
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&byte) = bytes.next() {
        out.push(match byte {
            0 => return None,
            b'\\' => match bytes.next() {
                Some(b'\\') => b'\\',
                Some(b'n') => b'\n',
                Some(b'r') => b'\r',
                _ => return None,
            },
            other => other,
        });
    }
    Some(out)
}

/// The number at the start of `text` as C's `strtoumax(text, &end, 0)` reads it (blanks,
/// `+`, `0x` hexadecimal, `0` octal; no `-`), with the bytes it used; `None` when there is no
/// number or it overflows.
fn parse_length(text: &[u8]) -> Option<(u64, usize)> {
    let mut i = text
        .iter()
        .take_while(|&&b| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))
        .count();
    match text.get(i) {
        Some(b'-') => return None,
        Some(b'+') => i += 1,
        _ => {}
    }
    let rest = &text[i..];
    let (radix, skip) = match rest {
        [b'0', b'x' | b'X', d, ..] if d.is_ascii_hexdigit() => (16, 2),
        [b'0', ..] => (8, 0),
        _ => (10, 0),
    };
    let digits: &[u8] = &rest[skip..];
    let count = digits
        .iter()
        .take_while(|&&b| char::from(b).is_digit(radix))
        .count();
    if count == 0 {
        return None;
    }
    let mut value: u64 = 0;
    for &d in &digits[..count] {
        let digit = u64::from(char::from(d).to_digit(radix).expect("counted as a digit"));
        value = value.checked_mul(u64::from(radix))?.checked_add(digit)?;
    }
    Some((value, i + skip + count))
}

fn is_blank(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

    fn md5(line: &str) -> Option<(String, Vec<u8>)> {
        ChecksumParser::new()
            .parse(line.as_bytes(), Algo::Md5)
            .map(|l| (String::from_utf8(l.hex).unwrap(), l.name))
    }

    #[test]
    fn gnu_layouts() {
        let ok = |name: &[u8]| Some((EMPTY_MD5.to_owned(), name.to_vec()));
        assert_eq!(md5(&format!("{EMPTY_MD5}  f")), ok(b"f"));
        assert_eq!(md5(&format!("{EMPTY_MD5} *f")), ok(b"f"));
        assert_eq!(md5(&format!("  \t{EMPTY_MD5}  f")), ok(b"f"));
        assert_eq!(md5(&format!("\\{EMPTY_MD5}  a\\nb\\\\")), ok(b"a\nb\\"));
        assert_eq!(md5(&format!(" \\{EMPTY_MD5}  f")), ok(b"f"));
        assert_eq!(md5(&format!("{EMPTY_MD5}\t f")), ok(b"f"));
        assert_eq!(
            md5(&format!("{}  f", EMPTY_MD5.to_uppercase())).unwrap().0,
            EMPTY_MD5.to_uppercase()
        );
        // Trailing blanks belong to the name.
        assert_eq!(md5(&format!("{EMPTY_MD5}  f ")), ok(b"f "));
    }

    #[test]
    fn malformed_lines() {
        for line in [
            "",
            "junk",
            EMPTY_MD5,
            &format!("{EMPTY_MD5} "),
            &format!("{EMPTY_MD5}x  f"),
            &format!("{EMPTY_MD5}00  f"),
            &format!("{}  f", &EMPTY_MD5[1..]),
            &format!("\\{EMPTY_MD5}  a\\tb"),
            &format!("\\{EMPTY_MD5}  a\\"),
            &format!("SHA1 (f) = {EMPTY_MD5}"),
            "MD5 (",
        ] {
            assert_eq!(md5(line), None, "{line:?}");
        }
    }

    #[test]
    fn tagged_and_openssl_layouts() {
        let ok = |name: &[u8]| Some((EMPTY_MD5.to_owned(), name.to_vec()));
        assert_eq!(md5(&format!("MD5 (f) = {EMPTY_MD5}")), ok(b"f"));
        assert_eq!(md5(&format!("MD5(f)= {EMPTY_MD5}")), ok(b"f"));
        assert_eq!(
            md5(&format!("MD5 (a (b) = c) = {EMPTY_MD5}")),
            ok(b"a (b) = c")
        );
        assert_eq!(md5(&format!("\\MD5 (a\\nb) = {EMPTY_MD5}")), ok(b"a\nb"));
        assert_eq!(md5(&format!("MD5 () = {EMPTY_MD5}")), ok(b""));
        assert_eq!(md5(&format!("MD5 (f) = {EMPTY_MD5}0")), None);
        assert_eq!(md5(&format!("MD5  (f) = {EMPTY_MD5}")), None);
    }

    #[test]
    fn bsd_reversed_is_exclusive_with_the_gnu_layout() {
        let mut parser = ChecksumParser::new();
        let reversed = format!("{EMPTY_MD5} f");
        let gnu = format!("{EMPTY_MD5}  g");
        assert!(parser.parse(reversed.as_bytes(), Algo::Md5).is_some());
        // Now "HEX  g" is "HEX" then the name " g".
        assert_eq!(parser.parse(gnu.as_bytes(), Algo::Md5).unwrap().name, b" g");
        let mut parser = ChecksumParser::new();
        assert!(parser.parse(gnu.as_bytes(), Algo::Md5).is_some());
        assert!(parser.parse(reversed.as_bytes(), Algo::Md5).is_none());
    }

    #[test]
    fn blake2b_lengths_come_from_the_tag_or_the_digest() {
        let parse = |line: &str| ChecksumParser::new().parse(line.as_bytes(), Algo::BLAKE2B);
        let hex128 = "ab".repeat(16);
        let line = parse(&format!("BLAKE2b-128 (f) = {hex128}")).unwrap();
        assert_eq!(line.algo.hex_len(), 32);
        assert_eq!(
            parse(&format!("BLAKE2b-0x80 (f) = {hex128}")).unwrap().algo,
            line.algo
        );
        assert_eq!(
            parse(&format!("BLAKE2b-128(f)= {hex128}")).unwrap().algo,
            line.algo
        );
        assert_eq!(parse(&format!("{hex128}  f")).unwrap().algo, line.algo);
        assert!(parse(&format!("BLAKE2b (f) = {hex128}")).is_none());
        assert!(parse(&format!("BLAKE2b-127 (f) = {hex128}")).is_none());
        assert!(parse(&format!("BLAKE2b--128 (f) = {hex128}")).is_none());
        for line in [
            "BLAKE2", "BLAKE2b", "BLAKE2-", "BLAKE2(", "BLAKE2 (", "0A0BA0",
        ] {
            assert!(parse(line).is_none(), "{line}");
        }
    }

    #[test]
    fn file_lines_skip_comments_blanks_and_line_ends() {
        let text = b"# c\n\nab  f\r\n\r\n  \nlast";
        let lines: Vec<(u64, &[u8])> = checksum_file_lines(text).collect();
        assert_eq!(lines, [(3, &b"ab  f"[..]), (5, b"  "), (6, b"last")]);
        assert_eq!(checksum_file_lines(b"").count(), 0);
        assert_eq!(checksum_file_lines(b"\n").count(), 0);
    }

    #[test]
    fn guesses_the_tool() {
        assert_eq!(
            guess_tool(format!("{EMPTY_MD5}  f\n").as_bytes()),
            Some(Algo::Md5)
        );
        assert_eq!(
            guess_tool(format!("junk\nSHA256 (f) = {}\n", "0".repeat(64)).as_bytes()),
            Some(Algo::Sha256)
        );
        assert_eq!(
            guess_tool(format!("{}  f\n", "0".repeat(128)).as_bytes()),
            Some(Algo::Sha512)
        );
        assert_eq!(
            guess_tool(format!("{}  f\n", "0".repeat(96)).as_bytes()),
            Some(Algo::Sha384)
        );
        assert_eq!(
            guess_tool(format!("BLAKE2b-256 (f) = {}\n", "0".repeat(64)).as_bytes()),
            Some(Algo::BLAKE2B)
        );
        assert_eq!(guess_tool(b"junk\n"), None);
    }
}
