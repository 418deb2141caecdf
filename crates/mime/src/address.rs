//! RFC 5322 §3.4 addresses, with RFC 6532 UTF-8 and IDNA A-labels (RFC 5890).
//!
//! ```text
//! address       = mailbox / group
//! mailbox       = name-addr / addr-spec
//! name-addr     = [display-name] angle-addr
//! angle-addr    = [CFWS] "<" addr-spec ">" [CFWS]
//! group         = display-name ":" [group-list] ";" [CFWS]
//! addr-spec     = local-part "@" domain
//! local-part    = dot-atom / quoted-string / obs-local-part
//! domain        = dot-atom / domain-literal / obs-domain
//! ```
//! Comments are skipped; a local part is kept as its value (unquoted) and quoted again
//! when written only if it is not a `dot-atom`.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use crate::error::Error;
use crate::header::{check_value, is_atext, quote, write_phrase, HeaderWriter};

/// RFC 5321 §4.5.3.1.1: local part at most 64 octets.
const MAX_LOCAL: usize = 64;
/// RFC 5321 §4.5.3.1.2: domain at most 255 octets.
const MAX_DOMAIN: usize = 255;

/// An `addr-spec`: `local@domain`, as used in the SMTP envelope.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AddrSpec {
    local: String,
    domain: String,
}

/// A mailbox: an optional display name and an [`AddrSpec`].
///
/// ```
/// use postel_mime::Mailbox;
/// let m: Mailbox = "\"Smith, Ann\" <ann@example.com>".parse()?;
/// assert_eq!(m.name(), Some("Smith, Ann"));
/// assert_eq!(m.addr().to_string(), "ann@example.com");
/// # Ok::<(), postel_mime::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mailbox {
    name: Option<String>,
    addr: AddrSpec,
}

/// An address in a header: one mailbox, or a named group of mailboxes.
///
/// ```
/// use postel_mime::Address;
/// let list = Address::parse_list("team: a@x.test, B <b@y.test>;, c@z.test")?;
/// assert_eq!(list.len(), 2);
/// assert_eq!(list[0].mailboxes().count(), 2);
/// # Ok::<(), postel_mime::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// A single mailbox.
    Mailbox(Mailbox),
    /// `display-name ":" [group-list] ";"` (RFC 5322 §3.4).
    Group {
        /// The group's display name.
        name: String,
        /// Its members, possibly none.
        members: Vec<Mailbox>,
    },
}

fn is_dot_atom(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|a| !a.is_empty() && a.chars().all(is_atext))
}

fn is_ldh_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && l.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl AddrSpec {
    /// Build from a local part (its value, unquoted) and a domain (a host name, possibly
    /// with U-labels, or a `[literal]`); both are validated.
    ///
    /// ```
    /// use postel_mime::AddrSpec;
    /// let a = AddrSpec::new("john doe", "bücher.example")?;
    /// assert_eq!(a.to_string(), "\"john doe\"@bücher.example");
    /// assert_eq!(a.to_smtp(false)?, "\"john doe\"@xn--bcher-kva.example");
    /// # Ok::<(), postel_mime::Error>(())
    /// ```
    pub fn new(local: &str, domain: &str) -> Result<Self, Error> {
        Self::checked("address", local.to_owned(), domain.to_owned(), 0)
    }

    fn checked(field: &str, local: String, domain: String, at: usize) -> Result<Self, Error> {
        check_value(field, &local)?;
        check_value(field, &domain)?;
        let bad = |reason| Error::InvalidAddress {
            field: field.to_string(),
            reason,
            at,
        };
        if local.is_empty() {
            return Err(bad("empty local part"));
        }
        if local.len() > MAX_LOCAL {
            return Err(bad("local part longer than 64 octets"));
        }
        if domain.is_empty() || domain.len() > MAX_DOMAIN {
            return Err(bad("domain empty or longer than 255 octets"));
        }
        if let Some(inner) = domain.strip_prefix('[') {
            match inner.strip_suffix(']') {
                Some(i)
                    if i.bytes()
                        .all(|b| b.is_ascii_graphic() && !b"[]\\".contains(&b)) => {}
                _ => return Err(bad("malformed domain literal")),
            }
        } else if domain.is_ascii() {
            if !domain.split('.').all(is_ldh_label) {
                return Err(bad("domain is not letters, digits and hyphens"));
            }
        } else {
            to_a_labels(&domain)?;
        }
        Ok(AddrSpec { local, domain })
    }

    /// The local part's value (without quotes).
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The domain as given (U-labels kept).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Whether this address can only be used with SMTPUTF8 (RFC 6531): its local part is
    /// not ASCII. A non-ASCII domain alone does not need it: it has an A-label form.
    pub fn needs_smtputf8(&self) -> bool {
        !self.local.is_ascii()
    }

    /// The domain in A-labels (`xn--…`), for a server without SMTPUTF8.
    pub fn domain_ascii(&self) -> Result<String, Error> {
        to_a_labels(&self.domain)
    }

    /// The form to put in `MAIL FROM:<…>` / `RCPT TO:<…>` and in headers. ASCII with an
    /// A-label domain whenever the local part is ASCII, so that SMTPUTF8 is needed only
    /// when nothing else can work; a UTF-8 local part is written as given (U-labels
    /// kept) when `smtputf8` (the server offers SMTPUTF8), else it is
    /// [`Error::NeedsSmtpUtf8`].
    pub fn to_smtp(&self, smtputf8: bool) -> Result<String, Error> {
        if !self.needs_smtputf8() {
            return Ok(format!("{}@{}", self.local_quoted(), self.domain_ascii()?));
        }
        if smtputf8 {
            return Ok(self.to_string());
        }
        Err(Error::NeedsSmtpUtf8 {
            address: self.to_string(),
        })
    }

    fn local_quoted(&self) -> String {
        if is_dot_atom(&self.local) {
            self.local.clone()
        } else {
            quote(&self.local)
        }
    }
}

fn to_a_labels(domain: &str) -> Result<String, Error> {
    if domain.is_ascii() {
        return Ok(domain.to_owned());
    }
    match idna::domain_to_ascii(domain) {
        Ok(d) if !d.is_empty() && d.len() <= MAX_DOMAIN && d.split('.').all(is_ldh_label) => Ok(d),
        _ => Err(Error::InvalidDomain {
            domain: domain.to_owned(),
        }),
    }
}

impl fmt::Display for AddrSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local_quoted(), self.domain)
    }
}

impl Mailbox {
    /// A mailbox from an optional display name (any text but control characters) and an
    /// address.
    pub fn new(name: Option<&str>, addr: AddrSpec) -> Result<Self, Error> {
        if let Some(n) = name {
            check_value("display name", n)?;
        }
        Ok(Mailbox {
            name: name.filter(|n| !n.is_empty()).map(str::to_owned),
            addr,
        })
    }

    /// Parse one mailbox, reporting errors against `field`.
    pub(crate) fn parse_for(field: &str, s: &str) -> Result<Self, Error> {
        check_value(field, s)?;
        let mut p = Parser::new(field, s);
        let m = p.mailbox()?;
        p.end()?;
        Ok(m)
    }

    /// The display name, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The address.
    pub fn addr(&self) -> &AddrSpec {
        &self.addr
    }
}

impl fmt::Display for Mailbox {
    /// `"Name" <addr>` in UTF-8, for people to read; headers use their own encoding.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) if n.chars().all(|c| is_atext(c) || c == ' ') => {
                write!(f, "{n} <{}>", self.addr)
            }
            Some(n) => write!(f, "{} <{}>", quote(n), self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}

impl FromStr for Mailbox {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Mailbox::parse_for("address", s)
    }
}

impl FromStr for AddrSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        check_value("address", s)?;
        let mut p = Parser::new("address", s);
        let a = p.addr_spec(Vec::new())?;
        p.end()?;
        Ok(a)
    }
}

impl From<Mailbox> for Address {
    fn from(m: Mailbox) -> Self {
        Address::Mailbox(m)
    }
}

impl Address {
    /// Parse an `address-list` (RFC 5322 §3.4): mailboxes and groups separated by commas.
    pub fn parse_list(s: &str) -> Result<Vec<Address>, Error> {
        Self::parse_list_for("address", s)
    }

    pub(crate) fn parse_list_for(field: &str, s: &str) -> Result<Vec<Address>, Error> {
        check_value(field, s)?;
        let mut p = Parser::new(field, s);
        let mut out = Vec::new();
        loop {
            match p.peek()? {
                None => break,
                Some((_, Tok::Special(','))) => {
                    p.bump()?;
                    continue;
                }
                Some(_) => {}
            }
            out.push(p.address()?);
            match p.bump()? {
                None => break,
                Some((_, Tok::Special(','))) => {}
                Some((at, _)) => return Err(p.err("expected ',' between addresses", at)),
            }
        }
        Ok(out)
    }

    /// The mailboxes: this one, or the group's members.
    pub fn mailboxes(&self) -> impl Iterator<Item = &Mailbox> {
        match self {
            Address::Mailbox(m) => core::slice::from_ref(m).iter(),
            Address::Group { members, .. } => members.iter(),
        }
    }
}

impl FromStr for Address {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        check_value("address", s)?;
        let mut p = Parser::new("address", s);
        let a = p.address()?;
        p.end()?;
        Ok(a)
    }
}

/// Write an address list into a header, folding between addresses.
pub(crate) fn write_addresses(
    w: &mut HeaderWriter<'_>,
    list: &[Address],
    utf8: bool,
) -> Result<(), Error> {
    for (i, a) in list.iter().enumerate() {
        let sep = if i + 1 == list.len() { "" } else { "," };
        match a {
            Address::Mailbox(m) => write_mailbox(w, m, utf8, sep)?,
            Address::Group { name, members } => {
                write_phrase(w, name, false);
                w.glue(":");
                if members.is_empty() {
                    w.glue(";");
                    w.glue(sep);
                }
                for (j, m) in members.iter().enumerate() {
                    let end = if j + 1 == members.len() {
                        format!(";{sep}")
                    } else {
                        ",".to_owned()
                    };
                    write_mailbox(w, m, utf8, &end)?;
                }
            }
        }
    }
    Ok(())
}

/// Write one mailbox followed by `suffix` (`,`, `;` or nothing). Display names are
/// always ASCII (encoded words): only an address that cannot be ASCII is UTF-8, so a
/// message needs SMTPUTF8 only when nothing else can work.
pub(crate) fn write_mailbox(
    w: &mut HeaderWriter<'_>,
    m: &Mailbox,
    utf8: bool,
    suffix: &str,
) -> Result<(), Error> {
    let addr = m.addr.to_smtp(utf8)?;
    match &m.name {
        Some(n) => {
            write_phrase(w, n, false);
            w.word(&format!("<{addr}>{suffix}"));
        }
        None => w.word(&format!("{addr}{suffix}")),
    }
    Ok(())
}

#[derive(Debug)]
enum Tok<'s> {
    Atom(&'s str),
    Quoted(String),
    Literal(&'s str),
    Special(char),
}

struct Parser<'s> {
    field: &'s str,
    s: &'s str,
    pos: usize,
    peeked: Option<(usize, Tok<'s>)>,
}

impl<'s> Parser<'s> {
    fn new(field: &'s str, s: &'s str) -> Self {
        Parser {
            field,
            s,
            pos: 0,
            peeked: None,
        }
    }

    fn err(&self, reason: &'static str, at: usize) -> Error {
        Error::InvalidAddress {
            field: self.field.to_owned(),
            reason,
            at,
        }
    }

    fn rest(&self) -> &'s str {
        self.s.get(self.pos..).unwrap_or("")
    }

    /// Skip CFWS: whitespace and (nested) comments.
    fn skip_cfws(&mut self) -> Result<(), Error> {
        let mut depth = 0usize;
        let start = self.pos;
        let mut chars = self.rest().char_indices().peekable();
        let base = self.pos;
        while let Some((i, c)) = chars.next() {
            match c {
                '(' => depth += 1,
                ')' if depth > 0 => depth -= 1,
                '\\' if depth > 0 => {
                    chars.next();
                }
                ' ' | '\t' => {}
                _ if depth > 0 => {}
                _ => {
                    self.pos = base + i;
                    return Ok(());
                }
            }
        }
        if depth > 0 {
            return Err(self.err("unclosed comment", start));
        }
        self.pos = self.s.len();
        Ok(())
    }

    fn lex(&mut self) -> Result<Option<(usize, Tok<'s>)>, Error> {
        self.skip_cfws()?;
        let at = self.pos;
        let rest = self.rest();
        let Some(c) = rest.chars().next() else {
            return Ok(None);
        };
        if is_atext(c) {
            let len = rest.find(|c: char| !is_atext(c)).unwrap_or(rest.len());
            self.pos += len;
            return Ok(Some((at, Tok::Atom(&rest[..len]))));
        }
        match c {
            '"' => {
                let mut value = String::new();
                let mut chars = rest.char_indices().skip(1);
                while let Some((i, c)) = chars.next() {
                    match c {
                        '"' => {
                            self.pos += i + 1;
                            return Ok(Some((at, Tok::Quoted(value))));
                        }
                        '\\' => match chars.next() {
                            Some((_, e)) => value.push(e),
                            None => break,
                        },
                        c => value.push(c),
                    }
                }
                Err(self.err("unclosed quoted string", at))
            }
            '[' => match rest.find(']') {
                Some(end) => {
                    self.pos += end + 1;
                    Ok(Some((at, Tok::Literal(&rest[..=end]))))
                }
                None => Err(self.err("unclosed domain literal", at)),
            },
            '<' | '>' | '@' | ',' | ';' | ':' | '.' => {
                self.pos += 1;
                Ok(Some((at, Tok::Special(c))))
            }
            _ => Err(self.err("unexpected character", at)),
        }
    }

    fn peek(&mut self) -> Result<Option<&(usize, Tok<'s>)>, Error> {
        if self.peeked.is_none() {
            self.peeked = self.lex()?;
        }
        Ok(self.peeked.as_ref())
    }

    fn bump(&mut self) -> Result<Option<(usize, Tok<'s>)>, Error> {
        match self.peeked.take() {
            Some(t) => Ok(Some(t)),
            None => self.lex(),
        }
    }

    fn at(&self) -> usize {
        self.peeked.as_ref().map_or(self.pos, |(a, _)| *a)
    }

    fn end(&mut self) -> Result<(), Error> {
        match self.bump()? {
            None => Ok(()),
            Some((at, _)) => Err(self.err("unexpected text after the address", at)),
        }
    }

    fn expect(&mut self, c: char, reason: &'static str) -> Result<(), Error> {
        match self.bump()? {
            Some((_, Tok::Special(x))) if x == c => Ok(()),
            Some((at, _)) => Err(self.err(reason, at)),
            None => Err(self.err(reason, self.s.len())),
        }
    }

    /// Words (atoms, quoted strings, dots) up to the next other special.
    fn words(&mut self) -> Result<Vec<Tok<'s>>, Error> {
        let mut words = Vec::new();
        while let Some((_, t)) = self.peek()? {
            match t {
                Tok::Atom(_) | Tok::Quoted(_) | Tok::Special('.') => {
                    if let Some((_, t)) = self.bump()? {
                        words.push(t);
                    }
                }
                _ => break,
            }
        }
        Ok(words)
    }

    fn address(&mut self) -> Result<Address, Error> {
        let start = self.at();
        let words = self.words()?;
        if let Some((_, Tok::Special(':'))) = self.peek()? {
            self.bump()?;
            let name = phrase(&words);
            if name.is_empty() {
                return Err(self.err("group without a name", start));
            }
            let mut members = Vec::new();
            loop {
                match self.peek()? {
                    Some((_, Tok::Special(';'))) => {
                        self.bump()?;
                        break;
                    }
                    Some((_, Tok::Special(','))) => {
                        self.bump()?;
                    }
                    Some(_) => members.push(self.mailbox()?),
                    None => return Err(self.err("group without ';'", self.s.len())),
                }
            }
            return Ok(Address::Group { name, members });
        }
        self.mailbox_from(words, start).map(Address::Mailbox)
    }

    fn mailbox(&mut self) -> Result<Mailbox, Error> {
        let start = self.at();
        let words = self.words()?;
        self.mailbox_from(words, start)
    }

    fn mailbox_from(&mut self, words: Vec<Tok<'s>>, start: usize) -> Result<Mailbox, Error> {
        match self.peek()? {
            Some((_, Tok::Special('<'))) => {
                self.bump()?;
                let addr = self.addr_spec(Vec::new())?;
                self.expect('>', "expected '>'")?;
                let name = phrase(&words);
                Ok(Mailbox {
                    name: (!name.is_empty()).then_some(name),
                    addr,
                })
            }
            Some((_, Tok::Special('@'))) => Ok(Mailbox {
                name: None,
                addr: self.addr_spec(words)?,
            }),
            _ => Err(self.err("expected '<', '@' or ':'", start.max(self.at()))),
        }
    }

    /// `addr-spec`, with the local part's words possibly already read.
    fn addr_spec(&mut self, mut words: Vec<Tok<'s>>) -> Result<AddrSpec, Error> {
        let start = self.at();
        if words.is_empty() {
            words = self.words()?;
        }
        let mut local = String::new();
        let mut want_word = true;
        for w in &words {
            match (w, want_word) {
                (Tok::Atom(a), true) => local.push_str(a),
                (Tok::Quoted(q), true) => local.push_str(q),
                (Tok::Special('.'), false) => local.push('.'),
                _ => return Err(self.err("malformed local part", start)),
            }
            want_word = !want_word;
        }
        if want_word {
            return Err(self.err("malformed local part", start));
        }
        self.expect('@', "expected '@'")?;
        let dstart = self.at();
        let mut domain = String::new();
        match self.bump()? {
            Some((_, Tok::Literal(l))) => domain.push_str(l),
            Some((_, Tok::Atom(a))) => {
                domain.push_str(a);
                while let Some((_, Tok::Special('.'))) = self.peek()? {
                    self.bump()?;
                    match self.bump()? {
                        Some((_, Tok::Atom(a))) => {
                            domain.push('.');
                            domain.push_str(a);
                        }
                        _ => return Err(self.err("malformed domain", dstart)),
                    }
                }
            }
            _ => return Err(self.err("expected a domain", dstart)),
        }
        AddrSpec::checked(self.field, local, domain, start)
    }
}

/// A display name from its words: single spaces between words, dots kept in place.
fn phrase(words: &[Tok<'_>]) -> String {
    let mut s = String::new();
    for w in words {
        match w {
            Tok::Special('.') => s.push('.'),
            Tok::Atom(a) => {
                if !s.is_empty() && !s.ends_with('.') {
                    s.push(' ');
                }
                s.push_str(a);
            }
            Tok::Quoted(q) => {
                if !s.is_empty() && !s.ends_with('.') {
                    s.push(' ');
                }
                s.push_str(q);
            }
            _ => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let m: Mailbox = "a@b.test".parse().unwrap();
        assert_eq!(
            (m.name(), m.addr().local(), m.addr().domain()),
            (None, "a", "b.test")
        );
        let m: Mailbox = "Ann Lee <ann@b.test>".parse().unwrap();
        assert_eq!(m.name(), Some("Ann Lee"));
        let m: Mailbox = "\"Lee, Ann\" <ann@b.test> (work)".parse().unwrap();
        assert_eq!(m.name(), Some("Lee, Ann"));
        let m: Mailbox = "\"john doe\"@b.test".parse().unwrap();
        assert_eq!(m.addr().local(), "john doe");
        assert_eq!(m.addr().to_string(), "\"john doe\"@b.test");
        let m: Mailbox = "<x@[192.0.2.1]>".parse().unwrap();
        assert_eq!(m.addr().domain(), "[192.0.2.1]");
    }

    #[test]
    fn parses_groups_and_lists() {
        let l = Address::parse_list("a@x.test, team: b@y.test, C <c@z.test>;, empty:;").unwrap();
        assert_eq!(l.len(), 3);
        match &l[1] {
            Address::Group { name, members } => {
                assert_eq!(name, "team");
                assert_eq!(members.len(), 2);
                assert_eq!(members[1].name(), Some("C"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            l[2],
            Address::Group {
                name: "empty".into(),
                members: Vec::new()
            }
        );
    }

    #[test]
    fn refuses_malformed_with_offset() {
        match "Ann <ann@b.test".parse::<Mailbox>() {
            Err(Error::InvalidAddress { at, .. }) => assert_eq!(at, 15),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            "a@b.test\r\nBcc: x@y.test".parse::<Mailbox>(),
            Err(Error::InvalidByte {
                byte: b'\r',
                at: 8,
                ..
            })
        ));
        assert!(matches!(
            "a@-b..test".parse::<Mailbox>(),
            Err(Error::InvalidAddress { .. })
        ));
        assert!(matches!(
            "a.@b.test".parse::<Mailbox>(),
            Err(Error::InvalidAddress { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(s in "\\PC{0,60}") {
            let _ = Address::parse_list(&s);
        }

        #[test]
        fn display_parses_back_to_the_same_mailbox(
            name in proptest::option::of("[a-zA-Z0-9 ,.;:@<>()\"\\\\äöü日本]{1,30}"),
            local in "[a-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\\.[a-z0-9-]{1,5}){0,2}|[a-z ,@<>\"\\\\]{1,20}",
            domain in "[a-z0-9]{1,10}\\.(test|example)|bücher\\.example",
        ) {
            let name = name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty() && !n.contains("  "));
            let m = Mailbox::new(name.as_deref(), AddrSpec::new(&local, &domain).unwrap()).unwrap();
            let back: Mailbox = m.to_string().parse().unwrap();
            proptest::prop_assert_eq!(back, m);
        }
    }

    #[test]
    fn international_addresses() {
        let m: Mailbox = "Jörg <jörg@bücher.example>".parse().unwrap();
        assert!(m.addr().needs_smtputf8());
        assert_eq!(m.addr().to_smtp(true).unwrap(), "jörg@bücher.example");
        assert!(matches!(
            m.addr().to_smtp(false),
            Err(Error::NeedsSmtpUtf8 { .. })
        ));
        let m: Mailbox = "joerg@bücher.example".parse().unwrap();
        assert!(!m.addr().needs_smtputf8());
        assert_eq!(
            m.addr().to_smtp(false).unwrap(),
            "joerg@xn--bcher-kva.example"
        );
        assert_eq!(
            m.addr().to_smtp(true).unwrap(),
            "joerg@xn--bcher-kva.example"
        );
    }
}
