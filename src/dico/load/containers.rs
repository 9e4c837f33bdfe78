//! The `<containers>` element (Creole's container model) and the
//! variables Creole generates for each container and group; the firewall
//! and system elements (`<host>`, `<interface>`, `<fstab>`, `<disknod>`,
//! `<package>`, `<service_access>`, `<service_restriction>`) that may sit
//! in a container or in `<files>`.
//!
//! Its own file because a container is a concept of its own: declared in
//! pieces across dictionaries, merged by name, and turned into generated
//! variables once every file is read.

use super::super::containers::{self, Container, ContainerItem, ItemKind};
use super::super::model::*;
use super::super::xml::Element;
use super::super::{DYNAMIC_PLACEHOLDER, VarType};
use super::{DicoError, FileCtx, Loader};

impl Loader {
    pub(super) fn read_containers(&mut self, ctx: &FileCtx<'_>, el: &Element) {
        for child in &el.children {
            match child.name.as_str() {
                "container" => self.read_container(ctx, child),
                "all" => {
                    self.unknown_attrs(ctx, child, &[]);
                    self.read_file_children(ctx, child, Some(containers::ALL));
                }
                other => self.notice(
                    ctx.loc(child),
                    format!("unknown element <{other}> in <containers> is ignored"),
                ),
            }
        }
    }

    fn read_container(&mut self, ctx: &FileCtx<'_>, el: &Element) {
        self.unknown_attrs(ctx, el, &["name", "id", "group"]);
        let loc = ctx.loc(el);
        let Some(name) = el.attr("name").map(str::trim).filter(|n| !n.is_empty()) else {
            self.warn(
                loc,
                None,
                "<container> has no 'name': it is left out, with what it holds",
            );
            return;
        };
        if name == containers::ALL || name.contains(DYNAMIC_PLACEHOLDER) {
            self.warn(
                loc,
                None,
                format!(
                    "'{name}' cannot be the name of a <container>: it is left out, with what it holds"
                ),
            );
            return;
        }
        let id = match el.attr("id").map(str::trim) {
            None | Some("") => None,
            Some(raw) => match raw.parse::<u8>() {
                Ok(n) if (2..=254).contains(&n) => Some(n),
                // Creole reads it into an address: a dictionary with another
                // id does not build a container (a warning: the value of its
                // container_ip_* is unknown, everything else works).
                _ => {
                    self.warnings.push(DicoError::at(
                        &loc,
                        None,
                        format!(
                            "<container name='{name}'>: id must be a whole number from 2 to 254 (the last byte of {}0/24), found '{raw}'; its address is left unset",
                            containers::NETWORK_PREFIX
                        ),
                    ));
                    None
                }
            },
        };
        let group = el
            .attr("group")
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .unwrap_or(name)
            .to_string();
        match self.d.containers.get_mut(name) {
            Some(old) => {
                // Declared again (another package adds a file or a
                // service): the first id and group stand; a different one
                // is a warning, as it cannot be both.
                if let Some(id) = id {
                    match old.id {
                        None => old.id = Some(id),
                        Some(first) if first != id => self.warnings.push(DicoError::at(
                            &loc,
                            None,
                            format!(
                                "<container name='{name}'> has id {id} here but {first} at {}; {first} is kept",
                                old.loc
                            ),
                        )),
                        Some(_) => {}
                    }
                }
                if el.attr("group").is_some() && old.group != group {
                    self.warnings.push(DicoError::at(
                        &loc,
                        None,
                        format!(
                            "<container name='{name}'> is in group '{group}' here but '{}' at {}; '{}' is kept",
                            old.group, old.loc, old.group
                        ),
                    ));
                }
            }
            None => {
                self.d.containers.insert(
                    name.to_string(),
                    Container {
                        name: name.to_string(),
                        id,
                        group,
                        loc,
                    },
                );
            }
        }
        self.read_file_children(ctx, el, Some(name));
    }

    /// `<service_access service=…>` (`<port>`, `<tcpwrapper>`) and
    /// `<service_restriction service=…>` (`<ip>`): firewall openings.
    pub(super) fn read_firewall(
        &mut self,
        ctx: &FileCtx<'_>,
        el: &Element,
        container: Option<&str>,
    ) {
        self.unknown_attrs(ctx, el, &["service"]);
        let service = el.attr("service").map(str::to_string);
        for child in &el.children {
            match ItemKind::from_element(&child.name) {
                Some(kind @ (ItemKind::Port | ItemKind::Tcpwrapper | ItemKind::Ip)) => {
                    self.read_item(ctx, child, kind, container, service.clone())
                }
                _ => self.notice(
                    ctx.loc(child),
                    format!(
                        "unknown element <{}> in <{}> is ignored",
                        child.name, el.name
                    ),
                ),
            }
        }
    }

    pub(super) fn read_item(
        &mut self,
        ctx: &FileCtx<'_>,
        el: &Element,
        kind: ItemKind,
        container: Option<&str>,
        service: Option<String>,
    ) {
        self.unknown_attrs(ctx, el, kind.attributes());
        self.d.items.push(ContainerItem {
            kind,
            container: container.map(str::to_string),
            text: el.text.trim().to_string(),
            service,
            attrs: el.attrs.clone(),
            loc: ctx.loc(el),
        });
    }

    /// Declares `container_ip_N`, `container_path_N` and `container_name_N`
    /// for every container and group (and the host, `root`, once any
    /// container is declared), each computed by `calc_container` from
    /// `mode_conteneur_actif`, in the hidden family `containers`. A name a
    /// dictionary declares itself is left to the dictionary.
    pub(super) fn generate_container_variables(&mut self) {
        if self.d.containers.is_empty() {
            return;
        }
        // Every container and group, the host first, each once.
        let mut names: Vec<(String, Location)> = Vec::new();
        let first_loc = self.d.containers[0].loc.clone();
        names.push((containers::ROOT.to_string(), first_loc));
        for c in self.d.containers.values() {
            for n in [&c.name, &c.group] {
                if !names.iter().any(|(m, _)| m == n) {
                    names.push((n.clone(), c.loc.clone()));
                }
            }
        }
        for (name, loc) in names {
            let (group, id) = self.group_of(&name);
            let lxc_ip = id.map(|id| format!("{}{id}", containers::NETWORK_PREFIX));
            let lxc_path = format!("{}/{group}/rootfs", containers::LXC_ROOT);
            let (ip_oui, path_oui, name_oui) = if name == containers::ROOT {
                // The host: itself in both modes.
                (
                    Some("127.0.0.1".to_string()),
                    None,
                    containers::ROOT.to_string(),
                )
            } else {
                (lxc_ip, Some(lxc_path), group.clone())
            };
            let vars = [
                (
                    containers::ip_variable(&name),
                    VarType::Ip,
                    "IP address of container",
                    ip_oui,
                    Some("127.0.0.1".to_string()),
                ),
                (
                    containers::path_variable(&name),
                    VarType::Filename,
                    "Path of container",
                    path_oui,
                    None,
                ),
                (
                    containers::name_variable(&name),
                    VarType::String,
                    "Name of container",
                    Some(name_oui),
                    Some(containers::ROOT.to_string()),
                ),
            ];
            for (var, ty, what, oui, non) in vars {
                self.generate_variable(&var, ty, &format!("{what} {name}"), oui, non, &loc);
            }
        }
    }

    /// The group a container or group name runs in, and the group's id (the
    /// id of the container named like the group, else of the first member
    /// that has one).
    fn group_of(&self, name: &str) -> (String, Option<u8>) {
        let group = self
            .d
            .containers
            .get(name)
            .map(|c| c.group.clone())
            .unwrap_or_else(|| name.to_string());
        let id = self
            .d
            .containers
            .get(&group)
            .and_then(|c| c.id)
            .or_else(|| {
                self.d
                    .containers
                    .values()
                    .filter(|c| c.group == group)
                    .find_map(|c| c.id)
            });
        (group, id)
    }

    fn generate_variable(
        &mut self,
        var: &str,
        ty: VarType,
        description: &str,
        oui: Option<String>,
        non: Option<String>,
        loc: &Location,
    ) {
        if self.d.variables.contains_key(var) {
            return;
        }
        let family = containers::FAMILY.to_string();
        let fam = self
            .d
            .families
            .entry(family.clone())
            .or_insert_with(|| Family {
                name: family.clone(),
                mode: Mode::Expert,
                hidden: true,
                icon: None,
                variables: Vec::new(),
                dynamic: None,
                loc: loc.clone(),
            });
        fam.variables.push(var.to_string());
        self.d.variables.insert(
            var.to_string(),
            Variable {
                name: var.to_string(),
                ty,
                description: description.to_string(),
                mode: Mode::Expert,
                mandatory: false,
                hidden: true,
                multi: false,
                disabled: false,
                auto_freeze: false,
                auto_save: false,
                defaults: Vec::new(),
                family,
                dynamic: false,
                template: None,
                loc: loc.clone(),
            },
        );
        let param = |name: &str, value: ParamValue, optional: bool| Param {
            name: Some(name.to_string()),
            value,
            optional,
            read_disabled: true,
            loc: loc.clone(),
        };
        let mut params = vec![param(
            "mode_container",
            ParamValue::Variable(containers::MODE_VARIABLE.to_string()),
            true,
        )];
        if let Some(v) = oui {
            params.push(param("container_info", ParamValue::Text(v), false));
        }
        if let Some(v) = non {
            params.push(param("root_info", ParamValue::Text(v), false));
        }
        self.d.calcs.insert(
            var.to_string(),
            Calc {
                kind: CalcKind::Auto,
                func: containers::CALC.to_string(),
                target: var.to_string(),
                params,
                loc: loc.clone(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::load_texts;

    const COMMON: &str = "<creole><variables><family name='général'>
        <variable name='mode_conteneur_actif' type='oui/non' hidden='True'><value>non</value></variable>
        </family></variables></creole>";

    #[test]
    fn containers_merge_and_generate_their_variables() {
        let a = "<creole><containers>
            <container name='fichier' id='12'><package>samba</package>
              <file name='/etc/samba/smb.conf' owner='root' group='root' del_comment='#'/>
              <service>smbd</service>
              <host name='ldap' ip='adresse_ip_ldap' ip_type='SymLinkOption' hostlist='h' instance_mode='always'/>
              <interface linkto='eth0' ip='adresse_ip_fichier_link' mask='adresse_mask_fichier_link' bcast='adresse_bcast_fichier_link' method='macvlan'>eth0</interface>
              <fstab name='/home' type='bind'>/home</fstab><disknod>/dev/loop0</disknod>
            </container>
            <container name='smb' group='fichier'/>
            <all><file name='/etc/motd' instance_mode='when_container'/></all>
          </containers></creole>";
        let b = "<creole><containers><container name='fichier'><file name='/etc/x'/></container>
            <container name='dns' id='51'/></containers></creole>";
        let out = load_texts(&[("00_c.xml", COMMON), ("20_a.xml", a), ("30_b.xml", b)]);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        // The variables the host and interface name are not declared here:
        // a warning each, nothing stops.
        let w: Vec<String> = out.warnings.iter().map(|e| e.to_string()).collect();
        assert_eq!(w.len(), 4, "{w:#?}");
        assert!(
            w[0].starts_with("20_a.xml:5:15: variable 'adresse_ip_ldap': <host> names"),
            "{w:?}"
        );
        let d = out.dicos;
        assert_eq!(d.containers.len(), 3);
        assert_eq!(d.containers["fichier"].id, Some(12));
        assert_eq!(d.containers["smb"].group, "fichier");
        for n in ["root", "fichier", "smb", "dns"] {
            for k in ["ip", "path", "name"] {
                let var = format!("container_{k}_{n}");
                assert!(d.variables.contains_key(&var), "{var}");
                assert_eq!(d.calcs[&var].func, "calc_container");
            }
        }
        assert!(d.families["containers"].hidden);
        assert_eq!(
            d.files
                .iter()
                .filter(|f| f.container.as_deref() == Some("fichier"))
                .count(),
            2
        );
        let smb = d
            .files
            .iter()
            .find(|f| f.name == "/etc/samba/smb.conf")
            .unwrap();
        assert_eq!(smb.del_comment.as_deref(), Some("#"));
        assert_eq!(d.items.len(), 5);
        let iface = d
            .items
            .iter()
            .find(|i| i.kind.element() == "interface")
            .unwrap();
        assert_eq!(
            iface.variables(),
            [
                "adresse_ip_fichier_link",
                "adresse_mask_fichier_link",
                "adresse_bcast_fichier_link"
            ]
        );
        assert!(d.notices.is_empty(), "{:?}", d.notices);
    }

    #[test]
    fn a_container_without_a_usable_name_is_left_out_with_a_warning() {
        for c in ["<container id='12'/>", "<container name='all'/>"] {
            let xml = format!(
                "<creole><containers>{c}<container name='dns' id='51'/></containers></creole>"
            );
            let out = load_texts(&[("00_c.xml", COMMON), ("20_a.xml", &xml)]);
            assert!(out.errors.is_empty(), "{c}: {:?}", out.errors);
            assert!(
                out.warnings
                    .iter()
                    .any(|w| w.to_string().contains("left out")),
                "{c}: {:?}",
                out.warnings
            );
            assert!(out.dicos.variables.contains_key("container_ip_dns"), "{c}");
        }
    }

    #[test]
    fn a_conflicting_id_is_a_warning_not_an_error() {
        let a = "<creole><containers><container name='c' id='12'/></containers></creole>";
        let b = "<creole><containers><container name='c' id='13'/><container name='d' id='x'/></containers></creole>";
        let out = load_texts(&[("a.xml", a), ("b.xml", b)]);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let w: Vec<String> = out.warnings.iter().map(|e| e.to_string()).collect();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("12 is kept"), "{w:?}");
        assert!(w[1].contains("'x'"), "{w:?}");
    }
}
