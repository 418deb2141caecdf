//! The cold submission: connect, EHLO, STARTTLS, TLS handshake, EHLO, AUTH, one 1 kB
//! message, up to the message's reply (QUIT is not waited for), through the delaying proxy,
//! against `postel-sim` with STARTTLS and AUTH (its generated CA written to a file every
//! contender trusts; only the mechanism measured is offered, so every client uses it).
//!
//! Round trips are counted from the proxy's view: a *turn* is a run of chunks from the
//! server with nothing from the client in between (the greeting is the first). Each turn is
//! named for the step of the first server reply in it (taken from the simulator's live
//! transcript, timestamped by a watcher thread); a turn with no reply in it is the TLS
//! handshake. Time runs from the proxy's accept to the moment the proxy delivers the turn
//! with the message's reply to the client; TCP's own handshake (one more RTT on a real
//! link, the same for every client) is not in it, as the proxy accepts on loopback.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use postel_sim::{BlockingSimulator, Config, Mechanism, Side};

use crate::contender::python;
use crate::harness::{progress, Facts};
use crate::proxy::{Chunk, Connection, Proxy};
use crate::report::Table;

/// The account every contender logs in with.
pub const USER: &str = "bench";
/// Its password.
pub const PASSWORD: &str = "bench-password";

/// The steps of a cold submission, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// The server's greeting.
    Greeting,
    /// EHLO in plaintext.
    Ehlo,
    /// STARTTLS.
    StartTls,
    /// The TLS handshake.
    Tls,
    /// EHLO again, under TLS.
    EhloTls,
    /// The SASL exchange.
    Auth,
    /// MAIL, RCPT, DATA or BDAT and the content, up to the message's reply.
    Message,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 7] = [
        Step::Greeting,
        Step::Ehlo,
        Step::StartTls,
        Step::Tls,
        Step::EhloTls,
        Step::Auth,
        Step::Message,
    ];

    /// Column heading.
    pub fn label(self) -> &'static str {
        match self {
            Step::Greeting => "greeting",
            Step::Ehlo => "EHLO",
            Step::StartTls => "STARTTLS",
            Step::Tls => "TLS",
            Step::EhloTls => "EHLO",
            Step::Auth => "AUTH",
            Step::Message => "message",
        }
    }
}

/// A mechanism the section measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mech {
    /// AUTH PLAIN.
    Plain,
    /// AUTH SCRAM-SHA-256.
    Scram,
}

impl Mech {
    /// Its SASL name.
    pub fn name(self) -> &'static str {
        match self {
            Mech::Plain => "PLAIN",
            Mech::Scram => "SCRAM-SHA-256",
        }
    }
}

/// A client measured in the cold section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// `postel-bench cold NAME` (Postel's two clients, lettre's two, mail-send).
    Rust(&'static str, &'static str),
    /// Python's smtplib.
    Smtplib,
    /// msmtp (Debian).
    Msmtp,
    /// swaks (Debian).
    Swaks,
}

impl Who {
    /// Every client, Postel first.
    pub const ALL: &'static [Who] = &[
        Who::Rust("postel-blocking", "postel `Client` (blocking)"),
        Who::Rust("postel-tokio", "postel `AsyncClient` (tokio)"),
        Who::Rust(
            "postel-blocking-auth-pipelining",
            "postel `Client`, `Options::auth_pipelining` (opt-in; lenient simulator)",
        ),
        Who::Rust("lettre-blocking", "lettre `SmtpTransport` (blocking)"),
        Who::Rust("lettre-tokio", "lettre `AsyncSmtpTransport` (tokio)"),
        Who::Rust("mail-send", "mail-send `SmtpClient` (tokio)"),
        Who::Smtplib,
        Who::Msmtp,
        Who::Swaks,
    ];

    /// Key in the facts.
    pub fn name(self) -> &'static str {
        match self {
            Who::Rust(n, _) => n,
            Who::Smtplib => "smtplib",
            Who::Msmtp => "msmtp",
            Who::Swaks => "swaks",
        }
    }

    /// Row label.
    pub fn label(self) -> &'static str {
        match self {
            Who::Rust(_, l) => l,
            Who::Smtplib => "Python `smtplib`",
            Who::Msmtp => "msmtp (C, GnuTLS, libgsasl)",
            Who::Swaks => "swaks (Perl)",
        }
    }

    /// Whether it can do `mech` at all (lettre, mail-send, smtplib and swaks have no SCRAM).
    pub fn supports(self, mech: Mech) -> bool {
        mech == Mech::Plain || matches!(self.name(), "postel-blocking" | "postel-tokio" | "msmtp")
    }

    /// Runs against the lenient simulator only (postel-sim's strict mode refuses commands
    /// pipelined after AUTH, where RFC 4954 §4 allows them after AUTH PLAIN).
    pub fn needs_lenient(self) -> bool {
        self.name() == "postel-blocking-auth-pipelining"
    }

    fn command(self, addr: std::net::SocketAddr, ca: &Path, mech: Mech) -> io::Result<Command> {
        let ca = ca.to_string_lossy().into_owned();
        Ok(match self {
            Who::Rust(name, _) => {
                let mut c = Command::new(std::env::current_exe()?);
                c.args(["cold", name, "--addr", &addr.to_string(), "--ca", &ca])
                    .args(["--user", USER, "--password", PASSWORD]);
                c
            }
            Who::Smtplib => {
                let mut c = Command::new(python());
                c.arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/smtplib_cold.py"))
                    .args(["--addr", &addr.to_string(), "--ca", &ca])
                    .args(["--user", USER, "--password", PASSWORD]);
                c
            }
            Who::Msmtp => {
                let mut c = Command::new("msmtp");
                c.arg("--file=/dev/null")
                    .arg(format!("--host={}", addr.ip()))
                    .arg(format!("--port={}", addr.port()))
                    .args(["--tls=on", "--tls-starttls=on"])
                    .arg(format!("--tls-trust-file={ca}"))
                    .arg(format!(
                        "--auth={}",
                        match mech {
                            Mech::Plain => "plain",
                            Mech::Scram => "scram-sha-256",
                        }
                    ))
                    .arg(format!("--user={USER}"))
                    .arg(format!("--passwordeval=echo {PASSWORD}"))
                    .arg(format!("--domain={}", crate::message::EHLO_NAME))
                    .arg(format!("--from={}", crate::message::FROM))
                    .arg("rcpt1@example.test");
                c
            }
            Who::Swaks => {
                let mut c = Command::new("swaks");
                c.arg("--server")
                    .arg(addr.to_string())
                    .args(["--tls", "--tls-verify", "--tls-ca-path", &ca])
                    .args(["--auth", "PLAIN", "--auth-user", USER, "--auth-password"])
                    .arg(PASSWORD)
                    .args(["--ehlo", crate::message::EHLO_NAME])
                    .args(["--from", crate::message::FROM, "--to", "rcpt1@example.test"])
                    .args(["--body", &crate::message::body_text(1000)])
                    .arg("--silent");
                c
            }
        })
    }

    /// Bytes for the contender's standard input (msmtp reads the message there).
    fn stdin(self) -> Option<Vec<u8>> {
        (self == Who::Msmtp).then(|| {
            format!(
                "From: {}\r\nTo: rcpt1@example.test\r\nSubject: {}\r\n\r\n{}",
                crate::message::FROM,
                crate::message::SUBJECT,
                crate::message::body_text(1000).replace('\n', "\r\n")
            )
            .into_bytes()
        })
    }
}

/// The simulator for one mechanism: STARTTLS, AUTH with only that mechanism after TLS,
/// PIPELINING and CHUNKING, its CA in `ca`.
pub struct ColdServer {
    /// The simulator.
    pub sim: BlockingSimulator,
    /// Its CA certificate (PEM).
    pub ca: PathBuf,
}

impl ColdServer {
    /// Starts it (strict, or lenient: pipelining not policed), writing the CA to
    /// `dir/ca-<mech>[-lenient].pem`.
    pub fn start(mech: Mech, lenient: bool, dir: &Path) -> io::Result<ColdServer> {
        std::fs::create_dir_all(dir)?;
        let suffix = if lenient { "-lenient" } else { "" };
        let ca = dir.join(format!("ca-{}{suffix}.pem", mech.name()));
        let builder = Config::builder();
        let builder = if lenient { builder.lenient() } else { builder };
        let config = builder
            .hostname("localhost")
            .user(USER, PASSWORD)
            .auth_mechanisms(&[match mech {
                Mech::Plain => Mechanism::Plain,
                Mech::Scram => Mechanism::ScramSha256,
            }])
            .require_tls_for_auth(true)
            .write_ca_to(&ca)
            .build();
        let sim = BlockingSimulator::start(config).map_err(io::Error::other)?;
        Ok(ColdServer { sim, ca })
    }
}

/// One transcript line as the watcher saw it appear.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    side: Option<Side>,
    text: String,
}

/// Polls the simulator's live transcript of connection `n` every 200 µs, stamping each
/// new line, until stopped.
fn watch(sim: &BlockingSimulator, n: u64, stop: &AtomicBool, out: &Mutex<Vec<Seen>>) {
    let mut taken = 0;
    loop {
        let done = stop.load(Ordering::SeqCst);
        if let Some(t) = sim.transcript(n) {
            let now = Instant::now();
            let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
            for l in t.lines.iter().skip(taken) {
                o.push(Seen {
                    at: now,
                    side: l.side,
                    text: l.text.clone(),
                });
            }
            taken = t.lines.len();
        }
        if done {
            return;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// What one cold run cost.
#[derive(Debug, Clone, Default)]
pub struct Cost {
    /// Turns per step, in [`Step::ALL`] order.
    pub turns: [u32; 7],
    /// From accept to the delivery of the message's reply.
    pub time: Duration,
}

impl Cost {
    /// All the turns.
    pub fn total(&self) -> u32 {
        self.turns.iter().sum()
    }
}

/// Runs `who` once against `server` through `proxy` (one way `one_way`).
pub fn run_once(
    who: Who,
    mech: Mech,
    server: &ColdServer,
    proxy: &Proxy,
    one_way: Duration,
) -> io::Result<Cost> {
    let _ = proxy.take_connections();
    let n = server.sim.connections() + 1;
    let stop = AtomicBool::new(false);
    let seen = Mutex::new(Vec::new());
    let status = std::thread::scope(|s| {
        s.spawn(|| watch(&server.sim, n, &stop, &seen));
        let result = (|| {
            let mut cmd = who.command(proxy.addr(), &server.ca, mech)?;
            let input = who.stdin();
            cmd.stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
            let mut child = cmd.spawn()?;
            if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
                use std::io::Write;
                stdin.write_all(&bytes)?;
            }
            let out = child.wait_with_output()?;
            // Let the last replies reach the transcript and the proxy's log.
            std::thread::sleep(one_way * 2 + Duration::from_millis(20));
            Ok::<_, io::Error>(out)
        })();
        stop.store(true, Ordering::SeqCst);
        result
    })?;
    let _ = server.sim.take_messages();
    if !status.status.success() {
        let err = String::from_utf8_lossy(&status.stderr);
        return Err(io::Error::other(format!(
            "{} exited with {}: {}",
            who.name(),
            status.status,
            err.trim().lines().last().unwrap_or("")
        )));
    }
    let conns = proxy.take_connections();
    let conn = conns
        .first()
        .ok_or_else(|| io::Error::other("the proxy saw no connection"))?;
    let seen = seen.into_inner().unwrap_or_else(|e| e.into_inner());
    analyse(conn, &seen, one_way)
}

/// The start of each server turn, and when its last chunk was read.
fn turns(chunks: &[Chunk]) -> Vec<(Instant, Instant)> {
    let mut sorted = chunks.to_vec();
    sorted.sort_by_key(|c| c.at);
    let mut out: Vec<(Instant, Instant)> = Vec::new();
    let mut in_run = false;
    for c in sorted {
        match (c.from_server, in_run) {
            (true, true) => {
                if let Some(last) = out.last_mut() {
                    last.1 = c.at;
                }
            }
            (true, false) => {
                out.push((c.at, c.at));
                in_run = true;
            }
            (false, _) => in_run = false,
        }
    }
    out
}

/// The step each server line of the transcript answers.
fn steps(seen: &[Seen]) -> Vec<(Instant, Step)> {
    let mut out = Vec::new();
    let mut last_client: Option<&str> = None;
    let (mut tls, mut in_auth, mut quit) = (false, false, false);
    for l in seen {
        match l.side {
            Some(Side::Client) => {
                let t = l.text.as_str();
                let verb = t.split(' ').next().unwrap_or("").to_ascii_uppercase();
                if verb == "AUTH" {
                    in_auth = true;
                }
                if verb == "QUIT" {
                    quit = true;
                }
                last_client = Some(t);
            }
            Some(Side::Server) => {
                let step = match last_client {
                    None => Step::Greeting,
                    Some(_) if in_auth => Step::Auth,
                    Some(c) => {
                        let verb = c.split(' ').next().unwrap_or("").to_ascii_uppercase();
                        match verb.as_str() {
                            "EHLO" | "HELO" if tls => Step::EhloTls,
                            "EHLO" | "HELO" => Step::Ehlo,
                            "STARTTLS" => {
                                tls = true;
                                Step::StartTls
                            }
                            _ => Step::Message,
                        }
                    }
                };
                if in_auth && !l.text.starts_with("334") {
                    in_auth = false;
                }
                if !quit {
                    out.push((l.at, step));
                }
            }
            None => {}
        }
    }
    out
}

/// Names each turn and measures the run (see the module docs).
fn analyse(conn: &Connection, seen: &[Seen], one_way: Duration) -> io::Result<Cost> {
    let turns = turns(&conn.chunks);
    let slack = one_way / 2;
    let mut named: Vec<Option<Step>> = vec![None; turns.len()];
    // The turn of the message's last reply (it may be named for AUTH, when the message was
    // pipelined behind it).
    let mut last = None;
    for (at, step) in steps(seen) {
        // The turn this reply went out in: the last one started by `at` (give or take the
        // watcher's lag, far under the gap between turns).
        if let Some(i) = turns.iter().rposition(|(s, _)| *s <= at + slack) {
            named[i].get_or_insert(step);
            if step == Step::Message {
                last = Some(i);
            }
        }
    }
    let last = last.ok_or_else(|| io::Error::other("no reply to the message was seen"))?;
    let mut cost = Cost::default();
    for name in &named[..=last] {
        let step = name.unwrap_or(Step::Tls);
        cost.turns[step as usize] += 1;
    }
    cost.time = (turns[last].1 + one_way).saturating_duration_since(conn.accepted);
    Ok(cost)
}

/// Median of the runs, by time (turns are the same from run to run).
fn median(mut runs: Vec<Cost>) -> Option<Cost> {
    runs.sort_by_key(|c| c.time);
    let i = runs.len() / 2;
    runs.into_iter().nth(i)
}

/// The section: one table per RTT.
pub fn section(
    rtts_ms: &[u64],
    repeat: usize,
    dir: &Path,
    facts: &mut Facts,
    failures: &mut Vec<String>,
) -> io::Result<Vec<Table>> {
    let servers = [
        (
            Mech::Plain,
            false,
            ColdServer::start(Mech::Plain, false, dir)?,
        ),
        (
            Mech::Plain,
            true,
            ColdServer::start(Mech::Plain, true, dir)?,
        ),
        (
            Mech::Scram,
            false,
            ColdServer::start(Mech::Scram, false, dir)?,
        ),
    ];
    let have_msmtp = Command::new("msmtp").arg("--version").output().is_ok();
    let have_swaks = Command::new("swaks").arg("--version").output().is_ok();
    let mut tables = Vec::new();
    for &rtt in rtts_ms {
        let one_way = Duration::from_micros(rtt * 500);
        let mut header = vec!["Client".to_string(), "AUTH".to_string()];
        header.extend(Step::ALL.iter().map(|s| s.label().to_string()));
        header.extend([
            "turns".to_string(),
            "ms".to_string(),
            "÷ lettre (blocking)".to_string(),
        ]);
        let mut table = Table {
            title: format!(
                "Cold submission at {rtt} ms RTT: STARTTLS + AUTH + one message (postel-sim)"
            ),
            note: format!(
                "A new process per run: connect, EHLO, STARTTLS (TLS 1.3, trusting the \
                 simulator's generated CA), EHLO, AUTH with the one mechanism the simulator \
                 offers, one 1 kB message, up to the message's reply (QUIT not waited for). \
                 Through the delaying proxy ({} ms each way). Columns per step: server turns \
                 (round trips) as the proxy sees them, each turn named for the first reply in \
                 it (a turn holding replies of two steps counts for the first; a turn with \
                 no SMTP reply is the TLS handshake). ms: from the proxy's accept to its \
                 delivery of the message's reply, median of {repeat} run(s); TCP's handshake \
                 (one more RTT on a real link, for every client) is not in it. The simulator \
                 offers PIPELINING and CHUNKING, and its SCRAM server-final comes in a 334 \
                 (as Dovecot's and Cyrus's do), which costs the client one empty response. \
                 The opt-in row runs against the simulator in lenient mode, which does not \
                 police pipelining (its strict mode refuses commands after AUTH).",
                rtt / 2
            ),
            header,
            ..Table::default()
        };
        table.findings = findings();
        for (mech, lenient, server) in &servers {
            let proxy = Proxy::start(server.sim.addr(), one_way)?;
            let mut lettre = None;
            for &who in Who::ALL {
                if who.needs_lenient() != *lenient
                    || !who.supports(*mech)
                    || (who == Who::Msmtp && !have_msmtp)
                    || (who == Who::Swaks && !have_swaks)
                {
                    continue;
                }
                let what = format!("cold/{rtt}ms/{}/{}", mech.name(), who.name());
                let mut runs = Vec::new();
                for _ in 0..repeat {
                    match run_once(who, *mech, server, &proxy, one_way) {
                        Ok(c) => runs.push(c),
                        Err(e) => {
                            progress(&format!("{what}: {e}"));
                            failures.push(format!("{what}: {e}"));
                            break;
                        }
                    }
                }
                let mut row = vec![who.label().to_string(), mech.name().to_string()];
                match median(runs) {
                    Some(c) => {
                        let ms = c.time.as_secs_f64() * 1e3;
                        progress(&format!(
                            "{what}: {} turns {:?}, {ms:.1} ms",
                            c.total(),
                            c.turns
                        ));
                        facts.set(format!("{what}/ms"), ms);
                        facts.set(format!("{what}/turns"), f64::from(c.total()));
                        if who.name() == "lettre-blocking" {
                            lettre = Some(ms);
                        }
                        row.extend(c.turns.iter().map(|t| t.to_string()));
                        row.push(c.total().to_string());
                        row.push(format!("{ms:.1}"));
                        row.push(lettre.map_or("–".into(), |l| format!("×{:.2}", ms / l)));
                    }
                    None => row.push("failed".into()),
                }
                table.rows.push(row);
            }
        }
        // Postel's rows come before lettre's: fill in their ratio now.
        for row in &mut table.rows {
            let (Some(ms), Some(mech)) = (row.get(10).cloned(), row.get(1).cloned()) else {
                continue;
            };
            let lettre = facts.get(&format!("cold/{rtt}ms/{mech}/lettre-blocking/ms"));
            if let (Ok(ms), Some(l)) = (ms.parse::<f64>(), lettre) {
                row[11] = format!("×{:.2}", ms / l);
            }
        }
        tables.push(table);
    }
    Ok(tables)
}

/// Why Postel's turns cannot be fewer: the RFC sentence for each one it cannot save.
fn findings() -> Vec<String> {
    [
        "Greeting: RFC 5321 §3.1: \"An SMTP session is initiated when a client opens a \
         connection to a server and the server responds with an opening message.\" The \
         opening may be a 554 refusal, so nothing is sent before it (Postfix's postscreen \
         drops clients that talk first). Exim's PIPE_CONNECT (draft-harris-early-pipe) would \
         save it on a second connection; it is no RFC and no server here offers it.",
        "EHLO, STARTTLS, EHLO: RFC 2920 §3.1: \"The EHLO, DATA, VRFY, EXPN, TURN, QUIT, and \
         NOOP commands can only appear as the last command in a group since their success or \
         failure produces a change of state which the client SMTP must accommodate.\" \
         STARTTLS's 220 must be read before the handshake starts, and RFC 3207 §4.2: \"The \
         client MUST discard any knowledge obtained from the server, such as the list of SMTP \
         service extensions, which was not obtained from the TLS negotiation itself. The \
         client SHOULD send an EHLO command as the first command after a successful TLS \
         negotiation.\"",
        "TLS: one round trip for a TLS 1.3 full handshake (RFC 8446 §2); the EHLO leaves in \
         the flight of the client's Finished, so it costs no turn of its own beyond the \
         EHLO reply.",
        "AUTH: RFC 4954 §4: \"When the AUTH command is used together with the [PIPELINING] \
         extension, the AUTH command MUST be the last command in a pipelined group of \
         commands. The only exception to this rule is when the AUTH command contains an \
         initial response for a SASL mechanism that allows the client to send data first, \
         the SASL mechanism is known to complete in one round-trip, and a security layer is \
         not negotiated by the client.\" SCRAM-SHA-256 takes two round trips by design \
         (RFC 5802 §3: client-first, server-first, client-final, server-final), and a third \
         when the server sends its server-final in a 334 rather than with the 235 (RFC 4954 \
         §4 lets it do either; the client must answer a 334).",
        "Message: with PIPELINING and CHUNKING, MAIL, RCPT and BDAT LAST with the content \
         go in one flight (RFC 2920 §3.1, RFC 3030 §4.2): one turn.",
        "The turn RFC 4954 §4's exception (quoted above) saves: MAIL, RCPT and BDAT may \
         follow AUTH PLAIN with its initial response in the same flight, 6 turns instead of \
         7. Postel does it with `Options::auth_pipelining`, off by default: tried by hand \
         (2026-12-04), Postfix 3.7.11 takes it, even with smtpd_forbid_unauth_pipelining = \
         yes (which does answer NOOP + MAIL in one flight with 554 5.5.0 SMTP protocol \
         synchronization), and so does Exim 4.96 (crates/postel/tests/auth_pipelining.rs \
         sends through both), but postel-sim's strict mode answers it with that 554 and \
         disconnects: it takes AUTH as the last command of a group, whatever the mechanism. \
         Being ready also no longer proves the credentials, and if AUTH fails, the BDAT \
         content is already on its way: a server that takes mail for its own users without \
         AUTH may deliver it while the client reports the AUTH failure.",
        "A TLS turn of 2 at 10 ms RTT: the clients that leave Nagle's algorithm on (none \
         of lettre, mail-send, smtplib and swaks sets TCP_NODELAY) are likely holding their \
         EHLO back behind their unacknowledged Finished, so the server's session tickets come \
         back in a turn of their own; at 100 ms RTT the ACK comes back before the tickets and \
         the count is 1. Postel sets TCP_NODELAY: its EHLO goes out with its Finished.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_are_runs_of_server_chunks() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let chunk = |ms, from_server| Chunk {
            at: at(ms),
            from_server,
        };
        // greeting; EHLO -> reply in two chunks; two pipelined commands -> two replies.
        let chunks = [
            chunk(0, true),
            chunk(10, false),
            chunk(20, true),
            chunk(21, true),
            chunk(40, false),
            chunk(41, false),
            chunk(50, true),
            chunk(51, true),
        ];
        assert_eq!(
            turns(&chunks),
            vec![(at(0), at(0)), (at(20), at(21)), (at(50), at(51))]
        );
    }

    #[test]
    fn replies_are_named_for_the_command_they_answer() {
        let t0 = Instant::now();
        let line = |ms: u64, side, text: &str| Seen {
            at: t0 + Duration::from_millis(ms),
            side: Some(side),
            text: text.into(),
        };
        let seen = [
            line(0, Side::Server, "220 mx"),
            line(1, Side::Client, "EHLO c"),
            line(1, Side::Server, "250 mx"),
            line(2, Side::Client, "STARTTLS"),
            line(2, Side::Server, "220 go"),
            line(3, Side::Client, "EHLO c"),
            line(3, Side::Server, "250 mx"),
            line(4, Side::Client, "AUTH SCRAM-SHA-256 <redacted>"),
            line(4, Side::Server, "334 <redacted>"),
            line(5, Side::Client, "<redacted>"),
            line(5, Side::Server, "235 ok"),
            line(6, Side::Client, "MAIL FROM:<a@b>"),
            line(6, Side::Server, "250 ok"),
            line(7, Side::Client, "QUIT"),
            line(7, Side::Server, "221 bye"),
        ];
        let got: Vec<Step> = steps(&seen).into_iter().map(|(_, s)| s).collect();
        assert_eq!(
            got,
            [
                Step::Greeting,
                Step::Ehlo,
                Step::StartTls,
                Step::EhloTls,
                Step::Auth,
                Step::Auth,
                Step::Message
            ]
        );
    }
}
