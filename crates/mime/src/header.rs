//! Header values: validation (no injection), folding (RFC 5322 §2.2.3) and RFC 2047
//! encoded words for non-ASCII text.
//!
//! Every header line this crate writes goes through [`HeaderWriter`], which folds at 78
//! columns where it can and never lets a line pass 998 octets: words that could not be
//! folded (longer than a line) are written as encoded words, which can always be split.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::error::Error;

/// RFC 5322 §2.1.1: lines SHOULD be at most 78 characters, excluding CRLF.
pub(crate) const FOLD_AT: usize = 78;
/// RFC 2047 §2: an encoded word is at most 75 characters.
const MAX_ENCODED_WORD: usize = 75;
/// Smallest encoded word we bother to start on a line before folding instead.
const MIN_ENCODED_WORD: usize = 20;

/// Refuse CR, LF, NUL and the other C0 controls (except TAB) and DEL in a value meant for
/// `field`: these are how header injection happens.
pub(crate) fn check_value(field: &str, value: &str) -> Result<(), Error> {
    match value
        .bytes()
        .enumerate()
        .find(|&(_, b)| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        Some((at, byte)) => Err(Error::InvalidByte {
            field: field.to_string(),
            byte,
            at,
        }),
        None => Ok(()),
    }
}

/// RFC 5322 §3.6.8: `field-name = 1*ftext`, `ftext = %d33-57 / %d59-126`.
pub(crate) fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 76
        && name.bytes().all(|b| (33..=126).contains(&b) && b != b':');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidHeaderName {
            name: name.to_string(),
        })
    }
}

/// RFC 5322 §3.2.3 `atext`, extended by RFC 6532 to any non-ASCII character.
pub(crate) fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

/// Which character set an encoded word may use literally (RFC 2047 §5).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum WordContext {
    /// In `*text` (Subject, unstructured fields).
    Text,
    /// In a `phrase` (display names): the restricted set of §5 (3).
    Phrase,
}

/// Writes one header field, folding as it goes.
pub(crate) struct HeaderWriter<'o> {
    out: &'o mut Vec<u8>,
    col: usize,
    /// Column after `Name:`; folding before the first word would leave an empty line.
    start: usize,
}

impl<'o> HeaderWriter<'o> {
    /// Start `name:` (the name must be valid already).
    pub(crate) fn new(out: &'o mut Vec<u8>, name: &str) -> Self {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let start = name.len() + 1;
        HeaderWriter {
            out,
            col: start,
            start,
        }
    }

    /// Write a space then `word`, or a fold (`CRLF SP`) then `word` when it would pass 78
    /// columns. `word` must hold no whitespace that should be a fold point.
    pub(crate) fn word(&mut self, word: &str) {
        if self.col > self.start && self.col + 1 + word.len() > FOLD_AT && !word.is_empty() {
            self.out.extend_from_slice(b"\r\n ");
            self.col = 1;
        } else {
            self.out.push(b' ');
            self.col += 1;
        }
        self.out.extend_from_slice(word.as_bytes());
        self.col += word.len();
    }

    /// Append `s` right after what was written, with no space.
    pub(crate) fn glue(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
        self.col += s.len();
    }

    /// Room left for an encoded word on the current line (keeping one column for a glued
    /// `,` `:` or `;`), or on a fresh continuation line.
    fn word_budget(&self) -> usize {
        let here = FOLD_AT.saturating_sub(self.col + 2);
        if here >= MIN_ENCODED_WORD || self.col == self.start {
            here.clamp(MIN_ENCODED_WORD, MAX_ENCODED_WORD)
        } else {
            MAX_ENCODED_WORD
        }
    }

    /// Write `text` as a run of RFC 2047 encoded words (UTF-8; Q or B, whichever is
    /// shorter), each at most 75 characters and on its own line if needed. Whitespace
    /// between adjacent encoded words is ignored by decoders, so `text` comes back exact.
    pub(crate) fn encoded(&mut self, text: &str, ctx: WordContext) {
        let b = b_len(text.len());
        let use_q = q_len_total(text, ctx) <= b + b / 2;
        let mut rest = text;
        while !rest.is_empty() || text.is_empty() {
            let budget = self.word_budget();
            let (word, taken) = if use_q {
                q_word(rest, ctx, budget)
            } else {
                b_word(rest, budget)
            };
            self.word(&word);
            rest = &rest[taken..];
            if text.is_empty() {
                break;
            }
        }
    }

    /// Write unstructured text (Subject, custom fields): folded at its spaces when it can
    /// be, as encoded words when it must be (non-ASCII without SMTPUTF8, words too long
    /// to fold, whitespace that unfolding would not keep, or text that looks like an
    /// encoded word already).
    ///
    /// When only some words need encoding, plain words stay literal and each run of the
    /// others becomes encoded words, so `Re: Café menu` reads `Re: =?UTF-8?Q?Caf=C3=A9?=
    /// menu`: the space between an encoded word and plain text is kept by decoders.
    pub(crate) fn unstructured(&mut self, text: &str, utf8: bool) {
        let max = FOLD_AT - 2;
        if !needs_encoding(text, utf8, max) {
            for w in text.split(' ') {
                self.word(w);
            }
            return;
        }
        let odd = text.contains('\t')
            || text.contains("  ")
            || text.starts_with(' ')
            || text.ends_with(' ');
        if odd {
            self.encoded(text, WordContext::Text);
            return;
        }
        let words: Vec<&str> = text.split(' ').collect();
        let plain = |w: &str| !needs_encoding(w, utf8, max);
        let mut i = 0;
        while i < words.len() {
            if plain(words[i]) {
                self.word(words[i]);
                i += 1;
                continue;
            }
            let start = i;
            while i < words.len() && !plain(words[i]) {
                i += 1;
            }
            self.encoded(&words[start..i].join(" "), WordContext::Text);
        }
    }

    /// End the field with CRLF.
    pub(crate) fn finish(self) {
        self.out.extend_from_slice(b"\r\n");
    }
}

/// Whether `text` cannot be written literally as space-separated words.
pub(crate) fn needs_encoding(text: &str, utf8: bool, max_word: usize) -> bool {
    (!utf8 && !text.is_ascii())
        || text.chars().any(char::is_control)
        || text.contains("=?")
        || text.contains('\t')
        || text.contains("  ")
        || text.starts_with(' ')
        || text.ends_with(' ')
        || text.split(' ').any(|w| w.len() > max_word)
}

fn q_literal(b: u8, ctx: WordContext) -> bool {
    match ctx {
        WordContext::Phrase => b.is_ascii_alphanumeric() || b"!*+-/".contains(&b),
        WordContext::Text => b.is_ascii_graphic() && !b"=?_\"(),.:;<>@[\\]".contains(&b),
    }
}

fn q_byte_len(b: u8, ctx: WordContext) -> usize {
    if b == b' ' || q_literal(b, ctx) {
        1
    } else {
        3
    }
}

fn q_len_total(text: &str, ctx: WordContext) -> usize {
    text.bytes().map(|b| q_byte_len(b, ctx)).sum()
}

fn b_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

const PREFIX_Q: &str = "=?UTF-8?Q?";
const PREFIX_B: &str = "=?UTF-8?B?";

/// One Q encoded word from the front of `text`, at most `budget` long, whole characters
/// only (RFC 2047 §5: a multi-octet character is never split across words).
fn q_word(text: &str, ctx: WordContext, budget: usize) -> (String, usize) {
    let mut word = String::from(PREFIX_Q);
    let mut taken = 0;
    for (i, c) in text.char_indices() {
        let mut buf = [0u8; 4];
        let bytes = c.encode_utf8(&mut buf).as_bytes();
        let len: usize = bytes.iter().map(|&b| q_byte_len(b, ctx)).sum();
        if word.len() + len + 2 > budget && taken > 0 {
            break;
        }
        for &b in bytes {
            if b == b' ' {
                word.push('_');
            } else if q_literal(b, ctx) {
                word.push(b as char);
            } else {
                push_hex(&mut word, b);
            }
        }
        taken = i + c.len_utf8();
    }
    word.push_str("?=");
    (word, taken)
}

/// One B encoded word from the front of `text`, at most `budget` long.
fn b_word(text: &str, budget: usize) -> (String, usize) {
    let mut taken = 0;
    for (i, c) in text.char_indices() {
        let end = i + c.len_utf8();
        if PREFIX_B.len() + b_len(end) + 2 > budget && taken > 0 {
            break;
        }
        taken = end;
    }
    let mut word = String::from(PREFIX_B);
    crate::base64::encode_to_string(&text.as_bytes()[..taken], &mut word);
    word.push_str("?=");
    (word, taken)
}

pub(crate) fn push_hex(s: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    s.push('=');
    s.push(HEX[usize::from(b >> 4)] as char);
    s.push(HEX[usize::from(b & 15)] as char);
}

/// `%XX` for RFC 2231 parameter values.
pub(crate) fn hex_percent(b: u8) -> String {
    let mut s = String::new();
    push_hex(&mut s, b);
    s.replace('=', "%")
}

/// Write a display name (RFC 5322 `phrase`): atoms when it is plain, a quoted string when
/// it is short ASCII, else plain words as atoms and each run of other words as encoded
/// words. Keeping plain words literal keeps encoded words few and short: RFC 2047 §6.2
/// says the space between two adjacent encoded words is dropped, but Python's `email`
/// keeps it in phrases, so a name split into several adjacent encoded words reads back
/// there with extra spaces (only for runs of non-ASCII text longer than one word holds).
pub(crate) fn write_phrase(w: &mut HeaderWriter<'_>, name: &str, utf8: bool) {
    let plain = |a: &str| {
        !a.is_empty()
            && a.len() <= 76
            && !a.contains("=?")
            && a.chars().all(is_atext)
            && (utf8 || a.is_ascii())
    };
    let odd_spaces = name.starts_with(' ') || name.ends_with(' ') || name.contains("  ");
    if !odd_spaces && name.split(' ').all(plain) {
        for a in name.split(' ') {
            w.word(a);
        }
    } else if name.len() <= 60
        && !needs_encoding(name, utf8, 60)
        && name.chars().all(|c| c == ' ' || !c.is_ascii_control())
    {
        w.word(&quote(name));
    } else if odd_spaces {
        w.encoded(name, WordContext::Phrase);
    } else {
        let words: Vec<&str> = name.split(' ').collect();
        let mut i = 0;
        while i < words.len() {
            if plain(words[i]) {
                w.word(words[i]);
                i += 1;
                continue;
            }
            let start = i;
            while i < words.len() && !plain(words[i]) {
                i += 1;
            }
            w.encoded(&words[start..i].join(" "), WordContext::Phrase);
        }
    }
}

/// RFC 5322 §3.2.4 quoted-string, escaping `"` and `\`.
pub(crate) fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, f: impl FnOnce(&mut HeaderWriter<'_>)) -> String {
        let mut out = Vec::new();
        let mut w = HeaderWriter::new(&mut out, name);
        f(&mut w);
        w.finish();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn ascii_subject_is_written_literally() {
        assert_eq!(
            field("Subject", |w| w.unstructured("Hello world", false)),
            "Subject: Hello world\r\n"
        );
    }

    #[test]
    fn long_subject_folds_at_78_columns() {
        let text = "word ".repeat(30);
        let text = text.trim_end();
        let got = field("Subject", |w| w.unstructured(text, false));
        for line in got.split("\r\n") {
            assert!(line.len() <= 78, "{line:?}");
        }
        assert_eq!(got.replace("\r\n", ""), alloc::format!("Subject: {text}"));
    }

    #[test]
    fn non_ascii_subject_becomes_q_encoded_word() {
        assert_eq!(
            field("Subject", |w| w.unstructured("Grüße", false)),
            "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n"
        );
    }

    #[test]
    fn mostly_non_ascii_subject_becomes_b_encoded_word() {
        assert_eq!(
            field("Subject", |w| w.unstructured("日本語", false)),
            "Subject: =?UTF-8?B?5pel5pys6Kqe?=\r\n"
        );
    }

    #[test]
    fn only_the_words_that_need_it_are_encoded() {
        assert_eq!(
            field("Subject", |w| w
                .unstructured("Re: Café menu für heute", false)),
            "Subject: Re: =?UTF-8?Q?Caf=C3=A9?= menu =?UTF-8?Q?f=C3=BCr?= heute\r\n"
        );
    }

    #[test]
    fn utf8_subject_is_literal_with_smtputf8() {
        assert_eq!(
            field("Subject", |w| w.unstructured("Grüße", true)),
            "Subject: Grüße\r\n"
        );
    }

    #[test]
    fn text_that_looks_encoded_is_encoded() {
        assert_eq!(
            field("Subject", |w| w.unstructured("=?x?", false)),
            "Subject: =?UTF-8?Q?=3D=3Fx=3F?=\r\n"
        );
    }

    #[test]
    fn crlf_in_value_is_refused_with_offset() {
        match check_value("Subject", "Hi\r\nBcc: x@y") {
            Err(Error::InvalidByte { field, byte, at }) => {
                assert_eq!((field.as_str(), byte, at), ("Subject", b'\r', 2));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn phrase_forms() {
        let f = |n: &str| field("To", |w| write_phrase(w, n, false));
        assert_eq!(f("Alice Smith"), "To: Alice Smith\r\n");
        assert_eq!(f("Smith, Alice"), "To: \"Smith, Alice\"\r\n");
        assert_eq!(f("a \"b\""), "To: \"a \\\"b\\\"\"\r\n");
        assert_eq!(f("Zoë"), "To: =?UTF-8?Q?Zo=C3=AB?=\r\n");
        assert_eq!(
            f("Zoë Ann Müller, Jr"),
            "To: =?UTF-8?Q?Zo=C3=AB?= Ann =?UTF-8?Q?M=C3=BCller=2C?= Jr\r\n"
        );
    }
}
