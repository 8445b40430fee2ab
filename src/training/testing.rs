//! Helpers for the training module's tests.

use std::io::Write;
use std::path::Path;

/// Appends `rows` to the CSV at `path`, writing `header` first when the file is new.
pub(crate) fn append_csv(path: &Path, header: &str, rows: impl IntoIterator<Item = String>) {
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    if new {
        writeln!(f, "{header}").unwrap();
    }
    for row in rows {
        writeln!(f, "{row}").unwrap();
    }
}
