//! The `testdata/transcripts/*.smtp` format: `C:`/`S:` lines and `#` comments.
//!
//! ```
//! let t = postel_sim::transcript::parse("# a comment\nS: 220 mx.test\nC: QUIT\nS: 221 Bye\n").unwrap();
//! assert_eq!(t.server_lines(), vec!["220 mx.test", "221 Bye"]);
//! ```

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::store::{escape, Line, Side, Transcript};

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

/// Why [`play_server`] stopped before the end of the transcript.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlayError {
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The client sent something else than the transcript's `C:` line.
    #[error("transcript line {index}: expected C: {expected:?}, got {got:?}")]
    Mismatch {
        /// The index of the line in [`Transcript::lines`].
        index: usize,
        /// The transcript's line.
        expected: String,
        /// What came, escaped like transcript text.
        got: String,
    },
    /// The client closed while the transcript expected a `C:` line.
    #[error("transcript line {index}: the client closed instead of sending {expected:?}")]
    Closed {
        /// The index of the line in [`Transcript::lines`].
        index: usize,
        /// The transcript's line.
        expected: String,
    },
}

/// Plays the server side of a transcript to one client: consecutive `S:` lines are
/// written together (with CRLF), and each `C:` line must arrive exactly (compared after
/// escaping, so `\r` in a transcript means a CR the client sent). `#` notes are skipped.
/// On a mismatch nothing more is written and the error says where.
pub async fn play_server<S>(transcript: &Transcript, stream: S) -> Result<(), PlayError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut io = BufReader::new(stream);
    let mut pending = Vec::new();
    for (index, line) in transcript.lines.iter().enumerate() {
        match line.side {
            Some(Side::Server) => {
                pending.extend_from_slice(line.text.as_bytes());
                pending.extend_from_slice(b"\r\n");
            }
            Some(Side::Client) => {
                if !pending.is_empty() {
                    io.get_mut().write_all(&pending).await?;
                    io.get_mut().flush().await?;
                    pending.clear();
                }
                let mut got = Vec::new();
                if io.read_until(b'\n', &mut got).await? == 0 {
                    return Err(PlayError::Closed {
                        index,
                        expected: line.text.clone(),
                    });
                }
                let trimmed = got
                    .strip_suffix(b"\r\n")
                    .unwrap_or(&got[..got.len().saturating_sub(1)]);
                let got = escape(trimmed);
                if got != line.text {
                    return Err(PlayError::Mismatch {
                        index,
                        expected: line.text.clone(),
                        got,
                    });
                }
            }
            None => {}
        }
    }
    if !pending.is_empty() {
        io.get_mut().write_all(&pending).await?;
    }
    io.get_mut().shutdown().await?;
    Ok(())
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

    #[tokio::test]
    async fn play_server_answers_a_matching_client_and_stops_at_a_mismatch() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let t = parse("S: 220 mx.test\nC: EHLO a\nS: 250 mx.test\nC: QUIT\nS: 221 Bye\n").unwrap();
        let (mut client, server) = tokio::io::duplex(1024);
        let play = tokio::spawn(async move { play_server(&t, server).await });
        client.write_all(b"EHLO a\r\nQUIT\r\n").await.unwrap();
        let mut out = String::new();
        client.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "220 mx.test\r\n250 mx.test\r\n221 Bye\r\n");
        assert!(play.await.unwrap().is_ok());

        let t = parse("S: 220 mx.test\nC: EHLO a\nS: 250 mx.test\n").unwrap();
        let (mut client, server) = tokio::io::duplex(1024);
        let play = tokio::spawn(async move { play_server(&t, server).await });
        client.write_all(b"HELO a\r\n").await.unwrap();
        let err = play.await.unwrap().unwrap_err();
        assert_eq!(
            err.to_string(),
            "transcript line 1: expected C: \"EHLO a\", got \"HELO a\""
        );
    }
}
