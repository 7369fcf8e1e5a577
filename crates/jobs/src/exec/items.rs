//! Items from an input stream: one per line, or one per NUL-terminated record (`-0`).

/// Splits `input` at every `separator` (`b'\n'` or `0`), as GNU parallel reads its input: a
/// final separator ends the last item instead of starting an empty one, an empty line is an
/// empty item, and nothing else (a `\r`, spaces) is trimmed.
pub fn split_items(input: &[u8], separator: u8) -> Vec<Vec<u8>> {
    if input.is_empty() {
        return Vec::new();
    }
    let body = input.strip_suffix(&[separator]).unwrap_or(input);
    body.split(|&b| b == separator)
        .map(<[u8]>::to_vec)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_items_and_the_last_newline_is_optional() {
        assert_eq!(
            split_items(b"a\nb\n", b'\n'),
            [b"a".to_vec(), b"b".to_vec()]
        );
        assert_eq!(split_items(b"a\nb", b'\n'), [b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(
            split_items(b"a\n\nb\n", b'\n'),
            [b"a".to_vec(), vec![], b"b".to_vec()]
        );
        assert_eq!(split_items(b"\n", b'\n'), [Vec::<u8>::new()]);
        assert!(split_items(b"", b'\n').is_empty());
        assert_eq!(split_items(b"a\r\n", b'\n'), [b"a\r".to_vec()]);
    }

    #[test]
    fn nul_separated_items_may_hold_newlines() {
        assert_eq!(
            split_items(b"a\nb\0c d\0", 0),
            [b"a\nb".to_vec(), b"c d".to_vec()]
        );
    }
}
