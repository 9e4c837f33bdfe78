//! Unit tests of `config::pylit`, in a file of their own: they outgrew the
//! code they test.

use super::*;
use proptest::prelude::*;

fn list(s: &str) -> Vec<String> {
    match parse_list(s) {
        Ok(v) => v,
        Err(e) => panic!("{s:?} should parse: {e}"),
    }
}

fn error(s: &str) -> String {
    match parse_list(s) {
        Ok(v) => panic!("{s:?} should fail, got {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn simple_lists() {
    assert_eq!(list("['a','b']"), ["a", "b"]);
    assert_eq!(list("[\"a\", \"b\"]"), ["a", "b"]);
    assert_eq!(list("['a', \"b\"]"), ["a", "b"]);
    assert_eq!(list("  \n\t[ 'a' ,\n  'b' ]\n  "), ["a", "b"]);
    assert_eq!(list("['a', 'b',]"), ["a", "b"]);
    assert_eq!(list("['a', 'b' , ]"), ["a", "b"]);
    assert_eq!(list("[]"), Vec::<String>::new());
    assert_eq!(list("[ \n ]"), Vec::<String>::new());
    assert_eq!(list("['']"), [""]);
    assert_eq!(list("['', \"\"]"), ["", ""]);
}

#[test]
fn tuples() {
    assert_eq!(list("('a','b')"), ["a", "b"]);
    assert_eq!(list("('a',)"), ["a"]);
    assert_eq!(list("('a')"), ["a"]);
    assert_eq!(list("()"), Vec::<String>::new());
}

#[test]
fn escapes() {
    assert_eq!(list(r"['it\'s']"), ["it's"]);
    assert_eq!(list(r#"["say \"hi\""]"#), ["say \"hi\""]);
    assert_eq!(list(r#"['say "hi"', "it's"]"#), ["say \"hi\"", "it's"]);
    assert_eq!(list(r"['a\\b']"), ["a\\b"]);
    assert_eq!(list(r"['a\nb\tc\rd']"), ["a\nb\tc\rd"]);
    assert_eq!(list(r"['\x41\u00e9\U0001F600\101\0']"), ["Aé😀A\0"]);
    // Unknown escapes keep their backslash, as in Python.
    assert_eq!(list(r"['\d+\.\w']"), ["\\d+\\.\\w"]);
    // A backslash-newline inside a string joins the lines.
    assert_eq!(list("['ab\\\ncd']"), ["abcd"]);
    assert!(error(r"['\x4']").contains("expected 2 hex digits"));
    assert!(error(r"['\ud800']").contains("not a valid character"));
    assert!(error(r"['\N{BULLET}']").contains("not supported"));
    assert!(error(r"['abc\").starts_with("unterminated string starting at offset 1"));
}

#[test]
fn prefixes_raw_and_triple_quotes() {
    assert_eq!(list("[u'é', U\"x\"]"), ["é", "x"]);
    assert_eq!(list(r"[r'\d+', R'a\'b']"), [r"\d+", r"a\'b"]);
    assert_eq!(list(r"[ur'\n', b'x', rb'\t']"), [r"\n", "x", r"\t"]);
    assert_eq!(list("['''a'b''', \"\"\"x\ny\"\"\"]"), ["a'b", "x\ny"]);
    assert_eq!(list("['''''']"), [""]);
}

#[test]
fn adjacent_strings_are_joined() {
    assert_eq!(list("['a' 'b', 'c'\n  \"d\"]"), ["ab", "cd"]);
    assert_eq!(list("['a' u'b']"), ["ab"]);
}

#[test]
fn unicode_text() {
    assert_eq!(
        list("['non géré', 'dhcp', 'statique']"),
        ["non géré", "dhcp", "statique"]
    );
    assert_eq!(
        list("['serveur de clés','URL de la clé']"),
        ["serveur de clés", "URL de la clé"]
    );
    assert_eq!(
        list("['autosigné','letsencrypt','manuel']"),
        ["autosigné", "letsencrypt", "manuel"]
    );
    assert_eq!(list("['日本', '😀']"), ["日本", "😀"]);
    // Offsets count characters, not bytes.
    assert_eq!(
        error("['é' x]"),
        "expected ',' or ']' at offset 5, found 'x'"
    );
}

#[test]
fn numbers_and_constants() {
    assert_eq!(list("[1, 2]"), ["1", "2"]);
    assert_eq!(list("[0, 10, 100, 1000]"), ["0", "10", "100", "1000"]);
    assert_eq!(
        list("[-1, +2, - 3, 1.5, .5, 2.]"),
        ["-1", "+2", "-3", "1.5", ".5", "2."]
    );
    assert_eq!(list("[True, False, None]"), ["True", "False", "None"]);
    assert_eq!(list("['a', 1, True]"), ["a", "1", "True"]);
    assert!(error("[true]").contains("unknown name 'true' at offset 1"));
    assert!(error("[eosfunc.get_net_devices()]").contains("unknown name 'eosfunc'"));
    assert_eq!(error("[-]"), "expected a number at offset 2, found ']'");
    assert_eq!(
        error("[1.2.3]"),
        "expected ',' or ']' at offset 4, found '.'"
    );
    assert_eq!(error("[1a]"), "expected ',' or ']' at offset 2, found 'a'");
}

#[test]
fn comments_and_continuations() {
    assert_eq!(
        list("[ # first\n 'a', # the a\n 'b' # the b\n]"),
        ["a", "b"]
    );
    assert_eq!(list("['a', \\\n 'b']"), ["a", "b"]);
    assert!(error("['a', \\ 'b']").contains("unexpected '\\' at offset 6"));
}

#[test]
fn error_messages() {
    assert_eq!(
        error(""),
        "expected '[' or '(' at offset 0, found end of input"
    );
    assert_eq!(
        error("   "),
        "expected '[' or '(' at offset 3, found end of input"
    );
    assert_eq!(error("'a'"), "expected '[' or '(' at offset 0, found '\\''");
    assert_eq!(
        error("['a' 'b'"),
        "expected ',' or ']' at offset 8, found end of input"
    );
    assert_eq!(
        error("['a', 'b' x]"),
        "expected ',' or ']' at offset 10, found 'x'"
    );
    assert_eq!(
        error("['a','b','c'  x]"),
        "expected ',' or ']' at offset 14, found 'x'"
    );
    assert_eq!(error("['a')"), "expected ',' or ']' at offset 4, found ')'");
    assert_eq!(error("('a']"), "expected ',' or ')' at offset 4, found ']'");
    assert_eq!(
        error("['a'] x"),
        "expected end of input at offset 6, found 'x'"
    );
    assert_eq!(
        error("['a']]"),
        "expected end of input at offset 5, found ']'"
    );
    assert_eq!(
        error("[,]"),
        "expected a quoted string, a number, True, False, None or ']' at offset 1, found ','"
    );
    assert!(error("['a',,]").contains("at offset 5, found ','"));
    assert!(error("[").contains("at offset 1, found end of input"));
    assert!(
        error("['a").starts_with("unterminated string starting at offset 1: expected a closing '")
    );
    assert!(error("[\"a").contains("expected a closing \""));
    assert!(error("['''a'']").contains("expected a closing '''"));
    assert!(error("['a\nb']").contains("line break inside the string"));
    assert!(error("[['a']]").contains("nested"));
    assert!(error("[{'a': 1}]").contains("nested"));
    assert_eq!(error("[\u{a0}'a']").lines().count(), 1);
    assert!(error("['a'\n\u{0}]").contains("found '\\0'"));
}

fn repr2(s: &str) -> Result<Vec<Item>, Error> {
    parse(s, Dialect::Repr2)
}

fn text(s: &str) -> Item {
    Item::Str(s.to_string())
}

#[test]
fn items_are_typed() {
    assert_eq!(
        parse(
            "['a', -3, 2.5, 1e3, 5L, True, False, None]",
            Dialect::Source
        ),
        Ok(vec![
            text("a"),
            Item::Number("-3".into()),
            Item::Number("2.5".into()),
            Item::Number("1e3".into()),
            Item::Number("5".into()),
            Item::Bool(true),
            Item::Bool(false),
            Item::None,
        ])
    );
    // Python 2 (Creole 2.x) reads 5L; the text compared is 5.
    assert_eq!(list("[5L, 1E-2]"), ["5", "1E-2"]);
    assert!(error("[1e999]").contains("too large"));
}

/// Python 2's `repr` in an EOLE 2.3 config.eol: byte strings, `\u` only
/// in unicode strings, no joined strings, a list only, `;` comments.
#[test]
fn python2_repr_dialect() {
    assert_eq!(
        repr2(r"['autosign\xc3\xa9', u'autosign\xe9', u'\u00e9', '\xe9', '\u00e9']"),
        Ok(vec![
            text("autosigné"),
            text("autosigné"),
            text("é"),
            // Not UTF-8: read as Latin-1.
            text("é"),
            // A byte string knows no \u escape.
            text("\\u00e9"),
        ])
    );
    assert_eq!(list(r"['\xc3\xa9']"), ["Ã©"]);
    assert_eq!(repr2("['a'] ; comment"), Ok(vec![text("a")]));
    assert_eq!(repr2("['a', # why\n 'b']"), Ok(vec![text("a"), text("b")]));
    assert_eq!(repr2("['a\nb']"), Ok(vec![text("a\nb")]));
    assert_eq!(repr2(r"['\N']"), Ok(vec![text("\\N")]));
    let e = repr2("['a' 'b']").unwrap_err();
    assert_eq!(
        (e.at, e.describe().as_str()),
        (5, "expected ',' or ']', found '\\''")
    );
    let e = repr2("('a',)").unwrap_err();
    assert!(
        e.describe().contains("a Python list such as ['value']"),
        "{e}"
    );
    let e = repr2("['é', u'\\u12']").unwrap_err();
    assert_eq!(e.at, 8);
    assert_eq!(e.byte_offset("['é', u'\\u12']"), 9);
    assert_eq!(e.describe(), "escape sequence needs 4 hexadecimal digits");
    assert_eq!(
        repr2("['x").unwrap_err().describe(),
        "string is not closed (missing ')"
    );
}

/// The string literals of every `valid_enum` in the real dictionaries
/// (tests/data/eole/dicos), with what they must give.
#[test]
fn real_valid_enum_params() {
    let cases: &[(&str, &[&str])] = &[
        (
            "['aucun', 'queryauto', 'kernel', 'tous']",
            &["aucun", "queryauto", "kernel", "tous"],
        ),
        (
            "['serveur de clés','URL de la clé']",
            &["serveur de clés", "URL de la clé"],
        ),
        (
            "['autosigné','letsencrypt','manuel']",
            &["autosigné", "letsencrypt", "manuel"],
        ),
        ("['webroot','standalone']", &["webroot", "standalone"]),
        ("['dhcp','statique']", &["dhcp", "statique"]),
        (
            "['balance-rr', 'active-backup', 'balance-xor', 'broadcast', '802.3ad', 'balance-tlb', 'balance-alb']",
            &[
                "balance-rr",
                "active-backup",
                "balance-xor",
                "broadcast",
                "802.3ad",
                "balance-tlb",
                "balance-alb",
            ],
        ),
        ("['10', '100', '1000']", &["10", "100", "1000"]),
        ("['full', 'half']", &["full", "half"]),
        ("['0','1','2','3','4']", &["0", "1", "2", "3", "4"]),
        (
            "['none', 'daily', 'weekly', 'monthly']",
            &["none", "daily", "weekly", "monthly"],
        ),
        (
            "['non géré', 'dhcp', 'statique']",
            &["non géré", "dhcp", "statique"],
        ),
        ("['sha256','sha1']", &["sha256", "sha1"]),
        ("['1','2','3','4','5']", &["1", "2", "3", "4", "5"]),
        ("['dark','light']", &["dark", "light"]),
        ("['AD','ldap']", &["AD", "ldap"]),
        ("['ttls','peap']", &["ttls", "peap"]),
        ("['accounting', 'AD']", &["accounting", "AD"]),
    ];
    for (param, expected) in cases {
        assert_eq!(list(param), *expected, "{param}");
    }
    let hours = list(
        r#"["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17","18","19","20","21","22","23","24"]"#,
    );
    let expected: Vec<String> = (1..=24).map(|h| h.to_string()).collect();
    assert_eq!(hours, expected);
}

/// The `time_zone` enum of 00_common.xml (EOLE 2.10), as it is in the file.
const TIME_ZONES: &str = r#"["Africa/Asmara", "Africa/Cairo", "Africa/Tripoli", "America/Adak", "America/Anchorage", "America/Argentina/Buenos_Aires", "America/Argentina/Catamarca", "America/Argentina/Cordoba", "America/Argentina/Jujuy", "America/Argentina/Mendoza", "America/Cayenne", "America/Chicago", "America/Denver", "America/Detroit", "America/Edmonton", "America/Guadeloupe", "America/Halifax", "America/Havana", "America/Indianapolis", "America/Jamaica", "America/Los_Angeles", "America/Manaus", "America/Martinique", "America/Mazatlan", "America/Mexico_City", "America/Miquelon", "America/New_York", "America/Noronha", "America/Phoenix", "America/Regina", "America/Rio_Branco", "America/Santiago", "America/Sao_Paulo", "America/St_Johns", "America/Tijuana", "America/Toronto", "America/Vancouver", "America/Whitehorse", "America/Winnipeg", "Antarctica/McMurdo", "Asia/Ashgabat", "Asia/Chongqing", "Asia/Dhaka", "Asia/Ho_Chi_Minh", "Asia/Hong_Kong", "Asia/Kathmandu", "Asia/Kolkata", "Asia/Macau", "Asia/Riyadh", "Asia/Seoul", "Asia/Shanghai", "Asia/Singapore", "Asia/Taipei", "Asia/Tehran", "Asia/Tel_Aviv", "Asia/Thimphu", "Asia/Tokyo", "Asia/Ulaanbaatar", "Atlantic/Faroe", "Atlantic/Reykjavik", "Australia/Adelaide", "Australia/Brisbane", "Australia/Darwin", "Australia/Hobart", "Australia/Lord_Howe", "Australia/Melbourne", "Australia/Perth", "Australia/Sydney", "Europe/Dublin", "Europe/Helsinki", "Europe/Istanbul", "Europe/Lisbon", "Europe/London", "Europe/Moscow", "Europe/Paris", "Europe/Warsaw", "Indian/Mayotte", "Indian/Reunion", "Pacific/Auckland", "Pacific/Chatham", "Pacific/Easter", "Pacific/Gambier", "Pacific/Honolulu", "Pacific/Kwajalein", "Pacific/Noumea", "Pacific/Marquesas", "Pacific/Pago_Pago", "Pacific/Tahiti", "Pacific/Wallis"]"#;

#[test]
fn real_time_zone_list() {
    let zones = list(TIME_ZONES);
    assert_eq!(zones.len(), 89);
    assert_eq!(zones[0], "Africa/Asmara");
    assert_eq!(zones[74], "Europe/Paris");
    assert_eq!(zones[88], "Pacific/Wallis");
    assert!(zones.iter().all(|z| z.contains('/') && !z.contains('"')));
    // Every prefix of it fails cleanly, never panics.
    let chars: Vec<char> = TIME_ZONES.chars().collect();
    for end in 0..chars.len() {
        let cut: String = chars[..end].iter().collect();
        assert!(parse_list(&cut).is_err(), "{cut}");
    }
}

/// Writes a list the way Python's `repr` would, picking quotes per item.
fn python_repr(items: &[String], double: bool, tuple: bool, trailing_comma: bool) -> String {
    let q = if double { '"' } else { '\'' };
    let mut out = String::from(if tuple { "(" } else { "[" });
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push(q);
        for c in item.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c == q => {
                    out.push('\\');
                    out.push(c);
                }
                c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push(q);
    }
    if trailing_comma && !items.is_empty() {
        out.push(',');
    }
    out.push(if tuple { ')' } else { ']' });
    out
}

proptest! {
    #[test]
    fn never_panics(s in any::<String>()) {
        let _ = parse_list(&s);
    }

    #[test]
    fn never_panics_on_list_like_input(s in r#"[\[\]()'",\\ a-zé0-9#\n.+-]{0,40}"#) {
        let _ = parse_list(&s);
        let _ = parse_list(&format!("[{s}"));
        let _ = parse_list(&format!("['{s}"));
    }

    #[test]
    fn repr_round_trips(
        items in prop::collection::vec(any::<String>(), 0..8),
        double in any::<bool>(),
        tuple in any::<bool>(),
        trailing_comma in any::<bool>(),
    ) {
        let text = python_repr(&items, double, tuple, trailing_comma);
        prop_assert_eq!(parse_list(&text), Ok(items));
    }

    #[test]
    fn integers_come_back_as_text(ns in prop::collection::vec(any::<i64>(), 0..10)) {
        let text = format!("[{}]", ns.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "));
        let expected: Vec<String> = ns.iter().map(|n| n.to_string()).collect();
        prop_assert_eq!(parse_list(&text), Ok(expected));
    }

    #[test]
    fn errors_name_an_offset_inside_the_input(s in r#"[\['", a-zé]{0,30}"#) {
        if let Err(e) = parse_list(&s) {
            let n = s.chars().count();
            let offset: Option<usize> = e
                .split("offset ")
                .nth(1)
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|d| d.parse().ok());
            prop_assert!(offset.is_some_and(|o| o <= n), "{}", e);
        }
    }
}
