//! rustls setup: trust anchors (the platform's or a CA file), an optional client
//! certificate, the `ring` provider; and TLS failures named for what went wrong.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{CertificateError, ClientConfig, RootCertStore};

use crate::error::Error;

/// Why TLS failed. For the certificate variants the handshake stopped before anything but
/// EHLO and STARTTLS was sent: no credential and no message left the machine.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The server's certificate does not chain to a trusted root (self-signed, or a CA
    /// that was not given).
    #[error("the server's certificate is not trusted: unknown issuer")]
    UnknownIssuer,
    /// The server's certificate (or one in its chain) has expired.
    #[error("the server's certificate has expired")]
    Expired,
    /// The server's certificate is not valid yet.
    #[error("the server's certificate is not valid yet")]
    NotYetValid,
    /// The server's certificate is valid, but not for the name we connected to.
    #[error("the server's certificate is not valid for {name}")]
    NotValidForName {
        /// The name that was checked.
        name: String,
    },
    /// The server's certificate was revoked.
    #[error("the server's certificate was revoked")]
    Revoked,
    /// The server's certificate is not for TLS servers (extended key usage).
    #[error("the server's certificate is not valid for a TLS server")]
    InvalidPurpose,
    /// A signature in the server's chain does not verify (a forged certificate, or a
    /// different CA with the same name as a trusted one).
    #[error("the server's certificate has a bad signature")]
    BadSignature,
    /// Another problem with the server's certificate.
    #[error("bad server certificate: {0}")]
    BadCertificate(String),
    /// The server answered the TLS handshake with something that is not TLS (a `220`
    /// greeting or a `500` reply in plaintext): the port does not speak TLS from the first
    /// byte, so implicit TLS is the wrong mode for it (STARTTLS or none may be right).
    #[error(
        "the server does not speak TLS here: it sent plaintext where a TLS record was expected"
    )]
    NotTls,
    /// The handshake failed for another reason (no common version or cipher, an alert
    /// from the server such as a refused client certificate).
    #[error("handshake failed: {0}")]
    Handshake(String),
    /// The CA file, client certificate or key could not be loaded, or the server name is
    /// not a valid DNS name or IP address.
    #[error("setup: {0}")]
    Setup(String),
}

impl TlsError {
    /// TLS failures do not go away by waiting; a handshake interrupted by the network
    /// may.
    pub fn is_transient(&self) -> bool {
        false
    }

    /// Names a rustls error.
    pub(crate) fn from_rustls(e: &rustls::Error, name: &str) -> TlsError {
        match e {
            rustls::Error::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer => TlsError::UnknownIssuer,
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    TlsError::Expired
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    TlsError::NotYetValid
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => TlsError::NotValidForName {
                    name: name.to_owned(),
                },
                CertificateError::Revoked => TlsError::Revoked,
                CertificateError::BadSignature => TlsError::BadSignature,
                CertificateError::InvalidPurpose
                | CertificateError::InvalidPurposeContext { .. } => TlsError::InvalidPurpose,
                other => TlsError::BadCertificate(format!("{other:?}")),
            },
            // Any printable byte is an unknown record type: an SMTP reply, not TLS.
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
                TlsError::NotTls
            }
            other => TlsError::Handshake(other.to_string()),
        }
    }
}

/// Which certificate authorities to trust for the server's certificate.
#[derive(Clone, Debug, Default)]
pub enum Roots {
    /// The platform's trust store (on Linux the system CA bundle).
    #[default]
    Platform,
    /// Only the CA certificates in this PEM file (a private CA, a test PKI).
    CaFile(PathBuf),
    /// Only these PEM-encoded CA certificates.
    CaPem(Vec<u8>),
}

/// A client certificate chain and its key, PEM files.
#[derive(Clone)]
pub(crate) struct ClientCert {
    pub(crate) chain: PathBuf,
    pub(crate) key: PathBuf,
}

impl fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCert")
            .field("chain", &self.chain)
            .finish_non_exhaustive()
    }
}

fn setup(what: &str, e: impl fmt::Display) -> Error {
    Error::Tls(TlsError::Setup(format!("{what}: {e}")))
}

/// The rustls client configuration for `roots` and an optional client certificate. With
/// `resume`, rustls's default in-memory session cache (256 servers): built once per
/// builder, it is shared by every connection of the client or pool made from it.
pub(crate) fn client_config(
    roots: &Roots,
    client_cert: Option<&ClientCert>,
    resume: bool,
) -> Result<Arc<ClientConfig>, Error> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::Platform => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map_or_else(|| "none found".to_owned(), ToString::to_string);
                return Err(setup("the platform's CA certificates", why));
            }
        }
        Roots::CaFile(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| setup(&format!("CA file {}", path.display()), e))?;
            add_cas(&mut store, certs, &path.display().to_string())?;
        }
        Roots::CaPem(pem) => {
            let certs = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| setup("CA certificates", e))?;
            add_cas(&mut store, certs, "the given PEM")?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| setup("protocol versions", e))?
        .with_root_certificates(store);
    let mut config = match client_cert {
        None => builder.with_no_client_auth(),
        Some(cc) => {
            let chain = CertificateDer::pem_file_iter(&cc.chain)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| setup(&format!("client certificate {}", cc.chain.display()), e))?;
            let key = PrivateKeyDer::from_pem_file(&cc.key)
                .map_err(|e| setup(&format!("client key {}", cc.key.display()), e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| setup("client certificate", e))?
        }
    };
    if !resume {
        config.resumption = rustls::client::Resumption::disabled();
    }
    Ok(Arc::new(config))
}

fn add_cas(
    store: &mut RootCertStore,
    certs: Vec<CertificateDer<'_>>,
    from: &str,
) -> Result<(), Error> {
    if certs.is_empty() {
        return Err(setup(from, "no certificate in it"));
    }
    for c in certs {
        store
            .add(c)
            .map_err(|e| setup(&format!("CA certificate in {from}"), e))?;
    }
    Ok(())
}

/// The name to check the server's certificate against (DNS name or IP address).
pub(crate) fn server_name(name: &str) -> Result<ServerName<'static>, Error> {
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_owned()).map_err(|e| setup(&format!("server name {name:?}"), e))
}

/// Turns an I/O error from a TLS stream into a [`TlsError`] when rustls is behind it.
pub(crate) fn io_error(e: io::Error, name: &str) -> Error {
    let named = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .map(|r| TlsError::from_rustls(r, name));
    match named {
        Some(t) => Error::Tls(t),
        None => Error::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_where_a_record_was_expected_is_not_tls() {
        // What rustls reports when a server answers the ClientHello with "220 ..." or "500 ...".
        let e = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        assert_eq!(TlsError::from_rustls(&e, "mx.test"), TlsError::NotTls);
        let other = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidCcs);
        assert!(matches!(
            TlsError::from_rustls(&other, "mx.test"),
            TlsError::Handshake(_)
        ));
    }
}
