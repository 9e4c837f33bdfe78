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
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write as _};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde_json::{Map, Value};

use super::ini;

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
        let file_name = self.path.file_name().ok_or_else(|| EolError::InvalidPath {
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

        let tmp = write_temp(dir, file_name, &new, current_meta.as_ref())?;
        if let Some(old) = &current {
            let bak_path = with_suffix(&self.path, ".bak");
            let bak_name = with_suffix(Path::new(file_name), ".bak");
            let bak = write_temp(dir, bak_name.as_os_str(), old, current_meta.as_ref())?;
            fail_point("backup")
                .map_err(|error| rename_error(&bak_path, error))
                .and_then(|()| {
                    bak.persist(&bak_path)
                        .map(drop)
                        .map_err(|e| rename_error(&bak_path, e.error))
                })?;
        }
        fail_point("replace").map_err(|error| rename_error(&self.path, error))?;
        tmp.persist(&self.path)
            .map_err(|e| rename_error(&self.path, e.error))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|error| EolError::Io {
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
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(&lock_path)
            .map_err(|error| EolError::Io {
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

/// Writes `bytes` to a new hidden temporary file in `dir`, flushes it to disk and sets mode
/// 0600. The file is removed if this fails or if the returned handle is dropped unpersisted.
fn write_temp(
    dir: &Path,
    name: &std::ffi::OsStr,
    bytes: &[u8],
    like: Option<&fs::Metadata>,
) -> Result<tempfile::NamedTempFile, EolError> {
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|error| EolError::Io {
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
    tmp.as_file()
        .set_permissions(Permissions::from_mode(FILE_MODE))
        .map_err(io_err("set the permissions of", &tmp_path))?;
    if let Some(meta) = like {
        // Keep the replaced file's owner and group. Best effort: only root may give a file
        // away, and a file we cannot chown is still a correct file.
        let _ = std::os::unix::fs::fchown(tmp.as_file(), Some(meta.uid()), Some(meta.gid()));
    }
    fail_point("sync")
        .and_then(|()| tmp.as_file().sync_all())
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
mod tests {
    use super::*;
    use serde_json::json;

    fn p() -> PathBuf {
        PathBuf::from("/etc/eole/config.eol")
    }

    fn parse(s: &str) -> EolFile {
        match EolFile::parse(s.as_bytes(), &p()) {
            Ok(f) => f,
            Err(e) => panic!("parse failed: {e}"),
        }
    }

    fn parse_err(s: &[u8]) -> EolError {
        match EolFile::parse(s, &p()) {
            Ok(f) => panic!("expected an error, got {f:?}"),
            Err(e) => e,
        }
    }

    const SAMPLE: &str = r#"{"nom_machine": {"val": "hapy2", "owner": "creoleset"},
 "adresse_ip_dns": {"val": ["192.0.2.53", "8.8.8.8"], "owner": "zephir_import"},
 "netmask_ssh_eth0": {"val": {"0": "255.255.255.128", "1": "255.255.255.255"},
                      "owner": {"0": "zephir_import", "1": "user"}},
 "bash_tmout": {"val": 0, "owner": "forced"},
 "revprox_default": {"val": null, "owner": "gen_config"},
 "___version___": "2.8.1"}"#;

    #[test]
    fn reads_the_three_shapes() {
        let f = parse(SAMPLE);
        assert_eq!(f.version(), Some("2.8.1"));
        assert!(!f.is_legacy_ini());
        assert_eq!(
            f.keys().collect::<Vec<_>>(),
            [
                "nom_machine",
                "adresse_ip_dns",
                "netmask_ssh_eth0",
                "bash_tmout",
                "revprox_default"
            ]
        );
        assert_eq!(
            f.get("nom_machine").unwrap().unwrap(),
            Stored::Single {
                val: json!("hapy2"),
                owner: "creoleset".into()
            }
        );
        assert_eq!(
            f.get("adresse_ip_dns").unwrap().unwrap(),
            Stored::Multi {
                val: vec![json!("192.0.2.53"), json!("8.8.8.8")],
                owner: "zephir_import".into()
            }
        );
        assert_eq!(
            f.get_slave("netmask_ssh_eth0").unwrap().unwrap(),
            Stored::Slave {
                val: BTreeMap::from([(0, json!("255.255.255.128")), (1, json!("255.255.255.255"))]),
                owner: BTreeMap::from([(0, "zephir_import".into()), (1, "user".into())]),
            }
        );
        // Integer stays integer, null stays null.
        let Stored::Single { val, .. } = f.get("bash_tmout").unwrap().unwrap() else {
            panic!()
        };
        assert!(val.is_i64());
        let Stored::Single { val, .. } = f.get("revprox_default").unwrap().unwrap() else {
            panic!()
        };
        assert!(val.is_null());
        assert!(f.get("absent").is_none());
        assert!(f.get(VERSION_KEY).is_none());
        assert!(f.get_slave(VERSION_KEY).is_none());
        assert_eq!(f.raw(VERSION_KEY), Some(&json!("2.8.1")));
        assert!(f.problems().is_empty());
    }

    #[test]
    fn slave_list_form_and_sparse_indexes() {
        let f = parse(
            r#"{"old": {"owner": "gen_config", "val": ["255.255.255.255", "255.255.255.0"]},
                "sparse": {"val": {"7": "3600", "0": null}, "owner": {"0": "user", "7": "import"}},
                "one_owner": {"val": {"2": "a", "5": "b"}, "owner": "user"}}"#,
        );
        assert_eq!(
            f.get_slave("old").unwrap().unwrap(),
            Stored::Slave {
                val: BTreeMap::from([(0, json!("255.255.255.255")), (1, json!("255.255.255.0"))]),
                owner: BTreeMap::from([(0, "gen_config".into()), (1, "gen_config".into())]),
            }
        );
        assert_eq!(
            f.get_slave("sparse").unwrap().unwrap(),
            Stored::Slave {
                val: BTreeMap::from([(0, Value::Null), (7, json!("3600"))]),
                owner: BTreeMap::from([(0, "user".into()), (7, "import".into())]),
            }
        );
        assert_eq!(
            f.get_slave("one_owner").unwrap().unwrap(),
            Stored::Slave {
                val: BTreeMap::from([(2, json!("a")), (5, json!("b"))]),
                owner: BTreeMap::from([(2, "user".into()), (5, "user".into())]),
            }
        );
        // The list form is also a valid multi.
        assert!(matches!(f.get("old"), Some(Ok(Stored::Multi { .. }))));
        // The object form is not.
        let e = f.get("sparse").unwrap().unwrap_err().to_string();
        assert!(e.contains("entry 'sparse'") && e.contains("slave"), "{e}");
        assert!(f.problems().is_empty());
    }

    #[test]
    fn malformed_entries_are_named() {
        let f = parse(
            r#"{"nom_machine": {"owner": "user"},
                "x": 5,
                "no_owner": {"val": "a"},
                "bad_owner": {"val": "a", "owner": 3},
                "bad_index": {"val": {"01": "a"}, "owner": {"01": "u"}},
                "neg_index": {"val": {"-1": "a"}, "owner": "u"},
                "slave_scalar": {"val": "a", "owner": {"0": "u"}},
                "___version___": 281}"#,
        );
        let msg = |r: Option<Result<Stored, EolError>>| r.unwrap().unwrap_err().to_string();
        assert_eq!(
            msg(f.get("nom_machine")),
            "/etc/eole/config.eol: entry 'nom_machine' has no 'val' field"
        );
        assert_eq!(
            msg(f.get("x")),
            "/etc/eole/config.eol: entry 'x': expected an object with 'val' and 'owner', \
             found a number (5)"
        );
        assert!(msg(f.get("no_owner")).contains("has no 'owner' field"));
        assert!(msg(f.get("bad_owner")).contains("owner as a string"));
        assert!(msg(f.get_slave("bad_index")).contains("\"01\""));
        assert!(msg(f.get_slave("neg_index")).contains("\"-1\""));
        assert!(msg(f.get_slave("slave_scalar")).contains("found a string (\"a\")"));
        assert!(msg(f.get("slave_scalar")).contains("owner as a string"));
        assert_eq!(f.version(), None);
        let problems = f.problems();
        assert_eq!(problems.len(), 8, "{problems:#?}");
        assert!(problems[7].to_string().contains("___version___"));
    }

    #[test]
    fn put_replaces_in_place_or_appends() {
        let mut f = parse(
            r#"{"a": {"owner": "user", "val": "1", "extra": true}, "b": 3, "___version___": "2.6.2"}"#,
        );
        f.put(
            "a",
            Stored::Single {
                val: json!("2"),
                owner: "creoleset".into(),
            },
        );
        f.put(
            "b",
            Stored::Multi {
                val: vec![json!(1)],
                owner: "user".into(),
            },
        );
        f.put(
            "c",
            Stored::Slave {
                val: BTreeMap::from([(10, json!("x")), (2, json!("y"))]),
                owner: BTreeMap::from([(2, "user".into()), (10, "user".into())]),
            },
        );
        assert_eq!(
            String::from_utf8(f.to_bytes()).unwrap(),
            "{\n    \"a\":{\"owner\":\"creoleset\",\"val\":\"2\",\"extra\":true},\n    \
             \"b\":{\"val\":[1],\"owner\":\"user\"},\n    \"___version___\":\"2.6.2\",\n    \
             \"c\":{\"val\":{\"2\":\"y\",\"10\":\"x\"},\"owner\":{\"2\":\"user\",\"10\":\"user\"}}\n}\n"
        );
        assert!(f.remove("a"));
        assert!(!f.remove("a"));
        assert_eq!(f.keys().collect::<Vec<_>>(), ["b", "c"]);
        f.set_version("2.9.0");
        assert_eq!(f.version(), Some("2.9.0"));
        assert_eq!(f.entries().get_index_of(VERSION_KEY), Some(1));
        let mut e = EolFile::empty(&p());
        assert_eq!(e.to_bytes(), b"{}\n");
        e.set_version("2.8.1");
        assert_eq!(e.to_bytes(), b"{\n    \"___version___\":\"2.8.1\"\n}\n");
    }

    #[test]
    fn to_bytes_writes_utf8_and_round_trips() {
        let f = parse(
            r#"{"cert_type": {"owner": "upgrade", "val": "autosign\u00e9"}, "k\"q": {"val": "tab\there", "owner": "u"}}"#,
        );
        let out = String::from_utf8(f.to_bytes()).unwrap();
        assert!(out.contains("autosigné"), "{out}");
        assert!(out.contains(r#""k\"q""#) && out.contains(r"tab\there"));
        let again = EolFile::parse(&f.to_bytes(), &p()).unwrap();
        assert_eq!(again, f);
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let e = parse_err(b"{\n  \"a\": {\"val\": \"\xc3\xa9\" \"owner\": \"u\"}\n}");
        match &e {
            EolError::JsonSyntax { line, column, .. } => {
                assert_eq!((*line, *column), (2, 20), "{e}");
            }
            other => panic!("{other:?}"),
        }
        let msg = e.to_string();
        assert!(
            msg.starts_with("/etc/eole/config.eol: JSON syntax error at line 2, column 20: "),
            "{msg}"
        );
        assert!(!msg.contains("at line 2 column"), "{msg}");

        assert!(matches!(
            parse_err(b"[1, 2]"),
            EolError::NotAnObject { ref found, .. } if found == "a list of 2 item(s)"
        ));
        assert!(matches!(parse_err(b" \"x\""), EolError::NotAnObject { .. }));
        assert!(matches!(parse_err(b"\n  \n"), EolError::Empty { .. }));
        assert!(matches!(parse_err(b""), EolError::Empty { .. }));
        let e = parse_err(b"\n  nom_machine=x");
        assert!(
            matches!(
                e,
                EolError::UnknownFormat {
                    line: 2,
                    column: 3,
                    found: 'n',
                    ..
                }
            ),
            "{e:?}"
        );
        let e = parse_err(b"{\"a\": \"\xe9t\xe9\"}");
        assert!(matches!(e, EolError::NotUtf8 { offset: 7, .. }), "{e:?}");
        assert!(e.to_string().contains("byte offset 7"));
        // A byte-order mark is tolerated.
        let f =
            EolFile::parse(b"\xef\xbb\xbf{\"a\": {\"val\": 1, \"owner\": \"u\"}}", &p()).unwrap();
        assert_eq!(f.keys().count(), 1);
    }

    #[test]
    fn ini_form_is_read_as_a_migration() {
        let text = "[nom_machine]\nvaldefault = []\nvalprec = []\nval = ['horus']\n\n\
                    [era_proxy_bypass]\nvaldefault = []\nvalprec = ['x']\nval = ['1.1.1.1', '2.2.2.2']\n\
                    [vide]\nval = []\n\
                    [chemin]\nval = ['netlogon\\\\dase\\\\trend']\n\
                    [msg]\nval = [\"Rsync de l'installeur\"]\n\
                    [accent]\nval = ['autosign\\xc3\\xa9', u'autosign\\xe9', u'\\u00e9']\n\
                    [long]\nval = ['a',\n    'b',\n  ]\n\
                    # comment\n\
                    [nombre]\nval: [None, 5, 5L, True]\n\
                    [nom_machine]\nval = ['horus2']\n";
        let f = parse(text);
        assert!(f.is_legacy_ini());
        assert_eq!(f.version(), None);
        assert_eq!(
            f.keys().collect::<Vec<_>>(),
            [
                "nom_machine",
                "era_proxy_bypass",
                "vide",
                "chemin",
                "msg",
                "accent",
                "long",
                "nombre"
            ]
        );
        let get = |k| f.get(k).unwrap().unwrap();
        assert_eq!(
            get("nom_machine"),
            Stored::Single {
                val: json!("horus2"),
                owner: "upgrade".into()
            }
        );
        assert_eq!(
            get("era_proxy_bypass"),
            Stored::Multi {
                val: vec![json!("1.1.1.1"), json!("2.2.2.2")],
                owner: "upgrade".into()
            }
        );
        assert_eq!(
            get("vide"),
            Stored::Multi {
                val: vec![],
                owner: "upgrade".into()
            }
        );
        assert_eq!(
            f.raw("chemin").unwrap()["val"],
            json!("netlogon\\dase\\trend")
        );
        assert_eq!(f.raw("msg").unwrap()["val"], json!("Rsync de l'installeur"));
        assert_eq!(
            f.raw("accent").unwrap()["val"],
            json!(["autosigné", "autosigné", "é"])
        );
        assert_eq!(f.raw("long").unwrap()["val"], json!(["a", "b"]));
        assert_eq!(f.raw("nombre").unwrap()["val"], json!([null, 5, 5, true]));
        assert!(matches!(
            f.get_slave("era_proxy_bypass"),
            Some(Ok(Stored::Slave { .. }))
        ));
        // Saving writes JSON.
        let back = EolFile::parse(&f.to_bytes(), &p()).unwrap();
        assert!(!back.is_legacy_ini());
        assert_eq!(back.entries(), f.entries());
    }

    #[test]
    fn ini_errors_give_line_and_column() {
        let cases: &[(&str, usize, usize, &str)] = &[
            ("[a]\nval = ['x'\n", 2, 11, "expected ',' or ']'"),
            ("[a]\nval = ['x]\n", 2, 8, "not closed"),
            (
                "# old file\nval = ['x']\n",
                2,
                1,
                "before any [variable] section",
            ),
            ("[a\nval = []\n", 1, 1, "no closing ']'"),
            ("[a]\nnonsense\n", 2, 1, "expected '[variable]'"),
            ("[a]\nval = x\n", 2, 7, "Python list"),
            ("[a]\nval = [u'\\u12']\n", 2, 10, "hexadecimal"),
            ("[a]\nval = [\n  'a' 'b']\n", 3, 7, "expected ',' or ']'"),
        ];
        for (text, line, column, needle) in cases {
            match parse_err(text.as_bytes()) {
                EolError::IniSyntax {
                    line: l,
                    column: c,
                    message,
                    ..
                } => {
                    assert_eq!((l, c), (*line, *column), "{text:?}: {message}");
                    assert!(message.contains(needle), "{text:?}: {message}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    // ---- saving and locking --------------------------------------------------------------

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn dir_listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn save_creates_folder_backup_and_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("etc/eole/config.eol");
        let lock = EolLock::acquire(&path, false).unwrap();
        assert_eq!(mode(lock.lock_path()), 0o600);

        let mut f = EolFile::load(&path).unwrap();
        assert_eq!(f.keys().count(), 0);
        f.put(
            "nom_machine",
            Stored::Single {
                val: json!("a"),
                owner: "user".into(),
            },
        );
        f.save(&lock).unwrap();
        assert_eq!(mode(&path), 0o600);
        let bak = path.with_file_name("config.eol.bak");
        assert!(!bak.exists(), "no backup of a file that did not exist");
        let first = fs::read(&path).unwrap();

        // Same content again: nothing happens, so no backup either.
        f.save(&lock).unwrap();
        assert!(!bak.exists());

        f.put(
            "nom_machine",
            Stored::Single {
                val: json!("b"),
                owner: "user".into(),
            },
        );
        f.save(&lock).unwrap();
        assert_eq!(fs::read(&bak).unwrap(), first);
        assert_eq!(mode(&bak), 0o600);
        assert_eq!(EolFile::load(&path).unwrap(), f);
        assert_eq!(
            dir_listing(path.parent().unwrap()),
            ["config.eol", "config.eol.bak", "config.eol.lock"]
        );
    }

    #[test]
    fn failed_save_leaves_the_old_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config.eol");
        let old = b"{\"a\": {\"val\": \"old\", \"owner\": \"user\"}}";
        fs::write(&path, old).unwrap();
        let lock = EolLock::acquire(&path, true).unwrap();
        let mut f = EolFile::load(&path).unwrap();
        f.put(
            "a",
            Stored::Single {
                val: json!("new"),
                owner: "user".into(),
            },
        );
        for step in ["write", "sync", "backup", "replace"] {
            FAIL_AT.with(|c| c.set(Some(step)));
            let e = f.save(&lock).unwrap_err();
            FAIL_AT.with(|c| c.set(None));
            assert!(e.to_string().contains("injected failure"), "{step}: {e}");
            assert_eq!(fs::read(&path).unwrap(), old, "{step}");
            let listing = dir_listing(tmp.path());
            assert!(
                listing.iter().all(|n| !n.ends_with(".tmp")),
                "{step}: {listing:?}"
            );
        }
        // A real failure: something that is not a file sits where the backup goes.
        fs::remove_file(tmp.path().join("config.eol.bak")).unwrap();
        fs::create_dir(tmp.path().join("config.eol.bak")).unwrap();
        fs::write(tmp.path().join("config.eol.bak/keep"), b"x").unwrap();
        let e = f.save(&lock).unwrap_err();
        assert!(matches!(e, EolError::Io { op: "replace", .. }), "{e:?}");
        assert!(e.to_string().contains("config.eol.bak"), "{e}");
        assert_eq!(fs::read(&path).unwrap(), old);
        fs::remove_dir_all(tmp.path().join("config.eol.bak")).unwrap();
        f.save(&lock).unwrap();
        assert_eq!(fs::read(tmp.path().join("config.eol.bak")).unwrap(), old);
        assert_eq!(EolFile::load(&path).unwrap(), f);
    }

    #[test]
    fn read_only_folder_fails_cleanly_when_not_root() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ro");
        fs::create_dir(&dir).unwrap();
        let path = dir.join("config.eol");
        fs::write(&path, b"{}").unwrap();
        let lock = EolLock::acquire(&path, false).unwrap();
        fs::set_permissions(&dir, Permissions::from_mode(0o555)).unwrap();
        // root ignores permissions: then this test has nothing to check.
        let root = File::create(dir.join("probe")).is_ok();
        if !root {
            let mut f = EolFile::load(&path).unwrap();
            f.set_version("2.9.0");
            let e = f.save(&lock).unwrap_err();
            assert!(e.to_string().contains("temporary file"), "{e}");
            assert_eq!(fs::read(&path).unwrap(), b"{}");
        }
        fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn save_needs_the_matching_lock() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("config.eol");
        let b = tmp.path().join("other.eol");
        let lock_b = EolLock::acquire(&b, false).unwrap();
        let e = EolFile::empty(&a).save(&lock_b).unwrap_err();
        assert!(matches!(e, EolError::WrongLock { .. }), "{e:?}");
        assert!(!a.exists());
        // The same file spelled differently is fine.
        let lock_a = EolLock::acquire(&tmp.path().join(".").join("config.eol"), false).unwrap();
        EolFile::empty(&a).save(&lock_a).unwrap();
        assert_eq!(fs::read(&a).unwrap(), b"{}\n");
    }

    #[test]
    fn lock_contention_in_one_process() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config.eol");
        let first = EolLock::acquire(&path, false).unwrap();
        let e = EolLock::acquire(&path, false).unwrap_err();
        let expected = format!(
            "config.eol is being written by another process (lock held on {}.lock)",
            path.display()
        );
        assert!(e.to_string().starts_with(&expected), "{e}");

        // A waiting acquirer gets the lock once the holder lets go.
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter_path = path.clone();
        let waiter = std::thread::spawn(move || {
            let lock = EolLock::acquire(&waiter_path, true);
            tx.send(()).ok();
            lock.map(drop)
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(200))
                .is_err(),
            "the waiter must block while the lock is held"
        );
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the waiter gets the lock");
        waiter.join().unwrap().unwrap();
        EolLock::acquire(&path, false).unwrap();
    }

    #[test]
    fn load_errors_name_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let e = EolFile::load(tmp.path()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("cannot read {}:", tmp.path().display())),
            "{e}"
        );
        let f = EolFile::load(&tmp.path().join("missing.eol")).unwrap();
        assert_eq!(f.entries().len(), 0);
    }

    // ---- properties ----------------------------------------------------------------------

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Exercises every reader on whatever parsed.
        fn poke(f: &EolFile) {
            let keys: Vec<String> = f.entries().keys().cloned().collect();
            for k in &keys {
                let _ = f.get(k);
                let _ = f.get_slave(k);
            }
            let _ = f.problems();
            let _ = f.version();
            let again = EolFile::parse(&f.to_bytes(), f.path()).expect("own output parses");
            assert!(again.entries().iter().eq(f.entries().iter()));
        }

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>()
                    .prop_filter_map("finite", serde_json::Number::from_f64)
                    .prop_map(Value::Number),
                ".{0,12}".prop_map(Value::from),
            ];
            leaf.prop_recursive(4, 32, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::vec((".{0,8}", inner), 0..6)
                        .prop_map(|kv| Value::Object(kv.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn parse_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
                if let Ok(f) = EolFile::parse(&bytes, Path::new("x.eol")) {
                    poke(&f);
                }
            }

            #[test]
            fn parse_never_panics_on_jsonish(
                s in r#"[{}\[\]"':,=\\ \n\tuUrRbxL0-9a-z._#;-]{0,200}"#,
                start in prop_oneof![Just(""), Just("{"), Just("["), Just("[a]\nval = [")],
            ) {
                let text = format!("{start}{s}");
                if let Ok(f) = EolFile::parse(text.as_bytes(), Path::new("x.eol")) {
                    poke(&f);
                }
            }

            #[test]
            fn any_object_round_trips_in_order(
                entries in prop::collection::vec((".{0,10}", json_value()), 0..12)
            ) {
                let map: Map<String, Value> = entries.into_iter().collect();
                let text = Value::Object(map.clone()).to_string();
                let f = EolFile::parse(text.as_bytes(), Path::new("x.eol")).unwrap();
                prop_assert!(f.entries().iter().eq(map.iter()));
                let again = EolFile::parse(&f.to_bytes(), Path::new("x.eol")).unwrap();
                prop_assert_eq!(again.to_bytes(), f.to_bytes());
                prop_assert!(again.entries().iter().eq(map.iter()));
                poke(&f);
            }

            #[test]
            fn put_then_get_gives_it_back(
                single in json_value().prop_filter("scalar", |v| !v.is_array() && !v.is_object()),
                multi in prop::collection::vec(json_value(), 0..5),
                slave in prop::collection::btree_map(0usize..50, json_value(), 0..5),
                owner in "[a-z_]{1,12}",
            ) {
                let mut f = EolFile::empty(Path::new("x.eol"));
                let s = Stored::Single { val: single, owner: owner.clone() };
                let m = Stored::Multi { val: multi, owner: owner.clone() };
                let owners = slave.keys().map(|i| (*i, owner.clone())).collect();
                let sl = Stored::Slave { val: slave, owner: owners };
                f.put("s", s.clone());
                f.put("m", m.clone());
                f.put("sl", sl.clone());
                let f = EolFile::parse(&f.to_bytes(), Path::new("x.eol")).unwrap();
                prop_assert_eq!(f.get("s").unwrap().unwrap(), s);
                prop_assert_eq!(f.get("m").unwrap().unwrap(), m);
                prop_assert_eq!(f.get_slave("sl").unwrap().unwrap(), sl);
            }
        }
    }
}
