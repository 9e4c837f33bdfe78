//! Why no plan can be made ([`PlanError`]), and the checks made on every
//! desired container before any step is planned: its type and the settings
//! its engine cannot take, its bind mounts, and the `lint` side of the type
//! check. Its own file because these checks read one container at a time
//! and never look at the engines, unlike [`super::reconcile`].

use super::launch::Launch;
use crate::plan::observed::Kind;

/// Why no plan can be made. Nothing has been changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "container '{name}': a container of that name already exists ({id}) and was not created by conteneur; \
         conteneur never touches it: rename or remove it (docker rm), or choose another name"
    )]
    NameClash { name: String, id: String },
    #[error(
        "container '{name}': a container of that name already exists ({id}), made by conteneur for \
         another server, the one under --root {root}; conteneur never touches another root's containers: \
         choose another name here, or remove the container from that server's configuration"
    )]
    OtherRoot {
        name: String,
        id: String,
        root: String,
    },
    #[error("container '{name}': type '{backend}' is not supported yet{hint}")]
    Unsupported {
        name: String,
        backend: String,
        hint: String,
    },
    #[error(transparent)]
    Mount(#[from] crate::mounts::MountError),
    #[error("two containers are named '{0}'")]
    DuplicateName(String),
    #[error("container '{name}': type '{backend}' {expected}, found {found}")]
    Setting {
        name: String,
        backend: String,
        expected: String,
        found: String,
    },
    #[error(
        "container '{name}': the snap '{snap}' is already installed and conteneur did not install it for this container \
         ({owner}); conteneur never touches it: remove it (snap remove {snap}) or choose another snap"
    )]
    SnapTaken {
        name: String,
        snap: String,
        owner: String,
    },
    #[error(
        "container '{name}': switching from {from} to {to} would leave the data of its volume '{volume}' behind \
         (a volume belongs to one engine); share a host folder (an absolute path) instead, or switch by hand"
    )]
    VolumeSwitch {
        name: String,
        from: Kind,
        to: Kind,
        volume: String,
    },
    #[error(
        "container '{name}': the volume '{volume}' belongs to another server, the one under --root {root} \
         (its data is that server's: a database there was initialised with that server's passwords); \
         conteneur never uses another root's volume: choose another volume name (conteneurX_mountpoint_out) \
         here, or remove the volume from that server first (docker volume rm {volume}, its data is lost)"
    )]
    VolumeOtherRoot {
        name: String,
        volume: String,
        root: String,
    },
    #[error(
        "container '{name}': the volume '{volume}' exists and was not created by conteneur for this server; \
         its data is not known to be this server's: set conteneur_adopt_volumes to oui to use it as it is, \
         or choose another volume name (conteneurX_mountpoint_out)"
    )]
    VolumeNotOurs { name: String, volume: String },
    #[error("container '{name}': {variable}: {why}")]
    AppSetting {
        name: String,
        variable: String,
        why: String,
    },
    #[error(
        "container '{name}': {variable} names '{dependency}', which is not a configured container (conteneurN_name)"
    )]
    UnknownDependency {
        name: String,
        variable: String,
        dependency: String,
    },
    #[error(
        "the containers {cycle} depend on each other in a cycle, so none can start first; remove one of these dependencies ({})",
        .variables.join(", ")
    )]
    DependencyCycle {
        cycle: String,
        variables: Vec<String>,
    },
    #[error(
        "container '{name}': the secret '{secret}' is not declared: add it to conteneur_secret_name"
    )]
    UnknownSecret { name: String, secret: String },
    #[error(
        "network '{network}': a network named {engine_name} ({id}) already exists and was not created by conteneur for this server; \
         conteneur never touches it: remove it (docker network rm) or choose another network name"
    )]
    NetworkClash {
        network: String,
        engine_name: String,
        id: String,
    },
    #[error(
        "container '{name}': where the tag '{tag}' of {repository} points is unknown (the repository was not read)"
    )]
    UnknownSource {
        name: String,
        repository: String,
        tag: String,
    },
}

/// Checks the host folder `host` of a bind mount of `launch` as text (see
/// [`crate::mounts`]): absolute, and not a protected folder once
/// normalised. Where it really leads is checked at use time
/// ([`crate::mounts::resolve`]).
pub fn check_mount(launch: &Launch, host: &str, allow_system: bool) -> Result<(), PlanError> {
    crate::mounts::check(mount_given(launch, host), allow_system)?;
    Ok(())
}

/// Refuses a bind mount's host folder that lies inside another one's, of
/// any container of `desired` (the text, normalised: where the folders
/// really lead is checked by the run, [`crate::mounts::check_nested`]).
pub fn check_nested_mounts(desired: &[Launch]) -> Result<(), PlanError> {
    let binds: Vec<_> = desired
        .iter()
        .flat_map(|d| {
            d.mounts
                .iter()
                .filter(|m| m.kind == super::launch::MountKind::Bind)
                .filter_map(move |m| {
                    crate::mounts::normalise(&m.host).map(|n| (mount_given(d, &m.host), n))
                })
        })
        .collect();
    crate::mounts::check_nested(&binds)?;
    Ok(())
}

/// The `lint` side of [`check_nested_mounts`], read from the configuration.
pub fn lint_nested_mounts(cfg: &crate::config::Config) -> Vec<crate::config::Problem> {
    use crate::config::{Problem, ProblemKind, Severity};
    let count: usize = cfg
        .first("nombre_conteneur")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut given: Vec<(String, u32, String)> = Vec::new();
    for x in 1..=count {
        let name = cfg
            .first(&format!("conteneur{x}_name"))
            .unwrap_or_else(|| format!("conteneur{x}"));
        let Ok(outs) = cfg.get(&format!("conteneur{x}_mountpoint_out")) else {
            continue;
        };
        for out in outs.present() {
            given.push((name.clone(), x as u32, out.to_string()));
        }
    }
    let binds: Vec<_> = given
        .iter()
        .filter_map(|(name, x, path)| {
            let g = crate::mounts::Given {
                container: name,
                index: *x,
                path,
            };
            crate::mounts::normalise(path).map(|n| (g, n))
        })
        .collect();
    match crate::mounts::check_nested(&binds) {
        Ok(()) => Vec::new(),
        Err(e) => vec![Problem {
            severity: Severity::Error,
            kind: ProblemKind::Value,
            variable: None,
            loc: None,
            message: e.to_string(),
        }],
    }
}

/// A bind mount of `launch`, as the mount checks name it.
pub fn mount_given<'a>(launch: &'a Launch, host: &'a str) -> crate::mounts::Given<'a> {
    crate::mounts::Given {
        container: &launch.name,
        index: launch.index,
        path: host,
    }
}

/// The hint given for a type conteneur cannot run.
fn unsupported_hint(backend: &str) -> String {
    match backend {
        "snapcraft" => {
            ": it cannot be built on this system; choose docker, docker+git, lxc, snap or vm".into()
        }
        "vagrant" => VAGRANT_REFUSED.into(),
        _ => " by this version of conteneur; choose docker, docker+git, lxc, snap or vm".into(),
    }
}

/// Why `vagrant` is refused, and what to do instead (docs/vm.md, "Vagrant
/// boxes"): vagrant-libvirt brings up a box through a management network
/// (a host bridge, dnsmasq and NAT on a private range) and provisions it
/// over SSH; without both, which is the only way it runs here, a box is
/// just its disk, and that the `vm` type runs.
pub const VAGRANT_REFUSED: &str = ": vagrant-libvirt needs a management network (a host bridge, \
     dnsmasq and NAT on a private range) and provisions boxes over SSH, which conteneur does not \
     set up; a box's disk runs as conteneurX_type vm: put its box.img under /disk/ of a container \
     image (see docs/vm.md, \"Vagrant boxes\")";

/// Checks one container's type and the settings its engine cannot take.
/// Pure; [`super::reconcile`] calls it for every container before planning.
pub fn check_type(d: &Launch) -> Result<Kind, PlanError> {
    let Some(kind) = Kind::of_type(&d.backend) else {
        return Err(PlanError::Unsupported {
            name: d.name.clone(),
            backend: d.backend.clone(),
            hint: unsupported_hint(&d.backend),
        });
    };
    let setting = |expected: &str, found: String| PlanError::Setting {
        name: d.name.clone(),
        backend: d.backend.clone(),
        expected: expected.to_string(),
        found,
    };
    // A size that does not fit in 64 bits used to become "no limit".
    if d.memory.is_invalid() {
        return Err(setting(
            "expected a memory limit such as 512m or 1g that counts in bytes on 64 bits",
            format!("'{}'", d.memory),
        ));
    }
    if let Some(n) = d.cpus
        && matches!(kind, Kind::Lxc | Kind::Snap)
    {
        return Err(setting(
            "takes no CPU count (conteneurX_cpus is for docker and vm): expected it empty",
            format!("'{n}'"),
        ));
    }
    match d.backend.as_str() {
        "docker+git" if d.repository.trim().is_empty() => {
            return Err(setting(
                "is built from a git repository: expected its URL in conteneurX_repository",
                "none".into(),
            ));
        }
        "vm" => {
            if let Some(m) = d.mounts.first() {
                return Err(setting(
                    "cannot share host folders or volumes yet (a VM keeps its data on its disk): \
                     expected no mount",
                    format!("'{}'", m.container),
                ));
            }
            if let Some(e) = d.env.first() {
                return Err(setting(
                    "takes no environment (its guest is configured through its disk): expected none",
                    format!("'{e}'"),
                ));
            }
        }
        "snap" => {
            if !super::launch::valid_snap_name(&d.image) {
                return Err(setting(
                    "expected a snap name in conteneurX_url (lowercase letters, digits, '-')",
                    format!("'{}'", d.image),
                ));
            }
            if let Some(m) = d.mounts.first() {
                return Err(setting(
                    "cannot share folders (a snap keeps its data in /var/snap/NAME): expected no mount",
                    format!("'{}'", m.container),
                ));
            }
            if let Some(e) = d.env.first() {
                return Err(setting(
                    "takes no environment (a snap is configured with snap set): expected none",
                    format!("'{e}'"),
                ));
            }
        }
        _ => {}
    }
    Ok(kind)
}

/// The `lint` side of [`check_type`]: every configured container whose
/// type conteneur cannot run (snapcraft, vagrant), as a problem naming the
/// container, so that the admin hears it before any run.
pub fn lint_types(cfg: &crate::config::Config) -> Vec<crate::config::Problem> {
    use crate::config::{Problem, ProblemKind, Severity};
    let first = |name: &str| cfg.first(name);
    let count: usize = first("nombre_conteneur")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut out = Vec::new();
    for x in 1..=count {
        let var = format!("conteneur{x}_type");
        let Some(t) = first(&var) else { continue };
        if Kind::of_type(&t).is_some() {
            continue;
        }
        let name = first(&format!("conteneur{x}_name")).unwrap_or_else(|| format!("conteneur{x}"));
        out.push(Problem {
            severity: Severity::Error,
            kind: ProblemKind::Unsupported,
            variable: Some(var),
            loc: None,
            message: format!(
                "container '{name}': type '{t}' is not supported yet{}",
                unsupported_hint(&t)
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::{launch, on};
    use super::super::{Options, reconcile};
    use super::*;
    use crate::plan::launch::{Mount, MountKind};
    use crate::plan::observed::Observed;

    #[test]
    fn system_mounts_and_unsupported_types_are_refused() {
        let mut a = launch("a", "1.0");
        for bad in [
            "/",
            "/etc",
            "/etc/ssl",
            "/var/run/docker.sock",
            "/var",
            "/srv/../etc",
            "//etc",
            "/./etc",
            "/etc/../etc",
            "/home",
            "/var/log",
        ] {
            a.mounts = vec![Mount {
                container: "/data".into(),
                host: bad.into(),
                kind: MountKind::Bind,
            }];
            assert!(
                reconcile(
                    std::slice::from_ref(&a),
                    &Observed::default(),
                    &Options::default()
                )
                .is_err(),
                "{bad}"
            );
        }
        a.mounts[0].host = "/srv/a".into();
        assert!(
            reconcile(
                std::slice::from_ref(&a),
                &Observed::default(),
                &Options::default()
            )
            .is_ok()
        );
        a.mounts[0].host = "/etc".into();
        let allow = Options {
            allow_system_mounts: true,
            ..Default::default()
        };
        assert!(reconcile(std::slice::from_ref(&a), &Observed::default(), &allow).is_ok());
        let mut v = launch("v", "1.0");
        v.backend = "vagrant".into();
        let e = reconcile(&[v], &Observed::default(), &Options::default()).unwrap_err();
        assert!(
            e.to_string()
                .contains("container 'v': type 'vagrant' is not supported yet"),
            "{e}"
        );
    }

    #[test]
    fn a_memory_limit_past_64_bits_is_refused_not_dropped() {
        let mut a = launch("a", "1.0");
        a.memory = "512m".into();
        assert!(check_type(&a).is_ok());
        a.memory = "99999999999999999999g".into();
        let e = check_type(&a).unwrap_err().to_string();
        assert!(
            e.contains("container 'a'") && e.contains("'99999999999999999999g'"),
            "{e}"
        );
    }

    #[test]
    fn snapcraft_and_vagrant_name_the_container() {
        let v = on(launch("legacy", "1"), "snapcraft");
        assert_eq!(
            check_type(&v).unwrap_err().to_string(),
            "container 'legacy': type 'snapcraft' is not supported yet: it cannot be built on this \
             system; choose docker, docker+git, lxc, snap or vm"
        );
        let v = on(launch("legacy", "1"), "vagrant");
        let e = check_type(&v).unwrap_err().to_string();
        assert!(
            e.starts_with("container 'legacy': type 'vagrant' is not supported yet: vagrant-libvirt needs a management network")
                && e.contains("runs as conteneurX_type vm"),
            "{e}"
        );
    }

    #[test]
    fn a_vm_is_a_type_without_mounts_or_environment() {
        let mut v = on(launch("guest", "1.0"), "vm");
        assert_eq!(check_type(&v).unwrap(), Kind::Vm);
        v.env = vec!["A=1".into()];
        let e = check_type(&v).unwrap_err().to_string();
        assert!(
            e.contains("container 'guest'") && e.contains("'A=1'"),
            "{e}"
        );
        v.env.clear();
        v.mounts = vec![Mount {
            container: "/data".into(),
            host: "/srv/data".into(),
            kind: MountKind::Bind,
        }];
        let e = check_type(&v).unwrap_err().to_string();
        assert!(e.contains("host folders") && e.contains("'/data'"), "{e}");
    }
}
