//! Backups and restores of one container against the real engine (the demo
//! image of scripts/images.sh, a named volume and a host folder), and the
//! faults: a failing backup command, a disk that fills during a backup (a
//! small tmpfs as the archive folder), a corrupt archive, a restore onto a
//! container whose image changed. Each leaves the container running and the
//! previous archives intact. The WordPress and MariaDB scenario (a dump
//! taken while serving) is in tests/apps.rs.
//!
//! It fails, never skips, when the engine or the registry is missing.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::site::Site;
use common::text;

/// The site, its volume and its tmpfs, removed even when the test fails.
struct Guard {
    site: Site,
    volume: String,
    tmpfs: Option<PathBuf>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(m) = self.tmpfs.take() {
            let _ = common::run("umount", &[&m.display().to_string()]);
        }
        self.site.clean_engine();
        let o = self.site.docker(&[
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("name={}", self.volume),
        ]);
        for v in String::from_utf8_lossy(&o.stdout).split_whitespace() {
            self.site.docker(&["volume", "rm", "-f", v]);
        }
    }
}

/// SIGTERM to `pid`, as a service manager stops a job.
fn nix_kill(pid: u32) {
    let o = common::run("kill", &["-TERM", &pid.to_string()]);
    assert!(o.status.success(), "{}", text(&o));
}

fn backups(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn exec(site: &Site, name: &str, script: &str) -> String {
    let o = site.docker(&["exec", name, "sh", "-c", script]);
    assert!(o.status.success(), "exec {script}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn state(site: &Site, name: &str) -> String {
    let o = site.docker(&["inspect", "--format", "{{.State.Status}}", name]);
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn out(site: &Site, args: &[&str]) -> std::process::Output {
    site.cmd(args).output().expect("run conteneur")
}

fn ok(site: &Site, args: &[&str]) -> String {
    let o = out(site, args);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn failed(site: &Site, args: &[&str]) -> String {
    let o = out(site, args);
    assert_eq!(o.status.code(), Some(8), "{args:?}: {}", text(&o));
    text(&o)
}

#[test]
fn backup_restore_retention_and_faults_on_the_real_engine() {
    let site = Site::new("bk");
    let volume = format!("{}vol", site.tag);
    let mut g = Guard {
        site,
        volume: volume.clone(),
        tmpfs: None,
    };
    let site = &g.site;
    let name = site.name("web");
    let port = common::free_port();
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "web", "web", "1.0", port);
    site.set("conteneur1_mountpoint_in", &["/data", "/files"]);
    site.set("conteneur1_mountpoint_out", &[&volume, "/srv/webfiles"]);
    site.run_ok("instance");
    exec(
        site,
        &name,
        "echo hello > /data/a.txt && mkdir -p /data/sub && echo deep > /data/sub/b.txt",
    );
    let folder = site.path("srv/webfiles");
    std::fs::write(folder.join("page.html"), "<p>kept</p>").unwrap();
    let dir = site.path("var/backups/conteneur");

    // 1. A backup: paused for the copy (said), one archive 0600 in a 0700
    // folder, listed as checked.
    let said = ok(site, &["backup"]);
    assert!(said.contains("copied while it was paused"), "{said}");
    assert_eq!(state(site, &name), "running");
    let first = backups(&dir);
    assert_eq!(first.len(), 1, "{first:?}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(&first[0])), 0o600);
    let list = ok(site, &["backup", "--list"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with(&name) && l.contains(" ok ")),
        "{list}"
    );

    // 2. Restore: the data changed since comes back; the previous data is
    // kept under a dated name; --dry-run changes nothing.
    exec(
        site,
        &name,
        "echo changed > /data/a.txt && rm /data/sub/b.txt",
    );
    std::fs::write(folder.join("page.html"), "<p>changed</p>").unwrap();
    let dry = ok(site, &["restore", &name, "--dry-run"]);
    assert!(
        dry.contains("manifest and sums ok") && dry.contains("nothing is changed"),
        "{dry}"
    );
    assert_eq!(exec(site, &name, "cat /data/a.txt"), "changed\n");
    let said = ok(site, &["restore", &name]);
    assert_eq!(state(site, &name), "running");
    assert_eq!(
        exec(site, &name, "cat /data/a.txt /data/sub/b.txt"),
        "hello\ndeep\n"
    );
    assert_eq!(
        std::fs::read_to_string(folder.join("page.html")).unwrap(),
        "<p>kept</p>"
    );
    assert!(
        said.contains(&format!("volume {volume}.before-restore-")),
        "{said}"
    );
    let kept_vol = said
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{volume}.before-restore-")))
        .expect("the kept volume's name")
        .to_string();
    let o = site.docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{kept_vol}:/k"),
        "localhost:5000/demo/web:1.0",
        "cat",
        "/k/a.txt",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "changed\n",
        "{}",
        text(&o)
    );
    let kept_folder = std::fs::read_dir(site.path("srv"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("webfiles.before-restore-"))
        .expect("the kept folder");
    assert_eq!(
        std::fs::read_to_string(kept_folder.join("page.html")).unwrap(),
        "<p>changed</p>"
    );

    // 3. Retention: 2 kept; the oldest goes once the new one is complete.
    site.set("conteneur_backup_kept", &["2"]);
    ok(site, &["backup", &name]);
    let said = ok(site, &["backup", &name]);
    assert!(said.contains("removed the old archive"), "{said}");
    let now = backups(&dir);
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(!now.contains(&first[0]), "{now:?}");

    // 4. A corrupt archive is refused at restore, before anything changes.
    let good = dir.join(&now[1]);
    let mut bytes = std::fs::read(&good).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    let bad = site.path("corrupt.tar.zst");
    std::fs::write(&bad, &bytes).unwrap();
    exec(site, &name, "echo after > /data/a.txt");
    let e = failed(site, &["restore", &name, &bad.display().to_string()]);
    assert!(
        e.contains("it is damaged") && e.contains("nothing was changed"),
        "{e}"
    );
    assert_eq!(exec(site, &name, "cat /data/a.txt"), "after\n");
    assert_eq!(state(site, &name), "running");
    // Listed as bad when it sits among the archives (an older name).
    let bad_listed = dir.join(format!("{name}-20000101T000000Z.tar.zst"));
    std::fs::write(&bad_listed, &bytes).unwrap();
    let o = out(site, &["backup", "--list"]);
    assert_eq!(o.status.code(), Some(8), "{}", text(&o));
    assert!(text(&o).contains("BAD: it is damaged"), "{}", text(&o));
    std::fs::remove_file(&bad_listed).unwrap();

    // A command that cannot be split into words is refused by set (exit
    // 3) and lint, as conteneurX_command is.
    let o = out(site, &["set", "conteneur1_backup_command", "sh -c 'exit 3"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains(
            "conteneur1_backup_command cannot be split into words: a single quote (') is not closed"
        ),
        "{}",
        text(&o)
    );

    // 5. A failing backup command: no archive, the previous ones intact,
    // the container serving (never paused).
    let before = backups(&dir);
    site.set(
        "conteneur1_backup_command",
        &["sh -c 'echo oops >&2; exit 3'"],
    );
    let e = failed(site, &["backup", &name]);
    assert!(
        e.contains("conteneur1_backup_command")
            && e.contains("exited with status 3\n--- its error output ---\noops")
            && e.contains("the previous archives are intact"),
        "{e}"
    );
    assert_eq!(backups(&dir), before);
    assert_eq!(state(site, &name), "running");

    // 6. A dump: backup and restore commands (the image has a shell and
    // cat only), fed back into a new empty volume.
    site.set("conteneur1_backup_command", &["cat /data/a.txt"]);
    site.set("conteneur1_restore_command", &["sh -c 'cat > /data/a.txt'"]);
    exec(site, &name, "echo dumped > /data/a.txt");
    let said = ok(site, &["backup", &name]);
    assert!(said.contains("the output of its backup command"), "{said}");
    exec(
        site,
        &name,
        "echo lost > /data/a.txt && echo extra > /data/extra.txt",
    );
    let said = ok(site, &["restore", &name]);
    assert!(
        said.contains("feeding the dump to `sh -c 'cat > /data/a.txt'`"),
        "{said}"
    );
    assert_eq!(
        exec(site, &name, "cat /data/a.txt; ls /data"),
        "dumped\na.txt\n"
    );
    site.set("conteneur1_backup_command", &[""]);
    site.set("conteneur1_restore_command", &[""]);

    // 7. A disk that fills during the backup: a clear error, the partial
    // file removed, the previous archive intact and checked, the container
    // running.
    let small = site.path("full");
    std::fs::create_dir_all(&small).unwrap();
    let o = common::run(
        "mount",
        &[
            "-t",
            "tmpfs",
            "-o",
            "size=256k",
            "tmpfs",
            &small.display().to_string(),
        ],
    );
    assert!(
        o.status.success(),
        "mount a tmpfs (the tests run as root): {}",
        text(&o)
    );
    g.tmpfs = Some(small.clone());
    let site = &g.site;
    site.set("conteneur_backup_dir", &["/full"]);
    ok(site, &["backup", &name]);
    let before = backups(&small);
    assert_eq!(before.len(), 1, "{before:?}");
    exec(site, &name, "head -c 2000000 /dev/urandom > /data/big");
    let e = failed(site, &["backup", &name]);
    assert!(
        e.contains("No space left on device")
            && e.contains("is full")
            && e.contains("the previous archives are intact"),
        "{e}"
    );
    assert_eq!(backups(&small), before, "a partial file was left");
    assert_eq!(state(site, &name), "running");
    let list = ok(site, &["backup", "--list"]);
    assert!(list.contains(" ok "), "{list}");
    exec(site, &name, "rm /data/big");
    site.set("conteneur_backup_dir", &["/var/backups/conteneur"]);

    // 8. Interrupted (SIGTERM) while the container is paused for the copy:
    // it is resumed, no archive is left, the previous ones are intact.
    let big = folder.join("big.bin");
    let o = common::run(
        "sh",
        &[
            "-c",
            &format!("head -c 300000000 /dev/urandom > {}", big.display()),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let before = backups(&dir);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_conteneur"))
        .arg("--root")
        .arg(site.root.path())
        .args(["backup", &name])
        .env_remove("CONTENEUR_ROOT")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("conteneur backup");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while state(site, &name) != "paused" {
        assert!(std::time::Instant::now() < deadline, "never paused");
        assert!(
            child.try_wait().unwrap().is_none(),
            "ended before it paused"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    nix_kill(child.id());
    let o = child.wait_with_output().expect("wait");
    assert_eq!(o.status.code(), Some(8), "{}", text(&o));
    assert!(
        text(&o).contains("interrupted during the copy; the container was resumed"),
        "{}",
        text(&o)
    );
    assert_eq!(state(site, &name), "running");
    assert_eq!(
        backups(&dir),
        before,
        "an archive or a partial file was left"
    );
    std::fs::remove_file(&big).unwrap();

    // 9. The image changed since the archive: refused, nothing changed.
    site.set("conteneur1_tag", &["2.0"]);
    site.run_ok("reconfigure");
    exec(site, &name, "echo new > /data/a.txt");
    let e = failed(site, &["restore", &name]);
    assert!(
        e.contains("now runs the image localhost:5000/demo/web:2.0")
            && e.contains("--allow-image-change")
            && e.contains("nothing was changed"),
        "{e}"
    );
    assert_eq!(exec(site, &name, "cat /data/a.txt"), "new\n");
    assert_eq!(state(site, &name), "running");
}
