//! [`LineSource`]: a file or folder followed line by line, each line turned
//! into a sample by a [`LineFormat`] — CSV and JSON Lines are two formats of
//! the one source.

use std::path::{Path, PathBuf};

use super::tail::{Line, Tail};
use super::{BadReason, BadRow, Batch, DataSource, Sample, Schema, SourceError, SourcePosition};

/// How the lines of one kind of file become samples.
pub trait LineFormat: Send {
    /// Extensions (without the dot) of the files read from a folder.
    const EXTENSIONS: &'static [&'static str];

    /// One complete, non-blank line: a sample, nothing (a header), or why the
    /// row is bad. The first header or good row fixes `schema`.
    fn parse(
        &mut self,
        schema: &mut Option<Schema>,
        line: &Line<'_>,
    ) -> Result<Option<Sample>, BadReason>;

    /// Forgets what it learned from the files (a saved position is being restored).
    fn forget(&mut self);
}

/// A file, or a folder of files, read as the host appends lines.
#[derive(Debug)]
pub struct LineSource<F> {
    tail: Tail,
    schema: Option<Schema>,
    format: F,
}

impl<F: LineFormat> LineSource<F> {
    /// A source reading `path` with `format`: a file, or a folder whose files
    /// with the format's extensions are read in name order.
    pub fn with_format(path: impl AsRef<Path>, format: F) -> Self {
        LineSource {
            tail: Tail::new(path.as_ref(), F::EXTENSIONS),
            schema: None,
            format,
        }
    }

    /// The path read.
    pub fn path(&self) -> PathBuf {
        self.tail.root().to_path_buf()
    }
}

impl<F: LineFormat> DataSource for LineSource<F> {
    fn read_new(&mut self, max_rows: usize) -> Result<Batch, SourceError> {
        let mut batch = Batch::default();
        let (format, schema) = (&mut self.format, &mut self.schema);
        batch.restarted = self
            .tail
            .read(max_rows, |line| match format.parse(schema, &line) {
                Ok(Some(s)) => batch.samples.push(s),
                Ok(None) => {}
                Err(reason) => batch.bad.push(BadRow {
                    at: format!("{}:{}", line.file, line.number),
                    reason,
                }),
            })?;
        Ok(batch)
    }

    fn position(&self) -> SourcePosition {
        SourcePosition {
            files: self.tail.files.clone(),
            schema: self.schema.clone(),
        }
    }

    fn restore(&mut self, position: SourcePosition) {
        self.tail.files = position.files;
        self.schema = position.schema;
        self.format.forget();
    }

    fn schema(&self) -> Option<&Schema> {
        self.schema.as_ref()
    }

    fn describe(&self) -> String {
        self.tail.root().display().to_string()
    }
}
