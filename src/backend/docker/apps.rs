//! Docker's side of applications: private networks and the name each
//! container has there, in-container health checks, process settings,
//! hardening, labelled named volumes, and the user a container runs as
//! (for the ownership of its secret files).

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HealthStatusEnum, NetworkConnectRequest,
    NetworkCreateRequest, NetworkingConfig, VolumeCreateRequest,
};
use bollard::query_parameters::{
    DownloadFromContainerOptions, ListNetworksOptions, ListVolumesOptions,
};
use futures_util::StreamExt;

use super::{DockerBackend, engine_message};
use crate::backend::BackendError;
use crate::plan::apps::network_name;
use crate::plan::launch::Launch;
use crate::plan::observed::{Kind, ObservedResource, labels};

const SECOND: i64 = 1_000_000_000;

/// The engine names of the networks of `launch` (the server is in its labels).
fn engine_networks(launch: &Launch, labels: &BTreeMap<String, String>) -> Vec<String> {
    let server = labels.get(labels::SERVER).map(String::as_str).unwrap_or("");
    launch
        .app
        .networks
        .iter()
        .map(|n| network_name(server, n))
        .collect()
}

/// The endpoint of a container on one of its networks: reached there by its
/// configured name, whatever its engine name (`NAME.next` while it is
/// being switched in).
fn endpoint(launch: &Launch) -> EndpointSettings {
    EndpointSettings {
        aliases: Some(vec![launch.name.clone()]),
        ..Default::default()
    }
}

/// Adds the application settings of `launch` to a create body.
pub fn apply(body: &mut ContainerCreateBody, launch: &Launch, labels: &BTreeMap<String, String>) {
    let app = &launch.app;
    if !app.command.is_empty()
        && let Ok(words) = app.command.words()
    {
        body.cmd = Some(words.to_vec());
    }
    if !app.user.is_empty() {
        body.user = Some(app.user.clone());
    }
    if let Some(h) = &launch.health.command {
        body.healthcheck = Some(HealthConfig {
            test: Some(vec!["CMD-SHELL".into(), h.command.clone()]),
            interval: Some(i64::from(h.interval) * SECOND),
            timeout: Some(i64::from(h.timeout) * SECOND),
            retries: Some(i64::from(h.retries)),
            start_period: Some(i64::from(h.start_period) * SECOND),
            ..Default::default()
        });
    }
    // Docker's API before 1.44 takes one network at create; the others are
    // connected before the start (see `connect_others`).
    if let Some(first) = engine_networks(launch, labels).into_iter().next() {
        body.networking_config = Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(first.clone(), endpoint(launch))])),
        });
        if let Some(hc) = body.host_config.as_mut() {
            hc.network_mode = Some(first);
        }
    }
    if let Some(hc) = body.host_config.as_mut() {
        if app.no_new_privileges {
            hc.security_opt = Some(vec!["no-new-privileges:true".into()]);
        }
        if app.read_only {
            hc.readonly_rootfs = Some(true);
        }
        if !app.tmpfs.is_empty() {
            let options = tmpfs_options(&app.user);
            hc.tmpfs = Some(
                app.tmpfs
                    .iter()
                    .map(|p| (p.clone(), options.clone()))
                    .collect(),
            );
        }
    }
}

/// The options of an in-memory folder: sticky and writable by all, as
/// /tmp, and owned by the container's user when it is given as numbers
/// (some kernels keep a tmpfs root at 0755 whatever `mode` says; `uid`
/// and `gid` hold everywhere).
pub fn tmpfs_options(user: &str) -> String {
    let mut o = "mode=1777".to_string();
    let mut ids = user.splitn(2, ':');
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(u) = ids.next().filter(|u| numeric(u)) {
        o.push_str(&format!(",uid={u}"));
        let g = ids.next().filter(|g| numeric(g)).unwrap_or(u);
        o.push_str(&format!(",gid={g}"));
    }
    o
}

/// The first file of a tar stream (what the archive API sends), or None.
fn first_file(tar: &[u8]) -> Option<Vec<u8>> {
    let header = tar.get(..512)?;
    let size_field = std::str::from_utf8(header.get(124..136)?).ok()?;
    let size =
        usize::from_str_radix(size_field.trim_matches(|c: char| c == '\0' || c == ' '), 8).ok()?;
    tar.get(512..512 + size).map(<[u8]>::to_vec)
}

/// `name`'s field `field` in a passwd/group file (`name:x:1:2:…`).
fn lookup(file: &str, name: &str, field: usize) -> Option<u32> {
    file.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&name))
        .and_then(|f| f.get(field).and_then(|v| v.parse().ok()))
}

/// `user[:group]` as numbers, names looked up in `passwd` and `group`.
pub fn resolve_user(spec: &str, passwd: &str, group: &str) -> Result<(u32, u32), String> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, primary) = if user.is_empty() {
        (0, Some(0))
    } else if let Ok(n) = user.parse::<u32>() {
        // A uid without a passwd entry keeps gid = uid, as Docker does not:
        // Docker gives gid 0, which would let group root read the file.
        let gid = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.get(2).and_then(|v| v.parse::<u32>().ok()) == Some(n))
            .and_then(|f| f.get(3).and_then(|v| v.parse().ok()));
        (n, gid.or(Some(n)))
    } else {
        let uid = lookup(passwd, user, 2)
            .ok_or_else(|| format!("the user '{user}' is not in the image's /etc/passwd"))?;
        (uid, lookup(passwd, user, 3))
    };
    let gid = match grp {
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => lookup(group, g, 2)
                .ok_or_else(|| format!("the group '{g}' is not in the image's /etc/group"))?,
        },
        None => primary.unwrap_or(uid),
    };
    Ok((uid, gid))
}

impl DockerBackend {
    /// The engine's networks and volumes labelled as conteneur's.
    pub(super) async fn inspect_resources(
        &self,
    ) -> Result<(Vec<ObservedResource>, Vec<ObservedResource>), BackendError> {
        let filter = HashMap::from([("label".to_string(), vec![labels::MANAGED.to_string()])]);
        let networks = async {
            self.docker
                .list_networks(Some(ListNetworksOptions {
                    filters: Some(filter.clone()),
                }))
                .await
                .map_err(|e| {
                    BackendError::Other(format!("listing networks failed: {}", engine_message(&e)))
                })
        };
        let volumes = async {
            self.docker
                .list_volumes(Some(ListVolumesOptions {
                    filters: Some(filter.clone()),
                }))
                .await
                .map_err(|e| {
                    BackendError::Other(format!("listing volumes failed: {}", engine_message(&e)))
                })
        };
        let (networks, volumes) = tokio::try_join!(networks, volumes)?;
        let nets = networks
            .into_iter()
            .map(|n| ObservedResource {
                backend: Kind::Docker,
                id: n.id.unwrap_or_default(),
                name: n.name.unwrap_or_default(),
                labels: n.labels.unwrap_or_default().into_iter().collect(),
            })
            .collect();
        let vols = volumes
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| ObservedResource {
                backend: Kind::Docker,
                id: v.name.clone(),
                name: v.name,
                labels: v.labels.into_iter().collect(),
            })
            .collect();
        Ok((nets, vols))
    }

    /// Connects a created container to its networks beyond the first.
    pub(super) async fn connect_others(
        &self,
        id: &str,
        launch: &Launch,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), BackendError> {
        for net in engine_networks(launch, labels).into_iter().skip(1) {
            self.docker
                .connect_network(
                    &net,
                    NetworkConnectRequest {
                        container: id.to_string(),
                        endpoint_config: Some(endpoint(launch)),
                    },
                )
                .await
                .map_err(|e| self.container_err(&launch.name, "joining a network", e))?;
        }
        Ok(())
    }

    /// [`Backend::retire`]: restart policy `no`, and each user-defined
    /// network joined again without aliases (Docker sets aliases when a
    /// container connects, never later).
    pub(super) async fn retire_instance(&self, id: &str) -> Result<(), BackendError> {
        use bollard::models::{ContainerUpdateBody, NetworkDisconnectRequest};
        self.docker
            .update_container(
                id,
                ContainerUpdateBody {
                    restart_policy: Some(bollard::models::RestartPolicy {
                        name: Some(bollard::models::RestartPolicyNameEnum::NO),
                        maximum_retry_count: None,
                    }),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| self.container_err(id, "retire (restart policy no)", e))?;
        let c = self.inspect_one(id).await?;
        let nets = c
            .network_settings
            .and_then(|n| n.networks)
            .unwrap_or_default();
        for (net, ep) in nets {
            let aliased = ep.aliases.as_ref().is_some_and(|a| !a.is_empty());
            if !aliased || matches!(net.as_str(), "bridge" | "host" | "none") {
                continue;
            }
            self.docker
                .disconnect_network(
                    &net,
                    NetworkDisconnectRequest {
                        container: id.to_string(),
                        force: Some(false),
                    },
                )
                .await
                .map_err(|e| self.container_err(id, "retire (leaving a network)", e))?;
            self.docker
                .connect_network(
                    &net,
                    NetworkConnectRequest {
                        container: id.to_string(),
                        endpoint_config: Some(EndpointSettings::default()),
                    },
                )
                .await
                .map_err(|e| self.container_err(id, "retire (joining a network again)", e))?;
        }
        Ok(())
    }

    pub(super) async fn health_of(
        &self,
        id: &str,
    ) -> Result<Option<(String, String)>, BackendError> {
        let c = self.inspect_one(id).await?;
        let Some(h) = c.state.and_then(|s| s.health) else {
            return Ok(None);
        };
        let status = match h.status {
            None | Some(HealthStatusEnum::EMPTY | HealthStatusEnum::NONE) => return Ok(None),
            Some(s) => s.to_string(),
        };
        let last = h
            .log
            .and_then(|l| l.last().and_then(|r| r.output.clone()))
            .unwrap_or_default();
        Ok(Some((status, last.trim().chars().take(300).collect())))
    }

    pub(super) async fn network_create(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<String, BackendError> {
        let r = self
            .docker
            .create_network(NetworkCreateRequest {
                name: name.to_string(),
                driver: Some("bridge".into()),
                labels: Some(labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                ..Default::default()
            })
            .await
            .map_err(|e| {
                BackendError::Other(format!(
                    "creating the network {name} failed: {}",
                    engine_message(&e)
                ))
            })?;
        Ok(r.id)
    }

    pub(super) async fn network_remove(&self, id: &str) -> Result<(), BackendError> {
        match self.docker.remove_network(id).await {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(BackendError::Other(format!(
                "removing the network {} failed: {}",
                crate::plan::observed::short_id(id),
                engine_message(&e)
            ))),
        }
    }

    pub(super) async fn volume_ensure(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), BackendError> {
        if self.docker.inspect_volume(name).await.is_ok() {
            return Ok(());
        }
        self.docker
            .create_volume(VolumeCreateRequest {
                name: Some(name.to_string()),
                labels: Some(labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                ..Default::default()
            })
            .await
            .map_err(|e| {
                BackendError::Other(format!(
                    "creating the volume {name} failed: {}",
                    engine_message(&e)
                ))
            })?;
        Ok(())
    }

    /// A file of a created (or running) container.
    async fn read_file(&self, id: &str, path: &str) -> Result<String, BackendError> {
        let mut stream = self.docker.download_from_container(
            id,
            Some(DownloadFromContainerOptions {
                path: path.to_string(),
            }),
        );
        let mut tar = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.container_err(id, "reading a file", e))?;
            tar.extend_from_slice(&chunk);
            if tar.len() > 4 * 1024 * 1024 {
                break;
            }
        }
        Ok(first_file(&tar)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default())
    }

    pub(super) async fn ids_of_user(&self, id: &str) -> Result<(u32, u32), BackendError> {
        let c = self.inspect_one(id).await?;
        let spec = c.config.and_then(|c| c.user).unwrap_or_default();
        let numeric = spec
            .split(':')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        let (passwd, group) = if spec.is_empty() || numeric {
            (String::new(), String::new())
        } else {
            (
                self.read_file(id, "/etc/passwd").await.unwrap_or_default(),
                self.read_file(id, "/etc/group").await.unwrap_or_default(),
            )
        };
        resolve_user(&spec, &passwd, &group).map_err(|message| BackendError::Container {
            name: id.to_string(),
            action: "finding its user",
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_resolve_from_the_image_files() {
        let passwd = "root:x:0:0::/root:/bin/sh\nmysql:x:100:101::/nonexistent:/bin/false\n";
        let group = "root:x:0:\nmysql:x:101:\nwww-data:x:33:\n";
        assert_eq!(resolve_user("", passwd, group), Ok((0, 0)));
        assert_eq!(resolve_user("mysql", passwd, group), Ok((100, 101)));
        assert_eq!(resolve_user("mysql:www-data", passwd, group), Ok((100, 33)));
        assert_eq!(resolve_user("100", passwd, group), Ok((100, 101)));
        assert_eq!(resolve_user("1000", passwd, group), Ok((1000, 1000)));
        assert_eq!(resolve_user("1000:5", passwd, group), Ok((1000, 5)));
        assert!(resolve_user("nobody", passwd, group).is_err());
    }

    #[test]
    fn tmpfs_belongs_to_a_numeric_user() {
        assert_eq!(tmpfs_options(""), "mode=1777");
        assert_eq!(tmpfs_options("www-data"), "mode=1777");
        assert_eq!(tmpfs_options("1234"), "mode=1777,uid=1234,gid=1234");
        assert_eq!(tmpfs_options("1234:5"), "mode=1777,uid=1234,gid=5");
    }

    #[test]
    fn the_first_file_of_a_tar() {
        let mut tar = vec![0u8; 1024];
        tar[..4].copy_from_slice(b"file");
        tar[124..135].copy_from_slice(b"00000000005");
        tar[512..517].copy_from_slice(b"hello");
        assert_eq!(first_file(&tar), Some(b"hello".to_vec()));
        assert_eq!(first_file(&[]), None);
    }
}
