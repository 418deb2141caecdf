//! Python's smtplib (stdlib) as an independent client: each extension, STARTTLS with the
//! generated CA, every AUTH mechanism, SIZE refusal, DSN, bare LF strict and lenient.

use std::path::PathBuf;
use std::process::Command;

use postel_sim::fault::Fault;
use postel_sim::{BlockingSimulator, Config, Transfer};

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(name)
}

/// Runs a script under python3 and fails the test with its output unless it exits 0.
fn python(name: &str, args: &[String]) {
    let out = Command::new("python3")
        .arg(script(name))
        .args(args)
        .output()
        .expect("python3 must be on PATH for these tests");
    assert!(
        out.status.success(),
        "{name} {args:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn args(sim: &BlockingSimulator) -> Vec<String> {
    vec![sim.addr().ip().to_string(), sim.addr().port().to_string()]
}

fn ca_file(sim: &BlockingSimulator, tag: &str) -> String {
    let path = std::env::temp_dir().join(format!("postel-sim-ca-{}-{tag}.pem", std::process::id()));
    std::fs::write(&path, sim.ca_pem().expect("generated CA")).expect("write CA");
    path.display().to_string()
}

#[test]
fn smtplib_sends_through_each_extension() {
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
    python("smtplib_extensions.py", &args(&sim));
    let m = sim.messages();
    assert_eq!(m.len(), 3);
    assert_eq!(m[0].recipients(), vec!["b@mx.test", "c@mx.test"]);
    assert_eq!(m[0].mail_param("BODY"), Some("8BITMIME"));
    assert_eq!(m[0].mail_param("RET"), Some("HDRS"));
    assert_eq!(m[0].mail_param("ENVID"), Some("env+2B1"));
    assert_eq!(
        m[0].mail_param("SIZE"),
        Some(m[0].data.len().to_string().as_str())
    );
    assert_eq!(m[0].rcpt_to[0].param("NOTIFY"), Some("SUCCESS,FAILURE"));
    assert_eq!(m[0].rcpt_to[1].param("ORCPT"), Some("rfc822;b@mx.test"));
    assert_eq!(m[0].data, "Subject: dsn\r\n\r\nGrüße\r\n".as_bytes());
    assert_eq!(m[0].transfer, Transfer::Data);
    assert_eq!(m[1].mail_from, "jöran@smtplib.test");
    assert_eq!(m[1].recipients(), vec!["用户@例子.test"]);
    assert_eq!(m[1].mail_param("SMTPUTF8"), Some(""));
    assert_eq!(m[2].recipients(), vec!["ok@mx.test"]);
}

#[test]
fn smtplib_is_refused_over_the_size_limit() {
    let sim = BlockingSimulator::start(Config::builder().size_limit(1000).build()).unwrap();
    python("smtplib_size.py", &args(&sim));
    assert_eq!(sim.messages().len(), 1);
}

fn tls_auth(mech: &str, implicit: bool) {
    let sim = BlockingSimulator::start(
        Config::builder()
            .require_tls_for_auth(true)
            .implicit_tls(implicit)
            .user("alice", "secret")
            .oauth_token("alice", "token-1")
            .build(),
    )
    .unwrap();
    let mut a = args(&sim);
    a.push(ca_file(&sim, mech));
    a.push(mech.to_owned());
    if implicit {
        a.push("implicit".to_owned());
    }
    python("smtplib_tls_auth.py", &a);
    let m = sim.messages();
    assert_eq!(m.len(), 1);
    assert!(m[0].tls);
    assert_eq!(m[0].auth_user.as_deref(), Some("alice"));
    let transcript = sim.transcripts()[0].to_string();
    assert!(!transcript.contains("secret"), "{transcript}");
}

#[test]
fn smtplib_starttls_then_auth_plain() {
    tls_auth("PLAIN", false);
}

#[test]
fn smtplib_starttls_then_auth_login() {
    tls_auth("LOGIN", false);
}

#[test]
fn smtplib_starttls_then_auth_cram_md5() {
    tls_auth("CRAM-MD5", false);
}

#[test]
fn smtplib_starttls_then_auth_xoauth2() {
    tls_auth("XOAUTH2", false);
}

#[test]
fn smtplib_starttls_then_auth_scram_sha_256() {
    tls_auth("SCRAM-SHA-256", false);
}

#[test]
fn smtplib_over_implicit_tls() {
    tls_auth("PLAIN", true);
}

#[test]
fn smtplib_bare_lf_is_refused_in_strict_mode() {
    let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
    let mut a = args(&sim);
    a.push("strict".to_owned());
    python("smtplib_bare_lf.py", &a);
    assert!(sim.messages().is_empty());
}

#[test]
fn smtplib_bare_lf_is_accepted_in_lenient_mode() {
    let sim = BlockingSimulator::start(Config::builder().lenient().build()).unwrap();
    let mut a = args(&sim);
    a.push("lenient".to_owned());
    python("smtplib_bare_lf.py", &a);
    assert_eq!(
        sim.messages()[0].data,
        b"Subject: bare\n\nline one\nline two\n"
    );
}
