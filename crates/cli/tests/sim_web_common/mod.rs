//! What the sim_web tests share: a `postel sim --web` child process and a bare-LF client.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use postel::{Client, TlsMode};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_postel");

/// A `postel sim --web` child process; killed when dropped.
pub struct Bench {
    child: Child,
    pub smtp: SocketAddr,
    pub web: SocketAddr,
}

impl Bench {
    /// Starts `postel sim --listen 127.0.0.1:0 --web 127.0.0.1:0 <args>` and reads the two
    /// addresses it prints.
    pub fn start(args: &[&str]) -> Bench {
        let mut child = Command::new(BIN)
            .args(["sim", "--listen", "127.0.0.1:0", "--web", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("postel sim starts");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut smtp = None;
        let mut web = None;
        let mut line = String::new();
        while smtp.is_none() || web.is_none() {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "postel sim exited");
            if let Some(a) = line.trim().strip_prefix("postel-sim listening on ") {
                smtp = Some(a.parse().unwrap());
            }
            if let Some(a) = line.trim().strip_prefix("web bench on http://") {
                web = Some(a.trim_end_matches('/').parse().unwrap());
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = out.read_to_end(&mut sink);
        });
        Bench {
            child,
            smtp: smtp.unwrap(),
            web: web.unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.web)
    }

    pub fn get(&self, path: &str) -> Value {
        ureq::get(&self.url(path))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .into_json()
            .unwrap()
    }

    pub fn get_bytes(&self, path: &str) -> Vec<u8> {
        let mut v = Vec::new();
        ureq::get(&self.url(path))
            .call()
            .unwrap()
            .into_reader()
            .read_to_end(&mut v)
            .unwrap();
        v
    }

    /// Polls the list until it holds `n` messages (the store is fed asynchronously).
    pub fn wait_for_messages(&self, n: usize) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let list = self.get("/api/v1/messages");
            if list["total"].as_u64() == Some(n as u64) || Instant::now() > deadline {
                return list;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Polls until the session `id` is closed.
    pub fn wait_for_session(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.get(&format!("/api/v1/sessions/{id}"));
            if s["closed"] == Value::Bool(true) || Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The client's plain connection (no TLS: the bench needs none).
    pub fn client(&self) -> Client {
        Client::builder("127.0.0.1")
            .port(self.smtp.port())
            .tls(TlsMode::Disabled)
            .ehlo_name("device.test")
            .build()
            .unwrap()
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw client that ends every line with LF alone, as the field report's device did.
pub fn bare_lf_client(smtp: SocketAddr) -> String {
    let mut s = TcpStream::connect(smtp).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut greeting = String::new();
    r.read_line(&mut greeting).unwrap();
    s.write_all(b"EHLO device.test\n").unwrap();
    let mut reply = String::new();
    r.read_line(&mut reply).unwrap();
    reply
}

/// Where a temporary path would be, for the browser test's profile directory.
pub fn tmp(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}
