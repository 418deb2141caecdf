//! Streams a message with a large attachment into `std::io::sink()` and prints the peak
//! resident memory (VmHWM from /proc/self/status, Linux), to show it does not grow with
//! the attachment size.
//!
//! ```text
//! cargo run --release -p postel-mime --example stream_sink -- 200        # MiB, generated
//! cargo run --release -p postel-mime --example stream_sink -- 200 file   # from a temp file
//! ```
//! Once the `postel` client exists, replace the sink with its body writer (or a loopback
//! SMTP server) to measure the whole send; the encoder side is the same `std::io::Read`.

use std::io::{self, Read};

use postel_mime::{Attachment, EncodeOptions, Message};

/// Pseudo-random bytes produced as they are read: no buffer of the attachment exists.
struct Generated {
    left: u64,
    state: u64,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
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

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mib: u64 = args.next().map_or(Ok(200), |a| a.parse())?;
    let from_file = args.next().as_deref() == Some("file");
    let size = mib << 20;
    let mut tmp = None;
    let attachment = if from_file {
        let path =
            std::env::temp_dir().join(format!("postel-mime-sink-{}.bin", std::process::id()));
        io::copy(
            &mut Generated {
                left: size,
                state: 1,
            },
            &mut std::fs::File::create(&path)?,
        )?;
        tmp = Some(path.clone());
        Attachment::from_path(&path)?
    } else {
        Attachment::from_reader(
            "big.bin",
            Generated {
                left: size,
                state: 1,
            },
            Some(size),
        )?
    };
    let before = vm_hwm_kib();
    let mut msg = Message::builder()
        .from("bench@example.com")
        .to("sink@example.net")
        .subject(format!("{mib} MiB attachment"))
        .text("attached")
        .attach(attachment)
        .build()?;
    let mut encoder = msg.encoder(&EncodeOptions {
        allow_8bit: true,
        smtputf8: false,
    })?;
    let predicted = encoder.encoded_len();
    let started = std::time::Instant::now();
    let written = io::copy(&mut encoder, &mut io::sink())?;
    let elapsed = started.elapsed();
    drop(encoder);
    if let Some(p) = tmp {
        std::fs::remove_file(p)?;
    }
    println!(
        "attachment {mib} MiB ({}): {written} bytes encoded (predicted {predicted:?}) in {:.2}s",
        if from_file {
            "file"
        } else {
            "generated reader"
        },
        elapsed.as_secs_f64()
    );
    println!(
        "peak RSS (VmHWM): before encoding {} KiB, after {} KiB",
        before.map_or("?".into(), |v| v.to_string()),
        vm_hwm_kib().map_or("?".into(), |v| v.to_string())
    );
    Ok(())
}
