//! Orphaned nginx workers, left serving when their master was SIGKILLed:
//! the private nginx's are named then ended by the next start, the system
//! nginx's are named with what the admin should do, never ended. Its own
//! file: both modes meet the same failure, with different answers.

use std::path::Path;
use std::process::Command;

use conteneur::proxy::{self, Mode, Options};

use super::{
    Backend, Front, Route, SystemNginx, TestResult, eventually, free_port, http_get, nginx_bin,
    site,
};

/// Kills the processes it holds when dropped (an orphan the test made, if
/// the code under test did not end it).
struct KillOnDrop(Vec<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

#[test]
fn an_orphaned_worker_of_a_sigkilled_master_is_named_then_ended() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let beta = Backend::http("beta")?;
    let front = Front::new()?;
    let http = free_port()?;
    front.publish(&site(http, None, &[Route::http("alpha", alpha.port)]))?;
    let master = front.start()?.pid.ok_or("no master")?;
    eventually("the first workers", || {
        proxy::status(&front.paths, Mode::Private).is_ok_and(|s| s.orphans.is_empty())
    })?;
    let status = Command::new("kill")
        .args(["-9", &master.to_string()])
        .status()?;
    assert!(status.success());
    // Its worker lives on, holds the port and serves the old route.
    eventually("the master to go", || {
        proxy::status(&front.paths, Mode::Private).is_ok_and(|s| s.pid.is_none())
    })?;
    let st = proxy::status(&front.paths, Mode::Private)?;
    let _guard = KillOnDrop(st.orphans.iter().map(|o| o.pid).collect());
    assert!(!st.orphans.is_empty(), "{st}");
    let text = st.to_string();
    assert!(
        text.contains(&format!("pid {}", st.orphans[0].pid))
            && text.contains(&format!("port {http}"))
            && text.contains("orphaned nginx process"),
        "{text}"
    );
    assert_eq!(http_get(http, "/alpha/")?.status, 200);

    // The next run (apply, then start) ends it and serves the new routes.
    front.publish(&site(http, None, &[Route::http("beta", beta.port)]))?;
    let started = front.start()?;
    assert!(
        started.pid.is_some() && started.orphans.is_empty(),
        "{started}"
    );
    for o in &st.orphans {
        // Gone, or a zombie its new parent has not reaped yet.
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", o.pid)).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .map(|(_, r)| r.trim_start().chars().next());
        assert!(
            matches!(state, None | Some(Some('Z' | 'X'))),
            "orphan {} still there: {stat}",
            o.pid
        );
    }
    let r = http_get(http, "/beta/")?;
    assert_eq!((r.status, r.body.contains("backend=beta")), (200, true));
    assert_eq!(http_get(http, "/alpha/")?.status, 404);
    Ok(())
}

#[test]
fn the_system_nginx_s_orphan_is_named_with_what_to_do() -> TestResult {
    let alpha = Backend::http("alpha")?;
    let sys = SystemNginx::new(true)?;
    let http = free_port()?;
    let opts = Options {
        nginx: Some(nginx_bin()),
        ..Options::default()
    };
    let one = site(http, None, &[Route::http("alpha", alpha.port)]);
    proxy::apply_with(&sys.paths, Mode::System, &sys.stage(&one)?, &opts)?;
    sys.start()?;
    let master = sys.pid().ok_or("no master")?;
    eventually("the workers", || {
        proxy::status(&sys.paths, Mode::System).is_ok_and(|s| s.running())
    })?;
    Command::new("kill")
        .args(["-9", &master.to_string()])
        .status()?;
    eventually("the master to go", || {
        proxy::status(&sys.paths, Mode::System).is_ok_and(|s| !s.running())
    })?;
    let st = proxy::status(&sys.paths, Mode::System)?;
    let _guard = KillOnDrop(st.orphans.iter().map(|o| o.pid).collect());
    assert!(!st.orphans.is_empty(), "{st}");
    // conteneur does not end the system nginx's processes: it says what to do,
    // and changes nothing.
    let two = site(http, None, &[]);
    let err = match proxy::apply_with(&sys.paths, Mode::System, &sys.stage(&two)?, &opts) {
        Err(e) => e.to_string(),
        Ok(a) => return Err(format!("applied despite the orphan: {a:?}").into()),
    };
    assert!(
        err.contains(&format!("pid {}", st.orphans[0].pid))
            && err.contains(&format!("port {http}"))
            && err.contains("systemctl restart nginx"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(sys.site())?, one);
    assert!(
        Path::new(&format!("/proc/{}/stat", st.orphans[0].pid)).exists(),
        "the system nginx's process was ended"
    );
    Ok(())
}
