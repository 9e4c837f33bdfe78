//! The engine's service spec of a [`ServiceWant`]: pure, so the policy it
//! carries (rolling update, rollback, health check, placement) is tested
//! without an engine.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    EndpointSpec, EndpointSpecModeEnum, HealthConfig, Limit, Mount, MountType, MountVolumeOptions,
    NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    ServiceSpecRollbackConfig, ServiceSpecRollbackConfigFailureActionEnum,
    ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig,
    ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum, TaskSpec,
    TaskSpecContainerSpec, TaskSpecContainerSpecConfigs, TaskSpecContainerSpecFile,
    TaskSpecContainerSpecFile1, TaskSpecContainerSpecSecrets, TaskSpecPlacement,
    TaskSpecPlacementPreferences, TaskSpecPlacementSpread, TaskSpecResources,
    TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
};

use crate::plan::redact::LabelKey;
use crate::plan::swarm::{Endpoint, ServiceWant};

fn to_map(l: &BTreeMap<String, String>) -> HashMap<String, String> {
    l.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn secs(n: u64) -> i64 {
    i64::try_from(n.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX)
}

/// The engine's service spec of `w`; `ids` gives the id of each secret and
/// config by name.
pub fn service_spec(
    w: &ServiceWant,
    server: &str,
    key: &LabelKey,
    ids: &HashMap<String, String>,
) -> ServiceSpec {
    let mounts = w
        .mounts
        .iter()
        .map(|m| Mount {
            target: Some(m.target.clone()),
            source: Some(m.source.clone()),
            typ: Some(if m.bind {
                MountType::BIND
            } else {
                MountType::VOLUME
            }),
            // A named volume the engine creates for a task is this
            // server's, as the local engine's are (plan::volumes refuses
            // a volume of another server, or of nobody's).
            volume_options: (!m.bind).then(|| MountVolumeOptions {
                labels: Some(to_map(&crate::plan::apps::volume_labels(server, &m.source))),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    // Readable by the user the tasks run as only, as local secret files.
    let [uid, gid] = w.secret_owner.unwrap_or([0, 0]);
    let secrets = w
        .secrets
        .iter()
        .map(|s| TaskSpecContainerSpecSecrets {
            file: Some(TaskSpecContainerSpecFile {
                name: Some(s.target.clone()),
                uid: Some(uid.to_string()),
                gid: Some(gid.to_string()),
                mode: Some(0o400),
            }),
            secret_id: ids.get(&s.object).cloned(),
            secret_name: Some(s.object.clone()),
        })
        .collect();
    let configs = w
        .configs
        .iter()
        .map(|c| TaskSpecContainerSpecConfigs {
            file: Some(TaskSpecContainerSpecFile1 {
                name: Some(c.target.clone()),
                uid: Some("0".into()),
                gid: Some("0".into()),
                mode: Some(0o444),
            }),
            config_id: ids.get(&c.object).cloned(),
            config_name: Some(c.object.clone()),
            ..Default::default()
        })
        .collect();
    let [interval, timeout, retries] = w.health_timing();
    let health = w.health.as_ref().map(|cmd| HealthConfig {
        test: Some(vec!["CMD-SHELL".into(), cmd.clone()]),
        interval: Some(secs(interval.into())),
        timeout: Some(secs(timeout.into())),
        retries: Some(retries.into()),
        start_period: Some(secs(w.start_period)),
        ..Default::default()
    });
    let container = TaskSpecContainerSpec {
        image: Some(w.image.clone()),
        command: (!w.command.is_empty()).then(|| w.command.clone()),
        user: (!w.user.is_empty()).then(|| w.user.clone()),
        env: Some(w.env.clone()),
        mounts: Some(mounts),
        stop_grace_period: Some(secs(w.stop_grace.into())),
        health_check: health,
        secrets: Some(secrets),
        configs: Some(configs),
        // As local containers: a small init passes signals on.
        init: Some(true),
        ..Default::default()
    };
    let restart = match w.restart.as_str() {
        "none" => TaskSpecRestartPolicyConditionEnum::NONE,
        "on-failure" => TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
        _ => TaskSpecRestartPolicyConditionEnum::ANY,
    };
    let (order, rorder) = if w.start_first {
        (
            ServiceSpecUpdateConfigOrderEnum::START_FIRST,
            ServiceSpecRollbackConfigOrderEnum::START_FIRST,
        )
    } else {
        (
            ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
            ServiceSpecRollbackConfigOrderEnum::STOP_FIRST,
        )
    };
    let ports: Vec<EndpointPortConfig> = w
        .ports
        .iter()
        .map(|p| EndpointPortConfig {
            protocol: Some(EndpointPortConfigProtocolEnum::TCP),
            target_port: Some(p.target.into()),
            published_port: Some(p.published.into()),
            publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
            ..Default::default()
        })
        .collect();
    ServiceSpec {
        name: Some(w.name.clone()),
        labels: Some(to_map(&w.service_labels(server, key))),
        task_template: Some(TaskSpec {
            container_spec: Some(container),
            resources: Some(TaskSpecResources {
                limits: w.memory.map(|m| Limit {
                    memory_bytes: Some(m),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            restart_policy: Some(TaskSpecRestartPolicy {
                condition: Some(restart),
                delay: Some(secs(1)),
                ..Default::default()
            }),
            placement: Some(TaskSpecPlacement {
                constraints: Some(w.constraints.clone()),
                preferences: Some(vec![TaskSpecPlacementPreferences {
                    spread: Some(TaskSpecPlacementSpread {
                        spread_descriptor: Some("node.id".into()),
                    }),
                }]),
                ..Default::default()
            }),
            networks: Some(
                w.networks
                    .iter()
                    .map(|n| NetworkAttachmentConfig {
                        target: Some(n.clone()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(w.replicas.into()),
            }),
            ..Default::default()
        }),
        update_config: Some(ServiceSpecUpdateConfig {
            parallelism: Some(1),
            delay: Some(secs(w.update_delay)),
            failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
            monitor: Some(secs(w.monitor)),
            max_failure_ratio: Some(0.0),
            order: Some(order),
        }),
        rollback_config: Some(ServiceSpecRollbackConfig {
            parallelism: Some(1),
            delay: Some(0),
            failure_action: Some(ServiceSpecRollbackConfigFailureActionEnum::PAUSE),
            monitor: Some(secs(w.monitor)),
            max_failure_ratio: Some(0.0),
            order: Some(rorder),
        }),
        endpoint_spec: Some(EndpointSpec {
            mode: Some(match w.endpoint {
                Endpoint::Dnsrr => EndpointSpecModeEnum::DNSRR,
                Endpoint::Vip => EndpointSpecModeEnum::VIP,
            }),
            ports: Some(ports),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::observed::labels;
    use crate::plan::swarm::FileRef;

    #[test]
    fn the_spec_carries_the_rolling_update_and_rollback_policy() {
        let w = ServiceWant {
            name: "web".into(),
            image: "i:1".into(),
            replicas: 3,
            command: vec![],
            env: vec![],
            mounts: vec![],
            memory: Some(64 << 20),
            restart: "any".into(),
            stop_grace: 10,
            health: Some("true".into()),
            health_timing: Some([2, 4, 5]),
            start_period: 6,
            user: "100:101".into(),
            constraints: vec![],
            networks: vec!["conteneur-front".into()],
            secrets: vec![FileRef {
                object: "web-token-0123456789ab".into(),
                target: "token".into(),
            }],
            secret_owner: Some([100, 101]),
            configs: vec![],
            ports: vec![],
            start_first: true,
            update_delay: 2,
            monitor: 3,
            endpoint: Endpoint::Dnsrr,
            labels: BTreeMap::new(),
        };
        let spec = service_spec(&w, "/srv", &LabelKey::default(), &HashMap::new());
        let u = spec.update_config.expect("update config");
        assert_eq!(u.parallelism, Some(1));
        assert_eq!(u.delay, Some(2_000_000_000));
        assert_eq!(u.monitor, Some(3_000_000_000));
        assert_eq!(
            u.failure_action,
            Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK)
        );
        assert_eq!(u.order, Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST));
        assert_eq!(
            spec.endpoint_spec.and_then(|e| e.mode),
            Some(EndpointSpecModeEnum::DNSRR)
        );
        assert_eq!(
            spec.mode
                .and_then(|m| m.replicated)
                .and_then(|r| r.replicas),
            Some(3)
        );
        let labels = spec.labels.expect("labels");
        assert_eq!(labels.get(labels::SERVER).map(String::as_str), Some("/srv"));
        let task = spec.task_template.expect("task");
        let c = task.container_spec.expect("container");
        assert_eq!(c.user.as_deref(), Some("100:101"));
        // The secret file is the user's, as a local secret file is.
        let file = c.secrets.clone().unwrap_or_default()[0]
            .file
            .clone()
            .expect("secret file");
        assert_eq!(
            (file.uid.as_deref(), file.gid.as_deref(), file.mode),
            (Some("100"), Some("101"), Some(0o400))
        );
        let h = c.health_check.clone().expect("health check");
        assert_eq!(
            (h.interval, h.timeout, h.retries, h.start_period),
            (
                Some(2_000_000_000),
                Some(4_000_000_000),
                Some(5),
                Some(6_000_000_000)
            )
        );
        assert_eq!(
            c.health_check.and_then(|h| h.test),
            Some(vec!["CMD-SHELL".to_string(), "true".to_string()])
        );
        // conteneur's labels on the service, never on the task's containers.
        assert!(c.labels.is_none());
    }
}
