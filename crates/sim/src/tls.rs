//! The simulator's certificate: a CA generated at start (or the user's chain).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::config::TlsIdentity;
use crate::SimError;

/// A ready rustls server configuration and, when generated, the CA that signed it.
pub(crate) struct Tls {
    pub(crate) server: Arc<rustls::ServerConfig>,
    pub(crate) ca_pem: Option<String>,
}

pub(crate) fn build(identity: &TlsIdentity, hostname: &str) -> Result<Tls, SimError> {
    let (chain, key, ca_pem) = match identity {
        TlsIdentity::Generate => {
            let (chain, key, ca) = generate(hostname).map_err(|e| SimError::Tls(e.to_string()))?;
            (chain, key, Some(ca))
        }
        TlsIdentity::Pem { cert_chain, key } => {
            let chain = CertificateDer::pem_slice_iter(cert_chain.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| SimError::Tls(format!("certificate PEM: {e}")))?;
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
                .map_err(|e| SimError::Tls(format!("key PEM: {e}")))?;
            (chain, key, None)
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SimError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| SimError::Tls(e.to_string()))?;
    Ok(Tls {
        server: Arc::new(server),
        ca_pem,
    })
}

type Generated = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String);

fn generate(hostname: &str) -> Result<Generated, rcgen::Error> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(
        DnType::CommonName,
        "postel-sim test CA (generated, do not trust elsewhere)",
    );
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;

    let mut names = vec!["localhost".to_owned()];
    if hostname != "localhost" && hostname.parse::<IpAddr>().is_err() && !hostname.is_empty() {
        names.push(hostname.to_owned());
    }
    let mut leaf = CertificateParams::new(names)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    for ip in [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ] {
        leaf.subject_alt_names.push(SanType::IpAddress(ip));
    }
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let leaf_key = KeyPair::generate()?;
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key)?;

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    Ok((
        vec![leaf_cert.der().clone(), ca_cert.der().clone()],
        key,
        ca_cert.pem(),
    ))
}

/// A TLS 1.2-framed fatal `handshake_failure` alert (RFC 8446 §6), for the
/// `TlsHandshakeFail` fault.
pub(crate) const HANDSHAKE_FAILURE_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28];
