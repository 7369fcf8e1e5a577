//! File names in messages, quoted as GNU coreutils quotes them (`md5sum: 'a b': No such file
//! or directory`).
//!
//! Coreutils passes names in diagnostics through gnulib's `quotef`: the "shell-escape" style,
//! which leaves a name alone when a shell would read it back unchanged, and otherwise writes
//! it so that pasting it into a shell gives the name back:
//!
//! * a name with a shell-special character (space, `*`, `$`, `'`, `:`, ...), or a control
//!   character, is put in single quotes: `'a b'`;
//! * control characters and bytes that are not printable characters of the locale's
//!   character set become `$'...'` escapes between the quoted parts: `'a'$'\n''b'`,
//!   `'caf'$'\303\251'` in the C locale;
//! * a name whose only problem is an apostrophe (with letters, digits, spaces and harmless
//!   punctuation) is put in double quotes instead: `"it's"`.
//!
//! Which bytes are printable depends on the locale: in the C locale every byte above 0x7F is
//! escaped; in a UTF-8 locale, valid printable characters stay as they are.

use crate::sys::locale::EnvLocale;

/// Quotes file names for messages the way coreutils does in a given locale.
pub struct NameQuoter {
    charset: Charset,
}

enum Charset {
    /// Single bytes; only printable ASCII prints (the C locale).
    Ascii,
    /// UTF-8; which characters print is asked of the locale when there is one.
    Utf8(Option<EnvLocale>),
}

impl std::fmt::Debug for NameQuoter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let charset = match self.charset {
            Charset::Ascii => "ascii",
            Charset::Utf8(_) => "utf-8",
        };
        f.debug_struct("NameQuoter")
            .field("charset", &charset)
            .finish()
    }
}

/// One character of a name, as the quoting sees it.
#[derive(Clone, Copy)]
enum Piece<'a> {
    /// An ASCII byte.
    Ascii(u8),
    /// A printable multibyte character, kept as its bytes.
    Printable(&'a [u8]),
    /// Bytes that do not print (invalid, incomplete, or a character the locale cannot show),
    /// written as octal escapes.
    Unprintable(&'a [u8]),
}

impl NameQuoter {
    /// Quoting for the locale a coreutils program started now would use (`LC_ALL`,
    /// `LC_CTYPE`, `LANG`; the C locale when none is set or it cannot be loaded).
    pub fn from_environment() -> Self {
        let charset = match EnvLocale::from_environment() {
            Some(locale) if locale.is_utf8() => Charset::Utf8(Some(locale)),
            _ => Charset::Ascii,
        };
        NameQuoter { charset }
    }

    /// Quoting as in the C locale: every byte outside printable ASCII is escaped.
    pub fn c_locale() -> Self {
        NameQuoter {
            charset: Charset::Ascii,
        }
    }

    /// Quoting as in a UTF-8 locale, without asking glibc which characters print: control
    /// characters and the line and paragraph separators do not, everything else does.
    pub fn utf8() -> Self {
        NameQuoter {
            charset: Charset::Utf8(None),
        }
    }

    /// `name` as coreutils writes it in a message.
    pub fn quote(&self, name: &[u8]) -> String {
        let pieces = self.pieces(name);
        if !name.is_empty()
            && pieces
                .iter()
                .enumerate()
                .all(|(i, &p)| plain(p, i, name.len()))
        {
            // Only printable characters (ASCII, or valid UTF-8 in a UTF-8 locale).
            return String::from_utf8_lossy(name).into_owned();
        }
        let mut out = String::with_capacity(name.len() + 8);
        out.push('\'');
        // Inside a `$'...'` run of escapes that has not been closed yet.
        let mut in_escape = false;
        let mut apostrophe = false;
        // Every character is one that C-style double quotes would also keep as is.
        let mut double_quotable = true;
        let mut at = 0;
        for piece in pieces {
            match piece {
                Piece::Ascii(byte) => {
                    if let Some(letter) = c_escape(byte) {
                        open_escape(&mut out, &mut in_escape);
                        out.push('\\');
                        out.push(letter as char);
                        double_quotable = false;
                    } else if byte == b'\'' {
                        // Ends the quoted part (and any escape run), adds an escaped
                        // apostrophe, and opens a new quoted part.
                        out.push_str("'\\''");
                        in_escape = false;
                        apostrophe = true;
                    } else if byte.is_ascii_graphic() || byte == b' ' {
                        close_escape(&mut out, &mut in_escape);
                        out.push(byte as char);
                        double_quotable &= keeps_in_double_quotes(byte, at, name.len());
                    } else {
                        open_escape(&mut out, &mut in_escape);
                        push_octal(&mut out, byte);
                        double_quotable = false;
                    }
                    at += 1;
                }
                Piece::Printable(bytes) => {
                    close_escape(&mut out, &mut in_escape);
                    out.push_str(std::str::from_utf8(bytes).expect("a decoded character"));
                    at += bytes.len();
                }
                Piece::Unprintable(bytes) => {
                    open_escape(&mut out, &mut in_escape);
                    for &byte in bytes {
                        push_octal(&mut out, byte);
                    }
                    double_quotable = false;
                    at += bytes.len();
                }
            }
        }
        out.push('\'');
        if apostrophe && double_quotable {
            // Nothing but an apostrophe needed quoting: double quotes read better.
            return format!("\"{}\"", String::from_utf8_lossy(name));
        }
        out
    }

    /// Splits `name` into the characters of the locale's character set.
    fn pieces<'a>(&self, name: &'a [u8]) -> Vec<Piece<'a>> {
        let mut pieces = Vec::with_capacity(name.len());
        let mut rest = name;
        while let Some(&first) = rest.first() {
            let len = match &self.charset {
                _ if first.is_ascii() => {
                    pieces.push(Piece::Ascii(first));
                    1
                }
                Charset::Ascii => {
                    pieces.push(Piece::Unprintable(&rest[..1]));
                    1
                }
                Charset::Utf8(locale) => {
                    let (len, printable) = match next_char(rest) {
                        Decoded::Char(c, len) => (len, printable(locale.as_ref(), c)),
                        // A valid start cut off by the end of the name: one unprintable run.
                        Decoded::Incomplete => (rest.len(), false),
                        Decoded::Invalid => (1, false),
                    };
                    let bytes = &rest[..len];
                    pieces.push(if printable {
                        Piece::Printable(bytes)
                    } else {
                        Piece::Unprintable(bytes)
                    });
                    len
                }
            };
            rest = &rest[len..];
        }
        pieces
    }
}

/// True when `piece`, at byte offset `at` of a name of `len` bytes, needs no quoting.
fn plain(piece: Piece<'_>, at: usize, len: usize) -> bool {
    match piece {
        Piece::Ascii(byte) => match byte {
            b'{' | b'}' => len > 1,
            b'#' | b'~' => at > 0,
            b'%' | b'+' | b',' | b'-' | b'.' | b'/' | b']' | b'_' | b'@' => true,
            // `quotef` also quotes colons, which would be ambiguous in "NAME: message".
            b':' => false,
            _ => byte.is_ascii_alphanumeric(),
        },
        Piece::Printable(_) => true,
        Piece::Unprintable(_) => false,
    }
}

/// True when `byte` at offset `at` is one that the C-style double quotes keep as is, so a
/// name with an apostrophe and only such characters is double-quoted.
fn keeps_in_double_quotes(byte: u8, at: usize, len: usize) -> bool {
    match byte {
        b' ' | b'%' | b'+' | b',' | b'-' | b'.' | b'/' | b':' | b']' | b'_' | b'@' => true,
        b'#' | b'~' => at == 0,
        b'{' | b'}' => len == 1,
        _ => byte.is_ascii_alphanumeric(),
    }
}

/// The letter of a C escape that shell `$'...'` quoting writes for `byte`.
fn c_escape(byte: u8) -> Option<u8> {
    Some(match byte {
        0x07 => b'a',
        0x08 => b'b',
        0x0c => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        0x0b => b'v',
        _ => return None,
    })
}

fn open_escape(out: &mut String, in_escape: &mut bool) {
    if !*in_escape {
        out.push_str("'$'");
        *in_escape = true;
    }
}

fn close_escape(out: &mut String, in_escape: &mut bool) {
    if *in_escape {
        out.push_str("''");
        *in_escape = false;
    }
}

fn push_octal(out: &mut String, byte: u8) {
    out.push('\\');
    for shift in [6, 3, 0] {
        out.push((b'0' + ((byte >> shift) & 7)) as char);
    }
}

fn printable(locale: Option<&EnvLocale>, c: char) -> bool {
    match locale {
        Some(locale) => locale.is_printable(c),
        None => !c.is_control() && !matches!(c, '\u{2028}' | '\u{2029}'),
    }
}

enum Decoded {
    Char(char, usize),
    Incomplete,
    Invalid,
}

/// The UTF-8 character `bytes` starts with.
fn next_char(bytes: &[u8]) -> Decoded {
    let window = &bytes[..bytes.len().min(4)];
    let valid = match std::str::from_utf8(window) {
        Ok(text) => text,
        Err(e) if e.valid_up_to() > 0 => {
            std::str::from_utf8(&window[..e.valid_up_to()]).expect("checked valid")
        }
        Err(e) if e.error_len().is_none() => return Decoded::Incomplete,
        Err(_) => return Decoded::Invalid,
    };
    let c = valid.chars().next().expect("at least one character");
    Decoded::Char(c, c.len_utf8())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &[u8]) -> String {
        NameQuoter::c_locale().quote(name)
    }

    fn u(name: &[u8]) -> String {
        NameQuoter::utf8().quote(name)
    }

    #[test]
    fn plain_names_stay_as_they_are() {
        for name in [
            "f",
            "a.txt",
            "dir/sub-1/x_y,z+%",
            "@home",
            "a#b",
            "a~",
            "{}",
            "]",
        ] {
            assert_eq!(c(name.as_bytes()), name);
        }
    }

    #[test]
    fn shell_specials_are_single_quoted() {
        assert_eq!(c(b"no such"), "'no such'");
        assert_eq!(c(b"a:b"), "'a:b'");
        assert_eq!(c(b"#a"), "'#a'");
        assert_eq!(c(b"~"), "'~'");
        assert_eq!(c(b"{"), "'{'");
        assert_eq!(c(b"a*b"), "'a*b'");
        assert_eq!(c(b"back\\slash"), "'back\\slash'");
        assert_eq!(c(b""), "''");
    }

    #[test]
    fn control_characters_become_dollar_escapes() {
        assert_eq!(c(b"a\nb"), "'a'$'\\n''b'");
        assert_eq!(c(b"\nb"), "''$'\\n''b'");
        assert_eq!(c(b"a\n"), "'a'$'\\n'");
        assert_eq!(c(b"a\tb\x01"), "'a'$'\\t''b'$'\\001'");
        assert_eq!(c(b"a\x7f"), "'a'$'\\177'");
    }

    #[test]
    fn an_apostrophe_alone_means_double_quotes() {
        assert_eq!(c(b"it's"), "\"it's\"");
        assert_eq!(c(b"it's a:b"), "\"it's a:b\"");
        assert_eq!(c(b"it's*"), "'it'\\''s*'");
        assert_eq!(c(b"\n'"), "''$'\\n'\\'''");
    }

    #[test]
    fn non_ascii_depends_on_the_charset() {
        assert_eq!(c("café".as_bytes()), "'caf'$'\\303\\251'");
        assert_eq!(u("café".as_bytes()), "café");
        assert_eq!(u("it's café".as_bytes()), "\"it's café\"");
        assert_eq!(u(b"a\xffb"), "'a'$'\\377''b'");
        // A valid start cut off by the end of the name is one unprintable run.
        assert_eq!(u(b"a\xe2\x82"), "'a'$'\\342\\202'");
        assert_eq!(u("a\u{2028}b".as_bytes()), "'a'$'\\342\\200\\250''b'");
        assert_eq!(u("a\u{85}".as_bytes()), "'a'$'\\302\\205'");
    }
}
