//! The Swarm side of the plan (`conteneur_orchestrator` = `swarm`): what
//! the docker containers must be as Swarm services, against one snapshot
//! of the swarm, as steps with their causes. Pure, like [`super::reconcile`]:
//! the swarm backend (`backend/swarm.rs`) turns a [`ServiceWant`] into the
//! engine's service spec and acts; nothing here talks to an engine.
//!
//! What a container becomes (docs/swarm.md says why):
//! - a replicated service named after the container, `endpoint_mode`
//!   dnsrr (no IPVS on these kernels) or vip (a setting), no published
//!   port of its own;
//! - rolling updates one replica at a time (`parallelism` 1), a delay
//!   between replicas, a health monitor, `failure_action: rollback`,
//!   start-first (the services publish no host-mode port, so moby#36934
//!   cannot deadlock them);
//! - the server's secrets it receives (`conteneurX_secrets`, declared once
//!   in `conteneur_secret_name`) as swarm secrets named by a keyed hash of
//!   their value (swarm secrets are immutable, moby#33808): a new value is
//!   a new secret, the service rolls onto it, and the old one is removed
//!   once unused. The plan holds no value: the executor reads it from the
//!   configuration, as for the local secret files;
//! - its networks (`conteneurX_networks`) as overlay networks; every
//!   service with a port also on [`FRONT_NETWORK`], where the front
//!   ([`FRONT`]) reaches its tasks.
//!
//! The front is one nginx service, pinned to the node conteneur drives,
//! publishing each container's `port_out` in host mode (no routing mesh),
//! and proxying it to `tasks.NAME:port_in` through Docker's DNS, resolved
//! again every second, so replicas come and go without a reload. The
//! host's nginx keeps routing `/NAME/` to `127.0.0.1:port_out` as for a
//! local container.
//!
//! Its parts: [`want`] (the types of what the swarm must hold),
//! [`services`] (what each container becomes: [`desired`]), [`observed`]
//! (one snapshot of the swarm), [`step`] (the steps and their text form)
//! and [`reconciler`] (the decisions: [`reconcile`]).

use crate::config::Config;
use crate::plan::launch::Launch;
use crate::plan::observed::Kind;
use crate::plan::redact::LabelKey;

mod observed;
mod reconciler;
mod services;
mod step;
mod want;

pub use observed::{ObservedObject, ObservedService, SwarmObserved, UpdateState};
pub use reconciler::reconcile;
pub use services::{
    BindSource, OBJECT_NAME_MAX, SwarmPlanError, desired, front_conf, health_command,
    restart_condition, secret_object, secret_owner, under_root, unsupported,
};
pub use step::{SwarmAction, SwarmPlan, SwarmStep};
pub use want::{
    Desired, Endpoint, FileRef, HostPort, ObjectWant, SecretWant, ServiceWant, Settings, WantMount,
};

/// The front's service name. A container cannot be named so under swarm.
pub const FRONT: &str = "conteneur-front";
/// The overlay network the front shares with every service it publishes.
pub const FRONT_NETWORK: &str = "conteneur-front";
/// Label of a service: its [`ServiceWant`] as JSON, so the next run can say
/// what changed.
pub const SPEC_LABEL: &str = "fr.eole.conteneur.swarm-spec";
/// Label of a secret or config: the service it belongs to.
pub const OWNER_LABEL: &str = "fr.eole.conteneur.name";
/// Where the front's nginx reads its configuration.
pub const FRONT_CONF_PATH: &str = "/etc/nginx/nginx.conf";

/// The launches the swarm runs (docker types) and those the local engines
/// keep (lxc, snap, and the types refused anyway): `(local, swarm)`.
pub fn split(launches: Vec<Launch>) -> (Vec<Launch>, Vec<Launch>) {
    launches
        .into_iter()
        .partition(|l| Kind::of_type(&l.backend) != Some(Kind::Docker))
}

/// Whether the swarm needs its front: some container publishes a port.
pub fn needs_front(launches: &[Launch]) -> bool {
    launches.iter().any(|l| !l.ports.is_empty())
}

/// The swarm settings of the configuration; `pin` is the constraint that
/// keeps bind mounts and the front on conteneur's node, `front_image` the
/// front's image (empty when no container needs the front:
/// [`needs_front`]).
pub fn settings(
    cfg: &Config,
    server: &str,
    pin: String,
    front_image: String,
    label_key: &LabelKey,
) -> Settings {
    let number = |name: &str, default: u64| -> u64 {
        cfg.first(name)
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    Settings {
        server: server.to_string(),
        update_delay: number("conteneur_swarm_update_delay", 5),
        monitor: number("conteneur_swarm_monitor", 5).max(1),
        endpoint: Endpoint::parse(&cfg.first("conteneur_swarm_endpoint").unwrap_or_default()),
        start_period: number("conteneur_health_timeout", 30).max(1),
        pin,
        front_image,
        label_key: label_key.clone(),
    }
}

#[cfg(test)]
mod tests;
