//! OCI images for LXC: telling an image from an LXC template, copying an
//! image with skopeo into conteneur's OCI layout (`lxc/oci`, from which
//! `lxc-create -t oci` unpacks it with umoci), and reading what that
//! layout holds. Its own file because the image cache has nothing to do
//! with a container's life once it is created.

use std::collections::BTreeMap;
use std::process::Stdio;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::{LxcBackend, TOOL_TIMEOUT};
use crate::backend::{BackendError, Progress};
use crate::plan::launch::is_template;

/// A registry on this machine, read over plain HTTP as Docker does.
pub fn is_loopback_registry(image: &str) -> bool {
    let host = image.split('/').next().unwrap_or("");
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

impl LxcBackend {
    /// The OCI reference an image is kept under in the cache.
    pub(super) fn cache_ref(&self, image: &str, tag: &str) -> String {
        format!("oci:{}:{image}:{tag}", self.cache.display())
    }

    /// Images in the cache: `image:tag` → manifest digest.
    pub(super) fn cached_images(&self) -> BTreeMap<String, String> {
        #[derive(Deserialize)]
        struct Index {
            #[serde(default)]
            manifests: Vec<Entry>,
        }
        #[derive(Deserialize)]
        struct Entry {
            digest: String,
            #[serde(default)]
            annotations: BTreeMap<String, String>,
        }
        let Ok(text) = std::fs::read_to_string(self.cache.join("index.json")) else {
            return BTreeMap::new();
        };
        let Ok(index) = serde_json::from_str::<Index>(&text) else {
            return BTreeMap::new();
        };
        index
            .manifests
            .into_iter()
            .filter_map(|m| {
                m.annotations
                    .get("org.opencontainers.image.ref.name")
                    .map(|r| (r.clone(), m.digest))
            })
            .collect()
    }

    /// [`crate::backend::Backend::prepare`] for LXC: a template needs
    /// nothing; an OCI image is copied into the cache.
    pub(super) async fn prepare_image(
        &self,
        image: &str,
        tag: &str,
        progress: &dyn Progress,
    ) -> Result<String, BackendError> {
        let reference = format!("{image}:{tag}");
        let fail = |message: String| BackendError::pull(image, tag, message);
        if is_template(image) {
            let id = format!("template:{image}");
            progress.done(&reference, &Ok(id.clone()));
            return Ok(id);
        }
        let _one = self.pull_lock.lock().await;
        crate::folders::create_dir_all(&self.cache, crate::folders::PUBLIC)
            .map_err(|e| fail(format!("cannot create {}: {e}", self.cache.display())))?;
        let mut cmd = Command::new("skopeo");
        cmd.arg("copy");
        if is_loopback_registry(image) {
            cmd.arg("--src-tls-verify=false");
        }
        cmd.arg(format!("docker://{reference}"))
            .arg(self.cache_ref(image, tag))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            fail(format!(
                "cannot run skopeo ({e}); on Debian: apt-get install skopeo umoci jq"
            ))
        })?;
        if let Some(stdout) = child.stdout.take() {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                progress.update(&reference, line.trim());
            }
        }
        let out = tokio::time::timeout(TOOL_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| fail("skopeo did not end in time".into()))?
            .map_err(|e| fail(e.to_string()))?;
        let result = if out.status.success() {
            self.cached_images()
                .get(&reference)
                .cloned()
                .ok_or_else(|| fail("the image is not in the cache after the copy".into()))
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            let msg = err
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("skopeo failed")
                .trim();
            // skopeo's log lines: keep the message only.
            let msg = msg
                .split_once("msg=\"")
                .map(|(_, m)| m.trim_end_matches('"'))
                .unwrap_or(msg);
            Err(fail(msg.to_string()))
        };
        progress.done(&reference, &result);
        result
    }
}
