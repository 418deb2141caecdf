//! `postel queue --store postgres://...` (and `queue_url` in the config file) end to end:
//! add, list, show, stats --json, run --workers, flush, remove, against the private
//! PostgreSQL of scripts/postgres-up.sh (`POSTEL_PG_URL`) and the simulator. Without
//! the server: a loud SKIP, or a failure when CI=true or POSTEL_REQUIRE_SERVERS=1.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use postel_sim::{BlockingSimulator, Config};

use common::{run, text, BIN};

fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("POSTEL_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

/// A URL for a fresh schema `name` of the test database.
fn store(name: &str) -> Option<String> {
    let base = match std::env::var("POSTEL_PG_URL") {
        Ok(u) if !u.is_empty() => u,
        _ if required() => panic!(
            "CI=true (or POSTEL_REQUIRE_SERVERS=1) but POSTEL_PG_URL is not set: \
             PostgreSQL did not start (scripts/postgres-up.sh)"
        ),
        _ => {
            eprintln!("SKIP: POSTEL_PG_URL is not set (scripts/postgres-up.sh)");
            return None;
        }
    };
    let mut c = postgres::Client::connect(&base, postgres::NoTls).expect("PostgreSQL answers");
    c.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
    ))
    .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options=-csearch_path%3D{name}"))
}

fn postel(args: &[&str], env: &[(&str, &Path)], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("POSTEL_ACCOUNT")
        .env_remove("POSTEL_QUEUE_DIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd, Some(stdin))
}

fn json(out: &Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

const MSG: &[u8] = b"From: a@client.test\r\nTo: b@mx.test\r\nSubject: pg\r\n\r\nHello.\r\n";

#[test]
fn queue_commands_work_on_the_database_named_by_store() {
    let Some(url) = store("cli_store") else {
        return;
    };
    let sim = BlockingSimulator::start(Config::builder().build()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "default = \"relay\"\n[accounts.relay]\nhost = \"127.0.0.1\"\nport = {}\n\
             tls = \"none\"\nhelo = \"client.test\"\n",
            sim.addr().port()
        ),
    )
    .unwrap();
    let env = [("POSTEL_CONFIG", cfg.as_path())];
    let q = |rest: &[&str], stdin: &[u8]| {
        let mut args = vec!["queue", "--store", url.as_str()];
        args.extend_from_slice(rest);
        postel(&args, &env, stdin)
    };

    let mut ids = Vec::new();
    for rcpt in ["b@mx.test", "c@mx.test", "d@mx.test"] {
        let out = q(&["add", "-f", "a@client.test", rcpt], MSG);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        ids.push(text(&out.stdout).trim().to_owned());
    }
    let list = json(&q(&["list", "--json"], b""));
    let listed: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let shown = json(&q(&["show", &ids[0]], b""));
    assert_eq!(shown["recipients"][0]["address"], "b@mx.test");
    assert_eq!(shown["recipients"][0]["status"], "pending");
    let out = q(&["show", "--message", &ids[0]], b"");
    assert_eq!(out.stdout, MSG);

    let stats = json(&q(&["stats", "--json"], b""));
    assert_eq!(stats["messages"], 3);
    assert_eq!(stats["due"], 3);
    assert_eq!(stats["recipients"]["pending"], 3);
    assert_eq!(stats["attempts"], 0);

    let out = q(&["remove", &ids[2]], b"");
    assert_eq!(text(&out.stdout).trim(), format!("removed {}", ids[2]));
    let out = q(&["remove", &ids[2]], b"");
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));

    // Refused once: deferred for 30 minutes; flush; then two workers deliver.
    sim.set_faults(vec![postel_sim::fault::Fault::refuse_recipient(
        "c@mx.test",
        451,
        "4.3.0 later",
    )]);
    let out = q(&["run", "--workers", "2"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("1 delivered, 1 deferred, 0 failed; 1 message(s) left"),
        "{}",
        text(&out.stderr)
    );
    let stats = json(&q(&["stats", "--json"], b""));
    assert_eq!(
        (stats["messages"].as_u64(), stats["deferred"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(stats["attempts"], 1);
    sim.set_faults(vec![]);
    assert_eq!(
        text(&q(&["flush"], b"").stdout).trim(),
        "1 message(s) made due now"
    );
    let out = q(&["run", "--workers", "2"], b"");
    assert!(
        text(&out.stderr).contains("1 delivered, 0 deferred, 0 failed; 0 message(s) left"),
        "{}",
        text(&out.stderr)
    );
    let got = sim.messages();
    let mut rcpts: Vec<String> = got.iter().map(|m| m.recipients().join(",")).collect();
    rcpts.sort();
    assert_eq!(rcpts, ["b@mx.test", "c@mx.test"]);
    assert!(got.iter().all(|m| m.data == MSG));
    let stats = json(&q(&["stats", "--json"], b""));
    assert_eq!(stats["messages"], 0);
}

#[test]
fn queue_url_in_the_config_file_selects_the_database() {
    let Some(url) = store("cli_config") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, format!("queue_url = \"{url}\"\n")).unwrap();
    let env = [("POSTEL_CONFIG", cfg.as_path())];
    let out = postel(
        &["queue", "add", "-f", "a@client.test", "b@mx.test"],
        &env,
        MSG,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_owned();
    // The same message through --store: it is in the database, not in a directory.
    let list = json(&postel(
        &["queue", "--store", &url, "list", "--json"],
        &[],
        b"",
    ));
    assert_eq!(list[0]["id"], id.as_str());
    // --queue-dir still names a directory queue, which is empty.
    let qdir = dir.path().join("q");
    let out = postel(
        &[
            "queue",
            "--queue-dir",
            qdir.to_str().unwrap(),
            "stats",
            "--json",
        ],
        &env,
        b"",
    );
    assert_eq!(json(&out)["messages"], 0);
    // A bad URL is a clear error, not a panic.
    let out = postel(
        &[
            "queue",
            "--store",
            "postgres://postgres@127.0.0.1:1/x",
            "stats",
        ],
        &[],
        b"",
    );
    assert_eq!(out.status.code(), Some(75), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("queue database"),
        "{}",
        text(&out.stderr)
    );
}
