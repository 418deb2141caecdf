//! The benchmark run: starts the servers, runs every contender in every scenario, prints
//! the tables and writes BENCHMARKS.md.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::client::{BoxError, Spec};
use crate::contender::{Baseline, Contender, Measured};
use crate::proxy::{self, Proxy};
use crate::report::{mb, rate, ratio, Table};
use crate::servers::{Postfix, Sim, Sink};

/// Figures the sections record for the targets table: `(key, value)`.
#[derive(Debug, Default)]
pub struct Facts(Vec<(String, f64)>);

impl Facts {
    /// Records a figure (a later one of the same key wins).
    pub fn set(&mut self, key: String, value: f64) {
        self.0.push((key, value));
    }

    /// The latest figure of `key`.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
}

/// How much to run.
#[derive(Debug, Clone)]
struct Plan {
    quick: bool,
    /// Timed phase of each run through the delaying proxy.
    seconds: f64,
    /// One-way delay of the proxy (RTT = 2×).
    one_way: Duration,
    /// Attachment sizes every contender sends.
    sizes: Vec<u64>,
    /// Attachment size only Postel and smtp-source send (the others hold the message in
    /// memory, several times over).
    huge: Option<u64>,
    /// Concurrent connections.
    conns: usize,
    /// Throughput runs on bare loopback keep the best of this many...
    repeat: usize,
    /// ...each this long.
    burst_seconds: f64,
    /// Messages of the shorter callgrind run (the longer sends twice as many).
    callgrind_messages: u64,
    /// Sections to run (all when empty).
    only: Vec<String>,
    /// Start a private Postfix.
    postfix: bool,
}

impl Plan {
    fn parse(args: &[String]) -> Result<Plan, BoxError> {
        let quick = args.iter().any(|a| a == "--quick");
        let mut plan = Plan {
            quick,
            seconds: if quick { 0.5 } else { 3.0 },
            one_way: Duration::from_millis(5),
            sizes: if quick {
                vec![1_000_000, 10_000_000]
            } else {
                vec![10_000_000, 100_000_000]
            },
            huge: (!quick).then_some(1_000_000_000),
            conns: if quick { 2 } else { 8 },
            repeat: if quick { 1 } else { 3 },
            burst_seconds: if quick { 0.5 } else { 2.0 },
            callgrind_messages: if quick { 20 } else { 200 },
            only: Vec::new(),
            postfix: true,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" => {}
                "--no-postfix" => plan.postfix = false,
                "--only" => plan
                    .only
                    .push(it.next().ok_or("--only needs a section")?.clone()),
                "--seconds" => {
                    plan.seconds = it.next().ok_or("--seconds needs a value")?.parse()?
                }
                other => return Err(format!("unknown option {other}; see the crate docs").into()),
            }
        }
        Ok(plan)
    }

    fn runs(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }

    fn spec(&self, addr: SocketAddr) -> Spec {
        Spec {
            addr,
            rcpts: 1,
            body: 1000,
            seconds: self.seconds,
            max: u64::MAX,
            conns: 1,
            attach: 0,
            pin: None,
            ca: None,
            fresh: false,
            resume: true,
        }
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A progress line on stderr.
pub fn progress(msg: &str) {
    eprintln!("postel-bench: {msg}");
}

/// Runs one contender, saying so on stderr; a failure becomes `None` and a note.
pub fn attempt(
    who: Contender,
    spec: &Spec,
    what: &str,
    failures: &mut Vec<String>,
) -> Option<Measured> {
    match who.run(spec) {
        Ok(m) => {
            progress(&format!(
                "{what}: {} {} msg/s ({} in {:.2} s), peak RSS {} MB",
                who.name(),
                rate(m.rate()),
                m.messages,
                m.secs,
                mb(m.max_rss_kib)
            ));
            Some(m)
        }
        Err(e) => {
            progress(&format!("{what}: {e}"));
            failures.push(format!("{what}: {e}"));
            None
        }
    }
}

/// `postel-bench [--quick] [--only rtt|loopback|concurrent|large|cpu|syscalls|cold|tls|reconnect|queue]...
/// [--no-postfix] [--seconds S]`.
pub fn main(args: &[String]) -> Result<(), BoxError> {
    let plan = Plan::parse(args)?;
    let repo = repo_root();
    let load_before = loadavg();
    progress("starting smtp-sink and postel-sim");
    let sink = Sink::start(None)?;
    let sim = Sim::start()?;
    let postfix = if plan.postfix {
        progress("starting a private Postfix (scripts/postfix-up.sh)");
        let state = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo.join("target"))
            .join("postel-bench-postfix");
        match Postfix::start(&repo, &state) {
            Ok(p) => Some(p),
            Err(e) => {
                progress(&format!("no Postfix figures: {e}"));
                None
            }
        }
    } else {
        None
    };

    let mut failures = Vec::new();
    let mut tables = Vec::new();
    let mut facts = Facts::default();
    // Each table notes the 1-minute load average before and after it: other work on these
    // cores slows the time-based figures down (never up).
    let mut section = |name: &str, run: &mut dyn FnMut() -> Result<Table, BoxError>| {
        if !plan.runs(name) {
            return Ok::<(), BoxError>(());
        }
        let before = loadavg_1();
        let mut table = run()?;
        table.note.push_str(&format!(
            " Load average (1 min) {before} before this section, {} after.",
            loadavg_1()
        ));
        tables.push(table);
        Ok(())
    };
    section("rtt", &mut || {
        Ok(rtt(
            &plan,
            &sink,
            &sim,
            postfix.as_ref(),
            &mut facts,
            &mut failures,
        )?)
    })?;
    section("loopback", &mut || {
        Ok(loopback(
            &plan,
            &sink,
            postfix.as_ref(),
            &mut facts,
            &mut failures,
        ))
    })?;
    section("concurrent", &mut || {
        Ok(concurrent(&plan, &sink, &mut facts, &mut failures))
    })?;
    section("large", &mut || {
        Ok(large(&plan, &sink, &mut facts, &mut failures))
    })?;
    section("cpu", &mut || {
        Ok(cpu(&plan, &sink, &mut facts, &mut failures))
    })?;
    section("syscalls", &mut || {
        Ok(syscalls(&plan, &sink, &sim, &mut failures))
    })?;
    let certs = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"))
        .join("postel-bench-tls");
    let tls_plan = crate::tls::Plan {
        conns: plan.conns,
        repeat: plan.repeat,
        seconds: plan.burst_seconds,
        callgrind_connections: if plan.quick { 5 } else { 50 },
    };
    let base = plan.spec(sink.addr());
    if plan.runs("tls") || plan.runs("reconnect") {
        let tls_sink = crate::tls::sink::TlsSink::start(&certs.join("sink"))?;
        section("tls", &mut || {
            Ok(crate::tls::throughput(
                tls_plan,
                &tls_sink,
                &mut facts,
                &mut failures,
                &base,
            ))
        })?;
        section("reconnect", &mut || {
            Ok(crate::tls::reconnect(
                tls_plan,
                &tls_sink,
                &mut facts,
                &mut failures,
                &base,
            ))
        })?;
    }
    section("queue", &mut || {
        let mut q = crate::queue::QueuePlan::new();
        if plan.quick {
            (q.messages, q.workers, q.repeat) = (200, vec![1, 2], 1);
        }
        crate::queue::section(&q)
    })?;
    if plan.runs("cold") {
        progress("cold submissions (postel-sim with STARTTLS and AUTH, through the proxy)");
        let before = loadavg_1();
        let (rtts, repeat): (&[u64], usize) = if plan.quick {
            (&[10], 1)
        } else {
            (&[10, 100], 3)
        };
        for mut t in crate::cold::section(rtts, repeat, &certs, &mut facts, &mut failures)? {
            t.note.push_str(&format!(
                " Load average (1 min) {before} before this section, {} after.",
                loadavg_1()
            ));
            tables.push(t);
        }
    }
    if let Some(p) = &postfix {
        p.stop(&repo);
    }
    let load_after = loadavg();
    let summary = [targets(&plan, &facts), overview(&plan, &facts)];
    if plan.only.is_empty() {
        tables.splice(0..0, summary.iter().cloned());
    }

    let doc = document(&plan, &tables, &failures, &load_before, &load_after);
    println!("{doc}");
    let out = if plan.quick || !plan.only.is_empty() {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo.join("target"))
            .join("BENCHMARKS.partial.md")
    } else {
        repo.join("BENCHMARKS.md")
    };
    std::fs::write(&out, doc)?;
    progress(&format!("wrote {}", out.display()));
    if out == repo.join("BENCHMARKS.md") {
        update_readme(&repo.join("README.md"), &summary, &load_before)?;
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} run(s) failed (listed in the report)", failures.len()).into())
    }
}

/// Section 1: messages per second through the delaying proxy, and the round trips per
/// message they imply.
fn rtt(
    plan: &Plan,
    sink: &Sink,
    sim: &Sim,
    postfix: Option<&Postfix>,
    facts: &mut Facts,
    failures: &mut Vec<String>,
) -> io::Result<Table> {
    let mut servers: Vec<(&str, &str, SocketAddr)> = vec![
        ("sink", "smtp-sink (PIPELINING)", sink.addr()),
        ("sim", "postel-sim (PIPELINING + CHUNKING)", sim.addr()),
    ];
    if let Some(p) = postfix {
        servers.push(("postfix", "Postfix (PIPELINING + CHUNKING)", p.addr()));
    }
    let mut proxies = Vec::new();
    for (key, name, addr) in &servers {
        let proxy = Proxy::start(*addr, plan.one_way)?;
        let rtt = proxy::measure_rtt(proxy.addr(), 21)?;
        progress(&format!(
            "RTT through the proxy to {name}: {:.2} ms",
            ms(rtt)
        ));
        proxies.push((*key, *name, proxy, rtt));
    }
    let mut header = vec!["Contender".to_string()];
    for (_, name, _, rtt) in &proxies {
        header.push(format!("{name} msg/s"));
        header.push(format!("RT/msg (RTT {:.2} ms)", ms(*rtt)));
    }
    header.push("Postel ÷ this (smtp-sink)".into());
    let mut table = Table {
        title: format!(
            "Round trips per message at {} ms RTT (one connection, 1 kB, 1 recipient)",
            2 * plan.one_way.as_millis()
        ),
        note: format!(
            "Client and server talk through a delaying TCP proxy on loopback (this kernel has \
             no netem): each chunk is forwarded {} ms later in each direction, write boundaries \
             kept. RTT is measured through the proxy (median NOOP). RT/msg = (1 / msg/s) / RTT: \
             the round trips each message costs on an open connection.",
            plan.one_way.as_millis()
        ),
        header,
        ..Table::default()
    };
    let mut postel = Baseline::default();
    for &who in Contender::ALL {
        let mut row = vec![who.label().to_string()];
        let mut first_rate = None;
        for (key, name, proxy, rtt) in &proxies {
            let m = attempt(
                who,
                &plan.spec(proxy.addr()),
                &format!("rtt/{name}"),
                failures,
            );
            sim.forget();
            if let Some(p) = postfix {
                p.settle();
            }
            match m {
                Some(m) => {
                    let r = m.rate();
                    let rt = 1.0 / r / rtt.as_secs_f64();
                    first_rate.get_or_insert(r);
                    facts.set(format!("rtt/{key}/{}/rate", who.name()), r);
                    facts.set(format!("rtt/{key}/{}/rt", who.name()), rt);
                    row.push(rate(r));
                    row.push(format!("{rt:.2}"));
                }
                None => {
                    row.push("failed".into());
                    row.push("".into());
                }
            }
        }
        if let Some(r) = first_rate {
            postel.note(who, r);
        }
        row.push(first_rate.map_or("–".into(), |r| ratio(postel.of(who), r)));
        table.rows.push(row);
    }
    Ok(table)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Section 2: bare loopback, one connection.
fn loopback(
    plan: &Plan,
    sink: &Sink,
    postfix: Option<&Postfix>,
    facts: &mut Facts,
    failures: &mut Vec<String>,
) -> Table {
    // A one-connection ping-pong on loopback runs at one speed when client and server share
    // a core and at well under half of it when every reply must wake the other core (an
    // idle vCPU's wake-up dominates): measured both ways, pinned, rather than left to where
    // the scheduler happens to put them.
    let pinned_sink = if cores() >= 2 {
        Sink::start(Some(0)).ok()
    } else {
        None
    };
    let mut header = vec!["Contender"];
    if pinned_sink.is_some() {
        header.extend([
            "1 rcpt, same core msg/s",
            "Postel ÷ this",
            "1 rcpt, two cores msg/s",
            "Postel ÷ this",
            "3 rcpts, same core msg/s",
            "Postel ÷ this",
        ]);
    } else {
        header.extend([
            "1 rcpt msg/s",
            "Postel ÷ this",
            "3 rcpts msg/s",
            "Postel ÷ this",
        ]);
    }
    if postfix.is_some() {
        header.extend(["Postfix 1 rcpt msg/s", "Postel ÷ this"]);
    }
    let mut table = Table::new(
        "Throughput on bare loopback, one connection (1 kB body)",
        "Messages per second over one open connection to smtp-sink (best of 3 rounds of 2 s \
         runs in full mode, every contender once per round), each message composed by the \
         contender's own composer (smtp-source has none: it sends a fixed payload). \
         smtp-sink is pinned to CPU 0 and the client to CPU 0 (same core) or CPU 1 (two \
         cores: each reply wakes the other core, which costs more than the SMTP work). \
         Postfix (unpinned, several processes) queues each message (fsync) and delivers it to \
         a Maildir.",
        &header,
    );
    let mut cases: Vec<(SocketAddr, usize, &str, Option<usize>)> = match &pinned_sink {
        Some(ps) => vec![
            (ps.addr(), 1, "sink-1", Some(0)),
            (ps.addr(), 1, "sink-1-two-cores", Some(1)),
            (ps.addr(), 3, "sink-3", Some(0)),
        ],
        None => vec![
            (sink.addr(), 1, "sink-1", None),
            (sink.addr(), 3, "sink-3", None),
        ],
    };
    if let Some(p) = postfix {
        cases.push((p.addr(), 1, "postfix-1", None));
    }
    // Rounds rather than back-to-back repeats: a burst of load from elsewhere then costs
    // every contender one run, not one contender all of its runs.
    let mut best: Vec<Vec<Option<Measured>>> = vec![vec![None; cases.len()]; Contender::ALL.len()];
    for _round in 0..plan.repeat {
        for (w, &who) in Contender::ALL.iter().enumerate() {
            for (i, (addr, rcpts, name, pin)) in cases.iter().enumerate() {
                let mut spec = plan.spec(*addr);
                spec.rcpts = *rcpts;
                spec.pin = *pin;
                spec.seconds = plan.burst_seconds;
                let m = attempt(who, &spec, &format!("loopback/{name}"), failures);
                if let (Some(p), true) = (postfix, name.starts_with("postfix")) {
                    p.settle();
                }
                keep_best(&mut best[w][i], m);
            }
        }
    }
    let mut postel = vec![Baseline::default(); cases.len()];
    for (w, &who) in Contender::ALL.iter().enumerate() {
        let mut row = vec![who.label().to_string()];
        for (i, (_, _, name, _)) in cases.iter().enumerate() {
            match &best[w][i] {
                Some(m) => {
                    postel[i].note(who, m.rate());
                    facts.set(format!("loopback/{name}/{}", who.name()), m.rate());
                    row.push(rate(m.rate()));
                    row.push(ratio(postel[i].of(who), m.rate()));
                }
                None => row.extend(["failed".to_string(), String::new()]),
            }
        }
        table.rows.push(row);
    }
    table
}

/// Keeps the faster of two runs: on a shared machine noise only ever slows a run down.
fn keep_best(best: &mut Option<Measured>, m: Option<Measured>) {
    if let Some(m) = m {
        match best {
            Some(b) if b.rate() >= m.rate() => {}
            _ => *best = Some(m),
        }
    }
}

/// Section 3: N connections at once.
fn concurrent(plan: &Plan, sink: &Sink, facts: &mut Facts, failures: &mut Vec<String>) -> Table {
    let mut table = Table::new(
        &format!(
            "Throughput on bare loopback, {} concurrent connections (1 kB, 1 recipient)",
            plan.conns
        ),
        "Best of 3 rounds of 2 s runs (full mode). Postel tokio: one `Pool` with \
         `max_connections(N)` shared by N tasks; Postel blocking: N threads, one `Client` each; \
         lettre: one pooled transport (`max_size(N)`) shared by N threads or tasks; mail-send \
         (no pool) and smtplib: one client per task or thread; smtp-source: `-s N`.",
        &["Contender", "msg/s", "Postel ÷ this", "peak RSS MB"],
    );
    let mut best: Vec<Option<Measured>> = vec![None; Contender::ALL.len()];
    for _round in 0..plan.repeat {
        for (w, &who) in Contender::ALL.iter().enumerate() {
            let mut spec = plan.spec(sink.addr());
            spec.conns = plan.conns;
            spec.seconds = plan.burst_seconds;
            keep_best(&mut best[w], attempt(who, &spec, "concurrent", failures));
        }
    }
    let mut postel = Baseline::default();
    for (w, &who) in Contender::ALL.iter().enumerate() {
        let row = match &best[w] {
            Some(m) => {
                postel.note(who, m.rate());
                facts.set(format!("concurrent/{}", who.name()), m.rate());
                vec![
                    who.label().to_string(),
                    rate(m.rate()),
                    ratio(postel.of(who), m.rate()),
                    mb(m.max_rss_kib),
                ]
            }
            None => vec![who.label().to_string(), "failed".into()],
        };
        table.rows.push(row);
    }
    table
}

/// The issue's targets, each with Postel's figure from this run and a verdict.
fn targets(plan: &Plan, facts: &Facts) -> Table {
    let mut t = Table::new(
        "Targets (issues 8 and 19)",
        "Postel's best figure of its two clients (blocking `Client`, tokio `AsyncClient`), \
         from the tables of the full report.",
        &["Target", "Postel", "Met?"],
    );
    let best = |keys: &[String]| {
        keys.iter()
            .filter_map(|k| facts.get(k))
            .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))))
    };
    let least = |keys: &[String]| {
        keys.iter()
            .filter_map(|k| facts.get(k))
            .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.min(v))))
    };
    let postel = |f: &dyn Fn(&str) -> String| -> Vec<String> {
        vec![f("postel-blocking"), f("postel-tokio")]
    };
    let mut row = |target: String,
                   value: Option<f64>,
                   shown: &dyn Fn(f64) -> String,
                   ok: &dyn Fn(f64) -> bool| {
        t.rows.push(match value {
            Some(v) => vec![
                target,
                shown(v),
                if ok(v) { "yes" } else { "**no**" }.into(),
            ],
            None => vec![target, "not measured".into(), "–".into()],
        });
    };
    let rtt_ms = 2 * plan.one_way.as_millis();
    row(
        "1 round trip per message with PIPELINING + CHUNKING (postel-sim)".into(),
        least(&postel(&|p| format!("rtt/sim/{p}/rt"))),
        &|v| format!("{v:.2} RT/msg"),
        &|v| v < 1.25,
    );
    row(
        "1 round trip per message with PIPELINING + CHUNKING (Postfix)".into(),
        least(&postel(&|p| format!("rtt/postfix/{p}/rt"))),
        &|v| format!("{v:.2} RT/msg"),
        &|v| v < 1.25,
    );
    row(
        "2 round trips per message with PIPELINING alone (smtp-sink)".into(),
        least(&postel(&|p| format!("rtt/sink/{p}/rt"))),
        &|v| format!("{v:.2} RT/msg"),
        &|v| v < 2.25,
    );
    row(
        format!("≥ 90 msg/s at {rtt_ms} ms RTT (CHUNKING server: postel-sim)"),
        best(&postel(&|p| format!("rtt/sim/{p}/rate"))),
        &|v| format!("{v:.1} msg/s"),
        &|v| v >= 90.0,
    );
    row(
        format!("≥ 90 msg/s at {rtt_ms} ms RTT (PIPELINING-only server: smtp-sink; 2 RT/msg caps it near 48)"),
        best(&postel(&|p| format!("rtt/sink/{p}/rate"))),
        &|v| format!("{v:.1} msg/s"),
        &|v| v >= 90.0,
    );
    for (case, label) in [("sink-1", "one core"), ("sink-1-two-cores", "two cores")] {
        let source = facts.get(&format!("loopback/{case}/smtp-source"));
        let postel_rate = best(&postel(&|p| format!("loopback/{case}/{p}")));
        if postel_rate.is_none() && case != "sink-1" {
            continue;
        }
        row(
            format!(
                "≥ smtp-source, one connection, bare loopback, client and sink on {label} \
                 (same run: {})",
                source.map_or("not measured".into(), |s| format!("{s:.0} msg/s"))
            ),
            postel_rate,
            &|v| format!("{v:.0} msg/s"),
            &|v| source.is_some_and(|s| v >= s),
        );
        row(
            format!("≥ 3,000 msg/s (the issue's smtp-source figure), one connection, {label}"),
            postel_rate,
            &|v| format!("{v:.0} msg/s"),
            &|v| v >= 3000.0,
        );
    }
    let source8 = facts.get("concurrent/smtp-source");
    row(
        format!(
            "≥ smtp-source with {} connections (same run: {})",
            plan.conns,
            source8.map_or("not measured".into(), |s| format!("{s:.0} msg/s"))
        ),
        best(&postel(&|p| format!("concurrent/{p}"))),
        &|v| format!("{v:.0} msg/s"),
        &|v| source8.is_some_and(|s| v >= s),
    );
    row(
        "peak RSS < 32 MB for a 100 MB attachment".into(),
        best(&postel(&|p| format!("large/100000000/{p}/rss"))),
        &|v| format!("{v:.1} MB"),
        &|v| v < 32.0,
    );
    let small = plan.sizes.first().copied().unwrap_or(0);
    let big = plan.huge.or(plan.sizes.last().copied()).unwrap_or(0);
    let flat = |p: &str| {
        Some(
            facts.get(&format!("large/{big}/{p}/rss"))?
                / facts.get(&format!("large/{small}/{p}/rss"))?,
        )
    };
    row(
        format!(
            "peak RSS flat from {} MB to {} MB (ratio < 1.25; worse of the two clients)",
            small / 1_000_000,
            big / 1_000_000
        ),
        [flat("postel-blocking"), flat("postel-tokio")]
            .into_iter()
            .flatten()
            .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v)))),
        &|v| format!("×{v:.2}"),
        &|v| v < 1.25,
    );
    // Issue 19: where users live.
    let lettre_cold = facts.get("cold/100ms/PLAIN/lettre-blocking/ms");
    row(
        format!(
            "cold submission (STARTTLS + AUTH PLAIN + 1 message) at 100 ms RTT ≤ 0.75 × \
             lettre's time (same run: {})",
            lettre_cold.map_or("not measured".into(), |l| format!("{l:.0} ms"))
        ),
        least(&postel(&|p| format!("cold/100ms/PLAIN/{p}/ms")))
            .zip(lettre_cold)
            .map(|(p, l)| p / l),
        &|v| format!("×{v:.2}"),
        &|v| v <= 0.75,
    );
    // The fewest turns the RFCs allow against a PIPELINING + CHUNKING server whose SCRAM
    // server-final comes in a 334: greeting, EHLO, STARTTLS, TLS, EHLO, then AUTH PLAIN with
    // MAIL/RCPT/BDAT behind it (RFC 4954 §4's exception) = 6; SCRAM = 5 + 3 + 1 = 9.
    for (mech, fewest, who) in [
        ("PLAIN", 6.0, "postel-blocking-auth-pipelining"),
        ("PLAIN", 7.0, "postel-blocking"),
        ("SCRAM-SHA-256", 9.0, "postel-blocking"),
    ] {
        let how = if who.ends_with("auth-pipelining") {
            "with the opt-in `Options::auth_pipelining`, "
        } else if mech == "PLAIN" {
            "by default (AUTH ends its group), "
        } else {
            ""
        };
        row(
            format!(
                "cold submission with AUTH {mech}, {how}{fewest:.0} server turns, the fewest \
                 the RFCs allow so (postel-sim: PIPELINING, CHUNKING, SCRAM server-final in a \
                 334; the cold-submission table gives each step's rule)"
            ),
            facts.get(&format!("cold/10ms/{mech}/{who}/turns")),
            &|v| format!("{v:.0} turns"),
            &|v| v <= fewest,
        );
    }
    let tls_ratio = |p: &str| {
        Some(facts.get(&format!("tls/starttls/1/{p}"))? / facts.get(&format!("tls/plain/1/{p}"))?)
    };
    row(
        "TLS throughput ≥ 80 % of Postel's own plaintext rate (one connection, minimal TLS sink)"
            .into(),
        [tls_ratio("postel-blocking"), tls_ratio("postel-tokio")]
            .into_iter()
            .flatten()
            .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v)))),
        &|v| format!("{:.0} %", 100.0 * v),
        &|v| v >= 0.8,
    );
    t
}

/// One line per contender with the headline figure of each section.
fn overview(plan: &Plan, facts: &Facts) -> Table {
    let big = 100_000_000;
    let mut t = Table::new(
        "At a glance",
        &format!(
            "One connection, 1 kB messages. Peak RSS: one message with a {} MB attachment. \
             Details and ratios in the sections of the full report.",
            big / 1_000_000
        ),
        &[
            "Contender",
            "msg/s, bare loopback (one core / two)",
            &format!("msg/s, {} ms RTT", 2 * plan.one_way.as_millis()),
            "round trips/msg",
            "peak RSS MB",
            "instructions/msg",
        ],
    );
    for &who in Contender::ALL {
        let n = who.name();
        let cell = |key: String, f: &dyn Fn(f64) -> String| facts.get(&key).map_or("–".into(), f);
        t.rows.push(vec![
            who.label().to_string(),
            format!(
                "{} / {}",
                cell(format!("loopback/sink-1/{n}"), &|v| rate(v)),
                cell(format!("loopback/sink-1-two-cores/{n}"), &|v| rate(v))
            ),
            cell(format!("rtt/sink/{n}/rate"), &|v| rate(v)),
            format!(
                "{} (PIPELINING) / {} (CHUNKING)",
                cell(format!("rtt/sink/{n}/rt"), &|v| format!("{v:.1}")),
                cell(format!("rtt/sim/{n}/rt"), &|v| format!("{v:.1}"))
            ),
            cell(format!("large/{big}/{n}/rss"), &|v| format!("{v:.1}")),
            cell(format!("cpu/{n}"), &|v| format!("{v:.0}")),
        ]);
    }
    t
}

/// Replaces the README's benchmark section (between its markers) with the summary tables.
fn update_readme(path: &Path, summary: &[Table], load: &str) -> io::Result<()> {
    const START: &str = "<!-- postel-bench:start -->";
    const END: &str = "<!-- postel-bench:end -->";
    let text = std::fs::read_to_string(path)?;
    let (Some(a), Some(b)) = (text.find(START), text.find(END)) else {
        progress("README.md has no postel-bench markers: not updated");
        return Ok(());
    };
    if b < a {
        return Ok(());
    }
    let mut section = format!(
        "{START}\nLatest run: {}, on {} cores ({}), kernel {}, load average {load} at the \
         start. All contenders ran in that same run on that machine: see \
         [BENCHMARKS.md](BENCHMARKS.md) for every table, the method and the ratios.\n\n",
        command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        command_line("nproc", &[]),
        cpu_model(),
        command_line("uname", &["-r"]),
    );
    for t in summary {
        section.push_str(&t.markdown().replacen("### ", "#### ", 1));
    }
    section.push_str(END);
    let updated = format!("{}{section}{}", &text[..a], &text[b + END.len()..]);
    std::fs::write(path, updated)
}

/// Octets of a base64 body part of `n` octets in 76-column lines.
fn base64_len(n: u64) -> u64 {
    let chars = n.div_ceil(3) * 4;
    chars + 2 * chars.div_ceil(76)
}

/// Section 4: one large attachment.
fn large(plan: &Plan, sink: &Sink, facts: &mut Facts, failures: &mut Vec<String>) -> Table {
    let mut table = Table::new(
        "Large messages: one attachment of 10 MB, 100 MB, 1 GB (to smtp-sink)",
        "Wall time of one message on an open connection (composition included: Postel reads \
         the attachment from a reader as it sends; the others are given it in memory, as their \
         APIs require, before the clock starts). MB/s = base64-encoded attachment octets on the \
         wire ÷ wall time (smtp-source: raw payload). Peak RSS of the whole process. 1 GB only \
         for Postel and smtp-source: the others hold several copies of the message in memory.",
        &[
            "Contender",
            "attachment",
            "wall s",
            "MB/s on the wire",
            "peak RSS MB",
        ],
    );
    let mut sizes: Vec<(u64, bool)> = plan.sizes.iter().map(|&s| (s, false)).collect();
    if let Some(h) = plan.huge {
        sizes.push((h, true));
    }
    for &who in Contender::ALL {
        for &(size, huge) in &sizes {
            if huge && !(who.is_postel() || who == Contender::SmtpSource) {
                continue;
            }
            let mut spec = plan.spec(sink.addr());
            spec.attach = size;
            spec.seconds = 600.0;
            let what = format!("large/{}MB", size / 1_000_000);
            if let Some(m) = attempt(who, &spec, &what, failures) {
                facts.set(
                    format!("large/{size}/{}/rss", who.name()),
                    m.max_rss_kib as f64 * 1024.0 / 1e6,
                );
                let wire = if who == Contender::SmtpSource {
                    size
                } else {
                    base64_len(size)
                };
                table.rows.push(vec![
                    who.label().to_string(),
                    format!("{} MB", size / 1_000_000),
                    format!("{:.2}", m.secs),
                    format!("{:.0}", wire as f64 / 1e6 / m.secs),
                    mb(m.max_rss_kib),
                ]);
            }
        }
    }
    table
}

/// Section 5: instructions per message under callgrind.
fn cpu(plan: &Plan, sink: &Sink, facts: &mut Facts, failures: &mut Vec<String>) -> Table {
    let n = plan.callgrind_messages;
    let mut table = Table::new(
        "CPU cost: instructions per message (callgrind)",
        &format!(
            "`valgrind --tool=callgrind` counts the instructions the client process executes \
             (all threads, user space; system calls are not counted). Each contender sends {n} \
             and then {} messages (1 kB, 1 recipient, composed each time) to smtp-sink over \
             one connection; the difference ÷ {n} cancels start-up, connection and EHLO. \
             Stable on a noisy machine, unlike time. Postel's line is split into its parts \
             (inclusive costs from `callgrind_annotate`).",
            2 * n
        ),
        &["Contender", "instructions/message", "this ÷ Postel"],
    );
    if Command::new("valgrind").arg("--version").output().is_err() {
        progress("cpu: valgrind not installed: section skipped");
        table.findings.push(
            "Not measured: valgrind is not installed here (`apt-get install valgrind`).".into(),
        );
        return table;
    }
    let spec = plan.spec(sink.addr());
    let mut postel = Baseline::default();
    for &who in Contender::ALL {
        let count = |m: u64| -> io::Result<Counts> {
            let cmd = who.fixed_count_command(&spec, m)?;
            callgrind(cmd)
        };
        match count(n).and_then(|a| Ok((a, count(2 * n)?))) {
            Ok((a, b)) => {
                let per = |f: fn(&Counts) -> u64| f(&b).saturating_sub(f(&a)) as f64 / n as f64;
                let total = per(|c| c.total);
                progress(&format!(
                    "cpu: {} {total:.0} instructions/message",
                    who.name()
                ));
                postel.note(who, total);
                facts.set(format!("cpu/{}", who.name()), total);
                table.rows.push(vec![
                    who.label().to_string(),
                    format!("{total:.0}"),
                    postel
                        .of(who)
                        .map_or("–".into(), |p| format!("×{:.2}", total / p)),
                ]);
                if who.is_postel() {
                    for (label, part) in [
                        (
                            "└ of which the core, postel-proto (`Client::poll`, `submit`, `handle_*`)",
                            per(|c| c.core),
                        ),
                        (
                            "└ of which postel-mime encoding (`Message::encoder`, `Encoder::read`)",
                            per(|c| c.mime),
                        ),
                    ] {
                        table.rows.push(vec![label.into(), format!("{part:.0}"), String::new()]);
                    }
                }
            }
            Err(e) => {
                progress(&format!("cpu: {} {e}", who.name()));
                failures.push(format!("cpu/{}: {e}", who.name()));
            }
        }
    }
    table
}

/// Section 6: socket system calls per message, counted with strace.
fn syscalls(plan: &Plan, sink: &Sink, sim: &Sim, failures: &mut Vec<String>) -> Table {
    let n = plan.callgrind_messages;
    let mut table = Table::new(
        "System calls on the socket per message (strace)",
        &format!(
            "`strace -ff -yy` on the client; counted: writes (`write`, `writev`, `sendto`, \
             `sendmsg`) and reads (`read`, `readv`, `recvfrom`, `recvmsg`) on the TCP socket to \
             the server that moved data (not `EAGAIN`, not `MSG_PEEK`). {n} then {} messages, \
             1 kB, 1 recipient, one connection; the difference ÷ {n}. Against a PIPELINING \
             server with no CHUNKING the least is 2 writes and 2 reads, with CHUNKING 1 and 1; \
             a write not answered before the next one risks a Nagle stall.",
            2 * n
        ),
        &[
            "Contender",
            "smtp-sink writes/msg",
            "smtp-sink reads/msg",
            "postel-sim (CHUNKING) writes/msg",
            "postel-sim reads/msg",
        ],
    );
    if Command::new("strace").arg("-V").output().is_err() {
        progress("syscalls: strace not installed: section skipped");
        table
            .findings
            .push("Not measured: strace is not installed here (`apt-get install strace`).".into());
        return table;
    }
    for &who in Contender::ALL {
        let mut row = vec![who.label().to_string()];
        for (name, addr) in [("smtp-sink", sink.addr()), ("postel-sim", sim.addr())] {
            let spec = plan.spec(addr);
            let count = |m: u64| -> io::Result<(u64, u64)> {
                strace_socket_calls(who.fixed_count_command(&spec, m)?, addr)
            };
            let result = count(n).and_then(|a| Ok((a, count(2 * n)?)));
            sim.forget();
            match result {
                Ok(((w1, r1), (w2, r2))) => {
                    let per = |a: u64, b: u64| b.saturating_sub(a) as f64 / n as f64;
                    progress(&format!(
                        "syscalls/{name}: {} {:.2} writes, {:.2} reads per message",
                        who.name(),
                        per(w1, w2),
                        per(r1, r2)
                    ));
                    row.push(format!("{:.2}", per(w1, w2)));
                    row.push(format!("{:.2}", per(r1, r2)));
                }
                Err(e) => {
                    progress(&format!("syscalls/{name}: {} {e}", who.name()));
                    failures.push(format!("syscalls/{name}/{}: {e}", who.name()));
                    row.extend(["failed".to_string(), String::new()]);
                }
            }
        }
        table.rows.push(row);
    }
    table
}

/// Runs `cmd` under `strace -ff -yy` and counts its data-moving writes and reads on TCP
/// sockets connected to `server`.
fn strace_socket_calls(cmd: Command, server: SocketAddr) -> io::Result<(u64, u64)> {
    let dir = std::env::temp_dir().join(format!("postel-bench-strace.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let status = Command::new("strace")
        .args(["-ff", "-yy", "-s", "0", "-e"])
        .arg("trace=write,writev,sendto,sendmsg,read,readv,recvfrom,recvmsg")
        .arg("-o")
        .arg(dir.join("t"))
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()?;
    let peer = format!("->{server}]>");
    let (mut writes, mut reads) = (0, 0);
    for entry in std::fs::read_dir(&dir)?.flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in text.lines() {
            let Some((call, _)) = line.split_once('(') else {
                continue;
            };
            if !line.contains(&peer) || line.contains("MSG_PEEK") {
                continue;
            }
            let moved = line
                .rsplit_once(") = ")
                .and_then(|(_, r)| r.split_whitespace().next())
                .and_then(|r| r.parse::<i64>().ok())
                .is_some_and(|r| r > 0);
            if !moved {
                continue;
            }
            match call {
                "write" | "writev" | "sendto" | "sendmsg" => writes += 1,
                "read" | "readv" | "recvfrom" | "recvmsg" => reads += 1,
                _ => {}
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if !status.success() {
        return Err(io::Error::other(format!("strace exited with {status}")));
    }
    Ok((writes, reads))
}

/// The instructions of one callgrind run of `cmd`, whole process.
pub fn callgrind_total(cmd: Command) -> io::Result<u64> {
    callgrind(cmd).map(|c| c.total)
}

/// Instruction counts of one callgrind run.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    /// The whole process.
    total: u64,
    /// Inclusive cost of postel-proto's entry points (the driver calls them; they do not
    /// call each other), 0 for the other contenders.
    core: u64,
    /// Inclusive cost of postel-mime's encoder (setting up and reading).
    mime: u64,
}

/// Runs `cmd` under callgrind and reads its instruction counts.
fn callgrind(cmd: Command) -> io::Result<Counts> {
    let out = std::env::temp_dir().join(format!("postel-bench-callgrind.{}", std::process::id()));
    let mut vg = Command::new("valgrind");
    vg.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(cmd.get_program())
        .args(cmd.get_args());
    let status = vg
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()?;
    let text = std::fs::read_to_string(&out);
    let annotated = Command::new("callgrind_annotate")
        .args(["--inclusive=yes", "--threshold=100"])
        .arg(&out)
        .output();
    let _ = std::fs::remove_file(&out);
    if !status.success() {
        return Err(io::Error::other(format!("valgrind exited with {status}")));
    }
    let total = text?
        .lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .ok_or_else(|| io::Error::other("no totals in the callgrind output"))?;
    let annotated = annotated
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    Ok(Counts {
        total,
        core: inclusive(&annotated, CORE_ENTRIES),
        mime: inclusive(&annotated, MIME_ENTRIES),
    })
}

const CORE_ENTRIES: &[&str] = &[
    "postel_proto::session::Client::poll",
    "postel_proto::session::Client::submit",
    "postel_proto::session::Client::handle_sent",
    "postel_proto::session::Client::handle_received",
    "postel_proto::session::Client::handle_body",
    "postel_proto::session::Client::quit",
];

const MIME_ENTRIES: &[&str] = &[
    "postel_mime::message::Message::encoder",
    "postel_mime::encoder::Encoder::read",
];

/// Sums the inclusive cost of the functions named, from `callgrind_annotate --inclusive`
/// lines (`  1,234 (12.3%)  file.rs:path::to::function [binary]`), one line per function:
/// a function inlined elsewhere shows up again under its caller's file and is skipped.
fn inclusive(annotated: &str, functions: &[&str]) -> u64 {
    let mut seen = std::collections::HashSet::new();
    let mut sum = 0;
    for line in annotated.lines() {
        let Some((count, rest)) = line.trim_start().split_once(' ') else {
            continue;
        };
        let Some(function) = rest
            .split_once(".rs:")
            .map(|(_, f)| f.split(" [").next().unwrap_or(f).trim())
        else {
            continue;
        };
        if functions.contains(&function) && seen.insert(function.to_string()) {
            sum += count.replace(',', "").parse::<u64>().unwrap_or(0);
        }
    }
    sum
}

/// The commit measured, and whether the crates had uncommitted changes (the binary is built
/// from the working tree).
fn revision() -> String {
    let repo = repo_root();
    let repo = repo.to_string_lossy();
    let head = command_line("git", &["-C", &repo, "rev-parse", "--short", "HEAD"]);
    let dirty = command_line(
        "git",
        &["-C", &repo, "status", "--porcelain", "--", "crates"],
    );
    if dirty.is_empty() {
        head
    } else {
        format!("{head} + uncommitted changes")
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn loadavg_1() -> String {
    loadavg()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_string()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            let s = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&s).trim().to_string()
        })
        .unwrap_or_else(|| "unknown".into())
}

fn locked_version(krate: &str) -> String {
    let lock = std::fs::read_to_string(repo_root().join("Cargo.lock")).unwrap_or_default();
    let needle = format!("name = \"{krate}\"\nversion = \"");
    lock.find(&needle)
        .and_then(|i| lock[i + needle.len()..].split('"').next())
        .unwrap_or("?")
        .to_string()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn document(
    plan: &Plan,
    tables: &[Table],
    failures: &[String],
    load_before: &str,
    load_after: &str,
) -> String {
    let date = command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let mut doc = String::from("# Postel benchmarks\n\n");
    doc.push_str(&format!(
        "Run {date}{}, with `cargo run --release -p postel-bench{}` (crates/bench; \
         `scripts/bench.sh`). Every figure comes from this one run on this one machine. \
         Ratios divide Postel's figure by the contender's (above 1: Postel is faster), \
         comparing like with like: blocking libraries and tools with Postel's blocking \
         `Client`, async libraries with Postel's tokio `AsyncClient`/`Pool`.\n\n",
        if plan.quick {
            " (quick mode: short runs, small sizes)"
        } else {
            ""
        },
        if plan.quick { " -- --quick" } else { "" },
    ));
    doc.push_str(&format!(
        "- Machine: {} cores ({}), kernel {}, {}\n",
        command_line("nproc", &[]),
        cpu_model(),
        command_line("uname", &["-r"]),
        command_line(
            "sh",
            &["-c", "free -g | awk '/Mem:/ {print $2 \" GiB RAM\"}'"]
        ),
    ));
    doc.push_str(&format!(
        "- Load average (1/5/15 min): {load_before} before, {load_after} after (other builds \
         share these cores: time-based figures are noisier than instruction counts)\n"
    ));
    doc.push_str(&format!(
        "- Postel {} (`{}`), lettre {}, mail-send {} (mail-builder {}), {}, Postfix {}; {}\n\n",
        env!("CARGO_PKG_VERSION"),
        revision(),
        locked_version("lettre"),
        locked_version("mail-send"),
        locked_version("mail-builder"),
        command_line("python3", &["--version"]),
        command_line("postconf", &["-d", "-h", "mail_version"]),
        command_line("rustc", &["--version"]),
    ));
    for t in tables {
        doc.push_str(&t.markdown());
    }
    if let Ok(why) =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("WHY.md"))
    {
        doc.push_str(&why);
        doc.push('\n');
    }
    if !failures.is_empty() {
        doc.push_str("### Runs that failed\n\n");
        for f in failures {
            doc.push_str(&format!("- {f}\n"));
        }
        doc.push('\n');
    }
    doc
}

/// Used by [`Postfix`] runs: the private instance keeps delivering after a run; wait for
/// its queue to drain so the next contender is not measured against Postfix's own load.
pub fn wait_for_empty_queue(config_dir: &Path, within: Duration) {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        let out = Command::new("postqueue")
            .arg("-c")
            .arg(config_dir)
            .arg("-p")
            .output();
        match out {
            Ok(o) if String::from_utf8_lossy(&o.stdout).contains("Mail queue is empty") => return,
            Ok(_) => std::thread::sleep(Duration::from_millis(200)),
            Err(_) => return,
        }
    }
}
