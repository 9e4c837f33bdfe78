//! The local engines' snapshot as the plan reads it: the containers, images,
//! networks and volumes one run observes ([`Observed`]), the engine each runs
//! on ([`Kind`]), the labels conteneur keeps on them ([`labels`]) and the
//! names a replace gives ([`NEXT_SUFFIX`], [`OLD_MARK`]). The backends fill
//! these types and the planner only reads them, as for the swarm's snapshot
//! ([`super::swarm::SwarmObserved`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

/// Label keys conteneur sets on its containers.
pub mod labels {
    /// "true" on every container conteneur manages.
    pub const MANAGED: &str = "fr.eole.conteneur.managed";
    /// The container's name in the configuration.
    pub const NAME: &str = "fr.eole.conteneur.name";
    /// Which server (root folder) it belongs to: several roots (tests, a
    /// demo) may share one engine, and each only ever touches its own.
    pub const SERVER: &str = "fr.eole.conteneur.server";
    /// A hash of the container's launch plan: changed plan, new container.
    pub const PLAN_HASH: &str = "fr.eole.conteneur.plan-hash";
    /// The launch plan itself (compact JSON), so a run can say what changed.
    pub const PLAN: &str = "fr.eole.conteneur.plan";
    /// The image the container was created from (engine image id).
    pub const IMAGE_ID: &str = "fr.eole.conteneur.image-id";
    /// On an image built from git (docker+git): the commit it was built
    /// from. A tag that moves to another commit is built again.
    pub const GIT_COMMIT: &str = "fr.eole.conteneur.git-commit";
    /// On an image built from git: the repository it came from.
    pub const GIT_URL: &str = "fr.eole.conteneur.git-url";
    /// Where this container instance's ports really are on the host:
    /// `PORT_OUT=HOST_PORT,…` (see [`super::HostPorts`]). nginx forwards
    /// `port_out` and the web routes there, so that two instances of one
    /// container can run side by side during a replace.
    pub const HOST_PORTS: &str = "fr.eole.conteneur.host-ports";
    /// On a private network: its name in the configuration.
    pub const NETWORK: &str = "fr.eole.conteneur.network";
    /// On a named volume conteneur created: its name in the configuration.
    pub const VOLUME: &str = "fr.eole.conteneur.volume";
}

/// The suffix of a replacement container while it is being switched in.
pub const NEXT_SUFFIX: &str = ".next";
/// What a replaced container's name becomes once nginx no longer sends it
/// new requests, while it drains: `NAME.old.ID` (unique, so that a second
/// replace during a drain finds the name free).
pub const OLD_MARK: &str = ".old.";

/// The name a replaced container has while it drains.
pub fn old_name(name: &str, id: &str) -> String {
    format!(
        "{name}{OLD_MARK}{}",
        short_id(id).replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
            "-"
        )
    )
}

/// Each published port of one container instance: `port_out` → the host
/// port on 127.0.0.1 it really listens on. For docker and lxc the host port
/// is one of its own (nginx forwards `port_out` to it); for snap, which
/// listens where it wants, it is `port_out` itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPorts(pub BTreeMap<u16, u16>);

impl HostPorts {
    /// The label text: `8080=41234,8081=41235`.
    pub fn label(&self) -> String {
        self.0
            .iter()
            .map(|(o, h)| format!("{o}={h}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads [`Self::label`]; None when it is not one.
    pub fn parse(text: &str) -> Option<HostPorts> {
        let mut m = BTreeMap::new();
        for pair in text.split(',').filter(|p| !p.is_empty()) {
            let (o, h) = pair.split_once('=')?;
            m.insert(o.trim().parse().ok()?, h.trim().parse().ok()?);
        }
        Some(HostPorts(m))
    }

    /// As `plan` and `status` show it: `8080→41234 8081→41235`.
    pub fn display(&self) -> String {
        self.0
            .iter()
            .map(|(o, h)| {
                if o == h {
                    format!("{o}")
                } else {
                    format!("{o}→{h}")
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The engine a container runs on. `docker+git` runs on Docker (only its
/// image is made differently); `vm` on QEMU ([`crate::backend::vm`]);
/// snapcraft and vagrant have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Docker,
    Lxc,
    Snap,
    Vm,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Docker, Kind::Lxc, Kind::Snap, Kind::Vm];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Docker => "docker",
            Kind::Lxc => "lxc",
            Kind::Snap => "snap",
            Kind::Vm => "vm",
        }
    }

    /// The engine of a `conteneurX_type`; None for the types conteneur
    /// cannot run (snapcraft, vagrant, anything unknown).
    pub fn of_type(t: &str) -> Option<Kind> {
        match t {
            "docker" | "docker+git" => Some(Kind::Docker),
            "lxc" => Some(Kind::Lxc),
            "snap" => Some(Kind::Snap),
            "vm" => Some(Kind::Vm),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One container as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedContainer {
    /// The engine it runs on.
    pub backend: Kind,
    /// The engine's handle: Docker's id, the LXC container's name, the
    /// snap's name.
    pub id: String,
    /// The engine's name (without Docker's leading '/').
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub running: bool,
    /// The engine's state word (running, exited, created…).
    pub state: String,
    pub image: String,
    pub image_id: String,
}

impl ObservedContainer {
    /// Managed by conteneur (for this server or another root).
    pub fn is_managed(&self) -> bool {
        self.labels.get(labels::MANAGED).map(String::as_str) == Some("true")
    }

    /// Ours: managed by conteneur for the server `server`.
    pub fn is_ours(&self, server: &str) -> bool {
        self.is_managed() && self.labels.get(labels::SERVER).map(String::as_str) == Some(server)
    }

    /// The configuration name it belongs to (label), for ours.
    pub fn conf_name(&self) -> Option<&str> {
        self.labels.get(labels::NAME).map(String::as_str)
    }

    pub fn plan_hash(&self) -> Option<&str> {
        self.labels.get(labels::PLAN_HASH).map(String::as_str)
    }

    /// A replacement left over by an interrupted run: its engine name ends
    /// with [`NEXT_SUFFIX`], which a configured name cannot hold ('.' is not
    /// allowed in container names).
    pub fn is_next(&self) -> bool {
        self.name.ends_with(NEXT_SUFFIX)
    }

    /// A replaced container left to drain (see [`OLD_MARK`]).
    pub fn is_old(&self) -> bool {
        self.name.contains(OLD_MARK)
    }

    /// Where its ports really are; None for a container made before
    /// conteneur gave each instance host ports of its own (it holds
    /// `port_out` itself).
    pub fn host_ports(&self) -> Option<HostPorts> {
        self.labels
            .get(labels::HOST_PORTS)
            .and_then(|t| HostPorts::parse(t))
    }
}

/// A private network or a named volume on an engine, with its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedResource {
    pub backend: Kind,
    /// The engine's id (a volume's is its name).
    pub id: String,
    /// The engine's name.
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

impl ObservedResource {
    /// Created by conteneur for the server `server`.
    pub fn is_ours(&self, server: &str) -> bool {
        self.labels.get(labels::MANAGED).map(String::as_str) == Some("true")
            && self.labels.get(labels::SERVER).map(String::as_str) == Some(server)
    }
}

/// An image present on an engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedImage {
    pub id: String,
    /// Its labels (a built image says which git commit it was built from).
    pub labels: BTreeMap<String, String>,
}

/// One snapshot of the engines, taken once per run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Every engine's containers, each tagged with its [`Kind`].
    pub containers: Vec<ObservedContainer>,
    /// Local images per engine: `repository:tag` → image.
    pub images: BTreeMap<Kind, HashMap<String, ObservedImage>>,
    /// Where the git tags of docker+git containers point now:
    /// (repository, tag) → commit.
    pub sources: HashMap<(String, String), String>,
    /// Replaced containers draining, as the drain journal says: id →
    /// seconds left at the time of the snapshot (0: due). Read from
    /// conteneur's state folder, not the engine.
    pub draining: BTreeMap<String, u64>,
    /// Private networks (Docker's user-defined networks).
    pub networks: Vec<ObservedResource>,
    /// Named volumes.
    pub volumes: Vec<ObservedResource>,
}

impl Observed {
    /// The image `reference` on engine `kind`, if present.
    pub fn image(&self, kind: Kind, reference: &str) -> Option<&ObservedImage> {
        self.images.get(&kind).and_then(|m| m.get(reference))
    }

    /// Adds an image seen on `kind`.
    pub fn add_image(&mut self, kind: Kind, reference: String, image: ObservedImage) {
        self.images
            .entry(kind)
            .or_default()
            .insert(reference, image);
    }

    /// Adds another engine's snapshot to this one.
    pub fn merge(&mut self, other: Observed) {
        self.containers.extend(other.containers);
        for (kind, images) in other.images {
            self.images.entry(kind).or_default().extend(images);
        }
        self.sources.extend(other.sources);
        self.draining.extend(other.draining);
        self.networks.extend(other.networks);
        self.volumes.extend(other.volumes);
    }

    /// Image ids per engine: (kind, reference) → id, for the executor.
    pub fn image_ids(&self) -> HashMap<(Kind, String), String> {
        self.images
            .iter()
            .flat_map(|(k, m)| m.iter().map(|(r, i)| ((*k, r.clone()), i.id.clone())))
            .collect()
    }
}

impl fmt::Display for ObservedContainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {})", self.name, short_id(&self.id), self.state)
    }
}

/// The first 12 characters of a Docker id, as `docker ps` shows it; other
/// engines' ids (an LXC container's name, a snap's) whole.
pub fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    if id.chars().all(|c| c.is_ascii_hexdigit()) {
        id.get(..12).unwrap_or(id)
    } else {
        id
    }
}
