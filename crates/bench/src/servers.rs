//! The servers the contenders send to: Postfix's `smtp-sink` (fast and neutral: PIPELINING,
//! no CHUNKING), `postel-sim` (PIPELINING + CHUNKING, for the one-round-trip figure), and a
//! real Postfix started privately for the benchmark (a realistic figure: queue files, fsync,
//! local delivery to a Maildir).

use std::io::{self, BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `smtp-sink` as a child process; killed on drop.
#[derive(Debug)]
pub struct Sink {
    child: Child,
    addr: SocketAddr,
}

impl Sink {
    /// Starts `/usr/sbin/smtp-sink` on a free loopback port (on CPU `pin` only, if given)
    /// and waits for its greeting.
    pub fn start(pin: Option<usize>) -> io::Result<Sink> {
        let port = free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut cmd = match pin {
            Some(cpu) => {
                let mut t = Command::new("taskset");
                t.arg("-c").arg(cpu.to_string()).arg(sink_path());
                t
            }
            None => Command::new(sink_path()),
        };
        // -u: smtp-sink refuses to run as root without a user to drop to.
        if is_root() {
            cmd.args(["-u", "nobody"]);
        }
        // -m: allow all our concurrent connections; 1000: listen backlog.
        cmd.args(["-4", "-m", "1024", &format!("127.0.0.1:{port}"), "1000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn()?;
        let sink = Sink { child, addr };
        wait_for_greeting(addr, Duration::from_secs(5))?;
        Ok(sink)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Path of `smtp-sink` (Debian's `postfix` package installs it in /usr/sbin).
pub fn sink_path() -> &'static str {
    "/usr/sbin/smtp-sink"
}

/// Path of `smtp-source`.
pub fn source_path() -> &'static str {
    "/usr/sbin/smtp-source"
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// An unused loopback port (bound, then released for the server to take).
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Connects until a `220` greeting arrives or `within` passes.
pub fn wait_for_greeting(addr: SocketAddr, within: Duration) -> io::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let attempt = TcpStream::connect(addr).and_then(|s| {
            s.set_read_timeout(Some(Duration::from_secs(2)))?;
            let mut line = String::new();
            BufReader::new(s).read_line(&mut line)?;
            if line.starts_with("220") {
                Ok(())
            } else {
                Err(io::Error::other(format!("greeting: {line:?}")))
            }
        });
        match attempt {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// `postel-sim` in this process, with CHUNKING and PIPELINING and nothing that costs a
/// round trip (no STARTTLS, so no certificate either).
pub struct Sim {
    inner: postel_sim::BlockingSimulator,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim").field("addr", &self.addr()).finish()
    }
}

impl Sim {
    /// Starts the simulator on an ephemeral loopback port.
    pub fn start() -> io::Result<Sim> {
        let config = postel_sim::Config::builder()
            .hostname("sim.example.test")
            .without(postel_sim::Extension::StartTls)
            .build();
        let inner = postel_sim::BlockingSimulator::start(config).map_err(io::Error::other)?;
        Ok(Sim { inner })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr()
    }

    /// Drops what it stored (it keeps every message and transcript for tests).
    pub fn forget(&self) {
        let _ = self.inner.take_messages();
    }
}

/// A private Postfix for the benchmark, started with `scripts/postfix-up.sh` in its own
/// state directory on its own ports, so the shared test instance's Maildir never sees a
/// benchmark message.
#[derive(Debug)]
pub struct Postfix {
    state: PathBuf,
    addr: SocketAddr,
    maildir: PathBuf,
    config_dir: PathBuf,
}

/// Ports of the private instance: the test instance's plus 10000.
const POSTFIX_PORTS: &[(&str, u16)] = &[
    ("PLAIN", 22525),
    ("SUBMISSION", 22587),
    ("SUBMISSION_NOTLS_AUTH", 22588),
    ("IMPLICIT", 22465),
    ("BAD_EXPIRED", 22466),
    ("BAD_WRONGHOST", 22467),
    ("BAD_UNTRUSTED", 22468),
    ("BAD_EXPIRED_STARTTLS", 22476),
    ("BAD_WRONGHOST_STARTTLS", 22477),
    ("BAD_UNTRUSTED_STARTTLS", 22478),
    ("CLIENTCERT", 22489),
    ("DEVICE_STARTTLS", 22590),
    ("DEVICE_RSA", 22591),
    ("DEVICE_RSA_IMPLICIT", 22592),
    ("DEVICE_NOCHAIN", 22593),
    ("DEVICE_EXPIRED", 22594),
    ("DEVICE_WRONGHOST", 22595),
    ("DEVICE_UNTRUSTED", 22596),
];

impl Postfix {
    /// Starts (or reuses) the private instance; `Err` says why Postfix is not available.
    pub fn start(repo: &Path, state: &Path) -> io::Result<Postfix> {
        let script = repo.join("scripts/postfix-up.sh");
        let mut cmd = Command::new("bash");
        cmd.arg(&script).arg(state).env("POSTEL_POSTFIX_IPV6", "0");
        for (name, port) in POSTFIX_PORTS {
            cmd.env(format!("POSTEL_POSTFIX_PORT_{name}"), port.to_string());
        }
        let out = cmd.stdin(Stdio::null()).output()?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err.lines().last().unwrap_or("failed").to_string();
            return Err(io::Error::other(format!("postfix-up.sh: {last}")));
        }
        let env = std::fs::read_to_string(state.join("env"))?;
        let var = |name: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .map(|v| v.trim_matches('\'').to_string())
                .ok_or_else(|| io::Error::other(format!("{name} missing from env file")))
        };
        let addr = var("POSTEL_POSTFIX_PLAIN")?
            .parse()
            .map_err(|e| io::Error::other(format!("POSTEL_POSTFIX_PLAIN: {e}")))?;
        let maildir = PathBuf::from(var("POSTEL_POSTFIX_MAILDIR")?);
        let config_dir = PathBuf::from(var("POSTEL_POSTFIX_CONFIG_DIR")?);
        Ok(Postfix {
            state: state.to_path_buf(),
            addr,
            maildir,
            config_dir,
        })
    }

    /// Its plain listener (STARTTLS offered, not required; PIPELINING and CHUNKING).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits (up to a minute) until everything queued was delivered, then empties the
    /// Maildir: the next run must not compete with Postfix still delivering the last one.
    pub fn settle(&self) {
        crate::harness::wait_for_empty_queue(&self.config_dir, Duration::from_secs(60));
        self.empty_maildir();
    }

    /// Deletes the delivered benchmark messages, so repeated runs do not fill the disk.
    pub fn empty_maildir(&self) {
        for sub in ["new", "cur", "tmp"] {
            if let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) {
                for e in entries.flatten() {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }

    /// Stops the private instance (`scripts/postfix-down.sh`).
    pub fn stop(&self, repo: &Path) {
        self.empty_maildir();
        let _ = Command::new("bash")
            .arg(repo.join("scripts/postfix-down.sh"))
            .arg(&self.state)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
