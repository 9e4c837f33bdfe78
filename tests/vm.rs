//! The `vm` engine end to end, on the real Docker engine, the loopback
//! registry and QEMU (TCG on these machines: their KVM only emulates):
//! `localhost:5000/vm/web:1.0`, built by scripts/images-vm.sh, is pulled,
//! extracted, booted from an overlay, answers on its forwarded port, is
//! shut down over ACPI and removed without a trace (one boot; the faults
//! need none). Then `conteneurX_type = vm` through the real binary, a
//! private nginx and the same replace as every engine (three boots).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::site::Site;
use common::{docker, free_port, get, require_docker, text};
use conteneur::backend::vm::{AccelChoice, Forward, VmEngine, VmSpec};
use conteneur::backend::{BackendError, NoProgress};

const IMAGE: &str = "localhost:5000/vm/web";
/// Under TCG on a loaded 2-core machine a boot to HTTP takes 6–15 s.
const BOOT_BOUND: Duration = Duration::from_secs(120);

fn require_images() {
    require_docker();
    let out = common::run(
        "curl",
        &[
            "-fsS",
            "-o",
            "/dev/null",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
            "http://127.0.0.1:5000/v2/vm/web/manifests/1.0",
        ],
    );
    assert!(
        out.status.success(),
        "{IMAGE}:1.0 is not in the loopback registry: run scripts/services.sh and scripts/images-vm.sh ({})",
        text(&out)
    );
}

fn spec(tag: &str, port: u16, memory: &str) -> VmSpec {
    VmSpec {
        image: IMAGE.into(),
        tag: tag.into(),
        memory: memory.into(),
        cpus: 1,
        ports: vec![Forward {
            address: "127.0.0.1".into(),
            host: port,
            guest: 80,
        }],
        restart: "always".into(),
        stop_timeout: 10,
        mounts: vec![],
    }
}

fn labels(name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("fr.eole.conteneur.managed".to_string(), "true".to_string()),
        ("fr.eole.conteneur.name".to_string(), name.to_string()),
    ])
}

/// The processes whose command line holds `needle` (an argument).
fn pids_with(needle: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == needle.as_bytes()))
        })
        .collect()
}

fn process_with(needle: &str) -> bool {
    !pids_with(needle).is_empty()
}

/// Kills a VM's QEMU when the test ends before removing it (a failed
/// assertion): QEMU is a daemon of its own and would outlive the test.
struct Reaper(String);

impl Drop for Reaper {
    fn drop(&mut self) {
        for pid in pids_with(&self.0) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

fn files_named(dir: &Path, name: &str) -> usize {
    common::files(dir)
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n == name))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_boots_from_its_overlay_answers_and_leaves_nothing_behind() {
    require_images();
    let root = tempfile::tempdir().unwrap();
    let state = root.path().join("var/lib/conteneur");
    let engine = VmEngine::connect(&state, AccelChoice::Auto).await.unwrap();
    let image_id = engine.prepare(IMAGE, "1.0", &NoProgress).await.unwrap();
    let name = format!("vmtest-{}", std::process::id());
    let port = free_port();
    let id = engine
        .create(&name, &spec("1.0", port, "256m"), &labels(&name))
        .await
        .unwrap();
    let vm_dir = state.join("vm").join(&id);
    assert!(vm_dir.join("overlay.qcow2").is_file());
    assert!(!engine.running(&id).await.unwrap());

    let t0 = Instant::now();
    engine.start(&id).await.unwrap();
    let started = t0.elapsed();
    let st = engine.state(&id).unwrap();
    let _reaper = Reaper(st.uuid.clone());
    assert!(st.want_running && st.pid.is_some(), "{st:?}");
    assert!(process_with(&st.uuid), "QEMU runs with the VM's uuid");
    let page = loop {
        if let Ok(p) = get(&format!("http://127.0.0.1:{port}/")) {
            break p;
        }
        assert!(
            t0.elapsed() < BOOT_BOUND,
            "no HTTP 200 on 127.0.0.1:{port} within {} s; console:\n{}",
            BOOT_BOUND.as_secs(),
            std::fs::read_to_string(engine.console(&id)).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let first_200 = t0.elapsed();
    eprintln!(
        "vm {name}: QEMU started in {:.2} s, first HTTP 200 at {:.2} s (accel {:?})",
        started.as_secs_f64(),
        first_200.as_secs_f64(),
        st.accel
    );
    assert!(page.contains("vm 1.0"), "{page}");
    assert_eq!(
        get(&format!("http://127.0.0.1:{port}/health/"))
            .unwrap()
            .trim(),
        "ok"
    );
    let console = std::fs::read_to_string(engine.console(&id)).unwrap();
    assert!(
        console.contains("conteneur-vm: httpd on port 80"),
        "{console}"
    );
    eprintln!(
        "vm {name}: KVM probe: {}",
        std::fs::read_to_string(state.join("vm/kvm-probe.json")).unwrap_or_default()
    );
    // Its log, as `conteneur logs` reads it, and the engine's snapshot.
    let seen = std::sync::Mutex::new(Vec::new());
    let sink = |_: bool, b: &[u8]| seen.lock().unwrap().extend_from_slice(b);
    let request = conteneur::backend::LogRequest {
        tail: Some(1),
        ..Default::default()
    };
    engine.logs(&id, &request, &sink).await.unwrap();
    let last = String::from_utf8(seen.into_inner().unwrap()).unwrap();
    assert_eq!(last.trim_end(), "conteneur-vm: httpd on port 80");
    // The engine's snapshot, with the kind it is given.
    let observed = engine.observe(conteneur::plan::observed::Kind::Vm).unwrap();
    assert_eq!(
        observed
            .image(conteneur::plan::observed::Kind::Vm, &format!("{IMAGE}:1.0"))
            .map(|i| i.id.as_str()),
        Some(image_id.as_str()),
        "the prepared image is listed"
    );
    let c = observed.containers.iter().find(|c| c.id == id).unwrap();
    assert!(
        c.running && c.name == name && c.conf_name() == Some(name.as_str()),
        "{c:?}"
    );

    // The record is the truth: listed under its name, renamed in place.
    let listed = engine.list().unwrap();
    assert!(listed.iter().any(|s| s.id == id && s.name == name));
    engine.rename(&id, &format!("{name}.old.x")).await.unwrap();
    assert_eq!(engine.state(&id).unwrap().name, format!("{name}.old.x"));
    assert!(
        engine.running(&id).await.unwrap(),
        "a rename leaves it running"
    );

    // An ACPI shutdown: the guest powers itself off, well before the kill.
    let t1 = Instant::now();
    engine.stop(&id, 10).await.unwrap();
    let stopped = t1.elapsed();
    eprintln!(
        "vm {name}: ACPI shutdown took {:.2} s",
        stopped.as_secs_f64()
    );
    assert!(!process_with(&st.uuid), "no QEMU left after stop");
    let console = std::fs::read_to_string(engine.console(&id)).unwrap();
    assert!(
        console.contains("reboot: Power down"),
        "the guest powered itself off:\n{console}"
    );
    assert!(
        stopped < Duration::from_secs(9),
        "stopped by ACPI, not by the kill"
    );
    // Stopped by us: not one to bring back.
    assert!(engine.revive().await.unwrap().is_empty());

    // Started again, then its QEMU dies (a reboot, a crash): the record says
    // it should run, and the next run's revive starts it again.
    engine.start(&id).await.unwrap();
    let pid = engine.state(&id).unwrap().pid.unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let t2 = Instant::now();
    while engine.running(&id).await.unwrap() {
        assert!(
            t2.elapsed() < Duration::from_secs(5),
            "QEMU outlived SIGKILL"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let revived = engine.revive().await.unwrap();
    assert_eq!(revived.len(), 1, "{revived:?}");
    assert_eq!(revived[0].0, format!("{name}.old.x"));
    assert!(revived[0].1.is_ok(), "{revived:?}");
    let again = engine.state(&id).unwrap();
    assert!(engine.running(&id).await.unwrap());
    assert_ne!(again.pid, Some(pid));

    engine.remove(&id).await.unwrap();
    assert!(
        !vm_dir.exists(),
        "its folder (overlay, console, record) is gone"
    );
    assert_eq!(files_named(&state.join("vm"), "overlay.qcow2"), 0);
    assert!(engine.list().unwrap().is_empty());
    // The cached image stays for the next VM.
    let digest = image_id.trim_start_matches("sha256:");
    assert!(
        state
            .join("vm/images")
            .join(digest)
            .join("disk/disk.img")
            .is_file(),
        "{image_id}: {:?}",
        common::files(&state.join("vm/images"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_clear_errors_and_change_nothing() {
    require_images();
    let root = tempfile::tempdir().unwrap();
    let state = root.path().join("var/lib/conteneur");
    let pid = std::process::id();

    // A containerDisk whose disk is not one: refused when it is prepared.
    let bad = format!("localhost:5000/vmtest-bad-{pid}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("disk")).unwrap();
    std::fs::write(
        dir.path().join("disk/disk.img"),
        "this is a README, not a disk\n",
    )
    .unwrap();
    let tarball = dir.path().join("image.tar");
    let out = common::run(
        "tar",
        &[
            "-C",
            &dir.path().display().to_string(),
            "-cf",
            &tarball.display().to_string(),
            "disk",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = docker(&[
        "import",
        &tarball.display().to_string(),
        &format!("{bad}:1"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = docker(&["push", &format!("{bad}:1")]);
    assert!(out.status.success(), "{}", text(&out));
    let engine = VmEngine::connect(&state, AccelChoice::Auto).await.unwrap();
    let e = engine
        .prepare(&bad, "1", &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/disk/disk.img is not a disk image: its size (29 bytes)"),
        "{e}"
    );
    let _ = docker(&["rmi", &format!("{bad}:1")]);
    assert!(engine.list().unwrap().is_empty());

    // Not enough memory: refused before QEMU starts, the VM stays stopped.
    engine.prepare(IMAGE, "1.0", &NoProgress).await.unwrap();
    let port = free_port();
    let name = format!("vmtest-mem-{pid}");
    let id = engine
        .create(&name, &spec("1.0", port, "4000g"), &labels(&name))
        .await
        .unwrap();
    let e = engine.start(&id).await.unwrap_err().to_string();
    assert!(
        e.contains("not enough memory: the VM needs 4096000 MiB"),
        "{e}"
    );
    assert!(!engine.running(&id).await.unwrap());
    engine.remove(&id).await.unwrap();

    // Mounts are refused (no virtio-9p yet).
    let mut with_mount = spec("1.0", port, "");
    with_mount.mounts.push(conteneur::backend::HostMount {
        host: "/srv/data".into(),
        container: "/data".into(),
        bind: true,
        read_only: false,
    });
    let e = engine
        .create(&name, &with_mount, &labels(&name))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot share host folders"), "{e}");

    // KVM asked for: refused clearly where it only emulates (these
    // machines); where KVM works (a real server) the VM starts.
    let kvm = VmEngine::connect(&state, AccelChoice::Kvm).await.unwrap();
    let id = kvm
        .create(&name, &spec("1.0", port, ""), &labels(&name))
        .await
        .unwrap();
    let _reaper = Reaper(kvm.state(&id).unwrap().uuid);
    match kvm.start(&id).await {
        Err(BackendError::Unavailable { message, .. }) => {
            assert!(message.starts_with("KVM refused: "), "{message}")
        }
        Err(e) => panic!("not a clear KVM refusal: {e}"),
        Ok(()) => {}
    }
    kvm.remove(&id).await.unwrap();

    // QEMU missing: every operation that needs it says so.
    let docker_backend = conteneur::backend::docker::DockerBackend::connect()
        .await
        .unwrap();
    let none = VmEngine::with_tools(
        &state,
        docker_backend,
        AccelChoice::Auto,
        conteneur::backend::vm::Tools::find_in(&root.path().join("no-bin")),
    );
    let e = none
        .create(&name, &spec("1.0", port, ""), &labels(&name))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("QEMU is missing: qemu-system-x86_64 not found")
            && e.contains("apt-get install qemu-system-x86"),
        "{e}"
    );
    assert!(engine.list().unwrap().is_empty(), "nothing was left behind");
}

/// Kills every QEMU whose command line mentions `root` (a VM's under a
/// test's root) when the test ends, passed or not.
struct RootReaper(String);

impl RootReaper {
    fn pids(&self) -> Vec<i32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                    let c = String::from_utf8_lossy(&c);
                    c.starts_with("qemu-system") || c.contains("/qemu-system")
                }) && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&self.0))
            })
            .collect()
    }
}

impl Drop for RootReaper {
    fn drop(&mut self) {
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

fn local(port: u16) -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}

/// `conteneurX_type = vm` end to end, through the real binary, the private
/// nginx and the replace every engine goes through: `instance` publishes
/// `/NAME/`; a guest that never answers (vm/broken) is rolled back by the
/// health timeout with 0 failed requests and 1.0 still serving; the tag
/// change 1.0 → 2.0 under a request loop fails 0 requests; `nombre_conteneur
/// 0` leaves no QEMU and no overlay. Three TCG boots, 256 MB each.
#[test]
fn a_vm_container_is_published_replaced_without_failures_and_removed() {
    require_images();
    let site = Site::new("vm");
    let root = site.root.path().display().to_string();
    let reaper = RootReaper(root.clone());
    let state = site.path("var/lib/conteneur/vm");
    let port = free_port();
    site.set("nombre_conteneur", &["1"]);
    site.container(1, "guest", "web", "1.0", port);
    site.set("conteneur1_type", &["vm"]);
    site.set("conteneur1_url", &[IMAGE]);
    site.set("conteneur1_memory", &["256m"]);
    site.set("conteneur1_cpus", &["1"]);
    site.set("conteneur1_health_path", &["/health/"]);
    // A TCG boot takes 6–15 s, more on a loaded machine.
    site.set("conteneur_health_timeout", &["150"]);
    // The disk is read through a container the shared engine creates: on a
    // busy engine that alone has taken a minute here.
    site.set("conteneur_pull_timeout", &["300"]);
    let long = |what: &str| {
        let out = site
            .cmd(&[what, "--quiet"])
            .timeout(Duration::from_secs(400))
            .output()
            .unwrap();
        (out.status.success(), text(&out))
    };

    // instance: the VM boots, nginx publishes /NAME/ and port_out.
    let t0 = Instant::now();
    let (ok, out) = long("instance");
    assert!(ok, "instance: {out}");
    eprintln!(
        "vm instance: {:.1} s to a healthy, published VM",
        t0.elapsed().as_secs_f64()
    );
    let page = get(&site.url("guest")).unwrap();
    assert!(page.contains("vm 1.0"), "{page}");
    assert!(
        get(&format!("http://127.0.0.1:{port}/"))
            .unwrap()
            .contains("vm 1.0")
    );
    assert_eq!(files_named(&state, "overlay.qcow2"), 1);
    let status = site.cmd(&["status"]).output().unwrap();
    assert!(
        status.status.success() && text(&status).contains(&site.name("guest")),
        "{}",
        text(&status)
    );
    // Nothing changed: nothing to do.
    let plan = site.cmd(&["plan"]).output().unwrap();
    assert!(plan.status.success(), "{}", text(&plan));
    assert!(
        !text(&plan).contains("replace") && !text(&plan).contains("create"),
        "{}",
        text(&plan)
    );
    let path = format!("/{}/", site.name("guest"));

    // A guest that never answers: rolled back at the health timeout, the
    // old VM serving throughout.
    site.set("conteneur_health_timeout", &["20"]);
    site.set("conteneur1_url", &["localhost:5000/vm/broken"]);
    let load = common::load::start(local(site.http_port), &path, 20, Duration::from_secs(300));
    std::thread::sleep(Duration::from_millis(300));
    let (ok, out) = long("reconfigure");
    std::thread::sleep(Duration::from_millis(300));
    let t = load.finish();
    assert!(!ok, "a guest that never answers must fail the run: {out}");
    assert!(out.contains(&site.name("guest")), "{out}");
    assert_eq!(t.failed(), 0, "{t}");
    assert!(t.only(&["vm 1.0"]), "{t}");
    assert!(get(&site.url("guest")).unwrap().contains("vm 1.0"));
    assert_eq!(
        files_named(&state, "overlay.qcow2"),
        1,
        "the broken VM was removed"
    );

    // The tag change under load: 0 failed requests.
    site.set("conteneur_health_timeout", &["150"]);
    site.set("conteneur1_url", &[IMAGE]);
    site.set("conteneur1_tag", &["2.0"]);
    let load = common::load::start(local(site.http_port), &path, 20, Duration::from_secs(300));
    std::thread::sleep(Duration::from_millis(300));
    let t1 = Instant::now();
    let (ok, out) = long("reconfigure");
    let took = t1.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    let t = load.finish();
    assert!(ok, "reconfigure: {out}");
    eprintln!("vm 1.0 → 2.0: {:.1} s; {t}", took.as_secs_f64());
    assert_eq!(t.failed(), 0, "{t}");
    assert!(t.only(&["vm 1.0", "vm 2.0"]), "{t}");
    assert!(get(&site.url("guest")).unwrap().contains("vm 2.0"));
    assert_eq!(
        files_named(&state, "overlay.qcow2"),
        1,
        "the old VM was drained and removed"
    );

    // nombre_conteneur 0: no QEMU, no overlay.
    site.set("nombre_conteneur", &["0"]);
    let (ok, out) = long("reconfigure");
    assert!(ok, "reconfigure: {out}");
    assert!(
        reaper.pids().is_empty(),
        "a QEMU is left: {:?}",
        reaper.pids()
    );
    assert_eq!(files_named(&state, "overlay.qcow2"), 0);
    assert!(
        std::fs::read_dir(&state)
            .unwrap()
            .flatten()
            .all(|e| e.file_name() == "images" || e.path().is_file()),
        "no VM folder is left: {:?}",
        common::files(&state)
    );
}
