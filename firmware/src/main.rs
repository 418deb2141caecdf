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
mod session;

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use postel_proto::drive::{Deadline, Timed};
use rand_core::RngCore;

use board::{clock, semihosting, stack, Board};
use config::Tls;
use message::{Buffer, Fields, MESSAGE_BYTES};

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
    if config::TLS != Tls::None {
        hprintln!("firmware: TLS sessions need postel-device, not in this build yet");
        semihosting::exit(false)
    }

    let deadline = Deadline::new(board.clock);
    let mut rng = board::rng::Rng::new(config::SEED, clock::now_ms());
    let mut delivered = 0u32;
    let started = clock::now_ms();
    for seq in 1..=config::COUNT {
        let t0 = clock::now_ms();
        let mut text: Buffer<MESSAGE_BYTES> = Buffer::new();
        let fields = Fields {
            from: config::FROM,
            to: config::TO,
            seq,
            count: config::COUNT,
            unix_time: config::UNIX_TIME + t0 / 1000,
            nonce: rng.next_u64(),
            host: config::EHLO,
        };
        if message::compose(&mut text, &fields).is_err() {
            hprintln!("message {}/{}: does not fit {} octets", seq, config::COUNT, MESSAGE_BYTES);
            break;
        }
        let mut transport = Timed::new(&mut board.uart, &deadline);
        let result = session::plain::send(
            &mut transport,
            &deadline,
            config::EHLO,
            config::FROM,
            config::TO,
            text.as_bytes(),
            format_args!("message {}/{}", seq, config::COUNT),
        );
        let ms = clock::now_ms() - t0;
        match result {
            Ok(()) => {
                delivered += 1;
                hprintln!(
                    "message {}/{}: done in {} ms, stack high-water mark {} bytes",
                    seq,
                    config::COUNT,
                    ms,
                    stack::high_water_mark()
                );
            }
            Err(e) => {
                hprintln!("message {}/{}: failed after {} ms: {}", seq, config::COUNT, ms, e);
                break;
            }
        }
    }
    let total = clock::now_ms() - started;
    hprintln!(
        "firmware: delivered {} of {} in {} ms",
        delivered,
        config::COUNT,
        total
    );
    hprintln!(
        "stack high-water mark: {} bytes (of {} bytes free for the stack)",
        stack::high_water_mark(),
        stack::size()
    );
    semihosting::exit(delivered == config::COUNT)
}
