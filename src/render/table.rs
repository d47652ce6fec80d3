//! Aligned text tables: columns as wide as their widest cell, numbers
//! right-aligned, text left-aligned, the last column never padded.

use std::io::{self, Write};

/// A table being built.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn numeric(s: &str) -> bool {
    let s = s.trim_end_matches('%');
    !s.is_empty() && s.parse::<f64>().is_ok()
}

impl Table {
    /// A table with these column headers.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are blank, extra cells ignored).
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut r: Vec<String> = cells.into_iter().map(Into::into).collect();
        r.resize(self.headers.len(), String::new());
        self.rows.push(r);
    }

    /// Prints the header and rows.
    pub fn print(&self, w: &mut dyn Write) -> io::Result<()> {
        let n = self.headers.len();
        let widths: Vec<usize> = (0..n)
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([self.headers[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |w: &mut dyn Write, cells: &[String], header: bool| -> io::Result<()> {
            let mut out = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i > 0 {
                    out.push_str("  ");
                }
                let last = i + 1 == n;
                if !header && numeric(c) {
                    out.push_str(&format!("{c:>width$}", width = widths[i]));
                } else if last {
                    out.push_str(c);
                } else {
                    out.push_str(&format!("{c:<width$}", width = widths[i]));
                }
            }
            writeln!(w, "{}", out.trim_end())
        };
        line(w, &self.headers, true)?;
        for r in &self.rows {
            line(w, r, false)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns() {
        let mut t = Table::new(["NAME", "COUNT", "NOTE"]);
        t.row(["a", "5", "x"]);
        t.row(["long name", "12345", "last column"]);
        let mut out = Vec::new();
        t.print(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NAME       COUNT  NOTE\na              5  x\nlong name  12345  last column\n"
        );
    }
}
