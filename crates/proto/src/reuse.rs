//! Whether a connection may take another message: the one answer every driver asks for
//! (`postel`'s blocking client, its tokio pool, a device), rather than each deciding from
//! its own reading of the error it just saw.

use crate::session::{Client, State};

impl Client<'_> {
    /// True when this session may carry another transaction: nothing is in flight
    /// ([`State::Idle`]: every reply is read, any transaction is over, whether the server
    /// took or refused the message) and no error ended the session (a refused greeting, a
    /// 421, a malformed reply, a lost connection). A refused message or recipient leaves
    /// it reusable; a failure of the transport, the TLS layer or the body source leaves
    /// the client mid-step, so it is not. What the core cannot know (how long the
    /// connection sat idle, whether the peer has hung up since) is the driver's to add.
    ///
    /// ```
    /// use postel_proto::{Client, Config, TlsMode};
    /// let mut config = Config::new("client.example");
    /// config.tls = TlsMode::Disabled;
    /// let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    /// let client = Client::new(config, &mut rx, &mut tx).unwrap();
    /// assert!(!client.reusable()); // the greeting is still awaited
    /// ```
    pub fn reusable(&self) -> bool {
        self.state() == State::Idle && self.error().is_none()
    }
}
