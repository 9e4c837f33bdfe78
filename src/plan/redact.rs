//! What the `fr.eole.conteneur.plan` label may say about a container's
//! environment: its names, never its values.
//!
//! The label keeps a container's launch plan so that the next run can say
//! what changed; it is readable by anyone who may run `docker inspect` (or
//! read an LXC or snap marker). So each environment value is replaced by a
//! keyed hash (HMAC-SHA256) under a key of this server that the label does
//! not hold ([`LabelKey`], a random file of the state folder, root only):
//! the plan hash still changes when a value changes, `plan` still says
//! "env DB_PASSWORD changed", and a short password cannot be found again by
//! hashing guesses, since the key is unknown to whoever reads the label.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::launch::Launch;

/// What stands for a value in the label.
const SEALED: &str = "hmac-sha256:";

/// The key of this server's labels (32 random bytes). The default, all
/// zeros, is for tests: a run uses the key of the state folder.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct LabelKey([u8; 32]);

impl std::fmt::Debug for LabelKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A key is not printed, not even in a debug dump.
        f.write_str("LabelKey(..)")
    }
}

impl LabelKey {
    pub fn new(bytes: [u8; 32]) -> LabelKey {
        LabelKey(bytes)
    }

    /// The key as stored: 64 hexadecimal digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The key from its stored text; `None` when it is not 64 hex digits.
    pub fn from_hex(text: &str) -> Option<LabelKey> {
        let text = text.trim();
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(LabelKey(out))
    }

    /// The keyed hash of one value, as the label shows it (128 bits: enough
    /// to tell any change).
    pub fn seal(&self, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("{SEALED}{hex}")
    }

    /// A short keyed name for `value` (64 bits, 16 hex digits): a folder
    /// name others can see (`docker inspect`, mountinfo) that tells values
    /// apart without letting a guess be checked offline.
    pub fn tag(&self, value: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        mac.update(b"conteneur tag\0");
        mac.update(value);
        let digest = mac.finalize().into_bytes();
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The name of an environment entry `NAME=value` (the whole entry when it
/// has no `=`).
pub fn env_name(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(n, _)| n)
}

/// Whether `value` is already a sealed value (as a label holds it).
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(SEALED)
}

/// `launch` as its label keeps it: every environment value and secret
/// hash sealed. A value already sealed is kept as it is, so a plan read
/// back from a label can be redacted again.
pub fn redacted(launch: &Launch, key: &LabelKey) -> Launch {
    let mut l = launch.clone();
    l.env = sealed_env(&l.env, key);
    // A secret's hash is sealed too: the hash of a short password could
    // be found again by hashing guesses, the keyed one cannot.
    for s in &mut l.app.secrets {
        s.hash = s.hash.as_deref().map(|h| seal_once(h, key));
    }
    l
}

fn seal_once(value: &str, key: &LabelKey) -> String {
    if is_sealed(value) {
        value.to_string()
    } else {
        key.seal(value)
    }
}

/// Environment entries `NAME=value` with each value sealed (a swarm
/// service's label keeps its spec the same way).
pub fn sealed_env(env: &[String], key: &LabelKey) -> Vec<String> {
    env.iter()
        .map(|e| match e.split_once('=') {
            Some((name, value)) => format!("{name}={}", seal_once(value, key)),
            None => seal_once(e, key),
        })
        .collect()
}

/// What changed in the environment between two redacted plans, by name:
/// `env X changed`, `env Y added`, `env Z removed`.
pub fn env_changes(old: &[String], new: &[String]) -> Vec<String> {
    fn find<'a>(list: &'a [String], name: &str) -> Option<&'a str> {
        list.iter()
            .find(|e| env_name(e) == name)
            .map(String::as_str)
    }
    let mut out = Vec::new();
    for e in new {
        let name = env_name(e);
        match find(old, name) {
            None => out.push(format!("env {name} added")),
            Some(o) if o != e => out.push(format!("env {name} changed")),
            Some(_) => {}
        }
    }
    for e in old {
        let name = env_name(e);
        if find(new, name).is_none() {
            out.push(format!("env {name} removed"));
        }
    }
    if out.is_empty() && old != new {
        out.push("environment order changed".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_sealed_names_kept_and_the_key_matters() {
        let k1 = LabelKey::new([1; 32]);
        let k2 = LabelKey::new([2; 32]);
        assert_eq!(k1.seal("pw"), k1.seal("pw"));
        assert_ne!(k1.seal("pw"), k1.seal("pw2"));
        assert_ne!(k1.seal("pw"), k2.seal("pw"));
        assert!(!k1.seal("hunter2").contains("hunter2"));
        assert_eq!(LabelKey::from_hex(&k1.to_hex()), Some(k1.clone()));
        assert_eq!(LabelKey::from_hex("zz"), None);
        assert!(!format!("{k1:?}").contains("01"));
        let old = vec!["A=1".to_string(), "B=2".to_string(), "C=3".to_string()];
        let new = vec!["A=1".to_string(), "B=9".to_string(), "D=4".to_string()];
        assert_eq!(
            env_changes(&old, &new),
            ["env B changed", "env D added", "env C removed"]
        );
    }
}
