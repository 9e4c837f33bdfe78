//! Applying a site to a running private nginx: a new route reloads it, an
//! unchanged site does not, and a site or a reload nginx refuses leaves the
//! old routes serving (probed all along). Its own file: the apply path and
//! its failures, apart from what a site answers.

use std::net::TcpListener;

use conteneur::proxy::ProxyError;

use super::{Backend, Front, Prober, Route, TestResult, eventually, free_port, http_get, site};

#[test]
fn a_site_nginx_refuses_leaves_the_old_routes_serving() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let front = Front::new()?;
    let http = free_port()?;
    let good = site(http, None, &[Route::http("alpha", alpha.port)]);
    front.publish(&good)?;
    front.start()?;
    let live_before = std::fs::read(front.live_site())?;

    let prober = Prober::start(http, "/alpha/", "backend=alpha");
    eventually("a first answer through nginx", || prober.ok() > 0)?;
    // An unknown directive: `nginx -t` refuses the site.
    let bad = good.replace(
        "proxy_http_version 1.1;",
        "proxy_http_version 1.1;\n        bogus_directive on;",
    );
    for _ in 0..5 {
        let before = prober.ok();
        let err = match front.publish(&bad) {
            Err(e) => e,
            Ok(a) => return Err(format!("a broken site was applied: {a:?}").into()),
        };
        assert!(matches!(err, ProxyError::Invalid { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("unknown directive \"bogus_directive\""),
            "nginx's own message is quoted: {msg}"
        );
        assert!(
            msg.contains(&front.staged().display().to_string()),
            "the message names the file: {msg}"
        );
        assert_eq!(std::fs::read(front.live_site())?, live_before);
        eventually("more answers while applying", || prober.ok() > before)?;
    }
    let (ok, bad_answers, last) = prober.finish();
    assert!(ok > 5, "only {ok} answers during the failed applies");
    assert_eq!(
        bad_answers, 0,
        "failed answers during the applies; last: {last}"
    );
    // After: still served, still the same site, no reload happened.
    let r = http_get(http, "/alpha/")?;
    assert_eq!((r.status, r.body.contains("backend=alpha")), (200, true));
    assert_eq!(std::fs::read(front.live_site())?, live_before);
    assert_eq!(front.error_log().matches("reconfiguring").count(), 0);
    Ok(())
}

#[test]
fn a_reload_nginx_refuses_restores_the_previous_site() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let beta = Backend::http("beta")?;
    let front = Front::new()?;
    let http = free_port()?;
    let first = site(http, None, &[Route::http("alpha", alpha.port)]);
    front.publish(&first)?;
    front.start()?;
    let live_before = std::fs::read(front.live_site())?;
    // `nginx -t` does not bind ports: a second server on a port another
    // program holds passes the check and fails only at reload.
    let taken = TcpListener::bind("127.0.0.1:0")?;
    let taken_port = taken.local_addr()?.port();
    let second = format!(
        "{}server {{\n    listen 127.0.0.1:{taken_port};\n    location /beta/ {{ proxy_pass http://127.0.0.1:{}/; }}\n}}\n",
        first, beta.port
    );
    let prober = Prober::start(http, "/alpha/", "backend=alpha");
    eventually("a first answer through nginx", || prober.ok() > 0)?;
    let err = match front.publish(&second) {
        Err(e) => e,
        Ok(a) => return Err(format!("the reload should have failed: {a:?}").into()),
    };
    let (ok, bad, last) = prober.finish();
    assert!(matches!(err, ProxyError::Reload { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("bind() to 127.0.0.1:{taken_port} failed"))
            && msg.contains("Address already in use"),
        "nginx's own message is quoted: {msg}"
    );
    assert!(ok > 0);
    assert_eq!(bad, 0, "failed answers during the reload; last: {last}");
    assert_eq!(std::fs::read(front.live_site())?, live_before);
    let r = http_get(http, "/alpha/")?;
    assert_eq!((r.status, r.body.contains("backend=alpha")), (200, true));
    drop(taken);
    // The same site applies once the port is free: the live file was put
    // back, so it counts as a change again.
    let applied = front.publish(&second)?;
    assert!(applied.reloaded, "{applied:?}");
    let r = http_get(taken_port, "/beta/")?;
    assert_eq!((r.status, r.body.contains("backend=beta")), (200, true));
    Ok(())
}

#[test]
fn new_routes_reload_and_an_unchanged_site_does_not() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let beta = Backend::http("beta")?;
    let front = Front::new()?;
    let http = free_port()?;
    let a = Route::http("alpha", alpha.port);
    let b = Route::http("beta", beta.port);
    let one = site(http, None, &[a]);
    front.publish(&one)?;
    let pid = front.start()?.pid;
    assert_eq!(http_get(http, "/beta/")?.status, 404);

    let a = Route::http("alpha", alpha.port);
    let two = site(http, None, &[a, b]);
    let applied = front.publish(&two)?;
    assert!(
        applied.reloaded && applied.changed == vec![front.live_site()],
        "{applied:?}"
    );
    assert_eq!(applied.pid, pid, "a reload keeps the master");
    let r = http_get(http, "/beta/")?;
    assert_eq!((r.status, r.body.contains("backend=beta")), (200, true));
    let reloads = front.error_log().matches("signal 1 (SIGHUP)").count();
    assert_eq!(reloads, 1);

    let again = front.publish(&two)?;
    assert!(again.unchanged() && !again.reloaded, "{again:?}");
    assert_eq!(front.error_log().matches("signal 1 (SIGHUP)").count(), 1);
    // start is idempotent.
    assert_eq!(front.start()?.pid, pid);
    Ok(())
}

#[test]
fn start_without_any_site_says_what_to_do() -> TestResult {
    let front = Front::new()?;
    let err = match front.start() {
        Err(e) => e,
        Ok(st) => return Err(format!("started without a site: {st}").into()),
    };
    assert!(matches!(err, ProxyError::NoSite { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&front.staged().display().to_string())
    );
    Ok(())
}
