//! End-to-end tests of the binary's hardening that needs no engine: values
//! that a later step would refuse are refused by `set` with the same
//! message, nothing unchecked is written by `render` or `proxy apply`, and
//! the folders conteneur creates do not follow the umask. (The mount checks
//! and the labels, which need the Docker engine, are in tests/instance.rs.)

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use common::{Server, free_port, text};

/// `set VAR VALUE` refused (exit 3), config.eol unchanged; the message.
fn refused_by_set(s: &Server, var: &str, value: &str) -> String {
    let before = std::fs::read(s.config_path()).ok();
    let out = s.cmd(&["set", var, value]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(3), "set {var} {value:?}: {err}");
    assert_eq!(std::fs::read(s.config_path()).ok(), before, "{var}");
    err
}

/// Writes `var = value` straight into config.eol, as an admin's editor or
/// an older conteneur could have, bypassing `set`.
fn write_by_hand(s: &Server, var: &str, value: serde_json::Value) {
    let path = s.config_path();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json[var] = serde_json::json!({"val": value, "owner": "creoleset"});
    std::fs::write(&path, json.to_string()).unwrap();
}

fn plan(s: &Server) -> Output {
    s.cmd(&["plan"]).output().unwrap()
}

/// The part of a `set` refusal that names the value and the rule.
fn rule_of(set_error: &str, value: &str) -> String {
    let from = set_error
        .find(&format!("'{value}'"))
        .unwrap_or_else(|| panic!("{set_error}"));
    let rest = &set_error[from..];
    rest.split("; config.eol was not changed")
        .next()
        .unwrap_or(rest)
        .trim()
        .to_string()
}

#[test]
fn set_refuses_tls_paths_nginx_would_refuse_with_the_same_message() {
    let s = Server::new();
    s.set("conteneur_https", &["oui"]);
    for bad in [
        "/etc/ssl/a;b.crt",
        "/etc/ssl/a b.crt",
        "/etc/ssl/a'b.crt",
        "/etc/ssl/a\"b.crt",
    ] {
        for var in ["conteneur_cert_file", "conteneur_key_file"] {
            let err = refused_by_set(&s, var, bad);
            assert!(
                err.contains(var) && err.contains("a path nginx reads holds no whitespace"),
                "{err}"
            );
            // Such a value already in config.eol: every later step says
            // the same.
            let saved = std::fs::read(s.config_path()).unwrap();
            write_by_hand(&s, var, serde_json::json!(bad));
            let out = plan(&s);
            assert_eq!(out.status.code(), Some(4), "{}", text(&out));
            let later = String::from_utf8_lossy(&out.stderr);
            assert!(later.contains(&rule_of(&err, bad)), "{err}\n{later}");
            std::fs::write(s.config_path(), saved).unwrap();
        }
    }
    s.set("conteneur_cert_file", &["/etc/ssl/certs/site-1.crt"]);
}

#[test]
fn a_memory_limit_past_64_bits_is_refused_by_set_and_plan() {
    let s = Server::new();
    s.set("nombre_conteneur", &["1"]);
    s.set("conteneur1_memory", &["512m"]);
    let huge = "99999999999999999999g";
    let err = refused_by_set(&s, "conteneur1_memory", huge);
    assert!(err.contains("64 bits"), "{err}");
    for ok in ["999999999g", "999999999999999999", "1K"] {
        s.set("conteneur1_memory", &[ok]);
    }
    write_by_hand(&s, "conteneur1_memory", serde_json::json!(huge));
    let out = plan(&s);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&rule_of(&err, huge)),
        "{}",
        text(&out)
    );
}

fn mode_of(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// conteneur under `umask 000`: `ARGS…` with the root and our dictionaries.
fn under_umask_000(s: &Server, args: &[&str]) -> Output {
    let bin = assert_cmd::cargo::cargo_bin("conteneur");
    std::process::Command::new("sh")
        .args(["-c", "umask 000 && exec \"$@\"", "sh"])
        .arg(bin)
        .arg("--root")
        .arg(s.root.path())
        .arg("--dicos")
        .arg(common::our_dicos())
        .args(args)
        .env_remove("CONTENEUR_ROOT")
        .output()
        .unwrap()
}

#[test]
fn folders_have_their_mode_whatever_the_umask() {
    let s = Server::new();
    common::install_eole_layout(s.root.path());
    let out = under_umask_000(&s, &["set", "nombre_conteneur", "0"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = under_umask_000(&s, &["render"]);
    assert!(out.status.success(), "{}", text(&out));
    for d in [
        "etc",
        "etc/eole",
        "var",
        "var/lib",
        "var/lib/conteneur",
        "var/lib/conteneur/nginx",
    ] {
        assert_eq!(mode_of(&s.root.path().join(d)), 0o755, "{d}");
    }
}

/// A value refused by the checks (here a container name `../x` written
/// into config.eol by hand) stops `render` and `proxy apply` as it stops
/// `instance`: nothing is rendered, nothing published.
#[test]
fn render_and_proxy_apply_publish_nothing_unchecked() {
    let s = Server::new();
    let _nginx = common::PrivateNginx(s.root.path());
    common::install_eole_layout(s.root.path());
    s.set("conteneur_proxy_mode", &["private"]);
    s.set("nombre_conteneur", &["1"]);
    s.set("conteneur1_name", &["web"]);
    s.set("conteneur1_url", &["localhost:5000/demo/web"]);
    s.set("conteneur1_port_in", &["80"]);
    s.set("conteneur1_port_out", &["18080"]);
    let out = s.cmd(&["render"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let staged = s.root.path().join("var/lib/conteneur/nginx/conteneur.conf");
    let good = std::fs::read_to_string(&staged).unwrap();
    assert!(good.contains("location /web/"), "{good}");

    write_by_hand(&s, "conteneur1_name", serde_json::json!("../x"));
    let out = s.cmd(&["render"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        err.contains("conteneur1_name") && err.contains("'../x'"),
        "{err}"
    );
    // Printing writes nothing (CreoleCat -t): it prints, and warns that a
    // run would refuse the configuration, naming the value.
    let out = s.cmd(&["render", "--stdout"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("conteneur1_name") && err.contains("'../x'"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&staged).unwrap(), good);

    // A staged site holding the route, as the unchecked render wrote it.
    std::fs::write(&staged, good.replace("/web/", "/../x/")).unwrap();
    let live = s
        .root
        .path()
        .join("var/lib/conteneur/nginx-private/conf/conteneur.conf");
    for action in ["apply", "start"] {
        let out = s.cmd(&["proxy", action]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{action}: {}", text(&out));
        assert!(
            err.contains("'../x'") && err.contains("nothing was published"),
            "{err}"
        );
        assert!(!live.exists(), "{action} published the site");
    }

    // A live site, checked when it was applied, still starts when a value
    // went bad since: `proxy start` publishes nothing then.
    write_by_hand(&s, "conteneur1_name", serde_json::json!("web"));
    s.set("conteneur_proxy_listen", &["127.0.0.1"]);
    s.set("conteneur_http_port", &[&free_port().to_string()]);
    s.set("conteneur1_port_out", &[&free_port().to_string()]);
    let out = s.cmd(&["render"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let good = std::fs::read_to_string(&staged).unwrap();
    let out = s.cmd(&["proxy", "apply"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    write_by_hand(&s, "conteneur1_name", serde_json::json!("../x"));
    let out = s.cmd(&["proxy", "start"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&live).unwrap(), good);
}

/// `export stack` names a secret after the server's label key: before any
/// run has made that key the name would match nothing a swarm run creates,
/// so the export is refused, naming the secret and what to run, and
/// nothing is written.
#[test]
fn export_stack_refuses_secrets_named_after_a_key_no_run_made() {
    let s = Server::new();
    common::install_eole_layout(s.root.path());
    s.set("conteneur_secret_name", &["token"]);
    s.set("conteneur_secret_value", &["s3cret-value"]);
    s.set("nombre_conteneur", &["1"]);
    s.set("conteneur1_name", &["web"]);
    s.set("conteneur1_url", &["localhost:5000/demo/web"]);
    s.set("conteneur1_port_in", &["80"]);
    s.set("conteneur1_port_out", &["18081"]);
    s.set("conteneur1_secrets", &["token"]);
    let file = s.root.path().join("stack.json");
    let out = s
        .cmd(&["export", "stack", "-o", &file.display().to_string()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        err.contains("'token' of 'web'")
            && err.contains("conteneur instance")
            && err.contains("nothing was exported"),
        "{err}"
    );
    assert!(!err.contains("s3cret-value"), "{err}");
    assert!(!file.exists());
    assert!(!s.root.path().join("var/lib/conteneur/label.key").exists());
}

/// `export compose` and `export stack` check where a host folder really
/// leads, as a run does: a folder of the root that is a symbolic link to
/// /etc is refused, named, and nothing is written (the exported file would
/// have mounted the host's /etc).
#[test]
fn exports_refuse_a_host_folder_whose_link_leads_to_a_system_folder() {
    let s = Server::new();
    common::install_eole_layout(s.root.path());
    s.set("nombre_conteneur", &["1"]);
    s.set("conteneur1_name", &["web"]);
    s.set("conteneur1_url", &["localhost:5000/demo/web"]);
    s.set("conteneur1_port_in", &["80"]);
    s.set("conteneur1_port_out", &["18081"]);
    s.set("conteneur1_mountpoint_in", &["/data"]);
    s.set("conteneur1_mountpoint_out", &["/srv/data"]);
    let srv = s.root.path().join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    std::os::unix::fs::symlink("/etc", srv.join("data")).unwrap();
    for format in ["compose", "stack"] {
        let file = s.root.path().join(format!("{format}.json"));
        let out = s
            .cmd(&["export", format, "-o", &file.display().to_string()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{format}: {}", text(&out));
        assert!(
            err.contains("conteneur1_mountpoint_out") && err.contains("resolves to '/etc'"),
            "{format}: {err}"
        );
        assert!(!file.exists(), "{format}: nothing is written");
    }
}

/// `export stack --name` goes into the front's nginx configuration
/// (`tasks.NAME_SERVICE`): a name that is not a DNS name component is
/// refused before anything is read or written.
#[test]
fn export_stack_refuses_a_stack_name_that_would_write_nginx_directives() {
    let s = Server::new();
    common::install_eole_layout(s.root.path());
    let file = s.root.path().join("stack.json");
    let out = s
        .cmd(&[
            "export",
            "stack",
            "-o",
            &file.display().to_string(),
            "--name",
            "x; } server { listen 1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a stack name"),
        "{}",
        text(&out)
    );
    assert!(!file.exists());
    assert!(!s.root.path().join("stack.json.front.conf").exists());
}

/// `flock -n PATH true` as `nobody`: its output, and whether it got the lock.
fn flock_as_nobody(path: &Path) -> (bool, String) {
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .args(["flock", "-n"])
        .arg(path)
        .arg("true")
        .output()
        .unwrap();
    (out.status.success(), text(&out))
}

#[test]
fn the_lock_files_are_root_s_alone() {
    // The finding: run.lock was 0644, so `flock` by nobody held every run
    // back (exit 9). nobody must be able to reach the files to show that
    // the mode, not the folders, keeps it out.
    let s = Server::new();
    std::fs::set_permissions(s.root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    s.set("conteneur_proxy_mode", &["private"]);
    let state = s.root.path().join("var/lib/conteneur");
    std::fs::create_dir_all(&state).unwrap();
    let run_lock = state.join("run.lock");
    let eol_lock = s.root.path().join("etc/eole/config.eol.lock");
    // Locks left by an older version, 0644: brought back to 0600.
    std::fs::write(&run_lock, "").unwrap();
    for p in [&run_lock, &eol_lock] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(flock_as_nobody(p).0, "the test's premise: {}", p.display());
    }
    // `reconfigure` before `instance` takes the run lock, then stops.
    let out = s.cmd(&["reconfigure"]).output().unwrap();
    assert!(
        text(&out).contains("never been instantiated"),
        "{}",
        text(&out)
    );
    s.set("conteneur_proxy_mode", &["private"]);
    for p in [&run_lock, &eol_lock] {
        assert_eq!(mode_of(p), 0o600, "{}", p.display());
        let (got, said) = flock_as_nobody(p);
        assert!(
            !got && said.contains("Permission denied"),
            "{}: {said}",
            p.display()
        );
    }
    // A new one is made 0600.
    std::fs::remove_file(&run_lock).unwrap();
    s.cmd(&["reconfigure"]).output().unwrap();
    assert_eq!(mode_of(&run_lock), 0o600);
    // One owned by another user (who could hold it open, or loosen it
    // again) is refused, naming it; so is a link.
    nix::unistd::chown(&run_lock, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    let out = s.cmd(&["reconfigure"]).output().unwrap();
    let said = text(&out);
    assert!(
        !out.status.success() && said.contains("run.lock") && said.contains("owned by uid 65534"),
        "{said}"
    );
    std::fs::remove_file(&run_lock).unwrap();
    let elsewhere = s.root.path().join("elsewhere");
    std::os::unix::fs::symlink(&elsewhere, &run_lock).unwrap();
    let out = s.cmd(&["reconfigure"]).output().unwrap();
    assert!(
        !out.status.success() && text(&out).contains("run.lock"),
        "{}",
        text(&out)
    );
    assert!(!elsewhere.exists());
}

#[test]
fn a_password_with_a_nul_byte_is_refused_without_showing_it() {
    let s = Server::new();
    s.set("conteneur_secret_name", &["db"]);
    s.set("conteneur_secret_value", &["PWnul111"]);
    let path = s.config_path();
    let text_of = std::fs::read_to_string(&path).unwrap();
    assert!(text_of.contains("\"PWnul111\""), "{text_of}");
    std::fs::write(
        &path,
        text_of.replace("\"PWnul111\"", "\"PWnul111\\u0000\""),
    )
    .unwrap();
    for args in [
        &["plan"][..],
        &["lint"],
        &["get", "conteneur_secret_value"],
        &["render"],
    ] {
        let out = s.cmd(args).output().unwrap();
        let said = text(&out);
        assert!(!out.status.success(), "{args:?}: {said}");
        assert!(!said.contains("PWnul"), "{args:?}: {said}");
    }
    // `get` (CreoleGet) used to say "the value 'PWnul111…' is not valid".
    let said = text(&s.cmd(&["get", "conteneur_secret_value"]).output().unwrap());
    assert!(
        said.contains("conteneur_secret_value")
            && said.contains("NUL")
            && said.contains("not shown"),
        "{said}"
    );
    let said = text(&plan(&s));
    assert!(
        said.contains("conteneur_secret_value") && said.contains("NUL"),
        "{said}"
    );
}

/// Hooks through a real run: one that sleeps past `conteneur_hook_timeout`
/// is killed and named, and the run lock is free again; a world-writable
/// hook folder and a hook owned by another user are refused, naming them,
/// before any hook runs.
#[test]
fn hooks_are_bounded_and_must_be_root_s_alone() {
    let site = common::site::Site::new("hook");
    site.set("nombre_conteneur", &["0"]);
    site.set("conteneur_hook_timeout", &["1"]);
    let hooks = site.path("usr/share/eole");
    let pre = hooks.join("preservice");
    std::fs::create_dir_all(&pre).unwrap();
    let ran = site.path("ran");
    let hook = |name: &str, body: &str| {
        let p = pre.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    };
    let first = hook("10-first", &format!("touch {}", ran.display()));
    let sleeper = hook("20-sleeps", "sleep 600");
    let begin = std::time::Instant::now();
    let out = site.run("instance");
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        begin.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        begin.elapsed()
    );
    assert!(
        said.contains(&sleeper.display().to_string())
            && said.contains("conteneur_hook_timeout (1 s)"),
        "{said}"
    );
    assert!(ran.exists());
    std::fs::remove_file(&sleeper).unwrap();
    std::fs::remove_file(&ran).unwrap();

    for (what, named, why) in [
        (
            "a world-writable folder",
            pre.clone(),
            "writable by anyone (mode 0777)",
        ),
        (
            "a hook of another user",
            first.clone(),
            "owned by uid 65534, not by root",
        ),
    ] {
        if what.contains("folder") {
            std::fs::set_permissions(&pre, std::fs::Permissions::from_mode(0o777)).unwrap();
        } else {
            std::fs::set_permissions(&pre, std::fs::Permissions::from_mode(0o755)).unwrap();
            nix::unistd::chown(&first, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        }
        let out = site.run("instance");
        let said = text(&out);
        assert!(!out.status.success(), "{what}: {said}");
        assert!(
            said.contains(&named.display().to_string())
                && said.contains(why)
                && said.contains("refused"),
            "{what}: {said}"
        );
        assert!(!ran.exists(), "{what}: a hook ran");
    }
    nix::unistd::chown(&first, Some(nix::unistd::Uid::from_raw(0)), None).unwrap();
    site.run_ok("instance");
    assert!(ran.exists());
}
