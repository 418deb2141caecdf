//! The SMTP envelope (RFC 5321 §2.3.1): who the message is from and to, as `MAIL FROM`
//! and `RCPT TO` will say, which is not what the headers say (Bcc is only here).

use alloc::vec::Vec;

use crate::address::AddrSpec;
use crate::error::Error;

/// Reverse path and recipients for one transaction.
///
/// ```
/// use postel_mime::{AddrSpec, Envelope};
/// let env = Envelope::new(Some("a@x.test".parse()?), vec!["b@y.test".parse()?])?;
/// assert_eq!(env.to()[0].to_smtp(false)?, "b@y.test");
/// assert!(!env.needs_smtputf8());
/// # Ok::<(), postel_mime::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    from: Option<AddrSpec>,
    to: Vec<AddrSpec>,
}

impl Envelope {
    /// `from` is `None` for the null reverse path `<>` (bounces); `to` must not be
    /// empty, and duplicates are dropped (first one kept).
    pub fn new(from: Option<AddrSpec>, to: Vec<AddrSpec>) -> Result<Self, Error> {
        let mut unique: Vec<AddrSpec> = Vec::with_capacity(to.len());
        for a in to {
            if !unique.contains(&a) {
                unique.push(a);
            }
        }
        if unique.is_empty() {
            return Err(Error::MissingField {
                field: "recipients (To, Cc or Bcc)",
            });
        }
        Ok(Envelope { from, to: unique })
    }

    /// The reverse path; `None` is `<>`.
    pub fn from(&self) -> Option<&AddrSpec> {
        self.from.as_ref()
    }

    /// The recipients, in order, without duplicates.
    pub fn to(&self) -> &[AddrSpec] {
        &self.to
    }

    /// Whether an address has a UTF-8 local part, so that the transaction needs a server
    /// offering SMTPUTF8 and the `SMTPUTF8` parameter on `MAIL FROM` (RFC 6531 §3.4).
    pub fn needs_smtputf8(&self) -> bool {
        self.from
            .iter()
            .chain(&self.to)
            .any(AddrSpec::needs_smtputf8)
    }
}
