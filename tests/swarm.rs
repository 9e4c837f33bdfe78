//! `conteneur_orchestrator` = swarm, end to end, against engines of the
//! test's own in network namespaces of the test's own (tests/swarm_harness
//! says why), with the real binary, the real nginx and HTTP to 127.0.0.1
//! of the namespace. They need root, dockerd, nsenter and ip, and fail
//! (never skip) without them.

mod common;
mod swarm_harness;

use std::time::Duration;

use swarm_harness::{Load, Site, Swarm, get_in};

fn out_text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The time of day of an engine timestamp (`2026-12-01 10:05:12.1234 +0000
/// UTC` or RFC 3339), in seconds.
fn seconds_of_day(t: &str) -> f64 {
    let time = t
        .split(['T', ' '])
        .nth(1)
        .unwrap_or_default()
        .trim_end_matches('Z');
    let mut parts = time.split(':');
    let mut n = |scale: f64| -> f64 {
        parts
            .next()
            .and_then(|p| p.parse::<f64>().ok())
            .unwrap_or(0.0)
            * scale
    };
    n(3600.0) + n(60.0) + n(1.0)
}

/// The status lines of service `name` (its line and its node lines).
fn status_of(site: &Site, name: &str) -> String {
    let st = out_text(&site.cmd(&["status"]));
    let mut out = Vec::new();
    let mut inside = false;
    for l in st.lines() {
        if l.starts_with("  ") && !l.starts_with("    ") {
            inside = l.trim_start().starts_with(&format!("{name} "));
        }
        if inside {
            out.push(l.trim().to_string());
        }
    }
    out.join("\n")
}

#[test]
fn instance_two_services_one_with_three_replicas_then_scale_1_3_1() {
    let swarm = Swarm::single("a");
    let site = Site::new(&swarm);
    site.set("nombre_conteneur", &["2"]);
    site.container(1, "web", "web", "1.0", 18081);
    site.set("conteneur1_replicas", &["3"]);
    site.container(2, "notes", "notes", "1.0", 18082);
    // A host folder: checked as for local containers, created, and its
    // service pinned to this node.
    site.set("conteneur2_mountpoint_in", &["/www/data"]);
    site.set("conteneur2_mountpoint_out", &["/etc"]);
    let refused = site.cmd(&["plan"]);
    assert!(!refused.status.success(), "{}", out_text(&refused));
    assert!(
        out_text(&refused).contains("notes"),
        "{}",
        out_text(&refused)
    );
    site.set("conteneur2_mountpoint_out", &["/srv/notes"]);

    let plan = site.ok(&["plan"]);
    assert!(
        plan.contains("create   web on swarm (3 replicas)"),
        "{plan}"
    );
    assert!(
        plan.contains("create   notes on swarm (1 replica)"),
        "{plan}"
    );
    let out = site.ok(&["instance", "--quiet"]);
    assert!(out.contains("swarm: 3 service(s) converged"), "{out}");
    site.wait_for("/web/", "web 1.0");
    site.wait_for("/notes/", "notes 1.0");
    let st = status_of(&site, "web");
    assert!(st.contains("3/3 running"), "{st}");
    assert!(st.contains("manager, active): 3 running"), "{st}");

    // `logs web` is what every task of the service wrote on its output.
    let tasks = swarm.manager().docker(&[
        "ps",
        "-q",
        "--filter",
        "label=com.docker.swarm.service.name=web",
    ]);
    let tasks: Vec<&str> = tasks.split_whitespace().collect();
    assert_eq!(tasks.len(), 3, "{tasks:?}");
    for (i, id) in tasks.iter().enumerate() {
        swarm.manager().docker(&[
            "exec",
            id,
            "/bin/sh",
            "-c",
            &format!("echo task-line-{i} > /proc/1/fd/1"),
        ]);
    }
    // The engine gathers the tasks' logs for the service: a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let logs = site.ok(&["logs", "web"]);
        if (0..3).all(|i| logs.contains(&format!("task-line-{i}\n"))) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the service's logs lack a task's line: {logs}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(site.root.path().join("srv/notes").is_dir());
    let pinned = swarm.manager().docker(&[
        "service",
        "inspect",
        "notes",
        "--format",
        "{{.Spec.TaskTemplate.Placement.Constraints}}",
    ]);
    assert!(
        pinned.contains(&format!("node.id=={}", swarm.node_id(0))),
        "{pinned}"
    );

    // Scale 3 → 1 → 3 → 1: each step in plan and status.
    for (from, to) in [(3, 1), (1, 3), (3, 1)] {
        site.set("conteneur1_replicas", &[&to.to_string()]);
        let plan = site.ok(&["plan"]);
        assert!(
            plan.contains(&format!("on swarm {from} → {to}"))
                && plan.contains(&format!("replicas {from} → {to}")),
            "{plan}"
        );
        site.ok(&["reconfigure", "--quiet"]);
        let st = status_of(&site, "web");
        assert!(st.contains(&format!("{to}/{to} running")), "{st}");
        site.wait_for("/web/", "web 1.0");
    }
    // Converged: the plan leaves everything.
    let plan = site.ok(&["plan"]);
    assert!(plan.lines().all(|l| l.starts_with("leave")), "{plan}");
}

#[test]
fn a_tag_change_rolls_one_by_one_without_a_failed_request_and_a_broken_tag_is_rolled_back() {
    let swarm = Swarm::single("b");
    let site = Site::new(&swarm);
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "web", "web", "1.0", 18081);
    site.set("conteneur1_replicas", &["3"]);
    site.ok(&["instance", "--quiet"]);
    site.wait_for("/web/", "web 1.0");
    let before = swarm
        .manager()
        .docker(&["service", "inspect", "web", "--format", "{{.ID}}"]);

    // 3. A new tag: one replica at a time, new before old, no failure.
    site.set("conteneur1_tag", &["2.0"]);
    let plan = site.ok(&["plan"]);
    assert!(
        plan.contains("image localhost:5000/demo/web:1.0 → localhost:5000/demo/web:2.0"),
        "{plan}"
    );
    let load = Load::start(
        &site.netns,
        18000,
        "/web/",
        &["web 1.0", "web 2.0"],
        Duration::from_secs(200),
    );
    let out = site.ok(&["reconfigure", "--quiet"]);
    let (answered, failed, errors) = load.finish();
    assert!(out.contains("swarm: web converged"), "{out}");
    assert_eq!(
        failed, 0,
        "failed requests during the rolling update: {errors:?}"
    );
    assert!(answered > 20, "only {answered} requests");
    assert_eq!(
        site.get("/web/").map(|(_, b)| b),
        Ok("web 2.0\n".to_string())
    );
    // The same service, updated (not replaced), every replica on 2.0, and
    // the tasks replaced one after the other.
    let after = swarm
        .manager()
        .docker(&["service", "inspect", "web", "--format", "{{.ID}}"]);
    assert_eq!(before, after);
    let ps = swarm.manager().docker(&[
        "service",
        "ps",
        "web",
        "--format",
        "{{.Image}} {{.DesiredState}}",
    ]);
    let running: Vec<&str> = ps.lines().filter(|l| l.ends_with(" Running")).collect();
    assert_eq!(running.len(), 3, "{ps}");
    assert!(running.iter().all(|l| l.contains("web:2.0")), "{ps}");
    let st = status_of(&site, "web");
    assert!(st.contains("update completed"), "{st}");
    // One by one: each new task was created once the previous one was
    // healthy, plus the delay (1 s); all at once they would be ~0 s apart.
    let ids = swarm.manager().docker(&[
        "service",
        "ps",
        "web",
        "-q",
        "--filter",
        "desired-state=running",
    ]);
    let mut args = vec!["inspect", "--format", "{{.CreatedAt}}"];
    args.extend(ids.lines());
    let mut created: Vec<f64> = swarm
        .manager()
        .docker(&args)
        .lines()
        .map(seconds_of_day)
        .collect();
    created.sort_by(f64::total_cmp);
    assert_eq!(created.len(), 3);
    for w in created.windows(2) {
        assert!(
            w[1] - w[0] > 1.0,
            "tasks created {created:?}: not one by one"
        );
    }

    // 4. A broken image (it never answers its health check): Swarm rolls
    // it back, the old replicas serve throughout, reconfigure says so.
    site.set("conteneur1_url", &["localhost:5000/demo/broken"]);
    let load = Load::start(
        &site.netns,
        18000,
        "/web/",
        &["web 2.0"],
        Duration::from_secs(200),
    );
    let out = site.cmd(&["reconfigure", "--quiet"]);
    let (answered, failed, errors) = load.finish();
    let text = out_text(&out);
    assert_eq!(out.status.code(), Some(8), "{text}");
    assert!(
        text.contains("container 'web': Swarm rolled its update back"),
        "{text}"
    );
    assert!(text.contains("ROLLED BACK"), "{text}");
    assert_eq!(
        failed, 0,
        "failed requests while Swarm rolled back: {errors:?}"
    );
    assert!(answered > 20, "only {answered} requests");
    let st = status_of(&site, "web");
    assert!(st.contains("3/3 running"), "{st}");
    assert!(st.contains("rollback_completed"), "{st}");

    // The good image again: the service runs it already (rolled back), so
    // the plan leaves it, and reconfigure converges.
    site.set("conteneur1_url", &["localhost:5000/demo/web"]);
    let plan = site.ok(&["plan"]);
    assert!(plan.contains("leave    web"), "{plan}");
    site.ok(&["reconfigure", "--quiet"]);
    assert_eq!(
        site.get("/web/").map(|(_, b)| b),
        Ok("web 2.0\n".to_string())
    );
    let st = site.cmd(&["status"]);
    assert!(st.status.success(), "{}", out_text(&st));
}

#[test]
fn a_new_secret_value_rotates_the_secret_and_switching_orchestrator_keeps_volume_data() {
    let swarm = Swarm::single("c");
    let m = swarm.manager();
    let site = Site::new(&swarm);
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "web", "web", "1.0", 18081);
    site.set("conteneur1_mountpoint_in", &["/www/data"]);
    site.set("conteneur1_mountpoint_out", &["webdata"]);
    // The application's dictionary (issue 13): the secret declared once
    // for the server, received by the container; its private network.
    site.set("conteneur_secret_name", &["db_password"]);
    site.set("conteneur_secret_value", &["first-S3cret"]);
    site.set("conteneur1_secrets", &["db_password"]);
    site.set("conteneur1_networks", &["wp"]);
    site.ok(&["instance", "--quiet"]);
    site.wait_for("/web/", "web 1.0");

    // The private network is an overlay the service joins, and the local
    // plan leaves it to the swarm (nothing to do on a second run).
    assert_eq!(
        m.docker(&["network", "inspect", "wp", "--format", "{{.Driver}}"]),
        "overlay"
    );
    let attached = m.docker(&[
        "service",
        "inspect",
        "web",
        "--format",
        "{{json .Spec.TaskTemplate.Networks}}",
    ]);
    let wp_id = m.docker(&["network", "inspect", "wp", "--format", "{{.Id}}"]);
    assert!(attached.contains(&wp_id), "{attached} / {wp_id}");
    let again = site.ok(&["plan"]);
    assert!(!again.contains("remove"), "{again}");

    // 5. The secret as a file in the task, named by a hash of its value.
    let secrets = || m.docker(&["secret", "ls", "--format", "{{.Name}}"]);
    let first = secrets();
    assert_eq!(first.lines().count(), 1, "{first}");
    assert!(first.starts_with("web-db_password-"), "{first}");
    let task = || {
        m.docker(&[
            "ps",
            "-q",
            "--filter",
            "label=com.docker.swarm.service.name=web",
        ])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
    };
    let read = m.docker(&["exec", &task(), "cat", "/run/secrets/db_password"]);
    assert_eq!(read, "first-S3cret");
    site.set("conteneur_secret_value", &["second-S3cret"]);
    let plan = site.ok(&["plan"]);
    assert!(plan.contains("secret db_password changed"), "{plan}");
    assert!(plan.contains(&format!("remove   secret {first}")), "{plan}");
    site.ok(&["reconfigure", "--quiet"]);
    let second = secrets();
    assert_eq!(
        second.lines().count(),
        1,
        "the old secret is removed: {second}"
    );
    assert_ne!(first, second);
    assert_eq!(
        m.docker(&["exec", &task(), "cat", "/run/secrets/db_password"]),
        "second-S3cret"
    );
    // Never the value in plan, status, the service's spec or the secret's
    // labels, nor in a file of the root but the configuration.
    for text in [
        site.ok(&["plan", "--json"]),
        out_text(&site.cmd(&["status", "--json"])),
        m.docker(&["service", "inspect", "web"]),
        m.docker(&["secret", "inspect", second.trim()]),
    ] {
        assert!(!text.contains("S3cret"), "{text}");
    }
    for path in common::files(site.root.path()) {
        let content =
            String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()).into_owned();
        let config = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("config.eol"));
        assert!(
            config || !content.contains("S3cret"),
            "the secret shows in {}",
            path.display()
        );
    }

    // 6. Swarm → local → swarm: the volume's data stays.
    m.docker(&["exec", &task(), "sh", "-c", "echo kept > /www/data/k.html"]);
    site.wait_for("/web/data/k.html", "kept");
    site.set("conteneur_orchestrator", &["local"]);
    let plan = site.ok(&["plan"]);
    assert!(plan.contains("create   web"), "{plan}");
    assert!(
        plan.contains("remove   web") && plan.contains("on swarm"),
        "{plan}"
    );
    site.ok(&["reconfigure", "--quiet"]);
    let services = m.docker(&["service", "ls", "--format", "{{.Name}}"]);
    assert_eq!(services, "", "no service left: {services}");
    site.wait_for("/web/data/k.html", "kept");
    site.set("conteneur_orchestrator", &["swarm"]);
    site.ok(&["reconfigure", "--quiet"]);
    let local = m.docker(&["ps", "-q", "--filter", "label=fr.eole.conteneur.name=web"]);
    assert_eq!(local, "", "the local container is gone");
    site.wait_for("/web/data/k.html", "kept");
}

#[test]
fn two_nodes_one_replica_each_drain_moves_it_without_a_failure_and_the_overlay_crosses_nodes() {
    let swarm = Swarm::two("d");
    let site = Site::new(&swarm);
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "web", "web", "1.0", 18081);
    site.set("conteneur1_replicas", &["2"]);
    site.ok(&["instance", "--quiet"]);
    site.wait_for("/web/", "web 1.0");

    let (manager, worker) = (swarm.node_id(0), swarm.node_id(1));
    let per_node = |id: &str| {
        swarm
            .manager()
            .docker(&[
                "service",
                "ps",
                "web",
                "--filter",
                "desired-state=running",
                "--filter",
                &format!("node={id}"),
                "-q",
            ])
            .lines()
            .count()
    };
    assert_eq!((per_node(&manager), per_node(&worker)), (1, 1));
    let st = status_of(&site, "web");
    assert!(st.contains("2/2 running"), "{st}");
    assert_eq!(st.matches("): 1 running").count(), 2, "{st}");

    // The overlay: from the task on the manager to the task on the worker.
    let b = &swarm.nodes[1];
    let on_b = b.docker(&[
        "ps",
        "-q",
        "--filter",
        "label=com.docker.swarm.service.name=web",
    ]);
    let ip = b.docker(&[
        "inspect",
        on_b.trim(),
        "--format",
        "{{(index .NetworkSettings.Networks \"conteneur-front\").IPAddress}}",
    ]);
    let a = swarm.manager();
    let on_a = a.docker(&[
        "ps",
        "-q",
        "--filter",
        "label=com.docker.swarm.service.name=web",
    ]);
    let cross = a.docker(&[
        "exec",
        on_a.trim(),
        "sh",
        "-c",
        &format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {ip} 80"),
    ]);
    assert!(cross.contains("web 1.0"), "{cross}");

    // Drain the worker: its task moves to the manager, nobody notices.
    let load = Load::start(
        &site.netns,
        18000,
        "/web/",
        &["web 1.0"],
        Duration::from_secs(120),
    );
    a.docker(&["node", "update", "--availability", "drain", &worker]);
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(60) && per_node(&manager) < 2 {
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(3));
    let (answered, failed, errors) = load.finish();
    assert_eq!((per_node(&manager), per_node(&worker)), (2, 0));
    assert_eq!(failed, 0, "failed requests while draining: {errors:?}");
    assert!(answered > 20, "only {answered} requests");
    let st = status_of(&site, "web");
    assert!(st.contains("drain): 0 running"), "{st}");
    let _ = get_in(&site.netns, 18000, "/web/");
}

/// Under swarm, an engine outside a swarm is refused before anything
/// changes, saying what to do. (The machine's engine, read only: it is not
/// in a swarm.)
#[test]
fn an_engine_outside_a_swarm_is_refused_clearly() {
    let root = tempfile::tempdir().expect("root");
    let bin = assert_cmd::cargo::cargo_bin("conteneur");
    let c = |args: &[&str]| {
        std::process::Command::new(&bin)
            .arg("--root")
            .arg(root.path())
            .arg("--dicos")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/dicos"))
            .arg("--templates")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/templates"))
            .args(args)
            .env_remove("DOCKER_HOST")
            .env_remove("CONTENEUR_ROOT")
            .output()
            .expect("conteneur runs")
    };
    for (var, value) in [
        ("conteneur_orchestrator", "swarm"),
        ("nombre_conteneur", "1"),
        ("conteneur1_name", "web"),
        ("conteneur1_url", "localhost:5000/demo/web"),
        ("conteneur1_tag", "1.0"),
    ] {
        assert!(c(&["set", var, value]).status.success(), "set {var}");
    }
    let out = c(&["plan"]);
    let text = out_text(&out);
    assert_eq!(out.status.code(), Some(8), "{text}");
    assert!(text.contains("not part of a swarm"), "{text}");
    assert!(text.contains("docker swarm init"), "{text}");
    assert!(text.contains("nothing was changed"), "{text}");
}
