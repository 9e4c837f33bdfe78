//! The routes a site gives through the private nginx, over http, https and
//! websocket: once with a site written by hand in the templates' shape,
//! once with the real template rendered by `conteneur render`. Its own file
//! because both check the same routes (`assert_alpha_beta_chat_routes`).

use std::path::Path;
use std::process::Command;

use conteneur::proxy::{self, CheckedBy, Mode};

use super::{
    Backend, Front, Route, TestResult, Tls, eventually, free_port, http_get, https, self_signed,
    site, websocket_round_trip,
};

#[test]
fn routes_answer_over_http_https_and_websocket() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let beta = Backend::http("beta")?;
    let chat = Backend::websocket("chat")?;
    let front = Front::new()?;
    let (cert, key) = self_signed(front.root.path())?;
    let http = free_port()?;
    let tls = Tls {
        port: free_port()?,
        cert,
        key,
    };
    let routes = [
        Route::http("alpha", alpha.port),
        Route::http("beta", beta.port),
        Route {
            name: "chat",
            port: chat.port,
            websocket: true,
        },
    ];
    let applied = front.publish(&site(http, Some(&tls), &routes))?;
    assert_eq!(applied.checked_by, Some(CheckedBy::GeneratedMain));
    assert!(!applied.reloaded, "nothing ran yet, nothing to reload");
    let st = front.start()?;
    assert!(st.running(), "{st}");
    assert_eq!(
        st.listen,
        vec![
            format!("127.0.0.1:{http}"),
            format!("127.0.0.1:{} ssl", tls.port)
        ]
    );

    assert_alpha_beta_chat_routes(http, tls.port)?;
    // Large bodies both ways: nginx's workers (nobody, when root started
    // it) can write their temporary files.
    let r = http_get(http, "/alpha/big")?;
    assert_eq!((r.status, r.body.len()), (200, 1 << 20));
    let upload = front.root.path().join("upload.bin");
    std::fs::write(&upload, vec![b'y'; 3 << 20])?;
    let (code, body) =
        https(tls.port, "/beta/upload", Some(&upload)).map(|(c, b)| (c, b.trim().to_string()))?;
    assert_eq!((code, body.as_str()), (200, "beta got 3145728 bytes"));

    // Stop: nothing listens any more.
    let pid = proxy::stop_with(&front.paths, &front.opts)?;
    assert_eq!(pid, st.pid);
    assert!(!proxy::status(&front.paths, Mode::Private)?.running());
    assert!(http_get(http, "/alpha/").is_err());
    assert_eq!(proxy::stop_with(&front.paths, &front.opts)?, None);
    Ok(())
}

// --- the real template, rendered by conteneur ------------------------------------

/// `conteneur --root ROOT ARGS`, asserting success.
fn conteneur_ok(root: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_conteneur"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("CONTENEUR_ROOT")
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "conteneur {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The whole web front as `instance` builds it: our dictionary and our
/// nginx template (installed where EOLE puts them), values set with
/// `conteneur set`, the site rendered by `conteneur render`, published and
/// served by the private nginx, in front of two HTTP backends and a
/// websocket one — over http and https.
#[test]
fn the_rendered_site_answers_over_http_https_and_websocket() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let beta = Backend::http("beta")?;
    let chat = Backend::websocket("chat")?;
    let front = Front::new()?;
    let root = front.root.path();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (from, to) in [
        ("dicos", "usr/share/eole/creole/dicos"),
        ("templates", "usr/share/eole/creole/distrib"),
    ] {
        let dest = root.join(to);
        std::fs::create_dir_all(&dest)?;
        for e in std::fs::read_dir(repo.join(from))? {
            let p = e?.path();
            if let Some(name) = p.file_name().filter(|_| p.is_file()) {
                std::fs::copy(&p, dest.join(name))?;
            }
        }
    }
    let (cert, key) = self_signed(root)?;
    let (http, https_port) = (free_port()?, free_port()?);
    let sets: Vec<(&str, Vec<String>)> = vec![
        ("conteneur_proxy_mode", vec!["private".into()]),
        ("conteneur_proxy_listen", vec!["127.0.0.1".into()]),
        ("conteneur_http_port", vec![http.to_string()]),
        ("conteneur_https", vec!["oui".into()]),
        ("conteneur_https_port", vec![https_port.to_string()]),
        ("conteneur_cert_file", vec![cert.display().to_string()]),
        ("conteneur_key_file", vec![key.display().to_string()]),
        ("nombre_conteneur", vec!["3".into()]),
        ("conteneur1_name", vec!["alpha".into()]),
        ("conteneur1_url", vec!["localhost:5000/demo/web".into()]),
        ("conteneur1_port_in", vec!["80".into()]),
        ("conteneur1_port_out", vec![alpha.port.to_string()]),
        ("conteneur2_name", vec!["beta".into()]),
        ("conteneur2_url", vec!["localhost:5000/demo/web".into()]),
        ("conteneur2_port_in", vec!["80".into()]),
        ("conteneur2_port_out", vec![beta.port.to_string()]),
        ("conteneur3_name", vec!["chat".into()]),
        ("conteneur3_url", vec!["localhost:5000/demo/web".into()]),
        ("conteneur3_port_in", vec!["80".into()]),
        ("conteneur3_port_out", vec![chat.port.to_string()]),
        ("conteneur3_websocket", vec!["oui".into()]),
    ];
    for (var, values) in &sets {
        let mut args = vec!["set", var];
        args.extend(values.iter().map(String::as_str));
        conteneur_ok(root, &args)?;
    }
    conteneur_ok(root, &["render"])?;
    let staged = proxy::staged_site(&front.paths);
    assert!(staged.exists(), "render did not write the staged site");
    proxy::apply_with(&front.paths, Mode::Private, &staged, &front.opts)?;
    let st = front.start()?;
    assert!(st.running(), "{st}");

    assert_alpha_beta_chat_routes(http, https_port)?;
    // An unpublished container has no route.
    conteneur_ok(root, &["set", "conteneur2_publish", "non"])?;
    conteneur_ok(root, &["render"])?;
    proxy::apply_with(&front.paths, Mode::Private, &staged, &front.opts)?;
    eventually("beta's route to go", || {
        http_get(http, "/beta/")
            .map(|r| r.status == 404)
            .unwrap_or(false)
    })?;
    assert_eq!(http_get(http, "/alpha/")?.status, 200);
    Ok(())
}

/// The routes both sites (hand-written and rendered) must give, with the
/// backends alpha and beta (http) and chat (websocket): `/NAME/` over http
/// and https with the prefix stripped, a websocket round trip, `/NAME` →
/// `/NAME/`, and a backend's relative redirect kept under `/NAME/`.
fn assert_alpha_beta_chat_routes(http: u16, https_port: u16) -> TestResult {
    for name in ["alpha", "beta"] {
        let r = http_get(http, &format!("/{name}/some/page"))?;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(
            r.body,
            format!("backend={name} path=/some/page prefix=/{name} proto=http\n")
        );
        let (code, body) = https(https_port, &format!("/{name}/"), None)?;
        assert_eq!(code, 200, "{body}");
        assert_eq!(
            body,
            format!("backend={name} path=/ prefix=/{name} proto=https\n")
        );
    }
    assert_eq!(
        websocket_round_trip(http, "/chat/", "bonjour")?,
        "chat echoes bonjour"
    );
    let r = http_get(http, "/alpha")?;
    assert_eq!(r.status, 301, "{r:?}");
    let loc = r.headers.get("location").cloned().unwrap_or_default();
    assert!(loc.ends_with("/alpha/"), "Location: {loc}");
    let r = http_get(http, "/beta/redirect")?;
    assert_eq!(r.status, 302, "{r:?}");
    let loc = r.headers.get("location").cloned().unwrap_or_default();
    assert!(
        loc == "/beta/login" || loc.ends_with(&format!("127.0.0.1:{http}/beta/login")),
        "Location: {loc}"
    );
    Ok(())
}
