//! swaks (Debian package `swaks`) as an independent client. In CI (CI=true) a missing
//! swaks fails these tests; elsewhere they print a loud skip.

use std::path::PathBuf;
use std::process::{Command, Output};

use postel_sim::fault::Fault;
use postel_sim::{BlockingSimulator, Config};

fn swaks_available() -> bool {
    let found = Command::new("swaks")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("swaks is required in CI: apt-get install -y swaks libnet-ssleay-perl");
    }
    // Written to the real stderr, past the test harness's capture, so it is seen.
    use std::io::Write as _;
    let _ = std::io::stderr().write_all(
        b"\n########################################################################\n\
          ## SKIPPED: swaks is not installed, so this swaks test did NOT run.   ##\n\
          ## Install it with: apt-get install -y swaks libnet-ssleay-perl        ##\n\
          ########################################################################\n",
    );
    false
}

fn swaks(sim: &BlockingSimulator, extra: &[&str]) -> Output {
    let server = sim.addr().to_string();
    let out = Command::new("swaks")
        .args([
            "--server",
            &server,
            "--from",
            "a@swaks.test",
            "--helo",
            "swaks.test",
        ])
        .args(extra)
        .output()
        .expect("run swaks");
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    out
}

fn ca_file(sim: &BlockingSimulator, tag: &str) -> String {
    let path: PathBuf = std::env::temp_dir().join(format!(
        "postel-sim-swaks-ca-{}-{tag}.pem",
        std::process::id()
    ));
    std::fs::write(&path, sim.ca_pem().expect("generated CA")).expect("write CA");
    path.display().to_string()
}

#[test]
fn swaks_sends_with_pipelining() {
    if !swaks_available() {
        return;
    }
    let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
    let out = swaks(
        &sim,
        &[
            "--to",
            "b@mx.test,c@mx.test",
            "--pipeline",
            "--body",
            "hello",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let m = sim.messages();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].recipients(), vec!["b@mx.test", "c@mx.test"]);
    assert_eq!(m[0].helo, "swaks.test");
    let data = String::from_utf8_lossy(&m[0].data);
    assert!(data.contains("\r\n\r\nhello\r\n"), "{data:?}");
}

fn starttls_auth(mech: &str) {
    if !swaks_available() {
        return;
    }
    let sim = BlockingSimulator::start(
        Config::builder()
            .require_tls_for_auth(true)
            .user("alice", "secret")
            .build(),
    )
    .unwrap();
    let ca = ca_file(&sim, mech);
    let out = swaks(
        &sim,
        &[
            "--to",
            "b@mx.test",
            "-tls",
            "--tls-verify",
            "--tls-ca-path",
            &ca,
            "--auth",
            mech,
            "--auth-user",
            "alice",
            "--auth-password",
            "secret",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let m = sim.messages();
    assert_eq!(m.len(), 1);
    assert!(m[0].tls);
    assert_eq!(m[0].auth_user.as_deref(), Some("alice"));
}

#[test]
fn swaks_starttls_with_the_generated_ca_and_auth_plain() {
    starttls_auth("PLAIN");
}

#[test]
fn swaks_starttls_with_the_generated_ca_and_auth_login() {
    starttls_auth("LOGIN");
}

#[test]
fn swaks_starttls_with_the_generated_ca_and_auth_cram_md5() {
    starttls_auth("CRAM-MD5");
}

#[test]
fn swaks_over_implicit_tls() {
    if !swaks_available() {
        return;
    }
    let sim = BlockingSimulator::start(Config::builder().implicit_tls(true).build()).unwrap();
    let ca = ca_file(&sim, "implicit");
    let out = swaks(
        &sim,
        &[
            "--to",
            "b@mx.test",
            "-tlsc",
            "--tls-verify",
            "--tls-ca-path",
            &ca,
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(sim.messages()[0].tls);
}

fn bare_lf(sim: &BlockingSimulator) -> Output {
    let path = std::env::temp_dir().join(format!("postel-sim-bare-lf-{}.txt", std::process::id()));
    std::fs::write(&path, b"Subject: bare\n\nline one\n.\n").unwrap();
    let path = path.display().to_string();
    swaks(
        sim,
        &["--to", "b@mx.test", "--no-data-fixup", "--data", &path],
    )
}

#[test]
fn swaks_bare_lf_is_refused_in_strict_mode() {
    if !swaks_available() {
        return;
    }
    let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
    let out = bare_lf(&sim);
    assert_ne!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("550 5.5.2 mx.sim.test Error: bare <LF> received"),
        "{stdout}"
    );
    assert!(sim.messages().is_empty());
}

#[test]
fn swaks_bare_lf_is_accepted_in_lenient_mode() {
    if !swaks_available() {
        return;
    }
    let sim = BlockingSimulator::start(Config::builder().lenient().build()).unwrap();
    let out = bare_lf(&sim);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(sim.messages()[0].data, b"Subject: bare\n\nline one\n");
}

#[test]
fn swaks_is_refused_over_the_size_limit() {
    if !swaks_available() {
        return;
    }
    let sim = BlockingSimulator::start(Config::builder().size_limit(200).build()).unwrap();
    let body = "x".repeat(500);
    let out = swaks(&sim, &["--to", "b@mx.test", "--body", &body]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("552 5.3.4 Error: message file too big"));
    assert!(sim.messages().is_empty());
}

#[test]
fn swaks_sees_a_scripted_recipient_refusal() {
    if !swaks_available() {
        return;
    }
    let sim = BlockingSimulator::start(
        Config::builder()
            .fault(Fault::refuse_recipient(
                "nobody@mx.test",
                550,
                "5.1.1 <nobody@mx.test>: Recipient address rejected",
            ))
            .build(),
    )
    .unwrap();
    let out = swaks(&sim, &["--to", "b@mx.test,nobody@mx.test"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("550 5.1.1 <nobody@mx.test>: Recipient address rejected"),
        "{stdout}"
    );
    assert_eq!(sim.messages()[0].recipients(), vec!["b@mx.test"]);
}
