//! EHLO keywords: what the server offers (RFC 5321 §4.1.1.1).
//!
//! ```text
//! C: EHLO client.example
//! S: 250-mx.example Hello client.example
//! S: 250-PIPELINING
//! S: 250-SIZE 10240000
//! S: 250-AUTH PLAIN LOGIN CRAM-MD5
//! S: 250-AUTH=PLAIN LOGIN
//! S: 250 CHUNKING
//! ```
//!
//! `ehlo-line = ehlo-keyword *( SP ehlo-param )`; keywords are case-insensitive. Unknown
//! keywords are ignored. The old `AUTH=` form (sent by servers for clients from before
//! RFC 2554 was final) is read like `AUTH`.

use core::fmt;

use crate::auth::Mechanism;

/// An SMTP service extension Postel understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Extension {
    /// RFC 2920 command pipelining.
    Pipelining,
    /// RFC 1870 message size declaration.
    Size,
    /// RFC 6152 8-bit MIME transport.
    EightBitMime,
    /// RFC 6531 internationalized email.
    SmtpUtf8,
    /// RFC 3030 BDAT.
    Chunking,
    /// RFC 3030 BINARYMIME.
    BinaryMime,
    /// RFC 3461 delivery status notifications.
    Dsn,
    /// RFC 2034 enhanced status codes.
    EnhancedStatusCodes,
    /// RFC 3207 STARTTLS.
    StartTls,
    /// RFC 8689 REQUIRETLS.
    RequireTls,
    /// RFC 4954 AUTH (with at least one mechanism).
    Auth,
}

impl Extension {
    const fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The EHLO keyword.
    pub const fn keyword(self) -> &'static str {
        match self {
            Extension::Pipelining => "PIPELINING",
            Extension::Size => "SIZE",
            Extension::EightBitMime => "8BITMIME",
            Extension::SmtpUtf8 => "SMTPUTF8",
            Extension::Chunking => "CHUNKING",
            Extension::BinaryMime => "BINARYMIME",
            Extension::Dsn => "DSN",
            Extension::EnhancedStatusCodes => "ENHANCEDSTATUSCODES",
            Extension::StartTls => "STARTTLS",
            Extension::RequireTls => "REQUIRETLS",
            Extension::Auth => "AUTH",
        }
    }

    const ALL: [Extension; 11] = [
        Extension::Pipelining,
        Extension::Size,
        Extension::EightBitMime,
        Extension::SmtpUtf8,
        Extension::Chunking,
        Extension::BinaryMime,
        Extension::Dsn,
        Extension::EnhancedStatusCodes,
        Extension::StartTls,
        Extension::RequireTls,
        Extension::Auth,
    ];
}

/// What the server offered in its last EHLO reply. Empty after HELO and after STARTTLS
/// (RFC 3207 §4.2: the client must discard all knowledge obtained before TLS).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    extensions: u16,
    auth: u8,
    /// `SIZE` with a number > 0; `SIZE` alone or `SIZE 0` means no fixed limit (RFC 1870 §4).
    size_limit: Option<u64>,
}

impl Capabilities {
    /// No extensions.
    pub const fn new() -> Capabilities {
        Capabilities {
            extensions: 0,
            auth: 0,
            size_limit: None,
        }
    }

    /// True when the server offered `ext`.
    pub const fn has(&self, ext: Extension) -> bool {
        self.extensions & ext.bit() != 0
    }

    /// The server's maximum message size in octets, when it declared one.
    pub const fn size_limit(&self) -> Option<u64> {
        self.size_limit
    }

    /// True when the server offered SASL mechanism `mech`.
    pub const fn offers_auth(&self, mech: Mechanism) -> bool {
        self.auth & (1 << mech as u8) != 0
    }

    /// The offered SASL mechanisms Postel implements.
    pub fn auth_mechanisms(&self) -> impl Iterator<Item = Mechanism> + '_ {
        Mechanism::ALL
            .into_iter()
            .filter(move |m| self.offers_auth(*m))
    }

    /// The extensions offered, in a fixed order.
    pub fn extensions(&self) -> impl Iterator<Item = Extension> + '_ {
        Extension::ALL.into_iter().filter(move |e| self.has(*e))
    }

    fn set(&mut self, ext: Extension) {
        self.extensions |= ext.bit();
    }

    /// Reads one EHLO line's text (after `250-`/`250 `); the first line of the reply is the
    /// server's greeting and must not be passed here.
    pub fn add_line(&mut self, line: &[u8]) {
        let mut words = line
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|w| !w.is_empty());
        let Some(first) = words.next() else {
            return;
        };
        // `AUTH=PLAIN LOGIN`: the old form glues the first mechanism to the keyword.
        let (keyword, glued) = match first.iter().position(|&b| b == b'=') {
            Some(eq) => (&first[..eq], Some(&first[eq + 1..])),
            None => (first, None),
        };
        let is = |name: &str| keyword.eq_ignore_ascii_case(name.as_bytes());
        if is("AUTH") {
            for word in glued.into_iter().chain(words) {
                if let Some(m) = Mechanism::from_name(word) {
                    self.auth |= 1 << m as u8;
                    self.set(Extension::Auth);
                }
            }
            return;
        }
        if glued.is_some() {
            return;
        }
        if is("SIZE") {
            self.set(Extension::Size);
            // A keyword listed twice with two limits: the smaller one is the safe one.
            if let Some(n) = words.next().and_then(parse_u64).filter(|&n| n > 0) {
                self.size_limit = Some(self.size_limit.map_or(n, |old| old.min(n)));
            }
            return;
        }
        if let Some(ext) = Extension::ALL
            .into_iter()
            .find(|e| *e != Extension::Auth && *e != Extension::Size && is(e.keyword()))
        {
            self.set(ext);
        }
    }
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0')),
    )
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_set();
        for e in self.extensions() {
            list.entry(&e);
        }
        for m in self.auth_mechanisms() {
            list.entry(&m);
        }
        if let Some(n) = self.size_limit {
            list.entry(&n);
        }
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(lines: &[&str]) -> Capabilities {
        let mut c = Capabilities::new();
        for l in lines {
            c.add_line(l.as_bytes());
        }
        c
    }

    #[test]
    fn reads_postfix_ehlo() {
        let c = caps(&[
            "PIPELINING",
            "SIZE 10240000",
            "VRFY",
            "ETRN",
            "STARTTLS",
            "AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256",
            "ENHANCEDSTATUSCODES",
            "8BITMIME",
            "DSN",
            "SMTPUTF8",
            "CHUNKING",
        ]);
        for e in [
            Extension::Pipelining,
            Extension::Size,
            Extension::StartTls,
            Extension::Auth,
            Extension::EnhancedStatusCodes,
            Extension::EightBitMime,
            Extension::Dsn,
            Extension::SmtpUtf8,
            Extension::Chunking,
        ] {
            assert!(c.has(e), "{e:?}");
        }
        assert!(!c.has(Extension::RequireTls));
        assert_eq!(c.size_limit(), Some(10_240_000));
        assert!(c.offers_auth(Mechanism::ScramSha256));
        assert!(c.offers_auth(Mechanism::CramMd5));
        assert!(!c.offers_auth(Mechanism::XOAuth2));
    }

    #[test]
    fn reads_old_auth_form_and_case() {
        let c = caps(&["auth=login plain", "pipelining", "size"]);
        assert!(c.offers_auth(Mechanism::Login));
        assert!(c.offers_auth(Mechanism::Plain));
        assert!(c.has(Extension::Pipelining));
        assert!(c.has(Extension::Size));
        assert_eq!(c.size_limit(), None, "SIZE without a number has no limit");
    }

    #[test]
    fn size_edge_cases() {
        // RFC 1870 §4: no number, or 0, means no fixed maximum.
        assert_eq!(caps(&["SIZE"]).size_limit(), None);
        assert_eq!(caps(&["SIZE 0"]).size_limit(), None);
        assert!(caps(&["SIZE 0"]).has(Extension::Size));
        // Past u64 (20 digits and more) is no usable limit either; no overflow, no panic.
        assert_eq!(caps(&["SIZE 18446744073709551616"]).size_limit(), None);
        assert_eq!(caps(&["SIZE 99999999999999999999999"]).size_limit(), None);
        assert_eq!(
            caps(&["SIZE 9999999999999999999"]).size_limit(),
            Some(9_999_999_999_999_999_999)
        );
        // Trailing spaces and tabs, as some servers send.
        assert_eq!(caps(&["SIZE 1000 \t "]).size_limit(), Some(1000));
        assert_eq!(caps(&["size\t2000"]).size_limit(), Some(2000));
        // Listed twice: the smaller limit holds, a bare SIZE does not lift it.
        assert_eq!(caps(&["SIZE 5000", "SIZE 1000"]).size_limit(), Some(1000));
        assert_eq!(caps(&["SIZE 1000", "SIZE"]).size_limit(), Some(1000));
        assert_eq!(caps(&["SIZE 1000", "SIZE 0"]).size_limit(), Some(1000));
    }

    #[test]
    fn keywords_in_any_case_with_trailing_blanks_and_both_auth_forms() {
        let c = caps(&[
            "pipelining ",
            "Auth=LOGIN",
            "AUTH LOGIN PLAIN\t",
            "ChUnKiNg\t \t",
            "8bitmime",
            "PIPELINING",
        ]);
        assert!(c.has(Extension::Pipelining));
        assert!(c.has(Extension::Chunking));
        assert!(c.has(Extension::EightBitMime));
        assert!(c.has(Extension::Auth));
        assert!(c.offers_auth(Mechanism::Login));
        assert!(c.offers_auth(Mechanism::Plain));
        assert!(!c.offers_auth(Mechanism::CramMd5));
        assert_eq!(c.auth_mechanisms().count(), 2, "duplicates are listed once");
    }

    #[test]
    fn ignores_unknown_and_junk() {
        let c = caps(&["", "X-FOO bar", "SIZE abc", "AUTH GSSAPI NTLM", "STARTTLSX"]);
        assert!(!c.has(Extension::Auth), "no mechanism we implement");
        assert!(!c.has(Extension::StartTls));
        assert_eq!(c.size_limit(), None);
    }
}
