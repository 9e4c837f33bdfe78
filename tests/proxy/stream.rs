//! The files beside the site: the backends (`conteneur-upstreams.conf`)
//! and the port_out forwards (the stream file). Its own file: switching an
//! instance's backend in one reload, and a site from before these files.

use conteneur::proxy::{self, Mode, Options};

use super::{
    Backend, Front, Route, SystemNginx, TestResult, eventually, free_port, http_get, nginx_bin,
    site,
};

#[test]
fn system_mode_forwards_port_out_and_switches_backends_in_one_reload() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let beta = Backend::http("beta")?;
    let (http, out) = (free_port()?, free_port()?);
    let route = Route::http("alpha", alpha.port);
    // The rendered site names its backend, as the template does.
    let text = site(http, None, &[route]).replace(
        &format!("http://127.0.0.1:{}/", alpha.port),
        &format!("http://conteneur_alpha_{out}/"),
    );
    let routes = |host: u16| proxy::Routes {
        forwards: vec![proxy::Forward {
            name: "alpha".into(),
            out,
            listen: "127.0.0.1".into(),
            host,
        }],
    };
    let opts = |host: u16| Options {
        nginx: Some(nginx_bin()),
        routes: Some(routes(host)),
        ..Options::default()
    };

    // Debian's layout: the backends beside the site in conf.d, the stream
    // forwards in modules-enabled.
    let sys = SystemNginx::with(true, true)?;
    let staged = sys.stage(&text)?;
    proxy::apply_with(&sys.paths, Mode::System, &staged, &opts(alpha.port))?;
    let r = sys.root.path();
    let upstreams = std::fs::read_to_string(r.join("etc/nginx/conf.d/conteneur-upstreams.conf"))?;
    assert!(
        upstreams.contains(&format!("server 127.0.0.1:{};", alpha.port)),
        "{upstreams}"
    );
    let stream =
        std::fs::read_to_string(r.join("etc/nginx/modules-enabled/60-conteneur-stream.conf"))?;
    assert!(
        stream.contains(&format!("listen 127.0.0.1:{out};")),
        "{stream}"
    );
    sys.start()?;
    assert!(http_get(http, "/alpha/")?.body.contains("backend=alpha"));
    assert!(http_get(out, "/")?.body.contains("backend=alpha"));

    // The switch: the same site, another instance behind both.
    let applied = proxy::apply_with(&sys.paths, Mode::System, &staged, &opts(beta.port))?;
    assert!(applied.reloaded, "{applied:?}");
    assert_eq!(
        std::fs::read_to_string(sys.site())?,
        text,
        "the site itself is unchanged"
    );
    eventually("the route on the new backend", || {
        http_get(http, "/alpha/").is_ok_and(|r| r.body.contains("backend=beta"))
    })?;
    eventually("port_out on the new backend", || {
        http_get(out, "/").is_ok_and(|r| r.body.contains("backend=beta"))
    })?;

    // A main configuration without modules-enabled: refused before any
    // change, naming the stream file.
    let bare = SystemNginx::with(true, false)?;
    let staged = bare.stage(&text)?;
    let err = match proxy::apply_with(&bare.paths, Mode::System, &staged, &opts(alpha.port)) {
        Err(e) => e.to_string(),
        Ok(a) => return Err(format!("applied without a stream include: {a:?}").into()),
    };
    assert!(
        err.contains("60-conteneur-stream.conf") || err.contains("stream"),
        "{err}"
    );
    assert!(!bare.site().exists(), "nothing was put in place: {err}");
    Ok(())
}

#[test]
fn a_private_site_from_before_the_backend_files_starts_again() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let front = Front::new()?;
    let http = free_port()?;
    let route = Route::http("alpha", alpha.port);
    let text = site(http, None, &[route]);
    front.publish(&text)?;
    // As an older conteneur left it: the live site, no backends nor
    // stream file beside it.
    let layout = proxy::Layout::new(&front.paths, Mode::Private);
    std::fs::remove_file(&layout.upstreams)?;
    std::fs::remove_file(&layout.stream)?;
    front.start()?;
    assert!(layout.upstreams.exists() && layout.stream.exists());
    assert!(http_get(http, "/alpha/")?.body.contains("backend=alpha"));
    Ok(())
}
