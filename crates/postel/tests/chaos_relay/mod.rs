//! The faulty relay of the chaos tests and their count of what every recipient got,
//! shared by tests/chaos.rs (the file queue, scripts/chaos.sh) and tests/queue_pg_chaos.rs
//! (the database queue, scripts/queue-pg-chaos.sh).
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::Rng;
use postel_sim::fault::{Action, Fault, Step};
use postel_sim::{Config, Event, ReceivedMessage, Simulator};

/// What the relay's faults do to each of its first `connections` connections, and the
/// connections whose fault loses the reply to a stored message.
pub fn faults_for(rng: &mut Rng, connections: u64) -> (Vec<Fault>, Vec<u64>) {
    let mut faults = Vec::new();
    let mut lost = Vec::new();
    for n in 1..=connections {
        let f = match rng.below(40) {
            0 => {
                lost.push(n);
                Fault::new(Step::DataEnd, Action::CloseAfterAccept)
            }
            1 => Fault::new(Step::Mail, Action::Reply421),
            2 => Fault::new(Step::Data, Action::Close),
            3 => Fault::new(Step::Greeting, Action::Delay(Duration::from_millis(700))),
            4 => Fault::new(Step::DataEnd, Action::Reply(451, "4.3.0 try later".into())),
            _ => continue,
        };
        faults.push(f.on_connection(n));
    }
    (faults, lost)
}

/// One simulator and the task that records every message it stores (the record survives
/// the simulator's shutdown: the events are read until the channel closes). What it
/// stored before the task subscribed (it accepts connections from its start) is taken
/// from its own list when it stops.
pub struct Relay {
    pub sim: Simulator,
    pub lost_reply: Vec<u64>,
    collector: tokio::task::JoinHandle<(bool, Vec<ReceivedMessage>)>,
    store: Arc<Mutex<Vec<ReceivedMessage>>>,
}

/// A relay on 127.0.0.1:`port`.
pub fn start_relay(
    rt: &tokio::runtime::Runtime,
    port: u16,
    faults: (Vec<Fault>, Vec<u64>),
    store: Arc<Mutex<Vec<ReceivedMessage>>>,
) -> Relay {
    start_relay_on(rt, IpAddr::V4(Ipv4Addr::LOCALHOST), port, faults, store)
}

/// A relay on `ip`:`port` (another address than loopback only inside a network namespace
/// of the test's own).
pub fn start_relay_on(
    rt: &tokio::runtime::Runtime,
    ip: IpAddr,
    port: u16,
    (faults, lost_reply): (Vec<Fault>, Vec<u64>),
    store: Arc<Mutex<Vec<ReceivedMessage>>>,
) -> Relay {
    let config = Config::builder().bind(ip).port(port).build();
    let sim = rt.block_on(async {
        let mut tries = 0;
        loop {
            match Simulator::start(config.clone()).await {
                Ok(s) => break s,
                // The old listener's port can take a moment to be free again.
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("the relay does not start on port {port}: {e}"),
            }
        }
    });
    sim.set_faults(faults);
    let mut events = sim.subscribe();
    let collector = rt.spawn(async move {
        let mut got = Vec::new();
        loop {
            match events.recv().await {
                Ok(Event::Message(m)) => got.push(m),
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return (false, got),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return (true, got),
            }
        }
    });
    Relay {
        sim,
        lost_reply,
        collector,
        store,
    }
}

/// Stops the relay; its connections, and how many of them had a fault that lost a reply.
pub fn stop_relay(rt: &tokio::runtime::Runtime, relay: Relay) -> (u64, u64) {
    let connections = relay.sim.connections();
    let lost = relay
        .lost_reply
        .iter()
        .filter(|&&n| n <= connections)
        .count() as u64;
    // Stored before the collector subscribed: in the simulator's list, not in the events.
    let early = relay.sim.messages();
    rt.block_on(relay.sim.shutdown());
    let complete =
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), relay.collector).await });
    let Ok(Ok((true, mut got))) = complete else {
        panic!(
            "the harness missed relay events (lagged or did not close): cannot check the counts"
        );
    };
    let seen: std::collections::HashSet<String> = got.iter().map(|m| m.queue_id.clone()).collect();
    let before = got.len();
    got.extend(early.into_iter().filter(|m| !seen.contains(&m.queue_id)));
    if got.len() > before {
        eprintln!(
            "chaos: {} message(s) stored by the relay before its events were watched",
            got.len() - before
        );
    }
    relay.store.lock().unwrap().extend(got);
    (connections, lost)
}

/// Resets every established connection to the relay's port with `ss -K` (inside the test's
/// own network namespace only); the number of sockets it reports killed.
pub fn reset_connections(port: u16) -> u64 {
    let out = Command::new("ss")
        .args(["-K", "-t", "-n", "state", "established"])
        .arg(format!("( sport = :{port} )"))
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .count() as u64,
        _ => 0,
    }
}

/// The number `i` of a test message's `Message-ID: <chaos-i@postel.test>`.
pub fn message_id(data: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(data);
    let at = text.find("Message-ID: <chaos-")? + "Message-ID: <chaos-".len();
    let rest = &text[at..];
    let end = rest.find('@')?;
    rest[..end].parse().ok()
}

/// A test message: `Message-ID: <chaos-i@postel.test>`, up to 50 lines of 72 octets (sizes
/// vary, lines stay within RFC 5321's limit).
pub fn chaos_message(i: u64) -> String {
    format!(
        "From: sender@chaos.postel.test\r\nTo: r0@chaos.postel.test\r\n\
         Subject: chaos {i}\r\nMessage-ID: <chaos-{i}@postel.test>\r\n\r\nmessage {i}\r\n{}\r\n",
        format!("{}\r\n", "x".repeat(72)).repeat((i % 50) as usize)
    )
}

/// What the relay stored, counted against what was queued.
#[derive(Debug, Default)]
pub struct Tally {
    /// `message i to r` never delivered.
    pub missing: Vec<String>,
    /// Copies beyond the first, over all (message, recipient) pairs.
    pub duplicates: u64,
    /// Messages from `<>`.
    pub bounces: u64,
    /// Messages the test did not queue.
    pub foreign: u64,
}

/// Counts each (message, recipient) copy in `got`, for messages `0..messages` each to all
/// of `recipients`.
pub fn tally(got: &[ReceivedMessage], messages: u64, recipients: &[String]) -> Tally {
    let mut t = Tally::default();
    let mut copies: HashMap<(u64, String), u64> = HashMap::new();
    for m in got {
        if m.mail_from.is_empty() {
            if t.bounces == 0 {
                let text = String::from_utf8_lossy(&m.data);
                eprintln!(
                    "chaos: the first bounce:\n{}",
                    &text[..text.len().min(2500)]
                );
            }
            t.bounces += 1;
            continue;
        }
        let Some(id) = message_id(&m.data) else {
            t.foreign += 1;
            continue;
        };
        for r in &m.rcpt_to {
            *copies.entry((id, r.address.clone())).or_default() += 1;
        }
    }
    for i in 0..messages {
        for r in recipients {
            match copies.get(&(i, r.clone())) {
                None | Some(0) => t.missing.push(format!("message {i} to {r}")),
                Some(n) => t.duplicates += n - 1,
            }
        }
    }
    t
}
