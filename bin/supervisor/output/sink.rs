//! Where output goes: stdout, a regular file replaced atomically, or a device/FIFO in place;
//! or an unnamed scratch file, for output that must be written after something known only at
//! the end (a partition's header).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A destination for results. Write errors are remembered, not returned per call, so a
/// failing output never interrupts the run; [`Sink::finish`] reports them.
pub struct Sink {
    target: Target,
    error: Option<io::Error>,
}

enum Target {
    Stdout(BufWriter<io::Stdout>),
    /// Written to a temp file beside the destination, renamed over it on success.
    Atomic {
        file: BufWriter<File>,
        tmp: TempPath,
        dest: PathBuf,
    },
    /// A device or FIFO: never replaced, written where it is.
    InPlace {
        file: BufWriter<File>,
        dest: PathBuf,
    },
    /// An unnamed temp file, read back with [`Sink::into_scratch`].
    Scratch(BufWriter<File>),
}

impl Sink {
    /// Opens the destination now, so an unwritable path fails before any work starts.
    pub fn open(path: Option<&Path>) -> Result<Self, String> {
        let target = match path {
            None => Target::Stdout(BufWriter::with_capacity(64 * 1024, io::stdout())),
            Some(dest) => open_file(dest)?,
        };
        Ok(Sink {
            target,
            error: None,
        })
    }

    /// A sink into an unnamed file in `dir` (gone with its descriptor, whatever happens).
    pub fn scratch(dir: &Path) -> Result<Self, String> {
        let file = supervisor_jobs::exec::anonymous_file(dir).map_err(|e| {
            format!(
                "cannot write temporary files in {}: {}",
                dir.display(),
                describe(&e)
            )
        })?;
        Ok(Sink {
            target: Target::Scratch(BufWriter::with_capacity(64 * 1024, file)),
            error: None,
        })
    }

    /// What was written to a [`Sink::scratch`], rewound to its start for reading.
    pub fn into_scratch(mut self) -> Result<File, String> {
        use std::io::Seek;
        self.flush();
        let fail = |e: &io::Error| format!("cannot write a temporary file: {}", describe(e));
        if let Some(e) = &self.error {
            return Err(fail(e));
        }
        let Target::Scratch(file) = self.target else {
            return Err("not a scratch file".into());
        };
        let mut file = file.into_inner().map_err(|e| fail(e.error()))?;
        file.rewind().map_err(|e| fail(&e))?;
        Ok(file)
    }

    /// True when output goes to a terminal-less stdout that was closed (`| head`).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(&self.error, Some(e) if e.kind() == io::ErrorKind::BrokenPipe)
            && matches!(self.target, Target::Stdout(_))
    }

    /// Writes bytes, remembering the first error.
    pub fn write(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let result = match &mut self.target {
            Target::Stdout(w) => w.write_all(bytes),
            Target::Atomic { file, .. } => file.write_all(bytes),
            Target::InPlace { file, .. } | Target::Scratch(file) => file.write_all(bytes),
        };
        if let Err(e) = result {
            self.error = Some(e);
        }
    }

    /// Pushes buffered output out (for streaming formats).
    pub fn flush(&mut self) {
        if self.error.is_some() {
            return;
        }
        let result = match &mut self.target {
            Target::Stdout(w) => w.flush(),
            Target::Atomic { file, .. } => file.flush(),
            Target::InPlace { file, .. } | Target::Scratch(file) => file.flush(),
        };
        if let Err(e) = result {
            self.error = Some(e);
        }
    }

    /// Flushes and, for a regular file, renames it into place. A closed stdout pipe is not an
    /// error: the reader simply wanted no more.
    pub fn finish(mut self) -> Result<(), String> {
        self.flush();
        let broken_pipe = self.is_broken_pipe();
        let Sink { target, error } = self;
        match (target, error) {
            (Target::Stdout(_) | Target::Scratch(_), None) => Ok(()),
            (Target::Scratch(_), Some(e)) => {
                Err(format!("cannot write a temporary file: {}", describe(&e)))
            }
            (Target::Stdout(_), Some(_)) if broken_pipe => Ok(()),
            (Target::Stdout(_), Some(e)) => {
                Err(format!("cannot write to standard output: {}", describe(&e)))
            }
            (Target::Atomic { dest, .. } | Target::InPlace { dest, .. }, Some(e)) => {
                Err(format!("cannot write {}: {}", dest.display(), describe(&e)))
            }
            (Target::InPlace { file, dest }, None) => file
                .into_inner()
                .map_err(|e| e.into_error())
                .and_then(|f| f.sync_all().or(Ok(())))
                .map_err(|e| format!("cannot write {}: {}", dest.display(), describe(&e))),
            (Target::Atomic { file, tmp, dest }, None) => {
                let fail =
                    |e: &io::Error| format!("cannot write {}: {}", dest.display(), describe(e));
                let file = file.into_inner().map_err(|e| fail(e.error()))?;
                file.sync_all().map_err(|e| fail(&e))?;
                tmp.persist(&dest).map_err(|e| fail(&e))
            }
        }
    }
}

/// Lets writers such as `csv::Writer` write into a sink; errors stay remembered in the sink.
impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        Sink::write(self, bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn open_file(dest: &Path) -> Result<Target, String> {
    use std::os::unix::fs::FileTypeExt;
    let fail = |e: io::Error| format!("cannot write {}: {}", dest.display(), describe(&e));
    match std::fs::metadata(dest) {
        Ok(meta) if meta.is_dir() => {
            Err(format!("cannot write {}: Is a directory", dest.display()))
        }
        Ok(meta)
            if meta.file_type().is_char_device()
                || meta.file_type().is_block_device()
                || meta.file_type().is_fifo()
                || meta.file_type().is_socket() =>
        {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(dest)
                .map_err(fail)?;
            Ok(Target::InPlace {
                file: BufWriter::with_capacity(64 * 1024, file),
                dest: dest.to_path_buf(),
            })
        }
        _ => {
            let dir = match dest.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let name = dest
                .file_name()
                .ok_or_else(|| fail(io::Error::from(io::ErrorKind::InvalidInput)))?;
            let (file, tmp) = TempPath::create(dir, name).map_err(fail)?;
            // Keep the permissions a plain create would have given (the temp file is 0600).
            let _ = keep_existing_mode(dest, &file);
            Ok(Target::Atomic {
                file: BufWriter::with_capacity(64 * 1024, file),
                tmp,
                dest: dest.to_path_buf(),
            })
        }
    }
}

/// A temp file beside the destination (`.NAME.XXXX.tmp`), removed unless renamed into place,
/// so an interrupted write never leaves it behind or half-replaces the destination.
struct TempPath {
    path: Option<PathBuf>,
}

impl TempPath {
    fn create(dir: &Path, name: &std::ffi::OsStr) -> io::Result<(File, TempPath)> {
        use std::os::unix::fs::OpenOptionsExt;
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ u64::from(std::process::id()) << 32;
        for attempt in 0..64u64 {
            let mut file_name = std::ffi::OsString::from(".");
            file_name.push(name);
            file_name.push(format!(
                ".{:08x}.tmp",
                seed.wrapping_add(attempt.wrapping_mul(0x9e37_79b9)) as u32
            ));
            let path = dir.join(file_name);
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(file) => return Ok((file, TempPath { path: Some(path) })),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::from(io::ErrorKind::AlreadyExists))
    }

    fn persist(mut self, dest: &Path) -> io::Result<()> {
        let path = self.path.take().expect("a temp path is persisted once");
        std::fs::rename(&path, dest).inspect_err(|_| {
            let _ = std::fs::remove_file(&path);
        })
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn keep_existing_mode(dest: &Path, tmp: &File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = match std::fs::metadata(dest) {
        Ok(meta) => meta.permissions().mode() & 0o7777,
        Err(_) => {
            let mask = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
            nix::sys::stat::umask(mask);
            0o666 & !mask.bits()
        }
    };
    tmp.set_permissions(std::fs::Permissions::from_mode(mode))
}

/// An io error's description without the "(os error N)" suffix.
fn describe(e: &io::Error) -> String {
    supervisor_jobs::describe_io_error(e)
}
