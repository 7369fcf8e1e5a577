//! Reading a checksum file a piece at a time: its lines are parsed as they come in, so the
//! parent never holds the whole text (87 MB for a file of a million lines).

use std::io::{ErrorKind, Read};
use supervisor_jobs::hash::{Algo, checksum_file_lines, guess_tool};

/// Bytes read at a time.
const PIECE: usize = 1 << 20;

/// How reading a checksum file ended.
pub(super) struct SumsRead {
    /// The tool the file is checked as: `given`, or the one its first checksum line is for
    /// (MD5 when none is).
    pub(super) tool: Algo,
    /// Reading failed before the end; only the complete lines read before were given.
    pub(super) failed: bool,
}

/// Calls `line(tool, number, text)` for each line of `source` that
/// [`checksum_file_lines`] would give for its whole text (numbered from 1, comments and blank
/// lines left out but counted), in order, exactly as if the whole file had been read first:
/// `tool` is `given`, or else [`guess_tool`]'s answer for the whole text, so lines are held back
/// only until the first checksum line has been seen. After a read error, only the complete
/// lines read before it are given, as when the whole text is cut at its last newline.
pub(super) fn for_each_line(
    source: &mut dyn Read,
    given: Option<Algo>,
    mut line: impl FnMut(Algo, u64, &[u8]),
) -> SumsRead {
    let mut tool = given;
    // Bytes read but not given yet; they start at a line's start.
    let mut pending: Vec<u8> = Vec::new();
    // How many of them `guess_tool` saw already (complete lines that are no checksum line).
    let mut guessed = 0;
    // Lines given (or passed over) so far, for the numbering.
    let mut before = 0u64;
    let mut piece = vec![0u8; PIECE];
    loop {
        let (ended, failed) = match source.read(&mut piece) {
            Ok(0) => (true, false),
            Ok(n) => {
                pending.extend_from_slice(&piece[..n]);
                (false, false)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => (true, true),
        };
        // The lines that are complete: up to the last newline, or everything at the end.
        let last_newline = || memchr::memrchr(b'\n', &pending).map_or(0, |i| i + 1);
        let complete = if ended && !failed {
            pending.len()
        } else {
            last_newline()
        };
        if tool.is_none() {
            tool = guess_tool(&pending[guessed..complete]);
            guessed = complete;
            if tool.is_none() && !ended {
                continue;
            }
        }
        let now = tool.unwrap_or_default();
        for (number, text) in checksum_file_lines(&pending[..complete]) {
            line(now, before + number, text);
        }
        before += memchr::memchr_iter(b'\n', &pending[..complete]).count() as u64;
        if ended {
            return SumsRead { tool: now, failed };
        }
        pending.drain(..complete);
        guessed = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives `data` a few bytes at a time, then fails if `fail` (as a read error would).
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
        fail: bool,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.data.is_empty() {
                return if self.fail {
                    Err(std::io::Error::other("broken"))
                } else {
                    Ok(0)
                };
            }
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// Each line given: the tool, its number, its text.
    type Lines = Vec<(Algo, u64, Vec<u8>)>;

    fn lines_of(text: &[u8], given: Option<Algo>, step: usize, fail: bool) -> (Lines, Algo, bool) {
        let mut got = Vec::new();
        let mut source = Trickle {
            data: text,
            step,
            fail,
        };
        let read = for_each_line(&mut source, given, |tool, number, line| {
            got.push((tool, number, line.to_vec()))
        });
        (got, read.tool, read.failed)
    }

    fn whole(text: &[u8], given: Option<Algo>) -> (Lines, Algo) {
        let tool = given.or_else(|| guess_tool(text)).unwrap_or_default();
        let lines = checksum_file_lines(text)
            .map(|(number, line)| (tool, number, line.to_vec()))
            .collect();
        (lines, tool)
    }

    #[test]
    fn lines_come_as_from_the_whole_text_whatever_the_pieces() {
        let md5 = "d41d8cd98f00b204e9800998ecf8427e";
        let sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let texts = [
            format!("# comment\n\ngarbage\n{sha}  a\r\n{md5}  b\n\nlast without newline"),
            format!("{md5}  a\n{md5}  b\n"),
            "no checksum line at all\n\n".to_string(),
            String::new(),
            "\n\n\n".to_string(),
            format!("{md5}  only"),
        ];
        for text in &texts {
            for given in [None, Some(Algo::Sha256)] {
                let (want, tool) = whole(text.as_bytes(), given);
                for step in [1, 2, 3, 7, 64, 1 << 20] {
                    let (got, got_tool, failed) = lines_of(text.as_bytes(), given, step, false);
                    assert_eq!(got, want, "{text:?}, step {step}, {given:?}");
                    assert_eq!((got_tool, failed), (tool, false), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn after_a_read_error_only_the_complete_lines_read() {
        let md5 = "d41d8cd98f00b204e9800998ecf8427e";
        let text = format!("{md5}  a\n{md5}  b\n{md5}  unfinished");
        let cut = format!("{md5}  a\n{md5}  b\n");
        let (want, _) = whole(cut.as_bytes(), None);
        for step in [1, 5, 1 << 20] {
            let (got, tool, failed) = lines_of(text.as_bytes(), None, step, true);
            assert_eq!(got, want, "step {step}");
            assert_eq!((tool, failed), (Algo::Md5, true));
        }
    }
}
