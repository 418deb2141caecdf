//! `git send-email` driving `postel sendmail` (sendemail.sendmailCmd), delivering to
//! postel-sim: the patch mail arrives with its headers and an intact diff.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use postel_sim::{BlockingSimulator, Config};

const BIN: &str = env!("CARGO_BIN_EXE_postel");

fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
        || std::env::var("POSTEL_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Patch Author",
            "-c",
            "user.email=author@client.test",
        ])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn git_send_email_delivers_a_patch_through_postel_sendmail() {
    let works = Command::new("git")
        .args(["send-email", "--dump-aliases"])
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if !works {
        if required() {
            panic!("git send-email is not installed (scripts/install-deps.sh installs git-email)");
        }
        eprintln!("\n*** SKIP git_send_email: `git send-email` is not installed (apt-get install git-email) ***\n");
        return;
    }

    let sim =
        BlockingSimulator::start(Config::builder().user("alice", "s3cret-pw").build()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, sim.ca_pem().unwrap()).unwrap();
    let cfg = dir.path().join("postel.toml");
    std::fs::write(
        &cfg,
        format!(
            "default = \"sim\"\n[accounts.sim]\nhost = \"127.0.0.1\"\nport = {}\nca_file = {:?}\nuser = \"alice\"\npassword_env = \"POSTEL_TEST_PW\"\n",
            sim.addr().port(),
            ca.display().to_string()
        ),
    )
    .unwrap();

    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    std::fs::write(repo.join("README"), "hello\n").unwrap();
    git(&repo, &["add", "README"]);
    git(&repo, &["commit", "-q", "-m", "first"]);
    std::fs::write(
        repo.join("README"),
        "hello\n.\nworld with a lone dot above\n",
    )
    .unwrap();
    git(
        &repo,
        &[
            "commit",
            "-q",
            "-am",
            "README: add a line\n\nThe body of the commit message.",
        ],
    );
    let patch = git(&repo, &["format-patch", "-1", "--stdout"]);

    let o = Command::new("git")
        .current_dir(&repo)
        .args([
            "-c",
            "user.name=Patch Author",
            "-c",
            "user.email=author@client.test",
        ])
        .arg("-c")
        .arg(format!("sendemail.sendmailCmd={BIN} sendmail"))
        .args([
            "send-email",
            "--confirm=never",
            "--quiet",
            "--suppress-cc=all",
            "--from",
            "Patch Author <author@client.test>",
            "--to",
            "list@mx.test",
            "--cc",
            "reviewer@mx.test",
            "-1",
        ])
        .env("POSTEL_CONFIG", &cfg)
        .env("POSTEL_TEST_PW", "s3cret-pw")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git send-email failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );

    let m = sim.wait_for_messages(1, Duration::from_secs(10));
    assert_eq!(m.len(), 1);
    let m = &m[0];
    assert!(m.tls);
    assert_eq!(m.auth_user.as_deref(), Some("alice"));
    let mut rcpts: Vec<&str> = m.rcpt_to.iter().map(|r| r.address.as_str()).collect();
    rcpts.sort_unstable();
    assert_eq!(rcpts, ["list@mx.test", "reviewer@mx.test"]);
    let data = String::from_utf8(m.data.clone()).unwrap();
    assert!(
        !data.replace("\r\n", "").contains('\n'),
        "a bare LF reached the server"
    );
    let data = data.replace("\r\n", "\n");
    for h in [
        "From: Patch Author <author@client.test>\n",
        "To: list@mx.test\n",
        "Cc: reviewer@mx.test\n",
        "Subject: [PATCH] README: add a line\n",
        "X-Mailer: git-send-email",
        "Message-ID: <",
    ] {
        assert!(data.contains(h), "missing {h:?} in:\n{data}");
    }
    // The body (commit message, diffstat, diff with its lone-dot line, signature) arrives
    // exactly as format-patch wrote it.
    let body = patch.split_once("\n\n").map(|(_, b)| b).unwrap();
    let got = data.split_once("\n\n").map(|(_, b)| b).unwrap();
    assert_eq!(got, body);
}
