//! The message each session sends: a small RFC 5322 message, formatted as it is read.
//!
//! No buffer holds it whole: [`MessageReader`] formats the message again on each read and
//! keeps only the octets that read asks for (a few hundred octets formatted a few times per
//! message costs less than the 640 octets of stack a buffer took, on a device whose RAM
//! budget for a plain session is 6 KiB).

use core::convert::Infallible;
use core::fmt;

use crate::date::Rfc5322Date;

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

/// Writes the message (CRLF line ends) into `out`; `Err` when `out` refuses more.
pub fn compose<W: fmt::Write>(out: &mut W, m: &Fields<'_>) -> fmt::Result {
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

/// The message as an `embedded_io::Read` source (see the module documentation).
pub struct MessageReader<'a> {
    fields: Fields<'a>,
    /// Octets already read.
    at: usize,
}

impl<'a> MessageReader<'a> {
    /// The message with these fields, from its first octet.
    pub fn new(fields: Fields<'a>) -> Self {
        MessageReader { fields, at: 0 }
    }

    /// The message's length in octets (for SIZE=).
    pub fn size(&self) -> usize {
        let mut n = Count(0);
        // Counting never refuses.
        let _ = compose(&mut n, &self.fields);
        n.0
    }
}

impl embedded_io::ErrorType for MessageReader<'_> {
    type Error = Infallible;
}

impl embedded_io::Read for MessageReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let mut window = Window {
            skip: self.at,
            out: buf,
            len: 0,
        };
        // Err only means the window is full: the rest comes with the next read.
        let _ = compose(&mut window, &self.fields);
        self.at += window.len;
        Ok(window.len)
    }
}

/// Counts what is written.
struct Count(usize);

impl fmt::Write for Count {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// Keeps the octets from `skip` on, as many as `out` holds; refuses once `out` is full.
struct Window<'b> {
    skip: usize,
    out: &'b mut [u8],
    len: usize,
}

impl fmt::Write for Window<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut bytes = s.as_bytes();
        let skipped = self.skip.min(bytes.len());
        self.skip -= skipped;
        bytes = &bytes[skipped..];
        let room = self.out.len() - self.len;
        let n = room.min(bytes.len());
        self.out[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
        if self.len == self.out.len() {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write as _;
    use embedded_io::Read as _;

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

    const WANT: &[u8] = b"Date: Fri, 04 Dec 2026 19:02:00 +0000\r\n\
        From: <device@example.test>\r\n\
        To: <postmaster@example.test>\r\n\
        Subject: Postel firmware message 3 of 100\r\n\
        Message-ID: <1796410920.3.0123456789abcdef@device.example.test>\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: text/plain; charset=us-ascii\r\n\
        \r\n\
        Message 3 of 100, sent by the Postel firmware on QEMU's mps2-an385\r\n\
        (Cortex-M3), over UART0 bridged to TCP.\r\n";

    /// Everything `reader` yields, read `chunk` octets at a time.
    fn read_all(mut reader: MessageReader<'_>, chunk: usize) -> std::vec::Vec<u8> {
        let mut out = std::vec::Vec::new();
        let mut buf = [0u8; 64];
        loop {
            let n = reader.read(&mut buf[..chunk]).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn the_message_is_exactly_this_however_it_is_read() {
        for chunk in [1, 2, 7, 13, 64] {
            assert_eq!(
                read_all(MessageReader::new(fields()), chunk),
                WANT,
                "{chunk}"
            );
        }
        assert_eq!(MessageReader::new(fields()).size(), WANT.len());
        // Every line ends in CRLF and none is longer than RFC 5322's 78 recommended octets.
        for line in WANT.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            assert!(line.ends_with(b"\r"), "{line:?}");
            assert!(line.len() <= 79, "{line:?}");
        }
    }

    #[test]
    fn a_read_into_an_empty_buffer_reads_nothing_and_loses_nothing() {
        let mut r = MessageReader::new(fields());
        assert_eq!(r.read(&mut []).unwrap(), 0);
        assert_eq!(read_all(r, 64), WANT);
    }

    #[test]
    fn the_window_keeps_only_what_was_asked_for() {
        let mut out = [0u8; 4];
        let mut w = Window {
            skip: 3,
            out: &mut out,
            len: 0,
        };
        assert!(w.write_str("ab").is_ok());
        assert!(w.write_str("cdef").is_ok());
        assert!(w.write_str("ghij").is_err());
        assert_eq!(w.len, 4);
        assert_eq!(&out, b"defg");
    }
}
