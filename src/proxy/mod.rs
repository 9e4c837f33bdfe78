//! The web front: nginx, handled safely.
//!
//! The templates render conteneur's nginx site (a `map` for websockets and
//! the `server` blocks with one `location /NAME/` per published container)
//! into a staging file, [`staged_site`]. This module puts it in front of
//! nginx without ever leaving nginx with a broken configuration:
//!
//! 1. the staged site is checked with `nginx -T` within the **full**
//!    configuration nginx would load (its main file and every include);
//! 2. only then is it swapped into place (atomic renames);
//! 3. nginx is reloaded, and the reload is watched until new workers run;
//! 4. if the check or the reload fails, the previous files are put back,
//!    nginx keeps serving the previous routes, and the [`ProxyError`]
//!    quotes nginx's own message.
//!
//! A site that did not change is neither written nor reloaded.
//!
//! ## Two modes ([`Mode`])
//!
//! - **system**, the default: Debian's nginx. The live site is
//!   `ROOT/etc/nginx/conf.d/conteneur.conf`, which Debian's
//!   `/etc/nginx/nginx.conf` includes (`include /etc/nginx/conf.d/*.conf`).
//!   The check runs `nginx -T -c ROOT/etc/nginx/nginx.conf` with the staged
//!   file bind-mounted over the live one in a private mount namespace
//!   (`unshare --mount`): nginx sees exactly the configuration it would
//!   load, while nothing changes on disk for anyone else. Where namespaces
//!   are not allowed (not root, a confined container), the file is swapped
//!   in, checked, and put back at once if refused: nginx only reads its
//!   files when told to reload, so it goes on serving the previous routes
//!   either way. `nginx -T`'s dump also proves that the main configuration
//!   really includes the site. The reload is `systemctl reload nginx` when
//!   systemd runs (and ROOT is `/`), else a SIGHUP to the pid in the main
//!   configuration's `pid` file, which is what `nginx -s reload` sends.
//!   conteneur never starts or stops Debian's nginx.
//! - **private**, for the demo and the tests: an nginx of conteneur's own
//!   under `ROOT/var/lib/conteneur/nginx-private/` (its prefix), with a
//!   main configuration conteneur generates (pid, logs and temporary
//!   folders under the prefix, `include` of the live site
//!   `PREFIX/conf/conteneur.conf`; kept apart from `/etc/nginx/conf.d` so
//!   that a Debian nginx never reads it). It listens where the site says
//!   (127.0.0.1 and high ports in the tests). [`start`], [`stop`] and
//!   [`status`] drive it (`conteneur proxy start|stop|status`). The check
//!   runs on a copy of the generated main file that includes the staged
//!   site instead of the live one: the same full configuration, exactly.
//!
//! The mode is the dictionary variable `conteneur_proxy_mode` ('system' or
//! 'private', default 'system'); see [`Mode::from_config`].
//!
//! No lock is taken here: the instancier holds the global run lock while it
//! calls [`apply`].

pub mod cli;
mod conf;
mod error;
mod files;
pub mod forward;
mod nginx;
pub mod orphan;

use std::fmt;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::config::{Config, ValueError};
use crate::paths::Paths;

pub use conf::{PrivateFiles, listen_addresses};
pub use error::ProxyError;
use files::Change;
pub use forward::{Forward, Routes};
use nginx::{Check, Nginx, ReloadBy, Shadowed};

/// Where the templates render the site, under `paths.state`.
pub const STAGED_SITE: &str = "nginx/conteneur.conf";
/// The private nginx's prefix, under `paths.state`.
pub const PRIVATE_PREFIX: &str = "nginx-private";
/// Debian's main nginx configuration, under the root.
pub const SYSTEM_MAIN: &str = "etc/nginx/nginx.conf";
/// The live site in system mode, under the root.
pub const SYSTEM_SITE: &str = "etc/nginx/conf.d/conteneur.conf";
/// The stream forwards in system mode, under the root: Debian's
/// nginx.conf includes `modules-enabled/*.conf` at its top level (where a
/// `stream { }` block belongs), after `50-mod-stream.conf` loads the
/// module. See docs/proxy.md.
pub const SYSTEM_STREAM: &str = "etc/nginx/modules-enabled/60-conteneur-stream.conf";
/// Where the routes of the last apply are kept, under `paths.state`.
pub const ROUTES_FILE: &str = "nginx/routes.json";
/// The backends (upstreams) in system mode, under the root, beside the
/// site (Debian's nginx.conf includes `conf.d/*.conf` in its http block).
pub const SYSTEM_UPSTREAMS: &str = "etc/nginx/conf.d/conteneur-upstreams.conf";
/// The backends and stream forwards as they go live, staged under
/// `paths.state` (checked from there).
pub const STAGED_UPSTREAMS: &str = "nginx/conteneur-upstreams.conf";
pub const STAGED_STREAM: &str = "nginx/conteneur-stream.conf";
/// Debian's nginx pid file, when its main configuration names none.
pub const SYSTEM_PID: &str = "/run/nginx.pid";
/// Debian's nginx error log, when its main configuration names none.
pub const SYSTEM_ERROR_LOG: &str = "/var/log/nginx/error.log";
/// The dictionary variable that chooses the mode.
pub const MODE_VARIABLE: &str = "conteneur_proxy_mode";

/// The staged site the templates render and [`apply`] publishes:
/// `ROOT/var/lib/conteneur/nginx/conteneur.conf`.
pub fn staged_site(paths: &Paths) -> PathBuf {
    absolute(&paths.state.join(STAGED_SITE))
}

/// Which nginx conteneur drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Debian's nginx, with its usual paths.
    #[default]
    System,
    /// conteneur's own nginx under `--root`.
    Private,
}

impl Mode {
    /// The mode `conteneur_proxy_mode` chooses. Dictionaries without the
    /// variable (older ones) mean 'system', EOLE's usual set-up.
    pub fn from_config(cfg: &Config) -> Result<Mode, ProxyError> {
        match cfg.get(MODE_VARIABLE) {
            Ok(v) => match v.first() {
                None | Some("") => Ok(Mode::System),
                Some(s) => s.parse(),
            },
            Err(ValueError::Unknown { .. } | ValueError::Disabled { .. }) => Ok(Mode::System),
            Err(e) => Err(ProxyError::ModeVariable(e.to_string())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::System => "system",
            Mode::Private => "private",
        }
    }
}

impl FromStr for Mode {
    type Err = ProxyError;
    fn from_str(s: &str) -> Result<Mode, ProxyError> {
        match s {
            "system" => Ok(Mode::System),
            "private" => Ok(Mode::Private),
            other => Err(ProxyError::Mode(other.to_string())),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every file of the web front in one mode, all under `paths.root`.
#[derive(Debug, Clone)]
pub struct Layout {
    pub mode: Mode,
    /// The main configuration nginx loads.
    pub main_conf: PathBuf,
    /// The live site, included by the main configuration.
    pub site: PathBuf,
    /// The live backends (upstreams), included beside the site.
    pub upstreams: PathBuf,
    /// The live stream forwards, included at the top of the main
    /// configuration.
    pub stream: PathBuf,
    /// The routes of the last apply.
    pub routes: PathBuf,
    /// The site the templates render.
    pub staged: PathBuf,
    /// The private nginx's files (private mode only).
    pub private: Option<PrivateFiles>,
}

/// `p` made absolute: nginx reads relative paths against its prefix, not
/// against our working folder, so a relative `--root` must not reach it.
fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

impl Layout {
    pub fn new(paths: &Paths, mode: Mode) -> Layout {
        let root = absolute(&paths.root);
        let staged = staged_site(paths);
        let routes = absolute(&paths.state.join(ROUTES_FILE));
        match mode {
            Mode::System => Layout {
                mode,
                main_conf: root.join(SYSTEM_MAIN),
                site: root.join(SYSTEM_SITE),
                upstreams: root.join(SYSTEM_UPSTREAMS),
                stream: root.join(SYSTEM_STREAM),
                routes,
                staged,
                private: None,
            },
            Mode::Private => {
                let prefix = absolute(&paths.state.join(PRIVATE_PREFIX));
                Layout {
                    mode,
                    main_conf: prefix.join("conf/nginx.conf"),
                    site: prefix.join("conf/conteneur.conf"),
                    upstreams: prefix.join("conf/conteneur-upstreams.conf"),
                    stream: prefix.join("conf/conteneur-stream.conf"),
                    routes,
                    staged,
                    private: Some(PrivateFiles::new(&prefix)),
                }
            }
        }
    }

    /// The pid file of the nginx this layout drives: the private one's, or
    /// the one Debian's main configuration names (nginx itself does not
    /// look under our root, so neither do we).
    pub fn pid_file(&self) -> PathBuf {
        match &self.private {
            Some(p) => p.pid.clone(),
            None => {
                let text = fs::read_to_string(&self.main_conf).unwrap_or_default();
                match conf::top_level(&text, "pid") {
                    Some(p) if Path::new(&p).is_absolute() => PathBuf::from(p),
                    // Relative to Debian's compiled-in prefix.
                    Some(p) => Path::new("/usr/share/nginx").join(p),
                    None => PathBuf::from(SYSTEM_PID),
                }
            }
        }
    }

    /// The error log nginx writes reload failures to, when it is a file.
    pub fn error_log(&self) -> Option<PathBuf> {
        match &self.private {
            Some(p) => Some(p.error_log.clone()),
            None => {
                let text = fs::read_to_string(&self.main_conf).unwrap_or_default();
                match conf::top_level(&text, "error_log") {
                    Some(l) if l.starts_with('/') => Some(PathBuf::from(l)),
                    Some(_) => None,
                    None => Some(PathBuf::from(SYSTEM_ERROR_LOG)),
                }
            }
        }
    }
}

/// How a system-mode site is checked when mount namespaces are not
/// available, or to force the fallback (tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SystemCheck {
    /// In a private mount namespace when possible, else in place.
    #[default]
    Auto,
    /// Swap in, check, put back if refused.
    InPlace,
}

/// How the full configuration was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckedBy {
    /// Private mode: a copy of the generated main file including the staged site.
    GeneratedMain,
    /// System mode: the staged site bind-mounted over the live one.
    MountNamespace,
    /// System mode: swapped in, checked, to be put back if refused.
    InPlace,
}

/// Settings of [`apply_with`], [`start_with`] and [`stop_with`].
#[derive(Debug, Clone)]
pub struct Options {
    /// The nginx binary; default: `$CONTENEUR_NGINX`, `nginx` on `$PATH`,
    /// `/usr/sbin/nginx`.
    pub nginx: Option<PathBuf>,
    pub system_check: SystemCheck,
    /// How long a reload may take to show new workers (a port in use is
    /// retried by nginx for 2.5 s before it gives up).
    pub reload_timeout: Duration,
    /// How long the private nginx may take to start, or to stop.
    pub process_timeout: Duration,
    /// Where each container's ports are now; None: as the last apply said.
    pub routes: Option<Routes>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            nginx: None,
            system_check: SystemCheck::Auto,
            reload_timeout: Duration::from_secs(10),
            process_timeout: Duration::from_secs(5),
            routes: None,
        }
    }
}

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub mode: Mode,
    /// The files written; empty when the site did not change.
    pub changed: Vec<PathBuf>,
    /// How the configuration was checked (`None`: nothing to check).
    pub checked_by: Option<CheckedBy>,
    /// Whether a running nginx was reloaded.
    pub reloaded: bool,
    /// The running nginx master, if any.
    pub pid: Option<u32>,
}

impl Applied {
    /// Nothing changed, nothing was reloaded.
    pub fn unchanged(&self) -> bool {
        self.changed.is_empty()
    }
}

/// Publishes the staged site `staged` (see the module's documentation).
///
/// In private mode a stopped nginx is not started: call [`start`] after
/// (it serves the applied site). In system mode a stopped nginx is left
/// stopped; its files are in place for its next start.
pub fn apply(paths: &Paths, mode: Mode, staged: &Path) -> Result<Applied, ProxyError> {
    apply_with(paths, mode, staged, &Options::default())
}

/// [`apply`] with explicit settings.
pub fn apply_with(
    paths: &Paths,
    mode: Mode,
    staged: &Path,
    opts: &Options,
) -> Result<Applied, ProxyError> {
    let layout = Layout::new(paths, mode);
    let template_site = absolute(staged);
    let site = fs::read(&template_site).map_err(|source| ProxyError::Staged {
        path: template_site.clone(),
        source,
    })?;
    let routes = match &opts.routes {
        Some(r) => r.clone(),
        None => Routes::load(&layout.routes),
    };
    // The backends and the stream forwards, staged where an admin can read
    // them, and checked with the site.
    let generated = forward::render(&String::from_utf8_lossy(&site), &routes);
    let staged = template_site;
    let extras = [
        Extra {
            staged: absolute(&paths.state.join(STAGED_UPSTREAMS)),
            live: layout.upstreams.clone(),
            text: generated.upstreams,
            needed: generated.has_upstreams,
        },
        Extra {
            staged: absolute(&paths.state.join(STAGED_STREAM)),
            live: layout.stream.clone(),
            text: generated.stream,
            needed: generated.has_streams,
        },
    ];
    let pid_file = layout.pid_file();
    let mut wanted = Vec::new();
    if let Some(pf) = &layout.private {
        prepare_prefix(pf)?;
        wanted.push(Change {
            path: layout.main_conf.clone(),
            content: pf
                .main_conf(&layout.site, &layout.upstreams, &layout.stream)?
                .into_bytes(),
        });
    }
    wanted.push(Change {
        path: layout.site.clone(),
        content: site,
    });
    // In system mode a generated file is only written when nginx needs it
    // (or it is there, to be emptied): a server without forwards needs no
    // stream module. The private main file always includes both.
    let mut checked_extras = Vec::new();
    for x in &extras {
        if layout.private.is_some() || x.needed || x.live.exists() {
            files::write_atomic(&x.staged, x.text.as_bytes())
                .map_err(|e| ProxyError::io(&x.staged, "write", e))?;
            wanted.push(Change {
                path: x.live.clone(),
                content: x.text.clone().into_bytes(),
            });
            checked_extras.push(x);
        }
    }
    let mut changes = Vec::new();
    for c in wanted {
        if files::read_optional(&c.path)?.as_deref() != Some(&c.content[..]) {
            changes.push(c);
        }
    }
    let pid = nginx::running_master(&pid_file);
    if changes.is_empty() {
        routes.save(&layout.routes)?;
        return Ok(Applied {
            mode,
            changed: Vec::new(),
            checked_by: None,
            reloaded: false,
            pid,
        });
    }
    // Orphans (workers of a master killed with SIGKILL) hold the ports of
    // the files they loaded (the site's, and the stream forwards' port_out),
    // which a live master holds too: while ours runs the live files, only a
    // port the new ones add can be in an orphan's hands. A change that adds
    // no port (a new container instance, a new route) skips the search,
    // which reads every process's open files.
    let live = [
        files::read_optional(&layout.site)?,
        files::read_optional(&layout.stream)?,
    ];
    let new: Vec<Option<Vec<u8>>> = [&layout.site, &layout.stream]
        .iter()
        .map(|p| {
            changes
                .iter()
                .find(|c| &c.path == *p)
                .map(|c| c.content.clone())
        })
        .collect();
    if pid.is_none() || !ports_of(&new).is_subset(&ports_of(&live)) {
        let all: Vec<Option<Vec<u8>>> = live.into_iter().chain(new).collect();
        recover_orphans(&layout, &all, opts)?;
    }
    let ngx = Nginx::find(opts.nginx.as_deref())?;
    let (backup, checked_by) = match &layout.private {
        Some(pf) => {
            check_private(
                &ngx,
                &layout,
                pf,
                &staged,
                &extras[0].staged,
                &extras[1].staged,
            )?;
            (files::swap(&changes)?, CheckedBy::GeneratedMain)
        }
        None => check_and_swap_system(&ngx, &layout, &staged, &checked_extras, &changes, opts)?,
    };
    let changed: Vec<PathBuf> = changes.into_iter().map(|c| c.path).collect();
    let Some(pid) = pid else {
        routes.save(&layout.routes)?;
        return Ok(Applied {
            mode,
            changed,
            checked_by: Some(checked_by),
            reloaded: false,
            pid: None,
        });
    };
    let by = if mode == Mode::System
        && absolute(&paths.root) == Path::new("/")
        && Path::new("/run/systemd/system").is_dir()
        && nginx::on_path("systemctl".as_ref())
    {
        ReloadBy::Systemctl
    } else {
        ReloadBy::Signal
    };
    let log = layout.error_log();
    match nginx::reload(pid, &pid_file, by, log.as_deref(), opts.reload_timeout) {
        Ok(()) => routes.save(&layout.routes).map(|()| Applied {
            mode,
            changed,
            checked_by: Some(checked_by),
            reloaded: true,
            pid: Some(pid),
        }),
        // nginx refused to load the new files and runs the old ones, which
        // are put back: what is on disk matches what is served again.
        Err(f) => Err(backup.restore_after(ProxyError::Reload {
            site: staged,
            message: f.0,
        })),
    }
}

/// The ports the sites `texts` listen on.
fn ports_of(texts: &[Option<Vec<u8>>]) -> std::collections::BTreeSet<u16> {
    texts
        .iter()
        .flatten()
        .flat_map(|t| listen_addresses(&String::from_utf8_lossy(t)))
        .filter_map(|l| orphan::listen_port(&l))
        .collect()
}

/// The orphaned nginx processes of this layout: holding a file of the
/// private prefix, or one of the ports of `sites`.
fn orphans_of(layout: &Layout, sites: &[Option<Vec<u8>>]) -> Vec<orphan::Orphan> {
    let prefix = layout.private.as_ref().map(|p| p.prefix.as_path());
    orphan::find(prefix, &ports_of(sites))
}

/// What an admin does about orphans conteneur does not end itself.
const SYSTEM_ORPHAN_ADVICE: &str = "conteneur does not end processes of the system nginx: end them \
     (kill PID, then kill -9 PID if they linger) and start nginx again (systemctl restart nginx)";

/// Before nginx is (re)started or reloaded: the private nginx's orphans
/// are ended (they are conteneur's own); the system nginx's are named with
/// what to do, and nothing is changed.
fn recover_orphans(
    layout: &Layout,
    sites: &[Option<Vec<u8>>],
    opts: &Options,
) -> Result<(), ProxyError> {
    let found = orphans_of(layout, sites);
    if found.is_empty() {
        return Ok(());
    }
    if layout.private.is_none() {
        return Err(ProxyError::Orphans {
            list: found,
            advice: SYSTEM_ORPHAN_ADVICE.into(),
        });
    }
    // Only those holding files of this root's prefix are ours to end; an
    // orphan that only holds the port belongs to some other nginx.
    let (found, foreign): (Vec<_>, Vec<_>) = found
        .into_iter()
        .partition(|o| o.holds.iter().any(|h| h.starts_with("file ")));
    if !foreign.is_empty() {
        return Err(ProxyError::Orphans {
            list: foreign,
            advice: "they are not this root's private nginx, so conteneur leaves them: end them \
                     (kill PID) and run again"
                .into(),
        });
    }
    let left = orphan::end(&found, opts.process_timeout);
    if left.is_empty() {
        let list: Vec<String> = found.iter().map(|o| o.to_string()).collect();
        eprintln!(
            "ended nginx processes left behind by a private master that died: {}",
            list.join("; ")
        );
        return Ok(());
    }
    Err(ProxyError::Orphans {
        list: left,
        advice: "they would not end, even with SIGKILL: see `ps -o pid,stat,cmd -p PID`".into(),
    })
}

/// Makes the private prefix's folders. When root starts nginx, its workers
/// run as `nobody` and must reach the temporary folders: those are made
/// world-searchable, and a parent folder that is not is refused at once
/// rather than failing on the first large upload.
fn prepare_prefix(pf: &PrivateFiles) -> Result<(), ProxyError> {
    let mut dirs = vec![
        pf.prefix.clone(),
        pf.prefix.join("conf"),
        pf.prefix.join("tmp"),
    ];
    dirs.extend(pf.pid.parent().map(Path::to_path_buf));
    dirs.extend(pf.error_log.parent().map(Path::to_path_buf));
    for d in &dirs {
        crate::folders::create_dir_all(d, crate::folders::PUBLIC)
            .map_err(|e| ProxyError::io(d, "create the folder", e))?;
    }
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    for d in [&pf.prefix, &pf.prefix.join("tmp")] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755))
            .map_err(|e| ProxyError::io(d, "set the permissions of", e))?;
    }
    for dir in pf.prefix.ancestors().skip(1) {
        match fs::metadata(dir) {
            Ok(m) if m.permissions().mode() & 0o001 == 0 => {
                return Err(ProxyError::NotTraversable {
                    dir: dir.to_path_buf(),
                });
            }
            Ok(_) => {}
            Err(e) => return Err(ProxyError::io(dir, "read the metadata of", e)),
        }
    }
    Ok(())
}

/// Private mode: `nginx -T` on the generated main file, including `site`
/// instead of the live site, written beside the real one (same prefix, so
/// every relative path resolves the same).
fn check_private(
    ngx: &Nginx,
    layout: &Layout,
    pf: &PrivateFiles,
    site: &Path,
    upstreams: &Path,
    stream: &Path,
) -> Result<(), ProxyError> {
    let conf_dir = pf.prefix.join("conf");
    let mut tmp = tempfile::Builder::new()
        .prefix(".check-")
        .suffix(".conf")
        .tempfile_in(&conf_dir)
        .map_err(|e| ProxyError::io(&conf_dir, "create a temporary file in", e))?;
    let text = pf.main_conf(site, upstreams, stream)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())
        .map_err(|e| ProxyError::io(tmp.path(), "write", e))?;
    match ngx.check(Some(&pf.prefix), tmp.path(), Some(&pf.error_log))? {
        Check::Valid(_) => Ok(()),
        Check::Refused(message) => Err(ProxyError::Invalid {
            site: site.to_path_buf(),
            main: layout.main_conf.clone(),
            message: with_hint(message),
        }),
    }
}

/// System mode: checks `staged` within Debian's full configuration, and
/// swaps it in only when nginx accepts it (see the module's documentation).
fn check_and_swap_system(
    ngx: &Nginx,
    layout: &Layout,
    staged: &Path,
    extras: &[&Extra],
    changes: &[Change],
    opts: &Options,
) -> Result<(files::Backup, CheckedBy), ProxyError> {
    let live = &layout.site;
    // Checked first so that nothing (not even conf.d) is made under a root
    // without nginx.
    if !layout.main_conf.is_file() {
        return Err(ProxyError::NoMainConf {
            main: layout.main_conf.clone(),
        });
    }
    let included = |dump: &str| -> Result<(), ProxyError> {
        if !nginx::dump_includes(dump, live) {
            return Err(ProxyError::NotIncluded {
                main: layout.main_conf.clone(),
                site: live.clone(),
            });
        }
        for x in extras.iter().filter(|x| x.needed) {
            if !nginx::dump_includes(dump, &x.live) {
                let main = layout.main_conf.clone();
                return Err(if x.live == layout.stream {
                    ProxyError::StreamNotIncluded {
                        main,
                        stream: x.live.clone(),
                    }
                } else {
                    ProxyError::NotIncluded {
                        main,
                        site: x.live.clone(),
                    }
                });
            }
        }
        Ok(())
    };
    if opts.system_check == SystemCheck::Auto {
        let mut pairs = vec![(staged, live.as_path())];
        pairs.extend(
            extras
                .iter()
                .map(|x| (x.staged.as_path(), x.live.as_path())),
        );
        // A bind mount needs a target: an empty file is a valid, harmless
        // site for the moment it exists.
        let mut placeholders = Vec::new();
        for (_, l) in &pairs {
            if !l.exists() {
                files::write_atomic(l, b"").map_err(|e| ProxyError::io(l, "create", e))?;
                placeholders.push(l.to_path_buf());
            }
        }
        let shadowed = ngx.check_shadowed(&layout.main_conf, &pairs);
        for p in &placeholders {
            fs::remove_file(p).map_err(|e| ProxyError::io(p, "remove", e))?;
        }
        match shadowed? {
            Shadowed::Ran(Check::Valid(dump)) => {
                included(&dump)?;
                return Ok((files::swap(changes)?, CheckedBy::MountNamespace));
            }
            Shadowed::Ran(Check::Refused(message)) => {
                return Err(ProxyError::Invalid {
                    site: staged.to_path_buf(),
                    main: layout.main_conf.clone(),
                    message: with_hint(message),
                });
            }
            Shadowed::Unavailable => {}
        }
    }
    let backup = files::swap(changes)?;
    let refused = match ngx.check(None, &layout.main_conf, None) {
        Ok(Check::Valid(dump)) => match included(&dump) {
            Ok(()) => return Ok((backup, CheckedBy::InPlace)),
            Err(e) => e,
        },
        Ok(Check::Refused(message)) => ProxyError::Invalid {
            site: live.clone(),
            main: layout.main_conf.clone(),
            message: with_hint(message),
        },
        Err(e) => e,
    };
    Err(backup.restore_after(refused))
}

/// nginx's refusal, with what to do when the cause is a missing module.
fn with_hint(message: String) -> String {
    if message.contains("unknown directive \"stream\"") {
        format!(
            "{message}\n(nginx's stream module is missing, which forwards the containers' \
             port_out: apt-get install libnginx-mod-stream)"
        )
    } else {
        message
    }
}

/// A file conteneur generates beside the site (backends, stream forwards).
struct Extra {
    staged: PathBuf,
    live: PathBuf,
    text: String,
    /// nginx needs it (something to say in it).
    needed: bool,
}

/// What [`status`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub mode: Mode,
    /// The running nginx master.
    pub pid: Option<u32>,
    pub pid_file: PathBuf,
    pub main_conf: PathBuf,
    /// The live site, and whether it exists.
    pub site: PathBuf,
    pub site_exists: bool,
    /// The `listen` addresses of the live site.
    pub listen: Vec<String>,
    /// nginx processes whose master died, still holding our ports.
    pub orphans: Vec<orphan::Orphan>,
}

impl Status {
    pub fn running(&self) -> bool {
        self.pid.is_some()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match self.mode {
            Mode::Private => "private nginx",
            Mode::System => "system nginx",
        };
        match self.pid {
            Some(pid) => writeln!(f, "{who}: running (pid {pid})")?,
            None => writeln!(f, "{who}: not running")?,
        }
        writeln!(f, "main configuration: {}", self.main_conf.display())?;
        if self.site_exists {
            writeln!(f, "site: {}", self.site.display())?;
        } else {
            writeln!(f, "site: {} (missing)", self.site.display())?;
        }
        if self.listen.is_empty() {
            writeln!(f, "listens on: nothing (no listen in the site)")?;
        } else {
            writeln!(f, "listens on: {}", self.listen.join(", "))?;
        }
        for o in &self.orphans {
            let what = match self.mode {
                Mode::Private => "`conteneur proxy start` or the next reconfigure ends it",
                Mode::System => SYSTEM_ORPHAN_ADVICE,
            };
            writeln!(
                f,
                "orphaned nginx process: {o}; its master is gone and it serves the old routes: {what}"
            )?;
        }
        Ok(())
    }
}

/// Whether nginx runs, where it listens (as the live site says), and its files.
pub fn status(paths: &Paths, mode: Mode) -> Result<Status, ProxyError> {
    let layout = Layout::new(paths, mode);
    let pid_file = layout.pid_file();
    let site = files::read_optional(&layout.site)?;
    let listen = site
        .as_deref()
        .map(|b| listen_addresses(&String::from_utf8_lossy(b)))
        .unwrap_or_default();
    let orphans = orphans_of(
        &layout,
        &[site.clone(), files::read_optional(&layout.stream)?],
    );
    Ok(Status {
        orphans,
        mode,
        pid: nginx::running_master(&pid_file),
        pid_file,
        main_conf: layout.main_conf,
        site_exists: site.is_some(),
        site: layout.site,
        listen,
    })
}

/// Starts the private nginx (already running: nothing to do). Without a
/// live site yet, the staged one is applied first.
pub fn start(paths: &Paths) -> Result<Status, ProxyError> {
    start_with(paths, &Options::default())
}

/// [`start`], for a run that only needs the private nginx up: when its
/// master runs already, nothing else is read (no status to report).
pub fn ensure_started(paths: &Paths) -> Result<(), ProxyError> {
    let layout = Layout::new(paths, Mode::Private);
    if let Some(pf) = &layout.private
        && nginx::running_master(&pf.pid).is_some()
    {
        return Ok(());
    }
    start(paths).map(|_| ())
}

/// Whether [`start`] would publish the staged site (no live one, or one
/// from an older conteneur without its backends and stream files), rather
/// than start the live one, which was checked when it was applied.
pub fn start_publishes(paths: &Paths) -> bool {
    publishes_at_start(&Layout::new(paths, Mode::Private))
}

fn publishes_at_start(layout: &Layout) -> bool {
    // A live site from before the backends and stream files existed (an
    // older conteneur) is applied again from the staged one, which writes
    // them.
    let complete = layout.upstreams.exists() && layout.stream.exists();
    !(layout.site.exists() && (complete || !layout.staged.exists()))
}

/// [`start`] with explicit settings.
pub fn start_with(paths: &Paths, opts: &Options) -> Result<Status, ProxyError> {
    let layout = Layout::new(paths, Mode::Private);
    let Some(pf) = &layout.private else {
        return Err(ProxyError::NotPrivate { action: "start" });
    };
    if nginx::running_master(&pf.pid).is_some() {
        return status(paths, Mode::Private);
    }
    prepare_prefix(pf)?;
    let ngx = Nginx::find(opts.nginx.as_deref())?;
    if !publishes_at_start(&layout) {
        // The live site was checked when applied, but the main file may be
        // new (another conteneur version): check them together first.
        check_private(
            &ngx,
            &layout,
            pf,
            &layout.site,
            &layout.upstreams,
            &layout.stream,
        )?;
        let main = pf.main_conf(&layout.site, &layout.upstreams, &layout.stream)?;
        if files::read_optional(&layout.main_conf)?.as_deref() != Some(main.as_bytes()) {
            files::write_atomic(&layout.main_conf, main.as_bytes())
                .map_err(|e| ProxyError::io(&layout.main_conf, "write", e))?;
        }
    } else if layout.staged.exists() {
        apply_with(paths, Mode::Private, &layout.staged, opts)?;
    } else {
        return Err(ProxyError::NoSite {
            live: layout.site.clone(),
            staged: layout.staged.clone(),
        });
    }
    let live = [
        files::read_optional(&layout.site)?,
        files::read_optional(&layout.stream)?,
    ];
    recover_orphans(&layout, &live, opts)?;
    // A pid file left by a crashed nginx would only confuse the next status.
    if pf.pid.exists() {
        fs::remove_file(&pf.pid).map_err(|e| ProxyError::io(&pf.pid, "remove", e))?;
    }
    ngx.start(&pf.prefix, &layout.main_conf, &pf.error_log)
        .map_err(|message| ProxyError::Start {
            main: layout.main_conf.clone(),
            message,
        })?;
    // The daemon writes its pid file just after it forks away.
    let begin = std::time::Instant::now();
    while nginx::running_master(&pf.pid).is_none() {
        if begin.elapsed() > opts.process_timeout {
            return Err(ProxyError::Start {
                main: layout.main_conf.clone(),
                message: format!(
                    "no running nginx master in {} after {} s; see {}",
                    pf.pid.display(),
                    opts.process_timeout.as_secs(),
                    pf.error_log.display()
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    status(paths, Mode::Private)
}

/// Stops the private nginx: a graceful quit (requests in flight finish),
/// then a fast stop if it lingers. Returns the pid it stopped, `None` if it
/// was not running.
pub fn stop(paths: &Paths) -> Result<Option<u32>, ProxyError> {
    stop_with(paths, &Options::default())
}

/// [`stop`] with explicit settings.
pub fn stop_with(paths: &Paths, opts: &Options) -> Result<Option<u32>, ProxyError> {
    let layout = Layout::new(paths, Mode::Private);
    let Some(pf) = &layout.private else {
        return Err(ProxyError::NotPrivate { action: "stop" });
    };
    let Some(pid) = nginx::running_master(&pf.pid) else {
        return Ok(None);
    };
    nginx::send(pid, Signal::SIGQUIT, "SIGQUIT (graceful stop)", &pf.pid)?;
    if nginx::wait_gone(pid, opts.process_timeout) {
        return Ok(Some(pid));
    }
    // Long-lived connections (websockets) keep a graceful quit waiting.
    nginx::send(pid, Signal::SIGTERM, "SIGTERM (fast stop)", &pf.pid)?;
    if nginx::wait_gone(pid, opts.process_timeout) {
        return Ok(Some(pid));
    }
    Err(ProxyError::Stop {
        pid,
        message: format!(
            "still running {} s after SIGQUIT and SIGTERM; see {}",
            2 * opts.process_timeout.as_secs(),
            pf.error_log.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_stream_module_is_named_with_its_package() {
        let m = with_hint("nginx: [emerg] unknown directive \"stream\" in /x.conf:3".into());
        assert!(m.contains("libnginx-mod-stream"), "{m}");
        assert_eq!(with_hint("other".into()), "other");
    }
}
