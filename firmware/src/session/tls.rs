//! The TLS half of the sessions: trust anchors decoded once from the compiled-in PEM, a
//! certificate verifier made for each connection with the time of that connection, the RNG,
//! and AUTH with the compiled-in credentials (never over plaintext: the core sends them only
//! once TLS is up).

use core::fmt;
use core::time::Duration;

use embedded_io::{Read, Write};
use embedded_tls::Aes128GcmSha256;
use postel_device::verify::{
    pem_block, trust_anchor, ChainVerifier, PemError, TrustAnchor, UnixTime, VerifyFailure,
};
use postel_device::{Buffers, Delivered, Failure, Tls};
use postel_proto::drive::{Clock, Deadline};
use postel_proto::{Config, Credentials, Envelope, Secret};

use crate::board::rng::Rng;
use crate::config;

/// At most this many CA certificates in `--ca-file`.
pub const MAX_ANCHORS: usize = 4;

/// Why the trust anchors could not be read.
#[derive(Debug)]
pub enum AnchorError {
    /// The PEM holds no certificate, or a malformed one.
    Pem(PemError),
    /// A certificate is not usable as a trust anchor.
    Certificate(VerifyFailure),
    /// More than [`MAX_ANCHORS`] certificates.
    TooMany,
}

impl fmt::Display for AnchorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnchorError::Pem(e) => write!(f, "{e}"),
            AnchorError::Certificate(e) => write!(f, "{e}"),
            AnchorError::TooMany => write!(f, "more than {MAX_ANCHORS} certificates"),
        }
    }
}

/// What TLS keeps across sessions.
pub struct TlsState<'a> {
    read: &'a mut [u8],
    write: &'a mut [u8],
    /// The first `count` are the anchors; the rest repeat the first.
    anchors: [TrustAnchor<'a>; MAX_ANCHORS],
    count: usize,
    rng: Rng,
    failure: Option<VerifyFailure>,
}

impl<'a> TlsState<'a> {
    /// Decodes every CERTIFICATE block of `config::CA_PEM` into `der` and makes each a trust
    /// anchor.
    pub fn new(
        read: &'a mut [u8],
        write: &'a mut [u8],
        der: &'a mut [u8],
        ticks: u64,
    ) -> Result<TlsState<'a>, AnchorError> {
        let mut spans = [(0, 0); MAX_ANCHORS];
        let mut count = 0;
        let mut pem = config::CA_PEM;
        let mut at = 0;
        loop {
            let (len, rest) = match pem_block(pem, "CERTIFICATE", &mut der[at..]) {
                Ok((cert, rest)) => (cert.len(), rest),
                Err(PemError::NoBlock) if count > 0 => break,
                Err(e) => return Err(AnchorError::Pem(e)),
            };
            if count == MAX_ANCHORS {
                return Err(AnchorError::TooMany);
            }
            spans[count] = (at, len);
            count += 1;
            at += len;
            pem = rest;
        }
        let der: &'a [u8] = der;
        let anchor = |(at, len): (usize, usize)| {
            trust_anchor(&der[at..at + len]).map_err(AnchorError::Certificate)
        };
        let first = anchor(spans[0])?;
        let mut anchors = [first.clone(), first.clone(), first.clone(), first];
        for (slot, &span) in anchors.iter_mut().zip(&spans).take(count).skip(1) {
            *slot = anchor(span)?;
        }
        Ok(TlsState {
            read,
            write,
            anchors,
            count,
            rng: Rng::new(config::SEED, ticks),
            failure: None,
        })
    }

    /// How many trust anchors there are.
    pub fn anchors(&self) -> usize {
        self.count
    }

    /// Why the last server certificate was refused, if it was.
    pub fn last_failure(&self) -> Option<VerifyFailure> {
        self.failure
    }

    /// One session over TLS (STARTTLS or implicit, as `config.tls` says), with AUTH when
    /// credentials are configured.
    #[allow(clippy::too_many_arguments)]
    pub fn send<T, C, B>(
        &mut self,
        transport: &mut T,
        deadline: &Deadline<C>,
        mut config: Config<'_>,
        unix_time: u64,
        smtp: (&mut [u8], &mut [u8]),
        envelope: &Envelope<'_>,
        body: &mut B,
    ) -> Result<Delivered, Failure<T::Error>>
    where
        T: Read + Write,
        C: Clock,
        B: Read,
    {
        config.credentials = config::LOGIN.map(|login| Credentials::Password {
            username: login.user,
            password: Secret::new(login.password),
            authzid: None,
        });
        let now = UnixTime::since_unix_epoch(Duration::from_secs(unix_time));
        let mut verifier = ChainVerifier::<Aes128GcmSha256>::new(&self.anchors[..self.count], now);
        let buffers = Buffers {
            smtp_rx: smtp.0,
            smtp_tx: smtp.1,
            tls_read: &mut *self.read,
            tls_write: &mut *self.write,
        };
        let tls = Tls {
            verifier: &mut verifier,
            rng: &mut self.rng,
            server_name: config::TLS_NAME,
        };
        let result = postel_device::send(transport, deadline, config, tls, buffers, envelope, body);
        self.failure = verifier.failure();
        result
    }
}
