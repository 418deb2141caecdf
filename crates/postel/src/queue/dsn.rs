//! The message that tells a sender their mail could not be delivered: a
//! `multipart/report; report-type=delivery-status` (RFC 3464, RFC 6522) with a human
//! part, the per-recipient status, and the original headers.

use super::{now_secs, Record, Status};

/// Builds the bounce for `record`'s failed recipients, from `MAILER-DAEMON@<host>` to the
/// envelope sender, with the headers of `original` attached (`text/rfc822-headers`).
/// Queue it with the null reverse-path `<>` so it can never bounce back (RFC 5321 §6.1).
pub fn bounce_message(record: &Record, original: &[u8], host: &str) -> Vec<u8> {
    let host = clean(host);
    let boundary = format!("postel-dsn-{}", record.id);
    let failed: Vec<_> = record
        .recipients
        .iter()
        .filter(|r| r.status == Status::Failed)
        .collect();
    let mut m = String::new();
    m.push_str(&format!(
        "From: Mail Delivery System <MAILER-DAEMON@{host}>\r\n"
    ));
    m.push_str(&format!("To: <{}>\r\n", clean(&record.from)));
    m.push_str("Subject: Undelivered Mail Returned to Sender\r\n");
    m.push_str(&format!("Date: {}\r\n", rfc5322_date(now_secs())));
    m.push_str(&format!("Message-ID: <{}.dsn@{host}>\r\n", record.id));
    m.push_str("Auto-Submitted: auto-replied\r\n");
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str(&format!(
        "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n\r\n"
    ));
    m.push_str(&format!(
        "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    ));
    m.push_str("Your message could not be delivered to these recipients:\r\n\r\n");
    for r in &failed {
        m.push_str(&format!(
            "  <{}>: {}\r\n",
            clean(&r.address),
            clean(r.last.as_deref().unwrap_or("failed"))
        ));
    }
    m.push_str(&format!(
        "\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; {host}\r\n"
    ));
    for r in &failed {
        let last = clean(r.last.as_deref().unwrap_or("failed"));
        let status = enhanced_in(&last).unwrap_or_else(|| "5.0.0".to_owned());
        m.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: {status}\r\nDiagnostic-Code: smtp; {last}\r\n",
            clean(&r.address)
        ));
    }
    m.push_str(&format!(
        "\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    ));
    let head_end = find(original, b"\r\n\r\n")
        .or_else(|| find(original, b"\n\n"))
        .unwrap_or(original.len());
    let headers = String::from_utf8_lossy(&original[..head_end]);
    for line in headers.lines() {
        m.push_str(line.trim_end_matches('\r'));
        m.push_str("\r\n");
    }
    m.push_str(&format!("\r\n--{boundary}--\r\n"));
    m.into_bytes()
}

/// One line, no control characters: reasons come from servers.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The first `4.x.y` or `5.x.y` in a reason, for the Status field.
fn enhanced_in(s: &str) -> Option<String> {
    s.split_whitespace()
        .find(|w| {
            let p: Vec<_> = w.split('.').collect();
            p.len() == 3
                && matches!(p[0], "4" | "5")
                && p[1..]
                    .iter()
                    .all(|x| !x.is_empty() && x.len() <= 3 && x.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|w| format!("5{}", &w[1..]))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `secs` since the Unix epoch as an RFC 5322 §3.3 date in UTC
/// (`Tue, 14 Nov 2023 22:13:20 +0000`), for bounces and `queue list`.
pub fn rfc5322_date(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let (y, mo, d) = civil(days);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days.rem_euclid(7)) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(mo - 1) as usize];
    format!(
        "{wd}, {d} {mon} {y} {:02}:{:02}:{:02} +0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's `civil_from_days`.
fn civil(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_follow_rfc5322() {
        assert_eq!(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_700_000_000),
            "Tue, 14 Nov 2023 22:13:20 +0000"
        );
    }

    #[test]
    fn status_comes_from_the_reply() {
        assert_eq!(
            enhanced_in("550 5.1.1 no such user").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(
            enhanced_in("gave up: 451 4.7.1 try later").as_deref(),
            Some("5.7.1")
        );
        assert_eq!(enhanced_in("connection refused"), None);
    }
}
