//! End to end against the real Postfix of the client tests (scripts/postfix-up.sh, see
//! docs/testing-postfix.md). Reads only POSTEL_POSTFIX_* variables; without them it prints
//! a loud SKIP, or panics when CI is set or POSTEL_REQUIRE_SERVERS=1.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{assert_code, run, BIN};

fn env(name: &str) -> String {
    std::env::var(format!("POSTEL_POSTFIX_{name}"))
        .unwrap_or_else(|_| panic!("POSTEL_POSTFIX_{name} is not set"))
}

fn postfix() -> bool {
    if std::env::var("POSTEL_POSTFIX_SUBMISSION").is_ok() {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    if ci || std::env::var("POSTEL_REQUIRE_SERVERS").is_ok_and(|v| v == "1") {
        panic!("CI (or POSTEL_REQUIRE_SERVERS=1) but POSTEL_POSTFIX_SUBMISSION is not set: Postfix did not start (scripts/postfix-up.sh)");
    }
    eprintln!("\n*** SKIP postel-cli Postfix tests: POSTEL_POSTFIX_* not set (scripts/postfix-up.sh; . target/postfix/env) ***\n");
    false
}

fn token(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("postel-cli-{tag}-{}-{nanos}", std::process::id())
}

/// The delivered file holding `token`, waiting for Postfix's local delivery.
fn delivered(token: &str) -> String {
    let dir = PathBuf::from(env("MAILDIR")).join("new");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                if let Ok(s) = std::fs::read_to_string(e.path()) {
                    if s.contains(token) {
                        return s;
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no message with {token} in {}", dir.display());
}

fn send(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args([
        "send",
        "--server",
        &env("SUBMISSION"),
        "--ca-file",
        &env("CA"),
    ])
    .args([
        "--user",
        &env("USER"),
        "--password-env",
        "POSTEL_POSTFIX_PASSWORD",
    ])
    .args(args);
    c
}

#[test]
fn send_over_submission_with_starttls_and_auth_is_delivered() {
    if !postfix() {
        return;
    }
    let t = token("send");
    let to = format!("bob@{}", env("DOMAIN"));
    let o = run(
        send(&[
            "--from",
            "alice@client.test",
            "--to",
            &to,
            "--subject",
            &t,
            "--text",
            "hello postfix\n",
            "--transcript",
        ]),
        None,
    );
    assert_code(&o, 0);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("<redacted>"), "{out}");
    assert!(!out.contains(&env("PASSWORD")), "{out}");
    let mail = delivered(&t);
    assert!(mail.contains("hello postfix"), "{mail}");
}

#[test]
fn refused_and_deferred_recipients_give_67_and_75() {
    if !postfix() {
        return;
    }
    let ok = format!("bob@{}", env("DOMAIN"));
    let refused = env("REFUSED");
    let o = run(
        send(&[
            "--from",
            "a@client.test",
            "--to",
            &ok,
            "--to",
            &refused,
            "--text",
            "x",
            "--json",
        ]),
        None,
    );
    assert_code(&o, 67);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["messages"][0]["refused"][0]["address"], refused.as_str());
    assert_eq!(v["messages"][0]["refused"][0]["reply"]["code"], 550);
    let o = run(
        send(&[
            "--from",
            "a@client.test",
            "--to",
            &env("TEMPFAIL"),
            "--text",
            "x",
        ]),
        None,
    );
    assert_code(&o, 75);
}

#[test]
fn implicit_tls_is_chosen_for_port_465_style_listeners_when_asked() {
    if !postfix() {
        return;
    }
    let t = token("implicit");
    let mut c = Command::new(BIN);
    c.args([
        "send",
        "--server",
        &env("IMPLICIT"),
        "--tls",
        "implicit",
        "--ca-file",
        &env("CA"),
    ])
    .args([
        "--user",
        &env("USER"),
        "--password-command",
        "printf '%s\\n' \"$POSTEL_POSTFIX_PASSWORD\"",
    ])
    .args([
        "--from",
        "a@client.test",
        "--to",
        &format!("bob@{}", env("DOMAIN")),
        "--subject",
        &t,
        "--text",
        "x",
    ]);
    assert_code(&run(c, None), 0);
    delivered(&t);
}

#[test]
fn bad_certificates_are_refused_with_69_before_anything_is_sent() {
    if !postfix() {
        return;
    }
    for name in [
        "BAD_EXPIRED_STARTTLS",
        "BAD_WRONGHOST_STARTTLS",
        "BAD_UNTRUSTED_STARTTLS",
    ] {
        let mut c = Command::new(BIN);
        c.args(["send", "--server", &env(name), "--ca-file", &env("CA")])
            .args([
                "--from",
                "a@client.test",
                "--to",
                &format!("bob@{}", env("DOMAIN")),
                "--text",
                "x",
            ]);
        let o = run(c, None);
        assert_code(&o, 69);
    }
}

#[test]
fn sendmail_t_pipe_reaches_postfix() {
    if !postfix() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    let (host, port) = env("SUBMISSION")
        .rsplit_once(':')
        .map(|(h, p)| (h.to_owned(), p.to_owned()))
        .unwrap();
    std::fs::write(
        &cfg,
        format!(
            "default = \"pf\"\n[accounts.pf]\nhost = {host:?}\nport = {port}\ntls = \"starttls\"\nca_file = {:?}\nuser = {:?}\npassword_env = \"POSTEL_POSTFIX_PASSWORD\"\nfrom = \"cron@client.test\"\n",
            env("CA"),
            env("USER")
        ),
    )
    .unwrap();
    let t = token("cron");
    let mut c = Command::new(BIN);
    c.args(["sendmail", "-t"]).env("POSTEL_CONFIG", &cfg);
    let input = format!(
        "To: bob@{}\nBcc: carol@{}\nSubject: {t}\n\ncron output\n",
        env("DOMAIN"),
        env("DOMAIN")
    );
    assert_code(&run(c, Some(input.as_bytes())), 0);
    let mail = delivered(&t);
    assert!(!mail.contains("Bcc:"), "{mail}");
    assert!(mail.contains("cron output"), "{mail}");
}

#[test]
fn probe_reports_the_chain_and_why_a_certificate_fails() {
    if !postfix() {
        return;
    }
    let mut c = Command::new(BIN);
    c.args([
        "probe",
        &env("SUBMISSION"),
        "--json",
        "--ca-file",
        &env("CA"),
        "--tls-name",
        &env("TLS_NAME"),
    ]);
    let o = run(c, None);
    assert_code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["tls"]["verified"], true);
    assert_eq!(v["tls"]["chain"].as_array().unwrap().len(), 2);
    assert!(v["auth"].as_array().unwrap().iter().any(|m| m == "PLAIN"));

    for (name, why) in [
        ("BAD_EXPIRED", "expired"),
        ("BAD_WRONGHOST", "host name"),
        ("BAD_UNTRUSTED", "unknown issuer"),
    ] {
        let mut c = Command::new(BIN);
        c.args([
            "probe",
            &env(name),
            "--tls",
            "implicit",
            "--json",
            "--ca-file",
            &env("CA"),
        ]);
        let o = run(c, None);
        assert_code(&o, 69);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["tls"]["verified"], false, "{name}");
        assert!(
            v["tls"]["verify_error"].as_str().unwrap().contains(why),
            "{name}: {v}"
        );
    }
}
