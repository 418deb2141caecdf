//! The message each session sends: a small RFC 5322 message built in a fixed buffer.

use core::fmt::{self, Write as _};

use crate::date::Rfc5322Date;

/// Room for one message.
pub const MESSAGE_BYTES: usize = 640;

/// A fixed buffer that `write!` fills; refuses (and keeps what fitted) when full.
pub struct Buffer<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Buffer<N> {
    /// An empty buffer.
    pub const fn new() -> Self {
        Buffer {
            bytes: [0; N],
            len: 0,
        }
    }

    /// What was written.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl<const N: usize> Default for Buffer<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for Buffer<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self
            .len
            .checked_add(s.len())
            .filter(|&e| e <= N)
            .ok_or(fmt::Error)?;
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// What goes into one message.
#[derive(Clone, Copy, Debug)]
pub struct Fields<'a> {
    /// The header From: and envelope sender.
    pub from: &'a str,
    /// The header To: and envelope recipient.
    pub to: &'a str,
    /// This message's number, from 1.
    pub seq: u32,
    /// How many the run sends.
    pub count: u32,
    /// Now, seconds since 1970.
    pub unix_time: u64,
    /// A random value making the Message-ID unique across runs of one image.
    pub nonce: u64,
    /// The right-hand side of the Message-ID (the EHLO name).
    pub host: &'a str,
}

/// Writes the message (CRLF line ends) into `out`; `Err` when it does not fit.
pub fn compose<const N: usize>(out: &mut Buffer<N>, m: &Fields<'_>) -> fmt::Result {
    write!(
        out,
        "Date: {date}\r\n\
         From: <{from}>\r\n\
         To: <{to}>\r\n\
         Subject: Postel firmware message {seq} of {count}\r\n\
         Message-ID: <{time}.{seq}.{nonce:016x}@{host}>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         \r\n\
         Message {seq} of {count}, sent by the Postel firmware on QEMU's mps2-an385\r\n\
         (Cortex-M3), over UART0 bridged to TCP.\r\n",
        date = Rfc5322Date(m.unix_time),
        from = m.from,
        to = m.to,
        seq = m.seq,
        count = m.count,
        time = m.unix_time,
        nonce = m.nonce,
        host = m.host,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields<'static> {
        Fields {
            from: "device@example.test",
            to: "postmaster@example.test",
            seq: 3,
            count: 100,
            unix_time: 1_796_410_920,
            nonce: 0x0123_4567_89ab_cdef,
            host: "device.example.test",
        }
    }

    #[test]
    fn the_message_is_exactly_this() {
        let mut out: Buffer<MESSAGE_BYTES> = Buffer::new();
        compose(&mut out, &fields()).unwrap();
        let want: &[u8] = b"Date: Fri, 04 Dec 2026 19:02:00 +0000\r\n\
            From: <device@example.test>\r\n\
            To: <postmaster@example.test>\r\n\
            Subject: Postel firmware message 3 of 100\r\n\
            Message-ID: <1796410920.3.0123456789abcdef@device.example.test>\r\n\
            MIME-Version: 1.0\r\n\
            Content-Type: text/plain; charset=us-ascii\r\n\
            \r\n\
            Message 3 of 100, sent by the Postel firmware on QEMU's mps2-an385\r\n\
            (Cortex-M3), over UART0 bridged to TCP.\r\n";
        assert_eq!(out.as_bytes(), want);
        // Every line ends in CRLF and none is longer than RFC 5322's 78 recommended octets.
        for line in want.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            assert!(line.ends_with(b"\r"), "{line:?}");
            assert!(line.len() <= 79, "{line:?}");
        }
    }

    #[test]
    fn a_message_too_big_for_the_buffer_is_refused_not_cut_silently() {
        let mut out: Buffer<100> = Buffer::new();
        assert!(compose(&mut out, &fields()).is_err());
        // What fitted stays; nothing past the buffer was written.
        assert!(out.as_bytes().len() <= 100);
        assert!(out.as_bytes().starts_with(b"Date: Fri, 04 Dec 2026"));
    }

    #[test]
    fn the_buffer_fills_to_its_last_octet_and_then_refuses() {
        use core::fmt::Write as _;
        let mut out: Buffer<4> = Buffer::new();
        out.write_str("abcd").unwrap();
        assert_eq!(out.as_bytes(), b"abcd");
        assert!(out.write_str("e").is_err());
        assert_eq!(out.as_bytes(), b"abcd");
        let mut out: Buffer<4> = Buffer::new();
        out.write_str("ab").unwrap();
        assert!(out.write_str("cde").is_err());
        assert_eq!(out.as_bytes(), b"ab");
    }
}
