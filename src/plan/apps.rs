//! Applications of several containers, planned (pure): private networks,
//! start order by dependencies, secrets and process settings, and what the
//! engines other than Docker refuse.
//!
//! The same checks serve `plan` (on the launch plans), `lint` and `set` (on
//! the values, through [`lint`]), so the three never disagree.

use std::collections::{BTreeMap, HashMap, HashSet};

use sha2::{Digest, Sha256};

use super::launch::{App, Command, Launch};
use super::{Action, PlanError, Step};
use crate::plan::observed::{Kind, Observed, ObservedResource, labels};

/// The engine's name of the private network `net` of server `server`:
/// several roots (a demo, tests) share one engine, and each has its own
/// `wp`. compose names them `PROJECT_NET` the same way.
pub fn network_name(server: &str, net: &str) -> String {
    let digest = Sha256::digest(server.as_bytes());
    let short: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("conteneur-{short}-{net}")
}

/// The labels of a network conteneur creates.
pub fn network_labels(server: &str, net: &str) -> BTreeMap<String, String> {
    resource_labels(server, labels::NETWORK, net)
}

/// The labels of a named volume conteneur creates.
pub fn volume_labels(server: &str, volume: &str) -> BTreeMap<String, String> {
    resource_labels(server, labels::VOLUME, volume)
}

/// Ours, for `server`, named `name` in the configuration under `key`.
fn resource_labels(server: &str, key: &str, name: &str) -> BTreeMap<String, String> {
    [
        (labels::MANAGED, "true"),
        (labels::SERVER, server),
        (key, name),
        (
            super::upgrade::FORMAT_LABEL,
            &super::upgrade::format_value(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The secret file `secret` of `launch` under `dir` (the state's
/// `secrets/`): `NAME/VERSION/SECRET`, VERSION a hash of the container's
/// user and secrets (names and value hashes), keyed with the server's
/// label key: the folder's name shows in `docker inspect` and in the
/// container's mountinfo, and an unkeyed hash of a weak secret could be
/// found again by hashing guesses. A new value, or another user, is a new
/// folder: a container being replaced (or started again by a rollback)
/// keeps its own files.
pub fn secret_path(
    dir: &std::path::Path,
    launch: &Launch,
    secret: &str,
    key: &super::redact::LabelKey,
) -> std::path::PathBuf {
    let mut text = launch.app.user.as_bytes().to_vec();
    for s in &launch.app.secrets {
        text.push(0);
        text.extend_from_slice(s.name.as_bytes());
        text.push(b'=');
        text.extend_from_slice(s.hash.as_deref().unwrap_or("").as_bytes());
    }
    dir.join(&launch.name).join(key.tag(&text)).join(secret)
}

/// Splits `conteneurX_command` into words as a POSIX shell would, without
/// running one: blanks separate words, `'…'` keeps its content literally,
/// `"…"` keeps blanks (`\` escapes `"`, `\`, `$` and `` ` `` there), `\`
/// outside quotes escapes the next character. Nothing is expanded.
pub fn split_command(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("a single quote (') is not closed".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err("a double quote (\") is not closed".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("a double quote (\") is not closed".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => cur.push(c),
                    None => return Err("it ends with a lone backslash (\\)".into()),
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// What the checks need of one container, from a launch plan or from the
/// values.
pub struct Unit<'a> {
    pub index: u32,
    pub name: &'a str,
    pub backend: &'a str,
    pub app: &'a App,
    pub health_command: bool,
}

impl<'a> Unit<'a> {
    pub fn of(l: &'a Launch) -> Unit<'a> {
        Unit {
            index: l.index,
            name: &l.name,
            backend: &l.backend,
            app: &l.app,
            health_command: l.health.command.is_some(),
        }
    }
}

/// The settings of an application an engine other than Docker cannot take,
/// and why.
fn refused_settings(u: &Unit<'_>, kind: Kind) -> Option<(&'static str, String)> {
    let why_net = match kind {
        Kind::Lxc => {
            "an LXC container has only its own loopback here: it cannot join a private network"
        }
        Kind::Vm => "a VM has only QEMU's user network here: it cannot join a private network",
        _ => "a snap runs on the host's network: it cannot join a private network",
    };
    let a = u.app;
    let not_yet = |s: &'static str| (s, format!("not supported on {kind} by conteneur yet"));
    if let Some(n) = a.networks.first() {
        return Some(("networks", format!("{why_net} (found '{n}')")));
    }
    if !a.secrets.is_empty() {
        return Some(not_yet("secrets"));
    }
    if !a.command.is_empty() {
        return Some(not_yet("command"));
    }
    if !a.user.is_empty() {
        return Some(not_yet("user"));
    }
    if u.health_command {
        return Some(not_yet("health_command"));
    }
    if a.read_only {
        return Some(not_yet("read_only"));
    }
    if !a.tmpfs.is_empty() {
        return Some(not_yet("tmpfs"));
    }
    None
}

/// Every check of the application settings, each error naming the
/// container and the setting. `names` are every configured container.
pub fn check_units(units: &[Unit<'_>]) -> Vec<PlanError> {
    let mut out = Vec::new();
    let names: HashSet<&str> = units.iter().map(|u| u.name).collect();
    for u in units {
        if let Some(kind) = Kind::of_type(u.backend)
            && kind != Kind::Docker
            && let Some((setting, why)) = refused_settings(u, kind)
        {
            out.push(PlanError::AppSetting {
                name: u.name.to_string(),
                variable: format!("conteneur{}_{setting}", u.index),
                why,
            });
        }
        for dep in &u.app.depends_on {
            if !names.contains(dep.as_str()) {
                out.push(PlanError::UnknownDependency {
                    name: u.name.to_string(),
                    variable: format!("conteneur{}_depends_on", u.index),
                    dependency: dep.clone(),
                });
            }
        }
        for s in &u.app.secrets {
            if s.hash.is_none() {
                out.push(PlanError::UnknownSecret {
                    name: u.name.to_string(),
                    secret: s.name.clone(),
                });
            }
        }
        if let Err(reason) = u.app.command.words() {
            out.push(PlanError::AppSetting {
                name: u.name.to_string(),
                variable: format!("conteneur{}_command", u.index),
                why: format!("cannot be split into words: {reason}"),
            });
        }
    }
    if let Some(cycle) = find_cycle(units) {
        out.push(PlanError::DependencyCycle {
            variables: cycle
                .iter()
                .skip(1)
                .filter_map(|n| units.iter().find(|u| u.name == *n))
                .map(|u| format!("conteneur{}_depends_on", u.index))
                .collect(),
            cycle: cycle
                .iter()
                .map(|n| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(" → "),
        });
    }
    out
}

/// The first dependency cycle, as names from a container back to itself.
fn find_cycle(units: &[Unit<'_>]) -> Option<Vec<String>> {
    let deps: HashMap<&str, &[String]> = units
        .iter()
        .map(|u| (u.name, u.app.depends_on.as_slice()))
        .collect();
    // 0 unseen, 1 on the current path, 2 done.
    let mut state: HashMap<&str, u8> = HashMap::new();
    fn visit<'a>(
        n: &'a str,
        deps: &HashMap<&'a str, &'a [String]>,
        state: &mut HashMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let from = path.iter().position(|p| *p == n).unwrap_or(0);
                let mut c: Vec<String> = path[from..].iter().map(|s| s.to_string()).collect();
                c.push(n.to_string());
                return Some(c);
            }
            _ => {}
        }
        state.insert(n, 1);
        path.push(n);
        for d in deps.get(n).copied().unwrap_or(&[]) {
            if deps.contains_key(d.as_str())
                && let Some(c) = visit(d, deps, state, path)
            {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n, 2);
        None
    }
    for u in units {
        let mut path = Vec::new();
        if let Some(c) = visit(u.name, &deps, &mut state, &mut path) {
            return Some(c);
        }
    }
    None
}

/// The launch plans checked: the first error, if any.
pub fn check(desired: &[Launch]) -> Result<(), PlanError> {
    let units: Vec<Unit<'_>> = desired.iter().map(Unit::of).collect();
    match check_units(&units).into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The containers in start order: each after the ones it depends on, else
/// in configuration order. Assumes [`check`] passed (no cycle).
/// The waves, as the plan gives them to the executor: each container →
/// the containers it depends on (`depends_on`), whose steps end (healthy)
/// before its own starts.
pub fn waits(desired: &[Launch]) -> BTreeMap<String, Vec<String>> {
    desired
        .iter()
        .filter(|l| !l.app.depends_on.is_empty())
        .map(|l| (l.name.clone(), l.app.depends_on.clone()))
        .collect()
}

pub fn start_order(desired: &[Launch]) -> Vec<&Launch> {
    let by_name: HashMap<&str, &Launch> = desired.iter().map(|l| (l.name.as_str(), l)).collect();
    let mut done: HashSet<&str> = HashSet::new();
    let mut out = Vec::with_capacity(desired.len());
    fn visit<'a>(
        l: &'a Launch,
        by_name: &HashMap<&str, &'a Launch>,
        done: &mut HashSet<&'a str>,
        out: &mut Vec<&'a Launch>,
    ) {
        if !done.insert(l.name.as_str()) {
            return;
        }
        for d in &l.app.depends_on {
            if let Some(dep) = by_name.get(d.as_str()) {
                visit(dep, by_name, done, out);
            }
        }
        out.push(l);
    }
    for l in desired {
        visit(l, &by_name, &mut done, &mut out);
    }
    out
}

/// Our network `net` on Docker, if it exists.
fn observed_network<'a>(
    observed: &'a Observed,
    server: &str,
    net: &str,
) -> Option<&'a ObservedResource> {
    observed.networks.iter().find(|n| {
        n.backend == Kind::Docker
            && n.is_ours(server)
            && n.labels.get(labels::NETWORK).map(String::as_str) == Some(net)
    })
}

/// The private networks the configuration needs, each with the containers
/// using it, in order of first use.
fn wanted_networks(desired: &[Launch]) -> Vec<(&str, Vec<&str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for d in desired {
        for n in &d.app.networks {
            match out.iter_mut().find(|(name, _)| name == n) {
                Some((_, users)) => users.push(&d.name),
                None => out.push((n, vec![&d.name])),
            }
        }
    }
    out
}

/// Network steps: (creates, which go before any container step; removes,
/// which go after every container step).
pub fn network_steps(
    desired: &[Launch],
    observed: &Observed,
    server: &str,
) -> Result<(Vec<Step>, Vec<Step>), PlanError> {
    let wanted = wanted_networks(desired);
    let mut creates = Vec::new();
    for (net, users) in &wanted {
        if observed_network(observed, server, net).is_some() {
            continue;
        }
        let engine_name = network_name(server, net);
        if let Some(foreign) = observed.networks.iter().find(|n| n.name == engine_name) {
            return Err(PlanError::NetworkClash {
                network: net.to_string(),
                engine_name,
                id: crate::plan::observed::short_id(&foreign.id).to_string(),
            });
        }
        creates.push(Step {
            action: Action::CreateNetwork {
                network: net.to_string(),
                engine_name,
                backend: Kind::Docker,
            },
            cause: format!("used by {}", users.join(", ")),
        });
    }
    // A replaced container left to drain (its container still configured)
    // keeps its networks until its drainer stops it: the engine refuses to
    // remove a network with a container on it. The run after removes them.
    let draining: HashSet<String> = observed
        .containers
        .iter()
        .filter(|c| c.is_ours(server) && c.is_old() && observed.draining.contains_key(&c.id))
        .filter(|c| desired.iter().any(|d| d.name == super::old_base(&c.name)))
        .filter_map(|c| c.labels.get(labels::PLAN))
        .filter_map(|t| serde_json::from_str::<Launch>(t).ok())
        .flat_map(|l| l.app.networks)
        .collect();
    let mut removes = Vec::new();
    // Only the networks labelled with their configuration name: the
    // swarm's overlay networks (on the same engine, ours too) are not.
    for n in observed.networks.iter().filter(|n| n.is_ours(server)) {
        let Some(net) = n.labels.get(labels::NETWORK).cloned() else {
            continue;
        };
        if wanted.iter().any(|(w, _)| *w == net) || draining.contains(&net) {
            continue;
        }
        removes.push(Step {
            action: Action::RemoveNetwork {
                network: net,
                id: n.id.clone(),
                backend: n.backend,
            },
            cause: "no container uses it any more".into(),
        });
    }
    Ok((creates, removes))
}

/// A network of `d` that must be created although `d` runs already: its
/// container must be made again to join it.
pub fn missing_network<'a>(d: &'a Launch, observed: &Observed, server: &str) -> Option<&'a str> {
    d.app
        .networks
        .iter()
        .find(|n| observed_network(observed, server, n).is_none())
        .map(String::as_str)
}

/// The `lint` (and `set`) side of [`check`]: the same checks on the
/// values, each as a problem naming its variable.
pub fn lint(cfg: &crate::config::Config) -> Vec<crate::config::Problem> {
    use crate::config::{Problem, ProblemKind, Severity};
    let first = |name: &str| cfg.first(name).filter(|s| !s.is_empty());
    let items = |name: &str| -> Vec<String> {
        cfg.get(name)
            .ok()
            .map(|v| {
                v.items()
                    .into_iter()
                    .flatten()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let declared: HashSet<String> = items("conteneur_secret_name").into_iter().collect();
    let count: u32 = first("nombre_conteneur")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
        .min(crate::dico::MAX_INSTANCES as u32);
    let mut rows: Vec<(u32, String, String, App, bool)> = Vec::new();
    for x in 1..=count {
        let p = |f: &str| format!("conteneur{x}_{f}");
        let Some(name) = first(&p("name")) else {
            continue;
        };
        let app = App {
            networks: items(&p("networks")),
            depends_on: items(&p("depends_on")),
            command: first(&p("command")).map(Command::new).unwrap_or_default(),
            user: first(&p("user")).unwrap_or_default(),
            read_only: first(&p("read_only")).as_deref() == Some("oui"),
            tmpfs: items(&p("tmpfs")),
            secrets: items(&p("secrets"))
                .into_iter()
                .map(|name| super::launch::SecretRef {
                    hash: declared.contains(&name).then(String::new),
                    name,
                })
                .collect(),
            ..App::default()
        };
        let health = first(&p("health_command")).is_some();
        let backend = first(&p("type")).unwrap_or_else(|| "docker".into());
        rows.push((x, name, backend, app, health));
    }
    let units: Vec<Unit<'_>> = rows
        .iter()
        .map(|(x, name, backend, app, health)| Unit {
            index: *x,
            name,
            backend,
            app,
            health_command: *health,
        })
        .collect();
    let mut out = Vec::new();
    // Under swarm the docker containers are services: the settings Swarm
    // services do not take are refused as `plan` refuses them.
    if first("conteneur_orchestrator").as_deref() == Some("swarm") {
        for u in units
            .iter()
            .filter(|u| Kind::of_type(u.backend) == Some(Kind::Docker))
        {
            if let Some((setting, why)) = super::swarm::unsupported(u.app) {
                let e = super::swarm::SwarmPlanError::Unsupported {
                    name: u.name.to_string(),
                    variable: format!("conteneur{}_{setting}", u.index),
                    why: why.into(),
                };
                out.push(Problem {
                    severity: Severity::Error,
                    kind: ProblemKind::Unsupported,
                    variable: Some(format!("conteneur{}_{setting}", u.index)),
                    loc: None,
                    message: e.to_string(),
                });
            }
        }
    }
    for e in check_units(&units) {
        let variables = match &e {
            PlanError::AppSetting { variable, .. }
            | PlanError::UnknownDependency { variable, .. } => vec![variable.clone()],
            PlanError::DependencyCycle { variables, .. } => variables.clone(),
            PlanError::UnknownSecret { name, .. } => units
                .iter()
                .find(|u| u.name == name)
                .map(|u| vec![format!("conteneur{}_secrets", u.index)])
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let kind = if matches!(e, PlanError::AppSetting { .. }) {
            ProblemKind::Unsupported
        } else {
            ProblemKind::Value
        };
        let message = e.to_string();
        // A cycle names every variable in it: `set` refuses the value that
        // closes it, whichever it is.
        for v in variables {
            out.push(Problem {
                severity: Severity::Error,
                kind,
                variable: Some(v),
                loc: None,
                message: message.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::{images, launch, running};
    use super::super::{Options, reconcile};
    use super::*;
    use crate::plan::launch::SecretRef;

    const SERVER: &str = "/srv/test";

    fn opts() -> Options {
        Options {
            server: SERVER.into(),
            ..Default::default()
        }
    }

    /// wordpress (published, on wp, after db) and db (no port, on wp).
    fn pair() -> Vec<Launch> {
        let mut db = launch("db", "10.11");
        db.image = "localhost:5000/apps/mariadb".into();
        db.ports.clear();
        db.health.port = None;
        db.app.networks = vec!["wp".into()];
        db.index = 2;
        let mut wp = launch("wordpress", "6.1");
        wp.image = "localhost:5000/apps/wordpress".into();
        wp.app.networks = vec!["wp".into()];
        wp.app.depends_on = vec!["db".into()];
        // Configured first, started second.
        vec![wp, db]
    }

    fn ours(
        mut c: crate::plan::observed::ObservedContainer,
    ) -> crate::plan::observed::ObservedContainer {
        c.labels.insert(labels::SERVER.into(), SERVER.into());
        c
    }

    fn network(net: &str) -> ObservedResource {
        ObservedResource {
            backend: Kind::Docker,
            // A hex id, as Docker's, shown short.
            id: format!("{:x}0123456789abcdef", net.len()),
            name: network_name(SERVER, net),
            labels: network_labels(SERVER, net),
        }
    }

    /// The pair running (ids wwww and dddd), its images present, and
    /// `networks`.
    fn running_pair(
        pair: &[Launch],
        more_images: &[&str],
        networks: Vec<ObservedResource>,
    ) -> Observed {
        let mut refs = vec![
            "localhost:5000/apps/wordpress:6.1",
            "localhost:5000/apps/mariadb:10.11",
        ];
        refs.extend_from_slice(more_images);
        Observed {
            containers: vec![
                ours(running(&pair[0], "wwww")),
                ours(running(&pair[1], "dddd")),
            ],
            images: images(&refs),
            networks,
            ..Default::default()
        }
    }

    /// The plan's text, without the engine names (they hash the server).
    fn text(plan: &super::super::Plan) -> String {
        plan.to_string()
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_fresh_pair_creates_its_network_then_the_database_then_the_site() {
        let plan = reconcile(&pair(), &Observed::default(), &opts()).unwrap();
        let wp = network_name(SERVER, "wp");
        assert_eq!(
            text(&plan),
            format!(
                "pull localhost:5000/apps/wordpress:6.1 for docker not present on this server\n\
                 pull localhost:5000/apps/mariadb:10.11 for docker not present on this server\n\
                 create network wp ({wp}) on docker used by wordpress, db\n\
                 create db on docker not running yet\n\
                 create wordpress on docker not running yet [after db]"
            )
        );
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(json["steps"][2]["action"], "create-network");
        assert_eq!(json["steps"][2]["engine_name"], wp.as_str());
    }

    #[test]
    fn the_swarms_overlay_networks_are_not_the_local_plans() {
        // Ours (managed, this server) but without a configuration name:
        // made by the swarm side (plan::swarm), which removes its own.
        let mut overlay = network("x");
        overlay.name = "wp".into();
        overlay.labels.remove(labels::NETWORK);
        let pair = pair();
        let observed = running_pair(&pair, &[], vec![network("wp"), overlay]);
        let plan = reconcile(&pair, &observed, &opts()).unwrap();
        assert!(!text(&plan).contains("remove"), "{}", text(&plan));
    }

    #[test]
    fn a_removed_application_loses_its_containers_then_its_network() {
        let pair = pair();
        let observed = running_pair(&pair, &[], vec![network("wp"), network("old")]);
        // Unchanged: only the network nobody uses goes.
        let plan = reconcile(&pair, &observed, &opts()).unwrap();
        assert_eq!(
            text(&plan),
            "leave db (dddd) on docker unchanged\n\
             leave wordpress (wwww) on docker unchanged [ports 8080→38080]\n\
             remove network old (30123456789a) on docker no container uses it any more"
        );
        let plan = reconcile(&[], &observed, &opts()).unwrap();
        assert_eq!(
            text(&plan),
            "remove wordpress (wwww) on docker no longer in the configuration (its volumes and folders are kept)\n\
             remove db (dddd) on docker no longer in the configuration (its volumes and folders are kept)\n\
             remove network wp (20123456789a) on docker no container uses it any more\n\
             remove network old (30123456789a) on docker no container uses it any more"
        );
    }

    #[test]
    fn a_draining_instance_keeps_its_network_unless_its_container_is_gone() {
        let pair = pair();
        let mut observed = running_pair(&pair, &[], vec![network("wp")]);
        let mut old = ours(running(&pair[0], "oooo"));
        old.name = crate::plan::observed::old_name("wordpress", "oooo");
        observed.containers.push(old);
        observed.draining.insert("oooo".into(), 25);
        // wordpress moves off the network while its old instance drains on
        // it: the network stays until the drainer stopped it.
        let mut moved = pair.clone();
        moved[0].app.networks.clear();
        moved[1].app.networks = vec!["db".into()];
        let plan = reconcile(&moved, &observed, &opts()).unwrap();
        let t = text(&plan);
        assert!(t.contains("leave wordpress.old.oooo"), "{t}");
        assert!(!t.contains("remove network wp"), "{t}");
        // The whole application removed: nothing to drain to, the old
        // instance goes now and the network after it.
        let plan = reconcile(&[], &observed, &opts()).unwrap();
        let t = text(&plan);
        assert!(
            t.contains("remove wordpress.old.oooo (oooo) on docker replaced, and no longer in the configuration"),
            "{t}"
        );
        assert!(t.contains("remove network wp"), "{t}");
    }

    #[test]
    fn a_new_database_tag_replaces_only_the_database() {
        let pair = pair();
        let observed = running_pair(
            &pair,
            &["localhost:5000/apps/mariadb:10.11b"],
            vec![network("wp")],
        );
        let mut next = pair.clone();
        next[1].tag = "10.11b".into();
        let plan = reconcile(&next, &observed, &opts()).unwrap();
        assert_eq!(
            text(&plan),
            "replace db (dddd) on docker tag 10.11 → 10.11b\n\
             (in-wave):\n\
             1. create-next db.next\n\
             2. wait-healthy started, healthy (else removed, and the old one as it was)\n\
             3. stop-old db (dddd) stops\n\
             4. remove-old db (dddd) goes\n\
             5. rename-next db.next → db\n\
             leave wordpress (wwww) on docker unchanged [ports 8080→38080]"
        );
        // A network deleted behind conteneur's back: created again, and
        // the containers on it made again to join it.
        let observed = Observed {
            networks: vec![],
            ..observed
        };
        let plan = reconcile(&pair, &observed, &opts()).unwrap();
        let t = text(&plan);
        assert!(t.contains("create network wp"), "{t}");
        assert!(
            t.contains("replace db (dddd) on docker its network wp is missing"),
            "{t}"
        );
    }

    #[test]
    fn cycles_unknown_dependencies_and_engines_are_refused() {
        let mut p = pair();
        p[1].app.depends_on = vec!["wordpress".into()];
        let e = reconcile(&p, &Observed::default(), &opts()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the containers 'wordpress' → 'db' → 'wordpress' depend on each other in a cycle, so none can start first; \
             remove one of these dependencies (conteneur2_depends_on, conteneur1_depends_on)"
        );
        let mut p = pair();
        p[0].app.depends_on = vec!["mysql".into()];
        let e = reconcile(&p, &Observed::default(), &opts()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "container 'wordpress': conteneur1_depends_on names 'mysql', which is not a configured container (conteneurN_name)"
        );
        let mut p = pair();
        p[1].backend = "lxc".into();
        let e = reconcile(&p, &Observed::default(), &opts()).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "container 'db': conteneur2_networks: an LXC container has only its own loopback here"
            ),
            "{e}"
        );
        let mut p = pair();
        p[1].app.secrets = vec![SecretRef {
            name: "db_password".into(),
            hash: None,
        }];
        let e = reconcile(&p, &Observed::default(), &opts()).unwrap_err();
        assert!(
            e.to_string()
                .contains("the secret 'db_password' is not declared"),
            "{e}"
        );
    }

    #[test]
    fn a_secret_counts_by_its_hash_only() {
        let mut p = pair();
        p[1].app.secrets = vec![SecretRef {
            name: "db_password".into(),
            hash: Some("h1".into()),
        }];
        let key = super::super::redact::LabelKey::default();
        // The label holds the hash sealed with the server's key.
        let before = super::super::plan_text(&p[1], &key);
        assert!(before.contains("\"hash\":\"hmac-sha256:"), "{before}");
        assert!(!before.contains("\"h1\""), "{before}");
        let h1 = super::super::plan_hash(&p[1], &key);
        p[1].app.secrets[0].hash = Some("h2".into());
        assert_ne!(h1, super::super::plan_hash(&p[1], &key));
        // A changed value replaces the container, saying only that.
        let mut old = p[1].clone();
        old.app.secrets[0].hash = Some("h1".into());
        let observed = Observed {
            containers: vec![ours(running(&old, "dddd"))],
            images: images(&["localhost:5000/apps/mariadb:10.11"]),
            networks: vec![network("wp")],
            ..Default::default()
        };
        let plan = reconcile(&p[1..], &observed, &opts()).unwrap();
        assert_eq!(
            text(&plan),
            "replace db (dddd) on docker secrets changed\n\
             (in-wave):\n\
             1. create-next db.next\n\
             2. wait-healthy started, healthy (else removed, and the old one as it was)\n\
             3. stop-old db (dddd) stops\n\
             4. remove-old db (dddd) goes\n\
             5. rename-next db.next → db"
        );
        // A lone container's plan is what it was before applications.
        let lone = launch("a", "1.0");
        assert!(!super::super::plan_text(&lone, &key).contains("\"app\""));
    }

    #[test]
    fn the_secret_folder_is_named_with_the_server_s_key() {
        use sha2::{Digest, Sha256};
        let mut l = pair().remove(1);
        let hash = crate::template::context::secret_hash("db_password", "azerty");
        l.app.secrets = vec![SecretRef {
            name: "db_password".into(),
            hash: Some(hash.clone()),
        }];
        let dir = std::path::Path::new("/s");
        let folder_of = |l: &Launch, key: &super::super::redact::LabelKey| {
            let p = secret_path(dir, l, "db_password", key);
            assert_eq!(p.file_name().unwrap(), "db_password");
            let v = p.parent().unwrap();
            assert_eq!(v.parent().unwrap(), dir.join(&l.name));
            v.file_name().unwrap().to_string_lossy().into_owned()
        };
        let a = super::super::redact::LabelKey::new([7; 32]);
        let b = super::super::redact::LabelKey::new([8; 32]);
        let folder = |key: &super::super::redact::LabelKey| folder_of(&l, key);
        assert_eq!(folder(&a), folder(&a));
        assert_ne!(folder(&a), folder(&b));
        // Someone who reads the folder's name (docker inspect, mountinfo)
        // and guesses "azerty" cannot check the guess: without the key,
        // hashing the guess as the name used to be made gives another name.
        let mut h = Sha256::new();
        h.update(l.app.user.as_bytes());
        h.update(b"\0db_password=");
        h.update(hash.as_bytes());
        let unkeyed: String = h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_ne!(folder(&a), unkeyed);
        let zero = super::super::redact::LabelKey::default();
        assert_ne!(folder(&zero), unkeyed);
        // Another value is another folder.
        let mut other = l.clone();
        other.app.secrets[0].hash = Some("other".into());
        assert_ne!(folder(&a), folder_of(&other, &a));
    }

    #[test]
    fn commands_split_as_a_shell_would_without_expanding() {
        let ok = |s: &str| split_command(s).unwrap();
        assert_eq!(ok(""), Vec::<String>::new());
        assert_eq!(ok("  a  b\tc "), ["a", "b", "c"]);
        assert_eq!(ok("sh -c 'echo $HOME; ls'"), ["sh", "-c", "echo $HOME; ls"]);
        assert_eq!(ok(r#"say "a \"b\" c" d\ e"#), ["say", r#"a "b" c"#, "d e"]);
        assert_eq!(ok(r#""a\nb""#), [r"a\nb"]);
        assert_eq!(ok("''"), [""]);
        assert!(split_command("echo 'x").is_err());
        assert!(split_command("echo \"x").is_err());
        assert!(split_command("echo x\\").is_err());
    }

    #[test]
    fn network_names_are_per_server() {
        let a = network_name("/srv/a", "wp");
        assert!(a.starts_with("conteneur-") && a.ends_with("-wp"), "{a}");
        assert_ne!(a, network_name("/srv/b", "wp"));
    }
}
