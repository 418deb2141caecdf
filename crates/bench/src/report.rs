//! Markdown tables: printed to stdout and written to BENCHMARKS.md.

use std::fmt::Write as _;

/// One table of the report.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Section heading.
    pub title: String,
    /// What was measured and how, one paragraph.
    pub note: String,
    /// Column headings.
    pub header: Vec<String>,
    /// Cells, row by row.
    pub rows: Vec<Vec<String>>,
    /// Findings below the table (one bullet each).
    pub findings: Vec<String>,
}

impl Table {
    /// A table with these column headings.
    pub fn new(title: &str, note: &str, header: &[&str]) -> Table {
        Table {
            title: title.into(),
            note: note.into(),
            header: header.iter().map(|s| s.to_string()).collect(),
            ..Table::default()
        }
    }

    /// Markdown, with columns padded so the plain text reads as a table too.
    pub fn markdown(&self) -> String {
        let cols = self.header.len();
        let mut width = vec![3; cols];
        for row in std::iter::once(&self.header).chain(&self.rows) {
            for (i, cell) in row.iter().enumerate().take(cols) {
                width[i] = width[i].max(cell.chars().count());
            }
        }
        let line = |row: &[String]| {
            let mut s = String::from("|");
            for (i, w) in width.iter().enumerate() {
                let cell = row.get(i).map(String::as_str).unwrap_or("");
                let pad = w - cell.chars().count();
                if i == 0 {
                    let _ = write!(s, " {cell}{} |", " ".repeat(pad));
                } else {
                    let _ = write!(s, " {}{cell} |", " ".repeat(pad));
                }
            }
            s.push('\n');
            s
        };
        let mut out = format!("### {}\n\n", self.title);
        if !self.note.is_empty() {
            let _ = writeln!(out, "{}\n", self.note);
        }
        out.push_str(&line(&self.header));
        let mut sep = String::from("|");
        for (i, w) in width.iter().enumerate() {
            if i == 0 {
                let _ = write!(sep, " {} |", "-".repeat(*w));
            } else {
                let _ = write!(sep, " {}: |", "-".repeat(w - 1));
            }
        }
        out.push_str(&sep);
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row));
        }
        for f in &self.findings {
            let _ = writeln!(out, "\n- {f}");
        }
        out.push('\n');
        out
    }
}

/// A rate, to three significant figures.
pub fn rate(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// "Postel ÷ this" as a factor: `×3.1`.
pub fn ratio(postel: Option<f64>, this: f64) -> String {
    match postel {
        Some(p) if this > 0.0 => format!("×{:.2}", p / this),
        _ => "–".into(),
    }
}

/// KiB as MB (10^6 octets, like the attachment sizes).
pub fn mb(kib: u64) -> String {
    format!("{:.1}", kib as f64 * 1024.0 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_pads_and_right_aligns_numbers() {
        let mut t = Table::new("T", "", &["who", "msg/s"]);
        t.rows.push(vec!["postel".into(), "6000".into()]);
        assert_eq!(
            t.markdown(),
            "### T\n\n| who    | msg/s |\n| ------ | ----: |\n| postel |  6000 |\n\n"
        );
    }
}
