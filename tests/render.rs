//! End-to-end tests of `render`, `CreoleCat -t` and the template part of
//! `lint`, with conteneur's own dictionary and templates, and snapshots of
//! what the templates render for a three-container server.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use assert_cmd::Command;
use common::Server;
use conteneur::plan::launch::{LaunchFile, MountKind};
use predicates::prelude::*;

/// Our templates, as shipped.
fn our_templates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("templates")
}

/// `conteneur --root ROOT --dicos dicos --templates TEMPLATES ARGS…`
fn cmd(s: &Server, templates: &Path, args: &[&str]) -> Command {
    let mut c = s.cmd(&["--templates"]);
    c.arg(templates).args(args);
    c
}

fn stdout(s: &Server, args: &[&str]) -> String {
    let out = cmd(s, &our_templates(), args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Three containers: one with everything (two mounts, websocket, an
/// environment with quotes), one plain, one not published; https on.
fn three_containers(s: &Server) {
    s.set("nombre_conteneur", &["3"]);
    s.set("conteneur_server_name", &["eole.example.fr"]);
    s.set("conteneur_https", &["oui"]);
    s.set("conteneur1_name", &["rocketchat"]);
    s.set("conteneur1_url", &["localhost:5000/demo/rocketchat"]);
    s.set("conteneur1_tag", &["6.5.0"]);
    s.set("conteneur1_port_in", &["3000"]);
    s.set("conteneur1_port_out", &["8080"]);
    s.set("conteneur1_mountpoint_in", &["/app/uploads", "/app/config"]);
    s.set(
        "conteneur1_mountpoint_out",
        &["/srv/rocketchat/uploads", "rocketchat-config"],
    );
    s.set(
        "conteneur1_env",
        &[
            "ROOT_URL=https://eole.example.fr/rocketchat/",
            "GREETING=it's a \"test\" $HOME `x`",
        ],
    );
    s.set("conteneur1_memory", &["1g"]);
    s.set("conteneur1_websocket", &["oui"]);
    s.set("conteneur1_health_path", &["/api/info"]);
    s.set("conteneur2_name", &["wiki"]);
    s.set("conteneur2_url", &["localhost:5000/demo/wiki"]);
    s.set("conteneur2_port_in", &["80", "443"]);
    s.set("conteneur2_port_out", &["8081", "8444"]);
    s.set("conteneur2_restart", &["always"]);
    s.set("conteneur2_stop_timeout", &["30"]);
    s.set("conteneur3_name", &["batch"]);
    s.set("conteneur3_url", &["localhost:5000/demo/batch"]);
    s.set("conteneur3_port_in", &["9000"]);
    s.set("conteneur3_port_out", &["8082"]);
    s.set("conteneur3_publish", &["non"]);
}

#[test]
fn snapshots_of_our_templates() {
    let s = Server::new();
    three_containers(&s);
    let site = stdout(
        &s,
        &["render", "--only", "nginx-conteneur.conf", "--stdout"],
    );
    insta::assert_snapshot!("nginx_site", site);
    let vars = stdout(&s, &["render", "--only", "conteneur-vars.conf", "--stdout"]);
    insta::assert_snapshot!("variable_file", vars);
    let launch = stdout(
        &s,
        &["render", "--only", "conteneur-launch.json", "--stdout"],
    );
    insta::assert_snapshot!("launch_plan", launch);
}

/// The rendered launch plan is exactly the instancier's schema.
#[test]
fn launch_plan_parses_with_the_instanciers_types() {
    let s = Server::new();
    three_containers(&s);
    let text = stdout(
        &s,
        &["render", "--only", "conteneur-launch.json", "--stdout"],
    );
    let plan = LaunchFile::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(plan.containers.len(), 3);
    let rc = &plan.containers[0];
    assert_eq!((rc.name.as_str(), rc.index), ("rocketchat", 1));
    assert_eq!(rc.backend, "docker");
    assert_eq!(rc.image, "localhost:5000/demo/rocketchat");
    assert_eq!(rc.tag, "6.5.0");
    assert_eq!(rc.ports.len(), 1);
    assert_eq!(
        (
            rc.ports[0].container,
            rc.ports[0].host,
            rc.ports[0].address.as_str()
        ),
        (3000, 8080, "127.0.0.1")
    );
    assert_eq!(rc.mounts[0].kind, MountKind::Bind);
    assert_eq!(rc.mounts[1].kind, MountKind::Volume);
    assert_eq!(rc.mounts[1].host, "rocketchat-config");
    assert_eq!(rc.env[1], "GREETING=it's a \"test\" $HOME `x`");
    assert_eq!(rc.memory.text(), "1g");
    assert_eq!(rc.health.path.as_deref(), Some("/api/info"));
    assert_eq!(rc.health.port, Some(8080));
    assert!(rc.websocket && rc.publish);
    assert_eq!(rc.labels["fr.eole.conteneur.managed"], "true");
    assert_eq!(rc.labels["fr.eole.conteneur.name"], "rocketchat");
    let wiki = &plan.containers[1];
    assert_eq!(wiki.ports.len(), 2);
    assert_eq!((wiki.restart.as_str(), wiki.stop_timeout), ("always", 30));
    assert_eq!(wiki.health.path, None);
    assert!(wiki.mounts.is_empty() && wiki.env.is_empty());
    assert!(!plan.containers[2].publish);
}

/// bash reads back every value exactly, quotes and `$` included.
#[test]
fn variable_file_is_sourced_by_bash() {
    let s = Server::new();
    three_containers(&s);
    cmd(&s, &our_templates(), &["render"]).assert().success();
    let file = s.root.path().join("etc/eole/conteneur-vars.conf");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            ". '{}' && printf '%s|' \"$conteneur_server_name\" \"${{conteneur1_env[@]}}\" \"${{#conteneur2_port_out[@]}}\" \"${{conteneur1_mountpoint_out[1]}}\" \"${{conteneur3_publish}}\"",
            file.display()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "eole.example.fr|ROOT_URL=https://eole.example.fr/rocketchat/|GREETING=it's a \"test\" $HOME `x`|2|rocketchat-config|non|"
    );
}

/// Routes: published containers with a port only; a container beyond
/// nombre_conteneur (its values kept in config.eol) has none either.
#[test]
fn only_active_published_containers_have_routes() {
    let s = Server::new();
    three_containers(&s);
    let site = stdout(
        &s,
        &["render", "--only", "nginx-conteneur.conf", "--stdout"],
    );
    // Two servers (http and https), each with the two published routes.
    assert_eq!(site.matches("location /rocketchat/ {").count(), 2);
    assert_eq!(site.matches("location = /wiki {").count(), 2);
    assert!(!site.contains("batch"), "{site}");
    s.set("nombre_conteneur", &["1"]);
    let site = stdout(
        &s,
        &["render", "--only", "nginx-conteneur.conf", "--stdout"],
    );
    assert!(site.contains("location /rocketchat/"));
    assert!(!site.contains("wiki"), "{site}");
    let plan = LaunchFile::parse(&stdout(
        &s,
        &[
            "render",
            "--only",
            "/var/lib/conteneur/launch.json",
            "--stdout",
        ],
    ))
    .unwrap();
    assert_eq!(plan.containers.len(), 1);
}

/// The rendered site passes `nginx -t` inside an http block, https on.
#[test]
fn nginx_accepts_the_rendered_site() {
    let Some(nginx) = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
    else {
        // Fail, never skip: scripts/services.sh installs nginx.
        panic!(
            "nginx is not installed (run scripts/services.sh): the rendered site cannot be checked"
        );
    };
    let s = Server::new();
    three_containers(&s);
    let root = s.root.path();
    let ng = root.join("ng");
    std::fs::create_dir_all(ng.join("logs")).unwrap();
    let key = ng.join("key.pem");
    let cert = ng.join("cert.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(made.status.success());
    s.set("conteneur_cert_file", &[cert.to_str().unwrap()]);
    s.set("conteneur_key_file", &[key.to_str().unwrap()]);
    s.set("conteneur_http_port", &["18080"]);
    s.set("conteneur_https_port", &["18443"]);
    s.set("conteneur_proxy_listen", &["127.0.0.1"]);
    cmd(&s, &our_templates(), &["render"]).assert().success();
    let site = root.join("var/lib/conteneur/nginx/conteneur.conf");
    let conf = ng.join("nginx.conf");
    let temp: String = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
        .iter()
        .map(|t| format!("{t}_temp_path {}/{t};\n", ng.display()))
        .collect();
    // The backends the site names, as conteneur writes them beside it
    // (here with no container yet: each straight to its port_out).
    let upstreams = ng.join("upstreams.conf");
    let text = std::fs::read_to_string(&site).unwrap();
    let generated = conteneur::proxy::forward::render(&text, &Default::default());
    assert!(generated.has_upstreams);
    std::fs::write(&upstreams, generated.upstreams).unwrap();
    std::fs::write(
        &conf,
        format!(
            "pid {ng}/nginx.pid;\nerror_log {ng}/logs/error.log;\nevents {{}}\nhttp {{\naccess_log off;\n{temp}include {up};\ninclude {site};\n}}\n",
            ng = ng.display(),
            up = upstreams.display(),
            site = site.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(nginx)
        .arg("-t")
        .arg("-p")
        .arg(&ng)
        .arg("-c")
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn render_writes_once_then_leaves_unchanged_files_alone() {
    let s = Server::new();
    three_containers(&s);
    let root = s.root.path();
    cmd(&s, &our_templates(), &["render"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "render: 3 written, 0 removed, 0 unchanged",
        ));
    let launch = root.join("var/lib/conteneur/launch.json");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&launch).unwrap().permissions());
    assert_eq!(mode & 0o7777, 0o600);
    let past = SystemTime::now() - Duration::from_secs(7200);
    for f in [
        "etc/eole/conteneur-vars.conf",
        "var/lib/conteneur/launch.json",
        "var/lib/conteneur/nginx/conteneur.conf",
    ] {
        std::fs::File::options()
            .write(true)
            .open(root.join(f))
            .unwrap()
            .set_modified(past)
            .unwrap();
    }
    cmd(&s, &our_templates(), &["render"])
        .assert()
        .success()
        .stdout("render: 0 written, 0 removed, 3 unchanged\n");
    assert_eq!(
        std::fs::metadata(&launch).unwrap().modified().unwrap(),
        past
    );
    // One change: only the files it touches are rewritten.
    s.set("conteneur_proxy_timeout", &["120"]);
    cmd(&s, &our_templates(), &["render"])
        .assert()
        .success()
        .stdout(predicate::str::contains("conteneur.conf\n"))
        .stdout(predicate::str::contains(
            "render: 2 written, 0 removed, 1 unchanged",
        ));
    assert_eq!(
        std::fs::metadata(&launch).unwrap().modified().unwrap(),
        past
    );
}

/// `CreoleCat -t NAME` is `render --only NAME --stdout`.
#[test]
fn creolecat_prints_one_template() {
    let s = Server::new();
    three_containers(&s);
    let bin = assert_cmd::cargo::cargo_bin("conteneur");
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("CreoleCat");
    std::os::unix::fs::symlink(&bin, &cat).unwrap();
    let expected = stdout(
        &s,
        &["render", "--only", "nginx-conteneur.conf", "--stdout"],
    );
    Command::new(&cat)
        .env("CONTENEUR_ROOT", s.root.path())
        .arg("--dicos")
        .arg(common::our_dicos())
        .arg("--templates")
        .arg(our_templates())
        .args(["-t", "nginx-conteneur.conf"])
        .assert()
        .success()
        .stdout(expected);
    // Nothing was written.
    assert!(!s.root.path().join("var/lib/conteneur").exists());
    Command::new(&cat)
        .env("CONTENEUR_ROOT", s.root.path())
        .arg("--dicos")
        .arg(common::our_dicos())
        .arg("--templates")
        .arg(our_templates())
        .args(["-t", "nosuch.conf"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no <file> has the template or destination 'nosuch.conf'",
        ))
        .stderr(predicate::str::contains("nginx-conteneur.conf"));
}

/// A copy of our templates to break.
fn templates_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(our_templates()).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    dir
}

/// lint renders every template: clean with ours; a broken one is named
/// with its line and variable, and render refuses to write anything.
#[test]
fn lint_and_render_report_template_errors() {
    let s = Server::new();
    three_containers(&s);
    cmd(&s, &our_templates(), &["lint"])
        .assert()
        .success()
        .stdout(predicate::str::contains("lint: 0 error(s), 0 warning(s)"));
    let t = templates_copy();
    let site = t.path().join("nginx-conteneur.conf");
    let text = std::fs::read_to_string(&site).unwrap();
    std::fs::write(
        &site,
        text.replacen("server_name {{ server.name", "server_name {{ server_nme", 1),
    )
    .unwrap();
    std::fs::write(t.path().join("conteneur-vars.conf"), "ok\n{% if %}\n").unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("server_name {{ server.name"))
        .unwrap()
        + 1;
    let at = format!("{}:{line}:", site.display());
    cmd(&s, t.path(), &["lint"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Templates:"))
        .stdout(predicate::str::contains(&at))
        .stdout(predicate::str::contains(
            "template 'nginx-conteneur.conf' uses 'server_nme', which is not defined",
        ))
        .stdout(predicate::str::contains("did you mean"))
        .stdout(predicate::str::contains(format!(
            "{}:2:",
            t.path().join("conteneur-vars.conf").display()
        )))
        .stdout(predicate::str::contains("lint: 2 error(s)"));
    cmd(&s, t.path(), &["render"])
        .assert()
        .code(7)
        .stderr(predicate::str::contains(&at))
        .stderr(predicate::str::contains("nothing was written"));
    assert!(!s.root.path().join("var/lib/conteneur").exists());
    assert!(!s.root.path().join("etc/eole/conteneur-vars.conf").exists());
}

/// The dictionary refuses a name that would break nginx; if a local
/// dictionary lifts that check, the template refuses it too.
#[test]
fn a_name_breaking_nginx_is_refused_twice() {
    let s = Server::new();
    s.set("nombre_conteneur", &["1"]);
    // Complete: render, as instance, refuses a configuration with errors.
    s.set("conteneur1_url", &["localhost:5000/demo/web"]);
    s.set("conteneur1_port_in", &["80"]);
    s.set("conteneur1_port_out", &["8080"]);
    s.cmd(&["set", "conteneur1_name", "web;}"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("conteneur1_name"));
    // A site dictionary that drops the name's checks.
    let local = tempfile::tempdir().unwrap();
    std::fs::write(
        local.path().join("99_lax.xml"),
        "<creole><variables><family name='conteneur{X}'>\
         <variable name='conteneur{X}_name' redefine='True' remove_check='True'/>\
         </family></variables></creole>",
    )
    .unwrap();
    let with_local = |args: &[&str]| {
        let mut c = cmd(&s, &our_templates(), &["--dicos"]);
        c.arg(local.path()).args(args);
        c
    };
    with_local(&["set", "conteneur1_name", "web;}"])
        .assert()
        .success();
    with_local(&["render"])
        .assert()
        .code(7)
        .stderr(predicate::str::contains(
            "cannot go into nginx's configuration",
        ))
        .stderr(predicate::str::contains("web;}"));
    assert!(!s.root.path().join("var/lib/conteneur").exists());
}
