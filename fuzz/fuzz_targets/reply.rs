//! Reply framing and parsing, and EHLO keyword parsing, on arbitrary bytes.
//!
//! Checks an answer, not only "no panic":
//! - framing through a small buffer never panics, never delivers more than the buffer, and
//!   always leaves room to read (an empty read would look like end of file);
//! - with room for everything, any chunking frames exactly the same replies (split
//!   invariance);
//! - whatever the framer delivers untruncated, `Reply::parse` reads back with the same code,
//!   and its lines and text stay within the raw bytes (round trip);
//! - every line, as EHLO keywords, parses without panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postel_proto::reply::fuzzing::frame;
use postel_proto::{Capabilities, Reply};

type Framed = Vec<(u16, Vec<u8>, bool)>;

fn frame_all(buf_len: usize, input: &[u8], chunk: usize, max: usize) -> (Framed, bool) {
    let mut buf = vec![0u8; buf_len];
    let mut out = Vec::new();
    let ok = frame(&mut buf, input, chunk, max, &mut |code, raw, truncated| {
        out.push((code, raw.to_vec(), truncated));
    })
    .is_ok();
    (out, ok)
}

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, input)) = data.split_first() else {
        return;
    };
    // Small buffers (16..=1024) stress compaction; chunks of 1..=16 bytes stress resumption.
    let buf_len = 16 + usize::from(knobs >> 4) * 63;
    let chunk = usize::from(knobs & 15) + 1;
    let max_reply = 4096;

    let (small, _) = frame_all(buf_len, input, chunk, max_reply);
    for (code, raw, truncated) in &small {
        assert!(raw.len() <= buf_len);
        assert!((200..600).contains(code));
        if !truncated {
            let r = Reply::parse(raw).expect("an untruncated framed reply parses");
            assert_eq!(r.code().get(), *code);
        }
    }

    let big = input.len() + 1;
    let whole = frame_all(big, input, usize::MAX, max_reply);
    assert_eq!(
        frame_all(big, input, chunk, max_reply),
        whole,
        "split invariance"
    );

    if let Ok(r) = Reply::parse(input) {
        assert!(r.raw().len() == input.len());
        assert!(r.text().len() <= input.len());
        for line in r.lines() {
            assert!(line.len() <= input.len());
        }
        let _ = r.to_info();
    }

    let mut caps = Capabilities::new();
    for line in input.split(|&b| b == b'\n') {
        caps.add_line(line);
    }
    let _ = caps.size_limit();
    let _ = caps.auth_mechanisms().count();
});
