//! System mode: the site goes into the system nginx's `conf.d`, checked
//! within its full configuration (in a mount namespace or in place), and
//! refused when that configuration does not read it or is missing. Its own
//! file: the tests that run a fake Debian nginx (`SystemNginx`).

use std::process::Command;

use conteneur::paths::Paths;
use conteneur::proxy::{self, CheckedBy, Mode, Options, ProxyError, SystemCheck};

use super::{Backend, Route, SystemNginx, TestResult, free_port, http_get, nginx_bin, site};

/// Whether this machine lets us make a private mount namespace.
fn namespaces_available() -> bool {
    Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "true"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn system_mode_checks_the_site_within_the_full_configuration() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let beta = Backend::http("beta")?;
    let sys = SystemNginx::new(true)?;
    let http = free_port()?;
    let one = site(http, None, &[Route::http("alpha", alpha.port)]);
    let opts = Options {
        nginx: Some(nginx_bin()),
        ..Options::default()
    };
    let in_place = Options {
        system_check: SystemCheck::InPlace,
        ..opts.clone()
    };
    let expected_check = if namespaces_available() {
        CheckedBy::MountNamespace
    } else {
        CheckedBy::InPlace
    };

    // Not running yet: the site is checked and put in place, no reload.
    let staged = sys.stage(&one)?;
    let applied = proxy::apply_with(&sys.paths, Mode::System, &staged, &opts)?;
    assert_eq!(applied.checked_by, Some(expected_check));
    assert!(!applied.reloaded);
    assert_eq!(std::fs::read_to_string(sys.site())?, one);
    sys.start()?;
    let st = proxy::status(&sys.paths, Mode::System)?;
    assert_eq!(
        (st.pid, st.listen.clone()),
        (sys.pid(), vec![format!("127.0.0.1:{http}")])
    );

    // A new route: checked, swapped, reloaded.
    let two = site(
        http,
        None,
        &[
            Route::http("alpha", alpha.port),
            Route::http("beta", beta.port),
        ],
    );
    let staged = sys.stage(&two)?;
    let applied = proxy::apply_with(&sys.paths, Mode::System, &staged, &opts)?;
    assert!(applied.reloaded, "{applied:?}");
    let r = http_get(http, "/beta/")?;
    assert_eq!((r.status, r.body.contains("backend=beta")), (200, true));

    // Refused, with either way of checking: the live site is untouched and
    // the routes go on.
    let bad = two.replace(
        "server_name localhost;",
        "server_name localhost;\n    no_such_thing;",
    );
    let staged = sys.stage(&bad)?;
    for o in [&opts, &in_place] {
        let err = match proxy::apply_with(&sys.paths, Mode::System, &staged, o) {
            Err(e) => e,
            Ok(a) => return Err(format!("a broken site was applied: {a:?}").into()),
        };
        let msg = err.to_string();
        assert!(msg.contains("unknown directive \"no_such_thing\""), "{msg}");
        assert_eq!(std::fs::read_to_string(sys.site())?, two);
        let r = http_get(http, "/beta/")?;
        assert_eq!(r.status, 200);
    }
    // The in-place check applies a good site too.
    let staged = sys.stage(&one)?;
    let applied = proxy::apply_with(&sys.paths, Mode::System, &staged, &in_place)?;
    assert_eq!(applied.checked_by, Some(CheckedBy::InPlace));
    assert!(applied.reloaded);
    assert_eq!(http_get(http, "/beta/")?.status, 404);
    Ok(())
}

#[test]
fn system_mode_refuses_a_site_the_main_configuration_does_not_include() -> TestResult {
    let sys = SystemNginx::new(false)?;
    let http = free_port()?;
    let staged = sys.stage(&site(http, None, &[]))?;
    let opts = Options {
        nginx: Some(nginx_bin()),
        ..Options::default()
    };
    for check in [SystemCheck::Auto, SystemCheck::InPlace] {
        let o = Options {
            system_check: check,
            ..opts.clone()
        };
        let err = match proxy::apply_with(&sys.paths, Mode::System, &staged, &o) {
            Err(e) => e,
            Ok(a) => return Err(format!("an unread site was applied: {a:?}").into()),
        };
        assert!(matches!(err, ProxyError::NotIncluded { .. }), "{err:?}");
        assert!(!sys.site().exists(), "no file is left behind");
    }
    Ok(())
}

#[test]
fn system_mode_without_nginx_under_the_root_says_so() -> TestResult {
    let root = tempfile::tempdir()?;
    let paths = Paths::new(root.path());
    let staged = proxy::staged_site(&paths);
    if let Some(d) = staged.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(&staged, site(free_port()?, None, &[]))?;
    let err = match proxy::apply(&paths, Mode::System, &staged) {
        Err(e) => e,
        Ok(a) => return Err(format!("applied without any nginx: {a:?}").into()),
    };
    assert!(matches!(err, ProxyError::NoMainConf { .. }), "{err:?}");
    assert!(err.to_string().contains("conteneur_proxy_mode"), "{err}");
    assert!(
        !root.path().join("etc").exists(),
        "nothing is made under the root"
    );
    Ok(())
}
