//! Postel on QEMU's mps2-an385 (Cortex-M3): sends `config::COUNT` messages, each over a new
//! SMTP connection on UART0, which QEMU bridges to the server (scripts/firmware.sh).
//!
//! After each session's 221 the server closes the connection; QEMU notices, reconnects
//! (`reconnect=1`) and the next greeting arrives on the same UART. Nothing is left over
//! between sessions: the server sends nothing after its 221, and what the firmware would
//! write while QEMU is disconnected QEMU drops. A UART cannot hang up, though, so after a
//! failed session the old connection stays open with unread replies in it; the run stops
//! there rather than read them as the next session's greeting.
//!
//! The run ends through semihosting with exit status 0 only when the server accepted every
//! message. No heap: no allocator is linked.
#![no_std]
#![no_main]

mod board;
mod config;
mod date;
mod message;
mod ram;
mod session;

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use postel_proto::drive::{Deadline, Timed};

use board::{clock, semihosting, stack, Board};
use message::{Fields, MessageReader};
use session::Sessions;

/// After a session, how long the line must stay quiet before the old connection counts as
/// closed: well under QEMU's 1 s reconnect delay.
const DRAIN_QUIET_MS: u64 = 250;
/// How long the old connection may keep sending after QUIT before the run gives up.
const DRAIN_LIMIT_MS: u64 = 5_000;
/// QEMU's reconnect delay (`-chardev socket,...,reconnect=1`: seconds in QEMU 7.2).
const RECONNECT_MS: u64 = 1_000;
/// Allowance for QEMU's connect on top of [`RECONNECT_MS`], before a client that speaks
/// first (implicit TLS) writes.
const CONNECT_MARGIN_MS: u64 = 300;

#[entry]
fn main() -> ! {
    let Some(mut board) = Board::init() else {
        hprintln!("firmware: the board was set up twice");
        semihosting::exit(false)
    };
    hprintln!(
        "firmware: {} message(s) as {} to {}, tls {:?}",
        config::COUNT,
        config::FROM,
        config::TO,
        config::TLS
    );
    let delivered = run(&mut board);
    hprintln!(
        "stack high-water mark: {} bytes (of {} bytes free for the stack)",
        stack::high_water_mark(),
        stack::size()
    );
    semihosting::exit(delivered == config::COUNT)
}

/// Sends the messages; returns how many the server accepted. Stops at the first failure.
fn run(board: &mut Board) -> u32 {
    let Some(ram) = ram::take() else {
        hprintln!("firmware: the buffers were taken twice");
        return 0;
    };
    let mut sessions = match Sessions::new(ram, clock::now_ms()) {
        Ok(s) => s,
        Err(e) => {
            hprintln!("firmware: {}", e);
            return 0;
        }
    };
    if config::TLS != config::Security::Plain {
        hprintln!(
            "firmware: TLS to {}, {} trust anchor(s), {}",
            config::TLS_NAME,
            sessions.trust_anchors(),
            match config::LOGIN {
                Some(login) => login.user,
                None => "no AUTH",
            }
        );
    }
    let deadline = Deadline::new(board.clock);
    // Unique per build (the seed) and per run of one image (the tick count, the time).
    let s = config::SEED;
    let nonce_base = u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]);

    let mut delivered = 0u32;
    let started = clock::now_ms();
    // When QEMU's connection is (about to be) up: at boot QEMU connects before the firmware
    // runs, or retries every second.
    let mut connected_at = started;
    for seq in 1..=config::COUNT {
        if config::TLS == config::Security::Implicit {
            // With implicit TLS the client speaks first, and QEMU drops what is written
            // while it is not connected: a ClientHello sent before the reconnect is lost and
            // the handshake times out. STARTTLS and plaintext wait for the greeting instead.
            while clock::now_ms() < connected_at + CONNECT_MARGIN_MS {
                cortex_m::asm::wfi();
            }
        }
        let t0 = clock::now_ms();
        let unix_time = config::UNIX_TIME + t0 / 1000;
        let fields = Fields {
            from: config::FROM,
            to: config::TO,
            seq,
            count: config::COUNT,
            unix_time,
            nonce: nonce_base ^ t0,
            host: config::EHLO,
        };
        let mut message = MessageReader::new(fields);
        let mut transport = Timed::new(&mut board.uart, &deadline);
        let result = sessions.send(&mut transport, &deadline, unix_time, &mut message);
        let ms = clock::now_ms() - t0;
        match result {
            Ok(done) => {
                delivered += 1;
                hprintln!(
                    "message {}/{}: accepted in {} ms: {} (stack high-water mark {} bytes)",
                    seq,
                    config::COUNT,
                    ms,
                    done.reply,
                    stack::high_water_mark()
                );
                // The old connection's last octets (a close_notify) go before the next
                // greeting can come: QEMU reconnects 1 s after it has seen the close.
                if seq < config::COUNT {
                    match board.uart.drain(DRAIN_QUIET_MS, DRAIN_LIMIT_MS) {
                        Ok(drained) => {
                            if drained.octets != 0 {
                                hprintln!(
                                    "message {}/{}: {} octet(s) after the 221 dropped",
                                    seq,
                                    config::COUNT,
                                    drained.octets
                                );
                            }
                            // QEMU saw the close when the last octet was taken.
                            connected_at = drained.last_ms + RECONNECT_MS;
                        }
                        Err(n) => {
                            hprintln!(
                                "message {}/{}: the server kept sending after QUIT ({} octets)",
                                seq,
                                config::COUNT,
                                n
                            );
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                hprintln!(
                    "message {}/{}: failed after {} ms: {}",
                    seq,
                    config::COUNT,
                    ms,
                    e
                );
                #[cfg(feature = "tls")]
                if let Some(why) = sessions.verify_failure() {
                    hprintln!(
                        "message {}/{}: certificate refused: {}",
                        seq,
                        config::COUNT,
                        why
                    );
                }
                break;
            }
        }
    }
    hprintln!(
        "firmware: delivered {} of {} in {} ms",
        delivered,
        config::COUNT,
        clock::now_ms() - started
    );
    delivered
}
