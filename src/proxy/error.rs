//! What can go wrong with the web front, said so that an admin can act:
//! every message names the file involved and quotes nginx's own words.

use std::io;
use std::path::PathBuf;

/// An error of the [`proxy`](crate::proxy) module.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No nginx binary to run.
    #[error(
        "nginx was not found (looked for {tried}); install Debian's nginx \
         (`apt-get install nginx`, or scripts/services.sh), or set CONTENEUR_NGINX to its path"
    )]
    NginxMissing { tried: String },

    /// The staged site (rendered by the templates) cannot be read.
    #[error("cannot read the staged nginx site {}: {source}", path.display())]
    Staged {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A file operation failed.
    #[error("{}: cannot {op}: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },

    /// A command could not be run at all.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: io::Error,
    },

    /// `nginx -t` refused the full configuration with the new site.
    #[error(
        "nginx refused the new site {} (checked with {}); nothing was changed \
         and nginx keeps serving the previous routes:\n{message}",
        site.display(), main.display()
    )]
    Invalid {
        /// The site that was checked (the staged file).
        site: PathBuf,
        /// The main configuration it was checked within.
        main: PathBuf,
        /// nginx's own words (its stderr).
        message: String,
    },

    /// The new site is valid but nginx's main configuration never reads it.
    #[error(
        "the nginx configuration {} does not include the site file {}, so its \
         routes would never be served; add `include {};` inside its `http {{}}` block \
         (Debian's nginx.conf includes /etc/nginx/conf.d/*.conf)",
        main.display(), site.display(), site.display()
    )]
    NotIncluded { main: PathBuf, site: PathBuf },

    /// nginx accepted the configuration in a test but not when reloading
    /// (a port already in use, typically).
    #[error(
        "nginx could not load the new site {} when reloading; the previous \
         files were restored and nginx keeps serving the previous routes:\n{message}",
        site.display()
    )]
    Reload { site: PathBuf, message: String },

    /// Putting the previous files back failed after another failure: the
    /// live file may hold the refused configuration.
    #[error(
        "{first}\nand restoring the previous {} failed: {source}; the file may \
         hold the refused configuration: fix or remove it before nginx reloads",
        path.display()
    )]
    Restore {
        first: Box<ProxyError>,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// System mode without Debian's nginx configuration under the root.
    #[error(
        "there is no nginx configuration at {} (proxy mode 'system' publishes \
         through Debian's nginx): install nginx (`apt-get install nginx`), or set \
         conteneur_proxy_mode to 'private' for an nginx of conteneur's own under --root",
        main.display()
    )]
    NoMainConf { main: PathBuf },

    /// The private nginx did not come up.
    #[error("the private nginx ({}) did not start:\n{message}", main.display())]
    Start { main: PathBuf, message: String },

    /// nginx processes whose master died hold our ports (or files).
    #[error(
        "nginx processes left behind by a master that died (killed with SIGKILL?) keep \
         serving the old routes: {}; {advice}",
        list.iter().map(|o| o.to_string()).collect::<Vec<_>>().join("; ")
    )]
    Orphans {
        list: Vec<super::orphan::Orphan>,
        advice: String,
    },

    /// The private nginx did not go away.
    #[error("the private nginx (pid {pid}) did not stop: {message}")]
    Stop { pid: u32, message: String },

    /// Sending a signal to nginx failed.
    #[error("cannot send {signal} to nginx (pid {pid}, from {}): {source}", pid_file.display())]
    Signal {
        signal: &'static str,
        pid: u32,
        pid_file: PathBuf,
        #[source]
        source: nix::Error,
    },

    /// `start`/`stop` are for the private nginx only.
    #[error(
        "`proxy {action}` manages the private nginx only, and the proxy mode is \
         'system' here: Debian's nginx is started and stopped by its service \
         (systemctl/service nginx {action}); set conteneur_proxy_mode to 'private' \
         or pass --mode private for a private nginx under --root"
    )]
    NotPrivate { action: &'static str },

    /// Nothing to serve yet.
    #[error(
        "no nginx site to serve: neither {} nor the staged {} exists; render \
         the templates first (instance or reconfigure)",
        live.display(), staged.display()
    )]
    NoSite { live: PathBuf, staged: PathBuf },

    /// An unknown mode name.
    #[error("invalid proxy mode '{0}': expected 'system' or 'private'")]
    Mode(String),

    /// The proxy mode variable could not be read from the configuration.
    #[error("cannot read conteneur_proxy_mode: {0}")]
    ModeVariable(String),

    /// A path that cannot be written safely into nginx syntax.
    #[error(
        "the path {} cannot be written into an nginx configuration (it holds a \
         quote, a backslash, a '$' or a control character); choose another --root",
        path.display()
    )]
    UnsafePath { path: PathBuf },

    /// The private nginx's workers (user nobody when started by root) could
    /// not reach their temporary folders.
    #[error(
        "{} is not reachable by nginx's worker processes, which run as user \
         'nobody' when nginx is started by root (large requests and responses \
         would fail); allow it with `chmod o+x {}` or use a --root under a \
         world-readable folder",
        dir.display(), dir.display()
    )]
    NotTraversable { dir: PathBuf },
}

impl ProxyError {
    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: io::Error) -> Self {
        ProxyError::Io {
            path: path.into(),
            op,
            source,
        }
    }
}
