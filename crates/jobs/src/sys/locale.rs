//! The user's locale as C programs see it: whether names are UTF-8 and which characters print.
//!
//! Coreutils quotes a file name in its messages according to the locale `setlocale(LC_ALL,
//! "")` gives it. To quote the same way, this asks glibc for the same locale, without changing
//! the process's own (`newlocale`, not `setlocale`: a library shares its process).

use std::ffi::CStr;

/// A locale object for the environment's locale (`LC_ALL`, `LC_CTYPE`, `LANG`).
pub(crate) struct EnvLocale(libc::locale_t);

unsafe extern "C" {
    // glibc's locale-explicit `iswprint` (`wint_t` is `unsigned int`); the `libc` crate does
    // not declare it.
    fn iswprint_l(wc: libc::c_uint, locale: libc::locale_t) -> libc::c_int;
}

impl EnvLocale {
    /// The environment's locale; `None` when glibc cannot load it (then C programs run in the
    /// "C" locale, as `setlocale` fails too).
    pub(crate) fn from_environment() -> Option<Self> {
        // SAFETY: the name is a valid NUL-terminated string and the base is null (a new
        // object); a null result means failure and is not used.
        let locale =
            unsafe { libc::newlocale(libc::LC_ALL_MASK, c"".as_ptr(), std::ptr::null_mut()) };
        (!locale.is_null()).then_some(EnvLocale(locale))
    }

    /// True when the locale's character set is UTF-8.
    pub(crate) fn is_utf8(&self) -> bool {
        // SAFETY: `self.0` is a live locale object; `nl_langinfo_l` returns a NUL-terminated
        // string owned by it, copied out before the object can be freed.
        let codeset = unsafe { CStr::from_ptr(libc::nl_langinfo_l(libc::CODESET, self.0)) };
        codeset.to_bytes().eq_ignore_ascii_case(b"UTF-8")
    }

    /// True when the locale counts `c` as printable (`iswprint`).
    pub(crate) fn is_printable(&self, c: char) -> bool {
        // SAFETY: `self.0` is a live locale object; `iswprint_l` only reads it.
        unsafe { iswprint_l(c as libc::c_uint, self.0) != 0 }
    }
}

impl Drop for EnvLocale {
    fn drop(&mut self) {
        // SAFETY: `self.0` came from `newlocale` and is freed exactly once, here.
        unsafe { libc::freelocale(self.0) }
    }
}
