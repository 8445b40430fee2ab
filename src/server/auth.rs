//! The API's bearer token: from `KAIZEN_TOKEN`, or generated at first start
//! into `state/.kaizen/token` (mode 0600, never through a symbolic link).
//!
//! A token is `NAME:SECRET` or just `SECRET` (named `operator`); the name is
//! who the audit trail says acted. Requests carry `Authorization: Bearer
//! SECRET`; the comparison takes the same time wherever the secrets differ.

use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::ServerError;

/// The file the generated token is kept in, inside `state/.kaizen/`.
pub const TOKEN_FILE: &str = "token";
/// The environment variable a token is taken from first.
pub const TOKEN_ENV: &str = "KAIZEN_TOKEN";
/// The name of a token given without one.
pub const DEFAULT_NAME: &str = "operator";
/// The shortest secret accepted.
const MIN_SECRET: usize = 16;

/// A named secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    name: String,
    secret: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("secret", &"…")
            .finish()
    }
}

/// Where the token came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// The `KAIZEN_TOKEN` environment variable.
    Env,
    /// A token file that already existed.
    File(PathBuf),
    /// A token generated now into this file.
    Generated(PathBuf),
}

impl Token {
    /// Parses `NAME:SECRET` or `SECRET`; `from` names where the text came from.
    pub fn parse(text: &str, from: &str) -> Result<Self, ServerError> {
        let text = text.trim();
        let (name, secret) = match text.split_once(':') {
            Some((name, secret)) => (name, secret),
            None => (DEFAULT_NAME, text),
        };
        let bad = |why: String| ServerError::Token {
            from: from.to_string(),
            why,
        };
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-@".contains(&b))
        {
            return Err(bad(format!(
                "the name {name:?} must be 1 to 64 letters, digits, '_', '.', '-' or '@'"
            )));
        }
        if secret.len() < MIN_SECRET || !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad(format!(
                "the secret must be at least {MIN_SECRET} printable characters without spaces"
            )));
        }
        Ok(Token {
            name: name.to_string(),
            secret: secret.to_string(),
        })
    }

    /// A new random token named `name` (256 bits from the OS-seeded CSPRNG).
    pub fn generate(name: &str) -> Self {
        use rand::Rng;
        let bytes: [u8; 32] = rand::rng().random();
        Token {
            name: name.to_string(),
            secret: bytes.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    /// Who acts with this token.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The secret, for a client (`Authorization: Bearer …`).
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Whether `presented` is this token's secret (constant time in the secret's content).
    pub fn matches(&self, presented: &str) -> bool {
        let (a, b) = (self.secret.as_bytes(), presented.as_bytes());
        let differ = a
            .iter()
            .zip(b.iter())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y));
        differ == 0 && a.len() == b.len()
    }

    /// `NAME:SECRET`, as the token file keeps it.
    fn line(&self) -> String {
        format!("{}:{}\n", self.name, self.secret)
    }
}

/// The token a client of the server uses: `env` (the value of
/// `KAIZEN_TOKEN`) when given, else `state_root/.kaizen/token` when it
/// exists (nothing is generated).
pub fn load(state_root: &Path, env: Option<String>) -> Result<Option<Token>, ServerError> {
    match env {
        Some(text) => Token::parse(&text, TOKEN_ENV).map(Some),
        None => read_token_file(&state_root.join(crate::history::KAIZEN_DIR).join(TOKEN_FILE)),
    }
}

/// The token to use: `env` (the value of `KAIZEN_TOKEN`) when given, else
/// `state_root/.kaizen/token`, generated there when missing.
pub fn load_or_generate(
    state_root: &Path,
    env: Option<String>,
) -> Result<(Token, TokenSource), ServerError> {
    if let Some(text) = env {
        return Ok((Token::parse(&text, TOKEN_ENV)?, TokenSource::Env));
    }
    let dir = state_root.join(crate::history::KAIZEN_DIR);
    let path = dir.join(TOKEN_FILE);
    match read_token_file(&path)? {
        Some(token) => Ok((token, TokenSource::File(path))),
        None => {
            let token = Token::generate(DEFAULT_NAME);
            write_token_file(&dir, &path, &token)?;
            Ok((token, TokenSource::Generated(path)))
        }
    }
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ServerError {
    let path = path.to_path_buf();
    move |source| ServerError::Io { op, path, source }
}

/// Opens without following a link; `None` when missing. A file others may
/// read is refused: its secret may have leaked.
fn read_token_file(path: &Path) -> Result<Option<Token>, ServerError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path);
    let file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("open", path)(e)),
    };
    let meta = file.metadata().map_err(io("inspect", path))?;
    let from = path.display().to_string();
    if !meta.is_file() {
        return Err(ServerError::Token {
            from,
            why: "it is not a regular file".into(),
        });
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(ServerError::Token {
            from,
            why: format!("others may read it (mode {mode:o}); run chmod 600 on it"),
        });
    }
    let mut text = String::new();
    file.take(4096)
        .read_to_string(&mut text)
        .map_err(io("read", path))?;
    Token::parse(&text, &from).map(Some)
}

/// Writes the token atomically: a scratch file created with mode 0600 (never
/// through a link), flushed, renamed over `path`, the folder flushed.
fn write_token_file(dir: &Path, path: &Path, token: &Token) -> Result<(), ServerError> {
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    let scratch = dir.join(format!("{TOKEN_FILE}.tmp"));
    match std::fs::remove_file(&scratch) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("remove", &scratch)(e)),
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&scratch)
        .map_err(io("create", &scratch))?;
    file.write_all(token.line().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io("write", &scratch))?;
    std::fs::rename(&scratch, path).map_err(io("rename", &scratch))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("flush", dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_with_and_without_a_name() {
        let t = Token::parse("ci:0123456789abcdef\n", "test").unwrap();
        assert_eq!((t.name(), t.secret()), ("ci", "0123456789abcdef"));
        let t = Token::parse("0123456789abcdef", "test").unwrap();
        assert_eq!(t.name(), DEFAULT_NAME);
        let e = Token::parse("short", "KAIZEN_TOKEN")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("KAIZEN_TOKEN") && e.contains("at least 16"),
            "{e}"
        );
        let e = Token::parse("a b:0123456789abcdef", "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("name"), "{e}");
    }

    #[test]
    fn matching_needs_the_whole_secret() {
        let t = Token::parse("0123456789abcdef", "t").unwrap();
        assert!(t.matches("0123456789abcdef"));
        assert!(!t.matches("0123456789abcde"));
        assert!(!t.matches("0123456789abcdeg"));
        assert!(!t.matches("0123456789abcdef0"));
        assert!(!t.matches(""));
    }

    #[test]
    fn a_generated_token_is_kept_with_mode_0600_and_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let (made, source) = load_or_generate(tmp.path(), None).unwrap();
        let path = tmp.path().join(".kaizen/token");
        assert_eq!(source, TokenSource::Generated(path.clone()));
        assert_eq!(made.secret().len(), 64);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (again, source) = load_or_generate(tmp.path(), None).unwrap();
        assert_eq!((again, source), (made, TokenSource::File(path.clone())));
        // The environment wins.
        let (env, source) =
            load_or_generate(tmp.path(), Some("ci:fedcba9876543210".into())).unwrap();
        assert_eq!((env.name(), source), ("ci", TokenSource::Env));
    }

    #[test]
    fn a_token_file_others_can_read_or_a_link_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        load_or_generate(tmp.path(), None).unwrap();
        let path = tmp.path().join(".kaizen/token");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_generate(tmp.path(), None).unwrap_err().to_string();
        assert!(e.contains("mode 644") && e.contains("chmod 600"), "{e}");
        std::fs::remove_file(&path).unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::write(&elsewhere, "x:0123456789abcdef").unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        let e = load_or_generate(tmp.path(), None).unwrap_err().to_string();
        assert!(e.contains("token"), "{e}");
    }
}
