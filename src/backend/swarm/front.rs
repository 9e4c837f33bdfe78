//! The swarm front's image, made of this machine's nginx.

use std::collections::BTreeMap;

use super::SwarmBackend;
use crate::backend::Backend;
use crate::backend::{BackendError, NoProgress};

impl SwarmBackend {
    /// Builds the front's image `reference` (from [`front_image_ref`]) on
    /// this node unless it is there.
    pub async fn ensure_front_image(&self, reference: &str) -> Result<(), BackendError> {
        if self.docker.inspect_image(reference).await.is_ok() {
            return Ok(());
        }
        let tag = reference.rsplit(':').next().unwrap_or("latest");
        let context = front_context().await?;
        self.engine
            .build(FRONT_IMAGE, tag, context, &BTreeMap::new(), &NoProgress)
            .await?;
        Ok(())
    }
}

/// The front's image: this machine's nginx and the libraries it links, in
/// an image built on the manager (there is no registry of images to pull
/// an nginx from here). Named by a hash of the binary: a new nginx, a new
/// image.
pub fn front_image_ref() -> Result<String, BackendError> {
    use sha2::Digest;
    let binary = std::fs::read(NGINX).map_err(|e| BackendError::Unavailable {
        engine: "Docker Swarm",
        message: format!(
            "the swarm front is this machine's nginx in an image, and {NGINX} cannot be read ({e}); apt-get install nginx"
        ),
    })?;
    let d = sha2::Sha256::digest(&binary);
    let tag: String = d.iter().take(6).map(|b| format!("{b:02x}")).collect();
    Ok(format!("{FRONT_IMAGE}:{tag}"))
}

/// The nginx the front's image is made of.
const NGINX: &str = "/usr/sbin/nginx";
/// The front's image name (never pushed).
pub const FRONT_IMAGE: &str = "conteneur/front";

/// The build context of the front's image: nginx, its libraries (`ldd`),
/// the folders it writes to, and a Dockerfile `FROM scratch`.
async fn front_context() -> Result<Vec<u8>, BackendError> {
    let fail = |m: String| BackendError::Build {
        image: FRONT_IMAGE.into(),
        tag: String::new(),
        repository: NGINX.into(),
        message: m,
    };
    let dir = tempfile::tempdir().map_err(|e| fail(e.to_string()))?;
    let root = dir.path();
    let ldd = tokio::process::Command::new("ldd")
        .arg(NGINX)
        .output()
        .await
        .map_err(|e| fail(format!("ldd: {e}")))?;
    // Without its libraries the image would build and only fail to start.
    if !ldd.status.success() {
        return Err(fail(format!(
            "`ldd {NGINX}` failed ({}): {}",
            ldd.status,
            String::from_utf8_lossy(&ldd.stderr).trim()
        )));
    }
    let mut files = vec![NGINX.to_string()];
    files.extend(
        String::from_utf8_lossy(&ldd.stdout)
            .split_whitespace()
            .filter(|w| w.starts_with('/'))
            .map(str::to_string),
    );
    let io = |e: std::io::Error| fail(e.to_string());
    for f in &files {
        let dest = root.join(f.trim_start_matches('/'));
        if let Some(p) = dest.parent() {
            std::fs::create_dir_all(p).map_err(io)?;
        }
        std::fs::copy(f, &dest).map_err(io)?;
    }
    for d in ["var/lib/nginx", "var/log/nginx", "run", "tmp", "etc/nginx"] {
        std::fs::create_dir_all(root.join(d)).map_err(io)?;
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/:/nonexistent\nnobody:x:65534:65534:nobody:/nonexistent:/nonexistent\n",
    )
    .map_err(io)?;
    std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").map_err(io)?;
    std::fs::write(
        root.join("Dockerfile"),
        "FROM scratch\nCOPY . /\nCMD [\"/usr/sbin/nginx\", \"-g\", \"daemon off;\"]\n",
    )
    .map_err(io)?;
    let tar = tokio::process::Command::new("tar")
        .arg("-C")
        .arg(root)
        .args(["-c", "."])
        .output()
        .await
        .map_err(|e| fail(format!("tar: {e}")))?;
    if !tar.status.success() {
        return Err(fail(String::from_utf8_lossy(&tar.stderr).into_owned()));
    }
    Ok(tar.stdout)
}
