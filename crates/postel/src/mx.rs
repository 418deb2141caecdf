//! Direct delivery: find each recipient domain's mail servers in the DNS (RFC 5321 §5.1)
//! and hand the message to them, port 25, opportunistic STARTTLS.
//!
//! ```text
//! example.net.  MX 10 mx1.example.net.     tried first
//! example.net.  MX 20 mx2.example.net.     tried when mx1 is down or says 4yz
//! example.org.  (no MX; A 192.0.2.7)       implicit MX: example.org itself
//! example.com.  MX 0 .                     null MX (RFC 7505): refused, permanent
//! ```
//!
//! ```no_run
//! use postel::mx::{Direct, Resolver};
//! let direct = Direct::new(Resolver::system()?);
//! for (rcpt, outcome) in direct.send("alice@example.com", &["bob@bücher.example"], b"Subject: hi\r\n\r\nHi.\r\n") {
//!     println!("{rcpt}: {outcome:?}");
//! }
//! # Ok::<(), postel::mx::MxError>(())
//! ```
//!
//! Hosts are tried in preference order, in random order among equal preferences (§5.1);
//! each address of a host in turn; a connection failure or a 4yz moves on to the next,
//! a 5yz is final. Domains are converted to A-labels (RFC 5890/5891) before the lookup
//! and, when the local part is ASCII, in `RCPT TO`.
//!
//! The fan-out is bounded, so that a domain publishing a hundred MX hosts (or a host with a
//! hundred addresses) cannot make one message open a hundred connections: per recipient
//! domain and attempt, at most [`Direct::max_addresses`] hosts are looked up and at most
//! that many addresses are tried (5 by default, as Postfix's `smtp_mx_address_limit`);
//! the rest of the list waits for the next attempt (a queue retry). And one deadline
//! covers the whole message ([`Direct::message_deadline`], 10 minutes by default): no
//! lookup or connection starts after it, and a connection's connect timeout and each of
//! its waits before the message is sent (greeting, EHLO, STARTTLS, MAIL, RCPT, DATA) are
//! cut to what is left of it when the connection starts; the data phase keeps RFC 5321's
//! timeouts, since a wait for the final reply cut short could only cause a duplicate.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::{Name, TokioResolver};

use crate::queue::{Deliver, Outcome};
use crate::{Client, Envelope, Roots, SendReport, Sendable, TlsMode};

/// How one domain's copy is sent on a connected client: the bytes, or a composed message.
type SendFn<'a> = dyn FnMut(&mut Client, &Envelope) -> Result<SendReport, crate::Error> + 'a;

/// Why a domain's route could not be found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MxError {
    /// The domain does not exist (NXDOMAIN), or has neither MX nor address records.
    #[error("{domain}: {reason}")]
    NoSuchDomain {
        /// The domain, as A-labels.
        domain: String,
        /// What the DNS said.
        reason: String,
    },
    /// The domain says it takes no mail: a null MX (RFC 7505 §3).
    #[error("{0}: the domain accepts no mail (null MX, RFC 7505)")]
    NullMx(String),
    /// Not a domain name (or not convertible to A-labels).
    #[error("invalid domain {domain:?}: {reason}")]
    InvalidDomain {
        /// The domain as given.
        domain: String,
        /// Why it is not one.
        reason: String,
    },
    /// The lookup failed in a way that may pass: timeout, SERVFAIL, unreachable server.
    #[error("DNS lookup for {name} failed: {reason}")]
    Temporary {
        /// The name looked up.
        name: String,
        /// The resolver's error.
        reason: String,
    },
    /// The resolver could not be set up (no system configuration, no runtime).
    #[error("resolver setup: {0}")]
    Setup(String),
}

impl MxError {
    /// True when trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, MxError::Temporary { .. } | MxError::Setup(_))
    }
}

/// One mail exchanger of a domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxHost {
    /// Its name, A-labels, without the final dot.
    pub host: String,
    /// Its preference (lower first); 0 for an implicit MX.
    pub preference: u16,
}

/// Where a domain's mail goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Its MX hosts, in the order to try them (preference, then random among equals).
    Mx(Vec<MxHost>),
    /// No MX records: the domain's own A/AAAA addresses (RFC 5321 §5.1 implicit MX).
    Implicit(String),
    /// An address literal (`user@[192.0.2.1]`): that address.
    Literal(IpAddr),
}

impl Route {
    /// The hosts to try, in order (one for an implicit MX).
    pub fn hosts(&self) -> Vec<MxHost> {
        match self {
            Route::Mx(h) => h.clone(),
            Route::Implicit(d) => vec![MxHost {
                host: d.clone(),
                preference: 0,
            }],
            Route::Literal(ip) => vec![MxHost {
                host: ip.to_string(),
                preference: 0,
            }],
        }
    }
}

/// A blocking DNS resolver for mail routing (hickory-resolver on a private
/// current-thread runtime). Do not call it from inside an async runtime.
pub struct Resolver {
    rt: tokio::runtime::Runtime,
    inner: TokioResolver,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Resolver")
    }
}

impl Resolver {
    /// The system's resolver configuration (`/etc/resolv.conf`).
    pub fn system() -> Result<Resolver, MxError> {
        let (config, opts) = hickory_resolver::system_conf::read_system_conf()
            .map_err(|e| MxError::Setup(e.to_string()))?;
        Resolver::build(config, opts)
    }

    /// Asks only the DNS server at `server` (UDP, and TCP for truncated answers); for
    /// tests on loopback and for a local caching resolver.
    pub fn with_server(server: SocketAddr) -> Result<Resolver, MxError> {
        let group = NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true);
        let config = ResolverConfig::from_parts(None, vec![], group);
        let mut opts = ResolverOpts::default();
        opts.timeout = Duration::from_secs(2);
        opts.attempts = 2;
        Resolver::build(config, opts)
    }

    fn build(config: ResolverConfig, mut opts: ResolverOpts) -> Result<Resolver, MxError> {
        opts.ip_strategy = hickory_resolver::config::LookupIpStrategy::Ipv4AndIpv6;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| MxError::Setup(e.to_string()))?;
        let mut b = hickory_resolver::Resolver::builder_with_config(
            config,
            TokioConnectionProvider::default(),
        );
        *b.options_mut() = opts;
        let inner = rt.block_on(async { b.build() });
        Ok(Resolver { rt, inner })
    }

    /// Where mail for `domain` goes (RFC 5321 §5.1): its MX hosts, or the domain itself
    /// when it has none, or [`MxError::NullMx`] (RFC 7505).
    pub fn route(&self, domain: &str) -> Result<Route, MxError> {
        if let Some(ip) = address_literal(domain) {
            return Ok(Route::Literal(ip));
        }
        let ascii = to_ascii(domain)?;
        let name = fqdn(&ascii)?;
        match self.rt.block_on(self.inner.mx_lookup(name.clone())) {
            Ok(lookup) => {
                let records: Vec<(u16, Name)> = lookup
                    .iter()
                    .map(|mx| (mx.preference(), mx.exchange().clone()))
                    .collect();
                let real: Vec<&(u16, Name)> =
                    records.iter().filter(|(_, n)| !n.is_root()).collect();
                if real.is_empty() {
                    return if records.is_empty() {
                        Ok(Route::Implicit(ascii))
                    } else {
                        Err(MxError::NullMx(ascii))
                    };
                }
                let mut hosts: Vec<MxHost> = real
                    .into_iter()
                    .map(|(p, n)| MxHost {
                        host: n.to_ascii().trim_end_matches('.').to_ascii_lowercase(),
                        preference: *p,
                    })
                    .collect();
                order(&mut hosts);
                Ok(Route::Mx(hosts))
            }
            Err(e) if e.is_nx_domain() => Err(MxError::NoSuchDomain {
                domain: ascii,
                reason: "no such domain (NXDOMAIN)".to_owned(),
            }),
            Err(e) if e.is_no_records_found() => Ok(Route::Implicit(ascii)),
            Err(e) => Err(MxError::Temporary {
                name: ascii,
                reason: e.to_string(),
            }),
        }
    }

    /// The IPv4 and IPv6 addresses of `host`.
    pub fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, MxError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let name = fqdn(host)?;
        match self.rt.block_on(self.inner.lookup_ip(name)) {
            Ok(l) => Ok(l.iter().collect()),
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Err(MxError::NoSuchDomain {
                domain: host.to_owned(),
                reason: "no A or AAAA record".to_owned(),
            }),
            Err(e) => Err(MxError::Temporary {
                name: host.to_owned(),
                reason: e.to_string(),
            }),
        }
    }
}

/// Sorts by preference and shuffles each run of equal preference (RFC 5321 §5.1: "the
/// sender-SMTP MUST randomize them to spread the load").
fn order(hosts: &mut [MxHost]) {
    hosts.sort_by_key(|h| h.preference);
    let mut start = 0;
    while start < hosts.len() {
        let p = hosts[start].preference;
        let end = start
            + hosts[start..]
                .iter()
                .take_while(|h| h.preference == p)
                .count();
        shuffle(&mut hosts[start..end]);
        start = end;
    }
}

fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let mut r = [0u8; 4];
        let _ = getrandom::getrandom(&mut r);
        let j = (u32::from_le_bytes(r) as usize) % (i + 1);
        items.swap(i, j);
    }
}

/// `domain` as A-labels, lowercase (RFC 5891 §5 via UTS #46), without a final dot.
pub fn to_ascii(domain: &str) -> Result<String, MxError> {
    let d = domain.trim_end_matches('.');
    let bad = |reason: String| MxError::InvalidDomain {
        domain: domain.to_owned(),
        reason,
    };
    if d.is_empty() || d.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(bad("empty or has a control character".to_owned()));
    }
    let ascii = idna::domain_to_ascii(d).map_err(|e| bad(e.to_string()))?;
    if ascii.is_empty() || ascii.len() > 253 {
        return Err(bad("not a host name".to_owned()));
    }
    Ok(ascii)
}

fn fqdn(ascii: &str) -> Result<Name, MxError> {
    Name::from_ascii(format!("{}.", ascii.trim_end_matches('.'))).map_err(|e| {
        MxError::InvalidDomain {
            domain: ascii.to_owned(),
            reason: e.to_string(),
        }
    })
}

/// `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 §4.1.3).
fn address_literal(domain: &str) -> Option<IpAddr> {
    let inner = domain.strip_prefix('[')?.strip_suffix(']')?;
    match inner
        .strip_prefix("IPv6:")
        .or_else(|| inner.strip_prefix("ipv6:"))
    {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6),
        None => inner.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

/// The domain of an address (after the last `@`), and the address with that domain in
/// A-labels when its local part is ASCII (so no SMTPUTF8 is needed for an IDN domain).
pub fn split_recipient(address: &str) -> Result<(String, String), MxError> {
    let (local, domain) = address
        .rsplit_once('@')
        .ok_or_else(|| MxError::InvalidDomain {
            domain: address.to_owned(),
            reason: "the address has no @domain".to_owned(),
        })?;
    if address_literal(domain).is_some() {
        return Ok((domain.to_owned(), address.to_owned()));
    }
    let ascii = to_ascii(domain)?;
    let rcpt = if local.is_ascii() {
        format!("{local}@{ascii}")
    } else {
        address.to_owned()
    };
    Ok((ascii, rcpt))
}

/// Sends to each recipient domain's MX hosts. Also a [`Deliver`], for queue workers.
#[derive(Debug)]
pub struct Direct {
    resolver: Resolver,
    port: u16,
    tls: TlsMode,
    roots: Option<Roots>,
    ehlo_name: Option<String>,
    connect_timeout: Duration,
    max_addresses: usize,
    message_deadline: Duration,
}

/// The default of [`Direct::max_addresses`]: Postfix's `smtp_mx_address_limit`.
pub const DEFAULT_MAX_ADDRESSES: usize = 5;

/// The default of [`Direct::message_deadline`].
pub const DEFAULT_MESSAGE_DEADLINE: Duration = Duration::from_secs(600);

impl Direct {
    /// Port 25, opportunistic STARTTLS (TLS when offered, verified against the MX host
    /// name), 30 s to connect, at most [`DEFAULT_MAX_ADDRESSES`] hosts and addresses per
    /// domain, [`DEFAULT_MESSAGE_DEADLINE`] for the message.
    pub fn new(resolver: Resolver) -> Direct {
        Direct {
            resolver,
            port: 25,
            tls: TlsMode::Opportunistic,
            roots: None,
            ehlo_name: None,
            connect_timeout: Duration::from_secs(30),
            max_addresses: DEFAULT_MAX_ADDRESSES,
            message_deadline: DEFAULT_MESSAGE_DEADLINE,
        }
    }

    /// At most `n` MX hosts looked up and `n` addresses tried per recipient domain in
    /// one attempt (at least 1; default [`DEFAULT_MAX_ADDRESSES`]). The hosts and
    /// addresses past the limit are not tried this time: the recipients are deferred.
    pub fn max_addresses(mut self, n: usize) -> Direct {
        self.max_addresses = n.max(1);
        self
    }

    /// One deadline for the whole message, every domain and host included (default
    /// [`DEFAULT_MESSAGE_DEADLINE`]): no DNS lookup or connection starts after it (the
    /// recipients left are deferred), and a connection's connect and each of its waits
    /// before the message is sent are cut to what is left of it when it starts.
    pub fn message_deadline(mut self, d: Duration) -> Direct {
        self.message_deadline = d;
        self
    }

    /// Another port than 25 (tests).
    pub fn port(mut self, port: u16) -> Direct {
        self.port = port;
        self
    }

    /// Requires STARTTLS: a host that does not offer it is skipped like a down one.
    pub fn require_tls(mut self, on: bool) -> Direct {
        self.tls = if on {
            TlsMode::StartTls
        } else {
            TlsMode::Opportunistic
        };
        self
    }

    /// Trusts these roots instead of the platform's (a test PKI).
    pub fn roots(mut self, roots: Roots) -> Direct {
        self.roots = Some(roots);
        self
    }

    /// The EHLO name (default: the machine's FQDN, else an address literal).
    pub fn ehlo_name(mut self, name: impl Into<String>) -> Direct {
        self.ehlo_name = Some(name.into());
        self
    }

    /// How long to wait for each connection.
    pub fn connect_timeout(mut self, t: Duration) -> Direct {
        self.connect_timeout = t;
        self
    }

    /// The resolver in use.
    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// Sends the bytes `message` once to every recipient, and says what became of each
    /// (in order).
    pub fn send<S: AsRef<str>>(
        &self,
        from: &str,
        to: &[S],
        message: &[u8],
    ) -> Vec<(String, Outcome)> {
        let envelope = Envelope::new(from, to.iter().map(|s| s.as_ref().to_owned()));
        self.outcomes(&envelope, &mut |c, e| c.send_bytes(e, message))
    }

    /// Sends a composed message once to every recipient of `envelope`, and says what
    /// became of each (in order). `envelope`'s DSN request and REQUIRETLS go to every
    /// domain's server; the message is encoded for what each server offers and streamed
    /// from `message` (read once per domain, never held whole), as
    /// [`Client::send_with`] does.
    pub fn send_message<M: Sendable>(
        &self,
        envelope: &Envelope,
        message: &mut M,
    ) -> Vec<(String, Outcome)> {
        self.outcomes(envelope, &mut |c, e| c.send_with(Some(e), message, &mut ()))
    }

    /// Each recipient of `envelope` with its outcome, the message sent with `send`.
    fn outcomes(&self, envelope: &Envelope, send: &mut SendFn<'_>) -> Vec<(String, Outcome)> {
        let mut out: Vec<Option<Outcome>> = vec![None; envelope.to.len()];
        self.route(envelope, send, &mut |batch| {
            for (i, o) in batch {
                if let Some(slot) = out.get_mut(*i) {
                    *slot = Some(o.clone());
                }
            }
        });
        envelope
            .to
            .iter()
            .cloned()
            .zip(out)
            .map(|(a, o)| (a, o.unwrap_or_else(|| Outcome::deferred("no outcome"))))
            .collect()
    }

    /// Splits `envelope`'s recipients by domain and sends each domain its copy with
    /// `send`, reporting each batch of outcomes (by index into `envelope.to`).
    fn route(
        &self,
        envelope: &Envelope,
        send: &mut SendFn<'_>,
        report: &mut crate::queue::OutcomeSink<'_>,
    ) {
        let mut domains: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
        for (i, a) in envelope.to.iter().enumerate() {
            match split_recipient(a) {
                Ok((d, rcpt)) => domains
                    .entry(d.to_ascii_lowercase())
                    .or_default()
                    .push((i, rcpt)),
                Err(e) => report(&[(i, Outcome::Permanent(e.to_string()))]),
            }
        }
        let deadline = Instant::now() + self.message_deadline;
        for (domain, rcpts) in domains {
            let (outcomes, client) =
                self.deliver_domain(&domain, envelope, &rcpts, &mut *send, deadline);
            let batch: Vec<(usize, Outcome)> =
                rcpts.iter().map(|(i, _)| *i).zip(outcomes).collect();
            report(&batch);
            if let Some(mut c) = client {
                let _ = c.quit();
            }
        }
    }

    fn client(
        &self,
        ip: IpAddr,
        host: &str,
        tls: TlsMode,
        deadline: Instant,
    ) -> Result<Client, crate::Error> {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        // Every wait before the message is sent is cut to what is left of the deadline
        // (giving up there delivers nothing); the data phase keeps RFC 5321's times, since
        // a wait for the final reply cut short could only make a duplicate.
        let rfc = crate::Timeouts::RFC5321;
        let timeouts = crate::Timeouts {
            greeting: rfc.greeting.min(left),
            mail: rfc.mail.min(left),
            rcpt: rfc.rcpt.min(left),
            data_init: rfc.data_init.min(left),
            command: rfc.command.min(left),
            tls_handshake: rfc.tls_handshake.min(left),
            ..rfc
        };
        let mut b = Client::builder(ip.to_string())
            .port(self.port)
            .tls(tls)
            .connect_timeout(self.connect_timeout.min(left))
            .timeouts(timeouts);
        if host.parse::<IpAddr>().is_err() {
            b = b.tls_name(host);
        }
        if let Some(r) = &self.roots {
            b = b.roots(r.clone());
        }
        if let Some(n) = &self.ehlo_name {
            b = b.ehlo_name(n.clone());
        }
        b.build()
    }

    /// One domain's recipients (`(index, RCPT address)`): its hosts in order until one
    /// gives a final answer, within the limits (`max_addresses`, the message's
    /// `deadline`). After a delivery the client is handed back still connected, so that
    /// QUIT follows the recording of the outcome.
    fn deliver_domain(
        &self,
        domain: &str,
        template: &Envelope,
        rcpts: &[(usize, String)],
        send: &mut SendFn<'_>,
        deadline: Instant,
    ) -> (Vec<Outcome>, Option<Client>) {
        let all = |o: Outcome| vec![o; rcpts.len()];
        let past_deadline = || {
            (Instant::now() >= deadline).then(|| {
                all(Outcome::deferred(format!(
                    "{domain}: the message's deadline ({} s) passed before a server gave \
                     a final answer",
                    self.message_deadline.as_secs()
                )))
            })
        };
        if let Some(o) = past_deadline() {
            return (o, None);
        }
        let route = match self.resolver.route(domain) {
            Ok(r) => r,
            Err(e) if e.is_transient() => return (all(Outcome::deferred(e.to_string())), None),
            Err(e) => return (all(Outcome::Permanent(e.to_string())), None),
        };
        let to: Vec<String> = rcpts.iter().map(|(_, a)| a.clone()).collect();
        let mut envelope = template.clone();
        envelope.to.clone_from(&to);
        let mut last = all(Outcome::deferred(format!(
            "{domain}: no MX host could be reached"
        )));
        let mut dns_failures = 0;
        let mut hosts = route.hosts();
        let all_hosts = hosts.len();
        hosts.truncate(self.max_addresses);
        let mut tried = 0usize;
        for mx in &hosts {
            if tried >= self.max_addresses {
                break;
            }
            if let Some(o) = past_deadline() {
                return (o, None);
            }
            let ips = match self.resolver.addresses(&mx.host) {
                Ok(ips) => ips,
                Err(e) => {
                    dns_failures += usize::from(!e.is_transient());
                    last = all(Outcome::deferred(e.to_string()));
                    continue;
                }
            };
            for ip in ips {
                if tried >= self.max_addresses {
                    break;
                }
                if let Some(o) = past_deadline() {
                    return (o, None);
                }
                tried += 1;
                // The client comes back unclosed: QUIT only once the outcome is recorded.
                let mut attempt = |tls| match self.client(ip, &mx.host, tls, deadline) {
                    Ok(mut c) => (send(&mut c, &envelope), Some(c)),
                    Err(e) => (Err(e), None),
                };
                let (mut result, mut client) = attempt(self.tls);
                if self.tls == TlsMode::Opportunistic && matches!(result, Err(crate::Error::Tls(_)))
                {
                    // Opportunistic TLS that failed (a bad certificate, a broken handshake)
                    // falls back to plaintext, as MTAs do at their "may" level: RFC 3207 §4.1
                    // leaves it to the client, and nothing private was sent yet.
                    tracing::info!(
                        "{domain}: TLS with {} ({ip}) failed; retrying in plaintext",
                        mx.host
                    );
                    (result, client) = attempt(TlsMode::Disabled);
                }
                if self.tls == TlsMode::StartTls && tls_refused(&result) {
                    // Required TLS not to be had here: like a host that is down.
                    last = all(Outcome::deferred(format!(
                        "{} ({ip}): {}",
                        mx.host,
                        result
                            .as_ref()
                            .err()
                            .map(ToString::to_string)
                            .unwrap_or_default()
                    )));
                    continue;
                }
                let outcomes = crate::queue::worker_outcomes(&result, &to);
                match &result {
                    Ok(_) => return (outcomes, client),
                    Err(e) if e.is_transient() && !crate::queue::worker_may_have_delivered(e) => {
                        tracing::info!("{domain}: {} ({ip}) failed: {e}; trying the next", mx.host);
                        last = outcomes;
                    }
                    // A permanent refusal is final; a connection lost after the data may
                    // have delivered, so trying another host now would risk a second copy.
                    Err(_) => return (outcomes, None),
                }
            }
        }
        if matches!(route, Route::Implicit(_)) && dns_failures == all_hosts {
            return (
                all(Outcome::Permanent(format!(
                    "{domain}: no MX and no A/AAAA record"
                ))),
                None,
            );
        }
        if tried >= self.max_addresses || hosts.len() < all_hosts {
            let note = format!(
                " (tried {tried} address(es) of {} MX host(s); at most {} per attempt)",
                all_hosts, self.max_addresses
            );
            for o in &mut last {
                if let Outcome::Transient {
                    reason,
                    uncertain: false,
                } = o
                {
                    reason.push_str(&note);
                }
            }
        }
        (last, None)
    }
}

/// True when the session failed for want of TLS (not offered, refused, or a handshake
/// or certificate failure): nothing of the message was sent.
fn tls_refused(result: &Result<crate::SendReport, crate::Error>) -> bool {
    matches!(
        result,
        Err(crate::Error::Tls(_))
            | Err(crate::Error::Protocol(
                postel_proto::Error::TlsUnavailable { .. }
            ))
    )
}

impl Deliver for Direct {
    fn deliver(
        &self,
        from: &str,
        to: &[String],
        message: &[u8],
        report: &mut crate::queue::OutcomeSink<'_>,
    ) {
        let envelope = Envelope::new(from, to.iter().cloned());
        self.route(&envelope, &mut |c, e| c.send_bytes(e, message), report);
    }
}
