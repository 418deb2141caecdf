//! A received message for display: summary, header fields, text, HTML and the MIME
//! tree, through `mail-parser`.

use mail_parser::{Address, MessageParser, MimeHeaders, PartType};
use serde_json::{json, Value};

/// What the message list shows.
pub(crate) struct Head {
    pub(crate) subject: String,
    pub(crate) from: String,
    pub(crate) to: String,
}

fn addresses(a: Option<&Address<'_>>) -> String {
    let Some(a) = a else {
        return String::new();
    };
    a.iter()
        .map(|addr| match (addr.name(), addr.address()) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (None, Some(e)) => e.to_owned(),
            (Some(n), None) => n.to_owned(),
            (None, None) => String::new(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn summary(raw: &[u8]) -> Head {
    match MessageParser::default().parse(raw) {
        Some(m) => Head {
            subject: m.subject().unwrap_or("").to_owned(),
            from: addresses(m.from()),
            to: addresses(m.to()),
        },
        None => Head {
            subject: String::new(),
            from: String::new(),
            to: String::new(),
        },
    }
}

/// The header fields as sent, unfolded, in order (`name`, `value`).
pub(crate) fn raw_headers(raw: &[u8]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in raw.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(line);
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(text.trim());
            }
            continue;
        }
        match text.split_once(':') {
            Some((n, v)) => out.push((n.trim().to_owned(), v.trim().to_owned())),
            None => out.push((text.into_owned(), String::new())),
        }
    }
    out
}

/// The message for `GET /api/v1/messages/{id}`: headers, text, whether there is HTML,
/// and the MIME parts with download links under `base`.
pub(crate) fn detail(raw: &[u8], base: &str) -> Value {
    let headers: Vec<Value> = raw_headers(raw)
        .into_iter()
        .map(|(n, v)| json!({ "name": n, "value": v }))
        .collect();
    let Some(m) = MessageParser::default().parse(raw) else {
        return json!({ "headers": headers, "text": null, "html": null, "parts": [] });
    };
    let text = m.body_text(0).map(|t| t.into_owned());
    let has_html = m.html_body_count() > 0
        && m.html_part(0)
            .is_some_and(|p| matches!(p.body, PartType::Html(_)));
    let attachments: Vec<u32> = m.attachments.clone();
    let parts: Vec<Value> = m
        .parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let ct = p
                .content_type()
                .map(|c| match &c.c_subtype {
                    Some(s) => format!("{}/{}", c.c_type, s),
                    None => c.c_type.to_string(),
                })
                .unwrap_or_else(|| "text/plain".to_owned());
            let children: Vec<u32> = match &p.body {
                PartType::Multipart(ids) => ids.clone(),
                _ => Vec::new(),
            };
            json!({
                "index": i,
                "content_type": ct,
                "filename": p.attachment_name(),
                "content_id": p.content_id(),
                "size": p.contents().len(),
                "attachment": attachments.contains(&(i as u32)),
                "children": children,
                "url": if children.is_empty() { Some(format!("{base}/parts/{i}")) } else { None },
            })
        })
        .collect();
    json!({
        "headers": headers,
        "subject": m.subject(),
        "from": addresses(m.from()),
        "to": addresses(m.to()),
        "text": text,
        "html": if has_html { Some(format!("{base}/html")) } else { None },
        "parts": parts,
    })
}

/// The first HTML body, if any.
pub(crate) fn html(raw: &[u8]) -> Option<String> {
    let m = MessageParser::default().parse(raw)?;
    m.html_part(0).and_then(|p| match &p.body {
        PartType::Html(h) => Some(h.to_string()),
        _ => None,
    })
}

/// Part `index` decoded: its content type, file name and bytes.
pub(crate) fn part(raw: &[u8], index: usize) -> Option<(String, Option<String>, Vec<u8>)> {
    let m = MessageParser::default().parse(raw)?;
    let p = m.parts.get(index)?;
    if matches!(p.body, PartType::Multipart(_)) {
        return None;
    }
    let ct = p
        .content_type()
        .map(|c| match &c.c_subtype {
            Some(s) => format!("{}/{}", c.c_type, s),
            None => c.c_type.to_string(),
        })
        .unwrap_or_else(|| "text/plain".to_owned());
    Some((
        ct,
        p.attachment_name().map(str::to_owned),
        p.contents().to_vec(),
    ))
}
