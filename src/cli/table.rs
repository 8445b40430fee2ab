//! Plain-text tables for the commands' output.

use std::fmt::Write as _;

/// A table with a header row; columns are as wide as their widest cell.
/// A column whose cells are all numbers (starting with a digit, a sign or a
/// dot) is right-aligned, its header too.
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
        let cell = |row: &[String], i: usize| row.get(i).map_or("", String::as_str).to_string();
        let numeric = |c: &str| {
            c.chars()
                .next()
                .is_some_and(|first| first.is_ascii_digit() || matches!(first, '-' | '+' | '.'))
                && c.chars().any(|ch| ch.is_ascii_digit())
        };
        let columns: Vec<(usize, bool)> = (0..n)
            .map(|i| {
                let width = self
                    .rows
                    .iter()
                    .map(|r| cell(r, i).chars().count())
                    .chain([self.headers[i].chars().count()])
                    .max()
                    .unwrap_or(0);
                let cells: Vec<String> = self.rows.iter().map(|r| cell(r, i)).collect();
                let right = cells.iter().any(|c| !c.is_empty())
                    && cells.iter().all(|c| c.is_empty() || numeric(c));
                (width, right)
            })
            .collect();
        let mut out = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, &(w, right)) in columns.iter().enumerate() {
                let c = cell(row, i);
                let _ = if right {
                    write!(line, "{c:>w$}")
                } else {
                    write!(line, "{c:<w$}")
                };
                if i + 1 < n {
                    line.push_str("  ");
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
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
