//! Runs one contender as its own process and measures it: wall time, peak resident set, and
//! the `RESULT` line it prints.
//!
//! Peak RSS is `VmHWM` of the contender's own address space: the Rust and Python contenders
//! read it from `/proc/self/status` as they finish (`hwm=` in their report), and the harness
//! also samples `/proc/<pid>/status` every 5 ms while the process runs (the only source for
//! `smtp-source`). Not `ru_maxrss` from `wait4`: Linux carries the high-water mark of the
//! address space a child was forked from across `exec`, so every child would report at least
//! the harness's own RSS.

use std::io::{self, Read};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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

/// The line a contender prints on success:
/// `RESULT msgs=<messages> secs=<timed seconds> hwm=<peak RSS in KiB>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Report {
    /// Messages accepted in the timed phase.
    pub messages: u64,
    /// Length of the timed phase.
    pub secs: f64,
    /// The process's own `VmHWM` at the end, KiB (0: not reported).
    pub hwm_kib: u64,
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
                "hwm" => r.hwm_kib = v.parse().ok()?,
                _ => {}
            }
        }
        Some(r)
    }

    /// Formats the line [`Report::parse`] reads.
    pub fn line(&self) -> String {
        format!(
            "RESULT msgs={} secs={:.6} hwm={}",
            self.messages, self.secs, self.hwm_kib
        )
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

/// Spawns `cmd`, samples its peak RSS while it runs, and collects its output.
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
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(hwm_kib(&format!("/proc/{pid}/status")));
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let mut stdout = String::new();
    if let Some(o) = out.as_mut() {
        o.read_to_string(&mut stdout)?;
    }
    let status = child.wait()?;
    let wall = start.elapsed();
    done.store(true, Ordering::Relaxed);
    let sampled = sampler.join().unwrap_or(0);
    let stderr = err_reader.join().unwrap_or_default();
    let report = Report::parse(&stdout);
    Ok(Run {
        wall,
        max_rss_kib: sampled.max(report.map_or(0, |r| r.hwm_kib)),
        report,
        ok: status.success(),
        stderr,
    })
}

/// `VmHWM` from a `/proc/.../status` file, KiB (0 when gone or unreadable).
pub fn hwm_kib(status_path: &str) -> u64 {
    std::fs::read_to_string(status_path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_line_round_trips() {
        let r = Report {
            messages: 42,
            secs: 1.5,
            hwm_kib: 7,
        };
        let back = Report::parse(&format!("noise\n{}\n", r.line())).unwrap_or_default();
        assert_eq!((back.messages, back.hwm_kib), (42, 7));
        assert_eq!(back.secs, 1.5);
    }

    #[test]
    fn run_samples_a_child_s_own_peak_rss() {
        let r = run(Command::new("sleep").arg("0.1")).unwrap_or_default();
        assert!(r.ok);
        assert!(r.max_rss_kib > 0);
    }
}
