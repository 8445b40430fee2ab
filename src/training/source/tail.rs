//! Following a file, or a folder of files, line by line from a remembered place.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::SourceError;

/// The place reached in one file: the byte just after the last complete line
/// read, and that line's number (1-based; 0 before the first).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePosition {
    /// Byte offset of the next unread line.
    pub offset: u64,
    /// Lines read so far.
    pub line: u64,
}

/// One complete line handed to a [`LineFormat`](super::LineFormat).
#[derive(Clone, Copy, Debug)]
pub struct Line<'a> {
    /// The file, as text (the key of its position).
    pub file: &'a str,
    /// The line's number, 1-based.
    pub number: u64,
    /// The line without its `\n` or `\r\n`.
    pub bytes: &'a [u8],
}

/// A file or a folder followed line by line.
#[derive(Debug)]
pub(super) struct Tail {
    root: PathBuf,
    extensions: &'static [&'static str],
    pub files: BTreeMap<String, FilePosition>,
}

/// Bytes read from disk at a time.
const CHUNK: usize = 64 * 1024;

impl Tail {
    /// Follows `root`: a file, or, when it is a folder, each file in it whose
    /// extension is one of `extensions` (case-insensitive), in name order.
    pub fn new(root: &Path, extensions: &'static [&'static str]) -> Self {
        Tail {
            root: root.to_path_buf(),
            extensions,
            files: BTreeMap::new(),
        }
    }

    /// The path followed.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The files to read, in order.
    fn list(&self) -> Result<Vec<PathBuf>, SourceError> {
        let meta = std::fs::metadata(&self.root).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SourceError::Missing {
                path: self.root.clone(),
            },
            _ => SourceError::Io {
                op: "read",
                path: self.root.clone(),
                source: e,
            },
        })?;
        if !meta.is_dir() {
            return Ok(vec![self.root.clone()]);
        }
        let io = |source| SourceError::Io {
            op: "list",
            path: self.root.clone(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&self.root).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if path.is_file() && self.extensions.iter().any(|x| x.eq_ignore_ascii_case(ext)) {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }

    /// Hands every complete line after the remembered places to `on_line`,
    /// at most `max_lines` non-blank ones, and moves the places past them.
    /// Returns the files that had shrunk and were read from their start.
    pub fn read(
        &mut self,
        max_lines: usize,
        mut on_line: impl FnMut(Line<'_>),
    ) -> Result<Vec<String>, SourceError> {
        let mut restarted = Vec::new();
        let mut budget = max_lines;
        for path in self.list()? {
            if budget == 0 {
                break;
            }
            let key = path.to_string_lossy().into_owned();
            let mut pos = self.files.get(&key).copied().unwrap_or_default();
            let used = read_file(&path, &key, &mut pos, budget, &mut restarted, &mut on_line)?;
            budget -= used;
            self.files.insert(key, pos);
        }
        Ok(restarted)
    }
}

/// Reads complete lines of one file from `pos`; returns how many non-blank
/// lines it handed over.
fn read_file(
    path: &Path,
    key: &str,
    pos: &mut FilePosition,
    budget: usize,
    restarted: &mut Vec<String>,
    on_line: &mut impl FnMut(Line<'_>),
) -> Result<usize, SourceError> {
    let io = |op| {
        move |source| SourceError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    };
    let mut file = File::open(path).map_err(io("open"))?;
    let len = file.metadata().map_err(io("read"))?.len();
    if len < pos.offset {
        tracing::warn!(
            file = key,
            "training data became shorter than the place reached; reading it again from its start"
        );
        *pos = FilePosition::default();
        restarted.push(key.to_string());
    }
    if len == pos.offset {
        return Ok(0);
    }
    file.seek(SeekFrom::Start(pos.offset)).map_err(io("read"))?;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut used = 0;
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut chunk).map_err(io("read"))?;
        if n == 0 {
            return Ok(used); // what is left in `buf` is a torn line
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut start = 0;
        while let Some(nl) = buf[start..].iter().position(|&b| b == b'\n') {
            let end = start + nl;
            let mut line = &buf[start..end];
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            pos.offset += (end + 1 - start) as u64;
            pos.line += 1;
            start = end + 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            on_line(Line {
                file: key,
                number: pos.line,
                bytes: line,
            });
            used += 1;
            if used == budget {
                return Ok(used);
            }
        }
        buf.drain(..start);
    }
}

/// The first line of `path` (its header), if it is complete.
pub(super) fn first_line(path: &Path) -> Result<Option<Vec<u8>>, SourceError> {
    let mut pos = FilePosition::default();
    let mut line = None;
    read_file(path, "", &mut pos, 1, &mut Vec::new(), &mut |l: Line<
        '_,
    >| {
        line = Some(l.bytes.to_vec());
    })?;
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(tail: &mut Tail, max: usize) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        tail.read(max, |l| {
            out.push((l.number, String::from_utf8_lossy(l.bytes).into_owned()))
        })
        .unwrap();
        out
    }

    #[test]
    fn torn_last_line_waits_for_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.csv");
        std::fs::write(&p, "one\r\ntwo\nthr").unwrap();
        let mut t = Tail::new(&p, &["csv"]);
        assert_eq!(collect(&mut t, 10), [(1, "one".into()), (2, "two".into())]);
        assert_eq!(collect(&mut t, 10), []);
        std::fs::write(&p, "one\r\ntwo\nthree\n\n  \nfour\n").unwrap();
        assert_eq!(
            collect(&mut t, 10),
            [(3, "three".into()), (6, "four".into())]
        );
        let key = p.to_string_lossy().into_owned();
        assert_eq!(
            t.files[&key],
            FilePosition {
                offset: 24,
                line: 6
            }
        );
    }

    #[test]
    fn budget_leaves_the_rest_for_later_and_spans_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.csv");
        // Lines long enough that a chunk boundary falls inside one.
        let lines: Vec<String> = (0..300).map(|i| format!("{i:0>400}")).collect();
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
        let mut t = Tail::new(&p, &["csv"]);
        let first = collect(&mut t, 200);
        assert_eq!(first.len(), 200);
        let rest = collect(&mut t, 1000);
        assert_eq!(rest.len(), 100);
        assert_eq!(rest[0], (201, lines[200].clone()));
        assert_eq!(rest[99].1, lines[299]);
    }

    #[test]
    fn folder_files_are_read_in_name_order_and_new_files_join() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.csv"), "b1\n").unwrap();
        std::fs::write(dir.path().join("a.CSV"), "a1\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored\n").unwrap();
        let mut t = Tail::new(dir.path(), &["csv"]);
        let got: Vec<String> = collect(&mut t, 10).into_iter().map(|l| l.1).collect();
        assert_eq!(got, ["a1", "b1"]);
        std::fs::write(dir.path().join("c.csv"), "c1\n").unwrap();
        let got: Vec<String> = collect(&mut t, 10).into_iter().map(|l| l.1).collect();
        assert_eq!(got, ["c1"]);
    }

    #[test]
    fn a_shrunk_file_is_read_again_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.csv");
        std::fs::write(&p, "one\ntwo\n").unwrap();
        let mut t = Tail::new(&p, &["csv"]);
        collect(&mut t, 10);
        std::fs::write(&p, "new\n").unwrap();
        let mut got = Vec::new();
        let restarted = t.read(10, |l| got.push(l.number)).unwrap();
        assert_eq!(got, [1]);
        assert_eq!(restarted, [p.to_string_lossy().into_owned()]);
    }

    #[test]
    fn a_missing_path_is_a_clear_error() {
        let mut t = Tail::new(Path::new("/nonexistent/kaizen/data.csv"), &["csv"]);
        let err = t.read(10, |_| {}).unwrap_err();
        assert_eq!(
            err.to_string(),
            "training data /nonexistent/kaizen/data.csv does not exist"
        );
    }

    #[test]
    fn first_line_needs_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.csv");
        std::fs::write(&p, "x,target").unwrap();
        assert_eq!(first_line(&p).unwrap(), None);
        std::fs::write(&p, "x,target\n1,2\n").unwrap();
        assert_eq!(first_line(&p).unwrap(), Some(b"x,target".to_vec()));
    }
}
