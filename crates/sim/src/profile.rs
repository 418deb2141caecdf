//! Server personalities: the limits and quirks of real servers, as their documentation
//! gives them, applied to a [`ConfigBuilder`].
//!
//! | profile | size limit | command line | text line | bare LF | pipelining | recipients | EHLO keywords | greeting |
//! |---|---|---|---|---|---|---|---|---|
//! | `postfix` (3.9 defaults) | 10240000 (`message_size_limit`) | 2048 (`line_length_limit`) | any (`line_length_limit` splits) | accepted (`smtpd_forbid_bare_newline = normalize`) | policed (`smtpd_forbid_unauth_pipelining = yes`) | 1000 (`smtpd_recipient_limit`) | PIPELINING SIZE STARTTLS AUTH ENHANCEDSTATUSCODES 8BITMIME DSN SMTPUTF8 CHUNKING | `ESMTP Postfix` |
//! | `exim` (4.96 defaults) | 52428800 (`message_size_limit` 50M) | 2048 | any | accepted (LF is a line ending) | not policed (`pipelining_advertise_hosts = *`) | 50000 (`recipients_max`) | SIZE 8BITMIME PIPELINING CHUNKING STARTTLS AUTH SMTPUTF8 (no DSN, no ENHANCEDSTATUSCODES) | `ESMTP Exim` |
//! | `gmail` (MX) | 157286400 (advertised SIZE) | 2048 | any | accepted | not policed | 100 | SIZE 8BITMIME STARTTLS ENHANCEDSTATUSCODES PIPELINING CHUNKING SMTPUTF8 (no AUTH on the MX) | `ESMTP` |
//! | `strict` | 10485760 | 512 | 1000 | refused (550, disconnect) | policed | 100 | all | `ESMTP postel-sim` |
//! | `lenient` | 10485760 | 2048 | any | accepted, `<LF>.<LF>` ends DATA | not policed | 100 | all | `ESMTP postel-sim` |
//!
//! Every profile keeps the simulator's own replies; what changes is what is accepted.
//!
//! ```
//! use postel_sim::profile::Profile;
//! let c = Profile::Postfix.apply(postel_sim::Config::builder()).build();
//! assert_eq!(c.size_limit, 10_240_000);
//! assert!(!c.refuses_bare_newline() && c.polices_pipelining());
//! assert_eq!("gmail".parse::<Profile>().unwrap(), Profile::Gmail);
//! ```

use crate::config::{ConfigBuilder, Extension, Strictness};

/// A server personality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Profile {
    /// Postfix 3.9 with its defaults.
    Postfix,
    /// Exim 4.96 with its defaults.
    Exim,
    /// Gmail's MX (gmail-smtp-in.l.google.com).
    Gmail,
    /// The simulator's strict default.
    Strict,
    /// The simulator's lenient mode (a pre-3.9 Postfix).
    Lenient,
}

/// A profile name that is none of the five.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown profile {0:?}: expected postfix, exim, gmail, strict or lenient")]
pub struct UnknownProfile(pub String);

impl std::str::FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Profile, UnknownProfile> {
        match s.to_ascii_lowercase().as_str() {
            "postfix" => Ok(Profile::Postfix),
            "exim" => Ok(Profile::Exim),
            "gmail" => Ok(Profile::Gmail),
            "strict" => Ok(Profile::Strict),
            "lenient" => Ok(Profile::Lenient),
            _ => Err(UnknownProfile(s.to_owned())),
        }
    }
}

impl Profile {
    /// The profile's name, as `--profile` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Postfix => "postfix",
            Profile::Exim => "exim",
            Profile::Gmail => "gmail",
            Profile::Strict => "strict",
            Profile::Lenient => "lenient",
        }
    }

    /// Sets the profile's limits and quirks on `b` (later setters still override them).
    pub fn apply(self, b: ConfigBuilder) -> ConfigBuilder {
        match self {
            Profile::Postfix => b
                .strictness(Strictness::Lenient)
                .forbid_bare_newline(false)
                .enforce_pipelining(true)
                .size_limit(10_240_000)
                .max_command_line(2048)
                .max_text_line(0)
                .max_recipients(1000)
                .greeting("ESMTP Postfix"),
            Profile::Exim => b
                .strictness(Strictness::Lenient)
                .forbid_bare_newline(false)
                .enforce_pipelining(false)
                .size_limit(52_428_800)
                .max_command_line(2048)
                .max_text_line(0)
                .max_recipients(50_000)
                .without(Extension::Dsn)
                .without(Extension::EnhancedStatusCodes)
                .greeting("ESMTP Exim"),
            Profile::Gmail => b
                .strictness(Strictness::Lenient)
                .forbid_bare_newline(false)
                .enforce_pipelining(false)
                .size_limit(157_286_400)
                .max_command_line(2048)
                .max_text_line(0)
                .max_recipients(100)
                .without(Extension::Dsn)
                .without(Extension::Auth)
                .greeting("ESMTP"),
            Profile::Strict => b.strictness(Strictness::Strict),
            Profile::Lenient => b.strictness(Strictness::Lenient),
        }
    }
}
