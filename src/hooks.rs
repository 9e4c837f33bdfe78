//! `hooks`: EOLE's hook folders, run as `run-parts` runs them.
//!
//! Each of `/usr/share/eole/{preservice,pretemplate,posttemplate,postservice}`
//! holds executable scripts run in file-name order with one argument,
//! `instance` or `reconfigure`. As with Debian's run-parts, only names made
//! of letters, digits, '_' and '-' are run (so `x.dpkg-old` or `x~` are not).
//! A failing hook stops the run; its output is shown and it is named.
//!
//! Hooks run as root, so (docs/security.md):
//! - a hook, its phase folder or the hooks folder that another user owns,
//!   or that group or others may write, is refused, naming it, before any
//!   hook of any phase runs ([`check`]);
//! - each hook is bounded by a timeout (`conteneur_hook_timeout`): at the
//!   bound its whole process group is killed and the error names it;
//! - a hook gets a fixed environment ([`PATH`], `HOME`, `LANG` and what
//!   the run gives it), never the caller's.

use std::fs::File;
use std::io::{Read, Seek};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The four phases, in EOLE's order.
pub const PHASES: [&str; 4] = ["preservice", "pretemplate", "posttemplate", "postservice"];

/// The `PATH` hooks get, whatever the caller's.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How long a hook may run when the setting is missing (seconds).
pub const DEFAULT_TIMEOUT: u64 = 300;

/// A hook that failed, with its output.
#[derive(Debug, Clone, thiserror::Error)]
#[error("hook {path} ({phase}) failed ({status}); nothing after it was run{}", output_block(.output))]
pub struct HookError {
    pub phase: String,
    pub path: PathBuf,
    pub status: String,
    pub output: String,
}

fn output_block(output: &str) -> String {
    if output.trim().is_empty() {
        String::new()
    } else {
        format!("\n--- its output ---\n{}", output.trim_end())
    }
}

/// Whether `name` is one run-parts runs.
fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The hooks of one phase folder, in run order.
pub fn list(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut hooks: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let named = p.file_name().and_then(|n| n.to_str()).is_some_and(name_ok);
            let exec = std::fs::metadata(p).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            });
            named && exec
        })
        .collect();
    hooks.sort();
    hooks
}

/// Why `path` may not be run as root: owned by another user than root, or
/// writable by group or others (what it leads to, for a link).
fn unsafe_because(path: &Path) -> Option<String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(format!("cannot be examined: {e}")),
    };
    if meta.uid() != 0 {
        return Some(format!("is owned by uid {}, not by root", meta.uid()));
    }
    let mode = meta.mode() & 0o7777;
    // A folder with the sticky bit still lets others add files: refused too.
    if mode & 0o022 != 0 {
        let who = if mode & 0o002 != 0 {
            "anyone"
        } else {
            "its group"
        };
        return Some(format!("is writable by {who} (mode {mode:04o})"));
    }
    None
}

/// For a hook that is a symbolic link: why what it leads to may not be
/// run as root. Its file is checked by [`unsafe_because`]; here, every
/// folder above it, since whoever may write one of them may swap the file.
fn unsafe_link(hook: &Path) -> Option<String> {
    let is_link = std::fs::symlink_metadata(hook).is_ok_and(|m| m.file_type().is_symlink());
    if !is_link {
        return None;
    }
    let target = match std::fs::canonicalize(hook) {
        Ok(t) => t,
        Err(e) => return Some(format!("is a link that cannot be followed: {e}")),
    };
    for folder in target.ancestors().skip(1) {
        if let Some(why) = unsafe_because(folder) {
            return Some(format!(
                "leads to {}, and its folder {} {why}",
                target.display(),
                folder.display()
            ));
        }
    }
    None
}

/// Refuses the hooks of every phase under `hooks_root` if any of them, or
/// their folders, is not root's alone: another user could have put their
/// code there, and it would run as root. Nothing has run when it refuses.
pub fn check(hooks_root: &Path) -> Result<(), HookError> {
    let refuse = |phase: &str, path: &Path, why: String| HookError {
        phase: phase.to_string(),
        path: path.to_path_buf(),
        status: format!(
            "refused: it {why}; hooks run as root, so a hook and its folders must be \
             root's and writable by root only, as run-parts users expect"
        ),
        output: String::new(),
    };
    if !hooks_root.is_dir() {
        return Ok(());
    }
    if let Some(why) = unsafe_because(hooks_root) {
        return Err(refuse("every phase", hooks_root, why));
    }
    for phase in PHASES {
        let dir = hooks_root.join(phase);
        if !dir.is_dir() {
            continue;
        }
        if let Some(why) = unsafe_because(&dir) {
            return Err(refuse(phase, &dir, why));
        }
        for hook in list(&dir) {
            if let Some(why) = unsafe_because(&hook) {
                return Err(refuse(phase, &hook, why));
            }
            if let Some(why) = unsafe_link(&hook) {
                return Err(refuse(phase, &hook, why));
            }
        }
    }
    Ok(())
}

/// The environment of a hook: a fixed `PATH`, root's `HOME`, the caller's
/// `LANG` (messages in the admin's language), then `env`.
fn sanitised(cmd: &mut Command, env: &[(&str, &str)]) {
    cmd.env_clear().env("PATH", PATH).env("HOME", "/root");
    let lang = std::env::var("LANG")
        .ok()
        .filter(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or_else(|| "C.UTF-8".to_string());
    cmd.env("LANG", lang);
    cmd.envs(env.iter().copied());
}

/// Runs every hook of `phase` found under `hooks_root/<phase>` with `arg`
/// (`instance` or `reconfigure`), each for at most `timeout`. Returns the
/// hooks that ran.
pub fn run_phase(
    hooks_root: &Path,
    phase: &str,
    arg: &str,
    env: &[(&str, &str)],
    timeout: Duration,
) -> Result<Vec<PathBuf>, HookError> {
    check(hooks_root)?;
    let mut ran = Vec::new();
    for hook in list(&hooks_root.join(phase)) {
        let fail = |status: String, output: String| HookError {
            phase: phase.to_string(),
            path: hook.clone(),
            status,
            output,
        };
        let (status, output) =
            run_one(&hook, arg, env, timeout).map_err(|e| fail(e, String::new()))?;
        match status {
            Some(s) if s.success() => ran.push(hook),
            Some(s) => return Err(fail(s.to_string(), output)),
            None => {
                return Err(fail(
                    format!(
                        "it ran past conteneur_hook_timeout ({} s): it and every process it \
                         started were killed",
                        timeout.as_secs()
                    ),
                    output,
                ));
            }
        }
    }
    Ok(ran)
}

/// Runs one hook in a process group of its own, its output (stdout and
/// stderr, interleaved) in a file: a process it leaves behind holding the
/// output cannot keep the run waiting. `None`: killed at the bound.
fn run_one(
    hook: &Path,
    arg: &str,
    env: &[(&str, &str)],
    timeout: Duration,
) -> Result<(Option<std::process::ExitStatus>, String), String> {
    let mut out: File = tempfile::tempfile().map_err(|e| format!("no file for its output: {e}"))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("no file for its output: {e}"))?;
    let writer = out
        .try_clone()
        .map_err(|e| format!("no file for its output: {e}"))?;
    let mut cmd = Command::new(hook);
    cmd.arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::from(err))
        .process_group(0);
    sanitised(&mut cmd, env);
    let mut child = cmd.spawn().map_err(|e| format!("could not be run: {e}"))?;
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("could not be waited for: {e}")),
        }
    };
    if status.is_none() {
        // At the bound the whole group goes: what the hook started too.
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = child.wait();
    }
    let mut text = Vec::new();
    let _ = out.rewind();
    let _ = out.take(1 << 20).read_to_end(&mut text);
    Ok((status, String::from_utf8_lossy(&text).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const T: Duration = Duration::from_secs(30);

    /// A hooks folder with the phase folder `phase` made.
    fn phase_dir(phase: &str) -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(phase);
        std::fs::create_dir_all(&dir).unwrap();
        (root, dir)
    }

    fn script(dir: &Path, name: &str, body: &str) {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn runs_in_order_skips_bad_names_and_stops_on_failure() {
        let (root, dir) = phase_dir("pretemplate");
        let log = root.path().join("log");
        script(
            &dir,
            "20-second",
            &format!("echo 2 $1 >> {}", log.display()),
        );
        script(&dir, "10-first", &format!("echo 1 $1 >> {}", log.display()));
        script(&dir, "30-x.dpkg-old", "exit 1");
        let ran = run_phase(root.path(), "pretemplate", "reconfigure", &[], T).unwrap();
        assert_eq!(ran.len(), 2);
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "1 reconfigure\n2 reconfigure\n"
        );
        script(&dir, "15-fails", "echo boom; exit 3");
        let e = run_phase(root.path(), "pretemplate", "instance", &[], T).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("15-fails") && msg.contains("boom") && msg.contains("exit status: 3"),
            "{msg}"
        );
        // A missing phase folder is no hook at all.
        assert!(
            run_phase(root.path(), "postservice", "instance", &[], T)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_hook_past_its_bound_is_killed_with_its_group_and_named() {
        let (root, dir) = phase_dir("preservice");
        let pids = root.path().join("pids");
        script(
            &dir,
            "50-hangs",
            &format!(
                "sleep 600 & echo $$ $! > {}; echo started; wait",
                pids.display()
            ),
        );
        let begin = Instant::now();
        let e = run_phase(
            root.path(),
            "preservice",
            "reconfigure",
            &[],
            Duration::from_secs(1),
        )
        .unwrap_err()
        .to_string();
        assert!(
            begin.elapsed() < Duration::from_secs(10),
            "{:?}",
            begin.elapsed()
        );
        assert!(
            e.contains("50-hangs")
                && e.contains("conteneur_hook_timeout (1 s)")
                && e.contains("started"),
            "{e}"
        );
        // The hook and the sleep it started are gone (killed: the kernel
        // and init may take a moment to reap them).
        let text = std::fs::read_to_string(&pids).unwrap();
        for pid in text.split_whitespace() {
            let stat = || std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let gone = |s: &str| s.is_empty() || s.contains(") Z ") || s.contains(") X ");
            let until = Instant::now() + Duration::from_secs(5);
            while !gone(&stat()) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(gone(&stat()), "{pid} lives: {}", stat());
        }
    }

    #[test]
    fn a_hook_gets_a_fixed_environment() {
        let (root, dir) = phase_dir("postservice");
        let log = root.path().join("env");
        script(&dir, "10-env", &format!("env > {}", log.display()));
        // SAFETY: the only test of this module that reads the variable.
        unsafe { std::env::set_var("CONTENEUR_HOOK_TEST_LEAK", "x") };
        run_phase(
            root.path(),
            "postservice",
            "instance",
            &[("CONTENEUR_ROOT", "/r")],
            T,
        )
        .unwrap();
        let env = std::fs::read_to_string(&log).unwrap();
        assert!(!env.contains("CONTENEUR_HOOK_TEST_LEAK"), "{env}");
        assert!(env.contains(&format!("PATH={PATH}\n")), "{env}");
        assert!(env.contains("CONTENEUR_ROOT=/r\n"), "{env}");
    }

    #[test]
    fn hooks_and_folders_not_root_s_alone_are_refused_before_any_runs() {
        let (root, pre) = phase_dir("preservice");
        let post = root.path().join("postservice");
        std::fs::create_dir_all(&post).unwrap();
        let ran = root.path().join("ran");
        script(&pre, "10-first", &format!("touch {}", ran.display()));
        script(&post, "10-last", "true");
        let refused = |what: &Path, why: &str| {
            let e = run_phase(root.path(), "preservice", "instance", &[], T)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&what.display().to_string()) && e.contains(why),
                "{e}"
            );
            assert!(!ran.exists(), "a hook ran: {e}");
        };
        let mode = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        // A world-writable folder (of a later phase: refused all the same).
        mode(&post, 0o777);
        refused(&post, "writable by anyone (mode 0777)");
        mode(&post, 0o1777);
        refused(&post, "writable by anyone");
        mode(&post, 0o775);
        refused(&post, "writable by its group");
        mode(&post, 0o755);
        mode(root.path(), 0o757);
        refused(root.path(), "writable by anyone");
        mode(root.path(), 0o700);
        // A hook another user owns, or that others may write.
        let last = post.join("10-last");
        nix::unistd::chown(&last, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        refused(&last, "owned by uid 65534, not by root");
        nix::unistd::chown(&last, Some(nix::unistd::Uid::from_raw(0)), None).unwrap();
        mode(&last, 0o757);
        refused(&last, "writable by anyone");
        // A hook that is a link to a root-owned file in a folder others
        // may write: they could swap the file.
        mode(&last, 0o755);
        let elsewhere = root.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        script(&elsewhere, "run", "true");
        mode(&elsewhere, 0o777);
        let linked = post.join("20-linked");
        std::os::unix::fs::symlink(elsewhere.join("run"), &linked).unwrap();
        refused(&linked, "its folder");
        mode(&elsewhere, 0o755);
        std::fs::remove_file(&linked).unwrap();
        // A file that is not run (not executable, or a name run-parts
        // skips) is not looked at.
        mode(&last, 0o646);
        script(&post, "x.dpkg-old", "true");
        mode(&post.join("x.dpkg-old"), 0o777);
        run_phase(root.path(), "preservice", "instance", &[], T).unwrap();
        assert!(ran.exists());
    }
}
