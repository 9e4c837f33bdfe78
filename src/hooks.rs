//! `hooks`: EOLE's hook folders, run as `run-parts` runs them.
//!
//! Each of `/usr/share/eole/{preservice,pretemplate,posttemplate,postservice}`
//! holds executable scripts run in file-name order with one argument,
//! `instance` or `reconfigure`. As with Debian's run-parts, only names made
//! of letters, digits, '_' and '-' are run (so `x.dpkg-old` or `x~` are not).
//! A failing hook stops the run; its output is shown and it is named.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The four phases, in EOLE's order.
pub const PHASES: [&str; 4] = ["preservice", "pretemplate", "posttemplate", "postservice"];

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

/// The hooks of one phase folder, in run order.
pub fn list(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut hooks: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name_ok = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                !n.is_empty()
                    && n.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
            let exec = std::fs::metadata(p).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            });
            name_ok && exec
        })
        .collect();
    hooks.sort();
    hooks
}

/// Runs every hook of `phase` found under `hooks_root/<phase>` with `arg`
/// (`instance` or `reconfigure`). Returns the hooks that ran.
pub fn run_phase(
    hooks_root: &Path,
    phase: &str,
    arg: &str,
    env: &[(&str, &str)],
) -> Result<Vec<PathBuf>, HookError> {
    let mut ran = Vec::new();
    for hook in list(&hooks_root.join(phase)) {
        let out = Command::new(&hook)
            .arg(arg)
            .envs(env.iter().copied())
            .output();
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                return Err(HookError {
                    phase: phase.to_string(),
                    path: hook,
                    status: format!("could not be run: {e}"),
                    output: String::new(),
                });
            }
        };
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            return Err(HookError {
                phase: phase.to_string(),
                path: hook,
                status: out.status.to_string(),
                output: text,
            });
        }
        ran.push(hook);
    }
    Ok(ran)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, name: &str, body: &str) {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn runs_in_order_skips_bad_names_and_stops_on_failure() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("pretemplate");
        std::fs::create_dir_all(&dir).unwrap();
        let log = root.path().join("log");
        script(
            &dir,
            "20-second",
            &format!("echo 2 $1 >> {}", log.display()),
        );
        script(&dir, "10-first", &format!("echo 1 $1 >> {}", log.display()));
        script(&dir, "30-x.dpkg-old", "exit 1");
        let ran = run_phase(root.path(), "pretemplate", "reconfigure", &[]).unwrap();
        assert_eq!(ran.len(), 2);
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "1 reconfigure\n2 reconfigure\n"
        );
        script(&dir, "15-fails", "echo boom; exit 3");
        let e = run_phase(root.path(), "pretemplate", "instance", &[]).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("15-fails") && msg.contains("boom") && msg.contains("exit status: 3"),
            "{msg}"
        );
        // A missing phase folder is no hook at all.
        assert!(
            run_phase(root.path(), "postservice", "instance", &[])
                .unwrap()
                .is_empty()
        );
    }
}
