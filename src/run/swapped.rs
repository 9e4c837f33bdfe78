//! Containers whose host folder was swapped since they were created.
//!
//! A bind mount's host folder is checked (links followed, nothing nested)
//! before its container is created, but the engine follows links again at
//! every start: a folder replaced by a link to `/` since, then `docker
//! restart` (or a reboot, with a restart policy), hands the container the
//! host's root. So at each `status` and run, every running container of
//! this server is looked at ([`crate::mounts::swapped`]), and one whose
//! host folder no longer leads where it did is stopped, naming it.

use std::path::Path;

use crate::backend::Backends;
use crate::plan::observed::{Observed, short_id};

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
    let own_real = std::fs::canonicalize(own).unwrap_or_else(|_| own.to_path_buf());
    let ours = |source: &str| {
        let p = Path::new(source);
        p.starts_with(own) || p.starts_with(&own_real)
    };
    let mut out = Vec::new();
    for c in observed
        .containers
        .iter()
        .filter(|c| c.running && c.is_ours(server))
    {
        let Some(b) = backends.get(c.backend) else {
            continue;
        };
        let Ok(Some(binds)) = b.binds(&c.id).await else {
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
