//! The send buffer: the caller's `tx` slice and what each part of it holds.

/// The send buffer lent to [`Client::new`](crate::Client::new), and the one place its
/// layout is described.
///
/// Everything the session writes is rendered here and handed to the driver as
/// `buf[start..send_end]` ([`Action::Send`](crate::Action::Send)); the driver's writes
/// advance `start`. `end` ends what is rendered, which may go past `send_end` when rendered
/// bytes are held back.
///
/// Outside a transaction (greeting to AUTH, QUIT) the buffer holds one command or one SASL
/// response at its start: `buf[0..n]`, all of it sent.
///
/// In the envelope (MAIL, RCPT, DATA), a flight of commands is rendered at the start:
///
/// ```text
/// 0        cmd_next            cmd_end = end
/// | sent or released | held back |
/// ```
///
/// `Txn::cmd_next..Txn::cmd_end` are rendered commands not released yet: without
/// PIPELINING they are released one line at a time, each after the previous reply; with
/// it the whole flight is released at once. Room is kept after the flight for DATA, or for
/// a BDAT header and some content.
///
/// During the content, with DATA:
///
/// ```text
/// 0                      end                  window             len
/// | encoded content      | free (a quarter    | raw content read |
/// | (dot-stuffed, CRLF)  | at least)          | from the driver  |
/// ```
///
/// The driver reads raw content into `buf[window..]` ([`Action::Body`](crate::Action::Body));
/// the unencoded part of it is `Content::raw_start..Content::raw_end`. It is encoded to the
/// end of the rendered bytes, and the encoded bytes `buf[0..end]` are sent when the free
/// part gets short and at the end (with the terminating dot).
///
/// With BDAT, each chunk's header is written right-aligned in the
/// `BDAT_HEADER_MAX` octets before the chunk's data,
/// which starts at `Content::chunk_start`, so header and data go out in one write:
///
/// ```text
/// 0    cmds    header start    chunk_start              end        window
/// | MAIL, RCPT | BDAT n [LAST] | chunk data              | free     | raw content |
/// ```
///
/// The first chunk of a pipelined message also carries the envelope: the commands
/// `buf[0..cmds]` are moved to just before the header when the chunk is released.
/// Once a chunk (or the DATA content) is sent, the buffer starts over at `chunk_start =
/// BDAT_HEADER_MAX` (0 for DATA).
#[derive(Debug)]
pub(super) struct SendBuf<'a> {
    /// The caller's buffer.
    pub(super) buf: &'a mut [u8],
    /// First byte not written by the driver yet.
    pub(super) start: usize,
    /// End of what is to be sent now.
    pub(super) send_end: usize,
    /// End of what is rendered.
    pub(super) end: usize,
}

impl<'a> SendBuf<'a> {
    /// An empty buffer over `buf`.
    pub(super) fn new(buf: &'a mut [u8]) -> SendBuf<'a> {
        SendBuf {
            buf,
            start: 0,
            send_end: 0,
            end: 0,
        }
    }

    /// `n` bytes rendered at the start are all to be sent.
    pub(super) fn send_all(&mut self, n: usize) {
        self.start = 0;
        self.send_end = n;
        self.end = n;
    }

    /// Nothing rendered: the next bytes go at `at`.
    pub(super) fn reset_to(&mut self, at: usize) {
        self.start = at;
        self.send_end = at;
        self.end = at;
    }

    /// Bytes released for sending and not written yet.
    pub(super) fn sending(&self) -> bool {
        self.start < self.send_end
    }
}
