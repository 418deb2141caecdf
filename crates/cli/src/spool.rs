//! A message read from stdin (`sendmail`, `send --raw -`), spooled to a private temporary
//! file as it arrives (for `sendmail` without `-i`, cut at a line holding a lone dot), so
//! that it is then streamed from the file like `send --raw FILE`: constant memory, and an
//! exact `SIZE=`.

use std::fs::File;
use std::io::{BufRead, BufWriter, Read as _, Write};
use std::path::{Path, PathBuf};

/// The temporary file; removed when dropped.
#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
}

impl Spool {
    /// Copies `input` into a new file (mode 600) in the temporary directory. Without
    /// `ignore_dots`, a line that is only `.` (LF, CRLF or at the end) ends the message,
    /// as in sendmail.
    pub fn from_reader(input: impl BufRead, ignore_dots: bool) -> std::io::Result<Spool> {
        let (file, spool) = Self::create()?;
        let mut out = BufWriter::new(file);
        copy_until_dot(input, &mut out, ignore_dots)?;
        out.flush()?;
        out.get_ref().sync_data().ok();
        Ok(spool)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn create() -> std::io::Result<(File, Spool)> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir();
        let mut last = None;
        for n in 0..100u32 {
            let path = dir.join(format!(
                "postel-sendmail-{}-{nanos:x}-{n}.eml",
                std::process::id()
            ));
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            match opts.open(&path) {
                Ok(f) => return Ok((f, Spool { path })),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free temporary file name")))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Copies `input` to `out`, stopping before a lone-dot line unless `ignore_dots`. Reads
/// in pieces of at most 8 KiB, so a long line is never held whole.
fn copy_until_dot(
    mut input: impl BufRead,
    out: &mut impl Write,
    ignore_dots: bool,
) -> std::io::Result<()> {
    if ignore_dots {
        std::io::copy(&mut input, out)?;
        return Ok(());
    }
    let mut piece = Vec::with_capacity(8192);
    let mut at_line_start = true;
    loop {
        piece.clear();
        let n = (&mut input).take(8192).read_until(b'\n', &mut piece)?;
        if n == 0 {
            return Ok(());
        }
        if at_line_start && matches!(&piece[..], b".\n" | b".\r\n" | b".") {
            return Ok(());
        }
        out.write_all(&piece)?;
        at_line_start = piece.ends_with(b"\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(input: &[u8], buf: usize) -> Vec<u8> {
        let mut out = Vec::new();
        copy_until_dot(
            std::io::BufReader::with_capacity(buf, input),
            &mut out,
            false,
        )
        .unwrap();
        out
    }

    #[test]
    fn a_lone_dot_ends_the_message_however_the_reads_fall() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b"a\n.\nb\n", b"a\n"),
            (b"a\r\n.\r\nb", b"a\r\n"),
            (b"a\n..\nb\n", b"a\n..\nb\n"),
            (b".\n", b""),
            (b"a\n.", b"a\n"),
            (b"a\n.\r", b"a\n.\r"), // a CR at the very end: not a dot line
            (b"x.\n.x\n", b"x.\n.x\n"),
        ];
        for (input, want) in cases {
            for buf in [1, 2, 3, 4096] {
                assert_eq!(cut(input, buf), want, "{input:?} read {buf} at a time");
            }
        }
        // A line longer than a piece, then a dot line.
        let mut long = vec![b'.'; 20_000];
        long.extend_from_slice(b"\n.\nrest");
        assert_eq!(cut(&long, 4096), &long[..20_001]);
    }

    #[test]
    fn the_file_is_private_and_removed_when_dropped() {
        let s = Spool::from_reader(&b"Subject: s\n\nx\n.\ny\n"[..], false).unwrap();
        let path = s.path().to_path_buf();
        assert_eq!(std::fs::read(&path).unwrap(), b"Subject: s\n\nx\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0);
        }
        drop(s);
        assert!(!path.exists());
    }
}
