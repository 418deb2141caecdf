//! Helpers shared by the tests against real servers (Postfix, Exim, aiosmtpd, smtp-server).
//! Each test binary uses some of them.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use postel::{Error, Side, Transcript};

/// Real servers are required (a missing one fails the test instead of skipping it): under
/// CI (`CI=true`) or `scripts/test.sh` (`POSTEL_REQUIRE_SERVERS=1`).
pub fn servers_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("POSTEL_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A marker no other message in a shared Maildir has: `prefix`, the process id, the time
/// and a counter.
pub fn marker(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The core's error inside `e`, which must be one.
pub fn proto_error(e: Error) -> postel::proto::Error {
    match e {
        Error::Protocol(p) => p,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// How many connections the transcript shows.
pub fn connections(t: &Transcript) -> usize {
    t.entries()
        .iter()
        .filter(|e| e.side == Side::Note && e.text.starts_with("connected to"))
        .count()
}

/// A small xorshift generator (a seed of 0 stays 0): a randomised run is replayed from its
/// printed seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
