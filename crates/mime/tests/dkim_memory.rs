//! DKIM signing in bounded memory: a 16 MiB attachment from a one-shot reader is signed
//! (spooled to a temporary file, hashed) and then encoded for sending, while a counting
//! global allocator records the peak of live heap bytes. This binary holds this one test
//! so no other test's allocations are counted.
#![allow(unsafe_code)] // the counting allocator only; the library forbids unsafe code

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use postel_mime::dkim::{Signer, SigningKey};
use postel_mime::{Attachment, DateTime, EncodeOptions, Message, MessageId};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(live, Ordering::SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
            let live = LIVE.fetch_add(new_size, Ordering::SeqCst) + new_size;
            PEAK.fetch_max(live, Ordering::SeqCst);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Pseudo-random bytes, generated as they are read.
struct Generated {
    left: u64,
    state: u64,
}

impl std::io::Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        for b in &mut buf[..n] {
            self.state = self
                .state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            *b = (self.state >> 56) as u8;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

const SIZE: u64 = 16 << 20;
/// Peak live heap allowed above what existed before signing started.
const BOUND: usize = 512 << 10;

#[test]
fn a_16_mib_streamed_attachment_is_signed_and_sent_in_bounded_memory() {
    let mut msg = Message::builder()
        .from("a@example.com")
        .to("b@example.net")
        .subject("big")
        .date(DateTime::from_unix(0, 0).unwrap())
        .message_id(MessageId::new("big", "example.com").unwrap())
        .text("see attachment")
        .attach(
            Attachment::from_reader(
                "big.bin",
                Generated {
                    left: SIZE,
                    state: 1,
                },
                Some(SIZE),
            )
            .unwrap(),
        )
        .build()
        .unwrap();
    let signer = Signer::new(SigningKey::generate_ed25519(), "example.com", "s").unwrap();
    let mut buf = vec![0u8; 16 << 10];
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    signer.sign(&mut msg).unwrap();
    let mut enc = msg.encoder(&EncodeOptions::default()).unwrap();
    let expected = enc.encoded_len().unwrap();
    let mut total = 0u64;
    let mut first = Vec::new();
    loop {
        let n = enc.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        if first.len() < 64 {
            first.extend_from_slice(&buf[..n.min(64)]);
        }
        total += n as u64;
    }
    drop(enc);
    let peak = PEAK.load(Ordering::SeqCst) - before;
    assert!(first.starts_with(b"DKIM-Signature: v=1; a=ed25519-sha256;"));
    assert_eq!(total, expected);
    assert!(total > SIZE * 4 / 3, "{total}");
    assert!(
        peak < BOUND,
        "peak live heap while signing and encoding: {peak} bytes"
    );
    println!("16 MiB attachment signed: {total} bytes out, peak heap above baseline {peak} bytes");
}
