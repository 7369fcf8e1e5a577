//! The `--ext` filter: which file names discovery keeps.

/// File-name suffixes to keep, matched on raw bytes; empty keeps everything.
///
/// Mirrors the seed script's `Path(dir).rglob(f'*{ext}')`, except that an extension given
/// without its dot gets one, so `log` cannot also match `catalog`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExtFilter {
    suffixes: Vec<Vec<u8>>,
}

impl ExtFilter {
    pub(crate) fn new(extensions: &[String]) -> Self {
        let suffixes = extensions
            .iter()
            .map(|ext| {
                if ext.starts_with('.') {
                    ext.as_bytes().to_vec()
                } else {
                    let mut dotted = Vec::with_capacity(ext.len() + 1);
                    dotted.push(b'.');
                    dotted.extend_from_slice(ext.as_bytes());
                    dotted
                }
            })
            .collect();
        ExtFilter { suffixes }
    }

    pub(crate) fn matches(&self, file_name: &[u8]) -> bool {
        self.suffixes.is_empty() || self.suffixes.iter().any(|s| file_name.ends_with(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(exts: &[&str]) -> ExtFilter {
        ExtFilter::new(&exts.iter().map(|e| e.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn empty_filter_keeps_everything() {
        assert!(filter(&[]).matches(b"anything"));
        assert!(filter(&[]).matches(b"\xff\xfe"));
    }

    #[test]
    fn dot_is_added_when_missing() {
        let f = filter(&["log"]);
        assert!(f.matches(b"app.log"));
        assert!(!f.matches(b"catalog"));
        assert!(!f.matches(b"app.log.gz"));
    }

    #[test]
    fn several_extensions_and_compound_suffixes() {
        let f = filter(&[".txt", "tar.gz"]);
        assert!(f.matches(b"a.txt"));
        assert!(f.matches(b"b.tar.gz"));
        assert!(!f.matches(b"c.gz"));
    }

    #[test]
    fn matching_is_on_bytes() {
        assert!(filter(&["log"]).matches(b"\xff.log"));
    }
}
