//! The git side of `docker+git`: where a tag points, and the source tree
//! of a commit as the tar a Docker build takes.
//!
//! Through the `git` command rather than libgit2: it is on every server
//! that builds from git, it speaks every transport (file, https, ssh with
//! the admin's own keys and settings), and a C library built on 2 cores
//! for one `ls-remote` and one `fetch` is not worth it.
//!
//! Sources are fetched into a bare cache under conteneur's state folder (one
//! per repository), so a rebuild only fetches what changed. The tar comes
//! from `git archive` of the commit: exactly the checked-out tree, without
//! `.git` (submodules are not included).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::process::Command;

use crate::userinfo::Credentials;

/// How long one git command may take before it is given up.
const GIT_TIMEOUT: Duration = Duration::from_secs(300);

/// Why git could not give a source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitError {
    #[error("the git command is missing: {0} (on Debian: apt-get install git)")]
    Missing(String),
    #[error("git repository {url}: {message}")]
    Repository { url: String, message: String },
    #[error("git repository {url} has no tag or branch '{tag}'")]
    NoSuchTag { url: String, tag: String },
    #[error(
        "git repository {url}: '{tag}' moved to {found} while conteneur was running (it was {expected}); run again"
    )]
    Moved {
        url: String,
        tag: String,
        expected: String,
        found: String,
    },
}

/// A credential helper given to git in its environment (`GIT_CONFIG_*`,
/// not argv): it answers with the user name and password of the
/// environment variables below, so that neither shows in any process's
/// command line (`ps`); only root reads a root process's environment.
const HELPER: &str = "!f() { test \"$1\" = get || exit 0; \
     printf 'username=%s\\n' \"$CONTENEUR_GIT_USERNAME\"; \
     test -z \"${CONTENEUR_GIT_PASSWORD+x}\" || printf 'password=%s\\n' \"$CONTENEUR_GIT_PASSWORD\"; }; f";

/// Runs git with `args`; its stdout, or what it said on failure. Never
/// asks for a password: a run is not interactive. `cred`: the credentials
/// of the repository, which `url` (and `args`) never hold.
async fn git(
    args: &[&str],
    cwd: Option<&Path>,
    url: &str,
    cred: Option<&Credentials>,
) -> Result<Vec<u8>, GitError> {
    let mut cmd = Command::new("git");
    cmd.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    if let Some(c) = cred {
        // An empty helper first: the admin's own helpers are not asked.
        cmd.env("GIT_CONFIG_COUNT", "2")
            .env("GIT_CONFIG_KEY_0", "credential.helper")
            .env("GIT_CONFIG_VALUE_0", "")
            .env("GIT_CONFIG_KEY_1", "credential.helper")
            .env("GIT_CONFIG_VALUE_1", HELPER)
            .env("CONTENEUR_GIT_USERNAME", &c.username);
        if let Some(p) = &c.password {
            cmd.env("CONTENEUR_GIT_PASSWORD", p);
        }
    }
    let out = tokio::time::timeout(GIT_TIMEOUT, cmd.output())
        .await
        .map_err(|_| GitError::Repository {
            url: url.to_string(),
            message: format!(
                "git {} did not end within {} s",
                args.first().copied().unwrap_or(""),
                GIT_TIMEOUT.as_secs()
            ),
        })?
        .map_err(|e| GitError::Missing(e.to_string()))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(GitError::Repository {
            url: url.to_string(),
            message: err
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("git failed without a message")
                .trim()
                .to_string(),
        })
    }
}

/// The refs `tag` may name, best first: an annotated tag's commit, a tag,
/// a branch.
fn candidates(tag: &str) -> [String; 3] {
    [
        format!("refs/tags/{tag}^{{}}"),
        format!("refs/tags/{tag}"),
        format!("refs/heads/{tag}"),
    ]
}

/// Picks the commit of `tag` in the output of `git ls-remote`.
pub fn pick_commit(ls_remote: &str, tag: &str) -> Option<String> {
    let refs: Vec<(&str, &str)> = ls_remote
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .collect();
    candidates(tag).iter().find_map(|want| {
        refs.iter()
            .find(|(_, r)| r == want)
            .map(|(sha, _)| sha.to_string())
    })
}

/// The commit `tag` (a tag, else a branch) points to in `url` now. Reads
/// the remote only; changes nothing.
pub async fn resolve(url: &str, tag: &str, cred: Option<&Credentials>) -> Result<String, GitError> {
    let [peeled, tag_ref, head] = candidates(tag);
    let out = git(
        &["ls-remote", "--", url, &peeled, &tag_ref, &head],
        None,
        url,
        cred,
    )
    .await?;
    pick_commit(&String::from_utf8_lossy(&out), tag).ok_or_else(|| GitError::NoSuchTag {
        url: url.to_string(),
        tag: tag.to_string(),
    })
}

/// The cache folder of `url` under `cache`: a hash, as URLs are no names.
pub fn cache_dir(cache: &Path, url: &str) -> PathBuf {
    let digest = Sha256::digest(url.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    cache.join(hex)
}

/// Fetches `tag` of `url` into the cache, checks it is still `commit`, and
/// returns the tar of that commit's tree (the build context).
pub async fn fetch_tree(
    cache: &Path,
    url: &str,
    tag: &str,
    commit: &str,
    cred: Option<&Credentials>,
) -> Result<Vec<u8>, GitError> {
    let dir = cache_dir(cache, url);
    let io = |e: std::io::Error| GitError::Repository {
        url: url.to_string(),
        message: format!("cache {}: {e}", dir.display()),
    };
    if !dir.join("HEAD").exists() {
        // The sources may be private: the cache is root's only (the
        // state folder above it is not).
        if let Some(parent) = cache.parent() {
            crate::folders::create_dir_all(parent, crate::folders::PUBLIC).map_err(io)?;
        }
        crate::folders::create_dir_all(&dir, crate::folders::PRIVATE).map_err(io)?;
        git(&["init", "--bare", "--quiet"], Some(&dir), url, None).await?;
    }
    // Fetch whichever of tag and branch exists into refs of our own, so
    // nothing of the remote's layout leaks into the cache.
    let local = format!("refs/conteneur/{tag}");
    let mut fetched = false;
    let mut last_err = None;
    for remote in [format!("refs/tags/{tag}"), format!("refs/heads/{tag}")] {
        let spec = format!("+{remote}:{local}");
        match git(
            &["fetch", "--quiet", "--force", "--no-tags", "--", url, &spec],
            Some(&dir),
            url,
            cred,
        )
        .await
        {
            Ok(_) => {
                fetched = true;
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    if !fetched {
        return Err(last_err.unwrap_or_else(|| GitError::NoSuchTag {
            url: url.to_string(),
            tag: tag.to_string(),
        }));
    }
    let found = git(
        &["rev-parse", "--verify", &format!("{local}^{{commit}}")],
        Some(&dir),
        url,
        None,
    )
    .await?;
    let found = String::from_utf8_lossy(&found).trim().to_string();
    if found != commit {
        return Err(GitError::Moved {
            url: url.to_string(),
            tag: tag.to_string(),
            expected: commit.to_string(),
            found,
        });
    }
    git(&["archive", "--format=tar", commit], Some(&dir), url, None).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_peeled_tag_then_the_tag_then_the_branch() {
        let out = "aaa\trefs/tags/v1\nbbb\trefs/tags/v1^{}\nccc\trefs/heads/v1\n";
        assert_eq!(pick_commit(out, "v1").as_deref(), Some("bbb"));
        let out = "aaa\trefs/tags/v1\nccc\trefs/heads/v1\n";
        assert_eq!(pick_commit(out, "v1").as_deref(), Some("aaa"));
        assert_eq!(
            pick_commit("ccc\trefs/heads/main\n", "main").as_deref(),
            Some("ccc")
        );
        assert_eq!(pick_commit("ccc\trefs/heads/v10\n", "v1"), None);
        assert_eq!(pick_commit("", "v1"), None);
    }

    #[test]
    fn cache_folders_differ_per_repository() {
        let c = Path::new("/cache");
        assert_ne!(cache_dir(c, "file:///a"), cache_dir(c, "file:///b"));
        assert_eq!(cache_dir(c, "file:///a"), cache_dir(c, "file:///a"));
    }
}
