//! The `Date:` and `Message-ID:` fields a submission agent adds to a ready message that
//! lacks them (RFC 6409 §8.2, §8.3), as msmtp's `set_date_header` and
//! `set_msgid_header auto` do: for `postel sendmail` and `postel send --raw`.
//!
//! Only the header section (held in memory already) changes: a streamed body stays
//! streamed, and `SIZE=` counts the added fields because the encoder measures the
//! header section it writes.

use postel_mime::{DateTime, MessageId, RawMessage};

use crate::exit::Failure;

/// Which fields to add when they are missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddHeaders {
    /// `Date:` (the current time, UTC).
    pub date: bool,
    /// `Message-ID:` (unique, on the sender's domain).
    pub message_id: bool,
}

impl AddHeaders {
    /// Both on, unless `off` (the `--no-add-headers` flag) or the account's
    /// `set_date_header` / `set_msgid_header` say `false`.
    pub fn new(off: bool, account_date: Option<bool>, account_msgid: Option<bool>) -> Self {
        AddHeaders {
            date: !off && account_date.unwrap_or(true),
            message_id: !off && account_msgid.unwrap_or(true),
        }
    }
}

/// Adds what `policy` asks for and `raw` lacks. The Message-ID's domain is the
/// `From:` (else `Sender:`) address's, else `fallback_sender`'s, else this host's name.
pub fn add_missing(
    raw: &mut RawMessage,
    policy: AddHeaders,
    fallback_sender: Option<&str>,
) -> Result<(), Failure> {
    let fields = missing(raw, policy, fallback_sender)?;
    prepend(raw, &fields)
}

/// The fields [`add_missing`] would add, made once: to put the same ones on a second
/// reading of the message (the copy `sendmail --queue` keeps).
pub fn missing(
    raw: &RawMessage,
    policy: AddHeaders,
    fallback_sender: Option<&str>,
) -> Result<Vec<(&'static str, String)>, Failure> {
    let mut fields = Vec::new();
    if policy.message_id && !raw.has_field("Message-ID") {
        let id = MessageId::generate(&domain(raw, fallback_sender)).map_err(bad)?;
        fields.push(("Message-ID", id.to_string()));
    }
    if policy.date && !raw.has_field("Date") {
        fields.push(("Date", DateTime::now().to_string()));
    }
    Ok(fields)
}

/// Puts `fields` first, in the order given last-first (so the last one ends up on top).
pub fn prepend(raw: &mut RawMessage, fields: &[(&str, String)]) -> Result<(), Failure> {
    for (name, value) in fields {
        raw.prepend_field(name, value).map_err(bad)?;
    }
    Ok(())
}

fn bad(e: postel_mime::Error) -> Failure {
    Failure::data(format!("adding a header: {e}"))
}

/// The domain for a new Message-ID.
fn domain(raw: &RawMessage, fallback_sender: Option<&str>) -> String {
    // The field itself, not the envelope: a message without To: has one too.
    let from_headers = ["From", "Sender"].iter().find_map(|name| {
        let list = postel_mime::Address::parse_list(raw.field(name)?.trim()).ok()?;
        let first = list
            .iter()
            .flat_map(postel_mime::Address::mailboxes)
            .next()?;
        Some(first.addr().domain().to_owned())
    });
    let from_sender = || {
        fallback_sender
            .and_then(|s| s.rsplit_once('@'))
            .map(|(_, d)| d.trim_end_matches('>').to_owned())
    };
    let host = || {
        gethostname::gethostname()
            .into_string()
            .ok()
            .map(|h| h.trim_end_matches('.').to_owned())
    };
    [from_headers, from_sender(), host()]
        .into_iter()
        .flatten()
        .find(|d| MessageId::new("x", d).is_ok())
        .unwrap_or_else(|| "postel.invalid".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use postel_mime::EncodeOptions;

    fn sent(raw: &mut RawMessage) -> String {
        String::from_utf8(raw.to_vec(&EncodeOptions::default()).unwrap()).unwrap()
    }

    #[test]
    fn missing_fields_are_added_on_the_from_domain_and_present_ones_kept() {
        let mut raw =
            RawMessage::from_bytes(b"From: Ann <ann@ex.test>\nSubject: s\n\nbody\n".to_vec())
                .unwrap();
        add_missing(&mut raw, AddHeaders::new(false, None, None), None).unwrap();
        let out = sent(&mut raw);
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert!(lines[0].starts_with("Date: "), "{out}");
        assert!(lines[1].starts_with("Message-ID: <"), "{out}");
        assert!(lines[1].ends_with("@ex.test>"), "{out}");
        assert_eq!(lines[2], "From: Ann <ann@ex.test>");

        let kept = b"Date: Thu, 1 Jan 1970 00:00:00 +0000\nMessage-Id: <a@b>\n\nx\n";
        let mut raw = RawMessage::from_bytes(kept.to_vec()).unwrap();
        add_missing(&mut raw, AddHeaders::new(false, None, None), None).unwrap();
        assert_eq!(
            sent(&mut raw),
            "Date: Thu, 1 Jan 1970 00:00:00 +0000\r\nMessage-Id: <a@b>\r\n\r\nx\r\n"
        );
    }

    #[test]
    fn turned_off_nothing_is_added() {
        let mut raw = RawMessage::from_bytes(b"Subject: s\n\nbody\n".to_vec()).unwrap();
        add_missing(&mut raw, AddHeaders::new(true, None, None), None).unwrap();
        assert_eq!(sent(&mut raw), "Subject: s\r\n\r\nbody\r\n");
        let only_date = AddHeaders::new(false, Some(true), Some(false));
        add_missing(&mut raw, only_date, None).unwrap();
        let out = sent(&mut raw);
        assert!(
            out.starts_with("Date: ") && !out.contains("Message-ID"),
            "{out}"
        );
    }
}
