//! Unit tests of `config::types`, in a file of their own: they outgrew the
//! code they test.

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
        // Relative names, as real modules store them (Creole accepts them).
        "perso/.corbeille",
        "eole",
        "~/x",
    ] {
        assert_eq!(ok(VarType::Filename, good), good);
    }
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
            VarType::Ip | VarType::LocalIp | VarType::Broadcast | VarType::Network => "10.0.0.1",
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
