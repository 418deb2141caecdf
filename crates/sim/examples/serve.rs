//! Runs a simulator in the foreground and prints what arrives, like `postel sim` will.
//!
//! `cargo run -p postel-sim --example serve -- [--lenient] [--port N] [--transcripts]`
//! (user `alice`, password `secret`; the CA is written to `postel-sim-ca.pem`).

use postel_sim::{run, Config, RunOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), postel_sim::SimError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut b = Config::builder()
        .user("alice", "secret")
        .write_ca_to("postel-sim-ca.pem");
    let mut options = RunOptions::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--lenient" => b = b.lenient(),
            "--transcripts" => options.transcripts = true,
            "--implicit-tls" => b = b.implicit_tls(true),
            "--port" => {
                let port = it.next().and_then(|p| p.parse().ok()).unwrap_or(2525);
                b = b.port(port);
            }
            other => eprintln!("ignoring unknown argument {other}"),
        }
    }
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    run(b.build(), options, std::io::stdout(), stop).await
}
