//! Certificate chain verification for embedded-tls (placeholder).
