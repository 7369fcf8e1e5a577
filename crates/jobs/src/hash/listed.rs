//! [`ListedFile`]: a file to hash that, in the parent, is an index into the run's shared
//! [`PathList`] instead of a path of its own, and in a worker an index into the list's image
//! ([`PathImage`]).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::Deserializer;
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use super::FileEntry;
use crate::{PathImage, PathList};

thread_local! {
    /// Where a listed path is joined to be sent, reused from task to task (a fresh buffer
    /// each, or a zeroed one on the stack, was a tenth of the coordinator's time on a million
    /// small files).
    static JOINED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A file to hash: in the parent, path `index` of a shared [`PathList`] (16 bytes a task, no
/// allocation of its own, where a [`FileEntry`] costs 32 bytes and a heap block for its path);
/// in a worker, path `index` of the list's image when the task was sent as its index, or the
/// path it was sent.
///
/// It crosses to a worker exactly as a [`FileEntry`] does (the same bytes, so a journal's
/// fingerprint of a task list is the same either way), and arrives as an owned path.
#[derive(Clone)]
pub struct ListedFile(Repr);

#[derive(Clone)]
enum Repr {
    Listed {
        list: Arc<PathList>,
        index: u32,
    },
    /// In a worker: path `index` of the run's list, read from its image in place.
    Image {
        image: &'static PathImage<'static>,
        index: u32,
    },
    Owned(Box<FileEntry>),
}

impl ListedFile {
    /// Path `index` of `list` (which must hold it).
    pub fn at(list: &Arc<PathList>, index: u32) -> Self {
        debug_assert!((index as usize) < list.len());
        ListedFile(Repr::Listed {
            list: Arc::clone(list),
            index,
        })
    }

    /// A task that owns its path (what a worker receives).
    pub fn owned(entry: FileEntry) -> Self {
        ListedFile(Repr::Owned(Box::new(entry)))
    }

    /// Path `index` of `image` (which must hold it): what a worker builds from the index it
    /// was sent, with nothing copied or allocated.
    pub fn in_image(image: &'static PathImage<'static>, index: u32) -> Self {
        debug_assert!((index as usize) < image.len());
        ListedFile(Repr::Image { image, index })
    }

    /// The path in two parts that join to [`ListedFile::path`] (its directory up to the last
    /// `/`, then its name; or the whole path and nothing), without building it.
    pub fn parts(&self) -> (&[u8], &[u8]) {
        match &self.0 {
            Repr::Listed { list, index } => list.parts(*index as usize),
            Repr::Image { image, index } => image.parts(*index as usize),
            Repr::Owned(entry) => (&entry.path, &[]),
        }
    }

    /// The file's path, raw bytes (joined from the list's parts in the parent).
    pub fn path(&self) -> Cow<'_, [u8]> {
        match &self.0 {
            Repr::Listed { list, index } => Cow::Owned(list.path(*index as usize)),
            Repr::Image { image, index } => {
                let (prefix, name) = image.parts(*index as usize);
                Cow::Owned([prefix, name].concat())
            }
            Repr::Owned(entry) => Cow::Borrowed(&entry.path),
        }
    }

    /// The size found at discovery (see [`FileEntry::size`]).
    pub fn size(&self) -> u64 {
        match &self.0 {
            Repr::Listed { list, index } => list.size(*index as usize),
            Repr::Image { image, index } => image.size(*index as usize),
            Repr::Owned(entry) => entry.size,
        }
    }
}

impl fmt::Debug for ListedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListedFile")
            .field("path", &String::from_utf8_lossy(&self.path()))
            .field("size", &self.size())
            .finish()
    }
}

impl PartialEq for ListedFile {
    fn eq(&self, other: &Self) -> bool {
        self.path() == other.path() && self.size() == other.size()
    }
}

impl Eq for ListedFile {}

impl Serialize for ListedFile {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The same shape as FileEntry's derived impl: a struct of a byte string and a u64.
        let mut entry = serializer.serialize_struct("FileEntry", 2)?;
        match &self.0 {
            Repr::Owned(owned) => {
                entry.serialize_field("path", serde_bytes::Bytes::new(&owned.path))?;
            }
            Repr::Listed { .. } | Repr::Image { .. } => {
                let (prefix, name) = self.parts();
                JOINED.with_borrow_mut(|joined| {
                    joined.clear();
                    joined.extend_from_slice(prefix);
                    joined.extend_from_slice(name);
                    entry.serialize_field("path", serde_bytes::Bytes::new(joined))
                })?;
            }
        }
        entry.serialize_field("size", &self.size())?;
        entry.end()
    }
}

impl<'de> Deserialize<'de> for ListedFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        FileEntry::deserialize(deserializer).map(ListedFile::owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<FileEntry> {
        [
            &b"/r/a/b.txt"[..],
            b"/r/a/\xff not utf-8",
            b"/r/new\nline/x",
            b"plain",
        ]
        .iter()
        .enumerate()
        .map(|(i, path)| FileEntry {
            path: path.to_vec(),
            size: i as u64 * 7,
        })
        .chain(std::iter::once(FileEntry {
            path: [b"/long/".as_slice(), &[b'x'; 5000]].concat(),
            size: 1 << 40,
        }))
        .collect()
    }

    /// The entries' list, and its image read in place (leaked, as a worker holds it).
    fn list_and_image() -> (Arc<PathList>, &'static PathImage<'static>) {
        let mut list = PathList::new();
        for e in entries() {
            list.push(&e.path, e.size);
        }
        let bytes: &'static [u8] = Vec::leak(list.image().concat());
        let image = Box::leak(Box::new(PathImage::parse(bytes).unwrap()));
        (Arc::new(list), image)
    }

    #[test]
    fn parts_join_to_the_path_listed_in_an_image_or_owned() {
        let (list, image) = list_and_image();
        for (i, e) in entries().into_iter().enumerate() {
            for task in [
                ListedFile::at(&list, i as u32),
                ListedFile::in_image(image, i as u32),
                ListedFile::owned(e.clone()),
            ] {
                let (dir, name) = task.parts();
                assert_eq!([dir, name].concat(), e.path);
                assert_eq!(*task.path(), *e.path);
                assert_eq!(task.size(), e.size);
                assert_eq!(task, ListedFile::at(&list, i as u32));
            }
        }
    }

    #[test]
    fn crosses_as_the_same_bytes_as_a_file_entry() {
        let mut list = PathList::new();
        for e in entries() {
            list.push(&e.path, e.size);
        }
        let list = Arc::new(list);
        let (_, image) = list_and_image();
        let tasks: Vec<ListedFile> = (0..list.len() as u32)
            .map(|i| ListedFile::at(&list, i))
            .collect();
        for (i, task) in tasks.iter().enumerate() {
            let config = bincode::config::standard();
            assert_eq!(
                bincode::serde::encode_to_vec(ListedFile::in_image(image, i as u32), config)
                    .unwrap(),
                bincode::serde::encode_to_vec(task, config).unwrap(),
                "a task read from an image crosses as the same bytes"
            );
        }
        let config = bincode::config::standard();
        for (task, entry) in tasks.iter().zip(entries()) {
            let sent = bincode::serde::encode_to_vec(task, config).unwrap();
            assert_eq!(sent, bincode::serde::encode_to_vec(&entry, config).unwrap());
            let (received, _): (ListedFile, usize) =
                bincode::serde::decode_from_slice(&sent, config).unwrap();
            assert_eq!(received.path(), entry.path.as_slice());
            assert_eq!(received.size(), entry.size);
            assert_eq!(&received, task);
            assert_eq!(task.path(), entry.path.as_slice());
        }
    }

    #[test]
    fn is_two_words_in_the_parent() {
        assert_eq!(std::mem::size_of::<ListedFile>(), 16);
    }
}
