//! Random messages built with the builder, read back by Python's stdlib `email` package
//! (`policy.default`) through `tests/python/check_email.py`: a second, independent parser.

mod common;

use base64_json::b64;
use common::*;
use postel_mime::EncodeOptions;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::json;

mod base64_json {
    /// Plain base64 for the JSON expectations (the test's own, not the crate's).
    pub fn b64(data: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for c in data.chunks(3) {
            let v = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for i in 0..4 {
                if i <= c.len() {
                    s.push(A[((v >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    s.push('=');
                }
            }
        }
        s
    }
}

fn shape_of(n: &Node, s: &mut String) {
    match n {
        Node::Leaf(_) => s.push('.'),
        Node::Multi(sub, children) => {
            s.push_str(&format!("{sub}("));
            children.iter().for_each(|c| shape_of(c, s));
            s.push(')');
        }
    }
}

#[test]
fn python_email_reads_back_what_the_builder_wrote() {
    let dir = std::env::temp_dir().join(format!("postel-mime-py-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = model();
    let cases: usize = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    for i in 0..cases {
        let m = strategy.new_tree(&mut runner).unwrap().current();
        let mut msg = build(&m);
        let opts = EncodeOptions {
            allow_8bit: i % 2 == 0,
            smtputf8: false,
        };
        let (bytes, len) = encode(&mut msg, &opts, 1 + i * 37 % 3000);
        check_wire(&bytes).unwrap();
        if let Some(len) = len {
            assert_eq!(len, bytes.len() as u64);
        }
        let mut leaves = Vec::new();
        expected(&m.body, &mut leaves);
        let mut shape = String::new();
        shape_of(&m.body, &mut shape);
        let want = json!({
            "subject": m.subject,
            "from": [m.from.0, ascii_addr(&m.from.1)],
            "to": m.to.iter().map(|(n, a)| json!([n, ascii_addr(a)])).collect::<Vec<_>>(),
            "custom": m.custom,
            "shape": shape,
            "single": matches!(m.body, Node::Leaf(_)),
            "leaves": leaves.iter().map(|l| json!({
                "type": l.essence,
                "filename": l.filename,
                "text": l.text,
                "data_b64": b64(&l.data),
            })).collect::<Vec<_>>(),
        });
        std::fs::write(dir.join(format!("{i:04}.eml")), &bytes).unwrap();
        std::fs::write(dir.join(format!("{i:04}.json")), want.to_string()).unwrap();
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/check_email.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(&dir)
        .output()
        .expect("python3 on PATH");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python checker failed (messages kept in {}):\n{stdout}\n{stderr}",
        dir.display()
    );
    assert!(
        stdout.contains(&format!("{cases} messages matched, 0 did not")),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
