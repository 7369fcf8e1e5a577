//! A run's fixed task list as an image every worker maps (see [`crate::TaskList::image`]):
//! written once by the parent into a `memfd`, sealed so that no process can change or
//! shrink it, and handed to each worker with its bootstrap.
//!
//! The image is built on the spawner's thread before the first worker is started, while the
//! coordinator's thread costs and schedules the same list; the executor sends a task by index
//! only once the image exists, so a worker never gets an index it cannot resolve.

use std::borrow::Cow;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Mutex, OnceLock};

/// The `memfd` name, as it appears in `/proc/<pid>/fd` links.
const MEMFD_NAME: &str = "supervisor-task-image";

/// A sealed, immutable image in memory (parent side).
pub(crate) struct TaskImage {
    fd: OwnedFd,
}

impl TaskImage {
    /// Writes `pieces` back to back into a fresh `memfd` and seals it against writing,
    /// growing and shrinking.
    pub(crate) fn create(pieces: &[Cow<'_, [u8]>]) -> std::io::Result<Self> {
        use nix::fcntl::{FcntlArg, SealFlag, fcntl};
        use nix::sys::memfd::{MFdFlags, memfd_create};
        let fd = memfd_create(
            MEMFD_NAME,
            MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
        )
        .map_err(std::io::Error::from)?;
        let mut file = File::from(fd);
        file.set_len(pieces.iter().map(|p| p.len() as u64).sum())?;
        for piece in pieces {
            file.write_all(piece)?;
        }
        let seals = SealFlag::F_SEAL_WRITE
            | SealFlag::F_SEAL_SHRINK
            | SealFlag::F_SEAL_GROW
            | SealFlag::F_SEAL_SEAL;
        fcntl(&file, FcntlArg::F_ADD_SEALS(seals)).map_err(std::io::Error::from)?;
        Ok(TaskImage { fd: file.into() })
    }

    /// The descriptor handed to each worker.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// How the image is built: once, by whoever needs it first.
type Build = Box<dyn FnOnce() -> Option<TaskImage> + Send>;

/// A run's image, built at most once: by the spawner before it starts the first worker.
/// `None` once built means the run has none (the job sends whole tasks, the list gave no
/// image, or writing it failed: then tasks are sent whole, as without one).
pub(crate) struct SharedImage {
    build: Mutex<Option<Build>>,
    built: OnceLock<Option<TaskImage>>,
}

impl SharedImage {
    /// An image that `build` makes when first asked for.
    pub(crate) fn new(build: Build) -> Self {
        SharedImage {
            build: Mutex::new(Some(build)),
            built: OnceLock::new(),
        }
    }

    /// No image.
    pub(crate) fn none() -> Self {
        let built = OnceLock::new();
        let _ = built.set(None);
        SharedImage {
            build: Mutex::new(None),
            built,
        }
    }

    /// The image, built now if it was not yet.
    pub(crate) fn get_or_build(&self) -> Option<&TaskImage> {
        self.built
            .get_or_init(|| {
                let build = self.build.lock().unwrap_or_else(|e| e.into_inner()).take();
                build.and_then(|build| build())
            })
            .as_ref()
    }

    /// The image if it has been built (never builds it).
    pub(crate) fn built(&self) -> Option<&TaskImage> {
        self.built.get().and_then(Option::as_ref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_is_sealed_and_maps_back_to_its_pieces() {
        let pieces = [
            Cow::Borrowed(&b"first "[..]),
            Cow::Owned(b"second".to_vec()),
            Cow::Borrowed(&b""[..]),
        ];
        let image = TaskImage::create(&pieces).unwrap();
        let fd = image.fd().try_clone_to_owned().unwrap();
        let bytes = crate::sys::map_sealed_for_life(&fd).unwrap();
        assert_eq!(bytes, b"first second");
        // Sealed: neither writable nor resizable, by anyone holding it.
        let mut file = File::from(fd);
        assert!(file.write_all(b"x").is_err());
        assert!(file.set_len(3).is_err());
        assert!(file.set_len(100).is_err());
    }

    #[test]
    fn an_empty_image_maps_to_nothing() {
        let image = TaskImage::create(&[]).unwrap();
        let fd = image.fd().try_clone_to_owned().unwrap();
        assert_eq!(crate::sys::map_sealed_for_life(&fd).unwrap(), b"");
    }

    #[test]
    fn an_unsealed_file_is_refused() {
        let file = tempfile::tempfile().unwrap();
        let fd: OwnedFd = file.into();
        assert!(crate::sys::map_sealed_for_life(&fd).is_err());
    }

    #[test]
    fn the_image_is_built_once_by_the_first_to_ask() {
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = std::sync::Arc::clone(&calls);
        let shared = SharedImage::new(Box::new(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            TaskImage::create(&[Cow::Borrowed(&b"x"[..])]).ok()
        }));
        assert!(shared.built().is_none(), "not built until asked for");
        assert!(shared.get_or_build().is_some());
        assert!(shared.get_or_build().is_some());
        assert!(shared.built().is_some());
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(SharedImage::none().get_or_build().is_none());
    }
}
