//! [`Listing`]: what the parallel walk of a directory found, its files held compactly in a
//! [`PathList`] (a million paths cost ~26 bytes each, not a heap block each) and the rest
//! (skips and errors, rare) kept as they are, at their places in the walk's order.

use super::Walked;
use crate::path_list::PathList;

/// Walk results in the walk's order: files in `files`, every other entry with the number of
/// files that came before it.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub(crate) files: PathList,
    pub(crate) others: Vec<(usize, Walked)>,
}

impl Listing {
    pub(crate) fn push(&mut self, walked: Walked) {
        match walked {
            Walked::File { path, size } => self.files.push(&path, size),
            other => self.others.push((self.files.len(), other)),
        }
    }

    /// Appends `other` after everything already here.
    pub(crate) fn append(&mut self, other: Listing) {
        if self.files.is_empty() && self.others.is_empty() {
            *self = other;
            return;
        }
        let before = self.files.len();
        self.files.append(&other.files);
        self.others
            .extend(other.others.into_iter().map(|(at, w)| (at + before, w)));
    }

    pub(crate) fn into_iter(self) -> ListingIter {
        ListingIter {
            listing: self,
            file: 0,
            other: 0,
        }
    }
}

/// Yields a [`Listing`]'s entries one by one, in the walk's order (each file's path joined
/// only as it is yielded).
#[derive(Debug)]
pub(crate) struct ListingIter {
    listing: Listing,
    /// The next file to yield.
    file: usize,
    /// The next entry of `others` to yield.
    other: usize,
}

impl ListingIter {
    /// What is left, as a listing (without a copy when nothing was yielded yet).
    pub(crate) fn into_rest(self) -> Listing {
        if self.file == 0 && self.other == 0 {
            return self.listing;
        }
        let mut rest = Listing::default();
        for walked in self {
            rest.push(walked);
        }
        rest
    }
}

impl Iterator for ListingIter {
    type Item = Walked;

    fn next(&mut self) -> Option<Walked> {
        let others = &mut self.listing.others;
        if let Some((at, _)) = others.get(self.other)
            && *at == self.file
        {
            // Taken out, leaving a placeholder that is never looked at again.
            let walked = std::mem::replace(
                &mut others[self.other].1,
                Walked::Error {
                    path: Vec::new(),
                    message: String::new(),
                },
            );
            self.other += 1;
            return Some(walked);
        }
        let files = &self.listing.files;
        if self.file >= files.len() {
            return None;
        }
        let walked = Walked::File {
            path: files.path(self.file),
            size: files.size(self.file),
        };
        self.file += 1;
        Some(walked)
    }
}
