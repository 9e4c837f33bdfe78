//! Upgrades that restart nothing: main's dictionaries, templates and planner
//! against the labels the real binaries of older releases left on the engine
//! (tests/data/upgrade/COMMIT, recorded by
//! scripts/record-upgrade-fixtures.sh; see the README there), with the same
//! config.eol. Every container must be left as it is.
//!
//! No engine is needed: the recorded `docker inspect` output is turned into
//! the snapshot a run takes ([`Observed`]), as the Docker backend does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use conteneur::config::Config;
use conteneur::paths::Paths;
use conteneur::plan::observed::{
    Kind, Observed, ObservedContainer, ObservedImage, ObservedResource,
};
use conteneur::plan::redact::LabelKey;
use conteneur::plan::{self, Action};
use serde_json::Value;

fn data(commit: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/upgrade")
        .join(commit)
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

/// The engine as the old release left it.
fn observed(dir: &Path) -> Observed {
    let mut o = Observed::default();
    for c in json(&dir.join("containers.json")).as_array().unwrap() {
        let state = text(c, "State");
        o.containers.push(ObservedContainer {
            backend: Kind::Docker,
            id: text(c, "Id"),
            name: text(c, "Name"),
            labels: labels(&c["Labels"]),
            running: state == "running",
            state,
            image: text(c, "ConfigImage"),
            image_id: text(c, "Image"),
        });
    }
    for i in json(&dir.join("images.json")).as_array().unwrap() {
        for tag in i["RepoTags"].as_array().unwrap() {
            o.add_image(
                Kind::Docker,
                tag.as_str().unwrap().to_string(),
                ObservedImage {
                    id: text(i, "Id"),
                    labels: BTreeMap::new(),
                },
            );
        }
    }
    for v in json(&dir.join("volumes.json")).as_array().unwrap() {
        o.volumes.push(ObservedResource {
            backend: Kind::Docker,
            id: text(v, "Name"),
            name: text(v, "Name"),
            labels: labels(&v["Labels"]),
        });
    }
    for n in json(&dir.join("networks.json")).as_array().unwrap() {
        o.networks.push(ObservedResource {
            backend: Kind::Docker,
            id: text(n, "Id"),
            name: text(n, "Name"),
            labels: labels(&n["Labels"]),
        });
    }
    o
}

/// Main's plan for the recorded server, with its config.eol as it was.
fn plan_against(commit: &str, new_defaults: bool) -> plan::Plan {
    let dir = data(commit);
    let tmp = tempfile::tempdir().unwrap();
    let mut paths = Paths::new(tmp.path());
    paths.dicos = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("dicos")];
    paths.templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    paths.config = dir.join("config.eol");
    let cfg = Config::load(&paths).unwrap();
    let (_, desired) = conteneur::plan::desired::desired(&cfg, &paths).unwrap();
    // The old release's key, when it had one (60d4e92 kept values in
    // clear: any key seals them alike on both sides).
    let key = std::fs::read_to_string(dir.join("label.key"))
        .ok()
        .map(|t| LabelKey::from_hex(&t).expect("a key"))
        .unwrap_or_else(|| LabelKey::new([9; 32]));
    let server = std::fs::read_to_string(dir.join("root")).unwrap();
    let opts = plan::Options {
        server: server.trim().to_string(),
        label_key: key,
        new_defaults,
        ..Default::default()
    };
    plan::reconcile(&desired, &observed(&dir), &opts).unwrap()
}

fn assert_all_left(commit: &str) {
    let plan = plan_against(commit, false);
    assert_eq!(plan.steps.len(), 3, "{plan}");
    for s in &plan.steps {
        assert!(matches!(s.action, Action::Leave { .. }), "{commit}: {plan}");
    }
    // The password of the old label never shows in the plan.
    assert!(
        !plan.to_string().contains("upgrade-fixture-password"),
        "{plan}"
    );
}

#[test]
fn labels_of_60d4e92_are_left_with_the_new_default_named() {
    assert_all_left("60d4e92");
    let text = plan_against("60d4e92", false).to_string();
    assert!(
        text.contains("not applied: new default of conteneur 0.2: no-new-privileges"),
        "{text}"
    );
    // Asked for: each one replaced, saying why (and only why).
    let plan = plan_against("60d4e92", true);
    for s in &plan.steps {
        assert!(matches!(s.action, Action::Replace { .. }), "{plan}");
        assert_eq!(
            s.cause,
            "new default of conteneur 0.2: no-new-privileges (conteneurX_no_new_privileges)"
        );
    }
}

#[test]
fn labels_of_e7045df_are_left() {
    assert_all_left("e7045df");
    let text = plan_against("e7045df", true).to_string();
    assert!(!text.contains("new default"), "{text}");
}
