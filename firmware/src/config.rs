//! The settings compiled in by `build.rs` from `POSTEL_FW_*` variables (scripts/firmware.sh
//! sets them from its command line).

/// How the session protects itself (`--tls`).
// Each build names one variant (the generated `TLS`).
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// Plaintext, no AUTH.
    Plain,
    /// STARTTLS on a plaintext connection (RFC 3207).
    StartTls,
    /// TLS from the first octet (RFC 8314).
    Implicit,
}

/// AUTH credentials (`--user`, `--password-file`).
#[derive(Clone, Copy, Debug)]
pub struct Login {
    /// The user name.
    pub user: &'static str,
    /// The password.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub password: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/config.rs"));
