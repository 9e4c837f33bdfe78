//! End-to-end test of an application of two containers, driving only
//! conteneur's command line and HTTP to 127.0.0.1: WordPress (published at
//! /wordpress/, on network `wp`, depends on `db`) and MariaDB (not
//! published, on `wp`, a named volume, an in-container health check, its
//! password a generated secret), from the real images that
//! scripts/images-apps.sh builds from Debian 12 packages.
//!
//! The WordPress container is named `wordpress`: its image serves WordPress
//! under /wordpress/, which is the container's web path. Docker's container
//! names are global, so this test cannot run while the demo's WordPress
//! runs on the same engine (the plan refuses the name clash, clearly).
//!
//! It fails, never skips, when the engine, the registry or the images are
//! missing. A guard removes what it made even when it fails.

mod common;

use common::{docker, files, free_port, text};

use std::path::Path;
use std::process::{Command as Proc, Output};
use std::time::{Duration, Instant};

use assert_cmd::Command;

const WP_IMAGE: &str = "localhost:5000/apps/wordpress";
/// WordPress's health check, as scripts/wordpress-pair.sh sets it: PHP
/// opens the database connection with WordPress's own settings.
const WP_HEALTH: &str = "php -r \"include '/etc/wordpress/config-default.php'; mysqli_report(MYSQLI_REPORT_OFF); exit(@mysqli_connect(DB_HOST, DB_USER, DB_PASSWORD, DB_NAME) ? 0 : 1);\"";
const DB_IMAGE: &str = "localhost:5000/apps/mariadb";

/// Fails (never skips) when the engine, the registry or the images are
/// missing.
fn require_services() {
    common::require_docker();
    for (image, tag) in [("apps/wordpress", "6.1"), ("apps/mariadb", "10.11")] {
        let reg = common::run(
            "curl",
            &[
                "-fsS",
                "-H",
                "Accept: application/vnd.docker.distribution.manifest.v2+json",
                &format!("http://127.0.0.1:5000/v2/{image}/manifests/{tag}"),
            ],
        );
        assert!(
            reg.status.success(),
            "the image {image}:{tag} is not in the loopback registry: run scripts/images-apps.sh"
        );
    }
}

/// A server under a temporary root, with our dictionaries and templates
/// installed, a private nginx on a free port.
struct Site {
    root: tempfile::TempDir,
    http_port: u16,
    db: String,
    volume: String,
    /// WordPress's uploads (a volume copied paused by backups).
    uploads: String,
    /// Tags this test pushed (removed from the local engine at the end).
    tags: Vec<String>,
}

impl Site {
    /// `tag` tells apart the tests of this process (they run in parallel,
    /// and each cleans its own names).
    fn new(tag: &str) -> Site {
        require_services();
        let root = tempfile::tempdir().expect("temp dir");
        common::install_eole_layout(root.path());
        let pid = std::process::id() % 100000;
        let site = Site {
            root,
            http_port: free_port(),
            db: format!("{tag}db{pid}"),
            volume: format!("{tag}data{pid}"),
            uploads: format!("{tag}up{pid}"),
            tags: Vec::new(),
        };
        site.clean_engine();
        let port = site.http_port.to_string();
        site.set("conteneur_proxy_mode", &["private"]);
        site.set("conteneur_proxy_listen", &["127.0.0.1"]);
        site.set("conteneur_http_port", &[&port]);
        // MariaDB initialises its data folder on the first start.
        site.set("conteneur_health_timeout", &["180"]);
        site
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("conteneur").expect("binary");
        c.arg("--root").arg(self.root.path()).args(args);
        c.env_remove("CONTENEUR_ROOT").env_remove("DOCKER_HOST");
        c.timeout(Duration::from_secs(400));
        c
    }

    fn out(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run conteneur")
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.out(args);
        if !o.status.success() {
            // What the containers said, for a run that failed.
            let logs: Vec<String> = ["wordpress", self.db.as_str()]
                .iter()
                .map(|n| {
                    format!(
                        "--- docker logs {n}:\n{}",
                        text(&docker(&["logs", "--tail", "30", n]))
                    )
                })
                .collect();
            panic!("{args:?} failed:\n{}\n{}", text(&o), logs.join("\n"));
        }
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn set(&self, var: &str, values: &[&str]) {
        let mut args = vec!["set", var];
        args.extend_from_slice(values);
        self.ok(&args);
    }

    /// The application, as an admin configures it.
    fn configure(&self) {
        let db_host = format!("WORDPRESS_DB_HOST={}", self.db);
        let wp_port = free_port().to_string();
        self.set("conteneur_secret_name", &["db_password"]);
        self.set("nombre_conteneur", &["2"]);
        self.set("conteneur2_name", &[&self.db]);
        self.set("conteneur2_url", &[DB_IMAGE]);
        self.set("conteneur2_tag", &["10.11"]);
        self.set("conteneur2_networks", &["wp"]);
        self.set("conteneur2_mountpoint_in", &["/var/lib/mysql"]);
        self.set("conteneur2_mountpoint_out", &[&self.volume]);
        self.set("conteneur2_secrets", &["db_password"]);
        self.set(
            "conteneur2_env",
            &[
                "MARIADB_DATABASE=wordpress",
                "MARIADB_USER=wordpress",
                "MARIADB_PASSWORD_FILE=/run/secrets/db_password",
            ],
        );
        self.set("conteneur2_health_command", &["mysqladmin ping --silent"]);
        self.set("conteneur2_health_interval", &["2"]);
        self.set("conteneur2_health_start_period", &["120"]);
        self.set("conteneur1_name", &["wordpress"]);
        self.set("conteneur1_url", &[WP_IMAGE]);
        self.set("conteneur1_tag", &["6.1"]);
        self.set("conteneur1_port_in", &["80"]);
        self.set("conteneur1_port_out", &[&wp_port]);
        self.set("conteneur1_keep_path", &["oui"]);
        self.set(
            "conteneur1_mountpoint_in",
            &["/var/lib/wordpress/wp-content/uploads"],
        );
        self.set("conteneur1_mountpoint_out", &[&self.uploads]);
        // Healthy only when WordPress reaches its database (a static file
        // answers even when every page says "Database Error").
        self.set("conteneur1_health_command", &[WP_HEALTH]);
        self.set("conteneur1_health_interval", &["1"]);
        self.set("conteneur1_networks", &["wp"]);
        self.set("conteneur1_depends_on", &[&self.db]);
        self.set("conteneur1_secrets", &["db_password"]);
        self.set(
            "conteneur1_env",
            &[
                &db_host,
                "WORDPRESS_DB_NAME=wordpress",
                "WORDPRESS_DB_USER=wordpress",
                "WORDPRESS_DB_PASSWORD_FILE=/run/secrets/db_password",
            ],
        );
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}/wordpress/", self.http_port)
    }

    /// Id and start time of a container, as the engine reports them.
    fn identity(&self, name: &str) -> (String, String) {
        let o = docker(&["inspect", "--format", "{{.Id}} {{.State.StartedAt}}", name]);
        assert!(o.status.success(), "container {name} is missing");
        let t = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let (id, started) = t.split_once(' ').expect("id and start time");
        (id.to_string(), started.to_string())
    }

    fn exists(&self, name: &str) -> bool {
        docker(&["inspect", "--type", "container", name])
            .status
            .success()
    }

    /// Our networks on the engine (by the server label conteneur sets).
    fn networks(&self) -> Vec<String> {
        let server = std::fs::canonicalize(self.root.path()).expect("root");
        let o = docker(&[
            "network",
            "ls",
            "-q",
            "--filter",
            &format!("label=fr.eole.conteneur.server={}", server.display()),
        ]);
        String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    fn clean_engine(&self) {
        for n in ["wordpress", self.db.as_str()] {
            // Only ours: another root's `wordpress` (the demo) is left alone.
            let o = docker(&[
                "inspect",
                "--format",
                "{{index .Config.Labels \"fr.eole.conteneur.server\"}}",
                n,
            ]);
            let owner = String::from_utf8_lossy(&o.stdout).trim().to_string();
            let ours = std::fs::canonicalize(self.root.path())
                .map(|p| p.display().to_string() == owner)
                .unwrap_or(false);
            if o.status.success() && (ours || n == self.db.as_str()) {
                docker(&["rm", "-f", n]);
            }
        }
        for id in self.networks() {
            docker(&["network", "rm", &id]);
        }
        // Its volumes, and those a restore kept under a dated name.
        for v in [&self.volume, &self.uploads] {
            let o = docker(&["volume", "ls", "-q", "--filter", &format!("name={v}")]);
            for name in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                if name == v.as_str() || name.starts_with(&format!("{v}.before-restore-")) {
                    docker(&["volume", "rm", "-f", name]);
                }
            }
        }
    }

    /// Pushes `image:tag` again as `image:new` (a new tag of the same
    /// image).
    fn new_tag(&mut self, image: &str, tag: &str, new: &str) {
        let (from, to) = (format!("{image}:{tag}"), format!("{image}:{new}"));
        for args in [
            vec!["pull", &from],
            vec!["tag", &from, &to],
            vec!["push", &to],
        ] {
            let o = docker(&args);
            assert!(o.status.success(), "docker {args:?}: {}", text(&o));
        }
        // The engine must pull it as conteneur would: not present yet.
        docker(&["rmi", &to]);
        self.tags.push(to);
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        common::stop_private_nginx(self.root.path());
        self.clean_engine();
        for t in &self.tags {
            docker(&["rmi", t]);
        }
    }
}

/// An HTTP exchange through curl: status, headers (lowercase names) and
/// body. `jar` keeps the cookies.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn http(url: &str, jar: &Path, extra: &[&str]) -> Reply {
    let head = jar.with_extension("head");
    let mut args = vec![
        "-sS",
        "--max-time",
        "30",
        "-b",
        jar.to_str().expect("jar path"),
        "-c",
        jar.to_str().expect("jar path"),
        "-D",
        head.to_str().expect("head path"),
        "-o",
        "-",
    ];
    args.extend_from_slice(extra);
    args.push(url);
    let o = Proc::new("curl").args(&args).output().expect("curl");
    assert!(o.status.success(), "curl {url}: {}", text(&o));
    let head = std::fs::read_to_string(&head).expect("headers");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("an HTTP status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&o.stdout).into_owned(),
    }
}

/// Follows redirects by hand, checking each stays under /wordpress/ on
/// this server; the last reply.
fn follow(site: &Site, url: &str, jar: &Path, extra: &[&str]) -> Reply {
    let origin = format!("http://127.0.0.1:{}", site.http_port);
    let mut url = url.to_string();
    let mut reply = http(&url, jar, extra);
    for _ in 0..10 {
        if !(300..400).contains(&reply.status) {
            return reply;
        }
        let loc = reply.header("location").expect("a redirect has a Location");
        let next = if loc.starts_with('/') {
            format!("{origin}{loc}")
        } else {
            loc.to_string()
        };
        assert!(
            next.starts_with(&site.base()),
            "{url} redirected to {loc}, outside {}",
            site.base()
        );
        url = next;
        reply = http(&url, jar, &[]);
    }
    panic!("more than 10 redirects from {url}");
}

/// Polls `url` until its body holds `needle`.
fn wait_for(url: &str, jar: &Path, needle: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let r = http(url, jar, &[]);
        if r.body.contains(needle) {
            return r.body;
        }
        assert!(
            Instant::now() < deadline,
            "{url} did not show '{needle}' within {within:?} (status {}):\n{}",
            r.status,
            r.body.chars().take(2000).collect::<String>()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A JSON string field of a small JSON text (`"link":"…"`).
fn json_field(body: &str, field: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v.get(field)?.as_str().map(str::to_string)
}

/// Installs WordPress, logs in, publishes a post; its URL.
fn install_and_post(site: &Site, jar: &Path, title: &str) -> String {
    let admin_pass = "Adm1n-pass-for-the-test";
    let r = http(
        &format!("{}wp-admin/install.php?step=2", site.base()),
        jar,
        &[
            "--data-urlencode",
            "weblog_title=Conteneur test",
            "--data-urlencode",
            "user_name=admin",
            "--data-urlencode",
            &format!("admin_password={admin_pass}"),
            "--data-urlencode",
            &format!("admin_password2={admin_pass}"),
            "--data-urlencode",
            "pw_weak=1",
            "--data-urlencode",
            "admin_email=admin@example.org",
            "--data-urlencode",
            "blog_public=0",
            "--data-urlencode",
            "Submit=Install WordPress",
            "--data-urlencode",
            "language=",
        ],
    );
    assert!(
        r.status == 200 && r.body.contains("wp-login.php"),
        "the installation did not finish ({}):\n{}",
        r.status,
        r.body.chars().take(2000).collect::<String>()
    );
    // Log in: WordPress wants its test cookie first.
    let login = format!("{}wp-login.php", site.base());
    http(&login, jar, &[]);
    let r = http(
        &login,
        jar,
        &[
            "--data-urlencode",
            "log=admin",
            "--data-urlencode",
            &format!("pwd={admin_pass}"),
            "--data-urlencode",
            "wp-submit=Log In",
            "--data-urlencode",
            "testcookie=1",
            "--data-urlencode",
            &format!("redirect_to={}wp-admin/", site.base()),
        ],
    );
    assert_eq!(r.status, 302, "login refused:\n{}", r.body);
    let dash = follow(site, &format!("{}wp-admin/", site.base()), jar, &[]);
    assert!(
        dash.status == 200 && dash.body.contains("Dashboard"),
        "the dashboard does not show ({})",
        dash.status
    );
    // Publish through the REST API with the session's nonce.
    let nonce = http(
        &format!("{}wp-admin/admin-ajax.php?action=rest-nonce", site.base()),
        jar,
        &[],
    )
    .body;
    assert!(
        nonce.len() >= 8 && nonce.chars().all(|c| c.is_ascii_alphanumeric()),
        "no REST nonce: {nonce}"
    );
    let r = http(
        &format!("{}?rest_route=/wp/v2/posts", site.base()),
        jar,
        &[
            "-H",
            &format!("X-WP-Nonce: {nonce}"),
            "--data-urlencode",
            &format!("title={title}"),
            "--data-urlencode",
            "content=Published by the end-to-end test.",
            "--data-urlencode",
            "status=publish",
        ],
    );
    assert_eq!(r.status, 201, "the post was not created:\n{}", r.body);
    let link = json_field(&r.body, "link").expect("the new post's link");
    assert!(link.starts_with(&site.base()), "{link}");
    link
}

#[test]
fn wordpress_and_mariadb_as_one_application() {
    let mut site = Site::new("wp");
    site.configure();
    let jar = site.root.path().join("cookies.txt");

    // 1. instance: the installer, every redirect under /wordpress/.
    site.ok(&["instance", "--quiet"]);
    let r = follow(&site, &site.base(), &jar, &[]);
    assert!(
        r.status == 200 && r.body.contains("install.php?step=2"),
        "the installer does not show ({}):\n{}",
        r.status,
        r.body.chars().take(2000).collect::<String>()
    );

    // 2. Installed over HTTP, logged in, a post published and readable.
    let title = format!("Hello from conteneur {}", std::process::id());
    let link = install_and_post(&site, &jar, &title);
    wait_for(&link, &jar, &title, Duration::from_secs(10));

    // 3. The database has no host port: the engine publishes none, so
    // nothing on the host answers MariaDB's protocol for it.
    let o = docker(&["port", &site.db]);
    assert!(
        o.status.success() && o.stdout.is_empty(),
        "db publishes ports: {}",
        text(&o)
    );
    let o = docker(&[
        "inspect",
        "--format",
        "{{json .HostConfig.PortBindings}}",
        &site.db,
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "{}");
    let status = site.ok(&["status"]);
    assert!(
        status
            .lines()
            .any(|l| l.starts_with(&site.db) && l.contains("healthy") && l.ends_with(" -")),
        "{status}"
    );

    // 4. A new wordpress tag replaces only wordpress; the post stays.
    let db_before = site.identity(&site.db);
    let wp_before = site.identity("wordpress");
    let wp_tag = format!("6.1-t{}", std::process::id());
    site.new_tag(WP_IMAGE, "6.1", &wp_tag);
    site.set("conteneur1_tag", &[&wp_tag]);
    let plan = site.ok(&["plan"]);
    assert!(
        plan.contains("replace  wordpress") && plan.contains(&format!("leave    {}", site.db)),
        "{plan}"
    );
    site.ok(&["reconfigure", "--quiet"]);
    assert_ne!(site.identity("wordpress").0, wp_before.0);
    assert_eq!(site.identity(&site.db), db_before);
    wait_for(&link, &jar, &title, Duration::from_secs(30));

    // 5. A new db tag replaces only db; the data is kept, wordpress
    // reconnects (by the name db has on the network).
    let wp_before = site.identity("wordpress");
    let db_tag = format!("10.11-t{}", std::process::id());
    site.new_tag(DB_IMAGE, "10.11", &db_tag);
    site.set("conteneur2_tag", &[&db_tag]);
    site.ok(&["reconfigure", "--quiet"]);
    assert_ne!(site.identity(&site.db).0, db_before.0);
    assert_eq!(site.identity("wordpress"), wp_before);
    wait_for(&link, &jar, &title, Duration::from_secs(60));

    // 6. Removed: containers and network gone, the volume kept and listed;
    // configured again, the post is back.
    assert_eq!(site.networks().len(), 1);
    site.set("nombre_conteneur", &["0"]);
    site.ok(&["reconfigure", "--quiet"]);
    assert!(!site.exists("wordpress") && !site.exists(&site.db));
    assert!(site.networks().is_empty(), "{:?}", site.networks());
    assert!(
        docker(&["volume", "inspect", &site.volume])
            .status
            .success(),
        "the volume was removed"
    );
    let status = site.ok(&["status"]);
    assert!(
        status.contains(&format!("volume {} on docker: kept", site.volume)),
        "{status}"
    );
    site.set("nombre_conteneur", &["2"]);
    site.ok(&["reconfigure", "--quiet"]);
    wait_for(&link, &jar, &title, Duration::from_secs(60));

    // 7. The secret's value is nowhere but in its files (and config.eol).
    let secret = site
        .ok(&["get", "conteneur_secret_value"])
        .trim()
        .to_string();
    assert!(secret.len() >= 16, "a generated secret: {secret}");
    let mut places: Vec<(String, String)> = Vec::new();
    for name in ["wordpress", site.db.as_str()] {
        let o = docker(&["inspect", name]);
        places.push((format!("docker inspect {name}"), text(&o)));
    }
    let json = site.ok(&["plan", "--json"]);
    places.push(("plan --json".into(), json));
    let o = site.out(&["status", "--json"]);
    places.push(("status --json".into(), text(&o)));
    for name in ["wordpress", site.db.as_str()] {
        let o = docker(&["logs", name]);
        places.push((format!("docker logs {name}"), text(&o)));
    }
    let secrets_dir = site.root.path().join("var/lib/conteneur/secrets");
    let config = site.root.path().join("etc/eole");
    let mut secret_files = 0;
    for f in files(site.root.path()) {
        let content = std::fs::read(&f).unwrap_or_default();
        let content = String::from_utf8_lossy(&content).into_owned();
        if f.starts_with(&secrets_dir) {
            // The file itself: the value, readable by its owner only.
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&f)
                .expect("secret file")
                .permissions()
                .mode();
            assert_eq!(content, secret, "{}", f.display());
            assert_eq!(mode & 0o777, 0o400, "{}", f.display());
            secret_files += 1;
        } else if f.starts_with(&config)
            && f.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("config.eol"))
        {
            // The configuration holds it, root-only, as EOLE's does.
        } else {
            places.push((f.display().to_string(), content));
        }
    }
    assert!(secret_files >= 2, "one secret file per container");
    // The compose file of the same application: compose reads it, and it
    // names the secret's file, not its value.
    let compose = site.root.path().join("compose.json");
    site.ok(&[
        "export",
        "compose",
        "--output",
        &compose.display().to_string(),
    ]);
    let o = common::run(
        "docker-compose",
        &["-f", &compose.display().to_string(), "config"],
    );
    assert!(o.status.success(), "docker-compose config: {}", text(&o));
    let exported = std::fs::read_to_string(&compose).expect("compose file");
    assert!(
        exported.contains("service_healthy") && exported.contains("/var/lib/conteneur/secrets/"),
        "{exported}"
    );
    places.push(("export compose".into(), exported));
    for (place, content) in &places {
        assert!(!content.contains(&secret), "the secret shows in {place}");
    }

    // 8. Backups. The database is saved by its dump command while
    // WordPress keeps serving (0 failed requests, each answer holding the
    // post), WordPress's uploads copied while it is paused; the database's
    // volume destroyed, the application configured again on a new empty
    // one, and restored: the post is back.
    site.set(
        "conteneur2_backup_command",
        &["mariadb-dump --all-databases --single-transaction"],
    );
    site.set("conteneur2_restore_command", &["mariadb"]);
    let addr = format!("127.0.0.1:{}", site.http_port)
        .parse()
        .expect("an address");
    let load = common::load::start(
        addr,
        "/wordpress/?rest_route=/wp/v2/posts",
        20,
        Duration::from_secs(120),
    );
    std::thread::sleep(Duration::from_millis(300));
    let said = site.ok(&["backup"]);
    let tally = load.finish();
    eprintln!(
        "requests during the backup: {} in {:.1} s, {} failed",
        tally.total,
        tally.elapsed.as_secs_f64(),
        tally.failed()
    );
    assert!(tally.total >= 3, "{tally}");
    assert_eq!(
        tally.failed(),
        0,
        "requests failed during the backup: {tally}"
    );
    assert!(
        tally.by_body.keys().all(|b| b.contains(&title)),
        "an answer without the post during the backup: {tally}"
    );
    assert!(
        said.contains(&format!(
            "{}: saved the output of its backup command",
            site.db
        )) && said.contains("wordpress: saved")
            && said.contains("copied while it was paused"),
        "{said}"
    );
    let list = site.ok(&["backup", "--list"]);
    assert_eq!(
        list.lines().filter(|l| l.contains(" ok ")).count(),
        2,
        "{list}"
    );
    // The database's volume destroyed.
    site.set("nombre_conteneur", &["0"]);
    site.ok(&["reconfigure", "--quiet"]);
    let o = docker(&["volume", "rm", &site.volume]);
    assert!(o.status.success(), "docker volume rm: {}", text(&o));
    site.set("nombre_conteneur", &["2"]);
    site.ok(&["reconfigure", "--quiet"]);
    let r = http(&link, &jar, &[]);
    assert!(
        !r.body.contains(&title),
        "the post survived the volume's removal"
    );
    let said = site.ok(&["restore", &site.db]);
    assert!(said.contains("feeding the dump to `mariadb`"), "{said}");
    wait_for(&link, &jar, &title, Duration::from_secs(60));

    // 9. A new database password: the database initialised with the old
    // one keeps it, and plan says so before anything happens (never the
    // value).
    let rotated = "a-rotated-password-4821";
    site.ok(&["set", "conteneur_secret_value", rotated]);
    let said = site.ok(&["plan"]);
    for name in [site.db.as_str(), "wordpress"] {
        let line = said
            .lines()
            .find(|l| l.starts_with("replace") && l.contains(&format!(" {name} (")))
            .unwrap_or_else(|| panic!("no replace of {name}:\n{said}"));
        assert!(
            line.contains("WARNING: secret db_password changed")
                && line.contains("a database initialised with the old value keeps it"),
            "{said}"
        );
    }
    assert!(said.contains(&site.volume), "{said}");
    assert!(!said.contains(rotated), "{said}");
}

/// Runs `set` and returns the output (a refusal is exit code 3).
fn refused(site: &Site, var: &str, values: &[&str]) -> String {
    let mut args = vec!["set", var];
    args.extend_from_slice(values);
    let o = site.out(&args);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{var} {values:?} was accepted: {}",
        text(&o)
    );
    text(&o)
}

/// Writes a value straight into config.eol, as an admin's editor would.
fn write_value(site: &Site, var: &str, values: &[&str]) {
    let path = site.root.path().join("etc/eole/config.eol");
    let text = std::fs::read_to_string(&path).expect("config.eol");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("config.eol is JSON");
    v[var] = serde_json::json!({"val": values, "owner": "test"});
    std::fs::write(&path, v.to_string()).expect("write config.eol");
}

#[test]
fn dependency_cycles_unknown_names_engines_and_secret_names_are_refused() {
    let site = Site::new("refused");
    let pid = std::process::id() % 100000;
    let (a, b) = (format!("ra{pid}"), format!("rb{pid}"));
    site.set("nombre_conteneur", &["2"]);
    for (x, n) in [(1, &a), (2, &b)] {
        site.set(&format!("conteneur{x}_name"), &[n]);
        site.set(&format!("conteneur{x}_url"), &["localhost:5000/demo/web"]);
        site.set(&format!("conteneur{x}_tag"), &["1.0"]);
    }

    // An unknown dependency: refused by set; lint and plan name it.
    let e = refused(&site, "conteneur1_depends_on", &["nosuch"]);
    assert!(
        e.contains(&format!(
            "container '{a}': conteneur1_depends_on names 'nosuch'"
        )),
        "{e}"
    );
    site.set("conteneur1_depends_on", &[&b]);
    // The cycle: refused by set, naming it.
    let e = refused(&site, "conteneur2_depends_on", &[&a]);
    assert!(
        e.contains(&format!(
            "the containers '{b}' → '{a}' → '{b}' depend on each other in a cycle"
        )) || e.contains(&format!(
            "the containers '{a}' → '{b}' → '{a}' depend on each other in a cycle"
        )),
        "{e}"
    );
    // Written by hand: lint and plan refuse it, naming the cycle.
    write_value(&site, "conteneur2_depends_on", &[&a]);
    let lint = site.out(&["lint"]);
    assert_eq!(lint.status.code(), Some(1), "{}", text(&lint));
    assert!(
        text(&lint).contains("depend on each other in a cycle"),
        "{}",
        text(&lint)
    );
    let plan = site.out(&["plan"]);
    assert!(!plan.status.success());
    assert!(
        text(&plan).contains("depend on each other in a cycle")
            && text(&plan).contains("nothing was changed"),
        "{}",
        text(&plan)
    );
    write_value(&site, "conteneur2_depends_on", &["gone"]);
    let plan = site.out(&["plan"]);
    assert!(
        text(&plan).contains(&format!(
            "container '{b}': conteneur2_depends_on names 'gone'"
        )),
        "{}",
        text(&plan)
    );
    site.ok(&["set", "conteneur2_depends_on", "--default"]);

    // A network on an engine that cannot join one.
    site.set("conteneur2_type", &["lxc"]);
    let e = refused(&site, "conteneur2_networks", &["wp"]);
    assert!(e.contains("it cannot join a private network"), "{e}");
    write_value(&site, "conteneur2_networks", &["wp"]);
    let lint = site.out(&["lint"]);
    assert!(
        text(&lint).contains(&format!(
            "container '{b}': conteneur2_networks: an LXC container has only its own loopback here"
        )),
        "{}",
        text(&lint)
    );
    let plan = site.out(&["plan"]);
    assert!(
        !plan.status.success()
            && text(&plan).contains(&format!("container '{b}': conteneur2_networks")),
        "{}",
        text(&plan)
    );

    // A secret name that is not a file name.
    for bad in ["../etc/passwd", "a/b", ".hidden", ".."] {
        let e = refused(&site, "conteneur_secret_name", &[bad]);
        assert!(e.contains("a secret name is a file name"), "{bad}: {e}");
    }

    // Under swarm (docs/swarm.md), what Swarm services do not take: lint
    // names it, set refuses it, as plan does.
    site.ok(&["set", "conteneur2_networks", "--default"]);
    site.set("conteneur2_type", &["docker"]);
    site.set("conteneur_orchestrator", &["swarm"]);
    let lint = site.out(&["lint"]);
    assert!(
        text(&lint).contains(&format!(
            "container '{a}': conteneur1_depends_on is not supported under conteneur_orchestrator swarm"
        )),
        "{}",
        text(&lint)
    );
    let e = refused(&site, "conteneur2_read_only", &["oui"]);
    assert!(
        e.contains("conteneur2_read_only is not supported under conteneur_orchestrator swarm"),
        "{e}"
    );
}

/// `docker exec` in a container; (success, output).
fn exec(name: &str, args: &[&str]) -> (bool, String) {
    let mut a = vec!["exec", name];
    a.extend_from_slice(args);
    let o = docker(&a);
    (o.status.success(), text(&o))
}

#[test]
fn process_settings_hardening_and_a_secret_for_a_numeric_user() {
    let site = Site::new("proc");
    // The site's own name: removed by its guard even when the test fails.
    let name = site.db.clone();
    let port = free_port().to_string();
    site.set("conteneur_health_timeout", &["20"]);
    site.set("conteneur_secret_name", &["token"]);
    site.set("conteneur_secret_value", &["a 'quoted' $token"]);
    site.set("nombre_conteneur", &["1"]);
    site.set("conteneur1_name", &[&name]);
    site.set("conteneur1_url", &["localhost:5000/demo/web"]);
    site.set("conteneur1_tag", &["1.0"]);
    // The command listens on 8080, not the image's 80: the route answers
    // only if the command was taken.
    site.set("conteneur1_command", &["/bin/httpd -f -p 8080 -h '/www'"]);
    site.set("conteneur1_port_in", &["8080"]);
    site.set("conteneur1_port_out", &[&port]);
    site.set("conteneur1_user", &["1234:1234"]);
    site.set("conteneur1_secrets", &["token"]);
    site.set("conteneur1_read_only", &["oui"]);
    site.set("conteneur1_tmpfs", &["/tmp"]);
    site.ok(&["instance", "--quiet"]);
    let url = format!("http://127.0.0.1:{}/{name}/", site.http_port);
    let body = common::get(&url).expect("the route answers");
    assert!(body.contains("web 1.0"), "{body}");

    // The secret: a file of the container's user, 0400, its exact value.
    let (ok, ls) = exec(&name, &["ls", "-ln", "/run/secrets/token"]);
    assert!(
        ok && ls.starts_with("-r--------") && ls.contains(" 1234 "),
        "{ls}"
    );
    let (ok, value) = exec(&name, &["cat", "/run/secrets/token"]);
    assert!(ok && value == "a 'quoted' $token", "{value}");
    let o = docker(&["exec", "-u", "4321", &name, "cat", "/run/secrets/token"]);
    assert!(
        !o.status.success(),
        "another user read the secret: {}",
        text(&o)
    );

    // Read-only root, writable tmpfs, no-new-privileges on by default.
    let (ok, _) = exec(&name, &["sh", "-c", "echo x > /www/x"]);
    assert!(!ok, "the root filesystem is writable");
    let (ok, out) = exec(&name, &["sh", "-c", "echo x > /tmp/x"]);
    assert!(ok, "/tmp is not writable: {out}");
    let security = || {
        let o = docker(&[
            "inspect",
            "--format",
            "{{json .HostConfig.SecurityOpt}}",
            &name,
        ]);
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert_eq!(security(), r#"["no-new-privileges:true"]"#);

    // Switched off: the plan says why it replaces the container.
    site.set("conteneur1_no_new_privileges", &["non"]);
    let plan = site.ok(&["plan"]);
    assert!(plan.contains("application settings changed"), "{plan}");
    site.ok(&["reconfigure", "--quiet"]);
    assert_eq!(security(), "null");
    assert!(common::get(&url).is_ok());
    // A new secret value: replaced, saying only that secrets changed.
    site.set("conteneur_secret_value", &["second"]);
    let plan = site.ok(&["plan"]);
    assert!(
        plan.contains("secrets changed") && !plan.contains("second"),
        "{plan}"
    );
    site.ok(&["reconfigure", "--quiet"]);
    assert_eq!(exec(&name, &["cat", "/run/secrets/token"]).1, "second");
    site.set("nombre_conteneur", &["0"]);
    site.ok(&["reconfigure", "--quiet"]);
}
