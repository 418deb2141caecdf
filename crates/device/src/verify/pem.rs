//! PEM to DER into a caller's buffer, without a heap: firmware embeds its CA certificates as
//! PEM files (`include_bytes!`) and decodes them once at start-up.

/// Why a PEM block could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PemError {
    /// No `-----BEGIN <label>-----` line in the input.
    NoBlock,
    /// The block has no matching `-----END <label>-----` line.
    Unterminated,
    /// The block's body is not base64 (a character outside the alphabet, misplaced `=`
    /// padding, or a length that is not a whole number of base64 quanta).
    BadBase64,
    /// The decoded DER does not fit in the output buffer.
    BufferTooSmall,
}

impl core::fmt::Display for PemError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::NoBlock => "no PEM block with that label",
            Self::Unterminated => "PEM block without its END line",
            Self::BadBase64 => "PEM body is not valid base64",
            Self::BufferTooSmall => "decoded PEM does not fit in the buffer",
        })
    }
}

/// Decodes the first PEM block labelled `label` (e.g. `"CERTIFICATE"`) in `pem` into `out`.
///
/// Returns the DER (a prefix of `out`) and the input after the block's END line, so that a
/// bundle of several certificates can be read by calling again on the rest. Text before the
/// BEGIN line (OpenSSL's human-readable dump, comments) is skipped; line breaks and spaces in
/// the body are ignored.
///
/// ```
/// # use postel_device::verify::pem_block;
/// let pem = b"-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n";
/// let mut buf = [0u8; 16];
/// let (der, rest) = pem_block(pem, "CERTIFICATE", &mut buf).unwrap();
/// assert_eq!(der, &[0x30, 0x03, 0x02, 0x01, 0x05]);
/// assert!(rest.iter().all(u8::is_ascii_whitespace));
/// ```
pub fn pem_block<'i, 'o>(
    pem: &'i [u8],
    label: &str,
    out: &'o mut [u8],
) -> Result<(&'o [u8], &'i [u8]), PemError> {
    let label = label.as_bytes();
    let (body_start, _) = find_marker(pem, b"-----BEGIN ", label).ok_or(PemError::NoBlock)?;
    let after_begin = &pem[body_start..];
    let (end_after, end_at) =
        find_marker(after_begin, b"-----END ", label).ok_or(PemError::Unterminated)?;
    let body = &after_begin[..end_at];
    let len = decode_base64(body, out)?;
    Ok((&out[..len], &after_begin[end_after..]))
}

/// Finds `prefix label -----` in `text`: (index after it, index of its start).
fn find_marker(text: &[u8], prefix: &[u8], label: &[u8]) -> Option<(usize, usize)> {
    let suffix = b"-----";
    let total = prefix.len() + label.len() + suffix.len();
    let mut at = 0;
    while at + total <= text.len() {
        let window = &text[at..at + total];
        if window.starts_with(prefix)
            && &window[prefix.len()..prefix.len() + label.len()] == label
            && window.ends_with(suffix)
        {
            return Some((at + total, at));
        }
        at += 1;
    }
    None
}

/// The 6-bit value of a base64 character.
fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes standard base64 (with `=` padding, whitespace ignored) into `out`: the length.
fn decode_base64(body: &[u8], out: &mut [u8]) -> Result<usize, PemError> {
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut len = 0usize;
    let mut chars = 0usize;
    let mut padding = 0usize;
    for &c in body {
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == b'=' {
            padding += 1;
            chars += 1;
            continue;
        }
        if padding > 0 {
            return Err(PemError::BadBase64);
        }
        let v = sextet(c).ok_or(PemError::BadBase64)?;
        chars += 1;
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            let slot = out.get_mut(len).ok_or(PemError::BufferTooSmall)?;
            // Truncation keeps exactly the 8 decoded bits above the remaining ones.
            *slot = (acc >> bits) as u8;
            len += 1;
            acc &= (1 << bits) - 1;
        }
    }
    // Whole quanta only; at most two padding characters; the bits left over must be zero.
    if !chars.is_multiple_of(4) || padding > 2 || acc != 0 {
        return Err(PemError::BadBase64);
    }
    let expected_padding = match bits {
        0 => 0,
        4 => 2,
        2 => 1,
        _ => return Err(PemError::BadBase64),
    };
    if padding != expected_padding {
        return Err(PemError::BadBase64);
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> Result<([u8; 16], usize), PemError> {
        let mut out = [0u8; 16];
        let n = decode_base64(s.as_bytes(), &mut out)?;
        Ok((out, n))
    }

    #[test]
    fn base64_known_answers() {
        for (text, bytes) in [
            ("", &b""[..]),
            ("Zg==", b"f"),
            ("Zm8=", b"fo"),
            ("Zm9v", b"foo"),
            ("Zm9v\r\nYmFy", b"foobar"),
            ("+/+/", &[0xfb, 0xff, 0xbf]),
        ] {
            let (out, n) = decode(text).unwrap();
            assert_eq!(&out[..n], bytes, "{text}");
        }
    }

    #[test]
    fn base64_refusals() {
        for text in ["Zg=", "Zg", "Zh==", "Z===", "Zg==Zg==", "Zm9v!", "Zm9=v"] {
            assert_eq!(decode(text), Err(PemError::BadBase64), "{text}");
        }
        let mut small = [0u8; 2];
        assert_eq!(
            decode_base64(b"Zm9v", &mut small),
            Err(PemError::BufferTooSmall)
        );
    }

    #[test]
    fn blocks_in_a_bundle() {
        let pem = b"junk\n-----BEGIN CERTIFICATE-----\nZm9v\n-----END CERTIFICATE-----\n\
                    -----BEGIN CERTIFICATE-----\nYmFy\n-----END CERTIFICATE-----\n";
        let mut buf = [0u8; 8];
        let (der, rest) = pem_block(pem, "CERTIFICATE", &mut buf).unwrap();
        assert_eq!(der, b"foo");
        let mut buf2 = [0u8; 8];
        let (der2, rest2) = pem_block(rest, "CERTIFICATE", &mut buf2).unwrap();
        assert_eq!(der2, b"bar");
        assert_eq!(
            pem_block(rest2, "CERTIFICATE", &mut buf2),
            Err(PemError::NoBlock)
        );
        assert_eq!(
            pem_block(
                b"-----BEGIN CERTIFICATE-----\nZm9v\n",
                "CERTIFICATE",
                &mut buf
            ),
            Err(PemError::Unterminated)
        );
        assert_eq!(
            pem_block(pem, "PRIVATE KEY", &mut buf),
            Err(PemError::NoBlock)
        );
    }
}
