//! Fixtures shared by the planner's unit tests (those of [`super::check`],
//! [`super::identity`], [`super::reconciler`] and [`super::apps`]): desired
//! containers, and the containers and images an engine would show for
//! them.

use std::collections::{BTreeMap, HashMap};

use super::container_labels;
use super::launch::{self, Launch};
use super::redact::LabelKey;
use crate::plan::observed::{HostPorts, Kind, ObservedContainer, ObservedImage, labels};

pub(crate) fn launch(name: &str, tag: &str) -> Launch {
    launch::sample(name, tag, 8080)
}

pub(crate) fn running(l: &Launch, id: &str) -> ObservedContainer {
    let mut labels = container_labels(l, "sha256:img1", "", &LabelKey::default());
    let ports = HostPorts(l.ports.iter().map(|p| (p.host, p.host + 30000)).collect());
    labels.insert(labels::HOST_PORTS.into(), ports.label());
    ObservedContainer {
        backend: Kind::of_type(&l.backend).unwrap_or(Kind::Docker),
        id: id.into(),
        name: l.name.clone(),
        labels,
        running: true,
        state: "running".into(),
        image: format!("{}:{}", l.image, l.tag),
        image_id: "sha256:img1".into(),
    }
}

pub(crate) fn images(refs: &[&str]) -> BTreeMap<Kind, HashMap<String, ObservedImage>> {
    let mut m = BTreeMap::new();
    m.insert(
        Kind::Docker,
        refs.iter()
            .map(|r| {
                (
                    r.to_string(),
                    ObservedImage {
                        id: "sha256:img1".to_string(),
                        labels: BTreeMap::new(),
                    },
                )
            })
            .collect(),
    );
    m
}

pub(super) fn on(mut l: Launch, t: &str) -> Launch {
    l.backend = t.into();
    l
}
