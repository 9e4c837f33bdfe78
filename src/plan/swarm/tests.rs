//! The swarm plan in its text form, as `conteneur plan` prints it.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::plan::launch::{Launch, Mount, MountKind, SecretRef};
use crate::plan::observed::labels;
use crate::plan::redact::LabelKey;

const SERVER: &str = "/srv/test";

fn settings() -> Settings {
    Settings {
        server: SERVER.into(),
        update_delay: 5,
        monitor: 5,
        endpoint: Endpoint::Dnsrr,
        start_period: 30,
        pin: "node.id==node1".into(),
        front_image: "conteneur/front:abc".into(),
        label_key: LabelKey::default(),
    }
}

fn launch(name: &str, tag: &str, port: u16) -> Launch {
    let mut l = crate::plan::launch::sample(name, tag, port);
    l.health.path = Some("/health/".into());
    l
}

fn want(launches: &[Launch]) -> Desired {
    desired(launches, &under_root(Path::new("/srv/test")), &settings()).expect("desired")
}

/// The swarm as it is once `d` converged: every object there, ours.
fn converged(d: &Desired) -> SwarmObserved {
    let ours = |name: &str, i: usize| ObservedObject {
        id: format!("{i:02}aaaaaaaaaaaaaaaaaaaa"),
        name: name.into(),
        labels: [
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::SERVER.to_string(), SERVER.to_string()),
        ]
        .into(),
    };
    SwarmObserved {
        services: d
            .services
            .iter()
            .enumerate()
            .map(|(i, w)| ObservedService {
                id: format!("{i:02}bbbbbbbbbbbbbbbbbbbb"),
                name: w.name.clone(),
                version: 10,
                labels: w.service_labels(SERVER, &LabelKey::default()),
                replicas: w.replicas.into(),
                running: w.replicas.into(),
                update: None,
            })
            .collect(),
        secrets: d
            .secrets
            .iter()
            .enumerate()
            .map(|(i, s)| ours(&s.name, i))
            .collect(),
        configs: d
            .configs
            .iter()
            .enumerate()
            .map(|(i, s)| ours(&s.name, i))
            .collect(),
        networks: d
            .networks
            .iter()
            .enumerate()
            .map(|(i, s)| ours(s, i))
            .collect(),
    }
}

fn text(d: &Desired, o: &SwarmObserved) -> String {
    reconcile(d, o, SERVER).expect("plan").to_string()
}

/// The plan's lines with runs of spaces folded, so that tests read well.
fn lines(t: &str) -> Vec<String> {
    t.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// `l` receiving the server's secret db_password of value `value` (the
/// launch plan carries its salted hash, as rendered).
fn with_secret(mut l: Launch, value: &str) -> Launch {
    l.app.secrets = vec![SecretRef {
        name: "db_password".into(),
        hash: Some(crate::template::context::secret_hash("db_password", value)),
    }];
    l
}

#[test]
fn a_new_swarm_gets_networks_config_services_and_the_front() {
    let mut web = launch("web", "1.0", 8081);
    web.replicas = 3;
    let d = want(&[web, launch("notes", "1.0", 8082)]);
    let conf = &d.configs[0].name;
    assert_eq!(
        lines(&text(&d, &SwarmObserved::default())),
        [
            "create network conteneur-front (overlay) used by web, notes, conteneur-front"
                .to_string(),
            format!("create config {conf} the nginx configuration of conteneur-front"),
            "create web on swarm (3 replicas) not on the swarm yet".into(),
            "create notes on swarm (1 replica) not on the swarm yet".into(),
            "create conteneur-front on swarm (1 replica) not on the swarm yet".into(),
        ]
    );
    // Converged, nothing to do.
    let plan = reconcile(&d, &converged(&d), SERVER).expect("plan");
    assert!(plan.is_noop(), "{plan}");
}

#[test]
fn replicas_alone_scale_each_step_saying_so() {
    let mut web = launch("web", "1.0", 8081);
    let one = want(std::slice::from_ref(&web));
    let obs = converged(&one);
    web.replicas = 3;
    let three = want(std::slice::from_ref(&web));
    assert_eq!(
        lines(&text(&three, &obs)),
        [
            "scale web (00bbbbbbbbbb) on swarm 1 → 3 replicas 1 → 3",
            "leave conteneur-front (01bbbbbbbbbb) on swarm unchanged",
        ]
    );
    let obs3 = converged(&three);
    assert_eq!(
        lines(&text(&one, &obs3))[0],
        "scale web (00bbbbbbbbbb) on swarm 3 → 1 replicas 3 → 1"
    );
}

#[test]
fn a_tag_change_is_an_update_saying_what_changed() {
    let obs = converged(&want(&[launch("web", "1.0", 8081)]));
    let d = want(&[launch("web", "2.0", 8081)]);
    assert_eq!(
        lines(&text(&d, &obs))[0],
        "update web (00bbbbbbbbbb) on swarm image localhost:5000/demo/web:1.0 → localhost:5000/demo/web:2.0"
    );
    // A rolling update one replica at a time, new before old, rolled back
    // on failure: the settings travel in the spec.
    let w = &d.services[0];
    assert!(w.start_first);
    assert_eq!((w.update_delay, w.monitor), (5, 5));
    // The front publishes host-mode ports: stop-first (moby#36934).
    assert!(!d.service(FRONT).expect("front").start_first);
}

#[test]
fn a_new_secret_value_is_a_new_secret_and_the_old_one_goes() {
    let old = want(&[with_secret(launch("db", "1.0", 8081), "s3cret-one")]);
    let obs = converged(&old);
    let new = want(&[with_secret(launch("db", "1.0", 8081), "s3cret-two")]);
    let (o, n) = (&old.secrets[0].name, &new.secrets[0].name);
    assert_ne!(o, n);
    assert!(n.starts_with("db-db_password-"), "{n}");
    let t = text(&new, &obs);
    assert!(!t.contains("s3cret"), "{t}");
    assert_eq!(
        lines(&t),
        [
            format!("create secret {n} a secret of db (new value)"),
            "update db (00bbbbbbbbbb) on swarm secret db_password changed".into(),
            "leave conteneur-front (01bbbbbbbbbb) on swarm unchanged".into(),
            format!("remove secret {o} no longer used (a secret's new value is a new secret)"),
        ]
    );
    // Nor in the spec kept on the service.
    let labels = new.services[0].service_labels(SERVER, &LabelKey::default());
    assert!(labels.values().all(|v| !v.contains("s3cret")));
}

#[test]
fn a_service_leaving_goes_before_the_local_engines_and_the_front_moves_its_ports() {
    let obs = converged(&want(&[
        launch("web", "1.0", 8081),
        launch("notes", "1.0", 8082),
    ]));
    let d = want(&[launch("web", "1.0", 8081)]);
    let plan = reconcile(&d, &obs, SERVER).expect("plan");
    let before: Vec<String> = plan.before_local.iter().map(|s| s.to_line()).collect();
    assert_eq!(
        lines(&before.join("\n")),
        [
            "remove notes (01bbbbbbbbbb) on swarm no longer configured on the swarm (removed, or moved to the local engine)",
            "remove conteneur-front (02bbbbbbbbbb) on swarm its published ports change: removed before the local containers change, created again after",
        ]
    );
    let after = lines(
        &plan
            .steps
            .iter()
            .map(|s| s.to_line())
            .collect::<Vec<_>>()
            .join("\n"),
    );
    assert!(after.iter().any(|l| l == "create conteneur-front on swarm (1 replica) nginx configuration changed, published ports changed"), "{after:?}");
    assert!(
        after.iter().any(|l| l.starts_with("leave web")),
        "{after:?}"
    );
}

#[test]
fn nothing_published_no_front() {
    let mut quiet = launch("worker", "1.0", 1);
    quiet.ports.clear();
    let d = want(&[quiet]);
    assert!(d.service(FRONT).is_none());
    assert!(d.networks.is_empty());
    assert!(d.services[0].health.is_none());
}

#[test]
fn someone_elses_service_or_network_is_never_touched() {
    let d = want(&[launch("web", "1.0", 8081)]);
    let mut obs = SwarmObserved::default();
    obs.services.push(ObservedService {
        id: "ffffffffffffffff".into(),
        name: "web".into(),
        ..Default::default()
    });
    let e = reconcile(&d, &obs, SERVER).expect_err("clash");
    assert!(e.to_string().contains("docker service rm web"), "{e}");
    let mut obs = SwarmObserved::default();
    obs.networks.push(ObservedObject {
        id: "eeee".into(),
        name: FRONT_NETWORK.into(),
        labels: BTreeMap::new(),
    });
    assert!(matches!(
        reconcile(&d, &obs, SERVER),
        Err(SwarmPlanError::NetworkClash { .. })
    ));
}

#[test]
fn refused_built_images_and_the_front_name() {
    let mut git = launch("site", "v1", 8081);
    git.backend = "docker+git".into();
    let e = desired(&[git], &under_root(Path::new("/")), &settings()).expect_err("refused");
    assert!(e.to_string().contains("container 'site'"), "{e}");
    let e = desired(
        &[launch(FRONT, "1", 8081)],
        &under_root(Path::new("/")),
        &settings(),
    )
    .expect_err("reserved");
    assert!(e.to_string().contains("conteneur's own"), "{e}");
}

#[test]
fn bind_mounts_are_pinned_to_this_node_volumes_are_not() {
    let mut l = launch("web", "1.0", 8081);
    l.mounts = vec![Mount {
        container: "/data".into(),
        host: "webdata".into(),
        kind: MountKind::Volume,
    }];
    let d = want(std::slice::from_ref(&l));
    assert!(d.services[0].constraints.is_empty());
    l.mounts.push(Mount {
        container: "/srv".into(),
        host: "/var/www".into(),
        kind: MountKind::Bind,
    });
    l.placement = vec!["node.labels.zone==a".into()];
    let d = want(&[l]);
    assert_eq!(
        d.services[0].constraints,
        ["node.labels.zone==a", "node.id==node1"]
    );
    assert_eq!(d.services[0].mounts[1].source, "/srv/test/var/www");
}

#[test]
fn the_front_resolves_the_tasks_again_and_tries_the_next() {
    let l = launch("web", "1.0", 8081);
    let conf = front_conf(&[&l], Endpoint::Dnsrr, "");
    assert!(conf.contains("resolver 127.0.0.11 valid=1s"), "{conf}");
    assert!(conf.contains("listen 8081;"), "{conf}");
    assert!(conf.contains("set $u tasks.web;"), "{conf}");
    assert!(conf.contains("proxy_pass http://$u:80;"), "{conf}");
    assert!(conf.contains("proxy_next_upstream error timeout"), "{conf}");
    assert!(front_conf(&[&l], Endpoint::Vip, "").contains("set $u web;"));
}

#[test]
fn health_checks_run_inside_the_task_with_the_shell_and_nc() {
    let l = launch("web", "1.0", 8081);
    let h = health_command(&l).expect("health");
    assert!(h.contains("GET /health/ HTTP/1.0"), "{h}");
    assert!(h.contains("nc -w 3 127.0.0.1 80"), "{h}");
    let mut tcp = l.clone();
    tcp.health.path = None;
    assert_eq!(
        health_command(&tcp).as_deref(),
        Some("nc -w 3 127.0.0.1 80 </dev/null")
    );
}

#[test]
fn environment_values_are_sealed_in_the_label_and_the_cause_names_them() {
    let mut l = launch("web", "1.0", 8081);
    l.env = vec!["DB_PASSWORD=old-Pa55".into()];
    let obs = converged(&want(std::slice::from_ref(&l)));
    assert!(
        obs.services[0].labels.values().all(|v| !v.contains("Pa55")),
        "{:?}",
        obs.services[0].labels
    );
    l.env = vec!["DB_PASSWORD=new-Pa55".into()];
    let t = text(&want(&[l]), &obs);
    assert!(!t.contains("Pa55"), "{t}");
    assert_eq!(
        lines(&t)[0],
        "update web (00bbbbbbbbbb) on swarm env DB_PASSWORD changed"
    );
}

#[test]
fn private_networks_and_secrets_are_the_applications_ones() {
    // conteneurX_networks and the server's secrets listed in
    // conteneurX_secrets: overlay networks and swarm secrets, no value in
    // the plan (only the secret's name in the configuration).
    let mut db = with_secret(launch("db", "1.0", 8081), "s3cret-one");
    db.app.networks = vec!["wp".into()];
    let d = want(&[db]);
    assert_eq!(d.networks, [FRONT_NETWORK, "wp"]);
    assert_eq!(d.services[0].networks, [FRONT_NETWORK, "wp"]);
    assert_eq!(d.secrets.len(), 1);
    assert_eq!(d.secrets[0].secret, "db_password");
    assert_eq!(d.services[0].secrets[0].target, "db_password");
    assert!(!format!("{d:?}").contains("s3cret"));
    // A secret not declared (no hash) is refused, naming the variable.
    let mut l = launch("db", "1.0", 8081);
    l.app.secrets = vec![SecretRef {
        name: "nope".into(),
        hash: None,
    }];
    let e = desired(&[l], &under_root(Path::new("/")), &settings()).expect_err("undeclared");
    assert!(
        e.to_string().contains("conteneur1_secrets names 'nope'"),
        "{e}"
    );
}

#[test]
fn the_secret_name_hides_the_plain_hash_of_the_value() {
    // Named from the hash sealed under the server's key: another key, the
    // same value, another name.
    let l = with_secret(launch("db", "1.0", 8081), "short");
    let one = want(std::slice::from_ref(&l));
    let mut s = settings();
    s.label_key = LabelKey::new([7; 32]);
    let two = desired(&[l], &under_root(Path::new("/srv/test")), &s).expect("desired");
    assert_ne!(one.secrets[0].name, two.secrets[0].name);
}

#[test]
fn application_settings_swarm_cannot_take_are_refused_by_name() {
    let mut l = launch("wordpress", "1.0", 8081);
    l.index = 2;
    l.app.depends_on = vec!["db".into()];
    let e = desired(&[l], &under_root(Path::new("/")), &settings()).expect_err("refused");
    assert!(
        e.to_string()
            .contains("container 'wordpress': conteneur2_depends_on is not supported under conteneur_orchestrator swarm"),
        "{e}"
    );
    let mut l = launch("db", "1.0", 8081);
    l.app.read_only = true;
    let e = desired(&[l], &under_root(Path::new("/")), &settings()).expect_err("refused");
    assert!(e.to_string().contains("conteneur1_read_only"), "{e}");
}

/// The command, the user and the admin's health check of today's
/// containers map to the service (issue 14), with the check's timing.
#[test]
fn command_user_and_health_check_map_to_the_service() {
    let mut l = launch("db", "1.0", 8081);
    l.app.command = "mariadbd --skip-name-resolve 'a b'".into();
    l.app.user = "mysql".into();
    l.health.command = Some(crate::plan::launch::HealthCommand {
        command: "mysqladmin ping".into(),
        interval: 2,
        timeout: 4,
        retries: 5,
        start_period: 30,
    });
    let d = desired(&[l], &under_root(Path::new("/")), &settings()).expect("desired");
    let s = d.service("db").expect("the service");
    assert_eq!(s.command, ["mariadbd", "--skip-name-resolve", "a b"]);
    assert_eq!(s.user, "mysql");
    assert_eq!(s.health.as_deref(), Some("mysqladmin ping"));
    assert_eq!(s.health_timing, Some([2, 4, 5]));
    assert_eq!(s.start_period, 30);
}

#[test]
fn the_local_engines_private_networks_are_left_to_the_local_plan() {
    let d = want(&[launch("web", "1.0", 8081)]);
    let mut obs = converged(&d);
    obs.networks.push(ObservedObject {
        id: "dddd".into(),
        name: "conteneur-0123abcd-wp".into(),
        labels: [
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::SERVER.to_string(), SERVER.to_string()),
            (labels::NETWORK.to_string(), "wp".to_string()),
        ]
        .into(),
    });
    let t = text(&d, &obs);
    assert!(!t.contains("remove"), "{t}");
}

#[test]
fn a_secret_name_past_swarm_s_limit_is_cut_to_fit_and_stays_distinct() {
    let key = LabelKey::default();
    let hash = crate::template::context::secret_hash("s", "v");
    let named = |service: &str, secret: &str| secret_object(SERVER, service, secret, &hash, &key);
    // At the limit (64), kept as it reads: {service}-{secret}-{12 hex}.
    let service = "a".repeat(OBJECT_NAME_MAX - 13 - 2);
    let at = named(&service, "s");
    assert_eq!(at.len(), OBJECT_NAME_MAX);
    assert!(at.starts_with(&format!("{service}-s-")), "{at}");
    // One past it: cut to 64, the same each time, and two names cut alike
    // still differ.
    let past = named(&format!("{service}b"), "s");
    assert_eq!(past.len(), OBJECT_NAME_MAX, "{past}");
    assert_eq!(past, named(&format!("{service}b"), "s"));
    assert_ne!(past, named(&format!("{service}c"), "s"));
    let long = named(&"w".repeat(60), &"t".repeat(60));
    assert_eq!(long.len(), OBJECT_NAME_MAX, "{long}");
    // Swarm's pattern: letters, digits and - _ . inside.
    for n in [&at, &past, &long] {
        assert!(
            n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && n.ends_with(|c: char| c.is_ascii_alphanumeric()),
            "{n}"
        );
    }
}

#[test]
fn secret_files_belong_to_the_services_numeric_user_and_a_user_name_is_refused() {
    let owner = |user: &str| {
        let mut l = with_secret(launch("db", "1.0", 8081), "s3cret-one");
        l.app.user = user.into();
        desired(&[l], &under_root(Path::new("/srv/test")), &settings())
            .map(|d| d.services[0].secret_owner)
    };
    assert_eq!(owner(""), Ok(None));
    assert_eq!(owner("root"), Ok(None));
    assert_eq!(owner("0:0"), Ok(None));
    assert_eq!(owner("100"), Ok(Some([100, 100])));
    assert_eq!(owner("100:101"), Ok(Some([100, 101])));
    for name in ["mysql", "100:www-data"] {
        let e = owner(name).unwrap_err().to_string();
        assert!(
            e.contains("conteneur1_user") && e.contains("UID:GID"),
            "{e}"
        );
    }
    // Without secrets, a user name is the image's business.
    let mut l = launch("db", "1.0", 8081);
    l.app.user = "mysql".into();
    assert!(desired(&[l], &under_root(Path::new("/srv/test")), &settings()).is_ok());
}

#[test]
fn docker_types_go_to_the_swarm_lxc_and_snap_stay_local() {
    let launch = |name: &str, backend: &str| -> Launch {
        serde_json::from_value(serde_json::json!({
            "name": name, "index": 1, "backend": backend, "image": "i", "tag": "t",
            "restart": "no", "stop_timeout": 1, "health": {"path": null, "port": null},
            "publish": false, "websocket": false
        }))
        .expect("launch")
    };
    let (local, swarm) = super::split(vec![
        launch("a", "docker"),
        launch("b", "lxc"),
        launch("c", "docker+git"),
        launch("d", "snap"),
    ]);
    let names = |v: &[Launch]| v.iter().map(|l| l.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&local), ["b", "d"]);
    // docker+git goes to the swarm's plan, which refuses it by name.
    assert_eq!(names(&swarm), ["a", "c"]);
}
