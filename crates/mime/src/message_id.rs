//! RFC 5322 §3.6.4 message identifiers.
//!
//! ```text
//! msg-id  = [CFWS] "<" id-left "@" id-right ">" [CFWS]
//! id-left = dot-atom-text    id-right = dot-atom-text / no-fold-literal
//! ```
//! The core has no RNG: a caller gives the unique part, or, with `std`,
//! [`MessageId::generate`] makes one from the time, the process id, a counter and the
//! random keys std's `RandomState` draws from the OS.

use alloc::format;
use alloc::string::{String, ToString};
use core::fmt;
use core::str::FromStr;

use crate::error::Error;
use crate::header::is_atext;

/// A message identifier, `left@right` (written inside `<…>`).
///
/// ```
/// use postel_mime::MessageId;
/// let id: MessageId = "<abc.123@mail.example>".parse()?;
/// assert_eq!(id.to_string(), "<abc.123@mail.example>");
/// # Ok::<(), postel_mime::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessageId(String);

fn dot_atom_ascii(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|a| !a.is_empty() && a.chars().all(|c| c.is_ascii() && is_atext(c)))
}

impl MessageId {
    /// From a unique left part and the sender's domain (A-labels are used for an IDN).
    pub fn new(left: &str, domain: &str) -> Result<Self, Error> {
        let domain = if domain.is_ascii() {
            domain.to_string()
        } else {
            crate::address::AddrSpec::new("x", domain)?.domain_ascii()?
        };
        format!("{left}@{domain}").parse()
    }

    /// A fresh identifier on `domain`: time in nanoseconds, process id, a process-wide
    /// counter, and 64 bits hashed with a randomly keyed `RandomState`.
    #[cfg(feature = "std")]
    pub fn generate(domain: &str) -> Result<Self, Error> {
        use core::hash::BuildHasher;
        use core::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let pid = std::process::id();
        let random = std::collections::hash_map::RandomState::new().hash_one((nanos, pid, n));
        Self::new(&format!("{nanos:x}.{pid:x}.{n:x}.{random:016x}"), domain)
    }

    /// The identifier without angle brackets.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for MessageId {
    type Err = Error;
    /// Accepts `left@right` with or without the angle brackets.
    fn from_str(s: &str) -> Result<Self, Error> {
        crate::header::check_value("Message-ID", s)?;
        let inner = s
            .strip_prefix('<')
            .and_then(|r| r.strip_suffix('>'))
            .unwrap_or(s);
        let bad = |reason| Error::InvalidValue {
            field: "Message-ID".into(),
            reason,
        };
        if inner.len() > 250 {
            return Err(bad("longer than 250 characters"));
        }
        let (left, right) = inner.rsplit_once('@').ok_or(bad("no '@'"))?;
        let literal = right
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .is_some_and(|r| {
                r.bytes()
                    .all(|b| b.is_ascii_graphic() && !b"[]\\".contains(&b))
            });
        if !dot_atom_ascii(left) || !(literal || dot_atom_ascii(right)) {
            return Err(bad("not dot-atom@dot-atom (RFC 5322 §3.6.4)"));
        }
        Ok(MessageId(inner.to_string()))
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_reject() {
        assert_eq!("a@b".parse::<MessageId>().unwrap().as_str(), "a@b");
        assert!("<a b@c>".parse::<MessageId>().is_err());
        assert!("<a@b>\r\nBcc: x".parse::<MessageId>().is_err());
        assert_eq!(
            MessageId::new("x", "bücher.example").unwrap().as_str(),
            "x@xn--bcher-kva.example"
        );
    }

    #[cfg(feature = "std")]
    #[test]
    fn generated_ids_differ() {
        let a = MessageId::generate("x.test").unwrap();
        let b = MessageId::generate("x.test").unwrap();
        assert_ne!(a, b);
        assert!(a.as_str().ends_with("@x.test"));
    }
}
