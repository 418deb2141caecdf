//! TLS sections: throughput over STARTTLS beside plaintext (one connection and N), and the
//! cost of a new TLS connection with and without session resumption. The server is
//! `postel-sim` in this process with STARTTLS (TLS 1.3, its generated CA trusted by every
//! contender), the same simulator for the plaintext runs, so the ratio is TLS's own cost.

use std::io;
use std::path::Path;
use std::process::Command;

use postel_sim::{BlockingSimulator, Config};

use crate::client::Spec;
use crate::contender::{Baseline, Contender};
use crate::harness::{attempt, progress, Facts};
use crate::report::{rate, ratio, Table};

/// The TLS-capable sink: `postel-sim` with STARTTLS, its CA written to `dir/ca-sink.pem`.
pub struct TlsSink {
    /// The simulator.
    pub sim: BlockingSimulator,
    /// Its CA (PEM).
    pub ca: String,
}

impl TlsSink {
    /// Starts it.
    pub fn start(dir: &Path) -> io::Result<TlsSink> {
        std::fs::create_dir_all(dir)?;
        let ca = dir.join("ca-sink.pem");
        let config = Config::builder()
            .hostname("localhost")
            .write_ca_to(&ca)
            .build();
        let sim = BlockingSimulator::start(config).map_err(io::Error::other)?;
        Ok(TlsSink {
            sim,
            ca: ca.to_string_lossy().into_owned(),
        })
    }
}

/// Who is measured over TLS.
const TLS_CONTENDERS: &[Contender] = &[
    Contender::PostelBlocking,
    Contender::PostelTokio,
    Contender::LettreBlocking,
    Contender::LettreTokio,
    Contender::Smtplib,
];

/// What the TLS sections need to know of the plan.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Concurrent connections of the many-connection runs.
    pub conns: usize,
    /// Best of this many runs...
    pub repeat: usize,
    /// ...each this long.
    pub seconds: f64,
    /// New connections of the shorter callgrind run (the longer opens twice as many).
    pub callgrind_connections: u64,
}

/// Section: TLS throughput as a ratio to plaintext.
pub fn throughput(
    plan: Plan,
    sink: &TlsSink,
    facts: &mut Facts,
    failures: &mut Vec<String>,
    base: &Spec,
) -> Table {
    let n = plan.conns;
    let mut table = Table::new(
        "TLS throughput: STARTTLS beside plaintext (postel-sim, 1 kB, 1 recipient)",
        &format!(
            "Messages per second to postel-sim on bare loopback, plaintext and after STARTTLS \
             (TLS 1.3, AES-256-GCM, ring; the handshake is in the untimed warm-up), over one \
             connection and over {n}, best of {} run(s) of {} s. The same simulator serves \
             both, so TLS ÷ plaintext is what TLS costs each client. It is the server, not the \
             client, that bounds the {n}-connection figures here (postel-sim is one tokio \
             process on the same 2 cores).",
            plan.repeat, plan.seconds
        ),
        &[
            "Contender",
            "1 conn plain msg/s",
            "1 conn TLS msg/s",
            "TLS ÷ plain",
            &format!("{n} conns plain msg/s"),
            &format!("{n} conns TLS msg/s"),
            "TLS ÷ plain",
            "Postel ÷ this (TLS, 1 conn)",
        ],
    );
    let mut postel = Baseline::default();
    for &who in TLS_CONTENDERS {
        let mut row = vec![who.label().to_string()];
        let mut tls_one = None;
        for conns in [1, n] {
            let mut figures = [None, None];
            for (i, tls) in [false, true].into_iter().enumerate() {
                let mut spec = base.clone();
                spec.addr = sink.sim.addr();
                spec.conns = conns;
                spec.seconds = plan.seconds;
                spec.ca = tls.then(|| sink.ca.clone());
                let what = format!("tls/{}/{conns}", if tls { "starttls" } else { "plain" });
                let mut best: Option<f64> = None;
                for _ in 0..plan.repeat {
                    if let Some(m) = attempt(who, &spec, &what, failures) {
                        best = Some(best.map_or(m.rate(), |b| b.max(m.rate())));
                    }
                    let _ = sink.sim.take_messages();
                }
                if let Some(r) = best {
                    facts.set(format!("{what}/{}", who.name()), r);
                }
                figures[i] = best;
            }
            let [plain, tls] = figures;
            row.push(plain.map_or("failed".into(), rate));
            row.push(tls.map_or("failed".into(), rate));
            row.push(match (plain, tls) {
                (Some(p), Some(t)) if p > 0.0 => format!("{:.0} %", 100.0 * t / p),
                _ => "–".into(),
            });
            if conns == 1 {
                tls_one = tls;
            }
        }
        if let Some(t) = tls_one {
            postel.note(who, t);
        }
        row.push(tls_one.map_or("–".into(), |t| ratio(postel.of(who), t)));
        table.rows.push(row);
    }
    table
}

/// Section: a new TLS connection per message, with and without session resumption.
pub fn reconnect(
    plan: Plan,
    sink: &TlsSink,
    facts: &mut Facts,
    failures: &mut Vec<String>,
    base: &Spec,
) -> Table {
    let k = plan.callgrind_connections;
    let mut table = Table::new(
        "TLS reconnects: session resumption across a client's connections",
        &format!(
            "Postel's blocking `Client` sends each 1 kB message on a new connection (connect, \
             EHLO, STARTTLS, TLS 1.3 handshake, EHLO, MAIL/RCPT/BDAT, QUIT) to postel-sim on \
             bare loopback. Resumed: the builder's one rustls `ClientConfig` keeps the \
             server's session tickets in its in-memory cache, so every connection after the \
             first resumes (a PSK handshake: no certificate chain to send or verify, no \
             signature). Full: `tls_session_resumption(false)`. ms per connection: best of \
             {} run(s) of {} s. Instructions: callgrind over {k} and then {} connections, \
             the difference ÷ {k} (client process, user space).",
            plan.repeat,
            plan.seconds,
            2 * k
        ),
        &[
            "Handshakes",
            "ms per connection",
            "connections/s",
            "instructions per connection",
            "÷ full",
        ],
    );
    let who = Contender::PostelBlocking;
    let have_valgrind = Command::new("valgrind").arg("--version").output().is_ok();
    let mut full: Option<(f64, f64)> = None;
    for resume in [false, true] {
        let mut spec = base.clone();
        spec.addr = sink.sim.addr();
        spec.ca = Some(sink.ca.clone());
        spec.fresh = true;
        spec.resume = resume;
        spec.seconds = plan.seconds;
        let name = if resume { "resumed" } else { "full" };
        let what = format!("reconnect/{name}");
        let mut best: Option<f64> = None;
        for _ in 0..plan.repeat {
            if let Some(m) = attempt(who, &spec, &what, failures) {
                best = Some(best.map_or(m.rate(), |b| b.max(m.rate())));
            }
            let _ = sink.sim.take_messages();
        }
        let instructions = if have_valgrind {
            let count = |m: u64| -> io::Result<u64> {
                crate::harness::callgrind_total(who.fixed_count_command(&spec, m)?)
            };
            match count(k).and_then(|a| Ok((a, count(2 * k)?))) {
                Ok((a, b)) => Some(b.saturating_sub(a) as f64 / k as f64),
                Err(e) => {
                    progress(&format!("{what}: callgrind {e}"));
                    failures.push(format!("{what}/callgrind: {e}"));
                    None
                }
            }
        } else {
            None
        };
        let _ = sink.sim.take_messages();
        if let Some(r) = best {
            facts.set(format!("{what}/ms"), 1e3 / r);
        }
        if let Some(i) = instructions {
            facts.set(format!("{what}/instructions"), i);
            progress(&format!("{what}: {i:.0} instructions per connection"));
        }
        if !resume {
            full = Some((best.unwrap_or(0.0), instructions.unwrap_or(0.0)));
        }
        table.rows.push(vec![
            if resume {
                "resumed (default)".into()
            } else {
                "full (resumption off)".into()
            },
            best.map_or("failed".into(), |r| format!("{:.2}", 1e3 / r)),
            best.map_or("–".into(), rate),
            instructions.map_or("not measured".into(), |i| format!("{i:.0}")),
            match (instructions, full) {
                (Some(i), Some((_, f))) if f > 0.0 => format!("×{:.2}", i / f),
                _ => "–".into(),
            },
        ]);
    }
    if !have_valgrind {
        table
            .findings
            .push("Instructions not measured: valgrind is not installed here.".into());
    }
    table
}
