//! DKIM in the CLI: `--dkim-key FILE --dkim-selector S --dkim-domain D` (or the same keys
//! in an account), the signer they make, and `postel dkim keygen`.
//!
//! Messages are signed before the connection is opened (a bad key is an error before any
//! traffic) and, for the queue, when they are queued: the queued bytes carry the
//! signature, so every retry sends the same signed bytes.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use postel_mime::dkim::{Canonicalization, Signer, SigningKey};

use crate::config::{Account, ConfigFile};
use crate::deliver::Outgoing;
use crate::exit::{self, Failure};

/// The DKIM flags of `send` and `queue add`.
#[derive(Debug, Clone, Default, Args)]
pub struct DkimArgs {
    /// Sign with this private key (PEM: PKCS#1 or PKCS#8 RSA, PKCS#8 Ed25519).
    #[arg(long, value_name = "FILE")]
    pub dkim_key: Option<PathBuf>,
    /// The selector: the key is published at SELECTOR._domainkey.DOMAIN.
    #[arg(long, value_name = "S")]
    pub dkim_selector: Option<String>,
    /// The signing domain (d=).
    #[arg(long, value_name = "D")]
    pub dkim_domain: Option<String>,
    /// Oversign From, To, Subject and Date (a copy added later breaks the signature).
    #[arg(long)]
    pub dkim_oversign: bool,
    /// Canonicalisation, header/body: relaxed/relaxed (default), simple/simple,
    /// relaxed/simple or simple/relaxed. Relaxed survives relays that refold headers.
    #[arg(long, value_name = "H/B", value_parser = parse_canon)]
    pub dkim_canon: Option<(Canonicalization, Canonicalization)>,
}

fn parse_canon(s: &str) -> Result<(Canonicalization, Canonicalization), String> {
    let one = |w: &str| match w {
        "relaxed" => Ok(Canonicalization::Relaxed),
        "simple" => Ok(Canonicalization::Simple),
        _ => Err(format!("{w:?}: expected relaxed or simple")),
    };
    let (h, b) = s.split_once('/').unwrap_or((s, "simple"));
    Ok((one(h)?, one(b)?))
}

/// `postel dkim ...`.
#[derive(Debug, Args)]
pub struct DkimCommandArgs {
    #[command(subcommand)]
    pub command: DkimCommand,
}

/// The `dkim` subcommands.
#[derive(Debug, Subcommand)]
pub enum DkimCommand {
    /// Make a key pair: the private key as PKCS#8 PEM (to FILE, or stdout), then the DNS
    /// TXT record to publish.
    Keygen {
        /// ed25519 (small, RFC 8463; not every verifier has it yet) or rsa.
        #[arg(long, value_enum, default_value = "rsa")]
        algorithm: KeyAlgorithm,
        /// RSA key size.
        #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u64).range(1024..=8192))]
        bits: u64,
        /// The selector the record is named for.
        #[arg(long, value_name = "S", default_value = "postel")]
        selector: String,
        /// The domain the record is named for.
        #[arg(long, value_name = "D", default_value = "example.com")]
        domain: String,
        /// Write the private key here (mode 0600) instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Sign a message (FILE, or stdin) and write it to stdout with its DKIM-Signature
    /// first, CRLF line ends; nothing is sent. Bcc is kept.
    Sign {
        /// The key, selector and domain (required here).
        #[command(flatten)]
        dkim: DkimArgs,
        /// The message [default: stdin].
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

/// Key algorithms for `keygen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyAlgorithm {
    /// rsa-sha256.
    Rsa,
    /// ed25519-sha256.
    Ed25519,
}

fn expand_home(p: &std::path::Path) -> PathBuf {
    match (p.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => p.to_path_buf(),
    }
}

/// The signer the flags, else the account, describe; `None` when neither names a key.
/// A missing selector or domain, or a key that does not load, is an error here, before
/// anything is sent.
pub fn signer(args: &DkimArgs, account: Option<&Account>) -> Result<Option<Signer>, Failure> {
    let key = args
        .dkim_key
        .clone()
        .or_else(|| account.and_then(|a| a.dkim_key.clone()));
    let pick = |flag: &Option<String>, acct: Option<&String>| flag.clone().or(acct.cloned());
    let selector = pick(
        &args.dkim_selector,
        account.and_then(|a| a.dkim_selector.as_ref()),
    );
    let domain = pick(
        &args.dkim_domain,
        account.and_then(|a| a.dkim_domain.as_ref()),
    );
    let Some(key) = key else {
        if args.dkim_selector.is_some() || args.dkim_domain.is_some() {
            return Err(Failure::usage(
                "--dkim-selector and --dkim-domain need --dkim-key FILE",
            ));
        }
        return Ok(None);
    };
    let (selector, domain) =
        match (selector, domain) {
            (Some(s), Some(d)) => (s, d),
            (None, _) => return Err(Failure::usage(
                "DKIM: a key needs a selector (--dkim-selector S, or dkim_selector in the account)",
            )),
            (_, None) => {
                return Err(Failure::usage(
                    "DKIM: a key needs a domain (--dkim-domain D, or dkim_domain in the account)",
                ))
            }
        };
    let key = SigningKey::from_pem_file(expand_home(&key))
        .map_err(|e| Failure::new(exit::CONFIG, e.to_string()))?;
    let oversign = args.dkim_oversign || account.and_then(|a| a.dkim_oversign).unwrap_or(false);
    let (h, b) = args
        .dkim_canon
        .unwrap_or((Canonicalization::Relaxed, Canonicalization::Relaxed));
    let signer = Signer::new(key, &domain, &selector)
        .map_err(|e| Failure::new(exit::CONFIG, e.to_string()))?
        .timestamp_now()
        .oversign(oversign)
        .header_canonicalization(h)
        .body_canonicalization(b);
    Ok(Some(signer))
}

/// The account `send` uses, chosen as `crate::server::client` chooses it: a server on
/// the command line without `--account` means no account.
pub fn account_for(
    server: &crate::cli::ServerArgs,
    file: &ConfigFile,
) -> Result<Option<Account>, Failure> {
    if server.server.is_some() && server.account.is_none() {
        return Ok(None);
    }
    Ok(file.account(server.account.as_deref())?.map(|(_, a)| a))
}

/// Sign a message about to be sent or queued.
pub fn sign(signer: Option<&Signer>, msg: &mut Outgoing) -> Result<(), Failure> {
    let Some(s) = signer else { return Ok(()) };
    let r = match msg {
        Outgoing::Composed(m) => s.sign(m),
        Outgoing::Raw(r) => s.sign(r),
    };
    r.map_err(|e| Failure::data(format!("DKIM signing: {e}")))
}

/// Sign a raw message (`sendmail`).
pub fn sign_raw(signer: Option<&Signer>, raw: &mut postel_mime::RawMessage) -> Result<(), Failure> {
    let Some(s) = signer else { return Ok(()) };
    s.sign(raw)
        .map_err(|e| Failure::data(format!("DKIM signing: {e}")))
}

/// Sign message bytes about to be queued: the signature field goes before them.
pub fn sign_bytes(signer: Option<&Signer>, bytes: Vec<u8>) -> Result<Vec<u8>, Failure> {
    let Some(s) = signer else { return Ok(bytes) };
    let mut raw = postel_mime::RawMessage::from_bytes(bytes)?.keep_bcc(true);
    s.sign(&mut raw)
        .map_err(|e| Failure::data(format!("DKIM signing: {e}")))?;
    Ok(raw.to_vec(&postel_mime::EncodeOptions {
        allow_8bit: true,
        smtputf8: true,
    })?)
}

/// Runs `postel dkim ...`.
pub fn run(args: &DkimCommandArgs) -> Result<u8, Failure> {
    match &args.command {
        DkimCommand::Keygen {
            algorithm,
            bits,
            selector,
            domain,
            out,
        } => keygen(*algorithm, *bits, selector, domain, out.as_deref()),
        DkimCommand::Sign { dkim, file } => sign_command(dkim, file.as_deref()),
    }
}

fn sign_command(args: &DkimArgs, file: Option<&std::path::Path>) -> Result<u8, Failure> {
    let signer = signer(args, None)?
        .ok_or_else(|| Failure::usage("postel dkim sign needs --dkim-key FILE"))?;
    let raw = match file {
        Some(p) => postel_mime::RawMessage::from_file(p).map_err(|e| match e {
            postel_mime::Error::Io(e) => {
                Failure::new(exit::NOINPUT, format!("cannot read {}: {e}", p.display()))
            }
            e => Failure::data(format!("{}: {e}", p.display())),
        })?,
        // Spooled to a temporary file by the signer, never held in memory.
        None => postel_mime::RawMessage::from_reader(std::io::stdin())?,
    };
    let mut raw = raw.keep_bcc(true);
    sign_raw(Some(&signer), &mut raw)?;
    let mut enc = raw.encoder(&postel_mime::EncodeOptions::default())?;
    let mut stdout = crate::output::stdout();
    std::io::copy(&mut enc, &mut stdout)
        .map_err(|e| Failure::new(exit::IOERR, format!("writing the message: {e}")))?;
    Ok(exit::OK)
}

fn keygen(
    algorithm: KeyAlgorithm,
    bits: u64,
    selector: &str,
    domain: &str,
    out: Option<&std::path::Path>,
) -> Result<u8, Failure> {
    let key = match algorithm {
        KeyAlgorithm::Ed25519 => SigningKey::generate_ed25519(),
        KeyAlgorithm::Rsa => SigningKey::generate_rsa(bits as usize)
            .map_err(|e| Failure::new(exit::SOFTWARE, e.to_string()))?,
    };
    // The names are checked as a signer would check them.
    let signer = Signer::new(key, domain, selector).map_err(|e| Failure::usage(e.to_string()))?;
    let pem = signer.key().to_pkcs8_pem();
    let io = |e: std::io::Error| Failure::new(exit::IOERR, format!("writing: {e}"));
    let mut stdout = crate::output::stdout();
    match out {
        Some(path) => write_private(path, &pem)?,
        None => stdout.write_all(pem.as_bytes()).map_err(io)?,
    }
    let value = signer.key().dns_txt_value();
    writeln!(
        stdout,
        "{}._domainkey.{}. IN TXT {}",
        signer.selector(),
        signer.domain(),
        txt_strings(&value)
    )
    .map_err(io)?;
    Ok(exit::OK)
}

/// A TXT value as DNS zone-file strings of at most 255 characters each.
fn txt_strings(value: &str) -> String {
    let parts: Vec<String> = value
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect();
    if parts.len() == 1 {
        parts.concat()
    } else {
        format!("( {} )", parts.join(" "))
    }
}

fn write_private(path: &std::path::Path, pem: &str) -> Result<(), Failure> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Failure::new(exit::IOERR, format!("{}: {e}", path.display())))?;
    f.write_all(pem.as_bytes())
        .map_err(|e| Failure::new(exit::IOERR, format!("{}: {e}", path.display())))
}
