//! TLS sections: throughput over STARTTLS beside plaintext (one connection and N), and the
//! cost of a new TLS connection with and without session resumption. The server is the
//! harness's minimal rustls sink ([`sink`]: TLS 1.3, its CA trusted by every
//! contender), the same sink for the plaintext runs, so the ratio is TLS's own cost.

pub mod sink;

use std::io;
use std::process::Command;

use crate::client::Spec;
use crate::contender::{Baseline, Contender};
use crate::harness::{attempt, progress, Facts};
use crate::report::{rate, ratio, Table};
use sink::TlsSink;

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
        "TLS throughput: STARTTLS beside plaintext (1 kB, 1 recipient)",
        &format!(
            "Messages per second on bare loopback to the harness's minimal SMTP sink (a thread \
             per connection, rustls on ring, replies written when the input is drained, \
             nothing stored), plaintext and after STARTTLS (TLS 1.3, AES-256-GCM; the \
             handshake is in the untimed warm-up), over one \
             connection and over {n}, best of {} run(s) of {} s (plaintext and TLS runs \
             alternate). The same sink serves both, \
             so TLS ÷ plaintext is what TLS costs (the sink's own TLS work shares these 2 \
             cores with the client).",
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
            // Plaintext and TLS runs alternate, so a burst of load from elsewhere costs
            // each of them a run rather than one of them all of its runs.
            let mut figures: [Option<f64>; 2] = [None, None];
            for _ in 0..plan.repeat {
                for (i, tls) in [false, true].into_iter().enumerate() {
                    let mut spec = base.clone();
                    spec.addr = sink.addr();
                    spec.conns = conns;
                    spec.seconds = plan.seconds;
                    spec.ca = tls.then(|| sink.ca().to_string());
                    let what = format!("tls/{}/{conns}", if tls { "starttls" } else { "plain" });
                    if let Some(m) = attempt(who, &spec, &what, failures) {
                        figures[i] = Some(figures[i].map_or(m.rate(), |b: f64| b.max(m.rate())));
                    }
                }
            }
            for (i, mode) in ["plain", "starttls"].iter().enumerate() {
                if let Some(r) = figures[i] {
                    facts.set(format!("tls/{mode}/{conns}/{}", who.name()), r);
                }
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
    if Command::new("valgrind").arg("--version").output().is_ok() {
        for who in [Contender::PostelBlocking, Contender::PostelTokio] {
            match cpu_per_message(who, plan, sink, base) {
                Ok((plain, tls)) => {
                    facts.set(format!("tls/cpu/plain/{}", who.name()), plain);
                    facts.set(format!("tls/cpu/starttls/{}", who.name()), tls);
                    table.findings.push(format!(
                        "{}: {plain:.0} instructions per message in plaintext, {tls:.0} over \
                         TLS (×{:.2}; callgrind, {} then {} messages on one connection, the \
                         difference ÷ {}: steady, unlike the rates on these shared cores).",
                        who.label(),
                        tls / plain,
                        plan.callgrind_connections * 4,
                        plan.callgrind_connections * 8,
                        plan.callgrind_connections * 4,
                    ));
                }
                Err(e) => {
                    progress(&format!("tls/cpu/{}: {e}", who.name()));
                    failures.push(format!("tls/cpu/{}: {e}", who.name()));
                }
            }
        }
    }
    table
}

/// Instructions per message of `who` over one connection, plaintext and TLS.
fn cpu_per_message(
    who: Contender,
    plan: Plan,
    sink: &TlsSink,
    base: &Spec,
) -> io::Result<(f64, f64)> {
    let n = plan.callgrind_connections * 4;
    let mut out = [0.0; 2];
    for (i, tls) in [false, true].into_iter().enumerate() {
        let mut spec = base.clone();
        spec.addr = sink.addr();
        spec.ca = tls.then(|| sink.ca().to_string());
        let count = |m: u64| crate::harness::callgrind_total(who.fixed_count_command(&spec, m)?);
        let (a, b) = (count(n)?, count(2 * n)?);
        out[i] = b.saturating_sub(a) as f64 / n as f64;
    }
    Ok((out[0], out[1]))
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
             EHLO, STARTTLS, TLS 1.3 handshake, EHLO, MAIL/RCPT/BDAT, QUIT) to the minimal \
             rustls sink on bare loopback (rustls's default server session cache). Resumed: the builder's one rustls `ClientConfig` keeps the \
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
        spec.addr = sink.addr();
        spec.ca = Some(sink.ca().to_string());
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
