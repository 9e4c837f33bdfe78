//! How conteneur knows its LXC containers: the marker file in a
//! container's folder (its name, labels, image and start mode), and the LXC
//! name a new container gets, since an LXC container cannot be renamed
//! while it runs. Its own file because ownership is read by every
//! operation and decided here only.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{LxcBackend, err};
use crate::backend::BackendError;

/// The marker file in a container's folder.
pub const MARKER: &str = "conteneur.json";

/// What conteneur keeps in a container's folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// The name conteneur knows it by (`NAME`, or `NAME.next` while it is
    /// switched in).
    pub name: String,
    /// The same labels a Docker container carries.
    pub labels: BTreeMap<String, String>,
    /// The image or template it was made from, for `status`.
    pub image: String,
    /// How it starts: `execute` (an OCI application, under LXC's init) or
    /// `start` (a template's system container, its own init).
    pub start: StartMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartMode {
    Execute,
    Start,
}

/// The LXC name of a new container asked for as `name` (`NAME` or
/// `NAME.next`): `NAME` when free, else `NAME.next`. The running container
/// a replacement is made beside may hold either, since an LXC container
/// keeps its name when it is switched in.
///
/// Replaced containers drain beside the new one for a while (keeping their
/// LXC name), so a replace made during a drain may find both taken: then
/// `NAME.2` … `NAME.9`.
pub fn lxc_name_for(name: &str, taken: impl Fn(&str) -> bool) -> Option<String> {
    let base = name
        .strip_suffix(crate::plan::observed::NEXT_SUFFIX)
        .unwrap_or(name);
    [
        base.to_string(),
        format!("{base}{}", crate::plan::observed::NEXT_SUFFIX),
    ]
    .into_iter()
    .chain((2..10).map(|n| format!("{base}.{n}")))
    .find(|n| !taken(n))
}

impl LxcBackend {
    pub(super) fn read_marker(&self, lxc_name: &str) -> Option<Marker> {
        let text = std::fs::read_to_string(self.dir(lxc_name).join(MARKER)).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub(super) fn write_marker(&self, lxc_name: &str, marker: &Marker) -> Result<(), BackendError> {
        let text = serde_json::to_string_pretty(marker).unwrap_or_default();
        crate::backend::write_atomic(&self.dir(lxc_name).join(MARKER), text.as_bytes())
            .map_err(|e| err(lxc_name, "write its marker", e.to_string()))
    }
}
