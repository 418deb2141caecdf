//! `--attach FILE` and `--attach 'FILE;charset=NAME'`: a file attached with its type
//! guessed from its name. A text file (`.txt`, `.csv`, `.md`, `.html`...) that is valid
//! UTF-8 (checked while reading it through once, in constant memory) is sent as
//! `text/...; charset=utf-8`; one that is not is `application/octet-stream`, unless its
//! charset is given after a `;`.

use std::path::{Path, PathBuf};

use postel_mime::Attachment;

use crate::exit::{self, Failure};

/// What one `--attach` value says.
#[derive(Debug, PartialEq, Eq)]
pub struct AttachArg {
    /// The file.
    pub path: PathBuf,
    /// The charset given with `;charset=NAME`.
    pub charset: Option<String>,
}

/// Splits `FILE;charset=NAME`. A value naming an existing file is that file, even when
/// it holds `;charset=`.
pub fn parse(arg: &Path) -> AttachArg {
    let whole = || AttachArg {
        path: arg.to_path_buf(),
        charset: None,
    };
    if arg.exists() {
        return whole();
    }
    let Some(s) = arg.to_str() else {
        return whole();
    };
    // Everything after the last `;charset=` is the charset (checked when used).
    match s.to_ascii_lowercase().rfind(";charset=") {
        Some(at) => AttachArg {
            path: PathBuf::from(&s[..at]),
            charset: Some(s[at + ";charset=".len()..].trim().to_owned()),
        },
        None => whole(),
    }
}

/// The attachment for one `--attach` value.
pub fn attachment(arg: &Path) -> Result<Attachment, Failure> {
    let a = parse(arg);
    let att = Attachment::from_path(&a.path).map_err(|e| {
        Failure::new(
            exit::NOINPUT,
            format!("cannot attach {}: {e}", a.path.display()),
        )
    })?;
    match a.charset {
        Some(cs) => att
            .charset(&cs)
            .map_err(|e| Failure::usage(format!("--attach {}: {e}", arg.display()))),
        None => Ok(att),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_charset_follows_a_semicolon_unless_the_file_is_named_so() {
        assert_eq!(
            parse(Path::new("/nonexistent/menu.txt;charset=latin1")),
            AttachArg {
                path: "/nonexistent/menu.txt".into(),
                charset: Some("latin1".into())
            }
        );
        assert_eq!(
            parse(Path::new("/nonexistent/a;b.txt")).path,
            Path::new("/nonexistent/a;b.txt")
        );
        assert_eq!(
            parse(Path::new("/n/a.txt;Charset=utf-8; name=x"))
                .charset
                .as_deref(),
            Some("utf-8; name=x")
        );
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("x;charset=utf-8");
        std::fs::write(&odd, "x").unwrap();
        assert_eq!(parse(&odd).path, odd);
        assert_eq!(parse(&odd).charset, None);
    }
}
