//! The launch plan: what the templates say each container must be.
//!
//! It is rendered from `templates/conteneur-launch.json` (so an admin adapts
//! a launch by changing a template, as on EOLE) into
//! `/var/lib/conteneur/launch.json`, and read here. Unknown fields are
//! refused: a typo in an admin's template must not be silently ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
    /// docker, docker+git, lxc, snap, snapcraft or vagrant.
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
    pub memory: String,
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
    /// the text when 1, as are the other swarm fields when empty, so that
    /// the plan hash of existing local containers does not change.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub replicas: u32,
    /// Swarm: placement constraints (`node.role==manager`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placement: Vec<String>,
    /// Private networks it joins (overlay networks under swarm).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<String>,
    /// Its secrets (swarm secrets under swarm).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// A secret of a container: its file name and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    pub name: String,
    pub value: SecretValue,
}

/// A secret's value. It is read from the rendered launch plan (a root-only
/// file) and never written anywhere else: serialised (the plan text kept
/// in a label, `plan --json`), it is its digest; shown, it is hidden.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SecretValue(String);

/// How a digest of a secret's value is written (a value read back from a
/// label is already one).
const DIGEST_PREFIX: &str = "sha256:";

impl SecretValue {
    pub fn new(value: impl Into<String>) -> SecretValue {
        SecretValue(value.into())
    }

    /// The value itself, for the engine only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The hex SHA-256 of the value (the value read back from a plan text
    /// is that digest already).
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        if let Some(d) = self.0.strip_prefix(DIGEST_PREFIX) {
            return d.to_string();
        }
        Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl Serialize for SecretValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{DIGEST_PREFIX}{}", self.digest()))
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
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

/// `path` set: an HTTP GET of that path on the first published port must
/// answer 2xx/3xx. `path` null: a TCP connection to that port must succeed.
/// No port at all: the container running is enough.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    pub path: Option<String>,
    pub port: Option<u16>,
}

impl LaunchFile {
    /// Parses the rendered file, naming the file and position on error.
    pub fn parse(text: &str) -> Result<LaunchFile, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_serialises_as_its_digest_and_shows_hidden() {
        let s = Secret {
            name: "db".into(),
            value: SecretValue::new("hunter2"),
        };
        let text = serde_json::to_string(&s).unwrap_or_default();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("sha256:"), "{text}");
        assert!(!format!("{s:?}").contains("hunter2"));
        // Read back from a plan text, the digest is the same.
        let back: Secret = serde_json::from_str(&text).expect("parse");
        assert_eq!(back.value.digest(), s.value.digest());
    }
}
