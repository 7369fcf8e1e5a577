//! GNU parallel's path replacement strings, byte for byte.
//!
//! GNU parallel defines them as Perl substitutions on the input line (`parallel --help`, and
//! the `%Global::replace` table in its source); these functions reproduce those expressions
//! exactly, including their corners (a dot file has no name left, a newline stops `.`):
//!
//! | string | Perl | here |
//! |---|---|---|
//! | `{.}`  | `s:\.[^/.]*$::` | [`without_extension`] |
//! | `{/}`  | `s:.*/::` | [`basename`] |
//! | `{//}` | `File::Basename::dirname($_)` | [`dirname`] |
//! | `{/.}` | `s:.*/::; s:\.[^/.]*$::` | [`basename_without_extension`] |

use std::borrow::Cow;

/// `{.}`: the item without its extension. Perl's `s:\.[^/.]*$::` removes the last `.` and
/// what follows it, unless a `/` follows it (`dir.d/file` keeps its dot).
pub fn without_extension(item: &[u8]) -> &[u8] {
    // Only the last dot can start a match: from any earlier one, `[^/.]*` stops at the next
    // dot, short of the end. From the last one, `[^/.]*` runs to the end unless a slash stops
    // it, and `$` then matches at the end.
    match memchr::memrchr(b'.', item) {
        Some(dot) if !item[dot..].contains(&b'/') => &item[..dot],
        _ => item,
    }
}

/// `{/}`: the item without its directory part. Perl's `s:.*/::` without `/s`: `.` does not
/// match a newline, so the removed part is the start of the first line that holds a slash, up
/// to that line's last slash (for an ordinary path: everything up to the last slash).
pub fn basename(item: &[u8]) -> Cow<'_, [u8]> {
    let mut line_start = 0;
    for line in item.split(|&b| b == b'\n') {
        if let Some(slash) = memchr::memrchr(b'/', line) {
            let cut_to = line_start + slash + 1;
            return if line_start == 0 {
                Cow::Borrowed(&item[cut_to..])
            } else {
                let mut kept = item[..line_start].to_vec();
                kept.extend_from_slice(&item[cut_to..]);
                Cow::Owned(kept)
            };
        }
        line_start += line.len() + 1;
    }
    Cow::Borrowed(item)
}

/// `{/.}`: [`basename`], then [`without_extension`], as GNU parallel applies them.
pub fn basename_without_extension(item: &[u8]) -> Cow<'_, [u8]> {
    match basename(item) {
        Cow::Borrowed(base) => Cow::Borrowed(without_extension(base)),
        Cow::Owned(base) => Cow::Owned(without_extension(&base).to_vec()),
    }
}

/// `{//}`: Perl's `File::Basename::dirname` on Unix: `a/b` → `a`, `a/b/` → `a`, `b` → `.`,
/// `/` → `/`, `` → `.`.
pub fn dirname(item: &[u8]) -> Cow<'_, [u8]> {
    let (mut dir, base) = fileparse(item);
    strip_trailing_slashes(&mut dir);
    if base.is_empty() {
        // The path ended with a slash: its last component is the directory's own name.
        let owned = dir.into_owned();
        let (mut parent, _) = fileparse(&owned);
        strip_trailing_slashes(&mut parent);
        return Cow::Owned(parent.into_owned());
    }
    dir
}

/// `fileparse` on Unix: `m{^(.*/)?(.*)}s`, with `./` for a missing directory part.
fn fileparse(path: &[u8]) -> (Cow<'_, [u8]>, &[u8]) {
    match memchr::memrchr(b'/', path) {
        Some(slash) => (Cow::Borrowed(&path[..=slash]), &path[slash + 1..]),
        None => (Cow::Borrowed(b"./"), path),
    }
}

/// `s{(.)/*\z}{$1}s`: trailing slashes go, but never the first byte.
fn strip_trailing_slashes(dir: &mut Cow<'_, [u8]>) {
    let mut end = dir.len();
    while end > 1 && dir[end - 1] == b'/' {
        end -= 1;
    }
    if end < dir.len() {
        match dir {
            Cow::Borrowed(bytes) => *bytes = &bytes[..end],
            Cow::Owned(bytes) => bytes.truncate(end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What GNU parallel 20221122 printed for these items with
    /// `parallel -k printf '"[%s] [%s] [%s] [%s] [%s]\n"' {} {.} {/} {//} {/.}`.
    const PARALLEL: &[[&str; 5]] = &[
        ["a/b.c/d.e.f", "a/b.c/d.e", "d.e.f", "a/b.c", "d.e"],
        ["dir.x/file", "dir.x/file", "file", "dir.x", "file"],
        [".bashrc", "", ".bashrc", ".", ""],
        ["a/.hidden", "a/", ".hidden", "a", ""],
        ["a.tar.gz", "a.tar", "a.tar.gz", ".", "a.tar"],
        ["/abs/path.txt", "/abs/path", "path.txt", "/abs", "path"],
        ["noext", "noext", "noext", ".", "noext"],
        ["a/b/", "a/b/", "", "a", ""],
        ["/", "/", "", "/", ""],
        ["a b/c d.e", "a b/c d", "c d.e", "a b", "c d"],
        ["", "", "", ".", ""],
        ["x/", "x/", "", ".", ""],
        ["./y.z", "./y", "y.z", ".", "y"],
        ["a..b", "a.", "a..b", ".", "a."],
        ["trail.", "trail", "trail.", ".", "trail"],
        ["/rootfile.c", "/rootfile", "rootfile.c", "/", "rootfile"],
        ["//x", "//x", "x", "/", "x"],
        ["a//b", "a//b", "b", "a", "b"],
    ];

    #[test]
    fn path_strings_match_gnu_parallel() {
        for [item, dot, base, dir, base_dot] in PARALLEL {
            let item = item.as_bytes();
            assert_eq!(without_extension(item), dot.as_bytes(), "{{.}} of {item:?}");
            assert_eq!(&*basename(item), base.as_bytes(), "{{/}} of {item:?}");
            assert_eq!(&*dirname(item), dir.as_bytes(), "{{//}} of {item:?}");
            assert_eq!(
                &*basename_without_extension(item),
                base_dot.as_bytes(),
                "{{/.}} of {item:?}"
            );
        }
    }

    #[test]
    fn a_newline_stops_perls_dot() {
        // `.*` cannot cross the newline: the slash of the second line is the first match.
        assert_eq!(&*basename(b"a\nb/c"), b"a\nc");
        assert_eq!(&*basename(b"x/a\nb/c"), b"a\nb/c");
        // `[^/.]*` does cross it, and `$` matches at the very end.
        assert_eq!(without_extension(b"a.b\n"), b"a");
        assert_eq!(without_extension(b"a.b\nc.d"), b"a.b\nc");
        // dirname is `/s`: newlines are ordinary bytes.
        assert_eq!(&*dirname(b"a\nb/c"), b"a\nb");
    }

    #[test]
    fn bytes_that_are_not_utf8_pass_through() {
        assert_eq!(&*basename(b"d\xff/f\xfe.x"), b"f\xfe.x");
        assert_eq!(without_extension(b"f\xfe.x\xff"), b"f\xfe");
    }
}
