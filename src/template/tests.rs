//! Unit tests of rendering and writing, on small dictionaries.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use indexmap::IndexMap;

use super::*;
use crate::config::EolFile;
use crate::dico;

/// A root with a templates folder, and a configuration.
struct Fixture {
    dir: tempfile::TempDir,
    paths: Paths,
    cfg: Config,
}

impl Fixture {
    fn new(xml: &str, eol: &str, templates: &[(&str, &str)]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Paths::new(dir.path());
        paths.templates = dir.path().join("tpl");
        std::fs::create_dir_all(&paths.templates).unwrap();
        for (name, text) in templates {
            std::fs::write(paths.templates.join(name), text).unwrap();
        }
        let out = dico::load_texts(&[("00_t.xml", xml)]);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let eol = EolFile::parse(eol.as_bytes(), Path::new("config.eol")).unwrap();
        let cfg = Config::new(Arc::new(out.dicos), eol, IndexMap::new(), false);
        Fixture { dir, paths, cfg }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn render(&self) -> Result<Vec<Rendered>, TemplateErrors> {
        render_all(&self.cfg, &self.paths, None)
    }

    fn text(&self, source: &str) -> String {
        let all = self.render().unwrap_or_else(|e| panic!("{e}"));
        match &all.iter().find(|r| r.source == source).unwrap().action {
            Action::Write(t) => t.clone(),
            other => panic!("{source}: {other:?}"),
        }
    }

    fn errors(&self) -> Vec<String> {
        match self.render() {
            Ok(_) => panic!("rendering succeeded"),
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }
}

fn dico(files: &str) -> String {
    format!(
        r#"<creole><files>{files}</files><variables><family name='f'>
        <variable name='on' type='oui/non'><value>non</value></variable>
        <variable name='word' type='string'><value>it's</value></variable>
        <variable name='unset' type='string'/>
        <variable name='n' type='number'><value>42</value></variable>
        <variable name='list' type='string' multi='True'><value>a</value><value>b c</value></variable>
        <variable name='ip' type='ip' multi='True'><value>10.0.0.1</value><value>10.0.0.2</value></variable>
        <variable name='mask' type='netmask'><value>255.0.0.0</value></variable>
        <variable name='off' type='string'><value>hidden value</value></variable>
        <variable name='eth' type='string'/>
        </family></variables><constraints>
        <group master='ip'><slave>mask</slave></group>
        <condition name='disabled_if_in' source='on'><param>non</param><target>off</target><target type='filelist'>opt</target></condition>
        <auto name='auto_eth' target='eth'><param>0</param></auto>
        </constraints></creole>"#
    )
}

const ONE: &str = "<file name='/etc/t.conf' source='t.conf'/>";

#[test]
fn context_shapes() {
    let tpl = "{{ word }}|{{ n + 1 }}|{{ unset is none }}|{{ list | join(sep=',') }}|\
               {% for i in ip %}{{ i.value }}/{{ i.mask }} {% endfor %}|{{ mask | join(sep=',') }}|\
               {{ off is defined }}|{{ eth is defined }}|{{ families | length }}";
    let f = Fixture::new(&dico(ONE), "{}", &[("t.conf", tpl)]);
    assert_eq!(
        f.text("t.conf"),
        "it's|43|true|a,b c|10.0.0.1/255.0.0.0 10.0.0.2/255.0.0.0 |255.0.0.0,255.0.0.0|false|false|1"
    );
}

#[test]
fn undefined_variable_names_template_line_and_variable() {
    let tpl = "first line\nsecond {{ word }}\nthird {{ wrod }}\n";
    let f = Fixture::new(&dico(ONE), "{}", &[("t.conf", tpl)]);
    let errs = f.errors();
    assert_eq!(errs.len(), 1, "{errs:?}");
    let e = &errs[0];
    let at = format!("{}:3:10", f.paths.templates.join("t.conf").display());
    assert!(e.starts_with(&at), "{e}");
    assert!(e.contains("template 't.conf' uses 'wrod'"), "{e}");
    assert!(e.contains("did you mean 'word'"), "{e}");
    // Not the whole list of variables Tera would give.
    assert!(!e.contains("Available variables"), "{e}");
}

#[test]
fn disabled_and_uncomputable_variables_explain_themselves() {
    let f = Fixture::new(
        &dico(
            "<file name='/etc/a' source='a'/><file name='/etc/b' source='b'/><file name='/etc/c' source='c'/>",
        ),
        "{}",
        &[
            ("a", "{{ off }}"),
            ("b", "{{ eth | upper }}"),
            (
                "c",
                "{% if eth is defined %}{{ eth }}{% else %}none{% endif %}",
            ),
        ],
    );
    let errs = f.errors();
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs[0].contains("'off'") && errs[0].contains("is disabled"),
        "{}",
        errs[0]
    );
    assert!(
        errs[1].contains("'eth'") && errs[1].contains("auto_eth"),
        "{}",
        errs[1]
    );
    // The template that tests for it renders.
    let only = render_all(&f.cfg, &f.paths, Some("c")).unwrap();
    assert_eq!(only[0].action, Action::Write("none".into()));
}

#[test]
fn field_errors_show_the_whole_path() {
    let f = Fixture::new(
        &dico(ONE),
        "{}",
        &[(
            "t.conf",
            "{{ ip[0].mask }}\n{{ ip[0].nope }}\n{% for i in ip %}{{ i.nope | upper }}{% endfor %}",
        )],
    );
    let errs = f.errors();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains(":2:"), "{}", errs[0]);
    assert!(errs[0].contains("'ip[0].nope'"), "{}", errs[0]);
    assert!(errs[0].contains("'ip' has no '[0].nope'"), "{}", errs[0]);
    std::fs::write(
        f.paths.templates.join("t.conf"),
        "\n{% for i in ip %}{{ i.nope | upper }}{% endfor %}",
    )
    .unwrap();
    let errs = f.errors();
    assert!(
        errs[0].contains(":2:") && errs[0].contains("'i' has no 'nope'"),
        "{}",
        errs[0]
    );
}

#[test]
fn every_error_is_collected_with_its_line() {
    let f = Fixture::new(
        &dico(
            "<file name='/etc/a' source='a'/><file name='/etc/b' source='b'/><file name='/etc/c' source='c'/><file name='/etc/d' source='d'/>",
        ),
        "{}",
        &[
            ("a", "ok\n{% if %}"),
            ("b", "\n\n{{ word | nosuchfilter }}"),
            ("c", "{{ word | nginx_token }}"),
        ],
    );
    let errs = f.errors();
    assert_eq!(errs.len(), 4, "{errs:#?}");
    let tpl = f.paths.templates.display().to_string();
    assert!(errs[0].starts_with(&format!("{tpl}/a:2:")), "{}", errs[0]);
    assert!(errs[1].starts_with(&format!("{tpl}/b:3:")), "{}", errs[1]);
    assert!(errs[1].contains("nosuchfilter"), "{}", errs[1]);
    assert!(errs[2].contains("not found"), "{}", errs[2]);
    assert!(errs[3].starts_with(&format!("{tpl}/c:1:")), "{}", errs[3]);
    assert!(errs[3].contains("cannot go into nginx"), "{}", errs[3]);
}

#[test]
fn autoescape_is_off_even_for_html_and_xml_names() {
    let f = Fixture::new(
        &dico("<file name='/etc/x.xml' source='x.xml'/>"),
        "{}",
        &[("x.xml", "<a>{{ word }}&</a>")],
    );
    assert_eq!(f.text("x.xml"), "<a>it's&</a>");
}

fn write(f: &Fixture) -> Changes {
    write_all(&f.render().unwrap()).unwrap()
}

#[test]
fn unchanged_content_is_not_rewritten() {
    let f = Fixture::new(
        &dico("<file name='/etc/t.conf' source='t.conf' mkdir='True'/>"),
        "{}",
        &[("t.conf", "{{ word }}\n")],
    );
    let dest = f.root().join("etc/t.conf");
    let c = write(&f);
    assert_eq!(c.written, vec![dest.clone()]);
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "it's\n");
    // Default mode.
    let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, DEFAULT_MODE);
    let past = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&dest)
        .unwrap()
        .set_modified(past)
        .unwrap();
    let c = write(&f);
    assert!(c.is_empty(), "{c:?}");
    assert_eq!(c.unchanged, vec![dest.clone()]);
    assert_eq!(std::fs::metadata(&dest).unwrap().modified().unwrap(), past);
    // A wrong mode is fixed in place, content and mtime kept.
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o600)).unwrap();
    let c = write(&f);
    assert_eq!(c.written, vec![dest.clone()]);
    assert_eq!(std::fs::metadata(&dest).unwrap().modified().unwrap(), past);
    let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, DEFAULT_MODE);
    // No temporary file left behind.
    let names: Vec<_> = std::fs::read_dir(f.root().join("etc"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("t.conf")]);
}

#[test]
fn filelist_disables_and_rm_removes() {
    let xml = dico(
        "<file name='/etc/a' source='a' filelist='opt' rm='True' mode='0640' mkdir='True'/>\
         <file name='/etc/b' source='b' filelist='opt' mkdir='True'/>",
    );
    let on = r#"{"on": {"val": "oui", "owner": "t"}}"#;
    let tpls = [("a", "A\n"), ("b", "B\n")];
    let f = Fixture::new(&xml, on, &tpls);
    let c = write(&f);
    assert_eq!(c.written.len(), 2);
    let mode = std::fs::metadata(f.root().join("etc/a"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o640);
    // Switched off: a is removed (rm), b is left as it is.
    let mut off = Fixture::new(&xml, "{}", &tpls);
    off.paths = f.paths.clone();
    let rendered = off.render().unwrap();
    assert_eq!(rendered[0].action, Action::Remove);
    assert!(matches!(&rendered[1].action, Action::Keep(w) if w.contains("filelist 'opt'")));
    let c = write_all(&rendered).unwrap();
    assert_eq!(c.removed, vec![f.root().join("etc/a")]);
    assert!(c.written.is_empty());
    assert!(!f.root().join("etc/a").exists());
    assert_eq!(
        std::fs::read_to_string(f.root().join("etc/b")).unwrap(),
        "B\n"
    );
    // Removing again is no change.
    assert!(write_all(&rendered).unwrap().is_empty());
}

#[test]
fn missing_folder_and_unknown_owner_write_nothing() {
    let f = Fixture::new(
        &dico(
            "<file name='/etc/ok' source='t' mkdir='True'/><file name='/nowhere/deep/t' source='t'/>",
        ),
        "{}",
        &[("t", "x")],
    );
    let err = write_all(&f.render().unwrap()).unwrap_err();
    assert_eq!(err.errors.len(), 1);
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("{}/nowhere/deep", f.root().display())) && msg.contains("mkdir"),
        "{msg}"
    );
    assert!(err.done.is_empty());
    assert!(!f.root().join("etc/ok").exists());

    let f = Fixture::new(
        &dico("<file name='/etc/t' source='t' owner='no-such-user-here' group='root'/>"),
        "{}",
        &[("t", "x")],
    );
    let errs = f.errors();
    assert!(
        errs[0].contains("unknown user 'no-such-user-here'") && errs[0].contains("00_t.xml:1:"),
        "{errs:?}"
    );
}

#[test]
fn destinations_stay_under_the_root() {
    let xml = r#"<creole><files><file name='dest' name_type='SymLinkOption' source='t'/></files>
        <variables><family name='f'><variable name='dest' type='string'/></family></variables></creole>"#;
    let f = Fixture::new(
        xml,
        r#"{"dest": {"val": "/etc/../../x", "owner": "t"}}"#,
        &[("t", "x")],
    );
    let errs = f.errors();
    assert!(errs[0].contains("'..'"), "{errs:?}");
    let f = Fixture::new(
        xml,
        r#"{"dest": {"val": "/srv/t.conf", "owner": "t"}}"#,
        &[("t", "x")],
    );
    let r = f.render().unwrap();
    assert_eq!(r[0].dest, f.root().join("srv/t.conf"));
    assert_eq!(r[0].declared, "/srv/t.conf");
    let f = Fixture::new(xml, "{}", &[("t", "x")]);
    assert!(f.errors()[0].contains("not set"));
}

#[test]
fn only_selects_by_template_or_destination() {
    let f = Fixture::new(
        &dico("<file name='/etc/a.conf' source='a'/><file name='/etc/b.conf' source='b'/>"),
        "{}",
        &[("a", "A"), ("b", "{{ broken")],
    );
    let dest = f.root().join("etc/a.conf");
    for name in ["a", "/etc/a.conf", dest.to_str().unwrap()] {
        let r = render_all(&f.cfg, &f.paths, Some(name)).unwrap();
        assert_eq!(r.len(), 1, "{name}");
        assert_eq!(r[0].action, Action::Write("A".into()));
    }
    let e = render_all(&f.cfg, &f.paths, Some("c")).unwrap_err();
    assert!(matches!(&e.0[..], [TemplateError::UnknownFile { known, .. }] if known == &["a", "b"]));
}

#[test]
fn cheetah_templates_are_rendered_by_the_cheetah_engine() {
    let f = Fixture::new(
        &dico("<file name='/etc/a' source='a'/><file name='/etc/b' source='b'/>"),
        "{}",
        &[
            ("a", "# x\n%if %%n == 42\nyes %%n\n%end if\n"),
            ("b", "{{ n }}"),
        ],
    );
    let r = f.render().unwrap();
    assert_eq!(r[0].action, Action::Write("# x\nyes 42\n".into()));
    assert_eq!(r[1].action, Action::Write("42".into()));
    assert!(lint(&f.cfg, &f.paths).is_empty());
    // printf's %% and a sudoers %group are not Cheetah.
    assert_eq!(
        cheetah_line("printf '100%%\\n'\n%sudo ALL=(ALL) ALL\n"),
        None
    );
}

#[test]
fn cheetah_errors_name_the_template_line_and_construct() {
    let f = Fixture::new(
        &dico("<file name='/etc/a' source='a'/>"),
        "{}",
        &[("a", "ok\n%if %%nope == 1\nx\n%end if\n")],
    );
    let e = f.errors();
    assert_eq!(e.len(), 1);
    assert!(e[0].contains("a:2:") && e[0].contains("nope"), "{}", e[0]);
    let lint = lint(&f.cfg, &f.paths);
    assert_eq!(lint.len(), 1);
    assert_eq!(lint[0].severity, Severity::Error);
}

/// Where EOLE's Creole is installed, conteneur writes only its own
/// dictionaries' files; printing and lint still render the others.
#[test]
fn with_creole_installed_only_our_files_are_written() {
    let f = Fixture::new(
        &dico("<file name='/etc/a' source='a'/>"),
        "{}",
        &[("a", "%%n\n")],
    );
    assert_eq!(f.text("a"), "42\n");
    std::fs::create_dir_all(f.root().join(CREOLE_PACKAGE)).unwrap();
    assert!(creole_installed(&f.paths));
    let r = f.render().unwrap();
    assert!(
        matches!(&r[0].action, Action::Keep(w) if w.contains("Creole is installed")),
        "{:?}",
        r[0].action
    );
    let all = render_all_everything(&f.cfg, &f.paths, None).unwrap();
    assert_eq!(all[0].action, Action::Write("42\n".into()));
}

/// Every real EOLE template that uses Cheetah is recognised as such, and
/// none of conteneur's own.
#[test]
fn cheetah_detection_on_real_templates() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/eole");
    let dir = corpus.join("distrib/eole-server-2.10.0");
    let mut cheetah = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let text = String::from_utf8_lossy(&std::fs::read(e.unwrap().path()).unwrap()).into_owned();
        if cheetah_line(&text).is_some() {
            cheetah += 1;
        }
    }
    // 67 of the 82 use directives or %%variables; the 15 others are static.
    assert_eq!(cheetah, 67);
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    for e in std::fs::read_dir(ours).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(cheetah_line(&text), None, "{}", p.display());
    }
}

#[test]
fn missing_templates_folder_is_one_lint_warning() {
    let mut f = Fixture::new(&dico(ONE), "{}", &[]);
    f.paths.templates = f.root().join("nothing-here");
    let p = lint(&f.cfg, &f.paths);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].severity, Severity::Warning);
    assert!(p[0].message.contains("nothing-here"), "{}", p[0].message);
}

/// The certificate and key paths are refused by the dictionary's checks
/// (so by `set`, with the message every later step gives) exactly where
/// the nginx_token filter would refuse them: one rule, told early.
#[test]
fn the_dictionary_refuses_what_nginx_token_refuses_in_tls_paths() {
    let xml = include_str!("../../dicos/10_conteneur.xml");
    let out = dico::load_texts(&[("10_conteneur.xml", xml)]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let dicos = Arc::new(out.dicos);
    let mut chars: Vec<char> = (' '..='~').collect();
    chars.extend(['\u{a0}', '\u{2003}', '\u{3000}', 'é']);
    for var in ["conteneur_cert_file", "conteneur_key_file"] {
        for c in &chars {
            let value = format!("/etc/ssl/a{c}b.pem");
            let eol = serde_json::json!({
                "conteneur_https": {"val": "oui", "owner": "t"},
                var: {"val": value, "owner": "t"},
            })
            .to_string();
            let eol = EolFile::parse(eol.as_bytes(), Path::new("config.eol")).unwrap();
            let cfg = Config::new(dicos.clone(), eol, IndexMap::new(), false);
            let refused = !cfg.problems_of(var).is_empty();
            assert_eq!(
                refused,
                filters::nginx_forbidden(*c),
                "{var} = {value:?}: {:?}",
                cfg.problems_of(var)
            );
        }
    }
}

/// EOLE's static templates (no Cheetah syntax) go to Tera: Tera must give
/// what Creole's Cheetah gives, their text unchanged.
#[test]
fn static_eole_templates_render_the_same_with_either_engine() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/eole/distrib/eole-server-2.10.0");
    let ns = cheetah::Namespace::from_dump(&serde_json::json!({}));
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        if cheetah_line(&text).is_some() {
            continue;
        }
        n += 1;
        let by_cheetah = cheetah::Template::parse("t", &text)
            .unwrap()
            .render(&ns)
            .unwrap();
        let mut tera = Tera::default();
        tera.autoescape_on(Vec::<&'static str>::new());
        tera.add_raw_template("t", &text).unwrap();
        let by_tera = tera.render("t", &tera::Context::new()).unwrap();
        assert_eq!(by_tera, by_cheetah, "{}", p.display());
    }
    assert_eq!(n, 15);
}
