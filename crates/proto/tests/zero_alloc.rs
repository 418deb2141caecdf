//! A whole session makes no heap allocation: greeting, EHLO, STARTTLS, EHLO again, AUTH, a
//! pipelined transaction with three recipients of which one is refused and a 100 kB body, a
//! second message, QUIT. Run once with DATA and once with BDAT framing. Every buffer, script
//! and expected byte is prepared before counting starts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use postel_proto::{
    Action, Client, Config, Credentials, Envelope, Event, Mechanism, Recipient, Secret, TlsMode,
};

struct Counting;

// Per thread, so tests running side by side do not count each other's allocations.
thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
    }
}

/// Runs `f` and returns how many allocations it made on this thread.
fn allocations_in(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: defers every call to `System`; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The server's replies, one segment per turn: a segment is handed over only once the
/// previous one is consumed and the client asks to read again.
fn server_segments(chunking: bool) -> Vec<Vec<u8>> {
    let ehlo2: &[u8] = if chunking {
        b"250-mx.example\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-SIZE 10000000\r\n250 AUTH PLAIN LOGIN\r\n"
    } else {
        b"250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10000000\r\n250 AUTH PLAIN LOGIN\r\n"
    };
    let first: &[u8] = if chunking {
        // MAIL, three RCPTs, then one reply per chunk; counted below.
        b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <nobody@mx.example>: unknown\r\n250 2.1.5 Ok\r\n"
    } else {
        b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <nobody@mx.example>: unknown\r\n250 2.1.5 Ok\r\n354 go ahead\r\n"
    };
    vec![
        b"220 mx.example ESMTP\r\n".to_vec(),
        b"250-mx.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n".to_vec(),
        b"220 2.0.0 Ready to start TLS\r\n".to_vec(),
        ehlo2.to_vec(),
        b"235 2.7.0 Authentication successful\r\n".to_vec(),
        first.to_vec(),
    ]
}

struct Outcome {
    wire: Vec<u8>,
    events: [u16; 32],
    n_events: usize,
    handshakes: usize,
}

/// Runs the session against a scripted server that allocates nothing either.
fn run_session(chunking: bool, body: &[u8], outcome: &mut Outcome, segs: &[Vec<u8>]) {
    let (mut rx, mut tx) = ([0u8; 4096], [0u8; 16384]);
    let mut config = Config::new("client.example");
    config.tls = TlsMode::Required;
    config.credentials = Some(Credentials::Password {
        username: "user",
        password: Secret::new("pass"),
        authzid: None,
    });
    config.mechanism = Some(Mechanism::Plain);
    let to = [
        Recipient::new("a@mx.example"),
        Recipient::new("nobody@mx.example"),
        Recipient::new("b@mx.example"),
    ];
    let to2 = [Recipient::new("c@mx.example")];
    let mut first = Envelope::new("me@client.example", &to);
    first.size = Some(body.len() as u64 + 2000);
    let second = Envelope::new("me@client.example", &to2);

    let mut client = Client::new(config, &mut rx, &mut tx).expect("buffers are large enough");
    let (mut seg, mut pos) = (0usize, 0usize);
    // Later replies are written by hand into this fixed buffer as the session needs them.
    let mut late = [0u8; 256];
    let mut late_len = 0usize;
    let mut late_pos = 0usize;
    let mut body_pos = 0usize;
    let mut submitted = 0;
    let mut quit = false;
    // BDAT chunks sent and not yet answered; with DATA, 1 while the verdict is owed.
    let mut owed = 0usize;
    loop {
        match client.poll().expect("the session succeeds") {
            Action::Send { bytes, .. } => {
                assert!(outcome.wire.len() + bytes.len() <= outcome.wire.capacity());
                outcome.wire.extend_from_slice(bytes);
                if chunking {
                    owed += bytes.windows(5).filter(|w| w == b"BDAT ").count();
                }
                let n = bytes.len();
                client.handle_sent(n);
            }
            Action::Receive { into, .. } => {
                let n = if seg < segs.len() {
                    let s = &segs[seg][pos..];
                    let n = s.len().min(into.len());
                    into[..n].copy_from_slice(&s[..n]);
                    pos += n;
                    if pos == segs[seg].len() {
                        seg += 1;
                        pos = 0;
                    }
                    n
                } else {
                    if late_pos == late_len {
                        // Compose the next turn's replies from what the client has sent.
                        late_len = next_replies(&mut late, chunking, &mut owed, submitted, quit);
                        late_pos = 0;
                    }
                    let n = (late_len - late_pos).min(into.len());
                    into[..n].copy_from_slice(&late[late_pos..late_pos + n]);
                    late_pos += n;
                    n
                };
                client.handle_received(n).expect("reading succeeds");
            }
            Action::Body { into } => {
                let src: &[u8] = if submitted == 1 {
                    body
                } else {
                    b"Subject: second\r\n\r\nhi\r\n"
                };
                let n = into.len().min(src.len() - body_pos);
                into[..n].copy_from_slice(&src[body_pos..body_pos + n]);
                body_pos += n;
                client.handle_body(n).expect("body accepted");
            }
            Action::Recipients { .. } => {
                let env = if submitted == 1 { &first } else { &second };
                client.handle_recipients(env).expect("the same envelope");
            }
            Action::StartTls => {
                outcome.handshakes += 1;
                client.handle_tls_ready().expect("TLS ready");
            }
            Action::Event(e) => {
                let code = match e {
                    Event::Greeting(r) | Event::Quit(r) => r.code().get(),
                    Event::Ready => 1,
                    Event::RecipientAccepted { reply, .. }
                    | Event::RecipientRefused { reply, .. }
                    | Event::MessageAccepted { reply, .. } => reply.code().get(),
                    Event::MessageRejected { reply, .. } => 10_000 + reply.code().get(),
                    _ => 0,
                };
                outcome.events[outcome.n_events] = code;
                outcome.n_events += 1;
            }
            Action::Idle => {
                body_pos = 0;
                match submitted {
                    0 => {
                        client.submit(&first).expect("first message");
                    }
                    1 => {
                        client.submit(&second).expect("second message");
                    }
                    _ if !quit => {
                        client.quit().expect("quit");
                        quit = true;
                    }
                    _ => break,
                }
                submitted += 1;
            }
            Action::Closed => break,
        }
    }
}

/// Writes the replies for the client's latest turn into `out`; returns their length.
fn next_replies(
    out: &mut [u8],
    chunking: bool,
    owed: &mut usize,
    submitted: usize,
    quit: bool,
) -> usize {
    let mut len = 0;
    let mut put = |b: &[u8]| {
        out[len..len + b.len()].copy_from_slice(b);
        len += b.len();
    };
    if quit {
        put(b"221 2.0.0 Bye\r\n");
    } else if chunking {
        // One reply per chunk sent so far; the second message's MAIL and RCPT come first.
        if submitted == 2 && *owed > 0 {
            put(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
        }
        for _ in 0..*owed {
            put(b"250 2.0.0 chunk Ok\r\n");
        }
        *owed = 0;
    } else if submitted == 1 || *owed == 1 {
        // The verdict on a message.
        put(b"250 2.0.0 Ok: queued\r\n");
        *owed = 0;
    } else {
        put(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n");
        // With DATA, `owed` marks that the verdict comes next.
        *owed = 1;
    }
    len
}

fn body_100k() -> Vec<u8> {
    let mut body = b"Subject: big\r\n\r\n".to_vec();
    let mut i = 0u32;
    while body.len() < 100_000 {
        body.extend_from_slice(
            format!("line {i:06} of a 100 kB message, nothing to stuff\r\n").as_bytes(),
        );
        i += 1;
    }
    body
}

fn counted_session(chunking: bool) -> (usize, Outcome) {
    let body = body_100k();
    let segs = server_segments(chunking);
    let mut outcome = Outcome {
        wire: Vec::with_capacity(body.len() * 2 + 64 * 1024),
        events: [0; 32],
        n_events: 0,
        handshakes: 0,
    };
    let n = allocations_in(|| run_session(chunking, &body, &mut outcome, &segs));
    (n, outcome)
}

#[test]
fn the_counter_sees_allocations() {
    let n = allocations_in(|| {
        let v: Vec<u8> = Vec::with_capacity(std::hint::black_box(10));
        std::hint::black_box(v);
    });
    assert_eq!(n, 1);
}

#[test]
fn a_whole_session_allocates_nothing() {
    for chunking in [false, true] {
        let (allocations, outcome) = counted_session(chunking);
        let body = body_100k();
        assert_eq!(
            allocations, 0,
            "chunking={chunking}: heap allocations during the session"
        );
        assert_eq!(outcome.handshakes, 1);
        // Greeting, Ready, accepted, refused, accepted, message accepted; the second
        // message's recipient and acceptance; QUIT.
        assert_eq!(
            &outcome.events[..outcome.n_events],
            [220, 1, 250, 550, 250, 250, 250, 250, 221],
            "chunking={chunking}"
        );
        let wire = &outcome.wire;
        let find = |needle: &[u8]| wire.windows(needle.len()).position(|w| w == needle);
        let starttls = find(b"STARTTLS\r\n").expect("STARTTLS sent");
        let auth = find(b"AUTH PLAIN AHVzZXIAcGFzcw==\r\n").expect("AUTH sent");
        assert!(starttls < auth, "credentials only after TLS");
        assert!(wire.starts_with(b"EHLO client.example\r\nSTARTTLS\r\nEHLO client.example\r\n"));
        assert!(wire.ends_with(b"QUIT\r\n"));
        let delivered = if chunking {
            unchunk(&wire[find(b"BDAT ").expect("BDAT")..])
        } else {
            let start = find(b"DATA\r\n").expect("DATA") + 6;
            let end = start + find_from(&wire[start..], b"\r\n.\r\n") + 2;
            wire[start..end].to_vec()
        };
        assert_eq!(delivered.len(), body.len(), "chunking={chunking}");
        assert!(
            delivered == body,
            "chunking={chunking}: the body arrives unchanged"
        );
    }
}

fn find_from(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("terminator present")
}

/// Joins the chunks of the first BDAT message in `wire`.
fn unchunk(mut wire: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = find_from(wire, b"\r\n");
        let header = std::str::from_utf8(&wire[..eol]).expect("ASCII header");
        let mut words = header.split(' ');
        assert_eq!(words.next(), Some("BDAT"), "{header}");
        let n: usize = words.next().and_then(|w| w.parse().ok()).expect("size");
        out.extend_from_slice(&wire[eol + 2..eol + 2 + n]);
        wire = &wire[eol + 2 + n..];
        if words.next() == Some("LAST") {
            return out;
        }
    }
}

const MANY: usize = 300;

/// A server that answers by counting, without allocating: EHLO offers PIPELINING, each
/// transaction accepts `limit` RCPT and answers the others 452 4.5.3, DATA gets 354 and
/// the final dot 250.
struct CountingServer {
    out: [u8; 32 * 1024],
    out_len: usize,
    out_pos: usize,
    line: [u8; 1024],
    line_len: usize,
    in_data: bool,
    rcpts: usize,
    limit: usize,
    /// Recipients accepted, per transaction.
    accepted: [usize; 8],
    messages: usize,
}

impl CountingServer {
    fn put(&mut self, reply: &[u8]) {
        self.out[self.out_len..self.out_len + reply.len()].copy_from_slice(reply);
        self.out_len += reply.len();
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.line[self.line_len] = b;
            self.line_len += 1;
            if b == b'\n' {
                let n = self.line_len;
                self.line_len = 0;
                self.on_line(n);
            }
        }
    }

    fn on_line(&mut self, n: usize) {
        let line = self.line;
        let line = &line[..n];
        if self.in_data {
            if line == b".\r\n" {
                self.in_data = false;
                self.messages += 1;
                self.put(b"250 2.0.0 Ok: queued\r\n");
            }
            return;
        }
        match &line[..4] {
            b"EHLO" => self.put(b"250-mx.example\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n"),
            b"MAIL" => {
                self.rcpts = 0;
                self.put(b"250 2.1.0 Ok\r\n");
            }
            b"RCPT" if self.rcpts < self.limit => {
                self.rcpts += 1;
                self.accepted[self.messages] += 1;
                self.put(b"250 2.1.5 Ok\r\n");
            }
            b"RCPT" => self.put(b"452 4.5.3 Error: too many recipients\r\n"),
            b"DATA" => {
                self.in_data = true;
                self.put(b"354 go ahead\r\n");
            }
            b"QUIT" => self.put(b"221 2.0.0 Bye\r\n"),
            _ => self.put(b"500 5.5.2 what\r\n"),
        }
    }

    fn read_into(&mut self, into: &mut [u8]) -> usize {
        if self.out_pos == self.out_len {
            (self.out_pos, self.out_len) = (0, 0);
        }
        let n = into.len().min(self.out_len - self.out_pos);
        into[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        n
    }
}

/// 300 recipients through a 1 KiB send buffer (several flights each transaction) to a
/// server taking 120 per transaction: the deferred ones go in the next transactions, the
/// envelopes rebuilt in fixed arrays.
fn many_recipients_session(addresses: &[String], server: &mut CountingServer) -> usize {
    let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
    let mut config = Config::new("client.example");
    config.tls = TlsMode::Disabled;
    let mut client = Client::new(config, &mut rx, &mut tx).expect("buffers are large enough");
    let mut sets = [[Recipient::new(""); MANY]; 2];
    for (r, a) in sets[0].iter_mut().zip(addresses) {
        *r = Recipient::new(a);
    }
    let (mut cur, mut len) = (0usize, MANY);
    let mut deferred = [0u32; MANY];
    let mut n_deferred = 0;
    let (mut transactions, mut quit) = (0, false);
    let mut body: &[u8] = b"Subject: many\r\n\r\nHello.\r\n";
    let content = body;
    loop {
        match client.poll().expect("the session succeeds") {
            Action::Send { bytes, .. } => {
                server.write(bytes);
                let n = bytes.len();
                client.handle_sent(n);
            }
            Action::Receive { into, .. } => {
                let n = server.read_into(into);
                client.handle_received(n).expect("reading succeeds");
            }
            Action::Body { into } => {
                let n = into.len().min(body.len());
                into[..n].copy_from_slice(&body[..n]);
                body = &body[n..];
                client.handle_body(n).expect("body accepted");
            }
            Action::Recipients { .. } => {
                let env = Envelope::new("a@client.example", &sets[cur][..len]);
                client.handle_recipients(&env).expect("the same envelope");
            }
            Action::Event(Event::RecipientDeferred { rcpt, .. }) => {
                deferred[n_deferred] = rcpt.0;
                n_deferred += 1;
            }
            Action::Event(_) => {}
            Action::Idle if transactions == 0 || n_deferred > 0 => {
                if transactions > 0 {
                    // The next envelope: the deferred recipients, in envelope order.
                    deferred[..n_deferred].sort_unstable();
                    let (a, b) = sets.split_at_mut(1);
                    let (from, to) = if cur == 0 {
                        (&a[0], &mut b[0])
                    } else {
                        (&b[0], &mut a[0])
                    };
                    for (slot, &i) in to.iter_mut().zip(&deferred[..n_deferred]) {
                        *slot = from[i as usize];
                    }
                    (cur, len, n_deferred) = (1 - cur, n_deferred, 0);
                }
                body = content;
                transactions += 1;
                let env = Envelope::new("a@client.example", &sets[cur][..len]);
                client.submit(&env).expect("submitted");
            }
            Action::Idle if !quit => {
                quit = true;
                client.quit().expect("quit");
            }
            Action::Idle | Action::Closed => return transactions,
            Action::StartTls => unreachable!("TLS disabled"),
        }
    }
}

#[test]
fn many_recipients_over_flights_and_transactions_allocate_nothing() {
    let addresses: Vec<String> = (0..MANY)
        .map(|i| format!("rcpt{i:03}@mx.example"))
        .collect();
    let mut server = Box::new(CountingServer {
        out: [0; 32 * 1024],
        out_len: 0,
        out_pos: 0,
        line: [0; 1024],
        line_len: 0,
        in_data: false,
        rcpts: 0,
        limit: 120,
        accepted: [0; 8],
        messages: 0,
    });
    server.put(b"220 mx.example ESMTP\r\n");
    let mut transactions = 0;
    let allocations = allocations_in(|| {
        transactions = many_recipients_session(&addresses, &mut server);
    });
    assert_eq!(allocations, 0, "heap allocations during the session");
    assert_eq!(transactions, 3);
    assert_eq!(server.messages, 3);
    assert_eq!(server.accepted[..3], [120, 120, 60]);
}
