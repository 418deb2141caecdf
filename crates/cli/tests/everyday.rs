//! The `postel` command as a person meets it (issue 14): sendmail's help, the headers a
//! mail user agent expects, text attachments with their charset, a log for cron, man
//! pages that answer, the first run. Each test runs the built binary against
//! postel-sim on loopback and checks the exact bytes delivered.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use postel_sim::fault::Fault;
use postel_sim::{BlockingSimulator, Config, ReceivedMessage};

use common::{assert_code, run, text, Setup, BIN};

impl Setup {
    /// A config file with one default account `sim` for the simulator, plus `extra` keys.
    fn config(&self, extra: &str) -> PathBuf {
        self.account_config(&format!(
            "user = \"alice\"\npassword_env = \"PW\"\nhelo = \"client.test\"\n\
             from = \"me@client.test\"\n{extra}"
        ))
    }

    /// `postel ARGS` with the config file `cfg` and the password in the environment.
    fn postel(&self, cfg: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("POSTEL_CONFIG", cfg)
            .env("PW", "s3cret-pw")
            .env_remove("POSTEL_ACCOUNT");
        run(c, stdin)
    }

    fn one_message(&self) -> ReceivedMessage {
        self.sim.wait_for_messages(1, Duration::from_secs(5));
        let m = self.sim.take_messages();
        assert_eq!(m.len(), 1, "{m:?}");
        m.into_iter().next().unwrap()
    }
}

/// SIZE= declared the exact number of bytes that arrived.
#[track_caller]
fn assert_size_exact(m: &ReceivedMessage) {
    let size = m.data.len().to_string();
    assert_eq!(m.mail_param("SIZE"), Some(size.as_str()));
}

/// Splits off the `Date:` and `Message-ID:` lines postel put first; checks their form
/// and the Message-ID's domain.
#[track_caller]
fn added_fields(data: &[u8], domain: &str) -> (String, String, String) {
    let t = text(data);
    let mut it = t.splitn(3, "\r\n");
    let (date, id, rest) = (
        it.next().unwrap_or_default().to_owned(),
        it.next().unwrap_or_default().to_owned(),
        it.next().unwrap_or_default().to_owned(),
    );
    let d = date.strip_prefix("Date: ").unwrap_or_else(|| panic!("{t}"));
    // RFC 5322 §3.3: "Fri, 4 Dec 2026 19:40:07 +0000".
    let parts: Vec<&str> = d.split(' ').collect();
    assert_eq!(parts.len(), 6, "{d}");
    assert!(parts[0].ends_with(',') && parts[5] == "+0000", "{d}");
    assert!(
        id.starts_with("Message-ID: <") && id.ends_with(&format!("@{domain}>")),
        "{t}"
    );
    (date, id, rest)
}

// 1. sendmail mode is documented.

#[test]
fn sendmail_help_lists_every_option_and_each_listed_one_works() {
    let s = Setup::with_alice();
    let cfg = s.config("");
    let o = s.postel(&cfg, &["sendmail", "--help"], None);
    assert_code(&o, 0);
    let help = text(&o.stdout);
    let options = [
        "-t ",
        "-i, -oi",
        "-f ADDR, -r ADDR",
        "-F NAME",
        "-N WHEN",
        "-R WHAT",
        "-V ENVID",
        "-C FILE",
        "-a NAME, --account NAME",
        "-v ",
        "--queue",
        "--log FILE",
        "--no-add-headers",
        "-bm",
        "--help",
        "--  ",
    ];
    for opt in options {
        assert!(
            help.contains(&format!("\n  {opt}")),
            "{opt:?} missing in:\n{help}"
        );
    }
    // The same list in `postel help sendmail` and in the man page.
    let o = s.postel(&cfg, &["help", "sendmail"], None);
    assert_code(&o, 0);
    assert!(text(&o.stdout).contains("-N WHEN"), "{}", text(&o.stdout));
    let man = s.dir.path().join("man");
    assert_code(
        &s.postel(&cfg, &["man", "--dir", man.to_str().unwrap()], None),
        0,
    );
    let page = std::fs::read_to_string(man.join("postel-sendmail.1")).unwrap();
    assert!(page.contains(".SH \"SENDMAIL OPTIONS\""), "{page}");
    for opt in [
        "\\-t ",
        "\\-N WHEN",
        "\\-\\-queue",
        "\\-\\-no\\-add\\-headers",
        "\\-C FILE",
    ] {
        assert!(
            page.contains(opt),
            "{opt:?} missing in the man page:\n{page}"
        );
    }

    // And what is listed does what it says: -C, -a, -f, -F, -N, -R, -V, -v, -i, -t, --log.
    let other = s.dir.path().join("other.toml");
    std::fs::copy(&cfg, &other).unwrap();
    let log = s.dir.path().join("sendmail.log");
    let o = s.postel(
        Path::new("/nonexistent/config.toml"),
        &[
            "sendmail",
            "-C",
            other.to_str().unwrap(),
            "-a",
            "sim",
            "-t",
            "-i",
            "-fbounce@client.test",
            "-F",
            "Night Job",
            "-N",
            "failure,delay",
            "-R",
            "hdrs",
            "-V",
            "job-42",
            "-v",
            "--log",
            log.to_str().unwrap(),
            "extra@mx.test",
        ],
        Some(b"To: a@mx.test\nSubject: s\n\n.\nafter the dot\n"),
    );
    assert_code(&o, 0);
    assert!(
        text(&o.stderr).contains("MAIL FROM:<bounce@client.test>"),
        "-v: {}",
        text(&o.stderr)
    );
    let m = s.one_message();
    assert_eq!(m.mail_from, "bounce@client.test");
    assert_eq!(m.recipients(), ["extra@mx.test", "a@mx.test"]);
    assert_eq!(m.mail_param("RET"), Some("HDRS"));
    assert_eq!(m.mail_param("ENVID"), Some("job-42"));
    assert_eq!(m.rcpt_to[0].param("NOTIFY"), Some("FAILURE,DELAY"));
    let (_, _, rest) = added_fields(&m.data, "client.test");
    assert_eq!(
        rest,
        "From: Night Job <bounce@client.test>\r\nTo: a@mx.test\r\nSubject: s\r\n\r\n.\r\nafter the dot\r\n"
    );
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains(" result=ok "));
}

// 2. Headers a mail user agent expects.

#[test]
fn sendmail_adds_date_and_message_id_when_missing_and_size_counts_them() {
    let s = Setup::with_alice();
    let cfg = s.config("");
    let o = s.postel(
        &cfg,
        &["sendmail", "-t"],
        Some(b"From: Ann <ann@example.org>\nTo: a@mx.test\nSubject: s\n\nbody\n"),
    );
    assert_code(&o, 0);
    let m = s.one_message();
    let (_, _, rest) = added_fields(&m.data, "example.org");
    assert_eq!(
        rest,
        "From: Ann <ann@example.org>\r\nTo: a@mx.test\r\nSubject: s\r\n\r\nbody\r\n"
    );
    assert_size_exact(&m);

    // Present ones are kept, nothing is added twice.
    let given = "Date: Thu, 3 Dec 2026 10:00:00 +0100\nMessage-Id: <given@example.org>\nTo: a@mx.test\n\nb\n";
    assert_code(
        &s.postel(&cfg, &["sendmail", "-t"], Some(given.as_bytes())),
        0,
    );
    let m = s.one_message();
    assert_eq!(
        text(&m.data),
        format!("From: me@client.test\r\n{}", given.replace('\n', "\r\n"))
    );

    // Turned off by flag, or per field in the account.
    let plain = b"From: a@client.test\nTo: a@mx.test\n\nb\n";
    assert_code(
        &s.postel(&cfg, &["sendmail", "-t", "--no-add-headers"], Some(plain)),
        0,
    );
    assert_eq!(
        text(&s.one_message().data),
        "From: a@client.test\r\nTo: a@mx.test\r\n\r\nb\r\n"
    );
    let cfg = s.config("set_date_header = false\n");
    assert_code(&s.postel(&cfg, &["sendmail", "-t"], Some(plain)), 0);
    let data = text(&s.one_message().data);
    assert!(data.starts_with("Message-ID: <"), "{data}");
    assert!(!data.contains("Date:"), "{data}");
}

#[test]
fn sendmail_spools_a_big_message_and_declares_its_exact_size() {
    let s = Setup::with_alice();
    let cfg = s.config("");
    // 4 MiB of 8-bit lines through stdin, a lone dot after them (ends it without -i).
    let body: String = (0..160_000).map(|i| format!("{i:08} Grüße\n")).collect();
    let input = format!("To: a@mx.test\nSubject: big\n\n{body}.\nnot sent\n");
    let o = s.postel(&cfg, &["sendmail", "-t"], Some(input.as_bytes()));
    assert_code(&o, 0);
    let m = s.one_message();
    let (_, _, rest) = added_fields(&m.data, "client.test");
    assert_eq!(
        rest,
        format!(
            "From: me@client.test\r\nTo: a@mx.test\r\nSubject: big\r\n\r\n{}",
            body.replace('\n', "\r\n")
        )
    );
    assert_size_exact(&m);
    assert_eq!(m.mail_param("BODY"), Some("8BITMIME"));
    // An ASCII message is not declared 8-bit: the spooled file was measured.
    let o = s.postel(
        &cfg,
        &["sendmail", "-i", "a@mx.test"],
        Some(b"Subject: s\n\n.\nx\n"),
    );
    assert_code(&o, 0);
    let m = s.one_message();
    assert_eq!(m.mail_param("BODY"), None);
    assert!(
        text(&m.data).ends_with("\r\n\r\n.\r\nx\r\n"),
        "{}",
        text(&m.data)
    );
    assert_size_exact(&m);
}

#[test]
fn send_raw_adds_them_to_a_streamed_file_with_the_exact_size() {
    let s = Setup::with_alice();
    let cfg = s.config("");
    // Bigger than every read buffer: the body is streamed from the file, not held.
    let body: String = (0..20_000).map(|i| format!("line {i} ü\n")).collect();
    let file = s.dir.path().join("big.eml");
    std::fs::write(
        &file,
        format!("From: a@client.test\nTo: b@mx.test\nSubject: big\n\n{body}"),
    )
    .unwrap();
    let o = s.postel(&cfg, &["send", "--raw", file.to_str().unwrap()], None);
    assert_code(&o, 0);
    let m = s.one_message();
    let (_, _, rest) = added_fields(&m.data, "client.test");
    assert_eq!(
        rest,
        format!(
            "From: a@client.test\r\nTo: b@mx.test\r\nSubject: big\r\n\r\n{}",
            body.replace('\n', "\r\n")
        )
    );
    assert_size_exact(&m);
    assert_eq!(m.mail_param("BODY"), Some("8BITMIME"));

    let o = s.postel(
        &cfg,
        &["send", "--raw", file.to_str().unwrap(), "--no-add-headers"],
        None,
    );
    assert_code(&o, 0);
    let m = s.one_message();
    assert!(text(&m.data).starts_with("From: a@client.test\r\n"));
    assert_size_exact(&m);
    // From stdin too (spooled, then streamed): the same bytes and an exact SIZE=.
    let o = s.postel(
        &cfg,
        &["send", "--raw", "-", "--no-add-headers"],
        Some(b"From: a@client.test\nTo: b@mx.test\n\nascii only\n"),
    );
    assert_code(&o, 0);
    let m = s.one_message();
    assert_eq!(
        text(&m.data),
        "From: a@client.test\r\nTo: b@mx.test\r\n\r\nascii only\r\n"
    );
    assert_size_exact(&m);
    assert_eq!(m.mail_param("BODY"), None);
    // --no-add-headers is for ready messages only.
    let o = s.postel(
        &cfg,
        &["send", "--to", "b@mx.test", "--no-add-headers"],
        None,
    );
    assert_code(&o, 64);
}

// 3. Text attachments carry their charset.

/// The MIME part of `data` whose Content-Disposition names `name`: (its header lines, its
/// decoded body).
fn part(data: &str, name: &str) -> (String, Vec<u8>) {
    let at = data
        .find(&format!("filename={name}"))
        .unwrap_or_else(|| panic!("no {name} in {data}"));
    let start = data[..at].rfind("\r\n--").unwrap() + 2;
    let head_start = data[start..].find("\r\n").unwrap() + start + 2;
    let (head, rest) = data[head_start..].split_once("\r\n\r\n").unwrap();
    let body = &rest[..rest.find("\r\n--").unwrap()];
    let bytes = if head.contains("Content-Transfer-Encoding: base64") {
        base64_decode(body)
    } else {
        body.as_bytes().to_vec()
    };
    (head.to_owned(), bytes)
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = s.bytes().filter(|b| !b"\r\n=".contains(b)).collect();
    let mut out = Vec::new();
    for chunk in clean.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &c)| acc | u32::from(val(c)) << (18 - 6 * i));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len() - 1]);
    }
    out
}

#[test]
fn text_attachments_carry_their_charset() {
    let s = Setup::with_alice();
    let cfg = s.config("");
    let d = s.dir.path();
    // A UTF-8 file far bigger than one read, with characters split across reads.
    let long: String = (0..5_000).map(|i| format!("{i},Zürich,日本\n")).collect();
    let files: [(&str, Vec<u8>); 6] = [
        ("notes.txt", "Grüße\n".as_bytes().to_vec()),
        ("table.csv", long.clone().into_bytes()),
        ("README.md", "# Über\n".as_bytes().to_vec()),
        ("page.html", "<p>naïve</p>\n".as_bytes().to_vec()),
        ("latin1.txt", b"caf\xe9\n".to_vec()),
        ("menu.txt", b"cr\xe8me br\xfbl\xe9e\n".to_vec()),
    ];
    for (name, bytes) in &files {
        std::fs::write(d.join(name), bytes).unwrap();
    }
    let mut args = vec![
        "send",
        "--to",
        "b@mx.test",
        "--subject",
        "files",
        "--text",
        "see attached",
    ];
    let paths: Vec<String> = files[..5]
        .iter()
        .map(|(n, _)| d.join(n).display().to_string())
        .chain([format!(
            "{};charset=ISO-8859-1",
            d.join("menu.txt").display()
        )])
        .collect();
    for p in &paths {
        args.extend(["--attach", p.as_str()]);
    }
    let o = s.postel(&cfg, &args, None);
    assert_code(&o, 0);
    let m = s.one_message();
    let data = text(&m.data);
    let expect = [
        ("notes.txt", "Content-Type: text/plain; charset=utf-8"),
        ("table.csv", "Content-Type: text/csv; charset=utf-8"),
        ("README.md", "Content-Type: text/markdown; charset=utf-8"),
        ("page.html", "Content-Type: text/html; charset=utf-8"),
        ("latin1.txt", "Content-Type: application/octet-stream"),
        ("menu.txt", "Content-Type: text/plain; charset=iso-8859-1"),
    ];
    for ((name, want), (_, bytes)) in expect.iter().zip(&files) {
        let (head, body) = part(&data, name);
        assert!(head.starts_with(&format!("{want}\r\n")), "{name}: {head}");
        assert_eq!(&body, bytes, "{name}: the bytes arrive unchanged");
    }
    assert_size_exact(&m);

    // A charset that could smuggle a parameter is refused before anything is sent.
    let bad = format!("{};charset=utf-8; name=x", d.join("notes.txt").display());
    let o = s.postel(&cfg, &["send", "--to", "b@mx.test", "--attach", &bad], None);
    assert_code(&o, 64);
    assert!(s.sim.messages().is_empty());
}

// 4. A log for cron.

#[test]
fn a_log_line_per_message_without_credentials_and_a_bad_log_only_warns() {
    let s = Setup::with_alice();
    let log = s.dir.path().join("postel.log");
    let cfg = s.config(&format!("logfile = {:?}\n", log.display().to_string()));
    s.sim.set_faults(vec![Fault::refuse_recipient(
        "gone@mx.test",
        550,
        "5.1.1 No such user",
    )]);
    // sendmail, through the account's logfile.
    let o = s.postel(
        &cfg,
        &["sendmail", "a@mx.test", "b@mx.test"],
        Some(b"Subject: s\n\nx\n"),
    );
    assert_code(&o, 0);
    let first = s.one_message();
    // send, with a refused recipient.
    let o = s.postel(
        &cfg,
        &[
            "send",
            "--to",
            "ok@mx.test",
            "--to",
            "gone@mx.test",
            "--text",
            "x",
        ],
        None,
    );
    assert_code(&o, 67);
    let second = s.one_message();
    // send, to a server that is not there (through --server: no account).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("127.0.0.1:{port}");
    let o = s.postel(
        &cfg,
        &[
            "send",
            "--server",
            &server,
            "--tls",
            "none",
            "--from",
            "me@client.test",
            "--to",
            "x@mx.test",
            "--text",
            "x",
            "--log",
            log.to_str().unwrap(),
        ],
        None,
    );
    assert_code(&o, 75);

    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    let sim = s.sim.addr().to_string();
    let time = |l: &str| {
        let t = l.split(' ').next().unwrap().to_owned();
        assert!(
            t.len() == 20 && t.ends_with('Z') && t.as_bytes()[10] == b'T',
            "{l}"
        );
    };
    for l in &lines {
        time(l);
        assert!(
            !l.contains("s3cret") && !l.contains("alice"),
            "credentials in {l}"
        );
    }
    let tail = |l: &str| l.split_once(' ').unwrap().1.to_owned();
    assert_eq!(
        tail(&lines[0]),
        format!(
            "account=sim server={sim} from=me@client.test recipients=a@mx.test,b@mx.test result=ok exit=0 queue_id={id} reply=\"250 2.0.0 Ok: queued as {id}\"",
            id = first.queue_id
        )
    );
    assert_eq!(
        tail(&lines[1]),
        format!(
            "account=sim server={sim} from=me@client.test recipients=ok@mx.test,gone@mx.test result=partial exit=67 refused=gone@mx.test queue_id={id} reply=\"250 2.0.0 Ok: queued as {id}\"",
            id = second.queue_id
        )
    );
    let third = tail(&lines[2]);
    assert!(
        third.starts_with(&format!(
            "account=- server={server} from=me@client.test recipients=x@mx.test result=deferred exit=75 error=\""
        )),
        "{third}"
    );

    // A log that cannot be written: a warning, the message still goes, exit 0.
    let o = s.postel(
        &cfg,
        &[
            "send",
            "--to",
            "c@mx.test",
            "--text",
            "x",
            "--log",
            s.dir.path().to_str().unwrap(),
        ],
        None,
    );
    assert_code(&o, 0);
    assert!(
        text(&o.stderr).contains("warning: cannot write the log"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(s.one_message().recipients(), ["c@mx.test"]);
}

// 5. Man pages that answer; completions on a closed pipe.

#[test]
fn the_man_page_answers_and_completions_survive_a_closed_pipe() {
    let mut c = Command::new(BIN);
    c.arg("man").env_remove("POSTEL_CONFIG");
    let o = run(c, None);
    assert_code(&o, 0);
    let page = text(&o.stdout);
    for section in [
        "EXIT STATUS",
        "CONFIGURATION",
        "LOG",
        "FILES",
        "ENVIRONMENT",
        "EXAMPLES",
    ] {
        assert!(page.contains(&format!(".SH \"{section}\"")), "{section}");
    }
    for line in [
        "77  EX_NOPERM",
        "68  EX_NOHOST",
        "75  EX_TEMPFAIL",
        "set_msgid_header = true",
        "logfile = ",
        "password_command = ",
        "POSTEL_ACCOUNT",
        "POSTEL_QUEUE_DIR",
        "postel send \\-\\-server 127.0.0.1:2525",
    ] {
        assert!(page.contains(line), "{line:?} missing in the man page");
    }

    for shell in ["bash", "zsh", "fish"] {
        let mut child = Command::new(BIN)
            .args(["completions", shell])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // as `| head -0` would, before anything is written
        let o = child.wait_with_output().unwrap();
        assert!(!text(&o.stderr).contains("panicked"), "{}", text(&o.stderr));
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    }
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("'{BIN}' completions bash | head -1"))
        .output()
        .unwrap();
    assert_eq!(text(&o.stdout), "_postel() {\n");
    assert!(o.stderr.is_empty(), "{}", text(&o.stderr));
}

// 6. First run.

#[test]
fn the_demos_next_step_works_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    // Not installed: the demo names this very binary.
    let o = run(
        {
            let mut c = Command::new(BIN);
            c.arg("demo")
                .env("PATH", "/usr/bin:/bin")
                .env("XDG_CONFIG_HOME", dir.path().join("none"))
                .env_remove("POSTEL_CONFIG");
            c
        },
        None,
    );
    assert_code(&o, 0);
    let out = text(&o.stdout);
    let next = out
        .split("\nNext:")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"));
    let commands: Vec<&str> = next.lines().filter_map(|l| l.strip_prefix("  ")).collect();
    assert_eq!(commands.len(), 2, "{next}");
    assert_eq!(commands[0], format!("{BIN} sim"));
    assert!(commands[1].starts_with(&format!("{BIN} send --server 127.0.0.1:2525 ")));

    // Run them as printed; only the port moves off 2525 (which may be taken here).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut sim = Command::new("sh")
        .arg("-c")
        .arg(format!("exec {} --listen 127.0.0.1:{port}", commands[0]))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(sim.stdout.take().unwrap()).lines();
    assert_eq!(
        lines.next().unwrap().unwrap(),
        format!("postel-sim listening on 127.0.0.1:{port}")
    );
    let send = commands[1].replace("127.0.0.1:2525", &format!("127.0.0.1:{port}"));
    let o = Command::new("sh")
        .arg("-c")
        .arg(&send)
        .env("XDG_CONFIG_HOME", dir.path().join("none"))
        .env_remove("POSTEL_CONFIG")
        .output()
        .unwrap();
    assert_code(&o, 0);
    let mut seen = Vec::new();
    for l in lines.by_ref() {
        let l = l.unwrap();
        let end = l.starts_with("=== end of message");
        seen.push(l);
        if end {
            break;
        }
    }
    assert!(seen.iter().any(|l| l == "Subject: hi"), "{seen:?}");
    let _ = Command::new("kill")
        .args(["-INT", &sim.id().to_string()])
        .status();
    let _ = sim.wait();

    // Installed (found on PATH): the demo says `postel`.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(BIN, bin.join("postel")).unwrap();
    let o = run(
        {
            let mut c = Command::new(BIN);
            c.arg("demo")
                .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
                .env("XDG_CONFIG_HOME", dir.path().join("none"))
                .env_remove("POSTEL_CONFIG");
            c
        },
        None,
    );
    assert_code(&o, 0);
    assert!(
        text(&o.stdout).contains("\n  postel sim\n"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn postel_sim_says_which_address_is_taken() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let o = run(
        {
            let mut c = Command::new(BIN);
            c.args(["sim", "--listen", &addr]);
            c
        },
        None,
    );
    assert_code(&o, 75);
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!(
            "cannot listen on {addr}: the address is already in use"
        )),
        "{err}"
    );
    assert!(err.contains("--listen 127.0.0.1:"), "{err}");
}

#[test]
fn the_readme_installs_with_locked_and_test_sh_ends_with_a_summary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for line in readme.lines().filter(|l| l.starts_with("cargo install")) {
        assert!(line.contains("--locked"), "{line}");
    }
    let script = std::fs::read_to_string(root.join("scripts/test.sh")).unwrap();
    let last = script.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert!(last.contains("passed"), "{last}");
}

#[test]
fn a_send_that_fails_before_any_message_still_logs_each_one() {
    // --tls starttls against a port that speaks TLS from the first byte: the command
    // fails while connecting, before the messages; the log says so for each.
    let sim = BlockingSimulator::start(Config::builder().implicit_tls(true).build()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let server = sim.addr().to_string();
    let mut c = Command::new(BIN);
    c.args([
        "send",
        "--server",
        &server,
        "--tls",
        "starttls",
        "--from",
        "me@client.test",
        "--to",
        "b@mx.test",
        "--text",
        "x",
        "--log",
        log.to_str().unwrap(),
    ])
    .env("XDG_CONFIG_HOME", dir.path().join("none"))
    .env_remove("POSTEL_CONFIG");
    let o = run(c, None);
    assert_code(&o, 78);
    let lines = std::fs::read_to_string(&log).unwrap();
    let line = lines.strip_suffix('\n').unwrap();
    assert!(!line.contains('\n'), "{lines}");
    let tail = line.split_once(' ').unwrap().1;
    assert!(
        tail.starts_with(&format!(
            "account=- server={server} from=me@client.test recipients=b@mx.test result=failed exit=78 error=\""
        )),
        "{tail}"
    );
    assert!(tail.contains("expects TLS from the first byte"), "{tail}");
    assert!(sim.messages().is_empty());
}
