//! The header section as the signer sees it: split into fields, and the fields a
//! signature covers chosen (RFC 6376 §5.4).

use alloc::string::String;
use alloc::vec::Vec;

/// Header fields signed by default when the message has them (RFC 6376 §5.4.1's
/// recommendations), `From` first. Trace and resent fields are left out: relays add them.
pub const DEFAULT_HEADERS: &[&str] = &[
    "From",
    "Sender",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// The fields signed once more than they occur when oversigning is on, so that a copy
/// added later breaks the signature (RFC 6376 §8.15).
pub const OVERSIGNED: &[&str] = &["From", "To", "Subject", "Date"];

/// One field of a header section: its whole text (name, colon, value, folding CRLFs),
/// without the final CRLF.
pub(crate) struct Field<'a> {
    pub(crate) raw: &'a [u8],
}

impl Field<'_> {
    /// The name, white space before the colon removed.
    pub(crate) fn name(&self) -> &[u8] {
        let colon = self
            .raw
            .iter()
            .position(|&b| b == b':')
            .unwrap_or(self.raw.len());
        self.raw[..colon].trim_ascii_end()
    }

    pub(crate) fn is(&self, name: &str) -> bool {
        self.name().eq_ignore_ascii_case(name.as_bytes())
    }
}

/// Split a header section (CRLF line ends, with or without the empty line that ends it)
/// into fields: a line starting with white space continues the field before it.
pub(crate) fn split_fields(section: &[u8]) -> Vec<Field<'_>> {
    let mut fields: Vec<Field<'_>> = Vec::new();
    let mut start = None;
    let mut i = 0;
    while i < section.len() {
        let end = find_crlf(section, i).unwrap_or(section.len());
        let line = &section[i..end];
        if line.is_empty() {
            break; // the end of the header section
        }
        let continues = matches!(line[0], b' ' | b'\t');
        match (start, continues) {
            (Some(_), true) => {}
            (Some(s), false) => {
                fields.push(Field {
                    raw: &section[s..i - 2],
                });
                start = Some(i);
            }
            (None, _) => start = Some(i),
        }
        i = end + 2;
    }
    if let Some(s) = start {
        let end = i.min(section.len());
        let raw = &section[s..end];
        let raw = raw.strip_suffix(b"\r\n").unwrap_or(raw);
        fields.push(Field { raw });
    }
    fields
}

fn find_crlf(b: &[u8], from: usize) -> Option<usize> {
    b.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| from + p)
}

/// The `h=` list for `fields`: each name of `wanted` as many times as the message has
/// it (in the order of `wanted`), plus once more for each name of `oversign`.
pub(crate) fn signed_names(
    fields: &[Field<'_>],
    wanted: &[String],
    oversign: &[String],
) -> Vec<String> {
    let mut names = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for w in wanted {
        let lower = w.to_ascii_lowercase();
        if seen.contains(&lower) {
            continue;
        }
        let n = fields.iter().filter(|f| f.is(w)).count();
        let extra = usize::from(oversign.iter().any(|o| o.eq_ignore_ascii_case(w)));
        names.extend((0..n + extra).map(|_| lower.clone()));
        seen.push(lower);
    }
    for o in oversign {
        let lower = o.to_ascii_lowercase();
        if !seen.contains(&lower) {
            let n = fields.iter().filter(|f| f.is(o)).count();
            names.extend((0..=n).map(|_| lower.clone()));
            seen.push(lower);
        }
    }
    names
}

/// The fields `names` (an `h=` list) select, in order: each name takes the last instance
/// not yet taken, counting from the bottom; a name with no instance left selects nothing
/// (RFC 6376 §5.4.2).
pub(crate) fn select<'f, 'a>(fields: &'f [Field<'a>], names: &[String]) -> Vec<&'f Field<'a>> {
    let mut used = alloc::vec![false; fields.len()];
    let mut out = Vec::new();
    for name in names {
        if let Some(i) = (0..fields.len())
            .rev()
            .find(|&i| !used[i] && fields[i].is(name))
        {
            used[i] = true;
            out.push(&fields[i]);
        }
    }
    out
}
