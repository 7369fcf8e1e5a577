//! A [`PathList`] as one flat byte image, and [`PathImage`], the view a worker reads paths
//! from without a copy of its own.
//!
//! The parent writes the image once into memory every worker maps read-only; then a task
//! crosses to a worker as its index alone, not as its path (a million small files: 3 bytes a
//! task instead of about 60, and no allocation to decode one).
//!
//! Layout, every integer little-endian, every section at a multiple of 8 bytes:
//!
//! | bytes | what |
//! |---|---|
//! | 8 | [`MAGIC`] |
//! | 8 × 4 | paths, runs, prefix bytes, name bytes |
//! | 32 × runs | per run: its first path, its prefix's start and end, its names' start |
//! | 4 × paths (padded) | each path's name end, relative to its run's names |
//! | 8 × paths | each path's size |
//! | prefix bytes | the runs' prefixes, back to back |
//! | name bytes | the names, back to back |

use std::borrow::Cow;

use super::PathList;

/// The image's first 8 bytes (and its format's version).
pub const MAGIC: [u8; 8] = *b"SVPATHS1";

const HEADER: usize = 8 + 4 * 8;
const RUN: usize = 4 * 8;

/// Why bytes are not a path image.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a path image: {0}")]
pub struct ImageError(&'static str);

impl PathList {
    /// The list as an image (see the module docs): pieces to write back to back. The big
    /// ones are borrowed from the list.
    pub fn image(&self) -> Vec<Cow<'_, [u8]>> {
        let (paths, runs) = (self.ends.len(), self.runs.len());
        let mut head = Vec::with_capacity(HEADER + RUN * runs);
        head.extend_from_slice(&MAGIC);
        for n in [paths, runs, self.prefixes.len(), self.names.len()] {
            head.extend_from_slice(&(n as u64).to_le_bytes());
        }
        for run in &self.runs {
            for n in [run.first, run.prefix.0, run.prefix.1, run.names] {
                head.extend_from_slice(&(n as u64).to_le_bytes());
            }
        }
        let mut pieces = vec![Cow::Owned(head), le_u32s(&self.ends)];
        if paths % 2 == 1 {
            pieces.push(Cow::Borrowed(&[0u8; 4][..]));
        }
        pieces.push(le_u64s(&self.sizes));
        pieces.push(Cow::Borrowed(&self.prefixes));
        pieces.push(Cow::Borrowed(&self.names));
        pieces
    }
}

/// `values` as little-endian bytes: borrowed where that is how they are held.
fn le_u32s(values: &[u32]) -> Cow<'_, [u8]> {
    if cfg!(target_endian = "little") {
        Cow::Borrowed(bytemuck::cast_slice(values))
    } else {
        Cow::Owned(values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }
}

/// `values` as little-endian bytes: borrowed where that is how they are held.
fn le_u64s(values: &[u64]) -> Cow<'_, [u8]> {
    if cfg!(target_endian = "little") {
        Cow::Borrowed(bytemuck::cast_slice(values))
    } else {
        Cow::Owned(values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }
}

/// The `i`th little-endian `u64` of `bytes`.
fn u64_at(bytes: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(bytes[8 * i..8 * i + 8].try_into().expect("8 bytes"))
}

/// The `i`th little-endian `u32` of `bytes`.
fn u32_at(bytes: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().expect("4 bytes"))
}

/// A path image, read in place: the paths of the [`PathList`] it was made from, by index.
#[derive(Debug, Clone, Copy)]
pub struct PathImage<'a> {
    paths: usize,
    runs: &'a [u8],
    ends: &'a [u8],
    sizes: &'a [u8],
    prefixes: &'a [u8],
    names: &'a [u8],
}

impl<'a> PathImage<'a> {
    /// Reads an image's header and checks that every section and every run lies inside it
    /// (a path's own bounds are checked when it is read).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ImageError> {
        let head = bytes
            .get(..HEADER)
            .ok_or(ImageError("shorter than its header"))?;
        if head[..8] != MAGIC {
            return Err(ImageError("wrong magic"));
        }
        let count = |i| usize::try_from(u64_at(&head[8..], i)).ok();
        let (Some(paths), Some(runs), Some(prefix_bytes), Some(name_bytes)) =
            (count(0), count(1), count(2), count(3))
        else {
            return Err(ImageError("a count out of range"));
        };
        let mut rest = &bytes[HEADER..];
        let mut take = |len: Option<usize>| -> Result<&'a [u8], ImageError> {
            let len = len.ok_or(ImageError("a section out of range"))?;
            if len > rest.len() {
                return Err(ImageError("shorter than its sections"));
            }
            let (section, after) = rest.split_at(len);
            rest = after;
            Ok(section)
        };
        let image = PathImage {
            paths,
            runs: take(runs.checked_mul(RUN))?,
            ends: take(paths.checked_mul(4))?,
            sizes: {
                take(Some(paths % 2 * 4))?;
                take(paths.checked_mul(8))?
            },
            prefixes: take(Some(prefix_bytes))?,
            names: take(Some(name_bytes))?,
        };
        if !rest.is_empty() {
            return Err(ImageError("bytes after its sections"));
        }
        let mut previous_first = 0;
        for run in 0..runs {
            let field = |k| usize::try_from(u64_at(image.runs, 4 * run + k)).unwrap_or(usize::MAX);
            let (first, prefix_start, prefix_end, names) = (field(0), field(1), field(2), field(3));
            // Non-decreasing from 0 (an empty run shares its first with the next).
            if (run == 0 && first != 0) || first < previous_first || first > paths {
                return Err(ImageError("runs out of order"));
            }
            if prefix_start > prefix_end || prefix_end > prefix_bytes || names > name_bytes {
                return Err(ImageError("a run out of range"));
            }
            previous_first = first;
        }
        if paths > 0 && runs == 0 {
            return Err(ImageError("paths without a run"));
        }
        Ok(image)
    }

    /// How many paths it holds.
    pub fn len(&self) -> usize {
        self.paths
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.paths == 0
    }

    fn runs(&self) -> usize {
        self.runs.len() / RUN
    }

    fn run_field(&self, run: usize, k: usize) -> usize {
        u64_at(self.runs, 4 * run + k) as usize
    }

    fn run_of(&self, i: usize) -> usize {
        super::run_holding(i, self.runs(), |run| self.run_field(run, 0))
    }

    /// Path `i` in two parts, as [`PathList::parts`] gives them. Panics when `i` is out of
    /// range, or the image's ends point outside its names.
    pub fn parts(&self, i: usize) -> (&'a [u8], &'a [u8]) {
        assert!(i < self.paths, "path {i} of {}", self.paths);
        let run = self.run_of(i);
        let prefix = &self.prefixes[self.run_field(run, 1)..self.run_field(run, 2)];
        let names = self.run_field(run, 3);
        let start = if i == self.run_field(run, 0) {
            0
        } else {
            u32_at(self.ends, i - 1) as usize
        };
        let end = u32_at(self.ends, i) as usize;
        (prefix, &self.names[names + start..names + end])
    }

    /// The size listed with path `i`. Panics when `i` is out of range.
    pub fn size(&self, i: usize) -> u64 {
        u64_at(self.sizes, i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(pieces: &[Cow<'_, [u8]>]) -> Vec<u8> {
        pieces.concat()
    }

    fn list(paths: &[&[u8]]) -> PathList {
        let mut list = PathList::new();
        for (i, path) in paths.iter().enumerate() {
            list.push(path, i as u64 * 1000 + 7);
        }
        list
    }

    /// Every path of the image, in an order that jumps about (the hint must not matter).
    fn assert_same(list: &PathList, image: &PathImage<'_>) {
        assert_eq!(image.len(), list.len());
        let n = list.len();
        let order = (0..n)
            .chain((0..n).rev())
            .chain((0..n).map(|i| i * 7919 % n.max(1)));
        for i in order.take(3 * n) {
            assert_eq!(image.parts(i), list.parts(i), "path {i}");
            assert_eq!(image.size(i), list.size(i), "size {i}");
        }
    }

    #[test]
    fn an_image_reads_back_every_path_and_size() {
        let paths: [&[u8]; 9] = [
            b"/r/a/x",
            b"/r/a/yy",
            b"/r/b/\xff not utf-8",
            b"plain",
            b"also plain",
            b"/r/new\nline/x",
            b"/r/a/again",
            b"",
            b"/",
        ];
        for n in 0..=paths.len() {
            let list = list(&paths[..n]);
            let bytes = joined(&list.image());
            let image = PathImage::parse(&bytes).unwrap();
            assert_same(&list, &image);
        }
    }

    #[test]
    fn a_big_list_with_many_runs() {
        let mut list = PathList::new();
        for d in 0..300 {
            for f in 0..(d % 7) {
                list.push(format!("/t/d{d:03}/file{f}.dat").as_bytes(), d * 10 + f);
            }
        }
        let bytes = joined(&list.image());
        assert_same(&list, &PathImage::parse(&bytes).unwrap());
    }

    #[test]
    fn damaged_images_are_refused() {
        let list = list(&[b"/a/b", b"/a/c", b"/d/e"]);
        let bytes = joined(&list.image());
        assert!(PathImage::parse(&bytes).is_ok());
        for cut in [0, 7, 8, HEADER, bytes.len() - 1] {
            assert!(PathImage::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(PathImage::parse(&longer).is_err());
        let mut wrong = bytes.clone();
        wrong[0] ^= 1;
        assert_eq!(
            PathImage::parse(&wrong).unwrap_err(),
            ImageError("wrong magic")
        );
        let mut huge = bytes.clone();
        huge[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(PathImage::parse(&huge).is_err());
        // Run 1's first path past the end.
        let mut disordered = bytes.clone();
        disordered[HEADER + RUN..HEADER + RUN + 8].copy_from_slice(&9u64.to_le_bytes());
        assert_eq!(
            PathImage::parse(&disordered).unwrap_err(),
            ImageError("runs out of order")
        );
    }
}
