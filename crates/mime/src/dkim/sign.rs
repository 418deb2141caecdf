//! The two passes over a [`Message`] or [`RawMessage`]: one-shot bodies are spooled to a
//! temporary file, the message is encoded once through a [`MessageHasher`], and the field
//! it gives is attached so the next encoding (the one sent) starts with it.

use alloc::boxed::Box;
use alloc::vec::Vec;
use std::io::{Seek as _, SeekFrom, Write as _};

use super::signer::{join_lines, MessageHasher, Signer};
use crate::encoder::{EncodeOptions, Encoder};
use crate::error::Error;
use crate::message::Message;
use crate::part::{Body, Part};
use crate::raw::RawMessage;
use crate::source::{Content, ReadSource, Source};

/// A message [`Signer::sign`] can sign: [`Message`] and [`RawMessage`].
pub trait Signable {
    /// Sign with `signer`: read the message once (spooling one-shot bodies to a
    /// temporary file) and attach the `DKIM-Signature` field that the next encoding
    /// starts with. Signing again adds another signature above the first (an RSA and an
    /// Ed25519 signature, say).
    fn sign_with(&mut self, signer: &Signer) -> Result<(), Error>;
}

impl Signer {
    /// Sign `message`; see [`Signable::sign_with`].
    pub fn sign<M: Signable + ?Sized>(&self, message: &mut M) -> Result<(), Error> {
        message.sign_with(self)
    }
}

fn run(encoder: &mut Encoder<'_>, h: &mut MessageHasher<'_>) -> Result<(), Error> {
    let mut buf = alloc::vec![0u8; 64 * 1024];
    loop {
        let n = encoder.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        h.push(&buf[..n])?;
    }
}

/// Copy a one-shot source to an anonymous temporary file, checking a declared length.
fn spool(mut src: Box<dyn Source>, declared: Option<u64>) -> Result<std::fs::File, Error> {
    let mut file = tempfile::tempfile()?;
    let mut buf = alloc::vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        file.write_all(&buf[..n])?;
    }
    if let Some(d) = declared.filter(|&d| d != total) {
        return Err(Error::LengthMismatch {
            declared: d,
            actual: total,
        });
    }
    file.flush()?;
    file.seek(SeekFrom::Start(0))?;
    Ok(file)
}

/// Replace every streamed body of `part` by a spooled temporary file.
fn spool_parts(part: &mut Part, keep: &mut Vec<tempfile::TempPath>) -> Result<(), Error> {
    match &mut part.body {
        Body::Leaf { content, .. } => {
            if let Content::Stream { source, len } = content {
                let src = source.take().ok_or(Error::SourceConsumed)?;
                let named = tempfile::NamedTempFile::new()?;
                let (mut file, path) = named.into_parts();
                let mut spooled = spool(src, *len)?;
                std::io::copy(&mut spooled, &mut file)?;
                file.flush()?;
                *content = Content::File {
                    path: path.to_path_buf(),
                };
                keep.push(path);
            }
            Ok(())
        }
        Body::Multi(children) => children.iter_mut().try_for_each(|c| spool_parts(c, keep)),
    }
}

impl Signable for Message {
    fn sign_with(&mut self, signer: &Signer) -> Result<(), Error> {
        let mut keep = Vec::new();
        spool_parts(&mut self.body, &mut keep)?;
        self.dkim.spooled.extend(keep);
        let opts = self.dkim.opts.unwrap_or(EncodeOptions {
            allow_8bit: false,
            smtputf8: self.needs_smtputf8(),
        });
        let mut h = signer.hasher();
        {
            let mut enc = self.encoder(&opts)?;
            run(&mut enc, &mut h)?;
        }
        let field = join_lines(&h.finish()?);
        let mut prefix = field;
        prefix.extend_from_slice(&self.dkim.prefix);
        self.dkim.prefix = prefix;
        self.dkim.opts = Some(opts);
        Ok(())
    }
}

impl Signable for RawMessage {
    fn sign_with(&mut self, signer: &Signer) -> Result<(), Error> {
        let opts = EncodeOptions::default(); // raw bytes do not depend on it
        let mut h = signer.hasher();
        match self.take_stream_body() {
            None => {
                let mut enc = self.encoder(&opts)?;
                run(&mut enc, &mut h)?;
            }
            Some(stream) => {
                // A file is read again from its path; anything else is spooled.
                // A file whose name is gone (an unlinked spool) is spooled again.
                let again = match self.reopen_body() {
                    Ok(again) => again,
                    Err(Error::Io(_)) => None,
                    Err(e) => return Err(e),
                };
                let (first, second): (Box<dyn Source>, Box<dyn Source>) = match again {
                    Some(again) => (again, stream),
                    None => {
                        let file = spool(stream, None)?;
                        let other = file.try_clone()?;
                        (
                            Box::new(ReadSource(file)),
                            Box::new(Rewound {
                                file: ReadSource(other),
                                started: false,
                            }),
                        )
                    }
                };
                self.set_stream_body(first);
                let mut enc = self.encoder(&opts)?;
                run(&mut enc, &mut h)?;
                drop(enc);
                self.set_stream_body(second);
            }
        }
        self.prepend_lines(h.finish()?);
        Ok(())
    }
}

/// A spooled file read from its start: the first pass left the shared offset at the end.
struct Rewound {
    file: ReadSource<std::fs::File>,
    started: bool,
}

impl Source for Rewound {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if !self.started {
            self.file.0.seek(SeekFrom::Start(0))?;
            self.started = true;
        }
        self.file.read(buf)
    }
}
