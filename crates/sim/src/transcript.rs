//! The `testdata/transcripts/*.smtp` format: `C:`/`S:` lines and `#` comments.
//!
//! ```
//! let t = postel_sim::transcript::parse("# a comment\nS: 220 mx.test\nC: QUIT\nS: 221 Bye\n").unwrap();
//! assert_eq!(t.server_lines(), vec!["220 mx.test", "221 Bye"]);
//! ```

use crate::store::{Line, Side, Transcript};

/// A line that is neither `C: `, `S: `, `#`, nor empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: expected `C: `, `S: ` or `#`")]
pub struct ParseError {
    /// The line number, from 1.
    pub line: usize,
}

/// Parses a transcript file; `#` lines become notes, blank lines are skipped.
pub fn parse(text: &str) -> Result<Transcript, ParseError> {
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.trim().is_empty() {
            continue;
        }
        let (side, rest) = if let Some(r) = raw.strip_prefix("C:") {
            (Some(Side::Client), r)
        } else if let Some(r) = raw.strip_prefix("S:") {
            (Some(Side::Server), r)
        } else if let Some(r) = raw.strip_prefix('#') {
            (None, r)
        } else {
            return Err(ParseError { line: i + 1 });
        };
        lines.push(Line {
            side,
            text: rest.strip_prefix(' ').unwrap_or(rest).to_owned(),
        });
    }
    Ok(Transcript {
        connection: 0,
        lines,
        closed: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_keeps_order_and_refuses_stray_lines() {
        let t = parse("C: EHLO a\nS: 250-x\nS: 250 y\n").unwrap();
        assert_eq!(t.client_lines(), vec!["EHLO a"]);
        assert_eq!(t.server_lines(), vec!["250-x", "250 y"]);
        assert_eq!(parse("X: nope").unwrap_err(), ParseError { line: 1 });
    }
}
