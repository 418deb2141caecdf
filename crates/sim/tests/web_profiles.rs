//! `--profile` personalities: each one's greeting, EHLO keywords and policies are the
//! ones docs/sim.md lists.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use postel_sim::profile::Profile;
use postel_sim::{BlockingSimulator, Config};

/// The greeting and the EHLO reply's lines, then the replies to `MAIL` and `RCPT`
/// pipelined right after EHLO (which ends a group: RFC 2920 §3.1).
fn probe(profile: Profile) -> (String, Vec<String>, Vec<String>) {
    let sim = BlockingSimulator::start(profile.apply(Config::builder()).build()).unwrap();
    let mut w = TcpStream::connect(sim.addr()).unwrap();
    w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(w.try_clone().unwrap());
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let greeting = line.trim_end().to_owned();
    w.write_all(b"EHLO a.test\r\n").unwrap();
    let mut ehlo = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        ehlo.push(line.trim_end()[4..].to_owned());
        if line.as_bytes()[3] == b' ' {
            break;
        }
    }
    w.write_all(b"NOOP\r\nMAIL FROM:<a@a.test>\r\n").unwrap();
    let mut after = Vec::new();
    for _ in 0..2 {
        line.clear();
        if r.read_line(&mut line).unwrap() == 0 {
            break;
        }
        after.push(line.trim_end().to_owned());
    }
    (greeting, ehlo, after)
}

#[test]
fn each_profile_greets_offers_and_polices_as_documented() {
    let (greeting, ehlo, after) = probe(Profile::Postfix);
    assert_eq!(greeting, "220 mx.sim.test ESMTP Postfix");
    assert!(ehlo.contains(&"SIZE 10240000".to_owned()), "{ehlo:?}");
    assert!(ehlo.contains(&"DSN".to_owned()), "{ehlo:?}");
    // smtpd_forbid_unauth_pipelining = yes: MAIL sent after NOOP without waiting.
    assert_eq!(after, ["554 5.5.0 Error: SMTP protocol synchronization"]);

    let (greeting, ehlo, after) = probe(Profile::Exim);
    assert_eq!(greeting, "220 mx.sim.test ESMTP Exim");
    assert!(ehlo.contains(&"SIZE 52428800".to_owned()), "{ehlo:?}");
    assert!(!ehlo.contains(&"DSN".to_owned()), "{ehlo:?}");
    assert!(
        !ehlo.contains(&"ENHANCEDSTATUSCODES".to_owned()),
        "{ehlo:?}"
    );
    // No enhanced codes in the replies either; pipelining is not policed.
    assert_eq!(after, ["250 Ok", "250 Ok"]);

    let (greeting, ehlo, after) = probe(Profile::Gmail);
    assert_eq!(greeting, "220 mx.sim.test ESMTP");
    assert!(ehlo.contains(&"SIZE 157286400".to_owned()), "{ehlo:?}");
    assert!(!ehlo.iter().any(|l| l.starts_with("AUTH")), "{ehlo:?}");
    assert_eq!(after, ["250 2.0.0 Ok", "250 2.1.0 Ok"]);

    let (greeting, ehlo, after) = probe(Profile::Strict);
    assert_eq!(greeting, "220 mx.sim.test ESMTP postel-sim");
    assert!(ehlo.contains(&"SIZE 10485760".to_owned()), "{ehlo:?}");
    assert_eq!(after, ["554 5.5.0 Error: SMTP protocol synchronization"]);

    let (_, _, after) = probe(Profile::Lenient);
    assert_eq!(after, ["250 2.0.0 Ok", "250 2.1.0 Ok"]);
}

#[test]
fn profile_limits_are_the_documented_ones() {
    let c = |p: Profile| p.apply(Config::builder()).build();
    let postfix = c(Profile::Postfix);
    assert_eq!(
        (
            postfix.max_command_line,
            postfix.max_text_line,
            postfix.max_recipients
        ),
        (2048, 0, 1000)
    );
    assert!(!postfix.refuses_bare_newline());
    let exim = c(Profile::Exim);
    assert_eq!(exim.max_recipients, 50_000);
    assert!(!exim.refuses_bare_newline() && !exim.polices_pipelining());
    let strict = c(Profile::Strict);
    assert_eq!((strict.max_command_line, strict.max_text_line), (512, 1000));
    assert!(strict.refuses_bare_newline() && strict.polices_pipelining());
    // A later setter still wins over the profile.
    let sized = Profile::Postfix
        .apply(Config::builder())
        .size_limit(4096)
        .build();
    assert_eq!(sized.size_limit, 4096);
    assert_eq!(
        "LENIENT".parse::<Profile>().unwrap(),
        Profile::Lenient,
        "names ignore case"
    );
    assert!("sendmail".parse::<Profile>().is_err());
}
