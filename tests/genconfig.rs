//! genconfig in a real terminal: tmux runs the binary in an 80×24 pane,
//! `send-keys` types and `capture-pane` reads the screen, as an admin over
//! SSH would see it.
//!
//! tmux is required: without it this test fails (it is never skipped), so a
//! machine that cannot run it says so.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_conteneur"))
}

fn dicos() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dicos")
}

/// `conteneur --root ROOT --dicos dicos ARGS…`
fn conteneur(root: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("--root")
        .arg(root)
        .arg("--dicos")
        .arg(dicos())
        .args(args)
        .output()
        .expect("run conteneur")
}

fn set(root: &Path, var: &str, values: &[&str]) {
    let mut args = vec!["set", var];
    args.extend(values);
    let out = conteneur(root, &args);
    assert!(
        out.status.success(),
        "set {var}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn get(root: &Path, var: &str) -> String {
    let out = conteneur(root, &["get", var]);
    assert!(
        out.status.success(),
        "get {var}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The demo configuration: two containers.
fn demo(root: &Path) {
    set(root, "nombre_conteneur", &["2"]);
    set(root, "conteneur1_name", &["rocketchat"]);
    set(root, "conteneur1_url", &["localhost:5000/demo/rocketchat"]);
    set(root, "conteneur1_port_in", &["3000"]);
    set(root, "conteneur1_port_out", &["8080"]);
    set(root, "conteneur2_name", &["wiki"]);
    set(root, "conteneur2_url", &["localhost:5000/demo/wiki"]);
    set(root, "conteneur2_port_in", &["80"]);
    set(root, "conteneur2_port_out", &["8081"]);
}

/// Single quotes for sh.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A tmux server of our own (its own socket, no user configuration) with
/// one 80×24 pane. Killed when dropped.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    /// Runs `command` (a sh command line) in a new pane. When it ends, the
    /// pane prints its exit code and the terminal's settings, then waits,
    /// so the test can read both.
    fn start(dir: &Path, command: &str) -> Tmux {
        let version = Command::new("tmux").arg("-V").output();
        match version {
            Ok(o) if o.status.success() => {}
            other => panic!(
                "tmux is required by this test (apt-get install tmux); running `tmux -V` gave: {other:?}"
            ),
        }
        let t = Tmux {
            socket: dir.join("tmux.sock"),
        };
        let wrapped =
            format!("{command}; echo \"EXIT=$?\"; stty -a | tr '\\n' ' '; echo; sleep 600");
        t.tmux(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "gc",
            "-x",
            "80",
            "-y",
            "24",
            "sh",
            "-c",
            &wrapped,
        ]);
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Keys by tmux name (Enter, Escape, Right, C-u…).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "gc"];
        args.extend(keys);
        self.tmux(&args);
    }

    /// Text typed as is.
    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "gc", "-l", text]);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", "gc"])
    }

    /// Waits until the screen shows every one of `texts`; fails with the
    /// screen as it is otherwise.
    fn wait_for(&self, texts: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen();
            if texts.iter().all(|t| s.contains(t)) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("the screen never showed {texts:?}; it shows:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// After the editor: the shell's terminal is back to normal (canonical
/// mode, echo), not left raw.
fn assert_terminal_restored(screen: &str) {
    let stty = screen
        .lines()
        .skip_while(|l| !l.contains("EXIT="))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(stty.contains("speed"), "no stty output:\n{screen}");
    for flag in ["icanon", "echo", "isig"] {
        assert!(
            stty.split_whitespace().any(|w| w == flag),
            "terminal left with -{flag}:\n{screen}"
        );
    }
}

#[test]
fn edit_the_demo_config_in_a_real_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    demo(&root);
    let cmd = format!(
        "{} --root {} --dicos {} genconfig",
        sh_quote(&bin().to_string_lossy()),
        sh_quote(&root.to_string_lossy()),
        sh_quote(&dicos().to_string_lossy())
    );
    let t = Tmux::start(dir.path(), &cmd);

    // Open the demo config: the first family, normal mode, keys at the bottom.
    let main = t.wait_for(&[
        "genconfig",
        "mode: normal",
        "conteneur1",
        "conteneur2",
        "Number of containers to run",
        "q  quit",
    ]);
    println!("main screen:\n{main}");

    // Expert mode: the expert variables appear.
    t.keys(&["m"]);
    t.wait_for(&["mode: expert", "Which nginx publishes"]);

    // A container's tag, found with the search box.
    t.keys(&["/"]);
    t.wait_for(&["Search: name or description"]);
    t.type_text("conteneur1_tag");
    t.wait_for(&["conteneur1_tag — Version (tag)"]);
    t.keys(&["Enter"]);
    t.wait_for(&["┌ conteneur1_tag "]);
    t.keys(&["Enter"]);
    t.wait_for(&["expected: any text", "> latest"]);
    t.keys(&["C-u"]);
    t.type_text("6.5.0");
    t.wait_for(&["> 6.5.0", "✓ valid"]);
    t.keys(&["Enter"]);
    t.wait_for(&["conteneur1_tag = 6.5.0", "1 unsaved"]);

    // An invalid port: the engine's error shows as it is typed, and Enter
    // is refused.
    t.keys(&["/"]);
    t.wait_for(&["Search: name or description"]);
    t.type_text("conteneur1_port_out");
    t.wait_for(&["conteneur1_port_out — Ports"]);
    t.keys(&["Enter"]);
    t.wait_for(&["┌ conteneur1_port_in "]);
    t.keys(&["Enter"]);
    t.wait_for(&["conteneur1_port_in", "conteneur1_port_out", "add row"]);
    t.keys(&["Right"]);
    t.keys(&["Enter"]);
    t.wait_for(&["> 8080"]);
    t.keys(&["C-u"]);
    t.type_text("99999");
    t.wait_for(&["> 99999", "greater than 65535"]);
    t.keys(&["Enter"]);
    let refused = t.wait_for(&["refused:", "greater than 65535"]);
    assert!(
        refused.contains("> 99999"),
        "the editor stays open:\n{refused}"
    );

    // Fixed.
    t.keys(&["C-u"]);
    t.type_text("8090");
    t.wait_for(&["> 8090", "✓ valid"]);
    t.keys(&["Enter"]);
    t.wait_for(&["conteneur1_port_out = 8090"]);
    t.keys(&["Escape"]);
    t.wait_for(&["3000 → 8090", "2 unsaved"]);

    // The diff of what will be saved.
    t.keys(&["d"]);
    t.wait_for(&[
        "2 pending change(s)",
        "+ 6.5.0",
        "- latest (default)",
        "+ ['8090']",
    ]);
    t.keys(&["Escape"]);
    t.wait_for(&["2 unsaved"]);

    // Save, then quit: no question, nothing is pending.
    t.keys(&["s"]);
    t.wait_for(&["saved ", "owner gen_config"]);
    t.keys(&["q"]);
    let after = t.wait_for(&["EXIT=0", "speed"]);
    assert!(after.contains("genconfig: saved"), "{after}");
    assert_terminal_restored(&after);

    // What conteneur get sees, and who wrote it.
    assert_eq!(get(&root, "conteneur1_tag"), "6.5.0");
    assert_eq!(get(&root, "conteneur1_port_out"), "8090");
    let text = std::fs::read_to_string(root.join("etc/eole/config.eol")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["conteneur1_tag"]["owner"], "gen_config");
    assert_eq!(json["conteneur1_port_out"]["owner"]["0"], "gen_config");
    // What was not touched keeps its owner.
    assert_eq!(json["conteneur1_url"]["owner"], "creoleset");
}

#[test]
fn gen_config_by_its_eole_name_asks_before_losing_changes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    demo(&root);
    let before = std::fs::read(root.join("etc/eole/config.eol")).unwrap();
    let link = dir.path().join("gen_config");
    std::os::unix::fs::symlink(bin(), &link).unwrap();
    let cmd = format!(
        "{} --root {} --dicos {}",
        sh_quote(&link.to_string_lossy()),
        sh_quote(&root.to_string_lossy()),
        sh_quote(&dicos().to_string_lossy())
    );
    let t = Tmux::start(dir.path(), &cmd);
    t.wait_for(&["genconfig", "Number of containers to run"]);
    // Two containers become three at once.
    t.keys(&["Enter"]);
    t.wait_for(&["> 2"]);
    t.keys(&["C-u"]);
    t.type_text("3");
    t.keys(&["Enter"]);
    t.wait_for(&["conteneur3", "nombre_conteneur = 3"]);
    // Saving is refused: conteneur3's image is mandatory and empty.
    t.keys(&["s"]);
    t.wait_for(&["Save refused", "conteneur3_url"]);
    t.keys(&["Escape"]);
    // Ctrl-C asks before losing the change; y leaves without saving.
    t.keys(&["C-c"]);
    t.wait_for(&["Quit?", "quit without saving"]);
    t.keys(&["y"]);
    let after = t.wait_for(&["EXIT=0", "speed"]);
    assert!(after.contains("quit without saving 1 change(s)"), "{after}");
    assert_terminal_restored(&after);
    assert_eq!(
        std::fs::read(root.join("etc/eole/config.eol")).unwrap(),
        before
    );
}

/// A panic (debug builds panic on F12 when asked to, for this test) prints
/// its message on the normal screen and leaves the terminal usable.
#[test]
fn a_panic_leaves_the_terminal_usable() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    demo(&root);
    let cmd = format!(
        "RUST_BACKTRACE=0 CONTENEUR_GENCONFIG_TEST_PANIC=1 {} --root {} --dicos {} genconfig",
        sh_quote(&bin().to_string_lossy()),
        sh_quote(&root.to_string_lossy()),
        sh_quote(&dicos().to_string_lossy())
    );
    let t = Tmux::start(dir.path(), &cmd);
    t.wait_for(&["genconfig", "Number of containers to run"]);
    t.keys(&["F12"]);
    let after = t.wait_for(&["EXIT=101", "speed"]);
    assert!(
        after.contains("test panic"),
        "the message is shown:\n{after}"
    );
    assert!(
        !after.contains("Number of containers to run"),
        "the alternate screen is left:\n{after}"
    );
    assert_terminal_restored(&after);
}

/// genconfig on the demo config in a pane, with 5 unsaved changes
/// (`nombre_conteneur` 2 → 1: container 2's values go with it).
struct Unsaved {
    tmux: Tmux,
    root: PathBuf,
    /// config.eol before the editor started.
    before: Vec<u8>,
    /// genconfig's own pid.
    pid: String,
    _dir: tempfile::TempDir,
}

impl Unsaved {
    fn start() -> Unsaved {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        demo(&root);
        let before = std::fs::read(root.join("etc/eole/config.eol")).unwrap();
        let pid_file = dir.path().join("genconfig.pid");
        // `exec`: the pid written is genconfig's own.
        let cmd = format!(
            "sh -c 'echo $$ > \"$0\"; exec \"$@\"' {} {} --root {} --dicos {} genconfig",
            sh_quote(&pid_file.to_string_lossy()),
            sh_quote(&bin().to_string_lossy()),
            sh_quote(&root.to_string_lossy()),
            sh_quote(&dicos().to_string_lossy())
        );
        let tmux = Tmux::start(dir.path(), &cmd);
        tmux.wait_for(&["genconfig", "Number of containers to run"]);
        tmux.keys(&["Enter"]);
        tmux.wait_for(&["> 2"]);
        tmux.keys(&["C-u"]);
        tmux.type_text("1");
        tmux.keys(&["Enter"]);
        tmux.wait_for(&["nombre_conteneur = 1", "5 unsaved"]);
        let pid = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .to_string();
        Unsaved {
            tmux,
            root,
            before,
            pid,
            _dir: dir,
        }
    }

    fn assert_config_untouched(&self) {
        assert_eq!(
            std::fs::read(self.root.join("etc/eole/config.eol")).unwrap(),
            self.before
        );
    }
}

/// `kill` (SIGTERM: a shutdown, an admin's `kill`) or a dropped SSH
/// connection (SIGHUP) ends the editor cleanly: the terminal is restored,
/// the unsaved changes are dropped and said so, config.eol is untouched,
/// and the exit code is the shell's 128 + signal.
#[test]
fn a_stop_signal_restores_the_terminal_and_saves_nothing() {
    for (signal, code) in [("TERM", 143), ("HUP", 129)] {
        let u = Unsaved::start();
        let kill = Command::new("kill")
            .args([format!("-{signal}"), u.pid.clone()])
            .status()
            .unwrap();
        assert!(kill.success());
        let after = u.tmux.wait_for(&[&format!("EXIT={code}"), "speed"]);
        assert!(
            after.contains(&format!(
                "genconfig: stopped by SIG{signal}: 5 unsaved change(s) discarded"
            )),
            "{after}"
        );
        assert!(
            !after.contains("Number of containers to run"),
            "the alternate screen is left:\n{after}"
        );
        assert_terminal_restored(&after);
        u.assert_config_untouched();
    }
}

/// The SSH connection drops: the terminal hangs up under the editor (here
/// the whole tmux server goes). genconfig must end, not spin on a terminal
/// that only gives end of file, and config.eol keeps what was saved.
#[test]
fn a_hung_up_terminal_ends_the_editor() {
    let u = Unsaved::start();
    let stat = PathBuf::from(format!("/proc/{}/stat", u.pid));
    // Ended: gone, or a zombie its new parent has not reaped yet.
    let running = || {
        std::fs::read_to_string(&stat)
            .map(|st| {
                let state = st.rsplit(')').next().unwrap_or("").trim_start();
                !state.starts_with('Z')
            })
            .unwrap_or(false)
    };
    assert!(running());
    let _ = Command::new("tmux")
        .arg("-S")
        .arg(&u.tmux.socket)
        .arg("kill-server")
        .output();
    let deadline = Instant::now() + Duration::from_secs(10);
    while running() {
        if Instant::now() > deadline {
            let _ = Command::new("kill").args(["-9", &u.pid]).status();
            panic!(
                "genconfig (pid {}) still runs 10 s after its terminal hung up",
                u.pid
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    u.assert_config_untouched();
}

/// Without a terminal (a script, a pipe) genconfig says what to use instead
/// and touches nothing.
#[test]
fn without_a_terminal_it_refuses_and_points_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    demo(&root);
    let out = conteneur(&root, &["genconfig"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("run it in a terminal"), "{err}");
    assert!(err.contains("conteneur set"), "{err}");
}
