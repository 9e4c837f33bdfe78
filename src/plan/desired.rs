//! What a configuration asks for, checked as every run checks it before
//! changing anything: no value error, every template rendered (in memory),
//! the launch plans parsed, and the host folders of bind mounts where a run
//! accepts them. `run`, `plan`, `export` and `status` all start here, so
//! they never disagree about what is wanted. It reads and never writes.

use std::path::{Path, PathBuf};

use super::launch::{Launch, LaunchFile, MountKind};
use crate::config::{Config, InvalidValues};
use crate::paths::Paths;
use crate::template::{self, TemplateErrors};

/// Where the templates render the launch plans, under the state folder.
pub const LAUNCH_FILE: &str = "launch.json";

/// Why a configuration gives no launch plans. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum DesiredError {
    #[error(transparent)]
    Invalid(#[from] InvalidValues),
    #[error("the templates cannot be rendered:\n{0}")]
    Template(TemplateErrors),
    #[error("the rendered launch plans {path} are not valid: {message}")]
    Launch { path: PathBuf, message: String },
}

/// What a configuration asks for, checked as every run checks it before
/// changing anything: no value error, every template rendered (in memory),
/// and the launch plans parsed. `run`, `plan`, `export` and `status` all
/// start here, so they never disagree about what is wanted.
pub fn desired(
    cfg: &Config,
    paths: &Paths,
) -> Result<(Vec<template::Rendered>, Vec<Launch>), DesiredError> {
    cfg.check_values()?;
    let rendered = template::render_all(cfg, paths, None).map_err(DesiredError::Template)?;
    let launches = launches_of(&rendered, paths)?;
    Ok((rendered, launches))
}

/// The launch plans among rendered files (none when no template renders
/// them).
pub fn launches_of(
    rendered: &[template::Rendered],
    paths: &Paths,
) -> Result<Vec<Launch>, DesiredError> {
    let launch_path = launch_path(paths);
    let text = rendered.iter().find_map(|r| match &r.action {
        template::Action::Write(text) if r.dest == launch_path => Some(text.as_str()),
        _ => None,
    });
    match text {
        Some(t) => LaunchFile::parse(t)
            .map(|f| f.containers)
            .map_err(|e| DesiredError::Launch {
                path: launch_path.clone(),
                message: e.to_string(),
            }),
        None => Ok(Vec::new()),
    }
}

/// Where each host folder of `launches` really leads, symbolic links
/// followed, under `root` and not protected (unless `allow_system`): what
/// a run checks before anything changes, and `export` before it writes.
pub fn resolve_binds<'a>(
    root: &Path,
    launches: impl IntoIterator<Item = &'a Launch>,
    allow_system: bool,
) -> Result<(), crate::mounts::MountError> {
    let mut resolved = Vec::new();
    for d in launches {
        for m in d.mounts.iter().filter(|m| m.kind == MountKind::Bind) {
            let given = super::mount_given(d, &m.host);
            let path = crate::mounts::resolve(root, given, allow_system)?;
            resolved.push((given, path.display().to_string()));
        }
    }
    // Nested once links are followed too (`/srv/b` a link into `/srv/a`).
    crate::mounts::check_nested(&resolved)
}

/// `conteneur_allow_system_mounts`: may containers get protected folders?
pub fn allow_system_mounts(cfg: &Config) -> bool {
    cfg.first("conteneur_allow_system_mounts").as_deref() == Some("oui")
}

/// Is `path` the rendered launch file? (For tests and `status`.)
pub fn launch_path(paths: &Paths) -> PathBuf {
    paths.state.join(LAUNCH_FILE)
}

/// Reads the launch file last written by a run, if any.
pub fn read_launch(path: &Path) -> Option<Vec<Launch>> {
    let text = std::fs::read_to_string(path).ok()?;
    LaunchFile::parse(&text).ok().map(|f| f.containers)
}
