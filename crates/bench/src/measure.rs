//! Runs one contender as its own process and measures it from outside: wall time, peak
//! resident set (the kernel's `ru_maxrss` from `wait4`, so each contender's figure is its
//! own and not the harness's), CPU time, and the `RESULT` line it prints.

use std::io::{self, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one contender process did.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// From spawn to exit.
    pub wall: Duration,
    /// Peak resident set size, in KiB.
    pub max_rss_kib: u64,
    /// The contender's own report (see [`Report`]), if it printed one.
    pub report: Option<Report>,
    /// Exit status was success.
    pub ok: bool,
    /// Standard error, for the failure message.
    pub stderr: String,
}

/// The line a contender prints on success: `RESULT msgs=<messages> secs=<timed seconds>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Report {
    /// Messages accepted in the timed phase.
    pub messages: u64,
    /// Length of the timed phase.
    pub secs: f64,
}

impl Report {
    /// Parses a `RESULT ...` line out of a contender's standard output.
    pub fn parse(stdout: &str) -> Option<Report> {
        let line = stdout.lines().rev().find(|l| l.starts_with("RESULT "))?;
        let mut r = Report::default();
        for field in line.split_whitespace().skip(1) {
            let (k, v) = field.split_once('=')?;
            match k {
                "msgs" => r.messages = v.parse().ok()?,
                "secs" => r.secs = v.parse().ok()?,
                _ => {}
            }
        }
        Some(r)
    }

    /// Formats the line [`Report::parse`] reads.
    pub fn line(&self) -> String {
        format!("RESULT msgs={} secs={:.6}", self.messages, self.secs)
    }

    /// Messages per second in the timed phase.
    pub fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.messages as f64 / self.secs
        } else {
            0.0
        }
    }
}

/// Spawns `cmd`, collects its output, and reaps it with `wait4` to get its own rusage.
pub fn run(cmd: &mut Command) -> io::Result<Run> {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let mut stdout = String::new();
    if let Some(o) = out.as_mut() {
        o.read_to_string(&mut stdout)?;
    }
    let (status, usage) = wait4(child.id())?;
    let wall = start.elapsed();
    let stderr = err_reader.join().unwrap_or_default();
    Ok(Run {
        wall,
        max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        report: Report::parse(&stdout),
        ok: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        stderr,
    })
}

/// `std::process::Child::wait` gives no rusage; `wait4` does, for exactly this child.
#[allow(unsafe_code)]
fn wait4(pid: u32) -> io::Result<(i32, libc::rusage)> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::other("pid out of range"))?;
    let mut status = 0;
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals of the right types.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            return Ok((status, usage));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_line_round_trips() {
        let r = Report {
            messages: 42,
            secs: 1.5,
        };
        let back = Report::parse(&format!("noise\n{}\n", r.line())).unwrap_or_default();
        assert_eq!(back.messages, 42);
        assert_eq!(back.secs, 1.5);
    }

    #[test]
    fn run_reports_a_child_s_own_peak_rss() {
        let r = run(Command::new("true").arg("x")).unwrap_or_default();
        assert!(r.ok);
        assert!(r.max_rss_kib > 0);
    }
}
