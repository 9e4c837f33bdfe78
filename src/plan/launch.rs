//! The launch plan: what the templates say each container must be.
//!
//! It is rendered from `templates/conteneur-launch.json` (so an admin adapts
//! a launch by changing a template, as on EOLE) into
//! `/var/lib/conteneur/launch.json`, and read here. Unknown fields are
//! refused: a typo in an admin's template must not be silently ignored.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchFile {
    pub containers: Vec<Launch>,
}

/// One container as it must run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Launch {
    /// The container's name (also its web path).
    pub name: String,
    /// Its index X in `conteneurX_*`.
    pub index: u32,
    /// docker, docker+git, lxc, snap, vm, snapcraft or vagrant.
    pub backend: String,
    /// The image (for docker: with its registry, e.g. localhost:5000/demo/web).
    pub image: String,
    pub tag: String,
    /// Registry, git URL or snap channel; empty when unused.
    #[serde(default)]
    pub repository: String,
    #[serde(default)]
    pub ports: Vec<Port>,
    #[serde(default)]
    pub mounts: Vec<Mount>,
    /// `NAME=value` entries.
    #[serde(default)]
    pub env: Vec<String>,
    /// Docker-style size (512m, 1g); empty: no limit.
    #[serde(default)]
    pub memory: Memory,
    /// CPUs it may use (`conteneurX_cpus`; a VM's virtual CPUs); None:
    /// unset (a VM gets one, a container no limit). Left out of the text
    /// when unset, so the plan hash of existing containers does not change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<u32>,
    /// no, always, unless-stopped, on-failure.
    pub restart: String,
    /// Seconds given to stop before the container is killed.
    pub stop_timeout: u32,
    /// How to tell the container is healthy.
    pub health: Health,
    /// Published on the web front at /NAME/.
    pub publish: bool,
    pub websocket: bool,
    /// Labels to set, beyond the ones conteneur adds itself (plan hash…).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Swarm: how many replicas (a local container runs once). Left out of
    /// the text when 1, as placement when empty, so that the plan hash of
    /// existing local containers does not change.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub replicas: u32,
    /// Swarm: placement constraints (`node.role==manager`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placement: Vec<String>,
    /// Applications of several containers: networks, start order, secrets,
    /// process and hardening. Left out of the JSON when all default, so
    /// the plan (and its hash) of a lone container is what it was.
    #[serde(default, skip_serializing_if = "App::is_default")]
    pub app: App,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// What a container of an application needs beyond a lone one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// Private networks joined (their names in the configuration); on each
    /// the container is reached by its name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<String>,
    /// Containers that must be healthy before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// The command as the admin wrote it, and its words; empty: the
    /// image's.
    #[serde(default, skip_serializing_if = "Command::is_empty")]
    pub command: Command,
    /// The user it runs as; empty: the image's.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_new_privileges: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// In-memory folders (absolute paths inside the container).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<String>,
    /// Secrets given as files /run/secrets/NAME: names and hashes only,
    /// never the values (the executor reads those from the configuration).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretRef>,
    /// The container serves under /NAME/ itself: nginx passes the path.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_path: bool,
}

impl App {
    pub fn is_default(&self) -> bool {
        *self == App::default()
    }
}

/// A memory limit: the text as the template wrote it (`512m`, `1g`), which
/// the plan label keeps unchanged (its hash covers it), and the bytes it
/// means, parsed once when the launch is read ([`parse_size`]). Empty: no
/// limit. A text that is no size is refused by the plan's checks
/// ([`crate::plan::check_type`]), so backends only read [`Self::bytes`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memory {
    text: String,
    bytes: Option<i64>,
}

impl Memory {
    pub fn new(text: impl Into<String>) -> Memory {
        let text = text.into();
        Memory {
            bytes: parse_size(&text),
            text,
        }
    }

    /// The text as written (the label's form).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// No limit asked.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The limit in bytes; None when there is none, or when the text is
    /// not a size (see [`Self::is_invalid`]).
    pub fn bytes(&self) -> Option<i64> {
        self.bytes
    }

    /// A limit is written that is no size on 64 bits.
    pub fn is_invalid(&self) -> bool {
        !self.text.is_empty() && self.bytes.is_none()
    }
}

impl From<&str> for Memory {
    fn from(text: &str) -> Memory {
        Memory::new(text)
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

// As a plain string, exactly as before it was typed: the plan label and
// its hash must not change with the version of conteneur.
impl Serialize for Memory {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Memory {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Memory, D::Error> {
        String::deserialize(d).map(Memory::new)
    }
}

/// A container's command (`conteneurX_command`): the text as the admin
/// wrote it, which the plan label keeps unchanged, and its words, split
/// once when the launch is read ([`crate::plan::apps::split_command`]).
/// A text that cannot be split is refused by the plan's checks, so
/// backends only read [`Self::words`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    text: String,
    words: Result<Vec<String>, String>,
}

impl Default for Command {
    fn default() -> Command {
        Command {
            text: String::new(),
            words: Ok(Vec::new()),
        }
    }
}

impl Command {
    pub fn new(text: impl Into<String>) -> Command {
        let text = text.into();
        Command {
            words: super::apps::split_command(&text),
            text,
        }
    }

    /// The text as written (the label's form).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// No command: the image's runs.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Its words (none when empty), or why it cannot be split.
    pub fn words(&self) -> Result<&[String], &str> {
        match &self.words {
            Ok(w) => Ok(w),
            Err(why) => Err(why),
        }
    }
}

impl From<&str> for Command {
    fn from(text: &str) -> Command {
        Command::new(text)
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

// As a plain string, exactly as before it was typed (see [`Memory`]).
impl Serialize for Command {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Command, D::Error> {
        String::deserialize(d).map(Command::new)
    }
}

/// A secret a container receives: its name and a hash of its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    pub name: String,
    /// Salted SHA-256 of the value; None when no secret of that name is
    /// declared (the plan refuses it).
    pub hash: Option<String>,
}

/// An in-container health check, run by the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCommand {
    /// A shell command line (the engine runs it with `/bin/sh -c`).
    pub command: String,
    /// Seconds.
    pub interval: u32,
    pub timeout: u32,
    pub retries: u32,
    pub start_period: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// Port inside the container.
    pub container: u16,
    /// Port on the host.
    pub host: u16,
    /// Host address the port is published on (127.0.0.1 by default).
    pub address: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// An absolute host folder, created if missing.
    Bind,
    /// A named volume.
    Volume,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    /// Path inside the container.
    pub container: String,
    /// Host folder (bind) or volume name (volume).
    pub host: String,
    pub kind: MountKind,
}

/// `command` set: the engine runs it inside the container and conteneur
/// waits for the engine's health status. Else `path` set: an HTTP GET of
/// that path on the first published port must answer 2xx/3xx. `path` null:
/// a TCP connection to that port must succeed. No port at all: the
/// container running is enough.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    pub path: Option<String>,
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<HealthCommand>,
}

impl LaunchFile {
    /// Parses the rendered file, naming the file and position on error.
    pub fn parse(text: &str) -> Result<LaunchFile, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// Docker-style size ("512m", "1g", "1024") in bytes; `None` when empty,
/// not a size, or too large for 64 bits (the plan refuses those:
/// [`crate::plan::check_type`]).
pub fn parse_size(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let (num, mult) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 1024),
        (i, 'm' | 'M') => (&s[..i], 1024 * 1024),
        (i, 'g' | 'G') => (&s[..i], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    num.parse::<i64>().ok()?.checked_mul(mult)
}

/// An LXC template name rather than an OCI image: no registry path.
pub fn is_template(image: &str) -> bool {
    !image.is_empty() && !image.contains(['/', ':', '.'])
}

/// A snap name as snapd takes it: lowercase letters, digits and dashes.
pub fn valid_snap_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// One docker container, `name:tag` of the demo image published on `port`
/// (127.0.0.1) and probed there: the sample the unit tests of several
/// modules start from, changing only what each is about.
#[cfg(test)]
pub(crate) fn sample(name: &str, tag: &str, port: u16) -> Launch {
    Launch {
        name: name.into(),
        index: 1,
        backend: "docker".into(),
        image: "localhost:5000/demo/web".into(),
        tag: tag.into(),
        repository: String::new(),
        ports: vec![Port {
            container: 80,
            host: port,
            address: "127.0.0.1".into(),
        }],
        mounts: vec![],
        env: vec![],
        memory: Memory::default(),
        cpus: None,
        restart: "unless-stopped".into(),
        stop_timeout: 10,
        health: Health {
            path: None,
            port: Some(port),
            command: None,
        },
        publish: true,
        websocket: false,
        labels: BTreeMap::new(),
        replicas: 1,
        placement: vec![],
        app: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512m"), Some(512 * 1024 * 1024));
        assert_eq!(parse_size("1G"), Some(1024 * 1024 * 1024));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("99999999999999999g"), None);
    }

    #[test]
    fn templates_and_snap_names() {
        assert!(is_template("busybox"));
        assert!(!is_template("localhost:5000/demo/web"));
        assert!(!is_template("docker.io/library/nginx"));
        assert!(valid_snap_name("rocketchat-server"));
        assert!(!valid_snap_name("Rocket"));
        assert!(!valid_snap_name("a/b"));
        assert!(!valid_snap_name("-a"));
        assert!(!valid_snap_name(""));
    }

    #[test]
    fn memory_and_command_are_parsed_once_and_written_as_read() {
        let m: Memory = serde_json::from_str(r#"" 512m""#).unwrap();
        assert_eq!(m.bytes(), Some(512 * 1024 * 1024));
        assert_eq!(m.text(), " 512m");
        assert!(!m.is_invalid());
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"" 512m""#);
        let bad = Memory::new("lots");
        assert!(bad.is_invalid() && bad.bytes().is_none());
        assert!(!Memory::default().is_invalid() && Memory::default().is_empty());

        let c: Command = serde_json::from_str(r#""mariadbd --skip-name-resolve 'a b'""#).unwrap();
        assert_eq!(
            c.words().unwrap(),
            ["mariadbd", "--skip-name-resolve", "a b"]
        );
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#""mariadbd --skip-name-resolve 'a b'""#
        );
        assert!(Command::new("echo 'x").words().is_err());
        assert_eq!(Command::default().words().unwrap(), [] as [String; 0]);
        assert!(App::default().command.is_empty());
    }
}
