//! What backups ask of the Docker engine beyond [`crate::backend::Backend`]:
//! the container as it runs, pause and unpause, a command run inside it
//! with its output streamed to a file (or a file streamed to its input),
//! and where a named volume's files are on this host.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::backend::Backend;
use crate::backend::docker::{DockerBackend, engine_message};
use crate::plan::observed::labels;

/// How long a command run inside a container may take (a dump of a large
/// database is long; a hung one is not waited for forever).
const EXEC_LIMIT: Duration = Duration::from_secs(6 * 3600);
/// A command that ran past [`EXEC_LIMIT`].
fn over_limit() -> String {
    format!(
        "it did not finish within {} hours, and was given up",
        EXEC_LIMIT.as_secs() / 3600
    )
}

/// What is kept of a command's error output for its message.
const STDERR_KEPT: usize = 4000;

/// The container as the engine reports it.
#[derive(Debug, Clone)]
pub struct Running {
    pub id: String,
    /// The image reference it was created from.
    pub image: String,
    /// The engine's image id (its digest).
    pub image_id: String,
    pub running: bool,
    pub paused: bool,
    /// It has an in-container health check.
    pub healthcheck: bool,
}

/// A command's end.
#[derive(Debug)]
pub struct Exit {
    pub code: i64,
    /// The end of its error output.
    pub stderr: String,
    /// Bytes written to stdout.
    pub bytes: u64,
}

pub struct Engine {
    pub backend: DockerBackend,
    long: Docker,
}

impl Engine {
    pub async fn connect() -> Result<Engine, String> {
        let backend = DockerBackend::connect().await.map_err(|e| e.to_string())?;
        let long = backend.client().clone().with_timeout(EXEC_LIMIT);
        Ok(Engine { backend, long })
    }

    fn docker(&self) -> &Docker {
        self.backend.client()
    }

    /// The container named `name`, if it is ours (server `server`).
    pub async fn container(&self, name: &str, server: &str) -> Result<Option<Running>, String> {
        let c = match self.docker().inspect_container(name, None).await {
            Ok(c) => c,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(None),
            Err(e) => return Err(engine_message(&e)),
        };
        let config = c.config.unwrap_or_default();
        let labels_of: BTreeMap<String, String> = config
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let ours = labels_of.get(labels::MANAGED).map(String::as_str) == Some("true")
            && labels_of.get(labels::SERVER).map(String::as_str) == Some(server);
        if !ours {
            return Err(format!(
                "the engine's container '{name}' was not made by conteneur for this server: it is left alone"
            ));
        }
        let state = c.state.unwrap_or_default();
        Ok(Some(Running {
            id: c.id.unwrap_or_default(),
            image: config.image.unwrap_or_default(),
            image_id: c.image.unwrap_or_default(),
            running: state.running.unwrap_or(false),
            paused: state.paused.unwrap_or(false),
            healthcheck: config
                .healthcheck
                .and_then(|h| h.test)
                .is_some_and(|t| t.first().map(String::as_str) != Some("NONE")),
        }))
    }

    pub async fn pause(&self, id: &str) -> Result<(), String> {
        self.docker()
            .pause_container(id)
            .await
            .map_err(|e| engine_message(&e))
    }

    pub async fn unpause(&self, id: &str) -> Result<(), String> {
        self.docker()
            .unpause_container(id)
            .await
            .map_err(|e| engine_message(&e))
    }

    /// Where the files of the named volume `name` are on this host, and
    /// whether it exists. Only the `local` driver keeps them there.
    pub async fn volume_dir(&self, name: &str) -> Result<Option<PathBuf>, String> {
        match self.docker().inspect_volume(name).await {
            Ok(v) => {
                if v.driver != "local" || !v.options.is_empty() {
                    return Err(format!(
                        "the volume {name} uses the driver '{}'{}: conteneur saves local volumes only",
                        v.driver,
                        if v.options.is_empty() {
                            ""
                        } else {
                            " with options"
                        }
                    ));
                }
                Ok(Some(PathBuf::from(v.mountpoint)))
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(engine_message(&e)),
        }
    }

    /// Runs `cmd` inside container `id`, its output into `out`.
    pub async fn exec_to(
        &self,
        id: &str,
        cmd: &[String],
        out: &mut tokio::fs::File,
    ) -> Result<Exit, String> {
        let (exec, output, _input) = self.start_exec(id, cmd, false).await?;
        let mut stderr = Vec::new();
        let mut bytes = 0u64;
        let mut output = output;
        let mut write_error = None;
        // The engine's client bounds only the answer's headers: the stream
        // itself is bounded here.
        let pump = async {
            while let Some(item) = output.next().await {
                match item.map_err(|e| engine_message(&e))? {
                    // After a failed write, read to the end anyway, so the
                    // command is not left blocked on a full pipe.
                    LogOutput::StdOut { message } if write_error.is_none() => {
                        match out.write_all(&message).await {
                            Ok(()) => bytes += message.len() as u64,
                            Err(e) => write_error = Some(e),
                        }
                    }
                    LogOutput::StdErr { message } => keep_tail(&mut stderr, &message),
                    _ => {}
                }
            }
            Ok::<(), String>(())
        };
        tokio::time::timeout(EXEC_LIMIT, pump)
            .await
            .map_err(|_| over_limit())??;
        if let Some(e) = write_error {
            return Err(format!("writing its output failed: {e}"));
        }
        out.flush().await.map_err(|e| e.to_string())?;
        self.exit(&exec, stderr, bytes).await
    }

    /// Runs `cmd` inside container `id` with the file `input` as its
    /// input.
    pub async fn exec_from(&self, id: &str, cmd: &[String], input: &Path) -> Result<Exit, String> {
        let (exec, output, stdin) = self.start_exec(id, cmd, true).await?;
        let mut file = tokio::fs::File::open(input)
            .await
            .map_err(|e| format!("{}: {e}", input.display()))?;
        let feed = async move {
            let Some(mut stdin) = stdin else {
                return Err("the engine gave no input stream".to_string());
            };
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = file.read(&mut buf).await.map_err(|e| e.to_string())?;
                if n == 0 {
                    break;
                }
                stdin
                    .write_all(&buf[..n])
                    .await
                    .map_err(|e| format!("the command stopped reading its input: {e}"))?;
            }
            stdin.shutdown().await.map_err(|e| e.to_string())
        };
        let drain = async move {
            let mut output = output;
            let mut stderr = Vec::new();
            while let Some(item) = output.next().await {
                if let Ok(LogOutput::StdErr { message }) = item {
                    keep_tail(&mut stderr, &message);
                }
            }
            stderr
        };
        let (fed, stderr) = tokio::time::timeout(EXEC_LIMIT, async { tokio::join!(feed, drain) })
            .await
            .map_err(|_| over_limit())?;
        let exit = self.exit(&exec, stderr, 0).await?;
        if exit.code == 0 {
            fed?;
        }
        Ok(exit)
    }

    async fn start_exec(
        &self,
        id: &str,
        cmd: &[String],
        stdin: bool,
    ) -> Result<
        (
            String,
            std::pin::Pin<
                Box<
                    dyn futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>>
                        + Send,
                >,
            >,
            Option<std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>>,
        ),
        String,
    > {
        let exec = self
            .long
            .create_exec(
                id,
                CreateExecOptions::<String> {
                    attach_stdin: Some(stdin),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(false),
                    cmd: Some(cmd.to_vec()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| engine_message(&e))?
            .id;
        match self
            .long
            .start_exec(
                &exec,
                Some(StartExecOptions {
                    detach: false,
                    tty: false,
                    output_capacity: Some(1 << 20),
                }),
            )
            .await
            .map_err(|e| engine_message(&e))?
        {
            StartExecResults::Attached { output, input } => Ok((exec, output, Some(input))),
            StartExecResults::Detached => Err("the engine detached the command".into()),
        }
    }

    async fn exit(&self, exec: &str, stderr: Vec<u8>, bytes: u64) -> Result<Exit, String> {
        // The stream ends as the process does; the engine may take a moment
        // to record its exit code.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let i = self
                .docker()
                .inspect_exec(exec)
                .await
                .map_err(|e| engine_message(&e))?;
            if i.running != Some(true) {
                return Ok(Exit {
                    code: i.exit_code.unwrap_or(-1),
                    stderr: String::from_utf8_lossy(&stderr).trim().to_string(),
                    bytes,
                });
            }
            if Instant::now() > deadline {
                return Err("the command's output ended but it did not exit".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until container `id` runs and, with a health check, is
    /// healthy; `within` bounds the wait.
    pub async fn wait_ready(
        &self,
        id: &str,
        healthcheck: bool,
        within: Duration,
    ) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            let live = self.backend.liveness(id).await.map_err(|e| e.to_string())?;
            let healthy = if healthcheck {
                matches!(
                    self.backend.health(id).await.map_err(|e| e.to_string())?,
                    Some((ref s, _)) if s == "healthy"
                )
            } else {
                true
            };
            if live.running && !live.restarting && healthy {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "it was not {} within {} s",
                    if live.running { "healthy" } else { "running" },
                    within.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

fn keep_tail(buf: &mut Vec<u8>, more: &[u8]) {
    buf.extend_from_slice(more);
    if buf.len() > STDERR_KEPT {
        let cut = buf.len() - STDERR_KEPT;
        buf.drain(..cut);
    }
}
