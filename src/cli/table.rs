//! Plain-text tables for the commands' output.

use std::fmt::Write as _;

/// A table with a header row; columns are as wide as their widest cell.
/// Numbers (cells starting with a digit, a sign or a dot) are right-aligned.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are blank).
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// The table as text, one line per row, ending with a newline.
    pub fn render(&self) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cells: &[String]| {
            let mut text = String::new();
            for (i, w) in widths.iter().enumerate().take(n) {
                let cell = cells.get(i).map_or("", String::as_str);
                let numeric = cell
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'))
                    && cell.chars().any(|c| c.is_ascii_digit());
                let _ = if numeric {
                    write!(text, "{cell:>w$}")
                } else {
                    write!(text, "{cell:<w$}")
                };
                if i + 1 < n {
                    text.push_str("  ");
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&self.headers);
        for row in &self.rows {
            line(row);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_numbers_align_right() {
        let mut t = Table::new(["bot", "delta", "reason"]);
        t.row(["alpha", "+1.50", "interval"]);
        t.row(["b", "-12.25", "policy"]);
        assert_eq!(
            t.render(),
            "bot     delta  reason\nalpha   +1.50  interval\nb      -12.25  policy\n"
        );
    }
}
