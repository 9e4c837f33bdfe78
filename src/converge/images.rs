//! Step 1 of a plan: the images. Every pull and build runs before anything
//! else changes (files included), in parallel with a bound; a pull that
//! gets no progress from the engine for `pull_timeout` is abandoned, naming
//! the registry, the image and the step it stalled at, and a build that
//! prints nothing for `build_timeout` (a RUN that hangs) likewise.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};

use super::{ConvergeError, ImageIds, Settings};
use crate::backend::{BackendError, Backends, Progress, git};
use crate::plan::observed::{Kind, labels};
use crate::plan::{Action, Plan};

/// What a pull or a build brought: (engine, `image:tag`, image id).
type Prepared = (Kind, String, String);

/// One pull or build, on its engine.
async fn prepare_one(
    action: &Action,
    backends: &Backends,
    settings: &Settings,
    progress: &dyn Progress,
) -> Result<Prepared, BackendError> {
    match action {
        Action::Pull {
            backend,
            image,
            tag,
        } => {
            let b = backends.require(*backend)?;
            let timeout = settings.pull_timeout;
            let watch = Watch::new(progress);
            let id = watched(
                b.prepare(image, tag, &watch),
                &watch,
                &format!("{image}:{tag}"),
                timeout,
                |step| BackendError::PullStalled {
                    registry: crate::backend::registry_of(image),
                    image: image.to_string(),
                    tag: tag.to_string(),
                    seconds: timeout.as_secs(),
                    step: step.map(|s| format!("after '{s}'")).unwrap_or_else(|| {
                        "waiting for the registry's first answer (the image manifest)".into()
                    }),
                },
            )
            .await?;
            Ok((*backend, format!("{image}:{tag}"), id))
        }
        Action::Build {
            image,
            tag,
            repository,
            commit,
        } => {
            let docker = backends.require(Kind::Docker)?;
            let fail = |message: String| BackendError::Build {
                image: image.clone(),
                tag: tag.clone(),
                repository: repository.clone(),
                message,
            };
            let reference = format!("{image}:{tag}");
            progress.update(&reference, &format!("fetching {repository} {tag}"));
            let context = git::fetch_tree(
                &settings.git_cache,
                repository,
                tag,
                commit,
                settings.git_credentials.get(repository),
            )
            .await
            .map_err(|e| {
                let e = fail(e.to_string());
                progress.done(&reference, &Err(e.clone()));
                e
            })?;
            let mut l = BTreeMap::new();
            l.insert(labels::GIT_COMMIT.to_string(), commit.clone());
            l.insert(labels::GIT_URL.to_string(), repository.clone());
            // A step that prints nothing for build_timeout (a RUN that
            // hangs) is abandoned as a stalled pull is; the engine ends the
            // build when its request goes.
            let timeout = settings.build_timeout;
            let watch = Watch::new(progress);
            let id = watched(
                docker.build(image, tag, context, &l, &watch),
                &watch,
                &reference,
                timeout,
                |step| {
                    fail(format!(
                        "the build printed nothing for {} s ({}) and was abandoned; give builds \
                         more time with conteneur_build_timeout",
                        timeout.as_secs(),
                        step.map(|s| format!("after '{s}'"))
                            .unwrap_or_else(|| "from its start".into())
                    ))
                },
            )
            .await?;
            Ok((Kind::Docker, reference, id))
        }
        _ => Err(BackendError::Other("not a pull or a build".into())),
    }
}

/// A pull's or a build's progress, passed on, with when the engine last
/// said anything and what: a registry that stalls, or a build step that
/// hangs, shows as silence.
struct Watch<'a> {
    inner: &'a dyn Progress,
    last: std::sync::Mutex<(Instant, Option<String>)>,
}

impl<'a> Watch<'a> {
    fn new(inner: &'a dyn Progress) -> Watch<'a> {
        Watch {
            inner,
            last: std::sync::Mutex::new((Instant::now(), None)),
        }
    }
}

impl Progress for Watch<'_> {
    fn update(&self, image: &str, status: &str) {
        if let Ok(mut l) = self.last.lock() {
            *l = (Instant::now(), Some(status.to_string()));
        }
        self.inner.update(image, status);
    }
    fn done(&self, image: &str, result: &Result<String, BackendError>) {
        self.inner.done(image, result);
    }
}

/// Runs `work` (a pull or a build reporting to `watch`), abandoning it
/// when the engine reports no progress for `timeout` (a registry that
/// accepts and never answers, a build step that hangs): the error
/// `stalled` makes of the last step seen is then its result.
async fn watched(
    work: impl std::future::Future<Output = Result<String, BackendError>>,
    watch: &Watch<'_>,
    reference: &str,
    timeout: Duration,
    stalled: impl FnOnce(Option<String>) -> BackendError,
) -> Result<String, BackendError> {
    let tick = (timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    tokio::pin!(work);
    loop {
        tokio::select! {
            r = &mut work => return r,
            () = tokio::time::sleep(tick) => {
                let (since, step) = match watch.last.lock() {
                    Ok(l) => (l.0.elapsed(), l.1.clone()),
                    Err(_) => continue,
                };
                if since >= timeout {
                    let e = stalled(step);
                    watch.inner.done(reference, &Err(e.clone()));
                    return Err(e);
                }
            }
        }
    }
}

/// Images brought by the pulls and builds of a plan.
#[derive(Debug, Clone, Default)]
pub struct Images {
    /// Every image id known: those observed and those just brought.
    pub ids: ImageIds,
    pub pulled: Vec<String>,
    pub built: Vec<String>,
}

/// Step 1 of a plan: every pull and build, in parallel with a bound,
/// before anything else changes (files included: a run writes its
/// templates only once the images are there). `images` are the ids already
/// known. One that fails fails them all: nothing was changed.
pub async fn prepare_images(
    plan: &Plan,
    images: &ImageIds,
    backends: &Backends,
    settings: &Settings,
    progress: &dyn Progress,
) -> Result<Images, ConvergeError> {
    let parallel = settings.parallel.max(1);
    let mut out = Images {
        ids: images.clone(),
        ..Images::default()
    };

    // 1. Every pull and build, before any container is touched.
    let prepares: Vec<&Action> = plan
        .steps
        .iter()
        .map(|s| &s.action)
        .filter(|a| a.is_prepare())
        .collect();
    let results: Vec<(bool, Result<Prepared, BackendError>)> = stream::iter(prepares)
        .map(|a| async move {
            let is_build = matches!(a, Action::Build { .. });
            (is_build, prepare_one(a, backends, settings, progress).await)
        })
        .buffer_unordered(parallel)
        .collect()
        .await;
    let mut first_error = None;
    for (is_build, r) in results {
        match r {
            Ok((kind, reference, id)) => {
                out.ids.insert((kind, reference.clone()), id);
                if is_build {
                    out.built.push(reference);
                } else {
                    out.pulled.push(reference);
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(ConvergeError::Pull(e)),
        None => Ok(out),
    }
}
