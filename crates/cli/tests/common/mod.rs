//! Helpers shared by the tests that run the built `postel` binary against postel-sim on
//! loopback. Each test binary uses some of them.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use postel_sim::{BlockingSimulator, Config};

/// The built `postel` binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_postel");

/// A running simulator, a temporary directory and the simulator's CA certificate in it.
pub struct Setup {
    pub sim: BlockingSimulator,
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
}

impl Setup {
    /// Starts the simulator with `config` and writes its CA certificate to `ca.pem`.
    pub fn start(config: Config) -> Setup {
        let sim = BlockingSimulator::start(config).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, sim.ca_pem().unwrap()).unwrap();
        Setup { sim, dir, ca }
    }

    /// A simulator that requires AUTH and knows alice with the password `s3cret-pw`.
    pub fn with_alice() -> Setup {
        Setup::start(
            Config::builder()
                .user("alice", "s3cret-pw")
                .require_auth(true)
                .build(),
        )
    }

    /// Writes `config.toml`: a default account `sim` for the simulator over STARTTLS with
    /// its CA, then the lines `keys`. Returns its path.
    pub fn account_config(&self, keys: &str) -> PathBuf {
        let path = self.dir.path().join("config.toml");
        std::fs::write(
            &path,
            format!(
                "default = \"sim\"\n[accounts.sim]\nhost = \"127.0.0.1\"\nport = {}\n\
                 tls = \"starttls\"\nca_file = {:?}\n{keys}",
                self.sim.addr().port(),
                self.ca.display().to_string()
            ),
        )
        .unwrap();
        path
    }
}

/// Runs `c` with `stdin` piped in (or /dev/null) and collects its output.
pub fn run(mut c: Command, stdin: Option<&[u8]>) -> Output {
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The exit code is `want`; on failure shows stdout and stderr.
#[track_caller]
pub fn assert_code(o: &Output, want: i32) {
    assert_eq!(
        o.status.code(),
        Some(want),
        "stdout:\n{}\nstderr:\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
}
