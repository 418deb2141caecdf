//! Credentials that never print.

use core::fmt;

/// A value that must not appear in logs: `Debug` prints `Secret(..)` in every build profile.
///
/// ```
/// use postel_proto::Secret;
/// let s = Secret::new("hunter2");
/// assert_eq!(format!("{s:?}"), "Secret(..)");
/// assert_eq!(*s.expose(), "hunter2");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub const fn new(value: T) -> Self {
        Secret(value)
    }

    /// Gives the secret itself; call this only where it is put on the wire.
    pub const fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}
