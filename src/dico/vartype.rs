//! The Creole variable types.
//!
//! Every `<variable type="…">` of a Creole dictionary names one of these
//! types (a missing `type` means `string`). The type decides how a value is
//! validated (see `config::types`) and how it is stored in `config.eol`:
//! only `number` is a JSON integer there, every other type is a JSON string,
//! including `port` and the two-value choices such as `oui/non`, which are
//! *not* booleans.

use std::fmt;

/// One Creole variable type, named in dictionaries by [`VarType::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VarType {
    /// `oui/non`: the French yes/no choice, stored as the string `oui` or `non`.
    OuiNon,
    /// `yes/no`: stored as the string `yes` or `no`.
    YesNo,
    /// `on/off`: stored as the string `on` or `off`.
    OnOff,
    /// `string`: any text (the default type).
    String,
    /// `number`: a signed whole number, the only type stored as a JSON integer.
    Number,
    /// `ip`: any IPv4 address.
    Ip,
    /// `local_ip`: an IPv4 address that should be private (RFC 1918).
    LocalIp,
    /// `netmask`: an IPv4 netmask in dotted form with contiguous bits.
    Netmask,
    /// `network`: an IPv4 network address.
    Network,
    /// `broadcast`: an IPv4 broadcast address.
    Broadcast,
    /// `port`: a TCP/UDP port, 1 to 65535, stored as a string.
    Port,
    /// `domain`: a domain name, a bare name without dot, or an IPv4 address.
    Domain,
    /// `domain_strict`: a domain name with at least one dot, never an IP address.
    DomainStrict,
    /// `hostname`: a single DNS label, or an IPv4 address.
    Hostname,
    /// `hostname_strict`: a single DNS label, never an IP address.
    HostnameStrict,
    /// `web_address`: a web address (`https://host[:port][/path]` or a bare host).
    WebAddress,
    /// `filename`: a path, absolute or relative.
    Filename,
    /// `unix_user`: a Unix account name.
    UnixUser,
    /// `password`: any text; never echoed in error messages.
    Password,
    /// `mail`: an email address.
    Mail,
    /// `netbios`: a NetBIOS (Windows network) name of at most 15 characters.
    Netbios,
    /// `schedule`: when a scheduled task runs (`none`, `daily`, `weekly`, `monthly`).
    Schedule,
    /// `schedulemod`: whether a scheduled task runs before or after the backup (`pre`, `post`).
    Schedulemod,
}

/// Every type, in the order of the Creole documentation (choices first).
const ALL: &[VarType] = &[
    VarType::OuiNon,
    VarType::YesNo,
    VarType::OnOff,
    VarType::String,
    VarType::Number,
    VarType::Ip,
    VarType::LocalIp,
    VarType::Netmask,
    VarType::Network,
    VarType::Broadcast,
    VarType::Port,
    VarType::Domain,
    VarType::DomainStrict,
    VarType::Hostname,
    VarType::HostnameStrict,
    VarType::WebAddress,
    VarType::Filename,
    VarType::UnixUser,
    VarType::Password,
    VarType::Mail,
    VarType::Netbios,
    VarType::Schedule,
    VarType::Schedulemod,
];

impl VarType {
    /// Looks a type up by the exact name used in the `type` attribute of a
    /// dictionary. Names are case-sensitive, as in Creole: `Number` is not a
    /// type, and an unknown name is `None` so the caller can report it with
    /// the file and variable it came from.
    pub fn from_name(s: &str) -> Option<VarType> {
        ALL.iter().copied().find(|t| t.name() == s)
    }

    /// The name of the type as written in dictionaries.
    pub fn name(self) -> &'static str {
        match self {
            VarType::OuiNon => "oui/non",
            VarType::YesNo => "yes/no",
            VarType::OnOff => "on/off",
            VarType::String => "string",
            VarType::Number => "number",
            VarType::Ip => "ip",
            VarType::LocalIp => "local_ip",
            VarType::Netmask => "netmask",
            VarType::Network => "network",
            VarType::Broadcast => "broadcast",
            VarType::Port => "port",
            VarType::Domain => "domain",
            VarType::DomainStrict => "domain_strict",
            VarType::Hostname => "hostname",
            VarType::HostnameStrict => "hostname_strict",
            VarType::WebAddress => "web_address",
            VarType::Filename => "filename",
            VarType::UnixUser => "unix_user",
            VarType::Password => "password",
            VarType::Mail => "mail",
            VarType::Netbios => "netbios",
            VarType::Schedule => "schedule",
            VarType::Schedulemod => "schedulemod",
        }
    }

    /// Every type, so callers can list them (for instance in a "did you
    /// mean" message for an unknown type name) and tests can cover them all.
    pub fn all() -> &'static [VarType] {
        ALL
    }

    /// The fixed set of values of a choice type, or `None` for a free-form type.
    ///
    /// These choices come with the type itself; a `valid_enum` check can
    /// further restrict any type but is not part of it.
    pub fn choices(self) -> Option<&'static [&'static str]> {
        match self {
            VarType::OuiNon => Some(&["oui", "non"]),
            VarType::YesNo => Some(&["yes", "no"]),
            VarType::OnOff => Some(&["on", "off"]),
            VarType::Schedule => Some(&["none", "daily", "weekly", "monthly"]),
            VarType::Schedulemod => Some(&["pre", "post"]),
            _ => None,
        }
    }

    /// Whether values of this type are JSON integers in `config.eol`.
    ///
    /// Only `number` is: `port` looks numeric but Creole stores it as a
    /// string, and writing it as an integer would change the file.
    pub fn is_number(self) -> bool {
        self == VarType::Number
    }

    /// What a value of this type should look like, in plain English, for
    /// error messages ("expected …"). Examples use documentation addresses
    /// and names (RFC 5737, RFC 2606) so they are never mistaken for real ones.
    pub fn describe(self) -> &'static str {
        match self {
            VarType::OuiNon => "one of: oui, non",
            VarType::YesNo => "one of: yes, no",
            VarType::OnOff => "one of: on, off",
            VarType::String => "any text",
            VarType::Number => "a whole number",
            VarType::Ip => "an IPv4 address such as 192.0.2.10",
            VarType::LocalIp => "a private IPv4 address such as 192.168.0.10",
            VarType::Netmask => "an IPv4 netmask such as 255.255.255.0",
            VarType::Network => "an IPv4 network address such as 192.168.0.0",
            VarType::Broadcast => "an IPv4 broadcast address such as 192.168.0.255",
            VarType::Port => "a port number from 1 to 65535",
            VarType::Domain => "a domain name such as example.com, or an IPv4 address",
            VarType::DomainStrict => "a domain name with at least one dot, such as example.com",
            VarType::Hostname => "a host name without dots such as server1, or an IPv4 address",
            VarType::HostnameStrict => "a host name without dots such as server1",
            VarType::WebAddress => "a web address such as https://www.example.com/path",
            VarType::Filename => {
                "a file path such as /etc/ssl/certs/ca.crt (or a relative one such as perso/.corbeille)"
            }
            VarType::UnixUser => "a Unix user name such as www-data",
            VarType::Password => "a password (any text)",
            VarType::Mail => "an email address such as admin@example.com",
            VarType::Netbios => "a NetBIOS name of at most 15 characters such as SERVER1",
            VarType::Schedule => "one of: none, daily, weekly, monthly",
            VarType::Schedulemod => "one of: pre, post",
        }
    }
}

impl fmt::Display for VarType {
    /// Shows the dictionary name, so messages read like the XML the admin wrote.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn all_has_every_variant_once() {
        let all = VarType::all();
        assert_eq!(all.len(), 23);
        let set: HashSet<_> = all.iter().collect();
        assert_eq!(set.len(), all.len());
    }

    #[test]
    fn names_round_trip() {
        for &t in VarType::all() {
            assert_eq!(VarType::from_name(t.name()), Some(t), "{t:?}");
            assert_eq!(t.to_string(), t.name());
        }
    }

    #[test]
    fn names_are_unique() {
        let names: HashSet<_> = VarType::all().iter().map(|t| t.name()).collect();
        assert_eq!(names.len(), VarType::all().len());
    }

    #[test]
    fn from_name_is_exact() {
        assert_eq!(VarType::from_name("oui/non"), Some(VarType::OuiNon));
        assert_eq!(VarType::from_name("local_ip"), Some(VarType::LocalIp));
        assert_eq!(
            VarType::from_name("schedulemod"),
            Some(VarType::Schedulemod)
        );
        for bad in [
            "",
            "Number",
            "STRING",
            " ip",
            "ip ",
            "oui",
            "oui/non ",
            "boolean",
            "choice",
            "domain-strict",
            "ouinon",
        ] {
            assert_eq!(VarType::from_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_type_used_in_the_corpus_is_known() {
        // The list of types in docs/creole.md, "by how often real files use them".
        for name in [
            "oui/non",
            "string",
            "number",
            "ip",
            "netmask",
            "network",
            "filename",
            "broadcast",
            "domain",
            "domain_strict",
            "password",
            "port",
            "hostname_strict",
            "web_address",
            "local_ip",
            "yes/no",
            "unix_user",
            "netbios",
            "mail",
            "on/off",
            "schedule",
            "schedulemod",
            "hostname",
        ] {
            assert!(VarType::from_name(name).is_some(), "{name}");
        }
    }

    #[test]
    fn choices() {
        assert_eq!(VarType::OuiNon.choices(), Some(&["oui", "non"][..]));
        assert_eq!(VarType::YesNo.choices(), Some(&["yes", "no"][..]));
        assert_eq!(VarType::OnOff.choices(), Some(&["on", "off"][..]));
        assert_eq!(
            VarType::Schedule.choices(),
            Some(&["none", "daily", "weekly", "monthly"][..])
        );
        assert_eq!(VarType::Schedulemod.choices(), Some(&["pre", "post"][..]));
        let with_choices = VarType::all()
            .iter()
            .filter(|t| t.choices().is_some())
            .count();
        assert_eq!(with_choices, 5);
    }

    #[test]
    fn choice_descriptions_list_the_choices() {
        for &t in VarType::all() {
            if let Some(choices) = t.choices() {
                assert_eq!(t.describe(), format!("one of: {}", choices.join(", ")));
            }
        }
    }

    #[test]
    fn only_number_is_a_json_integer() {
        for &t in VarType::all() {
            assert_eq!(t.is_number(), t == VarType::Number, "{t:?}");
        }
        assert!(!VarType::Port.is_number());
    }

    #[test]
    fn descriptions_are_present() {
        assert_eq!(VarType::Ip.describe(), "an IPv4 address such as 192.0.2.10");
        assert_eq!(VarType::Number.describe(), "a whole number");
        assert_eq!(VarType::Port.describe(), "a port number from 1 to 65535");
        assert_eq!(VarType::OuiNon.describe(), "one of: oui, non");
        for &t in VarType::all() {
            let d = t.describe();
            assert!(!d.is_empty() && !d.ends_with('.'), "{t:?}: {d}");
        }
    }
}
