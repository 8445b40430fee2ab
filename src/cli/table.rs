//! Plain-text tables for the commands' output, drawn by `comfy-table`
//! without borders: columns two spaces apart, no trailing blanks.

use comfy_table::{CellAlignment, presets::NOTHING};

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
        let numeric = |c: &str| {
            c.chars()
                .next()
                .is_some_and(|first| first.is_ascii_digit() || matches!(first, '-' | '+' | '.'))
                && c.chars().any(|ch| ch.is_ascii_digit())
        };
        let right: Vec<bool> = (0..n)
            .map(|i| {
                let cells: Vec<&str> = self
                    .rows
                    .iter()
                    .map(|r| r.get(i).map_or("", String::as_str))
                    .collect();
                cells.iter().any(|c| !c.is_empty())
                    && cells.iter().all(|c| c.is_empty() || numeric(c))
            })
            .collect();
        let mut table = comfy_table::Table::new();
        table.load_preset(NOTHING).set_header(&self.headers);
        for row in &self.rows {
            let mut cells = row.clone();
            cells.resize(n, String::new());
            table.add_row(cells);
        }
        for (i, column) in table.column_iter_mut().enumerate() {
            column.set_padding((0, if i + 1 < n { 2 } else { 0 }));
            if right[i] {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
        table
            .lines()
            .map(|l| l.trim_end().to_string() + "\n")
            .collect()
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
