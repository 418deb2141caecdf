//! Replays every `testdata/transcripts/*.smtp` file byte for byte: the server's bytes fed
//! whole, a byte at a time, and split at every index; the client must send exactly the `C:`
//! bytes and report exactly the `E:` events each time. The format is described in
//! `tests/common/mod.rs` and `testdata/transcripts/README.md`.

mod common;

use common::{check, load, transcript_files, Split};

/// Files whose server side is at most this long are also split at every index.
const SPLIT_EVERYWHERE_UP_TO: usize = 4096;

#[test]
fn every_transcript_replays_with_any_split_of_the_server_bytes() {
    let files = transcript_files();
    assert!(files.len() >= 40, "only {} transcripts found", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let t = load(file);
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        assert_eq!(
            t.name,
            stem,
            "{}: the header names the file",
            file.display()
        );
        let mut splits = vec![Split::Whole];
        if !t.settings.whole_only {
            splits.push(Split::Bytes);
            if t.server.len() <= SPLIT_EVERYWHERE_UP_TO {
                // SCRAM derives its key (4096 HMACs) on every replay, slow in debug builds:
                // those files are cut at every 13th index instead of every one.
                let step = if t.settings.nonce.is_empty() { 1 } else { 13 };
                splits.extend(
                    (1..t.server.len())
                        .step_by(step)
                        .map(|i| Split::Cuts(vec![i])),
                );
            }
        }
        for split in &splits {
            if let Err(e) = check(&t, split, usize::MAX) {
                failures.push(e);
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn message_bodies_may_arrive_in_any_chunks_when_framed_by_data() {
    // DATA output does not depend on how the body is handed over; BDAT chunk sizes do, so
    // those transcripts are only replayed with whole bodies above.
    let mut failures = Vec::new();
    for file in transcript_files() {
        let t = load(&file);
        let bdat = t.client.windows(5).any(|w| w == b"BDAT ");
        if bdat || t.settings.whole_bodies {
            continue;
        }
        for chunk in [1, 7] {
            if let Err(e) = check(&t, &Split::Whole, chunk) {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn transcript_format_decodes_escapes_and_line_ends() {
    let t = common::parse(
        "# fmt (none)\n# config: tls=required pipelining=off\n# message: from=a@x.test to=b@y.test,c@y.test\n\
         B: line one\nB: no end\\\nS: 220 a\\n\nC: EHLO x\nS: 250 \\x41\\\\\nE: Ready\n",
    )
    .unwrap();
    assert_eq!(t.name, "fmt");
    assert_eq!(t.messages[0].to, ["b@y.test", "c@y.test"]);
    assert_eq!(t.messages[0].body, b"line one\r\nno end");
    assert_eq!(t.server, b"220 a\n250 A\\\r\n");
    assert_eq!(t.client, b"EHLO x\r\n");
    assert_eq!(t.gates, [(6, 0), (14, 8)]);
    assert_eq!(t.available(0), 6);
    assert_eq!(t.available(8), 14);
    assert_eq!(t.events, ["Ready"]);
    assert!(!t.settings.pipelining);
}

#[test]
fn a_wrong_byte_or_event_fails_the_check() {
    let file = common::transcripts_dir().join("rfc2920-pipelined-transaction.smtp");
    let good = load(&file);
    let mut t = good.clone();
    t.events[2] = "RecipientRefused txn=0 rcpt=1 550".into();
    assert!(check(&t, &Split::Whole, usize::MAX).is_err());
    let mut t = good.clone();
    let last = t.client.len() - 3;
    t.client[last] = b'X'; // QUIX
    assert!(check(&t, &Split::Whole, usize::MAX).is_err());
    let mut t = good;
    t.server.extend_from_slice(b"250 extra\r\n");
    let end = t.server.len();
    t.gates.push((end, t.client.len()));
    assert!(check(&t, &Split::Bytes, usize::MAX).is_err());
}

/// Prints what the client does for the transcript named by `POSTEL_TRANSCRIPT`, as `C:`
/// and `E:` lines: `POSTEL_TRANSCRIPT=name cargo test --test transcripts -- --ignored`.
#[test]
#[ignore = "a tool for writing transcripts"]
fn print_actual_client_bytes_and_events() {
    let Ok(name) = std::env::var("POSTEL_TRANSCRIPT") else {
        return;
    };
    let t = load(&common::transcripts_dir().join(format!("{name}.smtp")));
    let out =
        common::replay_with(&t, &Split::Whole, usize::MAX, false).unwrap_or_else(|e| panic!("{e}"));
    for line in out.client.split_inclusive(|&b| b == b'\n') {
        let text = line.strip_suffix(b"\r\n").unwrap_or(line);
        println!("C: {}", postel_proto::reply::Escaped(text));
    }
    for e in &out.events {
        println!("E: {e}");
    }
}
