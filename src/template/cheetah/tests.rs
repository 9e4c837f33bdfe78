//! Unit tests of the parser and the evaluator. The expected texts are
//! Cheetah3's (tests/cheetah_oracle.rs compares many more with Cheetah3
//! itself).

use proptest::prelude::*;
use serde_json::json;

use super::{ErrorKind, Namespace, Template};

fn ns() -> Namespace {
    Namespace::from_dump(&json!({
        "variables": {"a": "x", "n": 3, "l": ["p", "q"], "none": null, "ns.fam.v": "deep"},
        "masters": {"ip": {
            "values": ["1.1.1.1", "2.2.2.2"],
            "slaves": {"mask": ["255.0.0.0", "255.255.0.0"], "gw": ["g1", null]}
        }},
        "missing": {"gone": "computed by get_zone_name, which conteneur does not support"},
    }))
}

fn render(t: &str) -> String {
    match Template::parse("t", t).and_then(|t| t.render(&ns())) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

fn error(t: &str) -> super::CheetahError {
    match Template::parse("t", t).and_then(|t| t.render(&ns())) {
        Ok(s) => panic!("rendered: {s:?}"),
        Err(e) => e,
    }
}

#[test]
fn placeholders() {
    assert_eq!(render("v=%%a %%n %%l %%none.\n"), "v=x 3 ['p', 'q'] .\n");
    assert_eq!(render("%%(n + 1)|%%[n]|%%{a}|%%ns.fam.v"), "4|3|x|deep");
    // A dot not followed by a name ends the placeholder.
    assert_eq!(render("%%a.%%a."), "x.x.");
}

#[test]
fn a_directive_alone_on_its_line_is_gobbled() {
    assert_eq!(
        render("a\n  %if %%n == 3\n  b\n  %end if\nc\n"),
        "a\n  b\nc\n"
    );
    // Not alone: the text before stays, and so does the line end.
    assert_eq!(render("a %if True\nb\n%end if\n"), "a \nb\n");
    // `#` ends a directive: the rest of the line is text.
    assert_eq!(render("%set %%v = 1 # note\n%%v\n"), " note\n1\n");
}

#[test]
fn slurp() {
    assert_eq!(render("a%slurp\nb\n"), "ab\n");
    assert_eq!(render("a %\nb\n"), "a b\n");
    assert_eq!(render("  %\nb\n"), "b\n");
    assert_eq!(render("100%\n"), "100");
    assert_eq!(render("%%a%slurp\n,%%a\n"), "x,x\n");
}

#[test]
fn comments_and_plain_text() {
    let t = "µµµµµµµµµµ gone\n  µµµµµµµµµµ gone too\nx µµµµµµµµµµ end\n## $a # %% kept\n";
    assert_eq!(render(t), "x \n## $a # %% kept\n");
    assert_eq!(render("\\%%a \\%if\n"), "%%a %if\n");
    // Five µ are text.
    assert_eq!(render("µµµµµ\n"), "µµµµµ\n");
}

#[test]
fn nested_loops_over_masters() {
    let t = "%for %%i in %%ip\n%for %%x in %%l\n%%i/%%i.mask %%x %%i.gw\n%end for\n%end for\n";
    assert_eq!(
        render(t),
        "1.1.1.1/255.0.0.0 p g1\n1.1.1.1/255.0.0.0 q g1\n2.2.2.2/255.255.0.0 p \n2.2.2.2/255.255.0.0 q \n"
    );
    assert_eq!(
        render("%%ip %%len(%%ip) %%ip[1].mask %%ip.mask"),
        "['1.1.1.1', '2.2.2.2'] 2 255.255.0.0 ['255.0.0.0', '255.255.0.0']"
    );
    // Slaves are not names of their own.
    assert_eq!(
        render("%%is_defined('mask') %%is_defined('ip')"),
        "False True"
    );
    let t = "%for %%x in %%range(5)\n%if %%x == 1\n%continue\n%end if\n%if %%x == 3\n%break\n%end if\n%%x\n%end for\n";
    assert_eq!(render(t), "0\n2\n");
}

#[test]
fn defs() {
    let t = "%def f(%%who, %%sep='-')\nhi%%sep%%who\n%end def\n[%%f('you')][%%f(%%a, '+')]\n";
    assert_eq!(render(t), "[hi-you\n][hi+x\n]\n");
    let t = "%def g(c)\n%if c.count('.') == 0\n%return c\n%end if\n%return c.split('.')[0]\n%end def\n%%g('a.b') %%g('ab')\n";
    assert_eq!(render(t), "a ab\n");
    // A def sees `%set global`s, not the main body's locals.
    let t = "%set global %%acc = []\n%set %%loc = 1\n%def add(%%v)\n%silent %%acc.append(%%v)\n%end def\n%silent %%add(2)\n%%acc\n";
    assert_eq!(render(t), "[2]\n");
    let t = "%set %%loc = 1\n%def h()\n%%loc\n%end def\n%%h()\n";
    assert_eq!(error(t).kind, ErrorKind::Python);
}

#[test]
fn try_except() {
    assert_eq!(
        render("%try\n%set %%z = %%gone\n%except\ncaught\n%end try\n"),
        "caught\n"
    );
    assert_eq!(
        render("%try\nbefore\n%%nope\n%except\n%pass\n%end try\n"),
        "before\n"
    );
    // What conteneur does not evaluate is never caught.
    let e = error("%try\n%%creole_client.get_interfaces()\n%except\nx\n%end try\n");
    assert_eq!(e.kind, ErrorKind::Unsupported);
}

#[test]
fn python_semantics() {
    assert_eq!(
        render("%%str(1.0) %%(7 / 2) %%(-7 // 2) %%(-7 % 3) %%range(3)"),
        "1.0 3.5 -4 2 range(0, 3)"
    );
    assert_eq!(
        render("%%('%s-%03d' % (%%a, %%n)) %%('{0}!'.format(%%a)) %%'a'"),
        "x-003 x! %%'a'"
    );
    assert_eq!(
        render("%%('10' < '9') %%(%%l == ['p', 'q']) %%(1 if not %%l else 2)"),
        "True True 2"
    );
    assert_eq!(
        render("%%(%%none or 'dflt') %%getVar('gone', 'd') %%getVar('a')"),
        "dflt d x"
    );
    assert_eq!(render("%%([x.upper() for x in %%l if x != 'p'])"), "['Q']");
}

#[test]
fn errors_name_the_place_and_the_construct() {
    let e = error("ok\n  %while True\n");
    assert_eq!((e.pos.line, e.pos.col, e.kind), (2, 3, ErrorKind::Syntax));
    assert!(e.to_string().contains("%while"), "{e}");
    let e = error("x\n%%gone\n");
    assert_eq!((e.pos.line, e.pos.col), (2, 1));
    assert!(e.to_string().contains("get_zone_name"), "{e}");
    let e = error("%if True\nx\n");
    assert!(e.to_string().contains("%end"), "{e}");
    let e = error("%import os\n");
    assert!(e.to_string().contains("%import"), "{e}");
    // A %break outside a loop is refused where it stands, as Python does,
    // and so is one in a %def that is not in the def's own loop.
    let e = error("x\n%break\n");
    assert_eq!((e.pos.line, e.pos.col, e.kind), (2, 1, ErrorKind::Syntax));
    assert!(e.to_string().contains("outside a %for loop"), "{e}");
    let e = error("%for %%i in %%l\n%def f()\n%continue\n%end def\n%end for\n");
    assert_eq!((e.pos.line, e.kind), (3, ErrorKind::Syntax));
    assert_eq!(
        render("%def f()\n%for %%i in %%l\n%%i\n%break\n%end for\n%end def\n%%f()"),
        "p\n"
    );
    // Comparing a number with a string is Python 3's TypeError.
    assert_eq!(error("%if %%n > '2'\nx\n%end if\n").kind, ErrorKind::Python);
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let t = format!("%%({}1{})", "(".repeat(500), ")".repeat(500));
    assert_eq!(error(&t).kind, ErrorKind::Syntax);
    let t = "%if True\n".repeat(500);
    assert_eq!(error(&t).kind, ErrorKind::Syntax);
    let t = format!("%%({})", vec!["1"; 2000].join(" + "));
    assert_eq!(error(&t).kind, ErrorKind::Syntax);
    let t = "%def f()\n%%f()\n%end def\n%%f()\n";
    assert_eq!(error(t).kind, ErrorKind::Python);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// No text makes the parser or the evaluator panic, loop or overflow.
    #[test]
    fn any_text_parses_or_fails_cleanly(t in r"(%|%%|µµµµµµµµµµ|[a-z]|[ \n(){}\[\].,:'=+#\\-]|if |for |end |set |in |def |try|except|slurp|0){0,60}") {
        if let Ok(tpl) = Template::parse("t", &t) {
            let _ = tpl.render(&ns());
        }
    }

    #[test]
    fn any_bytes_parse_or_fail_cleanly(t in any::<String>()) {
        if let Ok(tpl) = Template::parse("t", &t) {
            let _ = tpl.render(&ns());
        }
    }
}
