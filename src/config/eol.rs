//! The admin's value file, `/etc/eole/config.eol`: reading, editing and saving it safely.
//!
//! # What the file holds
//!
//! EOLE 2.4 and later store one JSON object: each key is a variable name and each value an
//! object `{"val": …, "owner": …}`. Only values that differ from the dictionary default are
//! stored. The shape of `val` depends on the kind of variable:
//!
//! * simple variable: a scalar (a string; an integer for `number`; `null` for "unset");
//! * multi or master variable: a list, with one owner string;
//! * slave variable: an object keyed by index (`"0"`, `"1"`, …, possibly sparse), with an
//!   owner object keyed the same way (old files: a plain list, and an owner string).
//!
//! A special key, `___version___`, holds the EOLE version that wrote the file.
//!
//! # Why entries are kept raw
//!
//! [`EolFile`] keeps every entry as the raw [`serde_json::Value`] it read, in file order, and
//! only interprets an entry when asked ([`EolFile::get`], [`EolFile::get_slave`]). So:
//!
//! * a load/save round trip with no change keeps every key, value type (an integer stays an
//!   integer, `null` stays `null`), owner and position — including keys that no dictionary
//!   declares any more (a package was removed; reinstalling it must find its values again);
//! * one malformed entry does not make the whole file unreadable: the error names that entry,
//!   and the admin can still read, fix or remove everything else.
//!
//! Whether a variable is simple, multi or slave is known only from the dictionaries, which
//! this module does not read: the caller picks [`EolFile::get`] or [`EolFile::get_slave`].
//!
//! # Writing safely
//!
//! Other EOLE tools (`CreoleSet`, `gen_config`, Zéphir) write the same file. A writer must:
//!
//! 1. take the lock: [`EolLock::acquire`] (an exclusive `flock` on `config.eol.lock`);
//! 2. **then** load the file, so that it edits the latest content;
//! 3. change it and [`EolFile::save`] it with that lock, which replaces the file atomically
//!    and keeps the previous content in `config.eol.bak`;
//! 4. drop the lock.
//!
//! # EOLE 2.3 (INI form)
//!
//! EOLE 2.3 stored `[variable]` sections with `val = ['…']` Python list literals. Reading that
//! form is a migration feature: every section becomes an entry owned by `upgrade`, and saving
//! writes JSON. See [`EolFile::is_legacy_ini`]; the reading is in `config/ini.rs`, its list
//! literals go through the one Python-literal parser, [`super::pylit`].
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde_json::{Map, Value};

use super::ini;
use crate::atomic::Staged;

/// The key under which EOLE records the version that wrote the file. It is not a variable.
pub const VERSION_KEY: &str = "___version___";

/// The owner given to every value migrated from an EOLE 2.3 INI file, as EOLE's own upgrade
/// tools do.
pub const LEGACY_OWNER: &str = "upgrade";

/// Mode of `config.eol`, its backup and its lock file: the file holds passwords and secrets
/// (`omapi_secret`, `bareos_dir_password`, …), so only root may read it.
const FILE_MODE: u32 = 0o600;

/// Everything that can go wrong while reading or writing `config.eol`.
///
/// Every message names the file, and where it applies the line and column or the entry, so
/// that an admin can fix the file without reading code. I/O errors carry the OS error in the
/// message itself (and not as [`std::error::Error::source`], so that error-chain printers do
/// not repeat it).
#[derive(thiserror::Error, Debug)]
pub enum EolError {
    /// A file operation failed. `op` says what was being done ("read", "replace", …).
    #[error("cannot {op} {}: {error}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        error: io::Error,
    },

    /// The file is not UTF-8 text (an editor saved it in Latin-1, or it is not a text file).
    #[error(
        "{}: not valid UTF-8 text at byte offset {offset}; config.eol must be saved as UTF-8 \
         (was it saved as Latin-1 by an editor?)",
        .path.display()
    )]
    NotUtf8 { path: PathBuf, offset: usize },

    /// The file exists but holds nothing (or only blanks). This is refused rather than read as
    /// "no values": an empty config.eol is most often a write cut short by a crash or a full
    /// disk, and silently running with every default could break the server.
    #[error(
        "{}: the file is empty (it may have been cut short by a crash or a full disk); \
         restore it from {}.bak, or delete it to start again from the defaults",
        .path.display(), .path.display()
    )]
    Empty { path: PathBuf },

    /// JSON syntax error. `line` and `column` start at 1; `column` counts characters.
    #[error("{}: JSON syntax error at line {line}, column {column}: {message}", .path.display())]
    JsonSyntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// Valid JSON whose top level is not an object.
    #[error(
        "{}: expected one JSON object ({{\"variable\": {{\"val\": …, \"owner\": …}}, …}}), \
         found {found}",
        .path.display()
    )]
    NotAnObject { path: PathBuf, found: String },

    /// The first character is neither `{` (JSON) nor `[` (EOLE 2.3 INI).
    #[error(
        "{}: line {line}, column {column}: expected '{{' (JSON, EOLE 2.4 and later) or '[' \
         (INI, EOLE 2.3) at the start of the file, found {found:?}",
        .path.display()
    )]
    UnknownFormat {
        path: PathBuf,
        line: usize,
        column: usize,
        found: char,
    },

    /// Syntax error in an EOLE 2.3 INI file. `line` and `column` start at 1.
    #[error(
        "{}: EOLE 2.3 (INI) syntax error at line {line}, column {column}: {message}",
        .path.display()
    )]
    IniSyntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// An entry lacks `val` or `owner`.
    #[error("{}: entry '{key}' has no '{field}' field", .path.display())]
    MissingField {
        path: PathBuf,
        key: String,
        field: &'static str,
    },

    /// An entry (or the version) does not have the expected shape.
    #[error("{}: entry '{key}': expected {expected}, found {found}", .path.display())]
    Malformed {
        path: PathBuf,
        key: String,
        expected: String,
        found: String,
    },

    /// [`EolLock::acquire`] with `wait = false` found the lock taken.
    #[error(
        "config.eol is being written by another process (lock held on {}); \
         try again when it has finished",
        .lock_path.display()
    )]
    Busy { lock_path: PathBuf },

    /// [`EolFile::save`] was given the lock of another file: a bug in the caller.
    #[error(
        "internal error: {} cannot be saved while holding the lock of {}",
        .path.display(), .lock_for.display()
    )]
    WrongLock { path: PathBuf, lock_for: PathBuf },

    /// The path cannot name a config file (it has no file name, such as `/` or `..`).
    #[error("{}: {reason}", .path.display())]
    InvalidPath { path: PathBuf, reason: &'static str },
}

/// Typed view of one entry. Values stay [`serde_json::Value`]s: checking them against the
/// variable's type is the dictionaries' job.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// A simple variable: `{"val": scalar, "owner": "…"}`.
    Single { val: Value, owner: String },
    /// A multi or master variable: `{"val": [...], "owner": "…"}`.
    Multi { val: Vec<Value>, owner: String },
    /// A slave variable: one value and one owner per index of its master. Indexes may be
    /// sparse (only the values that differ from the default are stored).
    Slave {
        val: BTreeMap<usize, Value>,
        owner: BTreeMap<usize, String>,
    },
}

impl Stored {
    /// The `val` and `owner` JSON values, as EOLE writes them (a slave in object form).
    fn into_parts(self) -> (Value, Value) {
        match self {
            Stored::Single { val, owner } => (val, Value::String(owner)),
            Stored::Multi { val, owner } => (Value::Array(val), Value::String(owner)),
            Stored::Slave { val, owner } => {
                let val = val.into_iter().map(|(i, v)| (i.to_string(), v)).collect();
                let owner = owner
                    .into_iter()
                    .map(|(i, o)| (i.to_string(), Value::String(o)))
                    .collect();
                (Value::Object(val), Value::Object(owner))
            }
        }
    }

    /// The JSON form of this entry, `{"val": …, "owner": …}`.
    pub fn to_value(&self) -> Value {
        let (val, owner) = self.clone().into_parts();
        entry_object(val, owner)
    }
}

/// Builds a new entry object. `val` comes first, as in the EOLE documentation and in the files
/// written by EOLE 2.7 and later.
pub(super) fn entry_object(val: Value, owner: Value) -> Value {
    let mut obj = Map::new();
    obj.insert("val".to_owned(), val);
    obj.insert("owner".to_owned(), owner);
    Value::Object(obj)
}

/// The content of one `config.eol` (or of an extra namespace's `config.eol`).
#[derive(Debug, Clone, PartialEq)]
pub struct EolFile {
    /// Where the file was (or will be) read from and saved to; also named in every message.
    path: PathBuf,
    /// Every top-level key in file order, with its raw value, `___version___` included.
    entries: IndexMap<String, Value>,
    /// True when the content was read from the EOLE 2.3 INI form.
    legacy_ini: bool,
}

impl EolFile {
    /// A config with no values, to be saved at `path`.
    pub fn empty(path: &Path) -> Self {
        EolFile {
            path: path.to_path_buf(),
            entries: IndexMap::new(),
            legacy_ini: false,
        }
    }

    /// Reads `path`. A missing file is an empty config: that is the state of a server that has
    /// never been configured, not an error.
    pub fn load(path: &Path) -> Result<Self, EolError> {
        match fs::read(path) {
            Ok(bytes) => Self::parse(&bytes, path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Self::empty(path)),
            Err(error) => Err(EolError::Io {
                op: "read",
                path: path.to_path_buf(),
                error,
            }),
        }
    }

    /// Parses the bytes of a config file; `path` is only used in messages and by
    /// [`EolFile::save`].
    ///
    /// The form is chosen by the first non-blank character: `{` is JSON, `[` (or a `#`/`;`
    /// comment) is the EOLE 2.3 INI form. A leading UTF-8 byte-order mark, which some editors
    /// add, is skipped. Entries are not checked here (see [`EolFile::problems`]), so that one
    /// bad entry does not hide all the others.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, EolError> {
        let text = std::str::from_utf8(bytes).map_err(|e| EolError::NotUtf8 {
            path: path.to_path_buf(),
            offset: e.valid_up_to(),
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let rest = text.trim_start_matches(is_json_blank);
        let first = match rest.chars().next() {
            None => {
                return Err(EolError::Empty {
                    path: path.to_path_buf(),
                });
            }
            Some(c) => c,
        };
        let (entries, legacy_ini) = match first {
            '{' => (parse_json(text, path)?, false),
            '[' | '#' | ';' => {
                // A JSON list also starts with '['; say "not an object" rather than give a
                // confusing INI error.
                if let Ok(v) = serde_json::from_str::<Value>(text) {
                    return Err(not_an_object(&v, path));
                }
                (ini::parse_ini(text, path)?, true)
            }
            other => {
                if let Ok(v) = serde_json::from_str::<Value>(text) {
                    return Err(not_an_object(&v, path));
                }
                let (line, column) = line_col(text, text.len() - rest.len());
                return Err(EolError::UnknownFormat {
                    path: path.to_path_buf(),
                    line,
                    column,
                    found: other,
                });
            }
        };
        Ok(EolFile {
            path: path.to_path_buf(),
            entries,
            legacy_ini,
        })
    }

    /// The path this config is read from and saved to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every raw entry in file order, `___version___` included.
    pub fn entries(&self) -> &IndexMap<String, Value> {
        &self.entries
    }

    /// True when the content was read from the EOLE 2.3 INI form. Saving writes JSON, which
    /// completes the migration.
    ///
    /// INI files do not say whether a variable is multi: a one-element list was read as
    /// [`Stored::Single`] and any other list (empty included) as [`Stored::Multi`]. A caller
    /// that knows from the dictionaries that a variable is multi should read a `Single` value
    /// `v` as `[v]`, and a simple variable stored as an empty `Multi` as unset. Slaves are
    /// plain lists, which [`EolFile::get_slave`] reads.
    pub fn is_legacy_ini(&self) -> bool {
        self.legacy_ini
    }

    /// The EOLE version that wrote the file (`___version___`), if it is present and a string.
    pub fn version(&self) -> Option<&str> {
        self.entries.get(VERSION_KEY).and_then(Value::as_str)
    }

    /// Sets `___version___`, in place if present, else at the end.
    pub fn set_version(&mut self, v: &str) {
        self.entries
            .insert(VERSION_KEY.to_owned(), Value::String(v.to_owned()));
    }

    /// The stored variable names in file order, without `___version___`.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries
            .keys()
            .map(String::as_str)
            .filter(|k| *k != VERSION_KEY)
    }

    /// The raw JSON value stored under `name` (`___version___` included).
    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.entries.get(name)
    }

    /// Reads the entry `name` as a simple ([`Stored::Single`]) or multi ([`Stored::Multi`])
    /// variable, depending on whether `val` is a list.
    ///
    /// `None` if nothing is stored (the variable has its default) or if `name` is
    /// `___version___`, which is not a variable. An entry whose `val` is keyed by index is a
    /// slave: it is an error here, read it with [`EolFile::get_slave`].
    pub fn get(&self, name: &str) -> Option<Result<Stored, EolError>> {
        if name == VERSION_KEY {
            return None;
        }
        let raw = self.entries.get(name)?;
        Some(self.interpret_plain(name, raw))
    }

    /// Reads the entry `name` as a slave variable ([`Stored::Slave`]).
    ///
    /// Both forms are read: `{"val": {"0": v0, "3": v3}, "owner": {"0": o0, "3": o3}}` (sparse
    /// indexes allowed) and the older `{"val": [v0, v1], "owner": "o"}`. An owner string
    /// applies to every index. `None` as for [`EolFile::get`].
    pub fn get_slave(&self, name: &str) -> Option<Result<Stored, EolError>> {
        if name == VERSION_KEY {
            return None;
        }
        let raw = self.entries.get(name)?;
        Some(self.interpret_slave(name, raw))
    }

    /// Stores `stored` under `name`: in place if the entry exists (keeping its position, its
    /// field order and any unknown field), else at the end.
    ///
    /// Slaves are always written in the object form. Use [`EolFile::set_version`] for
    /// `___version___`.
    pub fn put(&mut self, name: &str, stored: Stored) {
        let (val, owner) = stored.into_parts();
        match self.entries.get_mut(name) {
            Some(Value::Object(obj)) => {
                obj.insert("val".to_owned(), val);
                obj.insert("owner".to_owned(), owner);
            }
            Some(other) => *other = entry_object(val, owner),
            None => {
                self.entries
                    .insert(name.to_owned(), entry_object(val, owner));
            }
        }
    }

    /// Removes the entry `name` (the variable goes back to its default), keeping the order of
    /// the others. Returns whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        self.entries.shift_remove(name).is_some()
    }

    /// Checks the shape of every entry without the dictionaries (an entry whose `val` is keyed
    /// by index is checked as a slave, any other as a simple or multi variable) and the
    /// version. Returns every problem found, in file order; an empty list means the file is
    /// structurally sound.
    pub fn problems(&self) -> Vec<EolError> {
        let mut found = Vec::new();
        for (key, raw) in &self.entries {
            if key == VERSION_KEY {
                if !raw.is_string() {
                    found.push(self.malformed(
                        key,
                        "the EOLE version as a string, such as \"2.8.1\"",
                        describe(raw),
                    ));
                }
                continue;
            }
            let slave_form = raw.get("val").is_some_and(|v| {
                v.is_object() || (v.is_array() && raw.get("owner").is_some_and(Value::is_object))
            });
            let result = if slave_form {
                self.interpret_slave(key, raw)
            } else {
                self.interpret_plain(key, raw)
            };
            if let Err(e) = result {
                found.push(e);
            }
        }
        found
    }

    /// The file content: one JSON object, one entry per line with four spaces of indent, each
    /// entry compact, in the current order, UTF-8 (not `\u` escapes), with a final newline.
    ///
    /// This is the layout EOLE's own writer uses (`"key":{"owner":…,"val":…}`), so that
    /// `diff config.eol.bak config.eol` shows one line per changed variable.
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.entries.is_empty() {
            return b"{}\n".to_vec();
        }
        let mut out = String::with_capacity(64 * self.entries.len());
        out.push_str("{\n");
        let last = self.entries.len() - 1;
        for (i, (key, value)) in self.entries.iter().enumerate() {
            // serde_json's Display of a Value is compact JSON and cannot fail; writing to a
            // String cannot fail either, hence the ignored fmt::Result.
            let _ = write!(out, "    {}:{}", Value::String(key.clone()), value);
            if i != last {
                out.push(',');
            }
            out.push('\n');
        }
        out.push_str("}\n");
        out.into_bytes()
    }

    /// Writes the config to its path, atomically, while holding `lock` (see the module docs).
    ///
    /// Steps: create the parent folder if missing; if the file on disk already holds exactly
    /// these bytes, stop there; write a temporary file in the same folder, flush it to disk,
    /// set mode 0600; copy the current file, if any, to `<path>.bak` (mode 0600, also through
    /// a temporary file and a rename); rename the temporary file over the target; flush the
    /// folder to disk so that the rename survives a power cut.
    ///
    /// If any step fails, the target file is untouched and the temporary files are removed.
    /// The new file takes the owner and group of the file it replaces when the process may set
    /// them (best effort); its mode is always 0600. A symbolic link at the path is replaced by
    /// a regular file (the rename is what makes the write atomic).
    pub fn save(&self, lock: &EolLock) -> Result<(), EolError> {
        if !same_target(&self.path, &lock.target) {
            return Err(EolError::WrongLock {
                path: self.path.clone(),
                lock_for: lock.target.clone(),
            });
        }
        self.path.file_name().ok_or_else(|| EolError::InvalidPath {
            path: self.path.clone(),
            reason: "this path has no file name, it cannot be saved",
        })?;
        let dir = parent_dir(&self.path);
        crate::folders::create_dir_all(dir, crate::folders::PUBLIC).map_err(|error| {
            EolError::Io {
                op: "create the folder",
                path: dir.to_path_buf(),
                error,
            }
        })?;

        let new = self.to_bytes();
        let (current, current_meta) = match fs::read(&self.path) {
            Ok(bytes) => (Some(bytes), fs::metadata(&self.path).ok()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => (None, None),
            Err(error) => {
                return Err(EolError::Io {
                    op: "read",
                    path: self.path.clone(),
                    error,
                });
            }
        };
        if current.as_deref() == Some(new.as_slice()) {
            return Ok(());
        }

        let tmp = write_temp(&self.path, &new, current_meta.as_ref())?;
        if let Some(old) = &current {
            let bak_path = with_suffix(&self.path, ".bak");
            let bak = write_temp(&bak_path, old, current_meta.as_ref())?;
            fail_point("backup")
                .and_then(|()| bak.persist(&bak_path))
                .map_err(|error| rename_error(&bak_path, error))?;
        }
        fail_point("replace")
            .and_then(|()| tmp.persist(&self.path))
            .map_err(|error| rename_error(&self.path, error))?;
        crate::atomic::sync_folder(dir).map_err(|error| EolError::Io {
            op: "flush to disk the folder",
            path: dir.to_path_buf(),
            error,
        })
    }

    /// Interprets an entry as a simple or multi variable.
    fn interpret_plain(&self, key: &str, raw: &Value) -> Result<Stored, EolError> {
        let (val, owner) = self.val_and_owner(key, raw)?;
        match val {
            Value::Object(_) => Err(self.malformed(
                key,
                "a single value or a list of values",
                "values keyed by index, as stored for a slave variable \
                 (it must be read as a slave)"
                    .to_owned(),
            )),
            Value::Array(items) => Ok(Stored::Multi {
                val: items.clone(),
                owner: self.owner_string(key, owner, None)?,
            }),
            scalar => Ok(Stored::Single {
                val: scalar.clone(),
                owner: self.owner_string(key, owner, None)?,
            }),
        }
    }

    /// Interprets an entry as a slave variable (object or list form).
    fn interpret_slave(&self, key: &str, raw: &Value) -> Result<Stored, EolError> {
        let (val, owner) = self.val_and_owner(key, raw)?;
        let mut vals = BTreeMap::new();
        match val {
            Value::Object(map) => {
                for (k, v) in map {
                    vals.insert(self.index(key, k)?, v.clone());
                }
            }
            Value::Array(items) => vals.extend(items.iter().cloned().enumerate()),
            other => {
                return Err(self.malformed(
                    key,
                    "values keyed by index (an object such as {\"0\": …, \"1\": …}, or a list)",
                    describe(other),
                ));
            }
        }
        let mut owners = BTreeMap::new();
        match owner {
            Value::String(s) => owners.extend(vals.keys().map(|i| (*i, s.clone()))),
            Value::Object(map) => {
                for (k, o) in map {
                    let i = self.index(key, k)?;
                    owners.insert(i, self.owner_string(key, o, Some(i))?);
                }
            }
            Value::Array(items) => {
                for (i, o) in items.iter().enumerate() {
                    owners.insert(i, self.owner_string(key, o, Some(i))?);
                }
            }
            other => {
                return Err(self.malformed(
                    key,
                    "an owner string or owners keyed by index",
                    describe(other),
                ));
            }
        }
        Ok(Stored::Slave {
            val: vals,
            owner: owners,
        })
    }

    /// The `val` and `owner` fields of an entry, or why they cannot be found.
    fn val_and_owner<'a>(
        &self,
        key: &str,
        raw: &'a Value,
    ) -> Result<(&'a Value, &'a Value), EolError> {
        let obj = raw.as_object().ok_or_else(|| {
            self.malformed(key, "an object with 'val' and 'owner'", describe(raw))
        })?;
        let field = |field: &'static str| {
            obj.get(field).ok_or_else(|| EolError::MissingField {
                path: self.path.clone(),
                key: key.to_owned(),
                field,
            })
        };
        Ok((field("val")?, field("owner")?))
    }

    /// An owner, which must be a string. `index` is set for a slave's per-index owner.
    fn owner_string(
        &self,
        key: &str,
        owner: &Value,
        index: Option<usize>,
    ) -> Result<String, EolError> {
        match owner {
            Value::String(s) => Ok(s.clone()),
            other => {
                let expected = match index {
                    None => "the owner as a string, such as \"user\"".to_owned(),
                    Some(i) => format!("the owner of index {i} as a string, such as \"user\""),
                };
                Err(self.malformed(key, &expected, describe(other)))
            }
        }
    }

    /// A slave index key: a whole number written as EOLE writes it (`"0"`, `"12"`; no sign,
    /// no leading zero, so that `"1"` and `"01"` cannot both claim index 1).
    fn index(&self, key: &str, k: &str) -> Result<usize, EolError> {
        let canonical = !k.is_empty()
            && k.bytes().all(|b| b.is_ascii_digit())
            && (k == "0" || !k.starts_with('0'));
        match k.parse::<usize>() {
            Ok(i) if canonical => Ok(i),
            _ => Err(self.malformed(
                key,
                "index keys \"0\", \"1\", \"2\", …",
                format!("the key {k:?}"),
            )),
        }
    }

    fn malformed(&self, key: &str, expected: &str, found: String) -> EolError {
        EolError::Malformed {
            path: self.path.clone(),
            key: key.to_owned(),
            expected: expected.to_owned(),
            found,
        }
    }
}

/// An exclusive lock on a config file, held until dropped.
///
/// It is a `flock` on the sibling file `<path>.lock` (created with mode 0600 if missing), not
/// on `config.eol` itself: [`EolFile::save`] replaces `config.eol` by a rename, and a lock
/// held on the replaced file would no longer protect the new one. The lock file is never
/// deleted, for the same reason.
///
/// `flock` locks belong to an open file description, so two `EolLock`s in one process
/// exclude each other as two processes do; the descriptor is close-on-exec, so hooks and
/// services started while it is held do not inherit it.
pub struct EolLock {
    target: PathBuf,
    lock_path: PathBuf,
    _flock: Flock<File>,
}

impl std::fmt::Debug for EolLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EolLock")
            .field("target", &self.target)
            .field("lock_path", &self.lock_path)
            .finish_non_exhaustive()
    }
}

impl EolLock {
    /// Locks the config file `path` (the lock itself is on `<path>.lock`). With `wait`, blocks
    /// until the lock is free; without, fails at once with [`EolError::Busy`] if it is taken.
    /// The parent folder is created if missing, as [`EolFile::save`] would.
    pub fn acquire(path: &Path, wait: bool) -> Result<EolLock, EolError> {
        let lock_path = with_suffix(path, ".lock");
        let dir = parent_dir(path);
        crate::folders::create_dir_all(dir, crate::folders::PUBLIC).map_err(|error| {
            EolError::Io {
                op: "create the folder",
                path: dir.to_path_buf(),
                error,
            }
        })?;
        let mut file = crate::folders::open_lock(&lock_path).map_err(|error| EolError::Io {
            op: "open the lock file",
            path: lock_path.clone(),
            error,
        })?;
        let arg = if wait {
            FlockArg::LockExclusive
        } else {
            FlockArg::LockExclusiveNonblock
        };
        loop {
            match Flock::lock(file, arg) {
                Ok(flock) => {
                    return Ok(EolLock {
                        target: path.to_path_buf(),
                        lock_path,
                        _flock: flock,
                    });
                }
                // A signal interrupted a blocking wait: wait again.
                Err((f, Errno::EINTR)) => file = f,
                Err((_, errno)) if errno == Errno::EWOULDBLOCK && !wait => {
                    return Err(EolError::Busy { lock_path });
                }
                Err((_, errno)) => {
                    return Err(EolError::Io {
                        op: "lock",
                        path: lock_path,
                        error: io::Error::from_raw_os_error(errno as i32),
                    });
                }
            }
        }
    }

    /// The config file this lock protects.
    pub fn path(&self) -> &Path {
        &self.target
    }

    /// The lock file (`<path>.lock`).
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }
}

// ---------------------------------------------------------------------------------------------
// Saving helpers
// ---------------------------------------------------------------------------------------------

/// Writes `bytes` to a new hidden temporary file beside `target` ([`Staged`]), mode 0600,
/// flushed to disk. The file is removed if this fails or if the returned handle is dropped
/// unpersisted.
fn write_temp(
    target: &Path,
    bytes: &[u8],
    like: Option<&fs::Metadata>,
) -> Result<Staged, EolError> {
    let dir = parent_dir(target);
    let mut tmp = Staged::beside(target, FILE_MODE).map_err(|error| EolError::Io {
        op: "create a temporary file in",
        path: dir.to_path_buf(),
        error,
    })?;
    let io_err = |op: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |error| EolError::Io { op, path, error }
    };
    let tmp_path = tmp.path().to_path_buf();
    fail_point("write")
        .and_then(|()| tmp.write_all(bytes))
        .map_err(io_err("write", &tmp_path))?;
    if let Some(meta) = like {
        // Keep the replaced file's owner and group. Best effort: only root may give a file
        // away, and a file we cannot chown is still a correct file.
        let _ = std::os::unix::fs::fchown(tmp.file(), Some(meta.uid()), Some(meta.gid()));
    }
    fail_point("sync")
        .and_then(|()| tmp.sync())
        .map_err(io_err("flush to disk", &tmp_path))?;
    Ok(tmp)
}

fn rename_error(target: &Path, error: io::Error) -> EolError {
    EolError::Io {
        op: "replace",
        path: target.to_path_buf(),
        error,
    }
}

/// The folder holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `path` with `suffix` appended to its file name: `config.eol` → `config.eol.bak`.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Whether two paths name the same config file, even when spelled differently
/// (`./config.eol` and `/etc/eole/config.eol`). The file itself may not exist yet, so the
/// folders are compared, not the files.
fn same_target(a: &Path, b: &Path) -> bool {
    fn resolved(p: &Path) -> Option<PathBuf> {
        let name = p.file_name()?;
        Some(fs::canonicalize(parent_dir(p)).ok()?.join(name))
    }
    a == b || matches!((resolved(a), resolved(b)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
thread_local! {
    /// Test hook: the save step that must fail ("write", "sync", "backup", "replace").
    static FAIL_AT: std::cell::Cell<Option<&'static str>> = const { std::cell::Cell::new(None) };
}

/// Fails with an injected error when a test asked for it at `step`; a no-op otherwise.
#[cfg(test)]
fn fail_point(step: &'static str) -> io::Result<()> {
    if FAIL_AT.with(|f| f.get()) == Some(step) {
        return Err(io::Error::other(format!("injected failure at {step}")));
    }
    Ok(())
}

#[cfg(not(test))]
#[inline(always)]
fn fail_point(_step: &'static str) -> io::Result<()> {
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Parsing helpers
// ---------------------------------------------------------------------------------------------

/// The four blank characters of JSON (RFC 8259), which also separate INI lines.
fn is_json_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// A short description of a JSON value, for "found …" in messages.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => {
            let mut short: String = s.chars().take(40).collect();
            if short.len() < s.len() {
                short.push('…');
            }
            format!("a string ({short:?})")
        }
        Value::Array(a) if a.is_empty() => "an empty list".to_owned(),
        Value::Array(a) => format!("a list of {} item(s)", a.len()),
        Value::Object(_) => "an object".to_owned(),
    }
}

fn not_an_object(v: &Value, path: &Path) -> EolError {
    EolError::NotAnObject {
        path: path.to_path_buf(),
        found: describe(v),
    }
}

/// Parses the JSON form; the text is known to start with `{` after blanks.
fn parse_json(text: &str, path: &Path) -> Result<IndexMap<String, Value>, EolError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map.into_iter().collect()),
        Ok(other) => Err(not_an_object(&other, path)),
        Err(e) => {
            let (line, byte_column) = (e.line(), e.column());
            // serde_json counts columns in bytes: count characters instead, as editors do.
            let column = text
                .split('\n')
                .nth(line.saturating_sub(1))
                .map_or(byte_column, |l| {
                    l.char_indices()
                        .take_while(|(i, _)| *i < byte_column)
                        .count()
                });
            let full = e.to_string();
            let suffix = format!(" at line {line} column {byte_column}");
            let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
            Err(EolError::JsonSyntax {
                path: path.to_path_buf(),
                line,
                column: column.max(1),
                message,
            })
        }
    }
}

#[cfg(test)]
mod tests;
