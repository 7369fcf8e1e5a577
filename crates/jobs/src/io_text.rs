//! Human text for I/O errors, in the style of coreutils.

use std::io;

/// Describes an I/O error the way coreutils does: `"No such file or directory"`, without the
/// `" (os error 2)"` suffix that std's `Display` appends.
///
/// The suffix is noise for users and would make messages differ from what `md5sum` prints for
/// the same file.
pub fn describe_io_error(err: &io::Error) -> String {
    let text = err.to_string();
    match err.raw_os_error() {
        Some(code) => match text.strip_suffix(&format!(" (os error {code})")) {
            Some(stripped) => stripped.to_owned(),
            None => text,
        },
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_os_error_suffix() {
        let err = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(describe_io_error(&err), "No such file or directory");
        let err = io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(describe_io_error(&err), "Permission denied");
    }

    #[test]
    fn keeps_custom_messages() {
        let err = io::Error::other("dangling symlink");
        assert_eq!(describe_io_error(&err), "dangling symlink");
    }
}
