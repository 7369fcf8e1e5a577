//! Output that goes through instead of being captured (`--ungroup`, `--line-buffer`): the
//! command writes to this worker's own stdout, which the run shares with the supervisor.
//!
//! With `--line-buffer` the command's stdout is a pipe this process reads while the command
//! runs, writing whole lines on: each `write` holds complete lines and, where lines allow, at
//! most `PIPE_BUF` bytes, which a pipe never interleaves with another writer's, so the lines
//! of commands running in several workers at once are never cut into each other (a single
//! line longer than `PIPE_BUF` is written alone, and only a pipe may then interleave it). A
//! last line without a newline goes out when the command ends.

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::io::{self, PipeReader, Read, Write};
use std::os::fd::AsFd;
use std::process::{Child, ExitStatus};

/// What one `write` carries at most when its lines allow (Linux's `PIPE_BUF`).
const ATOMIC_WRITE: usize = 4096;

/// How long a wait for output lasts before the command's end is checked again.
const POLL_MS: u16 = 50;

/// Relays `child`'s stdout (read from `pipe`) to `out` a whole line at a time until the
/// command has ended (what it wrote before is all relayed), and returns how it ended.
pub(crate) fn relay_lines(
    mut pipe: PipeReader,
    child: &mut Child,
    out: &mut impl Write,
) -> io::Result<ExitStatus> {
    fcntl(pipe.as_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(io::Error::from)?;
    let mut pending = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        {
            let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(POLL_MS)) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let closed = drain(&mut pipe, &mut buf, &mut pending)?;
        write_lines(&mut pending, out)?;
        // The command's end: whatever it wrote is in the pipe by now (a process it left in
        // the background and that still holds the pipe is not waited for).
        let ended = if closed {
            Some(child.wait()?)
        } else {
            child.try_wait()?
        };
        if let Some(status) = ended {
            drain(&mut pipe, &mut buf, &mut pending)?;
            write_lines(&mut pending, out)?;
            if !pending.is_empty() {
                out.write_all(&pending)?;
            }
            out.flush()?;
            return Ok(status);
        }
    }
}

/// Reads what the pipe holds now into `pending`; true when the writer closed it.
fn drain(pipe: &mut PipeReader, buf: &mut [u8], pending: &mut Vec<u8>) -> io::Result<bool> {
    loop {
        match pipe.read(buf) {
            Ok(0) => return Ok(true),
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes the complete lines at the front of `pending` and keeps the rest.
fn write_lines(pending: &mut Vec<u8>, out: &mut impl Write) -> io::Result<()> {
    let Some(last) = memchr::memrchr(b'\n', pending) else {
        return Ok(());
    };
    let complete = &pending[..=last];
    let mut start = 0;
    while start < complete.len() {
        // As many whole lines as fit in one atomic write, or one longer line alone.
        let window = &complete[start..complete.len().min(start + ATOMIC_WRITE)];
        let end = match memchr::memrchr(b'\n', window) {
            Some(i) => start + i + 1,
            None => start + memchr::memchr(b'\n', &complete[start..]).map_or(0, |i| i + 1),
        };
        out.write_all(&complete[start..end])?;
        out.flush()?;
        start = end;
    }
    pending.drain(..=last);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records each write as it was made.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn only_whole_lines_go_out_and_each_write_fits_a_pipe() {
        let mut pending = b"a\nbb\ncc".to_vec();
        let mut out = Writes::default();
        write_lines(&mut pending, &mut out).unwrap();
        assert_eq!(out.0, vec![b"a\nbb\n".to_vec()]);
        assert_eq!(pending, b"cc");

        let line = |c: u8, n: usize| {
            let mut l = vec![c; n];
            l.push(b'\n');
            l
        };
        let mut pending = [
            line(b'x', 3000),
            line(b'y', 3000),
            line(b'z', 9000),
            line(b'w', 10),
        ]
        .concat();
        let mut out = Writes::default();
        write_lines(&mut pending, &mut out).unwrap();
        assert!(pending.is_empty());
        assert_eq!(
            out.0,
            vec![
                line(b'x', 3000),
                line(b'y', 3000),
                line(b'z', 9000),
                line(b'w', 10)
            ]
        );
    }

    #[test]
    fn a_command_writing_half_lines_is_relayed_in_whole_lines() {
        let (reader, writer) = std::io::pipe().unwrap();
        let mut child = std::process::Command::new("sh")
            .args([
                "-c",
                "printf 'a'; sleep 0.05; printf 'b\\nc'; sleep 0.05; printf 'd\\ne'",
            ])
            .stdout(writer)
            .spawn()
            .unwrap();
        let mut out = Writes::default();
        let status = relay_lines(reader, &mut child, &mut out).unwrap();
        assert!(status.success());
        assert_eq!(out.0.concat(), b"ab\ncd\ne");
        // Every write but the last (the unfinished line at the end) ends a line.
        for w in &out.0[..out.0.len() - 1] {
            assert_eq!(w.last(), Some(&b'\n'), "{:?}", String::from_utf8_lossy(w));
        }
    }
}
