//! The few DER reads the verifier does itself (everything else is webpki's): tag-length-value
//! items with definite lengths, positive INTEGERs and BIT STRINGs without unused bits.

/// DER tag of a SEQUENCE.
pub(crate) const SEQUENCE: u8 = 0x30;
/// DER tag of an INTEGER.
pub(crate) const INTEGER: u8 = 0x02;
/// DER tag of a BIT STRING.
pub(crate) const BIT_STRING: u8 = 0x03;
/// DER tag of the explicit `[0]` version field of a TBSCertificate.
pub(crate) const CONTEXT_0: u8 = 0xa0;

/// Splits one item off the front of `input`: `(tag, contents, rest)`.
///
/// Only single-octet tags and definite lengths of at most four length octets are accepted,
/// and lengths must be minimal, as DER requires.
pub(crate) fn item(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (octets, after) = rest.split_at(count);
        rest = after;
        if octets[0] == 0 {
            return None;
        }
        let len = octets
            .iter()
            .fold(0usize, |acc, &o| (acc << 8) | usize::from(o));
        if len < 0x80 {
            return None;
        }
        len
    };
    if rest.len() < len {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

/// Splits an item with the expected tag off the front of `input`: `(contents, rest)`.
pub(crate) fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    match item(input)? {
        (t, contents, rest) if t == tag => Some((contents, rest)),
        _ => None,
    }
}

/// The whole of `input` is one item with the expected tag: its contents.
pub(crate) fn only(input: &[u8], tag: u8) -> Option<&[u8]> {
    match expect(input, tag)? {
        (contents, []) => Some(contents),
        _ => None,
    }
}

/// The magnitude of a non-negative, minimally encoded INTEGER's contents, without the
/// leading zero octet that a set high bit needs.
pub(crate) fn positive_integer(contents: &[u8]) -> Option<&[u8]> {
    match contents {
        [] => None,
        [first, ..] if first & 0x80 != 0 => None,
        [0, second, ..] if second & 0x80 == 0 => None,
        [0, rest @ ..] if !rest.is_empty() => Some(rest),
        _ => Some(contents),
    }
}

/// The octets of a BIT STRING's contents that has no unused bits.
pub(crate) fn bit_string_octets(contents: &[u8]) -> Option<&[u8]> {
    match contents {
        [0, rest @ ..] => Some(rest),
        _ => None,
    }
}

/// The contents of the SubjectPublicKeyInfo SEQUENCE of an X.509 certificate.
pub(crate) fn certificate_spki(cert: &[u8]) -> Option<&[u8]> {
    let certificate = only(cert, SEQUENCE)?;
    let (tbs, _) = expect(certificate, SEQUENCE)?;
    let mut rest = tbs;
    if let Some((CONTEXT_0, _, after)) = item(rest) {
        rest = after;
    }
    // serialNumber, signature, issuer, validity, subject
    for tag in [INTEGER, SEQUENCE, SEQUENCE, SEQUENCE, SEQUENCE] {
        rest = expect(rest, tag)?.1;
    }
    Some(expect(rest, SEQUENCE)?.0)
}

/// Splits SubjectPublicKeyInfo contents into the AlgorithmIdentifier's contents and the
/// subjectPublicKey octets.
pub(crate) fn spki_parts(spki: &[u8]) -> Option<(&[u8], &[u8])> {
    let (alg, rest) = expect(spki, SEQUENCE)?;
    let key = bit_string_octets(only(rest, BIT_STRING)?)?;
    Some((alg, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_lengths() {
        assert_eq!(
            item(&[0x02, 0x01, 0x05, 0xff]),
            Some((0x02, &[0x05][..], &[0xff][..]))
        );
        let mut long = [0u8; 3 + 0x80];
        long[..3].copy_from_slice(&[0x04, 0x81, 0x80]);
        let (tag, contents, rest) = item(&long).unwrap();
        assert_eq!((tag, contents.len(), rest.len()), (0x04, 0x80, 0));
        // non-minimal long form, indefinite length, truncated contents
        assert_eq!(item(&[0x04, 0x81, 0x05, 0, 0, 0, 0, 0]), None);
        assert_eq!(item(&[0x30, 0x80, 0, 0]), None);
        assert_eq!(item(&[0x04, 0x03, 1, 2]), None);
    }

    #[test]
    fn integers() {
        assert_eq!(positive_integer(&[0x00, 0x80]), Some(&[0x80][..]));
        assert_eq!(positive_integer(&[0x7f]), Some(&[0x7f][..]));
        assert_eq!(positive_integer(&[0x00]), Some(&[0x00][..]));
        assert_eq!(positive_integer(&[0x80]), None);
        assert_eq!(positive_integer(&[0x00, 0x01]), None);
        assert_eq!(positive_integer(&[]), None);
    }
}
