//! `conteneur proxy start|status|apply|stop` run as a user would, against
//! a private nginx: exit codes and messages. Its own file: the command line
//! over the library calls the other modules test.

use std::path::Path;
use std::process::Command;

use super::{Backend, Front, Route, TestResult, free_port, http_get, nginx_bin, site};

// --- the command line ----------------------------------------------------------

fn conteneur(root: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_conteneur"));
    c.arg("--root")
        .arg(root)
        .arg("--dicos")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("dicos"))
        .args(args)
        .env_remove("CONTENEUR_ROOT")
        .env("CONTENEUR_NGINX", nginx_bin());
    c
}

fn run(mut c: Command) -> Result<(i32, String, String), Box<dyn std::error::Error>> {
    let out = c.output()?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[test]
fn cli_proxy_start_status_apply_stop() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let front = Front::new()?;
    let root = front.root.path();
    let http = free_port()?;
    let good = site(http, None, &[Route::http("alpha", alpha.port)]);
    // The mode comes from the dictionary variable…
    let (code, _, err) = run(conteneur(root, &["set", "conteneur_proxy_mode", "private"]))?;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(conteneur(root, &["set", "conteneur_proxy_mode", "nginx"]))?;
    assert_eq!(code, 3, "only system or private: {err}");

    let (code, out, _) = run(conteneur(root, &["proxy", "status"]))?;
    assert_eq!(code, 1, "not running: {out}");
    assert!(out.contains("private nginx: not running"), "{out}");
    let (code, _, err) = run(conteneur(root, &["proxy", "start"]))?;
    assert_eq!(code, 5, "no site yet: {err}");
    assert!(err.contains("no nginx site to serve"), "{err}");

    front.stage(&good)?;
    let (code, out, err) = run(conteneur(root, &["proxy", "start"]))?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("private nginx: running (pid "), "{out}");
    let (code, out, _) = run(conteneur(root, &["proxy", "status"]))?;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("listens on: 127.0.0.1:{http}")),
        "{out}"
    );
    assert!(
        out.contains(&front.live_site().display().to_string()),
        "{out}"
    );
    assert_eq!(http_get(http, "/alpha/")?.status, 200);

    // A refused site: exit 6, nginx's words, the old route serving.
    front.stage(&good.replace("proxy_http_version 1.1;", "proxy_http_version 7;"))?;
    let (code, _, err) = run(conteneur(root, &["proxy", "apply"]))?;
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("nginx: [emerg]"), "{err}");
    assert_eq!(http_get(http, "/alpha/")?.status, 200);
    front.stage(&good)?;
    let (code, out, err) = run(conteneur(root, &["proxy", "apply"]))?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("unchanged; nginx not reloaded"), "{out}");

    // … and --mode overrides it: system mode does not start or stop nginx.
    let (code, _, err) = run(conteneur(root, &["proxy", "--mode", "system", "stop"]))?;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("private nginx only"), "{err}");

    let (code, out, err) = run(conteneur(root, &["proxy", "stop"]))?;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("private nginx stopped (pid "), "{out}");
    let (code, _, _) = run(conteneur(root, &["proxy", "status"]))?;
    assert_eq!(code, 1);
    let (code, out, _) = run(conteneur(root, &["proxy", "stop"]))?;
    assert_eq!((code, out.trim()), (0, "private nginx was not running"));
    Ok(())
}
