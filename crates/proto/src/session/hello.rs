//! Opening the session: EHLO (or HELO), STARTTLS and AUTH, until it is ready for mail.

use crate::auth::{self, AuthError, Exchange, Mechanism};
use crate::capability::Extension;
use crate::command;
use crate::config::TlsMode;
use crate::error::{AuthFailure, Error};
use crate::reply::Span;

use super::awaited::Awaited;
use super::{Client, Pending, State};

impl Client<'_> {
    pub(super) fn send_hello(&mut self, extended: bool) -> Result<(), Error> {
        let n = command::hello(self.tx.buf, extended, self.config.ehlo_name)?;
        self.queue_send(n);
        let (state, awaited) = if extended {
            (State::EhloSent, Awaited::Ehlo)
        } else {
            (State::HeloSent, Awaited::Helo)
        };
        self.state = state;
        self.awaited.push(awaited);
        Ok(())
    }

    /// After EHLO/HELO succeeded: STARTTLS, AUTH, or ready.
    pub(super) fn after_hello(&mut self) -> Result<(), Error> {
        let wants_tls = matches!(self.config.tls, TlsMode::Required | TlsMode::Opportunistic);
        if wants_tls && !self.encrypted && !self.tls_declined {
            if self.caps.has(Extension::StartTls) {
                let n = command::simple(self.tx.buf, b"STARTTLS")?;
                self.queue_send(n);
                self.awaited.push(Awaited::StartTls);
                self.state = State::StartTlsSent;
                return Ok(());
            }
            if self.config.tls == TlsMode::Required {
                return Err(Error::TlsUnavailable { reply: None });
            }
        }
        if let (Some(creds), None) = (self.config.credentials, self.authenticated) {
            // What this build cannot do, whatever the server offers: said before anything
            // about the connection.
            match self.config.mechanism {
                Some(m) if !m.is_built() => return Err(AuthError::MechanismNotBuilt(m).into()),
                None if !auth::any_built_for(&creds) => {
                    return Err(AuthError::NoMechanismBuilt.into())
                }
                _ => {}
            }
            if !self.encrypted && !self.config.dangerous_allow_plaintext_auth {
                return Err(Error::AuthRequiresTls);
            }
            let mech = match self.config.mechanism {
                Some(m) if self.caps.offers_auth(m) => m,
                Some(m) => return Err(Error::AuthUnavailable { wanted: Some(m) }),
                None => auth::choose(self.caps.auth_mechanisms(), &creds)
                    .ok_or(Error::AuthUnavailable { wanted: None })?,
            };
            let mut ex = Exchange::new(mech);
            let n = ex.start(&creds, self.config.nonce, self.tx.buf)?;
            self.auth = Some(ex);
            self.queue_send(n);
            self.awaited.push(Awaited::Auth);
            // RFC 4954 §4: AUTH ends a pipelined group, except with an initial response
            // for a mechanism that completes in one round trip with no security layer:
            // PLAIN. Then the first message may follow before the reply.
            let pipelining = self.config.options.pipelining && self.caps.has(Extension::Pipelining);
            if mech == Mechanism::Plain && self.config.options.auth_pipelining && pipelining {
                self.state = State::Idle;
                self.push_event(Pending::Ready);
                return Ok(());
            }
            self.state = State::Authenticating;
            return Ok(());
        }
        self.state = State::Idle;
        self.push_event(Pending::Ready);
        Ok(())
    }

    // Never inlined: the challenge's copy (1 KiB) is on the stack only while AUTH runs,
    // not under every reply of a session that does not authenticate.
    #[inline(never)]
    pub(super) fn on_auth_reply(&mut self, span: Span) -> Result<(), Error> {
        let Some(mut ex) = self.auth else {
            return Err(Error::UnexpectedReply {
                reply: self.info(span),
            });
        };
        let creds = self.config.credentials.ok_or(Error::Busy)?;
        let code = span.code.get();
        let reply = span.reply(self.rx);
        let result = match code {
            334 => {
                let text = reply.text();
                // Copy the challenge out of rx: the response is written to tx.
                let mut challenge = [0u8; 1024];
                let len = text.len().min(challenge.len());
                challenge[..len].copy_from_slice(&text[..len]);
                match ex.challenge(&creds, self.config.nonce, &challenge[..len], self.tx.buf) {
                    Ok(n) => {
                        self.queue_send(n);
                        // A challenge to a pipelined AUTH is out of step: the replies that
                        // follow are the transaction's.
                        if self.state == State::Authenticating {
                            self.awaited.push(Awaited::Auth);
                        }
                        Ok(())
                    }
                    Err(e) => Err(Error::from(e)),
                }
            }
            235 => match ex.success(reply.text()) {
                Ok(()) => {
                    self.authenticated = Some(ex.mechanism());
                    self.auth = None;
                    if self.state == State::Authenticating {
                        self.state = State::Idle;
                        self.push_event(Pending::Ready);
                    }
                    return Ok(());
                }
                Err(e) => Err(Error::from(e)),
            },
            _ => {
                let failure = match code {
                    535 => AuthFailure::InvalidCredentials,
                    534 => AuthFailure::MechanismTooWeak,
                    538 => AuthFailure::EncryptionRequired,
                    454 => AuthFailure::Temporary,
                    _ => AuthFailure::Other,
                };
                Err(Error::AuthFailed {
                    failure,
                    reply: reply.to_info(),
                })
            }
        };
        self.auth = Some(ex);
        result
    }
}
