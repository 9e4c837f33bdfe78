//! Containers whose host folder was swapped since they were created.
//!
//! A bind mount's host folder is checked (links followed, nothing nested)
//! before its container is created, but the engine follows links again at
//! every start: a folder replaced by a link to `/` since, then `docker
//! restart` (or a reboot, with a restart policy), hands the container the
//! host's root. So at each `status` and run, every running container of
//! this server is looked at ([`crate::mounts::swapped`]), and one whose
//! host folder no longer leads where it did is stopped, naming it.

use std::collections::HashMap;
use std::path::Path;

use futures_util::stream::{self, StreamExt};

use crate::backend::{Backends, Binds};
use crate::plan::observed::{Observed, ObservedContainer, short_id};

/// Engine questions (one container's record each) asked at the same time.
const PARALLEL_ASKS: usize = 32;

/// The running containers of `server` that are looked at.
fn running_ours<'a>(
    observed: &'a Observed,
    server: &'a str,
) -> impl Iterator<Item = &'a ObservedContainer> {
    observed
        .containers
        .iter()
        .filter(move |c| c.running && c.is_ours(server))
}

/// Stops the running containers of `server` whose bind mounts were swapped;
/// one line per container, saying what was found and whether it stopped.
/// Files under `own` (the state folder: secret files, root's alone, which
/// conteneur writes anew when a value changes) are not looked at.
pub async fn stop_swapped(
    backends: &Backends,
    observed: &Observed,
    server: &str,
    own: &Path,
) -> Vec<String> {
    // The engines' records, asked together (one by one, 200 containers
    // cost a tenth of a second at every status).
    let asked: Vec<(String, Option<Binds>)> = stream::iter(running_ours(observed, server))
        .map(|c| async move {
            let binds = match backends.get(c.backend) {
                Some(b) => b.binds(&c.id).await.ok().flatten(),
                None => None,
            };
            (c.id.clone(), binds)
        })
        .buffer_unordered(PARALLEL_ASKS)
        .collect()
        .await;
    let binds: HashMap<String, Binds> = asked
        .into_iter()
        .filter_map(|(id, b)| Some((id, b?)))
        .collect();
    stop_swapped_with(backends, observed, server, own, &binds).await
}

/// [`stop_swapped`] with the bind mounts already asked of the engines
/// (container id → binds; a container not in it is not looked at): the
/// reporter asks them with the rest of each container's record.
pub async fn stop_swapped_with(
    backends: &Backends,
    observed: &Observed,
    server: &str,
    own: &Path,
    binds: &HashMap<String, Binds>,
) -> Vec<String> {
    let own_real = std::fs::canonicalize(own).unwrap_or_else(|_| own.to_path_buf());
    let ours = |source: &str| {
        let p = Path::new(source);
        p.starts_with(own) || p.starts_with(&own_real)
    };
    let mut out = Vec::new();
    for c in running_ours(observed, server) {
        let Some(b) = backends.get(c.backend) else {
            continue;
        };
        let Some(binds) = binds.get(&c.id) else {
            continue;
        };
        let found: Vec<String> = binds
            .mounts
            .iter()
            .filter(|(source, _)| !ours(source))
            .filter_map(|(source, dest)| crate::mounts::swapped(binds.pid, source, dest))
            .collect();
        if found.is_empty() {
            continue;
        }
        let done = match b.stop(&c.id, 10).await {
            Ok(()) => "it was stopped".to_string(),
            Err(e) => format!("it could NOT be stopped ({e}): stop it by hand"),
        };
        out.push(format!(
            "container '{}' ({}): {}; {done}: the engine follows the link at each start, \
             handing the container whatever it points to (docs/security.md); put the folder \
             back, then run reconfigure",
            c.name,
            short_id(&c.id),
            found.join("; ")
        ));
    }
    out
}
