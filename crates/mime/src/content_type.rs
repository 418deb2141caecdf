//! RFC 2045 §5.1 `Content-Type` values and parameters, with RFC 2231 for non-ASCII or long
//! parameter values (attachment file names).
//!
//! ```text
//! content := "Content-Type" ":" type "/" subtype *(";" parameter)
//! parameter := attribute "=" value      value := token / quoted-string
//! ```

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use crate::error::Error;
use crate::header::{check_value, quote, HeaderWriter};

/// A media type with parameters, such as `text/plain; charset=utf-8`.
///
/// ```
/// use postel_mime::ContentType;
/// let ct: ContentType = "Text/HTML; charset=\"utf-8\"".parse()?;
/// assert_eq!(ct.essence(), "text/html");
/// assert_eq!(ct.param("charset"), Some("utf-8"));
/// # Ok::<(), postel_mime::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentType {
    essence: String,
    params: Vec<(String, String)>,
}

/// RFC 2045 §5.1 `tspecials` and what else a token cannot hold.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

impl ContentType {
    /// `type/subtype` with no parameters; both must be RFC 2045 tokens.
    pub fn new(essence: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidValue {
            field: "Content-Type".into(),
            reason: "not type/subtype made of RFC 2045 tokens",
        };
        let (t, s) = essence.trim().split_once('/').ok_or_else(bad)?;
        if !is_token(t) || !is_token(s) || essence.len() > 200 {
            return Err(bad());
        }
        Ok(ContentType {
            essence: format!("{t}/{s}").to_ascii_lowercase(),
            params: Vec::new(),
        })
    }

    /// Add or replace a parameter. Its name must be a token; its value any text without
    /// control characters (written as RFC 2231 when it is not ASCII or is long).
    pub fn with_param(mut self, name: &str, value: &str) -> Result<Self, Error> {
        if !is_token(name) || name.len() > 40 {
            return Err(Error::InvalidValue {
                field: "Content-Type".into(),
                reason: "parameter name is not a token",
            });
        }
        check_value(name, value)?;
        let name = name.to_ascii_lowercase();
        self.params.retain(|(n, _)| *n != name);
        self.params.push((name, value.to_owned()));
        Ok(self)
    }

    /// `type/subtype`, lower case.
    pub fn essence(&self) -> &str {
        &self.essence
    }

    /// A parameter's value by (case-insensitive) name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether this is `text/*`.
    pub fn is_text(&self) -> bool {
        self.essence.starts_with("text/")
    }

    /// Whether this is `multipart/*`.
    pub fn is_multipart(&self) -> bool {
        self.essence.starts_with("multipart/")
    }

    /// `text/plain; charset=utf-8`.
    pub fn text_plain() -> Self {
        ContentType {
            essence: "text/plain".into(),
            params: alloc::vec![("charset".into(), "utf-8".into())],
        }
    }

    /// `text/html; charset=utf-8`.
    pub fn text_html() -> Self {
        ContentType {
            essence: "text/html".into(),
            params: alloc::vec![("charset".into(), "utf-8".into())],
        }
    }

    /// `application/octet-stream`.
    pub fn octet_stream() -> Self {
        ContentType {
            essence: "application/octet-stream".into(),
            params: Vec::new(),
        }
    }

    /// The type for a file name's extension: `mime_guess` with `std`, a short built-in
    /// table without; `application/octet-stream` when unknown.
    pub fn from_file_name(name: &str) -> Self {
        #[cfg(feature = "std")]
        let guess = mime_guess::from_path(name)
            .first()
            .map(|m| m.essence_str().to_string());
        #[cfg(not(feature = "std"))]
        let guess = builtin_guess(name).map(ToString::to_string);
        guess
            .and_then(|g| ContentType::new(&g).ok())
            .unwrap_or_else(ContentType::octet_stream)
    }

    pub(crate) fn write(&self, w: &mut HeaderWriter<'_>, extra: &[(&str, &str)]) {
        let all: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .chain(extra.iter().copied())
            .collect();
        let sep = if all.is_empty() { "" } else { ";" };
        w.word(&format!("{}{sep}", self.essence));
        write_params(w, &all);
    }
}

#[cfg(not(feature = "std"))]
fn builtin_guess(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "txt" => "text/plain",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        "pdf" => "application/pdf",
        "json" => "application/json",
        "zip" => "application/zip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        _ => return None,
    })
}

/// RFC 2231 §7 `attribute-char`: token characters except `*`, `'`, `%`.
fn is_attr_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b)
}

/// Longest piece of a parameter value per line, so a parameter fits in 78 columns.
const PARAM_PIECE: usize = 56;

/// Write `; name=value` parameters, each a fold point; `value`s that are non-ASCII or long
/// become RFC 2231 `name*0*=utf-8''…` continuations.
pub(crate) fn write_params(w: &mut HeaderWriter<'_>, params: &[(&str, &str)]) {
    for (i, (name, value)) in params.iter().enumerate() {
        let sep = if i + 1 == params.len() { "" } else { ";" };
        if value.is_ascii() && value.len() <= PARAM_PIECE {
            // Unquoted only for RFC 2231 attribute-chars: a bare `'`, `%` or `*`
            // makes some readers (Python's email) take it for RFC 2231 syntax.
            let v = if !value.is_empty() && value.bytes().all(is_attr_char) {
                (*value).to_owned()
            } else {
                quote(value)
            };
            w.word(&format!("{name}={v}{sep}"));
            continue;
        }
        let mut pieces: Vec<String> = Vec::new();
        let mut cur = String::from("utf-8''");
        // Pieces break between characters, never inside one: some readers decode each
        // piece on its own.
        for c in value.chars() {
            let mut buf = [0u8; 4];
            let mut enc = String::new();
            for &b in c.encode_utf8(&mut buf).as_bytes() {
                if is_attr_char(b) {
                    enc.push(b as char);
                } else {
                    enc.push_str(&crate::header::hex_percent(b));
                }
            }
            if cur.len() + enc.len() > PARAM_PIECE {
                pieces.push(core::mem::take(&mut cur));
            }
            cur.push_str(&enc);
        }
        pieces.push(cur);
        if pieces.len() == 1 {
            w.word(&format!("{name}*={}{sep}", pieces[0]));
        } else {
            let n = pieces.len();
            for (k, p) in pieces.iter().enumerate() {
                let s = if k + 1 == n { sep } else { ";" };
                w.word(&format!("{name}*{k}*={p}{s}"));
            }
        }
    }
}

impl FromStr for ContentType {
    type Err = Error;
    /// Parse `type/subtype; name=value; name="quoted value"`.
    fn from_str(s: &str) -> Result<Self, Error> {
        check_value("Content-Type", s)?;
        let mut parts = s.split(';');
        let mut ct = ContentType::new(parts.next().unwrap_or(""))?;
        for p in parts {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let (n, v) = p.split_once('=').ok_or(Error::InvalidValue {
                field: "Content-Type".into(),
                reason: "parameter without '='",
            })?;
            let v = v.trim();
            let v = match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(q) => q.replace("\\\"", "\"").replace("\\\\", "\\"),
                None => v.to_string(),
            };
            ct = ct.with_param(n.trim(), &v)?;
        }
        Ok(ct)
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.essence)?;
        for (n, v) in &self.params {
            if is_token(v) {
                write!(f, "; {n}={v}")?;
            } else {
                write!(f, "; {n}={}", quote(v))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(params: &[(&str, &str)]) -> String {
        let mut out = Vec::new();
        let mut w = HeaderWriter::new(&mut out, "Content-Disposition");
        w.word("attachment;");
        write_params(&mut w, params);
        w.finish();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn ascii_and_rfc2231_filenames() {
        assert_eq!(
            render(&[("filename", "a b.pdf")]),
            "Content-Disposition: attachment; filename=\"a b.pdf\"\r\n"
        );
        assert_eq!(
            render(&[("filename", "ü.txt")]),
            "Content-Disposition: attachment; filename*=utf-8''%C3%BC.txt\r\n"
        );
        let long = "x".repeat(60);
        assert_eq!(
            render(&[("filename", &long)]),
            alloc::format!(
                "Content-Disposition: attachment;\r\n filename*0*=utf-8''{};\r\n filename*1*={}\r\n",
                "x".repeat(49),
                "x".repeat(11)
            )
        );
    }

    #[test]
    fn guesses_from_extension() {
        assert_eq!(
            ContentType::from_file_name("a.PDF").essence(),
            "application/pdf"
        );
        assert_eq!(
            ContentType::from_file_name("noext").essence(),
            "application/octet-stream"
        );
    }
}
