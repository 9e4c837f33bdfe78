//! A git token in `conteneurX_repository` (`http://user:TOKEN@host/…`)
//! never shows, on the real engine, registry and nginx: not in `plan`,
//! `plan --json`, `status --json`, the run's output, an error message,
//! the container's and image's labels, any file conteneur writes
//! (config.eol aside, which holds it), nor in any process's command line
//! while git fetches (docs/security.md, "Credentials in URLs").
//!
//! The repository is served over HTTP on 127.0.0.1 by a small server of the
//! test's own that asks for basic authentication and serves a bare
//! repository's files (git's "dumb" HTTP protocol, after `git
//! update-server-info`): the real git client speaks to it, asks for
//! credentials on 401 and sends them, as with any HTTP git host.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command as Proc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use common::site::Site;
use common::{docker, free_port, text};

/// Serves the files under `dir` to requests with basic credentials
/// `user:password`; 401 to others. Counts the requests it let in.
struct GitHttp {
    port: u16,
    allowed: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
}

fn answer(mut s: TcpStream, dir: &Path, auth: &str, allowed: &AtomicUsize, refused: &AtomicUsize) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut authorized = false;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
            && value.trim() == auth
        {
            authorized = true;
        }
    }
    if !authorized {
        refused.fetch_add(1, Ordering::SeqCst);
        let _ = s.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
              Content-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    allowed.fetch_add(1, Ordering::SeqCst);
    let rel = path.split('?').next().unwrap_or("").trim_start_matches('/');
    let file = dir.join(rel);
    match (rel.contains(".."), std::fs::read(&file)) {
        (false, Ok(body)) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
        _ => {
            let _ = s.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    }
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
}

impl GitHttp {
    fn start(dir: PathBuf, user: &str, password: &str) -> GitHttp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        let (allowed, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (a, r) = (allowed.clone(), refused.clone());
        // Lives as long as the test's process (it ends with it).
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                answer(s, &dir, &auth, &a, &r);
            }
        });
        GitHttp {
            port,
            allowed,
            refused,
        }
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Proc::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
}

/// A bare repository `repo.git` under `top` with a Dockerfile serving
/// `page`, tagged v1, ready for dumb HTTP.
fn repository(top: &Path, page: &str) {
    let work = top.join("work");
    std::fs::create_dir_all(work.join("www")).unwrap();
    std::fs::copy("/bin/busybox", work.join("busybox"))
        .expect("/bin/busybox (busybox-static) is needed");
    std::fs::write(
        work.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nEXPOSE 80\n\
         CMD [\"/bin/busybox\", \"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n",
    )
    .unwrap();
    std::fs::write(work.join("www/index.html"), format!("{page}\n")).unwrap();
    git(&work, &["init", "--quiet", "--initial-branch=main"]);
    git(&work, &["config", "user.email", "test@conteneur.invalid"]);
    git(&work, &["config", "user.name", "test"]);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "--quiet", "-m", page]);
    git(&work, &["tag", "-a", "v1", "-m", page]);
    git(top, &["clone", "--quiet", "--bare", "work", "repo.git"]);
    git(&top.join("repo.git"), &["update-server-info"]);
}

/// The command lines of every process now, one string each.
fn command_lines() -> Vec<String> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .collect()
}

/// Every file under `dir` whose content holds `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    common::files(dir)
        .into_iter()
        .filter(|f| {
            std::fs::read(f)
                .map(|b| String::from_utf8_lossy(&b).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn a_git_token_never_shows() {
    let site = Site::new("cred");
    let top = tempfile::tempdir().unwrap();
    repository(top.path(), "private v1");
    let token = format!("TOKsecret{}x", std::process::id());
    let server = GitHttp::start(top.path().to_path_buf(), "deploy", &token);
    let public = format!("http://127.0.0.1:{}/repo.git", server.port);
    let url = format!("http://deploy:{token}@127.0.0.1:{}/repo.git", server.port);
    let image = format!("conteneur-test/{}-site", site.tag);
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "site", "web", "1.0", free_port());
    site.set("conteneur1_type", &["docker+git"]);
    site.set("conteneur1_url", &[&image]);
    site.set("conteneur1_tag", &["v1"]);
    site.set("conteneur1_repository", &[&url]);
    let cleanup = || {
        docker(&["rmi", "-f", &format!("{image}:v1")]);
    };

    // Every command line, while the run fetches and builds.
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<(usize, Vec<String>)>> = Arc::default();
    let watcher = {
        let (stop, seen, token, port) = (stop.clone(), seen.clone(), token.clone(), server.port);
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                for line in command_lines() {
                    let mut s = seen.lock().unwrap();
                    if line.contains(&token) {
                        s.1.push(line.clone());
                    }
                    if line.contains("git") && line.contains(&format!("127.0.0.1:{port}")) {
                        s.0 += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let mut outputs = Vec::new();
    for args in [&["plan"][..], &["plan", "--json"]] {
        let out = site.cmd(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        outputs.push((format!("{args:?}"), text(&out)));
    }
    assert!(outputs[0].1.contains(&public), "{}", outputs[0].1);
    let out = site.run("instance");
    outputs.push(("instance".into(), text(&out)));
    stop.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    if !out.status.success() {
        cleanup();
        panic!("instance: {}", text(&out));
    }
    assert_eq!(common::get(&site.url("site")).unwrap().trim(), "private v1");
    let (gits, leaks) = seen.lock().unwrap().clone();
    assert!(gits > 0, "no git command was seen while it fetched");
    assert!(leaks.is_empty(), "the token in a command line: {leaks:?}");
    assert!(server.allowed.load(Ordering::SeqCst) > 0 && server.refused.load(Ordering::SeqCst) > 0);

    for args in [&["status"][..], &["status", "--json"], &["plan", "--json"]] {
        let out = site.cmd(args).output().unwrap();
        outputs.push((format!("{args:?}"), text(&out)));
    }
    // Errors: a tag the repository does not have, then a wrong token.
    site.set("conteneur1_tag", &["v9"]);
    let out = site.cmd(&["plan"]).output().unwrap();
    assert!(
        !out.status.success() && text(&out).contains(&public),
        "{}",
        text(&out)
    );
    outputs.push(("plan v9".into(), text(&out)));
    site.set("conteneur1_tag", &["v1"]);
    let wrong = url.replace(&token, &format!("{token}WRONG"));
    site.set("conteneur1_repository", &[&wrong]);
    let out = site.run("reconfigure");
    outputs.push(("reconfigure, wrong token".into(), text(&out)));
    site.set("conteneur1_repository", &[&url]);
    // A value the dictionary refuses names the URL without its token.
    let out = site
        .cmd(&["set", "conteneur1_repository", &format!("{url} x")])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    outputs.push(("set".into(), text(&out)));

    let mut leaks: Vec<String> = outputs
        .iter()
        .filter(|(_, o)| o.contains(&token))
        .map(|(what, o)| format!("{what}: {o}"))
        .collect();
    // Labels of the container and of the image it was built into.
    for what in [site.name("site"), format!("{image}:v1")] {
        let out = docker(&["inspect", &what]);
        assert!(out.status.success(), "{what}");
        let inspected = text(&out);
        if inspected.contains(&token) {
            leaks.push(format!("docker inspect {what}"));
        }
        assert!(inspected.contains(&public), "{inspected}");
    }
    // Every file under the root but config.eol (and its backup), which
    // holds the configuration.
    for f in files_holding(site.root.path(), &token) {
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if !name.starts_with("config.eol") {
            leaks.push(format!("file {}", f.display()));
        }
    }
    let vars = site.path("etc/eole/conteneur-vars.conf");
    assert!(
        std::fs::read_to_string(&vars)
            .unwrap()
            .contains(&format!("conteneur1_repository='{public}'")),
        "{}",
        vars.display()
    );
    cleanup();
    assert!(leaks.is_empty(), "the token shows in: {leaks:#?}");
}
