//! Creole's container model: what `<containers>` declares, and the
//! variables Creole generates for each container and group.
//!
//! A dictionary declares `<containers><container name=N id=I group=G>`
//! holding `<file>`, `<service>`, `<package>`, `<host>`, `<interface>`,
//! `<fstab>` and `<disknod>` (and `<all>`, for what goes in every
//! container). Creole then makes, for every container and every group,
//! `container_ip_N`, `container_path_N` and `container_name_N`, which real
//! dictionaries and templates read (`container_ip_dns`,
//! `container_name_dns`, `<auto … target='revprox_eop'>` reading
//! `container_ip_fichier`). Their values depend on `mode_conteneur_actif`:
//!
//! | mode | `container_ip_N` | `container_path_N` | `container_name_N` |
//! |---|---|---|---|
//! | `non` (default) | `127.0.0.1` | unset (the host's `/`) | `root` |
//! | `oui` | `192.0.2.<id of the group>` | `/var/lib/lxc/<group>/rootfs` | `<group>` |
//!
//! docs/dictionaries.md ("Containers") says which of these is read off the
//! real material and which is inferred.

use super::model::Location;

/// The pseudo-container that stands for the host itself.
pub const ROOT: &str = "root";
/// The pseudo-container whose content goes in every container.
pub const ALL: &str = "all";
/// The variable that switches LXC containers on (`oui`) or off (`non`).
pub const MODE_VARIABLE: &str = "mode_conteneur_actif";
/// The family the generated variables live in (hidden, expert).
pub const FAMILY: &str = "containers";
/// The calculation that gives a generated variable its value.
pub const CALC: &str = "calc_container";
/// The network EOLE's LXC containers live on (the host's bridge `br0` is
/// `.1`; a container group is addressed by its `id`).
pub const NETWORK_PREFIX: &str = "192.0.2.";
/// Where a container group's root file system lives in `oui` mode.
pub const LXC_ROOT: &str = "/var/lib/lxc";

/// A `<container>` declaration (all the dictionaries' declarations of one
/// name, merged).
#[derive(Debug, Clone)]
pub struct Container {
    pub name: String,
    /// `id`: the last byte of the group's address in `oui` mode.
    pub id: Option<u8>,
    /// `group`: the LXC container it runs in (its own name by default).
    pub group: String,
    pub loc: Location,
}

/// What a container element (or `<files>`, for the host) declares besides
/// files and services. Creole acts on these at instance time (packages to
/// install, `/etc/hosts` lines, interfaces, mounts, device nodes, firewall
/// openings); conteneur reads and keeps them, so that `lint` can say what
/// they refer to, and does not act on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// `<package instance_mode=…>NAME</package>`.
    Package,
    /// `<host name= ip= hostlist= instance_mode= …/>`.
    Host,
    /// `<interface linkto= ip= mask= bcast= method=…>NAME</interface>`.
    Interface,
    /// `<fstab name= type= options= fstablist=…>SOURCE</fstab>`.
    Fstab,
    /// `<disknod>DEVICE</disknod>`.
    Disknod,
    /// A `<port port_type= service_accesslist= protocol=…>` of a
    /// `<service_access service=…>`.
    Port,
    /// A `<tcpwrapper>` of a `<service_access>`.
    Tcpwrapper,
    /// An `<ip interface= interface_type= netmask= service_restrictionlist=…>`
    /// of a `<service_restriction service=…>`.
    Ip,
}

impl ItemKind {
    pub fn element(self) -> &'static str {
        match self {
            ItemKind::Package => "package",
            ItemKind::Host => "host",
            ItemKind::Interface => "interface",
            ItemKind::Fstab => "fstab",
            ItemKind::Disknod => "disknod",
            ItemKind::Port => "port",
            ItemKind::Tcpwrapper => "tcpwrapper",
            ItemKind::Ip => "ip",
        }
    }

    pub fn from_element(name: &str) -> Option<ItemKind> {
        Some(match name {
            "package" => ItemKind::Package,
            "host" => ItemKind::Host,
            "interface" => ItemKind::Interface,
            "fstab" => ItemKind::Fstab,
            "disknod" => ItemKind::Disknod,
            "port" => ItemKind::Port,
            "tcpwrapper" => ItemKind::Tcpwrapper,
            "ip" => ItemKind::Ip,
            _ => return None,
        })
    }

    /// The attributes Creole's DTD gives the element; any other is noted.
    pub fn attributes(self) -> &'static [&'static str] {
        match self {
            ItemKind::Package => &["instance_mode"],
            ItemKind::Host => &[
                "name",
                "ip",
                "ip_type",
                "crossed",
                "instance_mode",
                "comment",
                "hostlist",
            ],
            ItemKind::Interface => &[
                "name",
                "linkto",
                "ip",
                "ip_type",
                "mask",
                "mask_type",
                "bcast",
                "bcast_type",
                "gateway",
                "gateway_type",
                "method",
                "netmask",
                "netmask_type",
                "mode",
            ],
            ItemKind::Fstab => &[
                "name",
                "type",
                "options",
                "checks",
                "instance_mode",
                "fstablist",
            ],
            ItemKind::Disknod => &[],
            ItemKind::Port => &["port_type", "protocol", "service_accesslist", "tcpwrapper"],
            ItemKind::Tcpwrapper => &[],
            ItemKind::Ip => &[
                "interface",
                "interface_type",
                "netmask",
                "netmask_type",
                "ip_type",
                "service_restrictionlist",
            ],
        }
    }

    /// The attributes that name a variable when their `*_type` attribute
    /// says `SymLinkOption` (or always, for an interface's addresses).
    pub fn variable_attributes(self) -> &'static [(&'static str, Option<&'static str>)] {
        match self {
            ItemKind::Host => &[("ip", Some("ip_type"))],
            ItemKind::Interface => &[
                ("ip", None),
                ("mask", None),
                ("bcast", None),
                ("gateway", None),
            ],
            ItemKind::Ip => &[
                ("interface", Some("interface_type")),
                ("netmask", Some("netmask_type")),
            ],
            _ => &[],
        }
    }
}

/// One package, host, interface, mount, device or firewall opening.
#[derive(Debug, Clone)]
pub struct ContainerItem {
    pub kind: ItemKind,
    /// The container it is declared in: `None` for `<files>` (the host),
    /// `Some("all")` for `<all>`.
    pub container: Option<String>,
    /// The element's text: the package, the interface's name inside the
    /// container, the mount's source, the device, the port, the address.
    pub text: String,
    /// For `<port>`, `<tcpwrapper>` and `<ip>`: the `service` of the
    /// `<service_access>` or `<service_restriction>` holding it.
    pub service: Option<String>,
    /// Its attributes, as written.
    pub attrs: Vec<(String, String)>,
    pub loc: Location,
}

impl ContainerItem {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The variables this item names (its `SymLinkOption` attributes, and
    /// the text of an `<ip ip_type='SymLinkOption'>` or `<port
    /// port_type='SymLinkOption'>`).
    pub fn variables(&self) -> Vec<&str> {
        let symlink = |t: Option<&str>| {
            t.is_some_and(|t| t.eq_ignore_ascii_case("SymLinkOption") || t == "symlink")
        };
        let mut out = Vec::new();
        for (attr, ty) in self.kind.variable_attributes() {
            let named = match ty {
                None => true,
                Some(ty) => symlink(self.attr(ty)),
            };
            if named && let Some(v) = self.attr(attr).filter(|v| !v.trim().is_empty()) {
                out.push(v.trim());
            }
        }
        let text_type = match self.kind {
            ItemKind::Ip => self.attr("ip_type"),
            ItemKind::Port => self.attr("port_type"),
            _ => None,
        };
        if symlink(text_type) && !self.text.trim().is_empty() {
            out.push(self.text.trim());
        }
        out
    }
}

/// The names the generated variables of a container or group carry.
pub fn ip_variable(name: &str) -> String {
    format!("container_ip_{name}")
}
pub fn path_variable(name: &str) -> String {
    format!("container_path_{name}")
}
pub fn name_variable(name: &str) -> String {
    format!("container_name_{name}")
}
