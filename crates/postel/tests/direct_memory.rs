//! Direct delivery of a composed message streams it: a 32 MiB raw message read from a
//! file goes to an MX (the simulator, on an address literal) while the sending thread's
//! live heap stays far below the message's size. A global allocator counts the bytes
//! allocated and freed on the test's thread only (the simulator's threads keep their
//! copy of the message, which is not the client's memory). This binary holds this one
//! test so no other test's allocations are counted.
#![allow(unsafe_code)] // the counting allocator only; the library forbids unsafe code

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use postel::mx::{Direct, Resolver};
use postel::queue::Outcome;
use postel::Envelope;
use postel_mime::RawMessage;
use postel_sim::{BlockingSimulator, Config};

struct Counting;

thread_local! {
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn counted() -> bool {
    COUNTED.try_with(Cell::get).unwrap_or(false)
}

fn grow(n: usize) {
    if counted() {
        let n = isize::try_from(n).unwrap_or(isize::MAX);
        let live = LIVE.fetch_add(n, Ordering::SeqCst) + n;
        PEAK.fetch_max(live, Ordering::SeqCst);
    }
}

fn shrink(n: usize) {
    if counted() {
        LIVE.fetch_sub(isize::try_from(n).unwrap_or(isize::MAX), Ordering::SeqCst);
    }
}

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        shrink(layout.size());
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrink(layout.size());
            grow(new_size);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const MESSAGE: u64 = 32 << 20;
/// Far below the message: the buffers of one connection and one encoder.
const BOUND: isize = 4 << 20;

#[test]
fn direct_send_of_a_large_message_keeps_the_senders_heap_flat() {
    let path =
        std::env::temp_dir().join(format!("postel-direct-memory-{}.eml", std::process::id()));
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        f.write_all(b"From: a@client.test\r\nTo: b@[127.0.0.5]\r\nSubject: big\r\n\r\n")
            .unwrap();
        let line = [b'x'; 76];
        let mut written = 0u64;
        while written < MESSAGE {
            f.write_all(&line).unwrap();
            f.write_all(b"\r\n").unwrap();
            written += 78;
        }
    }
    let port = std::net::TcpListener::bind("127.0.0.5:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sim = BlockingSimulator::start(
        Config::builder()
            .bind(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 5)))
            .port(port)
            .size_limit(64 << 20)
            .build(),
    )
    .unwrap();
    // An address literal is never looked up: the resolver's server is never asked.
    let direct = Direct::new(Resolver::with_server("127.0.0.1:9".parse().unwrap()).unwrap())
        .port(port)
        .ehlo_name("client.test");
    let envelope = Envelope::new("a@client.test", ["b@[127.0.0.5]"]);

    COUNTED.with(|c| c.set(true));
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let mut message = RawMessage::from_file(&path).unwrap();
    let outcomes = direct.send_message(&envelope, &mut message);
    drop(message);
    let peak = PEAK.load(Ordering::SeqCst) - before;
    COUNTED.with(|c| c.set(false));
    let _ = std::fs::remove_file(&path);

    assert_eq!(outcomes.len(), 1);
    assert!(
        matches!(outcomes[0].1, Outcome::Delivered(_)),
        "{:?}",
        outcomes[0]
    );
    let got = sim.wait_for_messages(1, Duration::from_secs(30));
    assert_eq!(got.len(), 1);
    assert!(got[0].data.len() as u64 >= MESSAGE, "{}", got[0].data.len());
    assert!(peak < BOUND, "peak live heap of the sender: {peak} bytes");
    println!("{MESSAGE} bytes sent directly; peak heap of the sender {peak} bytes");
}
