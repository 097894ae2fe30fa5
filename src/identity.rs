//! A node's ed25519 identity and its key file.
//!
//! The key file holds the 32-byte ed25519 seed as one line, `grapevine-secret-v1:` followed by
//! base32, or locked with a passphrase (see `keylock`). It is created with mode 0600 and never
//! overwritten: a lost key is a lost diary.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ed25519_dalek::{Signer, SigningKey};
use thiserror::Error;
use zeroize::Zeroizing;

use crate::ids::{FeedId, decode_base32, encode_base32};
use crate::keylock::{self, LOCKED_PREFIX, UnlockError};

/// The environment variable a passphrase is taken from, for automation.
pub const PASSPHRASE_VAR: &str = "GRAPEVINE_PASSPHRASE";

const KEY_PREFIX: &str = "grapevine-secret-v1:";

#[derive(Debug, Error)]
pub enum IdentityError {
    #[error(
        "an identity already exists at {0}; refusing to overwrite it (a lost key is a lost diary). \
         Use another --home to create a second identity"
    )]
    AlreadyExists(PathBuf),
    #[error("no identity at {0}. Run `grapevine init` first, or pass the right --home")]
    Missing(PathBuf),
    #[error(
        "the key file {path} is damaged or not a grapevine key ({why}); restore it from your backup"
    )]
    Malformed { path: PathBuf, why: KeyTextError },
    #[error(
        "the key file {0} is not a regular file; restore secret.key from your backup \
         (a key is never read from a device, pipe or link to one)"
    )]
    NotAFile(PathBuf),
    #[error(
        "the key file {path} can be read by others (mode {mode:o}); anyone with it can write \
         as you. Run `chmod 600 {path}`, and consider the key exposed if others had access"
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error(
        "the key file {0} is locked with a passphrase. Run grapevine from a terminal to be \
         asked for it, or set {PASSPHRASE_VAR}"
    )]
    Locked(PathBuf),
    #[error("wrong passphrase for {0} (or the key file was altered); try again")]
    WrongPassphrase(PathBuf),
    #[error("a passphrase must not be empty")]
    EmptyPassphrase,
    #[error("could not access the key file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}

/// A key file is about 80 bytes; nothing longer is read.
pub const MAX_KEY_FILE: u64 = 1024;

/// What a key file holds (key-file.md).
pub enum KeyText<'a> {
    Plain(Zeroizing<[u8; 32]>),
    /// A passphrase-locked key: the line, trimmed, for [`keylock::unlock`].
    Locked(&'a str),
}

/// Why a key file's bytes are no key (key-file.md "Rules for readers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum KeyTextError {
    #[error("it is larger than the 1,024 bytes a key file can be")]
    TooLarge,
    #[error("it is not UTF-8 text")]
    NotText,
    #[error("it does not start with grapevine-secret-v1: or grapevine-secret-v1-argon2id:")]
    Prefix,
    #[error("its key is not base32 text")]
    Base32,
    #[error("its key has the wrong length")]
    Length,
}

/// Reads a key file's bytes: at most [`MAX_KEY_FILE`], one line with optional surrounding
/// ASCII white space (space, tab, line feed, form feed, carriage return), either prefix,
/// base32 in any case. A locked key's body is checked when it is unlocked.
pub fn parse_key_text(bytes: &[u8]) -> Result<KeyText<'_>, KeyTextError> {
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(KeyTextError::TooLarge);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| KeyTextError::NotText)?
        .trim_matches(|c: char| c.is_ascii_whitespace());
    if text.starts_with(LOCKED_PREFIX) {
        return Ok(KeyText::Locked(text));
    }
    let body = text.strip_prefix(KEY_PREFIX).ok_or(KeyTextError::Prefix)?;
    let bytes = Zeroizing::new(decode_base32(body).ok_or(KeyTextError::Base32)?);
    let seed: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeyTextError::Length)?;
    Ok(KeyText::Plain(Zeroizing::new(seed)))
}

pub struct Identity {
    signing: SigningKey,
}

impl Identity {
    /// A fresh identity from the operating system's random number generator.
    pub fn generate() -> Result<Self, IdentityError> {
        Self::generate_from(&crate::entropy::OsEntropy)
    }

    /// A fresh identity from `entropy` (the system's, or a simulation's seeded one).
    pub fn generate_from(entropy: &dyn crate::entropy::Entropy) -> Result<Self, IdentityError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        entropy.fill(seed.as_mut()).map_err(IdentityError::Random)?;
        Ok(Self::from_seed(&seed))
    }

    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            signing: SigningKey::from_bytes(seed),
        }
    }

    pub fn feed_id(&self) -> FeedId {
        FeedId(self.signing.verifying_key().to_bytes())
    }

    pub fn sign(&self, bytes: &[u8]) -> [u8; 64] {
        self.signing.sign(bytes).to_bytes()
    }

    /// The X25519 secret scalar bytes of this identity (the standard conversion), for the LAN
    /// handshake's Noise static key. Its public half is the X25519 form of the feed id.
    pub fn x25519_secret(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.signing.to_scalar_bytes())
    }

    /// The 32-byte ed25519 seed; handle with care.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.signing.to_bytes())
    }

    /// Reads the key file: a regular file, readable by its owner only (as ssh insists), of at
    /// most [`MAX_KEY_FILE`] bytes.
    pub fn load(path: &Path) -> Result<Self, IdentityError> {
        Self::load_with(path, Passphrase::Ask)
    }

    /// [`Identity::load`], with the passphrase of a locked key found as `how` says. A key
    /// unlocked once is open to the rest of the process: the store handles and threads that
    /// load it again need no passphrase.
    pub fn load_with(path: &Path, how: Passphrase) -> Result<Self, IdentityError> {
        use std::io::Read;
        use std::os::unix::fs::PermissionsExt;
        let io_error = |source: io::Error| match source.kind() {
            io::ErrorKind::NotFound => IdentityError::Missing(path.to_owned()),
            _ => IdentityError::Io {
                path: path.to_owned(),
                source,
            },
        };
        let meta = fs::metadata(path).map_err(io_error)?;
        if !meta.is_file() {
            return Err(IdentityError::NotAFile(path.to_owned()));
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(IdentityError::Exposed {
                path: path.to_owned(),
                mode,
            });
        }
        // One byte more than allowed tells a file that is too large from one that fits.
        let mut bytes = Zeroizing::new(Vec::new());
        fs::File::open(path)
            .map_err(io_error)?
            .take(MAX_KEY_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error)?;
        let malformed = |why| IdentityError::Malformed {
            path: path.to_owned(),
            why,
        };
        match parse_key_text(&bytes).map_err(malformed)? {
            KeyText::Plain(seed) => Ok(Self::from_seed(&seed)),
            KeyText::Locked(line) => Self::unlock(path, line, how),
        }
    }

    /// Opens a locked key with the passphrase from [`passphrase`]. Unlocked seeds are kept for
    /// the life of the process, so that its many store handles pay for Argon2 once.
    fn unlock(path: &Path, line: &str, how: Passphrase) -> Result<Self, IdentityError> {
        static UNLOCKED: Mutex<Vec<(String, Zeroizing<[u8; 32]>)>> = Mutex::new(Vec::new());
        let mut unlocked = UNLOCKED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, seed)) = unlocked.iter().find(|(l, _)| l == line) {
            return Ok(Self::from_seed(seed));
        }
        let phrase = match how {
            Passphrase::Given("") => return Err(IdentityError::EmptyPassphrase),
            Passphrase::Given(given) => Zeroizing::new(given.to_owned()),
            Passphrase::FromEnvironment => std::env::var(PASSPHRASE_VAR)
                .ok()
                .filter(|v| !v.is_empty())
                .map(Zeroizing::new)
                .ok_or_else(|| IdentityError::Locked(path.to_owned()))?,
            Passphrase::Ask => passphrase(&format!("passphrase for {}: ", path.display()))
                .map_err(|e| match e {
                    IdentityError::EmptyPassphrase => IdentityError::Locked(path.to_owned()),
                    other => other,
                })?
                .ok_or_else(|| IdentityError::Locked(path.to_owned()))?,
        };
        let seed = keylock::unlock(line, phrase.as_bytes()).map_err(|e| match e {
            UnlockError::Wrong => IdentityError::WrongPassphrase(path.to_owned()),
            UnlockError::Malformed => IdentityError::Malformed {
                path: path.to_owned(),
                why: KeyTextError::Length,
            },
        })?;
        let identity = Self::from_seed(&seed);
        unlocked.push((line.to_owned(), seed));
        Ok(identity)
    }

    /// Writes the key file with mode 0600; fails if one already exists.
    pub fn save_new(&self, path: &Path) -> Result<(), IdentityError> {
        let line = Zeroizing::new(format!(
            "{KEY_PREFIX}{}\n",
            encode_base32(self.seed().as_ref())
        ));
        write_key_file(path, &line)
    }

    /// Writes the key file locked with `passphrase` (Argon2id, ChaCha20-Poly1305).
    pub fn save_new_locked(&self, path: &Path, passphrase: &str) -> Result<(), IdentityError> {
        if passphrase.is_empty() {
            return Err(IdentityError::EmptyPassphrase);
        }
        let mut random = [0u8; 28];
        getrandom::fill(&mut random).map_err(|e| IdentityError::Random(e.to_string()))?;
        let line = keylock::lock(
            &self.seed(),
            passphrase.as_bytes(),
            keylock::DEFAULT_COST,
            random,
        )
        .map_err(|_| IdentityError::Random("could not derive a key from the passphrase".into()))?;
        write_key_file(path, &format!("{line}\n"))
    }
}

/// Where the passphrase of a locked key comes from.
#[derive(Clone, Copy, Debug)]
pub enum Passphrase<'a> {
    /// [`PASSPHRASE_VAR`], else asked on the terminal (see [`passphrase`]).
    Ask,
    /// [`PASSPHRASE_VAR`] only: never a prompt (the window asks in its page instead).
    FromEnvironment,
    /// This one.
    Given(&'a str),
}

/// The passphrase from [`PASSPHRASE_VAR`], else asked on the terminal; `None` when neither is
/// available (no variable, not a terminal).
pub fn passphrase(prompt: &str) -> Result<Option<Zeroizing<String>>, IdentityError> {
    use std::io::IsTerminal;
    if let Some(value) = std::env::var_os(PASSPHRASE_VAR) {
        let value = Zeroizing::new(value.to_string_lossy().into_owned());
        if value.is_empty() {
            return Err(IdentityError::EmptyPassphrase);
        }
        return Ok(Some(value));
    }
    if !io::stdin().is_terminal() {
        return Ok(None);
    }
    let typed =
        Zeroizing::new(
            rpassword::prompt_password(prompt).map_err(|source| IdentityError::Io {
                path: PathBuf::from("/dev/tty"),
                source,
            })?,
        );
    if typed.is_empty() {
        return Err(IdentityError::EmptyPassphrase);
    }
    Ok(Some(typed))
}

/// Writes a new key file with mode 0600; fails if one already exists.
///
/// Written to a temporary name, synced, then hard-linked into place: `link` fails when the
/// target exists, so two concurrent `init`s cannot both win, and no reader ever sees half a key.
fn write_key_file(path: &Path, line: &str) -> Result<(), IdentityError> {
    let io_error = |source| IdentityError::Io {
        path: path.to_owned(),
        source,
    };
    let temp = path.with_extension(format!("tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(line.as_bytes())?;
        file.sync_all()?;
        fs::hard_link(&temp, path)
    })();
    let _ = fs::remove_file(&temp);
    match result {
        Ok(()) => crate::fsutil::sync_parent(path).map_err(io_error),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            Err(IdentityError::AlreadyExists(path.to_owned()))
        }
        Err(e) => Err(io_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn key_file_is_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let id = Identity::from_seed(&[1; 32]);
        id.save_new(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = Identity::load(&path).unwrap();
        assert_eq!(loaded.feed_id(), id.feed_id());
        let other = Identity::from_seed(&[2; 32]);
        assert!(matches!(
            other.save_new(&path),
            Err(IdentityError::AlreadyExists(_))
        ));
        assert_eq!(Identity::load(&path).unwrap().feed_id(), id.feed_id());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left behind"
        );
    }

    #[test]
    fn damaged_key_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        fs::write(&path, "grapevine-secret-v1:abc\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            Identity::load(&path),
            Err(IdentityError::Malformed {
                why: KeyTextError::Base32,
                ..
            })
        ));
    }

    /// A key file one byte over 1 KiB is refused whole, though its first KiB is a good key.
    #[test]
    fn an_oversized_key_file_is_refused_not_cut() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let line = format!("grapevine-secret-v1:{}\n", encode_base32(&[7; 32]));
        for (size, fits) in [(1024, true), (1025, false)] {
            fs::write(&path, format!("{line}{}", " ".repeat(size - line.len()))).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
            match Identity::load(&path) {
                Ok(identity) => assert!(fits && identity.seed()[..] == [7; 32], "{size}"),
                Err(IdentityError::Malformed { why, .. }) => {
                    assert!(!fits && why == KeyTextError::TooLarge, "{size}: {why}")
                }
                Err(e) => panic!("{size}: {e}"),
            }
        }
    }

    /// key-file.md: at most 1 KiB, ASCII white space around one line, base32 in any case;
    /// each refusal says what was wrong.
    #[test]
    fn key_text_rules() {
        let line = format!("grapevine-secret-v1:{}", encode_base32(&[7; 32]));
        let seed = |text: &[u8]| match parse_key_text(text) {
            Ok(KeyText::Plain(seed)) => Ok(*seed),
            Ok(KeyText::Locked(_)) => panic!("not locked"),
            Err(e) => Err(e),
        };
        assert_eq!(seed(line.as_bytes()), Ok([7; 32]));
        let spaced = format!(
            " \t\x0c{}\r\n",
            line.to_uppercase()
                .replace("GRAPEVINE-SECRET-V1", "grapevine-secret-v1")
        );
        assert_eq!(seed(spaced.as_bytes()), Ok([7; 32]));
        let padded = format!("{line}{}", " ".repeat(1024 - line.len()));
        assert_eq!(seed(padded.as_bytes()), Ok([7; 32]));
        assert_eq!(
            seed(format!("{padded} ").as_bytes()),
            Err(KeyTextError::TooLarge)
        );
        assert_eq!(
            seed(format!("\u{a0}{line}").as_bytes()),
            Err(KeyTextError::Prefix)
        );
        assert_eq!(seed(b"\xff"), Err(KeyTextError::NotText));
        assert_eq!(seed(b"grapevine-secret-v2:aa"), Err(KeyTextError::Prefix));
        assert_eq!(seed(b"grapevine-secret-v1:a!"), Err(KeyTextError::Base32));
        assert_eq!(
            seed(b"grapevine-secret-v1:aaaaaaaa"),
            Err(KeyTextError::Length)
        );
        assert!(matches!(
            parse_key_text(b"grapevine-secret-v1-argon2id:x\n"),
            Ok(KeyText::Locked("grapevine-secret-v1-argon2id:x"))
        ));
    }
}
