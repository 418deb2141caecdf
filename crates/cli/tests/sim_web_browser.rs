//! The web bench's page in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, driven over WebDriver with fantoccini): mail sent with swaks and
//! with `postel send` appears in the list without a reload, opens with its text, raw
//! source and session; a client that ends lines with LF alone gets its annotation; a
//! fault added with the page's form reaches the next swaks; the HTML body renders in a
//! sandbox where its script does not run.
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver (scripts/install-deps.sh installs
//! them). Missing, the test is skipped, unless POSTEL_REQUIRE_SERVERS=1: then it fails.

mod sim_web_common;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use sim_web_common::{bare_lf_client, Bench, BIN};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const WAIT: Duration = Duration::from_secs(30);

/// chromedriver on a free loopback port, in a process group of its own with the
/// browser it starts; the whole group is killed when dropped, so a failed test leaves
/// no Chromium behind.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group's id is chromedriver's pid; Chromium and its helpers are in it.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn browser_available() -> bool {
    let there = Path::new(CHROMIUM).is_file() && Path::new(CHROMEDRIVER).is_file();
    if !there {
        assert!(
            std::env::var("POSTEL_REQUIRE_SERVERS").as_deref() != Ok("1"),
            "POSTEL_REQUIRE_SERVERS=1 and {CHROMIUM} or {CHROMEDRIVER} is missing: \
             run scripts/install-deps.sh (Debian chromium, chromium-driver)"
        );
        eprintln!("skipped: {CHROMIUM} or {CHROMEDRIVER} missing");
    }
    there
}

async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session")
}

async fn wait_for(c: &Client, xpath: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(xpath))
        .await
        .unwrap_or_else(|e| panic!("waiting for {xpath}: {e}"))
}

fn swaks(smtp: SocketAddr, subject: &str) -> Output {
    Command::new("swaks")
        .args(["--server", &smtp.to_string(), "--helo", "swaks.test"])
        .args(["--from", "swaks@client.test", "--to", "bob@mx.test"])
        .args(["--header", &format!("Subject: {subject}")])
        .output()
        .expect("swaks runs")
}

fn postel_send(smtp: SocketAddr, subject: &str, home: &Path) {
    let mut child = Command::new(BIN)
        .args(["send", "--server", &smtp.to_string(), "--tls", "none"])
        .args(["--from", "app@client.test", "--to", "ops@mx.test"])
        .args(["--subject", subject, "--helo", "client.test"])
        .env("XDG_CONFIG_HOME", home.join("none"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"sent by postel send\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Does everything in one page session, in order, as a developer at the bench would.
#[test]
fn the_page_shows_mail_live_its_session_annotations_and_takes_faults() {
    if !browser_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bench = Bench::start(&[]);
    let driver = Driver::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = browser(&driver, &dir.path().join("chromium")).await;
        c.goto(&bench.url("/")).await.unwrap();
        // The event stream is open before anything is sent.
        wait_for(&c, "//span[@id='live' and contains(@class,'on')]").await;
        assert_eq!(
            c.find(Locator::Css("#count")).await.unwrap().text().await.unwrap(),
            "0 messages"
        );

        // swaks, then postel send: each row appears without a reload.
        let o = swaks(bench.smtp, "from swaks");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
        wait_for(&c, "//tr[contains(@class,'msg-row')]/td[@class='subject' and .='from swaks']").await;
        postel_send(bench.smtp, "from postel send", dir.path());
        wait_for(&c, "//tr[contains(@class,'msg-row')]/td[@class='subject' and .='from postel send']").await;
        assert_eq!(
            c.find(Locator::Css("#count")).await.unwrap().text().await.unwrap(),
            "2 messages"
        );

        // Search narrows the list.
        c.find(Locator::Css("#search"))
            .await
            .unwrap()
            .send_keys("ops@")
            .await
            .unwrap();
        wait_for(&c, "//p[@id='count' and .='1 of 2 messages match']").await;
        c.find(Locator::Css("#search")).await.unwrap().clear().await.unwrap();
        c.execute(
            "document.getElementById('search').dispatchEvent(new Event('input'))",
            vec![],
        )
        .await
        .unwrap();
        wait_for(&c, "//p[@id='count' and .='2 messages']").await;

        // Open the swaks message: text, raw source, session.
        wait_for(&c, "//tr[contains(@class,'msg-row')]/td[@class='subject' and .='from swaks']")
            .await
            .click()
            .await
            .unwrap();
        wait_for(&c, "//h2[@id='message-subject' and .='from swaks']").await;
        let text = wait_for(&c, "//pre[@id='message-text']").await.text().await.unwrap();
        assert!(text.contains("This is a test mailing"), "{text}");
        wait_for(&c, "//button[@data-sub='Raw']").await.click().await.unwrap();
        let raw = wait_for(&c, "//pre[@id='message-raw']").await.text().await.unwrap();
        assert!(raw.contains("Subject: from swaks"), "{raw}");
        wait_for(&c, "//button[@data-sub='Session']").await.click().await.unwrap();
        wait_for(&c, "//ol[@id='transcript']/li[contains(@class,'client') and .='EHLO swaks.test']").await;
        wait_for(&c, "//ol[@id='transcript']/li[contains(@class,'client') and .='RCPT TO:<bob@mx.test>']").await;

        // The bad client: LF alone. Its session shows the annotation at the line, with
        // what strict Postfix would do.
        let reply = bare_lf_client(bench.smtp);
        assert!(reply.starts_with("550 5.5.2"), "{reply}");
        c.find(Locator::Css("#tab-sessions")).await.unwrap().click().await.unwrap();
        wait_for(&c, "//tr[contains(@class,'session-row')]/td/span[@class='badge' and contains(.,'bare-lf')]")
            .await
            .click()
            .await
            .unwrap();
        let note = wait_for(&c, "//div[@class='annotation' and @data-code='bare-lf']").await;
        let note_text = note.text().await.unwrap();
        assert!(note_text.contains("bare LF"), "{note_text}");
        assert!(note_text.contains("EHLO device.test\\n"), "{note_text}");
        assert!(note_text.contains("Postfix (strict settings)"), "{note_text}");
        wait_for(&c, "//div[@class='annotation' and @data-code='bare-lf']/details[@open]/table//td[@class='refuses']").await;
        // Highlighted at its line: the annotated line right before the note.
        wait_for(
            &c,
            "//div[@class='annotation' and @data-code='bare-lf']/preceding-sibling::li[1][contains(@class,'annotated') and .='<bare LF>']",
        )
        .await;

        // A fault from the form: the next connection's RCPT gets 451.
        c.find(Locator::Css("#tab-faults")).await.unwrap().click().await.unwrap();
        let step = c.find(Locator::Css("#fault-step")).await.unwrap();
        step.select_by_value("rcpt").await.unwrap();
        let action = c.find(Locator::Css("#fault-action")).await.unwrap();
        action.select_by_value("reply").await.unwrap();
        let code = c.find(Locator::Css("#fault-code")).await.unwrap();
        code.clear().await.unwrap();
        code.send_keys("451").await.unwrap();
        let text = c.find(Locator::Css("#fault-text")).await.unwrap();
        text.clear().await.unwrap();
        text.send_keys("4.3.2 the bench says later").await.unwrap();
        c.find(Locator::Css("#fault-connection"))
            .await
            .unwrap()
            .select_by_value("next")
            .await
            .unwrap();
        c.find(Locator::Css("#fault-add")).await.unwrap().click().await.unwrap();
        wait_for(&c, "//li[@class='fault' and contains(.,'reply 451 4.3.2 the bench says later')]").await;
        let o = swaks(bench.smtp, "after the fault");
        let out = String::from_utf8_lossy(&o.stdout);
        // swaks exits 24 when every recipient was refused.
        assert_eq!(o.status.code(), Some(24), "{out}");
        assert!(out.contains("451 4.3.2 the bench says later"), "{out}");
        // Only the next connection: the one after is accepted again.
        let o = swaks(bench.smtp, "fault spent");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));

        // An HTML body: rendered in the sandboxed frame, its script never runs.
        let mut client = bench.client();
        client
            .send_bytes(
                &postel::Envelope::new("html@client.test", ["bob@mx.test"]),
                b"From: html@client.test\r\nSubject: html mail\r\nContent-Type: text/html\r\n\r\n\
                  <p id=\"hello\">Hello <b>bench</b></p>\
                  <script>document.body.setAttribute('data-ran', 'yes')</script>\r\n",
            )
            .unwrap();
        c.find(Locator::Css("#tab-messages")).await.unwrap().click().await.unwrap();
        wait_for(&c, "//tr[contains(@class,'msg-row')]/td[@class='subject' and .='html mail']")
            .await
            .click()
            .await
            .unwrap();
        let frame = wait_for(&c, "//iframe[@id='message-html']").await;
        assert_eq!(frame.attr("sandbox").await.unwrap().as_deref(), Some(""));
        frame.enter_frame().await.unwrap();
        let hello = c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("#hello"))
            .await
            .unwrap();
        assert_eq!(hello.text().await.unwrap(), "Hello bench");
        let body = c.find(Locator::Css("body")).await.unwrap();
        assert_eq!(body.attr("data-ran").await.unwrap(), None, "the script ran");
        c.enter_parent_frame().await.unwrap();

        // Delete it from the page: its row goes.
        wait_for(&c, "//button[@id='delete-one']").await.click().await.unwrap();
        let deadline = Instant::now() + WAIT;
        while c
            .find(Locator::XPath("//tr[contains(@class,'msg-row')]/td[@class='subject' and .='html mail']"))
            .await
            .is_ok()
        {
            assert!(Instant::now() < deadline, "the row stayed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        c.close().await.unwrap();
    });
}
