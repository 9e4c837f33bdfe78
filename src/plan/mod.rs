//! `plan`: the desired state (launch plans) against one snapshot of the
//! engine, as a list of atomic steps, each with its cause. It computes and
//! never acts: [`reconcile`] is a pure function, so every decision can be
//! tested without an engine, and `conteneur plan` shows exactly what
//! `reconfigure` would do.
//!
//! Its parts: [`step`] (the steps and their text form), [`check`] (why no
//! plan can be made, and the checks made first), [`identity`] (the labels
//! and names a container of ours is known by), [`reconciler`] (the
//! decisions), and the parts for applications ([`apps`]) and swarm services
//! ([`swarm`]).

pub mod apps;
mod check;
pub mod desired;
mod identity;
mod kept;
pub mod launch;
pub mod observed;
mod reconciler;
pub mod redact;
mod step;
pub mod swarm;
#[cfg(test)]
pub(crate) mod tests;
pub mod upgrade;
mod volumes;

pub use check::{
    PlanError, check_mount, check_nested_mounts, check_type, lint_nested_mounts, lint_types,
    mount_given,
};
pub use identity::{container_labels, next_name, old_base, plan_hash, plan_text};
pub use reconciler::{Options, direct_ports, is_moving_tag, kinds_needed, reconcile, strategy};
pub use step::{Action, Phase, Plan, Step, Strategy};
