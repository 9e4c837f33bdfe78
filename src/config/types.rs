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
        VarType::Filename => "a valid absolute path",
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

/// `filename`: an absolute path of printable characters. Control characters
/// (NUL, newline, tab, …) are refused because the path is written into
/// configuration files and shell scripts line by line.
fn check_filename(value: &str) -> Result<String, Reject> {
    const NOUN: &str = "a valid absolute path";
    if !value.starts_with('/') {
        return Err(Reject::invalid(value, NOUN, "it must start with '/'"));
    }
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(ty: VarType, v: &str) -> String {
        match validate(ty, v) {
            Ok(s) => s,
            Err(e) => panic!("{ty} {v:?} should be valid: {e}"),
        }
    }

    fn err(ty: VarType, v: &str) -> TypeError {
        match validate(ty, v) {
            Ok(s) => panic!("{ty} {v:?} should be invalid, got {s:?}"),
            Err(e) => {
                assert_eq!(e.expected, ty.describe());
                assert!(!e.reason.is_empty());
                e
            }
        }
    }

    /// An error, not a warning.
    fn hard(ty: VarType, v: &str) -> TypeError {
        let e = err(ty, v);
        assert!(!e.warning_only, "{ty} {v:?} should be an error: {e}");
        e
    }

    fn warn(ty: VarType, v: &str) -> TypeError {
        let e = err(ty, v);
        assert!(e.warning_only, "{ty} {v:?} should be a warning: {e}");
        e
    }

    #[test]
    fn empty_is_always_invalid() {
        for &t in VarType::all() {
            let e = hard(t, "");
            assert_eq!(e.reason, "the value is empty");
        }
    }

    #[test]
    fn display_has_reason_and_expectation() {
        let e = hard(VarType::Netmask, "255.0.255.0");
        assert_eq!(
            e.reason,
            "'255.0.255.0' is not a valid netmask: the bits are not contiguous"
        );
        assert_eq!(
            e.to_string(),
            "'255.0.255.0' is not a valid netmask: the bits are not contiguous; \
             expected an IPv4 netmask such as 255.255.255.0"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert!(boxed.to_string().contains("contiguous"));
    }

    #[test]
    fn choices() {
        assert_eq!(ok(VarType::OuiNon, "oui"), "oui");
        assert_eq!(ok(VarType::OuiNon, "non"), "non");
        assert_eq!(ok(VarType::YesNo, "yes"), "yes");
        assert_eq!(ok(VarType::OnOff, "off"), "off");
        assert_eq!(ok(VarType::Schedule, "weekly"), "weekly");
        assert_eq!(ok(VarType::Schedule, "none"), "none");
        assert_eq!(ok(VarType::Schedulemod, "pre"), "pre");
        let e = hard(VarType::OuiNon, "Oui");
        assert_eq!(
            e.reason,
            "'Oui' is not one of oui, non (choices are case-sensitive: 'oui')"
        );
        let e = hard(VarType::OuiNon, " non");
        assert!(e.reason.contains("remove the spaces"), "{}", e.reason);
        let e = hard(VarType::YesNo, "oui");
        assert_eq!(e.reason, "'oui' is not one of yes, no");
        hard(VarType::OnOff, "true");
        hard(VarType::Schedule, "hourly");
        hard(VarType::Schedulemod, "during");
        hard(VarType::OuiNon, "yes");
    }

    #[test]
    fn text_and_password() {
        assert_eq!(
            ok(VarType::String, "je suis une chaîne"),
            "je suis une chaîne"
        );
        assert_eq!(ok(VarType::String, " spaces kept "), " spaces kept ");
        assert_eq!(ok(VarType::String, "two\nlines\ttab"), "two\nlines\ttab");
        assert_eq!(ok(VarType::String, "serveur de clés"), "serveur de clés");
        assert_eq!(ok(VarType::String, "😀"), "😀");
        let e = hard(VarType::String, "a\0b");
        assert!(e.reason.contains("NUL"));
        assert_eq!(ok(VarType::Password, "p@ss w0rd é!"), "p@ss w0rd é!");
        let e = hard(VarType::Password, "secret\0value");
        assert!(!e.reason.contains("secret"), "{}", e.reason);
    }

    #[test]
    fn numbers() {
        assert_eq!(ok(VarType::Number, "0"), "0");
        assert_eq!(ok(VarType::Number, "007"), "7");
        assert_eq!(ok(VarType::Number, "-12"), "-12");
        assert_eq!(ok(VarType::Number, "-0"), "0");
        assert_eq!(ok(VarType::Number, "-007"), "-7");
        assert_eq!(ok(VarType::Number, "1500"), "1500");
        assert_eq!(
            ok(VarType::Number, "9223372036854775807"),
            "9223372036854775807"
        );
        assert_eq!(
            ok(VarType::Number, "-9223372036854775808"),
            "-9223372036854775808"
        );
        assert_eq!(ok(VarType::Number, "0000000000000000000000000042"), "42");
        let e = hard(VarType::Number, "9223372036854775808");
        assert!(e.reason.contains("too large"), "{}", e.reason);
        let e = hard(VarType::Number, "1.5");
        assert!(e.reason.contains("decimal"), "{}", e.reason);
        let e = hard(VarType::Number, "-");
        assert!(e.reason.contains("no digits"), "{}", e.reason);
        for bad in [
            "+5", " 5", "5 ", "1e3", "0x10", "٣", "12a", "--1", "1-", "١٢",
        ] {
            hard(VarType::Number, bad);
        }
        let e = hard(VarType::Number, "12a");
        assert_eq!(
            e.reason,
            "'12a' is not a whole number: it contains 'a'; only digits and a leading '-' are allowed"
        );
    }

    #[test]
    fn ports() {
        assert_eq!(ok(VarType::Port, "1"), "1");
        assert_eq!(ok(VarType::Port, "80"), "80");
        assert_eq!(ok(VarType::Port, "3128"), "3128");
        assert_eq!(ok(VarType::Port, "65535"), "65535");
        assert_eq!(ok(VarType::Port, "0443"), "443");
        assert!(hard(VarType::Port, "0").reason.contains("port 0"));
        assert!(hard(VarType::Port, "000").reason.contains("port 0"));
        assert!(
            hard(VarType::Port, "65536")
                .reason
                .contains("greater than 65535")
        );
        assert!(
            hard(VarType::Port, "99999999999999999999")
                .reason
                .contains("greater")
        );
        assert!(hard(VarType::Port, "8000:8010").reason.contains("range"));
        for bad in ["-1", "+80", "http", "80 ", "8 0", "80.0"] {
            hard(VarType::Port, bad);
        }
    }

    #[test]
    fn ipv4_addresses() {
        for good in [
            "0.0.0.0",
            "192.0.2.10",
            "255.255.255.255",
            "8.8.8.8",
            "10.0.0.1",
            "224.0.0.1",
            "127.0.0.1",
        ] {
            assert_eq!(ok(VarType::Ip, good), good);
            assert_eq!(ok(VarType::Broadcast, good), good);
        }
        let cases = [
            ("010.0.0.1", "part '010' has a leading zero"),
            ("1.2.3.00", "part '00' has a leading zero"),
            ("256.1.1.1", "part '256' is greater than 255"),
            ("1.2.3.1000", "part '1000' is greater than 255"),
            ("1.2.3", "3 parts separated by dots instead of 4"),
            ("1.2.3.4.5", "5 parts"),
            ("1.2..4", "empty"),
            (".1.2.3", "empty"),
            ("1.2.3.", "empty"),
            ("localhost", "no dots"),
            ("1.2.3.a", "part 'a' contains 'a'"),
            ("1.2.3.-4", "contains '-'"),
            ("1.2.3.4/24", "contains '/'"),
            ("1.2.3.+4", "contains '+'"),
            ("1.2.3.٤", "contains '٤'"),
            (" 1.2.3.4", "spaces at the start or the end"),
            ("1.2.3.4\n", "spaces at the start or the end"),
            ("1.2. 3.4", "contains a space"),
        ];
        for (bad, why) in cases {
            let e = hard(VarType::Ip, bad);
            assert!(e.reason.contains(why), "{bad:?}: {}", e.reason);
            assert!(
                e.reason.contains("is not a valid IPv4 address"),
                "{}",
                e.reason
            );
        }
        let e = hard(VarType::Ip, "010.0.0.1");
        assert_eq!(
            e.reason,
            "'010.0.0.1' is not a valid IPv4 address: part '010' has a leading zero, \
             which some programs read as octal"
        );
    }

    #[test]
    fn local_ip_warns_on_public_addresses() {
        for good in [
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.0.115",
            "192.168.1.221",
        ] {
            assert_eq!(ok(VarType::LocalIp, good), good);
        }
        for public in [
            "195.221.237.15",
            "8.8.8.8",
            "172.15.0.1",
            "172.32.0.1",
            "192.169.0.1",
            "11.0.0.1",
            "224.0.0.1",
        ] {
            let e = warn(VarType::LocalIp, public);
            assert!(e.reason.contains("not a private address"), "{}", e.reason);
        }
        // Malformed addresses are errors, not warnings.
        hard(VarType::LocalIp, "192.168.0.256");
        hard(VarType::LocalIp, "192.168.00.1");
    }

    #[test]
    fn netmasks() {
        for bits in 0..=32u32 {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            let text = Ipv4Addr::from(mask).to_string();
            assert_eq!(ok(VarType::Netmask, &text), text);
            assert_eq!(netmask_bits(&text), Some(bits as u8));
        }
        for bad in [
            "255.0.255.0",
            "255.255.255.1",
            "0.255.255.255",
            "255.255.254.255",
            "128.0.0.1",
        ] {
            let e = hard(VarType::Netmask, bad);
            assert!(
                e.reason.ends_with("the bits are not contiguous"),
                "{}",
                e.reason
            );
            assert_eq!(netmask_bits(bad), None);
        }
        assert!(
            hard(VarType::Netmask, "255.255.255.0/24")
                .reason
                .contains("'/'")
        );
        hard(VarType::Netmask, "24");
        hard(VarType::Netmask, "255.255.255.00");
        assert_eq!(netmask_bits("24"), None);
        assert_eq!(netmask_bits(""), None);
    }

    #[test]
    fn networks() {
        for good in [
            "0.0.0.0",
            "192.168.0.0",
            "10.205.81.0",
            "172.17.232.10",
            "223.255.255.0",
        ] {
            assert_eq!(ok(VarType::Network, good), good);
        }
        let e = hard(VarType::Network, "224.0.0.0");
        assert!(e.reason.contains("reserved"), "{}", e.reason);
        hard(VarType::Network, "255.255.255.255");
        hard(VarType::Network, "192.168.1");
    }

    #[test]
    fn domains() {
        for good in [
            "example.com",
            "eole.ac-dijon.fr",
            "0.fr.pool.ntp.org",
            "localhost",
            "9740654t.ad.in.ac-reunion.fr",
            "xn--bcher-kva.example",
            "a.b",
            "10.1.21.64",
            "123",
        ] {
            assert_eq!(ok(VarType::Domain, good), good);
        }
        assert_eq!(ok(VarType::Domain, "Example.COM"), "example.com");
        assert_eq!(
            ok(VarType::DomainStrict, "Bp-Eole.AC-Dijon.fr"),
            "bp-eole.ac-dijon.fr"
        );
        let cases = [
            ("-a.com", "starts or ends with '-'"),
            ("a-.com", "starts or ends with '-'"),
            ("a..com", "two dots in a row"),
            (".a.com", "starts with a dot"),
            ("a.com.", "ends with a dot"),
            ("a_b.com", "contains '_'"),
            ("exa mple.com", "contains a space"),
            ("école.fr", "contains 'é'"),
            ("a@b.com", "contains '@'"),
            ("http://a.com", "contains ':'"),
            (
                "1.2.3.256",
                "looks like an IPv4 address but part '256' is greater than 255",
            ),
            ("1.2.3", "looks like an IPv4 address but it has 3 parts"),
            ("01.2.3.4", "leading zero"),
        ];
        for (bad, why) in cases {
            let e = hard(VarType::Domain, bad);
            assert!(e.reason.contains(why), "{bad:?}: {}", e.reason);
            assert!(
                e.reason.contains("is not a valid domain name"),
                "{}",
                e.reason
            );
        }
        let long_label = "a".repeat(64);
        let e = hard(VarType::Domain, &format!("{long_label}.com"));
        assert!(
            e.reason.contains("64 characters long, the maximum is 63"),
            "{}",
            e.reason
        );
        let ok_label = "a".repeat(63);
        ok(VarType::Domain, &format!("{ok_label}.com"));
        // 4 labels of 63 + 3 dots = 255: the maximum.
        let max = [ok_label.as_str(); 4].join(".");
        assert_eq!(max.len(), 255);
        ok(VarType::Domain, &max);
        let too_long = format!("{max}a");
        let e = hard(VarType::Domain, &too_long);
        assert!(e.reason.contains("the maximum is 255"), "{}", e.reason);
    }

    #[test]
    fn domain_strict() {
        for good in ["bp-eole.ac-dijon.fr", "archive.ubuntu.com", "google.fr"] {
            assert_eq!(ok(VarType::DomainStrict, good), good);
        }
        let e = hard(VarType::DomainStrict, "192.0.2.1");
        assert!(e.reason.contains("it is an IP address"), "{}", e.reason);
        let e = hard(VarType::DomainStrict, "localhost");
        assert!(e.reason.contains("has no dot"), "{}", e.reason);
        hard(VarType::DomainStrict, "a..b");
    }

    #[test]
    fn hostnames() {
        for good in ["fr", "nom-machine", "hapy2", "a-clg-0654t", "scribe22", "x"] {
            assert_eq!(ok(VarType::Hostname, good), good);
            assert_eq!(ok(VarType::HostnameStrict, good), good);
        }
        assert_eq!(ok(VarType::HostnameStrict, "DC-Seth-1"), "dc-seth-1");
        assert_eq!(ok(VarType::Hostname, "192.0.2.1"), "192.0.2.1");
        let e = hard(VarType::HostnameStrict, "192.0.2.1");
        assert!(e.reason.contains("it is an IP address"), "{}", e.reason);
        let e = hard(VarType::Hostname, "www.example.com");
        assert!(e.reason.contains("contains a dot"), "{}", e.reason);
        assert!(
            e.reason.contains("is not a valid host name"),
            "{}",
            e.reason
        );
        hard(VarType::HostnameStrict, "server.lan");
        hard(VarType::HostnameStrict, "-server");
        hard(VarType::HostnameStrict, "server-");
        hard(VarType::HostnameStrict, "serv_er");
        let e = hard(VarType::HostnameStrict, "serv_er");
        assert!(
            e.reason.contains("only letters a-z, digits and '-'"),
            "{}",
            e.reason
        );
        hard(VarType::HostnameStrict, &"a".repeat(64));
        ok(VarType::HostnameStrict, &"a".repeat(63));
        hard(VarType::Hostname, "1.2.3.999");
    }

    #[test]
    fn web_addresses() {
        let cases = [
            (
                "https://changelogs.ubuntu.com/meta-release-lts",
                "https://changelogs.ubuntu.com/meta-release-lts",
            ),
            ("http://www.example.com", "http://www.example.com"),
            ("http://www.example.com/", "http://www.example.com/"),
            (
                "https://intranet:8443/app/?q=1&x=%20#top",
                "https://intranet:8443/app/?q=1&x=%20#top",
            ),
            ("http://192.0.2.10:80/", "http://192.0.2.10:80/"),
            ("www.example.com", "www.example.com"),
            ("example.com:8080/x", "example.com:8080/x"),
            (
                "HTTPS://WWW.Example.com/Path",
                "https://www.example.com/Path",
            ),
            ("http://localhost", "http://localhost"),
            ("http://h:0080", "http://h:80"),
        ];
        for (input, normal) in cases {
            assert_eq!(ok(VarType::WebAddress, input), normal, "{input}");
        }
        let bad = [
            ("ftp://example.com", "only http:// and https://"),
            ("http://", "no host name"),
            ("https:///path", "no host name"),
            ("http://:80", "no host name"),
            ("http://exa mple.com", "contains a space"),
            ("http://example.com:99999", "port '99999'"),
            ("http://example.com:", "port ''"),
            ("http://example.com:0", "port '0'"),
            ("http://example.com/a b", "the path contains a space"),
            ("http://example.com/é", "the path contains 'é'"),
            ("http://user@example.com", "contains '@'"),
            ("http://1.2.3.300/", "greater than 255"),
        ];
        for (input, why) in bad {
            let e = hard(VarType::WebAddress, input);
            assert!(e.reason.contains(why), "{input:?}: {}", e.reason);
        }
        // Multi-byte text around the scheme must not trip char boundaries.
        hard(VarType::WebAddress, "httpé://x");
        hard(VarType::WebAddress, "ééééééééé");
    }

    #[test]
    fn filenames() {
        for good in [
            "/etc/ssl/certs/ca_local.crt",
            "/var/log/letsencrypt/",
            "/",
            "/tmp/with space/é",
        ] {
            assert_eq!(ok(VarType::Filename, good), good);
        }
        assert!(
            hard(VarType::Filename, "etc/passwd")
                .reason
                .contains("must start with '/'")
        );
        assert!(
            hard(VarType::Filename, "~/x")
                .reason
                .contains("must start with '/'")
        );
        let e = hard(VarType::Filename, "/a\nb");
        assert!(e.reason.contains("U+000A"), "{}", e.reason);
        assert!(!e.reason.contains('\n'), "a message must stay on one line");
        hard(VarType::Filename, "/a\0b");
        hard(VarType::Filename, "/a\tb");
    }

    #[test]
    fn unix_users() {
        for good in [
            "cr974-niv2",
            "guest",
            "sae",
            "_apt",
            "www-data",
            "machine$",
            "a",
            "a1_-",
        ] {
            assert_eq!(ok(VarType::UnixUser, good), good);
        }
        ok(VarType::UnixUser, &"a".repeat(32));
        ok(VarType::UnixUser, &format!("{}$", "a".repeat(31)));
        assert!(
            hard(VarType::UnixUser, &"a".repeat(33))
                .reason
                .contains("maximum is 32")
        );
        assert!(
            hard(VarType::UnixUser, "Admin")
                .reason
                .contains("must start with a lowercase")
        );
        assert!(
            hard(VarType::UnixUser, "adMin")
                .reason
                .contains("lowercase")
        );
        assert!(
            hard(VarType::UnixUser, "1user")
                .reason
                .contains("must start")
        );
        assert!(
            hard(VarType::UnixUser, "-user")
                .reason
                .contains("must start")
        );
        assert!(
            hard(VarType::UnixUser, "a$b")
                .reason
                .contains("only allowed at the end")
        );
        assert!(hard(VarType::UnixUser, "$").reason.contains("must start"));
        hard(VarType::UnixUser, "jean.dupont");
        hard(VarType::UnixUser, "josé");
        hard(VarType::UnixUser, "a b");
    }

    #[test]
    fn mails() {
        for good in [
            "admin@example.com",
            "first.last+tag@mail.ac-dijon.fr",
            "x@a.b",
            "o'neil@example.org",
        ] {
            assert_eq!(ok(VarType::Mail, good), good);
        }
        assert_eq!(
            ok(VarType::Mail, "Jean.Dupont@AC-Dijon.FR"),
            "Jean.Dupont@ac-dijon.fr"
        );
        let bad = [
            ("admin", "no '@'"),
            ("@example.com", "nothing before"),
            ("admin@", "nothing after"),
            ("admin@localhost", "has no dot"),
            ("admin@192.0.2.1", "it is an IP address"),
            ("a@b@c.com", "contains '@'"),
            (".a@b.com", "starts or ends with a dot"),
            ("a.@b.com", "starts or ends with a dot"),
            ("a..b@c.com", "two dots in a row"),
            ("jé@b.com", "contains 'é'"),
            ("a b@c.com", "contains a space"),
            ("a@b..com", "two dots in a row"),
        ];
        for (input, why) in bad {
            let e = hard(VarType::Mail, input);
            assert!(e.reason.contains(why), "{input:?}: {}", e.reason);
        }
    }

    #[test]
    fn netbios_names() {
        for good in [
            "SERVER1",
            "scribe",
            "DOM_AINE",
            "a-b",
            "x",
            "ABCDEFGHIJKLMNO",
        ] {
            assert_eq!(ok(VarType::Netbios, good), good);
        }
        let e = hard(VarType::Netbios, "ABCDEFGHIJKLMNOP");
        assert!(
            e.reason.contains("16 characters long, the maximum is 15"),
            "{}",
            e.reason
        );
        hard(VarType::Netbios, "éééééééééééééééé");
        hard(VarType::Netbios, "a\tb");
        let e = warn(VarType::Netbios, "dom.aine");
        assert!(e.reason.contains("contains '.'"), "{}", e.reason);
        warn(VarType::Netbios, "écoles");
        warn(VarType::Netbios, "a b");
        warn(VarType::Netbios, "-abc");
    }

    #[test]
    fn leading_or_trailing_spaces_are_rejected_for_structured_types() {
        for &t in VarType::all() {
            if matches!(t, VarType::String | VarType::Password) {
                continue;
            }
            let sample = match t {
                VarType::Number | VarType::Port => "80",
                VarType::Ip | VarType::LocalIp | VarType::Broadcast | VarType::Network => {
                    "10.0.0.1"
                }
                VarType::Netmask => "255.0.0.0",
                VarType::Filename => "/etc",
                VarType::Mail => "a@b.fr",
                VarType::WebAddress => "http://a.fr",
                _ => t.choices().map_or("abc.fr", |c| c[0]),
            };
            let sample = if matches!(
                t,
                VarType::Hostname | VarType::HostnameStrict | VarType::UnixUser | VarType::Netbios
            ) {
                "abc"
            } else {
                sample
            };
            ok(t, sample);
            hard(t, &format!(" {sample}"));
            hard(t, &format!("{sample} "));
            hard(t, &format!("{sample}\n"));
        }
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let long = "x".repeat(500);
        let e = hard(VarType::Ip, &long);
        assert!(e.reason.len() < 200, "{}", e.reason);
        assert!(e.reason.contains('…'));
    }

    /// Values read from real `config.eol` files of EOLE servers
    /// (tests/data/eole/config-eol), with the types their dictionaries give.
    #[test]
    fn real_values_from_eole_servers() {
        let cases: &[(VarType, &[&str])] = &[
            (
                VarType::Domain,
                &[
                    "9740654t.ad.in.ac-reunion.fr",
                    "ac-dijon.fr",
                    "lfik.lfikyoto.local",
                    "10.1.21.64",
                    "0.fr.pool.ntp.org",
                    "10.173.2.27",
                    "hestia.eole.lan",
                    "mireole.ac-reunion.fr",
                ],
            ),
            (
                VarType::DomainStrict,
                &[
                    "clg.cg974.fr",
                    "portail.college-josephsuacot.ac-reunion.fr",
                    "www.college-josephsuacot.re",
                    "bp-eole.ac-dijon.fr",
                ],
            ),
            (
                VarType::Filename,
                &[
                    "/etc/ssl/certs/CA.portail.college-josephsuacot.ac-reunion.fr.cert",
                    "/etc/ssl/certs/eole.pem",
                ],
            ),
            (
                VarType::HostnameStrict,
                &[
                    "ac-dijon",
                    "savoie-colleges",
                    "glpi",
                    "a-clg-0654t",
                    "dc-seth-1",
                    "lab15-eole",
                    "fr",
                ],
            ),
            (
                VarType::Ip,
                &[
                    "10.1.2.27",
                    "165.169.76.108",
                    "192.168.1.254",
                    "8.8.8.8",
                    "195.221.237.30",
                    "10.211.81.0",
                ],
            ),
            (
                VarType::LocalIp,
                &[
                    "10.173.2.31",
                    "192.168.0.115",
                    "172.17.232.1",
                    "10.210.81.65",
                ],
            ),
            (
                VarType::Netmask,
                &[
                    "0.0.0.0",
                    "255.255.248.0",
                    "255.255.252.0",
                    "255.255.255.128",
                    "255.255.255.224",
                    "255.255.255.255",
                ],
            ),
            (
                VarType::Network,
                &[
                    "0.0.0.0",
                    "10.205.81.0",
                    "172.17.232.10",
                    "172.31.185.247",
                    "192.168.232.0",
                    "193.253.112.149",
                    "195.98.231.128",
                ],
            ),
            (VarType::Number, &["0", "1500", "5"]),
            (VarType::Port, &["3129", "3128", "443", "80"]),
            (VarType::UnixUser, &["cr974-niv2", "guest", "sae"]),
            (
                VarType::WebAddress,
                &["https://changelogs.ubuntu.com/meta-release-lts"],
            ),
        ];
        for (t, values) in cases {
            for v in *values {
                assert_eq!(ok(*t, v), *v, "{t} {v}");
            }
        }
        // A real public address in a local_ip: accepted with a warning.
        warn(VarType::LocalIp, "195.221.237.15");
    }

    #[test]
    fn ipv4_helpers() {
        assert_eq!(parse_ipv4("192.0.2.1"), Some(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(parse_ipv4("192.0.2.01"), None);
        assert_eq!(parse_ipv4(""), None);
        assert_eq!(parse_ipv4("1.2.3.4 "), None);
        assert_eq!(netmask_bits("255.255.255.0"), Some(24));
        assert_eq!(netmask_bits("0.0.0.0"), Some(0));
        assert_eq!(netmask_bits("255.255.255.255"), Some(32));
        assert_eq!(netmask_bits("255.255.0.255"), None);

        assert_eq!(
            calc_network("192.168.1.57", "255.255.255.0").as_deref(),
            Some("192.168.1.0")
        );
        assert_eq!(
            calc_broadcast("192.168.1.57", "255.255.255.0").as_deref(),
            Some("192.168.1.255")
        );
        assert_eq!(
            calc_network("10.210.81.193", "255.255.255.192").as_deref(),
            Some("10.210.81.192")
        );
        assert_eq!(
            calc_broadcast("10.210.81.193", "255.255.255.192").as_deref(),
            Some("10.210.81.255")
        );
        assert_eq!(
            calc_network("172.17.232.1", "255.255.248.0").as_deref(),
            Some("172.17.232.0")
        );
        assert_eq!(
            calc_broadcast("172.17.232.1", "255.255.248.0").as_deref(),
            Some("172.17.239.255")
        );
        assert_eq!(
            calc_network("1.2.3.4", "0.0.0.0").as_deref(),
            Some("0.0.0.0")
        );
        assert_eq!(
            calc_broadcast("1.2.3.4", "0.0.0.0").as_deref(),
            Some("255.255.255.255")
        );
        assert_eq!(
            calc_broadcast("1.2.3.4", "255.255.255.255").as_deref(),
            Some("1.2.3.4")
        );
        assert_eq!(calc_network("1.2.3.4", "255.0.255.0"), None);
        assert_eq!(calc_network("1.2.3", "255.255.255.0"), None);
        assert_eq!(calc_broadcast("1.2.3.4", ""), None);

        assert_eq!(
            ip_in_network("192.168.1.57", "192.168.1.0", "255.255.255.0"),
            Some(true)
        );
        assert_eq!(
            ip_in_network("192.168.2.57", "192.168.1.0", "255.255.255.0"),
            Some(false)
        );
        assert_eq!(ip_in_network("10.0.0.1", "0.0.0.0", "0.0.0.0"), Some(true));
        assert_eq!(
            ip_in_network("192.168.1.57", "192.168.1.9", "255.255.255.0"),
            Some(true)
        );
        assert_eq!(
            ip_in_network("192.168.1.57", "192.168.1.0", "255.0.255.0"),
            None
        );
        assert_eq!(ip_in_network("192.168.1.57", "x", "255.255.255.0"), None);

        assert_eq!(
            is_network_for_mask("192.168.1.0", "255.255.255.0"),
            Some(true)
        );
        assert_eq!(
            is_network_for_mask("192.168.1.5", "255.255.255.0"),
            Some(false)
        );
        assert_eq!(
            is_network_for_mask("172.31.185.247", "255.255.255.255"),
            Some(true)
        );
        assert_eq!(is_network_for_mask("0.0.0.0", "0.0.0.0"), Some(true));
        assert_eq!(is_network_for_mask("10.0.0.0", "255.0.0.1"), None);

        assert_eq!(
            ip_is_network_or_broadcast("192.168.1.0", "255.255.255.0"),
            Some(true)
        );
        assert_eq!(
            ip_is_network_or_broadcast("192.168.1.255", "255.255.255.0"),
            Some(true)
        );
        assert_eq!(
            ip_is_network_or_broadcast("192.168.1.1", "255.255.255.0"),
            Some(false)
        );
        assert_eq!(
            ip_is_network_or_broadcast("192.168.1.0", "255.255.255.254"),
            Some(false)
        );
        assert_eq!(
            ip_is_network_or_broadcast("192.168.1.1", "255.255.255.255"),
            Some(false)
        );
        assert_eq!(
            ip_is_network_or_broadcast("10.0.0.0", "0.0.0.0"),
            Some(false)
        );
        assert_eq!(ip_is_network_or_broadcast("0.0.0.0", "0.0.0.0"), Some(true));
        assert_eq!(ip_is_network_or_broadcast("1.2.3.4", "nope"), None);
    }

    fn mask_of(bits: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::MAX.checked_shl(32 - bits).unwrap_or(0))
    }

    proptest! {
        #[test]
        fn validate_never_panics(s in any::<String>()) {
            for &t in VarType::all() {
                if let Ok(normal) = validate(t, &s) {
                    // The normal form is itself valid and stable.
                    prop_assert_eq!(validate(t, &normal), Ok(normal.clone()));
                }
            }
        }

        #[test]
        fn validate_never_panics_on_near_misses(
            s in "[0-9a-zA-Z.:/@_$é -]{0,70}|https?://[a-z0-9.:/-]{0,40}|[0-9]{1,4}(\\.[0-9]{1,4}){0,5}"
        ) {
            for &t in VarType::all() {
                if let Ok(normal) = validate(t, &s) {
                    prop_assert_eq!(validate(t, &normal), Ok(normal.clone()));
                }
            }
        }

        #[test]
        fn errors_are_single_line(s in any::<String>()) {
            for &t in VarType::all() {
                if let Err(e) = validate(t, &s) {
                    prop_assert!(!e.reason.contains('\n'));
                    prop_assert!(!e.reason.is_empty());
                }
            }
        }

        #[test]
        fn ipv4_round_trips(n in any::<u32>()) {
            let ip = Ipv4Addr::from(n);
            let text = ip.to_string();
            prop_assert_eq!(parse_ipv4(&text), Some(ip));
            prop_assert_eq!(validate(VarType::Ip, &text), Ok(text.clone()));
            prop_assert_eq!(validate(VarType::Broadcast, &text), Ok(text.clone()));
            let local = validate(VarType::LocalIp, &text);
            prop_assert!(local.is_ok() || local.is_err_and(|e| e.warning_only));
            // IPs are accepted where allowed, refused where not.
            prop_assert_eq!(validate(VarType::Domain, &text), Ok(text.clone()));
            prop_assert_eq!(validate(VarType::Hostname, &text), Ok(text.clone()));
            prop_assert!(validate(VarType::DomainStrict, &text).is_err());
            prop_assert!(validate(VarType::HostnameStrict, &text).is_err());
        }

        #[test]
        fn netmasks_round_trip(bits in 0u32..=32) {
            let text = mask_of(bits).to_string();
            prop_assert_eq!(validate(VarType::Netmask, &text), Ok(text.clone()));
            prop_assert_eq!(netmask_bits(&text), Some(bits as u8));
        }

        #[test]
        fn non_contiguous_masks_are_refused(n in any::<u32>()) {
            let contiguous = n.leading_ones() + n.trailing_zeros() == 32;
            let text = Ipv4Addr::from(n).to_string();
            prop_assert_eq!(validate(VarType::Netmask, &text).is_ok(), contiguous);
            prop_assert_eq!(netmask_bits(&text).is_some(), contiguous);
        }

        #[test]
        fn subnet_arithmetic_is_consistent(n in any::<u32>(), bits in 0u32..=32) {
            let ip = Ipv4Addr::from(n).to_string();
            let mask = mask_of(bits).to_string();
            let net = calc_network(&ip, &mask).unwrap();
            let bcast = calc_broadcast(&ip, &mask).unwrap();
            let (netn, bn) = (u32::from(parse_ipv4(&net).unwrap()), u32::from(parse_ipv4(&bcast).unwrap()));
            prop_assert!(netn <= n && n <= bn);
            prop_assert_eq!(is_network_for_mask(&net, &mask), Some(true));
            prop_assert_eq!(ip_in_network(&ip, &net, &mask), Some(true));
            prop_assert_eq!(ip_in_network(&bcast, &net, &mask), Some(true));
            prop_assert_eq!(calc_network(&bcast, &mask), Some(net.clone()));
            prop_assert_eq!(is_network_for_mask(&ip, &mask), Some(ip == net));
            let edge = ip == net || ip == bcast;
            prop_assert_eq!(ip_is_network_or_broadcast(&ip, &mask), Some(edge && bits < 31));
        }

        #[test]
        fn numbers_round_trip(n in any::<i64>(), zeros in 0usize..5) {
            let text = n.to_string();
            prop_assert_eq!(validate(VarType::Number, &text), Ok(text.clone()));
            let padded = match text.strip_prefix('-') {
                Some(digits) => format!("-{}{digits}", "0".repeat(zeros)),
                None => format!("{}{text}", "0".repeat(zeros)),
            };
            prop_assert_eq!(validate(VarType::Number, &padded), Ok(text));
        }

        #[test]
        fn ports_round_trip(p in 1u16..) {
            let text = p.to_string();
            prop_assert_eq!(validate(VarType::Port, &text), Ok(text));
        }

        #[test]
        fn generated_names_are_valid(labels in prop::collection::vec("[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", 2..5)) {
            let name = labels.join(".");
            let dotted_digits = labels.iter().all(|l| l.chars().all(|c| c.is_ascii_digit()));
            prop_assume!(!dotted_digits);
            prop_assert_eq!(validate(VarType::Domain, &name), Ok(name.clone()));
            prop_assert_eq!(validate(VarType::DomainStrict, &name), Ok(name.clone()));
            prop_assert_eq!(validate(VarType::HostnameStrict, &labels[0]), Ok(labels[0].clone()));
            let upper = name.to_ascii_uppercase();
            prop_assert_eq!(validate(VarType::Domain, &upper), Ok(name.clone()));
            let mail = format!("user.{}@{name}", labels[0]);
            prop_assert_eq!(validate(VarType::Mail, &mail), Ok(mail.clone()));
        }
    }
}
