//! The error type: a memkind status code or an errno value, with the library's
//! message for it.

use core::ffi::{c_char, c_int, CStr};
use core::fmt;
use memkind_fixed_sys as sys;

/// An error of memkind-fixed: a status code of the C library.
///
/// Negative codes are memkind's `MEMKIND_ERROR_*` codes; positive codes are errno
/// values (an allocation that failed reports `ENOMEM` or `EINVAL`, as the C
/// functions do). [`Error::message`] gives the library's sentence for either.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Error {
    code: c_int,
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = core::result::Result<T, Error>;

/// errno for "out of memory" (Linux and every other target memkind runs on).
const ENOMEM: c_int = 12;

impl Error {
    /// An allocation failed: the kind has no free extent large enough (errno ENOMEM).
    pub const OUT_OF_MEMORY: Error = Error { code: ENOMEM };
    /// An argument is invalid (`MEMKIND_ERROR_INVALID`).
    pub const INVALID: Error = Error {
        code: sys::MEMKIND_ERROR_INVALID,
    };

    /// The error for a C status code (a `MEMKIND_ERROR_*` value or an errno value).
    pub const fn from_code(code: i32) -> Error {
        Error { code }
    }

    /// The C status code: a negative `MEMKIND_ERROR_*` value or a positive errno.
    pub const fn code(&self) -> i32 {
        self.code
    }

    /// True when this is the out-of-memory error of a failed allocation.
    pub const fn is_out_of_memory(&self) -> bool {
        self.code == ENOMEM
    }

    /// The library's message for this code (`memkind_error_message`).
    pub fn message(&self) -> String {
        let mut buf = [0 as c_char; sys::MEMKIND_ERROR_MESSAGE_SIZE as usize];
        // SAFETY: the buffer is writable for its length; the library always
        // NUL-terminates within `size` bytes.
        unsafe { sys::memkind_error_message(self.code, buf.as_mut_ptr(), buf.len()) };
        // SAFETY: NUL-terminated above, and the buffer outlives the borrow.
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    /// The error that errno holds after a C allocation function returned NULL.
    pub(crate) fn last_alloc_error() -> Error {
        match std::io::Error::last_os_error().raw_os_error() {
            Some(code) if code > 0 => Error { code },
            _ => Error::OUT_OF_MEMORY,
        }
    }
}

/// `Ok(())` for `MEMKIND_SUCCESS`, the error otherwise.
pub(crate) fn check(rc: c_int) -> Result<()> {
    if rc == sys::MEMKIND_SUCCESS {
        Ok(())
    } else {
        Err(Error { code: rc })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (memkind code {})", self.message(), self.code)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("code", &self.code)
            .field("message", &self.message())
            .finish()
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        let kind = if e.is_out_of_memory() {
            std::io::ErrorKind::OutOfMemory
        } else if e.code == sys::MEMKIND_ERROR_INVALID || e.code == 22 {
            std::io::ErrorKind::InvalidInput
        } else {
            std::io::ErrorKind::Other
        };
        std::io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_come_from_the_library() {
        assert!(!Error::INVALID.message().is_empty());
        assert!(Error::OUT_OF_MEMORY.is_out_of_memory());
        assert!(!Error::INVALID.is_out_of_memory());
        assert_ne!(Error::INVALID.message(), Error::OUT_OF_MEMORY.message());
        let shown = Error::from_code(sys::MEMKIND_ERROR_REGION_TOO_SMALL).to_string();
        assert!(shown.contains("-102"), "{shown}");
    }

    #[test]
    fn check_maps_success_only() {
        assert_eq!(check(0), Ok(()));
        assert_eq!(check(-13), Err(Error::INVALID));
    }
}
