//! Where Creole's containers put things: whether containers are on
//! (`mode_conteneur_actif`), which `<file>`s apply in this mode
//! (`instance_mode`), and the folder each file renders under (its
//! container's `container_path_NAME`).
//!
//! Its own file because it reads values (the generated container
//! variables) for the template module, which only asks.

use super::{Config, ValueError};
use crate::dico::FileDecl;
use crate::dico::containers::{self, ALL, MODE_VARIABLE};

impl Config {
    /// Whether LXC containers are on (`mode_conteneur_actif` is `oui`).
    pub fn containers_on(&self) -> bool {
        self.first(MODE_VARIABLE).as_deref() == Some("oui")
    }

    /// Whether a file's `instance_mode` lets it apply in the current mode:
    /// `when_container` only with containers on, `when_no_container` only
    /// with them off, anything else always.
    pub fn instance_mode_applies(&self, instance_mode: Option<&str>) -> bool {
        match instance_mode {
            Some("when_container") => self.containers_on(),
            Some("when_no_container") => !self.containers_on(),
            _ => true,
        }
    }

    /// The folders a `<file>` renders under, as absolute paths on the host
    /// ("" for the host's own `/`): its container's `container_path_NAME`
    /// (empty when containers are off: every container is the host), and
    /// for `<all>`, the host and every container group. Never empty.
    pub fn file_roots(&self, file: &FileDecl) -> Result<Vec<String>, ValueError> {
        let Some(container) = file.container.as_deref() else {
            return Ok(vec![String::new()]);
        };
        let names: Vec<&str> = if container == ALL {
            let mut groups = vec![containers::ROOT];
            for c in self.dictionaries().containers.values() {
                if !groups.contains(&c.group.as_str()) {
                    groups.push(&c.group);
                }
            }
            groups
        } else {
            vec![container]
        };
        let mut roots: Vec<String> = Vec::new();
        for name in names {
            let var = containers::path_variable(name);
            let path = if self.dictionaries().variables.contains_key(&var) {
                self.get(&var)?.first().unwrap_or_default().to_string()
            } else {
                String::new()
            };
            let path = path.trim_end_matches('/').to_string();
            if !roots.contains(&path) {
                roots.push(path);
            }
        }
        Ok(roots)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{cfg_with, one};

    const COMMON: &str = "<creole><variables><family name='g'>
        <variable name='mode_conteneur_actif' type='oui/non' hidden='True'><value>non</value></variable>
        </family></variables></creole>";
    const MODULE: &str = "<creole><containers>
        <container name='fichier' id='12'><file name='/etc/samba/smb.conf'/></container>
        <container name='smb' group='fichier'/>
        <container name='dns' id='51'/>
        <all><file name='/etc/motd' instance_mode='when_container'/></all>
        </containers></creole>";

    #[test]
    fn off_every_container_is_the_host() {
        let c = cfg_with(&[("00_c.xml", COMMON), ("20_m.xml", MODULE)], "{}");
        assert_eq!(
            one(&c, "container_ip_fichier").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(one(&c, "container_ip_smb").as_deref(), Some("127.0.0.1"));
        assert_eq!(one(&c, "container_path_fichier"), None);
        assert_eq!(one(&c, "container_name_dns").as_deref(), Some("root"));
        let smb = &c.dictionaries().files[0];
        assert_eq!(c.file_roots(smb).unwrap(), [""]);
        let motd = &c.dictionaries().files[1];
        assert!(!c.instance_mode_applies(motd.instance_mode.as_deref()));
        assert!(c.problems().is_empty(), "{:?}", c.problems());
    }

    #[test]
    fn on_containers_are_lxc_groups_addressed_by_id() {
        let c = cfg_with(
            &[("00_c.xml", COMMON), ("20_m.xml", MODULE)],
            r#"{"mode_conteneur_actif": {"val": "oui", "owner": "forced"}}"#,
        );
        assert_eq!(
            one(&c, "container_ip_fichier").as_deref(),
            Some("192.0.2.12")
        );
        // A member of a group is addressed as its group.
        assert_eq!(one(&c, "container_ip_smb").as_deref(), Some("192.0.2.12"));
        assert_eq!(one(&c, "container_name_smb").as_deref(), Some("fichier"));
        assert_eq!(
            one(&c, "container_path_smb").as_deref(),
            Some("/var/lib/lxc/fichier/rootfs")
        );
        assert_eq!(one(&c, "container_ip_dns").as_deref(), Some("192.0.2.51"));
        // The host stays itself.
        assert_eq!(one(&c, "container_ip_root").as_deref(), Some("127.0.0.1"));
        assert_eq!(one(&c, "container_path_root"), None);
        let smb = &c.dictionaries().files[0];
        assert_eq!(c.file_roots(smb).unwrap(), ["/var/lib/lxc/fichier/rootfs"]);
        let motd = &c.dictionaries().files[1];
        assert!(c.instance_mode_applies(motd.instance_mode.as_deref()));
        assert_eq!(
            c.file_roots(motd).unwrap(),
            ["", "/var/lib/lxc/fichier/rootfs", "/var/lib/lxc/dns/rootfs"]
        );
        assert!(c.problems().is_empty(), "{:?}", c.problems());
    }
}
