//! Host folders handed to containers (bind mounts): which ones are refused,
//! and how the path given becomes the folder the engine mounts.
//!
//! Comparing the text was not enough: `//etc`, `/./etc` and `/etc/../etc`
//! name `/etc`, and a symbolic link made under the root after `set` handed
//! the host's real `/etc` to a container. So a path is checked at three
//! depths:
//!
//! 1. [`check`] (plan, export; pure): the path is normalised lexically (`//`,
//!    `.` and `..` folded) and refused when it is, holds or lies inside a
//!    [`PROTECTED`] folder;
//! 2. [`resolve`] (before any change, and again right before the container
//!    is created): every symbolic link of the part that exists is followed
//!    as the engine will follow it, and the real folder must lie under the
//!    server's root and pass the same rule;
//! 3. [`prepare`] (right before the container is created): the missing
//!    folders are created from the root down without following any link
//!    ([`crate::folders::create_beneath`]), and the engine is given the
//!    resolved path, not the one written in the configuration.
//!
//! The folders are relative to the server's root (`--root`, `/` on a real
//! server): `/etc` means `ROOT/etc`. `conteneur_allow_system_mounts = oui`
//! lifts the rule on protected folders, never the one on the root.

use std::path::{Path, PathBuf};

/// Folders no container gets, nor any folder that holds one or lies inside
/// one, unless `conteneur_allow_system_mounts` is `oui`. Listed in
/// docs/security.md.
const PROTECTED: &[&str] = &[
    // The system itself.
    "/etc",
    "/boot",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    // The kernel's views and the devices.
    "/proc",
    "/sys",
    "/dev",
    // Sockets (the Docker engine's among them) and pid files.
    "/run",
    "/var/run",
    // People's files.
    "/root",
    "/home",
    // Engines' data: a container given them owns every other container.
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/lxc",
    "/var/lib/lxcfs",
    "/var/lib/snapd",
    "/snap",
    // conteneur's own state (launch plans with secrets, the label key).
    "/var/lib/conteneur",
    // The package manager's records.
    "/var/lib/dpkg",
    "/var/lib/apt",
    // Scheduled jobs run as root, and the logs an intrusion would erase.
    "/var/spool/cron",
    "/var/log",
];

/// How a path stands to a protected folder.
fn relation(path: &str) -> Option<(&'static str, &'static str)> {
    for f in PROTECTED {
        if path == *f {
            return Some((f, "it is"));
        }
        if path.strip_prefix(f).is_some_and(|r| r.starts_with('/')) {
            return Some((f, "it lies inside"));
        }
    }
    PROTECTED
        .iter()
        .find(|f| path == "/" || f.strip_prefix(path).is_some_and(|r| r.starts_with('/')))
        .map(|f| (*f, "it holds"))
}

/// The protected folder that `path` (normalised) is, holds or lies inside.
#[cfg(test)]
fn protected(path: &str) -> Option<&'static str> {
    relation(path).map(|(f, _)| f)
}

/// Characters the engines' mount syntax cannot carry (the dictionary
/// refuses them in `conteneurX_mountpoint_out` already).
fn unsafe_in_mount(c: char) -> bool {
    c.is_whitespace() || c.is_control() || "'\"`;{}$\\:".contains(c)
}

/// `path` folded lexically: one `/` between components, `.` dropped, `..`
/// taking the previous component away (at the top it stays at `/`, as the
/// kernel does). `None` for a path that is not absolute.
pub fn normalise(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// The bind mount checked: for messages, the container, the variable that
/// gave the path and the path as given.
#[derive(Debug, Clone, Copy)]
pub struct Given<'a> {
    pub container: &'a str,
    /// The container's index X (its variables are `conteneurX_*`).
    pub index: u32,
    pub path: &'a str,
}

impl Given<'_> {
    fn variable(&self) -> String {
        format!("conteneur{}_mountpoint_out", self.index)
    }
}

/// Why a host folder is not handed to a container. Nothing was created.
/// (Boxed: it travels inside every error of a run.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MountError(Box<Refusal>);

/// A refused host folder: the container, the variable that gave the path,
/// the path as given, where it leads, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub name: String,
    pub variable: String,
    pub given: String,
    /// The folder the path leads to (normalised, links followed as far as
    /// they were).
    pub resolved: String,
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Not an absolute path.
    Relative,
    /// It is (`relation`), holds or lies inside the protected `folder`.
    System {
        relation: &'static str,
        folder: &'static str,
    },
    /// It leads out of the server's root.
    Outside { root: String },
    /// The file system refused (a link that leads nowhere, a file on the
    /// way, no right to create the folder).
    Folder { message: String },
    /// It lies inside the host folder of another bind mount (`relation`
    /// "lies inside"), or holds one ("holds"): the container given the
    /// outer one can put a symbolic link where the inner one is, and the
    /// engine follows it at the next start of the other.
    Nested {
        relation: &'static str,
        /// The other mount: its container, variable, path as given, and
        /// where it leads.
        other: Box<(String, String, String, String)>,
    },
}

#[cfg(test)]
impl MountError {
    pub fn refusal(&self) -> &Refusal {
        &self.0
    }

    pub fn problem(&self) -> &Problem {
        &self.0.problem
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Refusal {
            name,
            variable,
            given,
            resolved,
            problem,
        } = self;
        write!(f, "container '{name}': {variable} '{given}'")?;
        match problem {
            Problem::Relative => write!(f, ": a host folder must be an absolute path"),
            Problem::System { relation, folder } => write!(
                f,
                " (resolves to '{resolved}') would expose the system to the container: \
                 {relation} the protected folder {folder} (docs/security.md); \
                 set conteneur_allow_system_mounts to oui to allow it"
            ),
            Problem::Outside { root } => write!(
                f,
                " resolves to '{resolved}', outside the server's root {root}: \
                 conteneur shares folders under its root only (a symbolic link leads out)"
            ),
            Problem::Folder { message } => write!(f, " (resolves to '{resolved}'): {message}"),
            Problem::Nested { relation, other } => {
                let (o_name, o_variable, o_given, o_resolved) = other.as_ref();
                let leads = |given: &str, to: &str| {
                    if given == to {
                        String::new()
                    } else {
                        format!(" (resolves to '{to}')")
                    }
                };
                write!(
                    f,
                    "{} {relation} {o_variable} '{o_given}'{} of container '{o_name}': \
                     the container given the outer folder can replace the inner one by a \
                     symbolic link, which the engine follows when it next starts the other \
                     (to the host's / if it likes); give them folders apart (docs/security.md)",
                    leads(given, resolved),
                    leads(o_given, o_resolved),
                )
            }
        }
    }
}

impl Given<'_> {
    fn refuse(&self, resolved: &str, problem: Problem) -> MountError {
        MountError(Box::new(Refusal {
            name: self.container.to_string(),
            variable: self.variable(),
            given: self.path.to_string(),
            resolved: resolved.to_string(),
            problem,
        }))
    }

    fn system(&self, resolved: &str, checked: &str) -> Option<MountError> {
        relation(checked)
            .map(|(folder, relation)| self.refuse(resolved, Problem::System { relation, folder }))
    }

    fn folder(&self, resolved: &Path, message: String) -> MountError {
        self.refuse(&resolved.display().to_string(), Problem::Folder { message })
    }
}

/// The lexical check: the path normalised, refused when relative or when
/// it is, holds or lies inside a protected folder (unless `allow_system`).
/// Pure: what it reads is the text.
pub fn check(given: Given<'_>, allow_system: bool) -> Result<String, MountError> {
    let Some(norm) = normalise(given.path) else {
        return Err(given.refuse(given.path, Problem::Relative));
    };
    if !allow_system && let Some(e) = given.system(&norm, &norm) {
        return Err(e);
    }
    Ok(norm)
}

/// Refuses a host folder that lies inside another one of `binds` (of
/// another container, or another of the same): each mount with the folder
/// it leads to (normalised text in `plan`, links followed in a run). Two
/// mounts of the same folder are not nested: neither can replace the other.
pub fn check_nested(binds: &[(Given<'_>, String)]) -> Result<(), MountError> {
    let inside = |inner: &str, outer: &str| {
        outer == "/" && inner != "/"
            || inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    for (i, (a, a_path)) in binds.iter().enumerate() {
        for (b, b_path) in &binds[i + 1..] {
            let relation = if inside(a_path, b_path) {
                "lies inside"
            } else if inside(b_path, a_path) {
                "holds"
            } else {
                continue;
            };
            return Err(a.refuse(
                a_path,
                Problem::Nested {
                    relation,
                    other: Box::new((
                        b.container.to_string(),
                        b.variable(),
                        b.path.to_string(),
                        b_path.clone(),
                    )),
                },
            ));
        }
    }
    Ok(())
}

/// Where a host folder really is.
struct Resolved {
    /// The server's root, symbolic links followed.
    root: PathBuf,
    /// The folder, every existing symbolic link followed; under `root`.
    path: PathBuf,
}

fn resolve_in(root: &Path, given: Given<'_>, allow_system: bool) -> Result<Resolved, MountError> {
    let norm = check(given, allow_system)?;
    let real_root = std::fs::canonicalize(root).map_err(|e| {
        given.folder(
            Path::new(&norm),
            format!("the root {}: {e}", root.display()),
        )
    })?;
    // Follow the part that exists as the engine will; the rest is created.
    let mut path = real_root.clone();
    let mut parts = norm.split('/').filter(|c| !c.is_empty());
    for c in parts.by_ref() {
        let next = path.join(c);
        match std::fs::symlink_metadata(&next) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                path = next;
                break;
            }
            Err(e) => return Err(given.folder(&next, e.to_string())),
            Ok(m) if m.file_type().is_symlink() => {
                path = std::fs::canonicalize(&next).map_err(|e| {
                    given.folder(
                        &next,
                        format!(
                            "'{}' is a symbolic link that cannot be followed ({e}); conteneur creates no folder through one",
                            next.display()
                        ),
                    )
                })?;
            }
            Ok(_) => path = next,
        }
    }
    path.extend(parts);
    let shown = path.display().to_string();
    let Ok(rel) = path.strip_prefix(&real_root) else {
        // Out of the root: in the host's terms, a system folder is named as
        // such, whatever the root.
        if let Some(e) = given.system(&shown, &shown) {
            return Err(e);
        }
        return Err(given.refuse(
            &shown,
            Problem::Outside {
                root: real_root.display().to_string(),
            },
        ));
    };
    // A link may lead to a name the configuration could not have given:
    // Docker splits its binds at ':', LXC its mount entries at spaces.
    // (Below the root only: the root is the admin's choice.)
    if let Some(c) = rel.to_string_lossy().chars().find(|&c| unsafe_in_mount(c)) {
        return Err(given.folder(
            &path,
            format!(
                "the folder it leads to holds {c:?}, which a mount cannot carry \
                 (no whitespace, quotes, ':' or ; {{ }} $ \\ in a host folder)"
            ),
        ));
    }
    let in_root = format!("/{}", rel.display());
    if !allow_system && let Some(e) = given.system(&shown, &in_root) {
        return Err(e);
    }
    Ok(Resolved {
        root: real_root,
        path,
    })
}

/// The use-time check: the host folder with every existing symbolic link
/// followed, under `root`, not protected. Reads the file system, creates
/// nothing.
pub fn resolve(root: &Path, given: Given<'_>, allow_system: bool) -> Result<PathBuf, MountError> {
    resolve_in(root, given, allow_system).map(|r| r.path)
}

/// [`resolve`], then the missing folders created (mode
/// [`crate::folders::PUBLIC`]) without following any link. Returns the
/// path to give the engine.
pub fn prepare(root: &Path, given: Given<'_>, allow_system: bool) -> Result<PathBuf, MountError> {
    let r = resolve_in(root, given, allow_system)?;
    if std::fs::symlink_metadata(&r.path).is_err() {
        let rel = r.path.strip_prefix(&r.root).unwrap_or(Path::new(""));
        crate::folders::create_beneath(&r.root, rel, crate::folders::PUBLIC)
            .map_err(|e| given.folder(&r.path, format!("cannot create the folder: {e}")))?;
    }
    Ok(r.path)
}

/// Whether the host folder `source` a running container (main process
/// `pid`) was given still leads where it did, and is what is mounted at
/// `dest` inside it. The engine was given the folder with every link
/// followed ([`prepare`]), so a link on its path now means it was swapped
/// since; and the folder mounted (seen through `/proc/PID/root`) must be
/// that one (for a folder; a file may be saved anew without any link): the engine follows links again at every start (`docker
/// restart`, a reboot), so a swap followed by a restart hands the
/// container whatever the link points to. `None`: as it was, or nothing
/// can be said (the source is gone, the process is not visible here).
pub fn swapped(pid: u32, source: &str, dest: &str) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let src = Path::new(source);
    let real = std::fs::canonicalize(src).ok()?;
    if real != src {
        return Some(format!(
            "its host folder '{source}' now leads to '{}' (a symbolic link was put on its path)",
            real.display()
        ));
    }
    let host = std::fs::metadata(src).ok()?;
    // A file may be replaced by a new one of the same name (an editor's
    // atomic save) without any link: only a folder is compared.
    if !host.is_dir() {
        return None;
    }
    // `/proc/PID/root` enters the container's files, but an absolute link
    // met on the way would be resolved against the host's `/`, not the
    // container's (the engine resolved it inside the container when it
    // mounted): a destination with a link on its path is not compared.
    let mut inside = Path::new("/proc").join(pid.to_string()).join("root");
    for part in Path::new(dest).components() {
        match part {
            std::path::Component::Normal(name) => {
                inside.push(name);
                if std::fs::symlink_metadata(&inside).ok()?.is_symlink() {
                    return None;
                }
            }
            std::path::Component::RootDir | std::path::Component::CurDir => {}
            std::path::Component::ParentDir | std::path::Component::Prefix(_) => return None,
        }
    }
    let mounted = std::fs::metadata(&inside).ok()?;
    if (mounted.dev(), mounted.ino()) != (host.dev(), host.ino()) {
        return Some(format!(
            "what is mounted at {dest} is not its host folder '{source}' (it was swapped \
             for a link, then the container restarted)"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::os::unix::fs::symlink;

    fn given(path: &str) -> Given<'_> {
        Given {
            container: "web",
            index: 1,
            path,
        }
    }

    /// A destination with a link on its path is not compared: through
    /// `/proc/PID/root` an absolute link would be resolved against the
    /// host's `/`, and a healthy container would be stopped.
    #[test]
    fn a_destination_through_a_link_is_not_compared() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("a");
        let other = dir.path().join("b");
        std::fs::create_dir_all(&source).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        symlink(&other, dir.path().join("link")).unwrap();
        let pid = std::process::id();
        let source = source.to_str().unwrap();
        let dest = dir.path().join("link");
        assert_eq!(swapped(pid, source, dest.to_str().unwrap()), None);
        // The folder itself, reached without a link, is its own.
        assert_eq!(swapped(pid, source, source), None);
        // Another folder reached without a link is a swap.
        assert!(swapped(pid, source, other.to_str().unwrap()).is_some());
    }

    #[test]
    fn a_folder_inside_another_is_refused_both_ways_naming_both() {
        let of = |container: &'static str, index: u32, path: &'static str| {
            (
                Given {
                    container,
                    index,
                    path,
                },
                normalise(path).unwrap(),
            )
        };
        let pra = of("pra", 1, "/srv/pa");
        let prb = of("prb", 2, "/srv/pa/sub");
        for (binds, first, relation) in [
            ([pra.clone(), prb.clone()], "pra", "holds"),
            ([prb.clone(), pra.clone()], "prb", "lies inside"),
        ] {
            let e = check_nested(&binds).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("container '{first}'"))
                    && e.contains(relation)
                    && e.contains("'/srv/pa'")
                    && e.contains("'/srv/pa/sub'")
                    && e.contains("conteneur1_mountpoint_out")
                    && e.contains("conteneur2_mountpoint_out"),
                "{e}"
            );
        }
        // `/` holds everything; siblings, a common prefix that is not a
        // parent, and the same folder twice are fine.
        assert!(check_nested(&[of("a", 1, "/"), of("b", 2, "/srv")]).is_err());
        assert!(check_nested(&[pra.clone(), of("b", 2, "/srv/pab")]).is_ok());
        assert!(check_nested(&[pra.clone(), of("b", 2, "/srv/pb")]).is_ok());
        assert!(check_nested(&[pra.clone(), of("b", 2, "/srv/pa")]).is_ok());
        // Two folders of one container.
        assert!(check_nested(&[pra, of("pra", 1, "/srv/pa/x")]).is_err());
    }

    #[test]
    fn spellings_of_a_system_folder_are_refused() {
        for p in [
            "/etc",
            "//etc",
            "/./etc",
            "/etc/../etc",
            "/srv/../etc",
            "/etc/",
            "/etc/ssl",
            "/",
            "//",
            "/var",
            "/var/lib",
            "/var/run/docker.sock",
            "/../../etc",
        ] {
            let e = check(given(p), false).unwrap_err();
            assert!(matches!(e.problem(), Problem::System { .. }), "{p}: {e}");
            let text = e.to_string();
            assert!(
                text.contains("container 'web'")
                    && text.contains("conteneur1_mountpoint_out")
                    && text.contains(&format!("'{p}'")),
                "{text}"
            );
        }
        let e = check(given("//etc"), false).unwrap_err().to_string();
        assert!(
            e.contains("resolves to '/etc'") && e.contains("it is the protected folder /etc"),
            "{e}"
        );
        let e = check(given("/var"), false).unwrap_err().to_string();
        assert!(e.contains("it holds the protected folder"), "{e}");
        for p in ["/srv/a", "/srv/./a//b", "/data", "/var/www", "/var/lib/app"] {
            assert!(check(given(p), false).is_ok(), "{p}");
        }
        let e = check(given("srv"), false).unwrap_err();
        assert_eq!(e.problem(), &Problem::Relative);
        assert_eq!(check(given("//etc"), true).unwrap(), "/etc");
    }

    #[test]
    fn each_protected_folder_is_refused() {
        for f in [
            "/var/lib/lxc",
            "/var/lib/containerd",
            "/var/lib/conteneur",
            "/var/spool/cron",
            "/home",
            "/var/log",
        ] {
            assert!(PROTECTED.contains(&f), "{f}");
        }
        for f in PROTECTED {
            for p in [f.to_string(), format!("{f}/x"), format!("/{f}/./")] {
                assert!(check(given(&p), false).is_err(), "{p}");
            }
        }
    }

    #[test]
    fn links_are_followed_and_must_stay_under_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("srv/real")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        // To the host's /etc (read, never written), to the root's etc, to a
        // folder of the root.
        symlink("/etc", root.join("srv/host-etc")).unwrap();
        symlink(root.join("etc"), root.join("srv/root-etc")).unwrap();
        symlink("real", root.join("srv/ok")).unwrap();
        let e = resolve(root, given("/srv/host-etc"), false).unwrap_err();
        assert!(
            matches!(e.problem(), Problem::System { .. }) && e.refusal().resolved == "/etc",
            "{e}"
        );
        // Even allowed, what is not under the root is refused.
        assert!(resolve(root, given("/srv/host-etc/x"), true).is_err());
        let e = resolve(root, given("/srv/root-etc"), false).unwrap_err();
        assert!(matches!(e.problem(), Problem::System { .. }), "{e}");
        let real = std::fs::canonicalize(root).unwrap();
        assert_eq!(
            prepare(root, given("/srv/ok/data"), false).unwrap(),
            real.join("srv/real/data")
        );
        assert!(root.join("srv/real/data").is_dir());
        // A symlinked parent: nothing made outside the root.
        let outside = tempfile::tempdir().unwrap();
        symlink(outside.path(), root.join("srv/out")).unwrap();
        let e = prepare(root, given("/srv/out/a/b"), false).unwrap_err();
        assert!(matches!(e.problem(), Problem::Outside { .. }), "{e}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        let e = prepare(root, given("/srv/out"), true).unwrap_err();
        assert!(matches!(e.problem(), Problem::Outside { .. }), "{e}");
        // A link to a name a mount cannot carry.
        std::fs::create_dir_all(root.join("odd:name")).unwrap();
        symlink(root.join("odd:name"), root.join("srv/odd")).unwrap();
        let e = resolve(root, given("/srv/odd"), false).unwrap_err();
        assert!(e.to_string().contains("':'"), "{e}");
    }

    /// Components of the random paths: plain names, `.`, `..`, empty ones
    /// (`//`), and symbolic links of the tree below.
    const PARTS: &[&str] = &[
        "",
        ".",
        "..",
        "a",
        "b",
        "etc",
        "var",
        "log",
        "srv",
        "to-host-etc",
        "to-root",
        "to-up",
        "to-a",
        "to-out",
        "to-etc",
    ];

    /// A root with protected folders of its own and links leading to the
    /// host's /etc (only read), to the root, up, inside, and out.
    fn tree() -> (tempfile::TempDir, tempfile::TempDir) {
        let t = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let r = t.path();
        for d in ["a/b", "etc", "var/log", "srv"] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        symlink("/etc", r.join("to-host-etc")).unwrap();
        symlink("/", r.join("a/to-root")).unwrap();
        symlink("../..", r.join("a/b/to-up")).unwrap();
        symlink(r.join("a"), r.join("srv/to-a")).unwrap();
        symlink(out.path(), r.join("srv/to-out")).unwrap();
        symlink("../etc", r.join("srv/to-etc")).unwrap();
        (t, out)
    }

    fn path_strategy() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(PARTS), 0..7)
            .prop_map(|parts| format!("/{}", parts.join("/")))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn no_path_reaches_a_system_folder(path in path_strategy()) {
            let (t, out) = tree();
            let real_root = std::fs::canonicalize(t.path()).unwrap();
            if let Ok(p) = prepare(t.path(), given(&path), false) {
                // Under the root, not protected there, and really there.
                let rel = p.strip_prefix(&real_root).expect("under the root");
                let in_root = format!("/{}", rel.display());
                prop_assert!(protected(&in_root).is_none(), "{path} → {in_root}");
                prop_assert_eq!(std::fs::canonicalize(&p).unwrap(), p.clone());
                prop_assert!(!p.starts_with("/etc"));
            }
            prop_assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
        }
    }
}
