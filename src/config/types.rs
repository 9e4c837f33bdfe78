//! Validation of values against their Creole type, plus the IPv4 arithmetic
//! that calculation functions (`calc_network`, `calc_broadcast`) and checks
//! (`valid_ipnetmask`, `valid_in_network`, …) need.
//!
//! The rules follow the tiramisu options that Creole maps each type to
//! (`IPOption`, `NetmaskOption`, `DomainnameOption`, `URLOption`, …), so that a
//! value accepted here is also accepted by a real EOLE server reading the same
//! `config.eol`. Where tiramisu only warns (`local_ip` outside private ranges,
//! odd characters in a `netbios` name) the error is marked
//! [`TypeError::warning_only`]. Messages are plain English and say what is
//! wrong with *this* value, because admins read them, not developers.
//!
//! Nothing here panics on any input: all parsing is done on `&str` and `char`
//! boundaries, never by byte indexing of user text.

use std::fmt;
use std::net::Ipv4Addr;

use crate::dico::VarType;

/// Why a value does not fit its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeError {
    /// What the type expects in general: [`VarType::describe`].
    pub expected: &'static str,
    /// What is wrong with this particular value, e.g.
    /// `'255.0.255.0' is not a valid netmask: the bits are not contiguous`.
    pub reason: String,
    /// `true` when Creole only warns about this: the value is usable as
    /// typed (it is already in normal form) and may be stored, but the admin
    /// should be told.
    pub warning_only: bool,
}

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; expected {}", self.reason, self.expected)
    }
}

impl std::error::Error for TypeError {}

/// Checks `value` against `ty` and returns it in normal form.
///
/// Normal form means: numbers and ports without leading zeros (`007` → `7`),
/// domain and host names in lowercase (DNS is case-insensitive, and Creole
/// rejects uppercase names, so lowercasing keeps `config.eol` loadable by a
/// real server). Nothing is trimmed: a value with surrounding spaces is an
/// error, because silently changing what the admin typed hides mistakes.
///
/// An empty string is always an error: an unset value is `None` for the
/// caller, never `""`.
pub fn validate(ty: VarType, value: &str) -> Result<String, TypeError> {
    let to_error = |reject: Reject| TypeError {
        expected: ty.describe(),
        reason: reject.reason,
        warning_only: reject.warning,
    };
    if value.is_empty() {
        return Err(to_error(Reject::error("the value is empty".to_string())));
    }
    let is_text = matches!(ty, VarType::String | VarType::Password);
    if !is_text && ty.choices().is_none() && value.trim() != value {
        return Err(to_error(Reject::invalid(
            value,
            noun(ty),
            "it has spaces at the start or the end",
        )));
    }
    let result = match ty {
        VarType::OuiNon
        | VarType::YesNo
        | VarType::OnOff
        | VarType::Schedule
        | VarType::Schedulemod => check_choice(value, ty.choices().unwrap_or(&[])),
        VarType::String => check_text(value),
        VarType::Password => check_password(value),
        VarType::Number => check_number(value),
        VarType::Ip | VarType::Broadcast => check_ipv4(value, noun(ty)),
        VarType::LocalIp => check_local_ip(value),
        VarType::Netmask => check_netmask(value),
        VarType::Network => check_network(value),
        VarType::Port => check_port(value),
        VarType::Domain => check_name_type(value, DOMAIN, noun(ty)),
        VarType::DomainStrict => check_name_type(value, DOMAIN_STRICT, noun(ty)),
        VarType::Hostname => check_name_type(value, HOSTNAME, noun(ty)),
        VarType::HostnameStrict => check_name_type(value, HOSTNAME_STRICT, noun(ty)),
        VarType::WebAddress => check_web_address(value),
        VarType::Filename => check_filename(value),
        VarType::UnixUser => check_unix_user(value),
        VarType::Mail => check_mail(value),
        VarType::Netbios => check_netbios(value),
    };
    result.map_err(to_error)
}

/// The words used after "is not" in messages about a type.
fn noun(ty: VarType) -> &'static str {
    match ty {
        VarType::OuiNon
        | VarType::YesNo
        | VarType::OnOff
        | VarType::Schedule
        | VarType::Schedulemod => "an allowed choice",
        VarType::String | VarType::Password => "valid text",
        VarType::Number => "a whole number",
        VarType::Ip | VarType::LocalIp => "a valid IPv4 address",
        VarType::Netmask => "a valid netmask",
        VarType::Network => "a valid network address",
        VarType::Broadcast => "a valid broadcast address",
        VarType::Port => "a valid port number",
        VarType::Domain | VarType::DomainStrict => "a valid domain name",
        VarType::Hostname | VarType::HostnameStrict => "a valid host name",
        VarType::WebAddress => "a valid web address",
        VarType::Filename => "a valid path",
        VarType::UnixUser => "a valid Unix user name",
        VarType::Mail => "a valid email address",
        VarType::Netbios => "a valid NetBIOS name",
    }
}

/// A failed check, before it gets the type's description attached.
struct Reject {
    reason: String,
    warning: bool,
}

impl Reject {
    fn error(reason: String) -> Reject {
        Reject {
            reason,
            warning: false,
        }
    }

    fn warning(reason: String) -> Reject {
        Reject {
            reason,
            warning: true,
        }
    }

    /// The usual message shape: `'<value>' is not <noun>: <detail>`.
    fn invalid(value: &str, noun: &str, detail: &str) -> Reject {
        Reject::error(format!("{} is not {noun}: {detail}", quote(value)))
    }
}

/// Quotes a value for a message: single quotes, control characters escaped
/// so a newline cannot break the message, long values shortened.
fn quote(value: &str) -> String {
    const MAX_CHARS: usize = 60;
    let mut out = String::from("'");
    for (i, c) in value.chars().enumerate() {
        if i == MAX_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() || (c.is_whitespace() && c != ' ') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Names a character in a message, so that invisible ones are visible.
fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".to_string(),
        c if c.is_control() => format!("a control character (U+{:04X})", u32::from(c)),
        c if c.is_whitespace() => {
            format!("a non-breaking or unusual space (U+{:04X})", u32::from(c))
        }
        c => format!("'{c}'"),
    }
}

// ---------------------------------------------------------------------------
// Choices and text
// ---------------------------------------------------------------------------

/// Choice types accept exactly one of their values; the message hints at the
/// two usual slips (wrong case, stray spaces) since Creole is exact.
fn check_choice(value: &str, choices: &[&str]) -> Result<String, Reject> {
    if choices.contains(&value) {
        return Ok(value.to_string());
    }
    let mut reason = format!("{} is not one of {}", quote(value), choices.join(", "));
    let trimmed = value.trim();
    if let Some(hit) = choices.iter().find(|c| c.eq_ignore_ascii_case(trimmed)) {
        if trimmed != value {
            reason.push_str(&format!(" (remove the spaces: '{hit}')"));
        } else {
            reason.push_str(&format!(" (choices are case-sensitive: '{hit}')"));
        }
    }
    Err(Reject::error(reason))
}

/// `string` takes any Unicode text, newlines included (Creole does), but not
/// NUL, which no configuration file or template can carry.
fn check_text(value: &str) -> Result<String, Reject> {
    if value.contains('\0') {
        return Err(Reject::invalid(
            value,
            "valid text",
            "it contains a NUL character",
        ));
    }
    Ok(value.to_string())
}

/// Like `string`, but the value is never repeated in the message: error
/// messages end up in logs and terminals.
fn check_password(value: &str) -> Result<String, Reject> {
    if value.contains('\0') {
        return Err(Reject::error(
            "the password contains a NUL character".to_string(),
        ));
    }
    Ok(value.to_string())
}

// ---------------------------------------------------------------------------
// Numbers and ports
// ---------------------------------------------------------------------------

/// `number`: an optional `-` and ASCII digits that fit an `i64` (the value is
/// written as a JSON integer). A `+` sign, spaces, decimals and exponents are
/// refused rather than guessed at.
fn check_number(value: &str) -> Result<String, Reject> {
    const NOUN: &str = "a whole number";
    let digits = value.strip_prefix('-').unwrap_or(value);
    if digits.is_empty() {
        return Err(Reject::invalid(value, NOUN, "it has no digits"));
    }
    if let Some(c) = digits.chars().find(|c| !c.is_ascii_digit()) {
        let detail = match c {
            '.' | ',' => "it has a decimal part; only whole numbers are allowed".to_string(),
            c => format!(
                "it contains {}; only digits and a leading '-' are allowed",
                describe_char(c)
            ),
        };
        return Err(Reject::invalid(value, NOUN, &detail));
    }
    match value.parse::<i64>() {
        Ok(n) => Ok(n.to_string()),
        Err(_) => Err(Reject::error(format!(
            "{} is too large: whole numbers go from {} to {}",
            quote(value),
            i64::MIN,
            i64::MAX
        ))),
    }
}

/// `port`: 1 to 65535 in ASCII digits. Port 0 and ranges (`8000:8010`) are
/// refused, as tiramisu's `PortOption` does for Creole ports.
fn check_port(value: &str) -> Result<String, Reject> {
    const NOUN: &str = "a valid port number";
    if let Some(c) = value.chars().find(|c| !c.is_ascii_digit()) {
        let is_range = c == ':' || (c == '-' && !value.starts_with('-'));
        let detail = match c {
            _ if is_range => "it looks like a range; a single port is expected".to_string(),
            c => format!("it contains {}; only digits are allowed", describe_char(c)),
        };
        return Err(Reject::invalid(value, NOUN, &detail));
    }
    match value.parse::<u32>() {
        Ok(0) => Err(Reject::invalid(value, NOUN, "port 0 is not allowed")),
        Ok(n) if n <= 65535 => Ok(n.to_string()),
        _ => Err(Reject::invalid(value, NOUN, "it is greater than 65535")),
    }
}

// ---------------------------------------------------------------------------
// IPv4
// ---------------------------------------------------------------------------

/// Parses a strict dotted-quad IPv4 address and says what is wrong otherwise.
///
/// Leading zeros (`010`) are refused: some tools read them as octal (so
/// `010` would be 8), tiramisu refuses them, and EOLE writes the value into
/// many configuration files.
fn ipv4_detail(value: &str) -> Result<Ipv4Addr, String> {
    let parts: Vec<&str> = value.split('.').collect();
    if parts.len() == 1 {
        return Err(
            "it has no dots; an IPv4 address is four numbers separated by dots".to_string(),
        );
    }
    if parts.len() != 4 {
        return Err(format!(
            "it has {} parts separated by dots instead of 4",
            parts.len()
        ));
    }
    let mut octets = [0u8; 4];
    for (slot, part) in octets.iter_mut().zip(&parts) {
        if part.is_empty() {
            return Err("one of its four parts is empty".to_string());
        }
        if let Some(c) = part.chars().find(|c| !c.is_ascii_digit()) {
            return Err(format!(
                "part {} contains {}",
                quote(part),
                describe_char(c)
            ));
        }
        if part.len() > 1 && part.starts_with('0') {
            return Err(format!(
                "part {} has a leading zero, which some programs read as octal",
                quote(part)
            ));
        }
        *slot = part
            .parse::<u8>()
            .map_err(|_| format!("part {} is greater than 255", quote(part)))?;
    }
    Ok(Ipv4Addr::from(octets))
}

fn check_ipv4(value: &str, noun: &str) -> Result<String, Reject> {
    ipv4_detail(value)
        .map(|_| value.to_string())
        .map_err(|detail| Reject::invalid(value, noun, &detail))
}

/// Whether an address is in an RFC 1918 private range.
fn is_rfc1918(ip: Ipv4Addr) -> bool {
    let [a, b, _, _] = ip.octets();
    a == 10 || (a == 172 && (16..=31).contains(&b)) || (a == 192 && b == 168)
}

/// `local_ip`: a well-formed address is required; a public one only draws a
/// warning, because Creole declares this type with `warnings_only` (a server
/// may really sit on a public address).
fn check_local_ip(value: &str) -> Result<String, Reject> {
    let ip = ipv4_detail(value).map_err(|d| Reject::invalid(value, "a valid IPv4 address", &d))?;
    if !is_rfc1918(ip) {
        return Err(Reject::warning(format!(
            "{} is not a private address (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)",
            quote(value)
        )));
    }
    Ok(value.to_string())
}

/// The prefix length of a netmask, if its one bits are contiguous.
fn prefix_len(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    let ones = m.leading_ones();
    // Contiguous exactly when the ones on the left meet the zeros on the right.
    if ones + m.trailing_zeros() == 32 {
        u8::try_from(ones).ok()
    } else {
        None
    }
}

fn check_netmask(value: &str) -> Result<String, Reject> {
    const NOUN: &str = "a valid netmask";
    let mask = ipv4_detail(value).map_err(|d| Reject::invalid(value, NOUN, &d))?;
    if prefix_len(mask).is_none() {
        return Err(Reject::invalid(value, NOUN, "the bits are not contiguous"));
    }
    Ok(value.to_string())
}

/// `network`: on its own a network address cannot be checked against its
/// mask (a `valid_networknetmask` check does that), so any address is taken
/// except the reserved class 224.0.0.0 and above, which tiramisu's
/// `NetworkOption` refuses (multicast and experimental addresses are never
/// networks of a LAN).
fn check_network(value: &str) -> Result<String, Reject> {
    const NOUN: &str = "a valid network address";
    let ip = ipv4_detail(value).map_err(|d| Reject::invalid(value, NOUN, &d))?;
    if ip.octets()[0] >= 224 {
        return Err(Reject::invalid(
            value,
            NOUN,
            "it is in the reserved range 224.0.0.0 and above (multicast and experimental)",
        ));
    }
    Ok(value.to_string())
}

/// Parses a strict dotted-quad IPv4 address (no leading zeros, no spaces).
pub fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    ipv4_detail(s).ok()
}

/// The prefix length (0 to 32) of a dotted netmask, or `None` if the text is
/// not an address or its bits are not contiguous (`255.0.255.0`).
pub fn netmask_bits(mask: &str) -> Option<u8> {
    parse_ipv4(mask).and_then(prefix_len)
}

/// Parses an address and a contiguous mask, as a pair of host-order integers.
fn ip_and_mask(ip: &str, mask: &str) -> Option<(u32, u32)> {
    let ip = parse_ipv4(ip)?;
    let mask = parse_ipv4(mask)?;
    prefix_len(mask)?;
    Some((u32::from(ip), u32::from(mask)))
}

/// The network address of `ip` under `mask` (Creole's `calc_network`), or
/// `None` if either is not valid.
pub fn calc_network(ip: &str, mask: &str) -> Option<String> {
    let (ip, mask) = ip_and_mask(ip, mask)?;
    Some(Ipv4Addr::from(ip & mask).to_string())
}

/// The broadcast address of `ip` under `mask` (Creole's `calc_broadcast`),
/// or `None` if either is not valid.
pub fn calc_broadcast(ip: &str, mask: &str) -> Option<String> {
    let (ip, mask) = ip_and_mask(ip, mask)?;
    Some(Ipv4Addr::from((ip & mask) | !mask).to_string())
}

/// Whether `ip` lies in `network`/`mask` (for `valid_in_network`). Host bits
/// set in `network` are ignored here; [`is_network_for_mask`] reports them.
/// `None` if any of the three is not valid.
pub fn ip_in_network(ip: &str, network: &str, mask: &str) -> Option<bool> {
    let (ip, mask) = ip_and_mask(ip, mask)?;
    let network = u32::from(parse_ipv4(network)?);
    Some(ip & mask == network & mask)
}

/// Whether `network` has no host bits set under `mask` (for
/// `valid_networknetmask`): `192.168.1.0`/`255.255.255.0` is a network,
/// `192.168.1.5`/`255.255.255.0` is not. `None` if either is not valid.
pub fn is_network_for_mask(network: &str, mask: &str) -> Option<bool> {
    let (network, mask) = ip_and_mask(network, mask)?;
    Some(network & !mask == 0)
}

/// Whether `ip` is the network or the broadcast address of its subnet, which
/// a host cannot use (for `valid_ipnetmask`). A /31 or /32 has neither (its
/// addresses are all usable, RFC 3021), so this is `false` for them. `None`
/// if either is not valid.
pub fn ip_is_network_or_broadcast(ip: &str, mask: &str) -> Option<bool> {
    let (ip, mask) = ip_and_mask(ip, mask)?;
    if mask.leading_ones() >= 31 {
        return Some(false);
    }
    let network = ip & mask;
    Some(ip == network || ip == network | !mask)
}

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------

/// What a name type allows, after tiramisu's `DomainnameOption` flags.
#[derive(Clone, Copy)]
struct NameRules {
    /// A valid IPv4 address is accepted instead of a name.
    allow_ip: bool,
    /// Exactly one label (host names).
    single_label: bool,
    /// At least one dot (`domain_strict`, email domains).
    require_dot: bool,
}

const DOMAIN: NameRules = NameRules {
    allow_ip: true,
    single_label: false,
    require_dot: false,
};
const DOMAIN_STRICT: NameRules = NameRules {
    allow_ip: false,
    single_label: false,
    require_dot: true,
};
const HOSTNAME: NameRules = NameRules {
    allow_ip: true,
    single_label: true,
    require_dot: false,
};
const HOSTNAME_STRICT: NameRules = NameRules {
    allow_ip: false,
    single_label: true,
    require_dot: false,
};

/// The longest DNS label (RFC 1035).
const MAX_LABEL: usize = 63;
/// The longest domain name in text form (RFC 1035).
const MAX_NAME: usize = 255;

/// Checks a domain or host name and returns it in lowercase, or says why it
/// is wrong (the detail after "is not a valid …:").
///
/// Dotted all-digit text is judged as an IPv4 address, never as a name: a
/// name like `10.0.0.256` would be accepted by the label rules but is surely
/// a mistyped address.
fn check_name(value: &str, rules: NameRules) -> Result<String, String> {
    let labels: Vec<&str> = value.split('.').collect();
    let dotted_digits = labels.len() > 1
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_digit()));
    if dotted_digits {
        return match ipv4_detail(value) {
            Ok(_) if rules.allow_ip => Ok(value.to_string()),
            Ok(_) => Err("it is an IP address, but a name is required here".to_string()),
            Err(detail) => Err(format!("it looks like an IPv4 address but {detail}")),
        };
    }
    if rules.single_label && value.contains('.') {
        return Err(
            "it contains a dot; a host name is a single name such as server1, without its domain"
                .to_string(),
        );
    }
    if let Some(c) = value
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    {
        let allowed = if rules.single_label {
            "only letters a-z, digits and '-' are allowed"
        } else {
            "only letters a-z, digits, '-' and '.' are allowed"
        };
        return Err(format!("it contains {}; {allowed}", describe_char(c)));
    }
    // All characters are ASCII from here on, so byte length is char length.
    if value.len() > MAX_NAME {
        return Err(format!(
            "it is {} characters long, the maximum is {MAX_NAME}",
            value.len()
        ));
    }
    for label in &labels {
        if label.is_empty() {
            let detail = if value.starts_with('.') {
                "it starts with a dot"
            } else if value.ends_with('.') {
                "it ends with a dot"
            } else {
                "it has two dots in a row"
            };
            return Err(detail.to_string());
        }
        if label.len() > MAX_LABEL {
            return Err(format!(
                "the part {} is {} characters long, the maximum is {MAX_LABEL}",
                quote(label),
                label.len()
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("the part {} starts or ends with '-'", quote(label)));
        }
    }
    if rules.require_dot && labels.len() < 2 {
        return Err(
            "it has no dot; a full domain name such as example.com is required".to_string(),
        );
    }
    Ok(value.to_ascii_lowercase())
}

fn check_name_type(value: &str, rules: NameRules, noun: &str) -> Result<String, Reject> {
    check_name(value, rules).map_err(|detail| Reject::invalid(value, noun, &detail))
}

/// `web_address`: `http://` or `https://` (any case, written lowercase),
/// then a host (a name, a name without dot, or an IPv4 address), an optional
/// `:port` and an optional `/path`. A bare host without scheme is accepted as
/// well. Path characters are those of RFC 3986; anything else (spaces,
/// accents) must be percent-encoded.
fn check_web_address(value: &str) -> Result<String, Reject> {
    const NOUN: &str = "a valid web address";
    let fail = |detail: &str| Reject::invalid(value, NOUN, detail);
    let lower_start: String = value
        .chars()
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    let (scheme, rest) = if lower_start.starts_with("https://") {
        ("https://", value.get(8..).unwrap_or(""))
    } else if lower_start.starts_with("http://") {
        ("http://", value.get(7..).unwrap_or(""))
    } else if value.contains("://") {
        return Err(fail("only http:// and https:// addresses are allowed"));
    } else {
        ("", value)
    };
    let (authority, path) = match rest.split_once('/') {
        Some((authority, path)) => (authority, Some(path)),
        None => (rest, None),
    };
    if authority.is_empty() {
        return Err(fail("it has no host name"));
    }
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if host.is_empty() {
        return Err(fail("it has no host name"));
    }
    let host = check_name(host, DOMAIN).map_err(|d| fail(&format!("in the host name, {d}")))?;
    let mut out = format!("{scheme}{host}");
    if let Some(port) = port {
        let port = check_port(port).map_err(|_| {
            fail(&format!(
                "the port {} is not a number from 1 to 65535",
                quote(port)
            ))
        })?;
        out.push(':');
        out.push_str(&port);
    }
    if let Some(path) = path {
        let is_uri_char =
            |c: char| c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c);
        if let Some(c) = path.chars().find(|&c| !is_uri_char(c)) {
            return Err(fail(&format!(
                "the path contains {}; spaces and accented letters must be percent-encoded (%20)",
                describe_char(c)
            )));
        }
        out.push('/');
        out.push_str(path);
    }
    Ok(out)
}

/// `mail`: a local part of the characters RFC 5322 allows unquoted (dots
/// only between other characters), `@`, and a domain name with a dot, as
/// tiramisu's `EmailOption` requires (no IP address, no bare name). The
/// domain is lowercased; the local part is kept as typed.
fn check_mail(value: &str) -> Result<String, Reject> {
    const NOUN: &str = "a valid email address";
    let fail = |detail: &str| Reject::invalid(value, NOUN, detail);
    let Some((local, domain)) = value.split_once('@') else {
        return Err(fail("it has no '@'"));
    };
    if local.is_empty() {
        return Err(fail("it has nothing before the '@'"));
    }
    if domain.is_empty() {
        return Err(fail("it has nothing after the '@'"));
    }
    let is_atom_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    if let Some(c) = local.chars().find(|&c| !(is_atom_char(c) || c == '.')) {
        return Err(fail(&format!(
            "the part before '@' contains {}",
            describe_char(c)
        )));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(fail(
            "the part before '@' starts or ends with a dot, or has two dots in a row",
        ));
    }
    let domain = check_name(domain, DOMAIN_STRICT)
        .map_err(|d| fail(&format!("in the part after '@', {d}")))?;
    Ok(format!("{local}@{domain}"))
}

/// The longest NetBIOS name: 16 bytes, the last one being the service type.
const MAX_NETBIOS: usize = 15;

/// `netbios`: at most 15 characters (an error, as in tiramisu), letters,
/// digits, `-` and `_`. Other characters only draw a warning, because
/// Creole declares this type with `warnings_only`; control characters are
/// always an error since no configuration file can hold them.
fn check_netbios(value: &str) -> Result<String, Reject> {
    const NOUN: &str = "a valid NetBIOS name";
    let len = value.chars().count();
    if len > MAX_NETBIOS {
        return Err(Reject::invalid(
            value,
            NOUN,
            &format!("it is {len} characters long, the maximum is {MAX_NETBIOS}"),
        ));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(Reject::invalid(
            value,
            NOUN,
            &format!("it contains {}", describe_char(c)),
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(Reject::warning(format!(
            "{} contains {}; NetBIOS names should use only letters, digits, '-' and '_'",
            quote(value),
            describe_char(c)
        )));
    }
    if value.starts_with('-') {
        return Err(Reject::warning(format!(
            "{} starts with '-', which some Windows tools refuse",
            quote(value)
        )));
    }
    Ok(value.to_string())
}

// ---------------------------------------------------------------------------
// Files and accounts
// ---------------------------------------------------------------------------

/// `filename`: a path of printable characters, absolute (`/home/x`) or
/// relative (`perso/.corbeille`, `eole`): real modules store both, and
/// Creole accepts both. Control characters (NUL, newline, tab, …) are
/// refused because the path is written into configuration files and shell
/// scripts line by line.
fn check_filename(value: &str) -> Result<String, Reject> {
    const NOUN: &str = "a valid path";
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(Reject::invalid(
            value,
            NOUN,
            &format!("it contains {}", describe_char(c)),
        ));
    }
    Ok(value.to_string())
}

/// The longest Unix user name (the limit of `useradd`).
const MAX_UNIX_USER: usize = 32;

/// `unix_user`: tiramisu's `UsernameOption`,
/// `^[a-z_][a-z0-9_-]{0,30}[$a-z0-9_-]{0,1}$`: lowercase, at most 32
/// characters, and a `$` only at the end (Samba machine accounts).
fn check_unix_user(value: &str) -> Result<String, Reject> {
    const NOUN: &str = "a valid Unix user name";
    let fail = |detail: &str| Reject::invalid(value, NOUN, detail);
    let chars: Vec<char> = value.chars().collect();
    if chars.len() > MAX_UNIX_USER {
        return Err(fail(&format!(
            "it is {} characters long, the maximum is {MAX_UNIX_USER}",
            chars.len()
        )));
    }
    let Some((&first, rest)) = chars.split_first() else {
        return Err(fail("it is empty"));
    };
    if !(first.is_ascii_lowercase() || first == '_') {
        return Err(fail(&format!(
            "it starts with {}; it must start with a lowercase letter or '_'",
            describe_char(first)
        )));
    }
    let last = rest.len().checked_sub(1);
    for (i, &c) in rest.iter().enumerate() {
        let ok = c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
        if ok || (c == '$' && Some(i) == last) {
            continue;
        }
        let detail = if c == '$' {
            "'$' is only allowed at the end".to_string()
        } else if c.is_ascii_uppercase() {
            format!(
                "it contains {}; Unix user names are lowercase",
                describe_char(c)
            )
        } else {
            format!(
                "it contains {}; only a-z, digits, '_' and '-' are allowed",
                describe_char(c)
            )
        };
        return Err(fail(&detail));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests;
