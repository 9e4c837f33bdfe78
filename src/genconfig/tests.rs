//! The editor driven through its model and its keys, without a terminal,
//! on conteneur's own dictionary (and small ones for what it lacks).

use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::input::{handle_key, handle_paste};
use super::model::{Change, EditKind, Model, Row, Screen, StatusKind};
use super::view::{ViewState, draw};
use crate::config::{Config, Origin};
use crate::dico::Mode;
use crate::paths::Paths;

/// A server under a temporary root with conteneur's dictionary (or the
/// folder given) and the values given, saved as `conteneur set` would.
fn server(dicos: Option<&Path>, values: &[(&str, &[&str])]) -> (tempfile::TempDir, Paths) {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Paths::new(dir.path());
    paths.dicos = vec![match dicos {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dicos"),
    }];
    let mut cfg = Config::load(&paths).unwrap();
    for (k, v) in values {
        let v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        cfg.set(k, &v, "creoleset").unwrap();
    }
    cfg.save(&paths, None).unwrap();
    (dir, paths)
}

const DEMO: &[(&str, &[&str])] = &[
    ("nombre_conteneur", &["2"]),
    ("conteneur1_name", &["rocketchat"]),
    ("conteneur1_url", &["localhost:5000/demo/rocketchat"]),
    ("conteneur1_port_in", &["3000"]),
    ("conteneur1_port_out", &["8080"]),
    ("conteneur2_name", &["wiki"]),
    ("conteneur2_url", &["localhost:5000/demo/wiki"]),
    ("conteneur2_port_in", &["80"]),
    ("conteneur2_port_out", &["8081"]),
];

fn open(paths: &Paths, mode: Mode) -> Model {
    Model::new(paths.clone(), Config::load(paths).unwrap(), mode)
}

fn demo(mode: Mode) -> (tempfile::TempDir, Paths, Model) {
    let (dir, paths) = server(None, DEMO);
    let m = open(&paths, mode);
    (dir, paths, m)
}

fn key(m: &mut Model, code: KeyCode) {
    handle_key(m, KeyEvent::new(code, KeyModifiers::NONE));
}

fn ctrl(m: &mut Model, c: char) {
    handle_key(m, KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL));
}

fn typed(m: &mut Model, s: &str) {
    for c in s.chars() {
        key(m, KeyCode::Char(c));
    }
}

/// Shows `name` through the search box, as an admin would (a slave shows
/// as its master's line).
fn find(m: &mut Model, name: &str) {
    key(m, KeyCode::Char('/'));
    typed(m, name);
    key(m, KeyCode::Enter);
    let line = m.config().master_of(name).unwrap_or(name).to_string();
    assert_eq!(m.selected(), Some(line.as_str()), "search for {name}");
}

fn one(m: &Model, name: &str) -> String {
    m.config()
        .get(name)
        .unwrap()
        .first()
        .unwrap_or_default()
        .to_string()
}

fn screen_text(m: &Model, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut st = ViewState::default();
    term.draw(|f| draw(f, m, &mut st)).unwrap();
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn families_in_order_with_separators_and_modes() {
    let (_d, _p, mut m) = demo(Mode::Basic);
    assert_eq!(m.families(), ["conteneur", "conteneur1", "conteneur2"]);
    assert_eq!(m.current_family(), Some("conteneur"));
    let rows = m.rows();
    assert_eq!(rows[0], Row::Var("nombre_conteneur".into()));
    assert_eq!(rows[1], Row::Heading("Web front (nginx)".into()));
    assert!(!m.var_names().contains(&"conteneur_http_port".to_string()));
    key(&mut m, KeyCode::Char('m'));
    assert_eq!(m.mode(), Mode::Normal);
    assert!(m.var_names().contains(&"conteneur_http_port".to_string()));
    assert!(!m.var_names().contains(&"conteneur_proxy_mode".to_string()));
    key(&mut m, KeyCode::Char('m'));
    assert_eq!(m.mode(), Mode::Expert);
    assert!(m.var_names().contains(&"conteneur_proxy_mode".to_string()));
    // Slaves are columns of their master's table, not lines.
    key(&mut m, KeyCode::Right);
    assert_eq!(m.current_family(), Some("conteneur1"));
    let names = m.var_names();
    assert!(names.contains(&"conteneur1_port_in".to_string()));
    assert!(!names.contains(&"conteneur1_port_out".to_string()));
    assert_eq!(
        m.columns("conteneur1_port_in"),
        [
            "conteneur1_port_in",
            "conteneur1_port_out",
            "conteneur1_port_path"
        ]
    );
    assert_eq!(m.table_rows("conteneur1_port_in"), [["3000", "8080", ""]]);
    // Families wrap around.
    key(&mut m, KeyCode::Left);
    key(&mut m, KeyCode::Left);
    assert_eq!(m.current_family(), Some("conteneur2"));
}

#[test]
fn disabled_variables_appear_when_their_condition_changes() {
    let (_d, _p, mut m) = demo(Mode::Normal);
    assert!(!m.var_names().contains(&"conteneur_https_port".to_string()));
    find(&mut m, "conteneur_https");
    key(&mut m, KeyCode::Enter);
    // oui/non is a choice list, not a text field.
    match &m.screen {
        Screen::Edit(e) => assert_eq!(
            e.kind,
            EditKind::Choice {
                options: vec!["oui".into(), "non".into()],
                selected: 1
            }
        ),
        s => panic!("{s:?}"),
    }
    key(&mut m, KeyCode::Up);
    key(&mut m, KeyCode::Enter);
    assert!(matches!(m.screen, Screen::Main));
    assert_eq!(one(&m, "conteneur_https"), "oui");
    assert!(m.var_names().contains(&"conteneur_https_port".to_string()));
    // The selection stays on the variable that was edited.
    assert_eq!(m.selected(), Some("conteneur_https"));
}

#[test]
fn raising_the_count_shows_the_new_container_and_blocks_saving_until_complete() {
    let (_d, paths, mut m) = demo(Mode::Normal);
    let before = std::fs::read(&paths.config).unwrap();
    find(&mut m, "nombre_conteneur");
    key(&mut m, KeyCode::Enter);
    ctrl(&mut m, 'u');
    typed(&mut m, "3");
    key(&mut m, KeyCode::Enter);
    assert_eq!(
        m.families(),
        ["conteneur", "conteneur1", "conteneur2", "conteneur3"]
    );
    // conteneur3_url is mandatory and empty: the error is listed, saving refused.
    assert!(
        m.errors()
            .iter()
            .any(|e| e.blocking && e.variable.as_deref() == Some("conteneur3_url")),
        "{:?}",
        m.errors()
    );
    key(&mut m, KeyCode::Char('s'));
    assert!(matches!(m.screen, Screen::Errors { refused: true, .. }));
    assert_eq!(m.status().unwrap().kind, StatusKind::Error);
    assert_eq!(std::fs::read(&paths.config).unwrap(), before);
    // Enter jumps to the variable in error.
    key(&mut m, KeyCode::Enter);
    assert!(matches!(m.screen, Screen::Main));
    assert_eq!(m.current_family(), Some("conteneur3"));
    assert_eq!(m.selected(), Some("conteneur3_url"));
    key(&mut m, KeyCode::Enter);
    typed(&mut m, "localhost:5000/demo/web");
    key(&mut m, KeyCode::Enter);
    assert_eq!(m.blocking_errors(), 0, "{:?}", m.errors());
    key(&mut m, KeyCode::Char('s'));
    assert!(!m.is_dirty());
    let saved = Config::load(&paths).unwrap();
    assert_eq!(
        saved.get("conteneur3_url").unwrap().first(),
        Some("localhost:5000/demo/web")
    );
    assert_eq!(
        saved.resolved("nombre_conteneur").unwrap().origin,
        Origin::Stored("gen_config".into())
    );
}

#[test]
fn live_validation_is_the_engines_and_a_refused_value_keeps_the_editor_open() {
    let (_d, _p, mut m) = demo(Mode::Normal);
    find(&mut m, "conteneur_http_port");
    key(&mut m, KeyCode::Enter);
    ctrl(&mut m, 'u');
    typed(&mut m, "99999");
    let err = m.edit().unwrap().error.clone().unwrap();
    assert!(err.contains("65535"), "{err}");
    key(&mut m, KeyCode::Enter);
    assert!(matches!(m.screen, Screen::Edit(_)));
    assert_eq!(m.status().unwrap().kind, StatusKind::Error);
    assert_eq!(one(&m, "conteneur_http_port"), "80");
    // A port a container publishes on: the check of the other variable.
    ctrl(&mut m, 'u');
    typed(&mut m, "8080");
    assert!(m.edit().unwrap().error.is_none());
    ctrl(&mut m, 'u');
    typed(&mut m, "8000");
    assert!(m.edit().unwrap().error.is_none());
    key(&mut m, KeyCode::Enter);
    assert!(matches!(m.screen, Screen::Main));
    assert_eq!(one(&m, "conteneur_http_port"), "8000");
    // valid_differ from the other side: a container port equal to the front's.
    find(&mut m, "conteneur2_port_out");
    key(&mut m, KeyCode::Enter);
    key(&mut m, KeyCode::Right);
    key(&mut m, KeyCode::Enter);
    ctrl(&mut m, 'u');
    typed(&mut m, "8000");
    let err = m.edit().unwrap().error.clone().unwrap();
    assert!(err.contains("conteneur_http_port"), "{err}");
    // Esc gives up: nothing changed.
    key(&mut m, KeyCode::Esc);
    assert_eq!(
        m.config().get("conteneur2_port_out").unwrap().first(),
        Some("8081")
    );
}

#[test]
fn enums_are_choice_lists() {
    let (_d, _p, mut m) = demo(Mode::Expert);
    assert_eq!(
        m.choices("conteneur1_type").unwrap(),
        [
            "docker",
            "docker+git",
            "lxc",
            "snap",
            "vm",
            "snapcraft",
            "vagrant"
        ]
    );
    // Not mandatory: it may be emptied.
    assert_eq!(
        m.choices("conteneur1_restart").unwrap(),
        ["no", "always", "unless-stopped", "on-failure", ""]
    );
    assert_eq!(m.choices("conteneur1_url"), None);
    find(&mut m, "conteneur1_type");
    key(&mut m, KeyCode::Enter);
    // A letter jumps to the next choice starting with it.
    typed(&mut m, "l");
    assert_eq!(m.edit().unwrap().value(), "lxc");
    key(&mut m, KeyCode::Enter);
    assert_eq!(one(&m, "conteneur1_type"), "lxc");
}

#[test]
fn a_fill_is_a_default_that_can_be_overridden_and_reset() {
    let (_d, _p, mut m) = demo(Mode::Normal);
    find(&mut m, "conteneur1_name");
    assert_eq!(
        m.config().resolved("conteneur1_name").unwrap().origin,
        Origin::Stored("creoleset".into())
    );
    key(&mut m, KeyCode::Char('r'));
    assert_eq!(one(&m, "conteneur1_name"), "conteneur1");
    assert_eq!(
        m.config().resolved("conteneur1_name").unwrap().origin,
        Origin::Fill
    );
    assert_eq!(
        m.log(),
        [Change::Reset {
            name: "conteneur1_name".into()
        }]
    );
    // Enter then Enter without a change keeps the fill a fill.
    key(&mut m, KeyCode::Enter);
    key(&mut m, KeyCode::Enter);
    assert_eq!(m.log().len(), 1);
    assert_eq!(
        m.config().resolved("conteneur1_name").unwrap().origin,
        Origin::Fill
    );
    // Overriding it stores the value.
    key(&mut m, KeyCode::Enter);
    ctrl(&mut m, 'u');
    typed(&mut m, "chat");
    key(&mut m, KeyCode::Enter);
    assert_eq!(
        m.config().resolved("conteneur1_name").unwrap().origin,
        Origin::Stored("gen_config".into())
    );
    // Resetting what is already a default says so and changes nothing.
    find(&mut m, "conteneur1_tag");
    key(&mut m, KeyCode::Char('r'));
    assert!(m.status().unwrap().text.contains("already"));
}

const SMALL: &str = r#"<creole><variables>
  <family name='f'>
    <variable name='lock' type='oui/non' description='Lock the name'><value>oui</value></variable>
    <variable name='name' type='string' description='A name'><value>n</value></variable>
    <variable name='full' type='string' description='Computed'/>
    <variable name='secret' type='string' description='Hidden one' hidden='True'/>
  </family>
</variables><constraints>
  <auto name='concat' target='full'><param type='eole'>name</param><param>.example</param></auto>
  <condition name='frozen_if_in' source='lock'><param>oui</param><target type='variable'>name</target></condition>
</constraints></creole>"#;

fn small() -> (tempfile::TempDir, tempfile::TempDir, Paths, Model) {
    let dicos = tempfile::tempdir().unwrap();
    std::fs::write(dicos.path().join("00_small.xml"), SMALL).unwrap();
    let (dir, paths) = server(Some(dicos.path()), &[]);
    let m = open(&paths, Mode::Expert);
    (dicos, dir, paths, m)
}

#[test]
fn auto_and_frozen_are_read_only_with_their_reason_and_hidden_is_not_shown() {
    let (_a, _b, _p, mut m) = small();
    assert_eq!(m.var_names(), ["lock", "name", "full"]);
    find(&mut m, "full");
    key(&mut m, KeyCode::Enter);
    assert!(matches!(m.screen, Screen::Main));
    let s = m.status().unwrap();
    assert!(
        s.text.contains("read-only") && s.text.contains("concat"),
        "{s:?}"
    );
    find(&mut m, "name");
    key(&mut m, KeyCode::Enter);
    assert!(matches!(m.screen, Screen::Main));
    assert!(m.status().unwrap().text.contains("frozen"));
    assert!(m.search_results("secret").is_empty());
    // Unlocking: the condition is re-evaluated at once.
    find(&mut m, "lock");
    key(&mut m, KeyCode::Enter);
    key(&mut m, KeyCode::Down);
    key(&mut m, KeyCode::Enter);
    find(&mut m, "name");
    key(&mut m, KeyCode::Enter);
    assert!(matches!(m.screen, Screen::Edit(_)));
    ctrl(&mut m, 'u');
    typed(&mut m, "srv");
    key(&mut m, KeyCode::Enter);
    assert_eq!(one(&m, "full"), "srv.example");
}

#[test]
fn tables_add_fill_and_delete_rows_across_master_and_slaves() {
    let (_d, paths, mut m) = demo(Mode::Normal);
    find(&mut m, "conteneur1_port_in");
    key(&mut m, KeyCode::Enter);
    assert!(matches!(m.screen, Screen::Table(_)));
    // a: a new row; its master cell, then its slave cell open in turn.
    key(&mut m, KeyCode::Char('a'));
    typed(&mut m, "3001");
    key(&mut m, KeyCode::Enter);
    match &m.screen {
        Screen::Table(t) => {
            let e = t.edit.as_ref().expect("the slave cell opens");
            assert_eq!(e.target.var(), "conteneur1_port_out");
            assert_eq!((t.row, t.col), (1, 1));
        }
        s => panic!("{s:?}"),
    }
    // Until then the new row is incomplete: a mandatory slave is empty.
    assert!(m.blocking_errors() > 0);
    typed(&mut m, "8082");
    key(&mut m, KeyCode::Enter);
    // The web path cell opens next; left empty.
    key(&mut m, KeyCode::Enter);
    assert_eq!(
        m.table_rows("conteneur1_port_in"),
        [["3000", "8080", ""], ["3001", "8082", ""]]
    );
    assert_eq!(m.blocking_errors(), 0, "{:?}", m.errors());
    // Deleting the first row moves the second up, in both columns.
    key(&mut m, KeyCode::Up);
    key(&mut m, KeyCode::Char('x'));
    assert_eq!(m.table_rows("conteneur1_port_in"), [["3001", "8082", ""]]);
    key(&mut m, KeyCode::Esc);
    assert!(matches!(m.screen, Screen::Main));
    key(&mut m, KeyCode::Char('s'));
    let saved = Config::load(&paths).unwrap();
    assert_eq!(
        saved.get("conteneur1_port_in").unwrap().first(),
        Some("3001")
    );
    assert_eq!(
        saved.get("conteneur1_port_out").unwrap().first(),
        Some("8082")
    );
}

#[test]
fn diff_save_and_owner() {
    let (_d, paths, mut m) = demo(Mode::Normal);
    assert!(!m.is_dirty());
    find(&mut m, "conteneur1_tag");
    key(&mut m, KeyCode::Enter);
    ctrl(&mut m, 'u');
    typed(&mut m, "6.5.0");
    key(&mut m, KeyCode::Enter);
    assert!(m.is_dirty());
    assert_eq!(m.pending().len(), 1);
    let d = &m.pending()[0];
    assert_eq!(d.name, "conteneur1_tag");
    assert_eq!(d.before, "latest (default)");
    assert_eq!(d.after, "6.5.0");
    key(&mut m, KeyCode::Char('d'));
    assert!(matches!(m.screen, Screen::Diff { .. }));
    // s from the diff saves.
    key(&mut m, KeyCode::Char('s'));
    assert!(matches!(m.screen, Screen::Main));
    assert!(!m.is_dirty());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&paths.config).unwrap()).unwrap();
    assert_eq!(json["conteneur1_tag"]["val"], "6.5.0");
    assert_eq!(json["conteneur1_tag"]["owner"], "gen_config");
    // Untouched values keep their owner.
    assert_eq!(json["conteneur1_url"]["owner"], "creoleset");
    key(&mut m, KeyCode::Char('s'));
    assert_eq!(m.status().unwrap().text, "nothing to save");
}

#[test]
fn saving_replays_the_changes_on_the_file_as_it_is_now() {
    let (_d, paths, mut m) = demo(Mode::Normal);
    find(&mut m, "conteneur1_tag");
    key(&mut m, KeyCode::Enter);
    ctrl(&mut m, 'u');
    typed(&mut m, "1.0");
    key(&mut m, KeyCode::Enter);
    // Meanwhile, a CreoleSet.
    let mut other = Config::load(&paths).unwrap();
    other
        .set("conteneur2_tag", &["2.0".into()], "creoleset")
        .unwrap();
    other.save(&paths, None).unwrap();
    m.save().unwrap();
    let saved = Config::load(&paths).unwrap();
    assert_eq!(saved.get("conteneur1_tag").unwrap().first(), Some("1.0"));
    assert_eq!(saved.get("conteneur2_tag").unwrap().first(), Some("2.0"));
    // And a concurrent change that makes a pending one invalid: refused.
    key(&mut m, KeyCode::Enter);
    ctrl(&mut m, 'u');
    typed(&mut m, "1.1");
    key(&mut m, KeyCode::Enter);
    find(&mut m, "conteneur2_port_in");
    key(&mut m, KeyCode::Enter);
    key(&mut m, KeyCode::Right);
    key(&mut m, KeyCode::Enter);
    ctrl(&mut m, 'u');
    typed(&mut m, "9000");
    key(&mut m, KeyCode::Enter);
    key(&mut m, KeyCode::Esc);
    let mut other = Config::load(&paths).unwrap();
    other
        .set("conteneur1_port_out", &["9000".into()], "creoleset")
        .unwrap();
    other.save(&paths, None).unwrap();
    let before = std::fs::read(&paths.config).unwrap();
    let err = m.save().unwrap_err().to_string();
    assert!(err.contains("changed since"), "{err}");
    assert_eq!(std::fs::read(&paths.config).unwrap(), before);
}

#[test]
fn quitting_with_unsaved_changes_asks_first() {
    let (_d, _p, mut m) = demo(Mode::Normal);
    key(&mut m, KeyCode::Char('q'));
    assert!(m.should_quit(), "nothing changed: no question");
    let (_d, paths, mut m) = demo(Mode::Normal);
    let before = std::fs::read(&paths.config).unwrap();
    find(&mut m, "conteneur1_tag");
    key(&mut m, KeyCode::Enter);
    typed(&mut m, "x");
    key(&mut m, KeyCode::Enter);
    key(&mut m, KeyCode::Char('q'));
    assert!(matches!(m.screen, Screen::ConfirmQuit));
    assert!(!m.should_quit());
    key(&mut m, KeyCode::Esc);
    assert!(matches!(m.screen, Screen::Main));
    // Ctrl-C from inside an editor asks too.
    key(&mut m, KeyCode::Enter);
    ctrl(&mut m, 'c');
    assert!(matches!(m.screen, Screen::ConfirmQuit));
    key(&mut m, KeyCode::Char('y'));
    assert!(m.should_quit());
    assert_eq!(std::fs::read(&paths.config).unwrap(), before);
    // s: save and quit.
    let (_d, paths, mut m) = demo(Mode::Normal);
    find(&mut m, "conteneur1_tag");
    key(&mut m, KeyCode::Enter);
    typed(&mut m, "y");
    key(&mut m, KeyCode::Enter);
    key(&mut m, KeyCode::Char('q'));
    key(&mut m, KeyCode::Char('s'));
    assert!(m.should_quit());
    let saved = Config::load(&paths).unwrap();
    assert_eq!(
        saved.get("conteneur1_tag").unwrap().first(),
        Some("latesty")
    );
}

#[test]
fn search_finds_by_name_or_description_and_switches_mode_when_needed() {
    let (_d, _p, mut m) = demo(Mode::Basic);
    let r = m.search_results("TAG");
    assert_eq!(r, ["conteneur1_tag", "conteneur2_tag"]);
    let r = m.search_results("restart policy");
    assert_eq!(r, ["conteneur1_restart", "conteneur2_restart"]);
    // Disabled variables are not found (https is off).
    assert!(m.search_results("conteneur_https_port").is_empty());
    key(&mut m, KeyCode::Char('/'));
    typed(&mut m, "restart policy");
    key(&mut m, KeyCode::Down);
    key(&mut m, KeyCode::Enter);
    assert_eq!(m.selected(), Some("conteneur2_restart"));
    assert_eq!(m.mode(), Mode::Expert);
    assert!(m.status().unwrap().text.contains("expert"));
}

#[test]
fn text_field_editing_keys() {
    let (_d, _p, mut m) = demo(Mode::Normal);
    find(&mut m, "conteneur1_url");
    key(&mut m, KeyCode::Enter);
    ctrl(&mut m, 'u');
    typed(&mut m, "héllo");
    key(&mut m, KeyCode::Left);
    key(&mut m, KeyCode::Left);
    key(&mut m, KeyCode::Backspace);
    typed(&mut m, "L");
    key(&mut m, KeyCode::Home);
    key(&mut m, KeyCode::Delete);
    key(&mut m, KeyCode::End);
    typed(&mut m, "!");
    assert_eq!(m.edit().unwrap().value(), "éLlo!");
    // Not an image name: the dictionary's check says why.
    assert!(
        m.edit()
            .unwrap()
            .error
            .as_deref()
            .unwrap()
            .contains("image name")
    );
    key(&mut m, KeyCode::Esc);
    assert_eq!(one(&m, "conteneur1_url"), "localhost:5000/demo/rocketchat");
}

#[test]
fn every_screen_draws_at_80x24_and_larger_and_small_terminals_get_a_message() {
    let (_d, _p, mut m) = demo(Mode::Normal);
    let main = screen_text(&m, 80, 24);
    assert!(main.contains("conteneur1"), "{main}");
    assert!(main.contains("Number of containers to run"), "{main}");
    assert!(main.contains("quit"), "{main}");
    assert!(main.contains("nombre_conteneur"), "{main}");
    type Step = Box<dyn Fn(&mut Model)>;
    let steps: Vec<Step> = vec![
        Box::new(|m| {
            find(m, "conteneur1_tag");
            key(m, KeyCode::Enter);
        }),
        Box::new(|m| key(m, KeyCode::Esc)),
        Box::new(|m| {
            find(m, "conteneur1_port_in");
            key(m, KeyCode::Enter);
        }),
        Box::new(|m| key(m, KeyCode::Char('a'))),
        Box::new(|m| typed(m, "99999")),
        Box::new(|m| key(m, KeyCode::Esc)),
        Box::new(|m| key(m, KeyCode::Esc)),
        Box::new(|m| {
            key(m, KeyCode::Char('/'));
            typed(m, "port");
        }),
        Box::new(|m| key(m, KeyCode::Esc)),
        Box::new(|m| {
            find(m, "conteneur1_url");
            key(m, KeyCode::Enter);
            ctrl(m, 'u');
            key(m, KeyCode::Enter);
            key(m, KeyCode::Char('e'));
        }),
        Box::new(|m| {
            key(m, KeyCode::Esc);
            key(m, KeyCode::Char('d'));
        }),
        Box::new(|m| {
            key(m, KeyCode::Esc);
            key(m, KeyCode::Char('q'));
        }),
    ];
    for step in steps {
        step(&mut m);
        for (w, h) in [(80, 24), (120, 40), (200, 60)] {
            let text = screen_text(&m, w, h);
            assert!(text.contains("genconfig"), "{w}x{h}:\n{text}");
        }
    }
    assert!(matches!(m.screen, Screen::ConfirmQuit));
    let text = screen_text(&m, 80, 24);
    assert!(text.contains("quit without saving"), "{text}");
    let small = screen_text(&m, 40, 10);
    assert!(small.contains("at least"), "{small}");
}

#[test]
fn the_error_shows_in_the_edit_box_and_on_the_line() {
    let (_d, _p, mut m) = demo(Mode::Normal);
    find(&mut m, "conteneur1_port_in");
    key(&mut m, KeyCode::Enter);
    key(&mut m, KeyCode::Right);
    key(&mut m, KeyCode::Enter);
    ctrl(&mut m, 'u');
    typed(&mut m, "99999");
    let text = screen_text(&m, 80, 24);
    assert!(text.contains("greater than 65535"), "{text}");
    key(&mut m, KeyCode::Esc);
    key(&mut m, KeyCode::Esc);
    // An empty mandatory value: accepted by set, shown as an error.
    find(&mut m, "conteneur1_url");
    key(&mut m, KeyCode::Enter);
    ctrl(&mut m, 'u');
    key(&mut m, KeyCode::Enter);
    let text = screen_text(&m, 80, 24);
    assert!(text.contains("✗"), "{text}");
    assert!(text.contains("1 error"), "{text}");
}

#[test]
fn a_paste_types_into_fields_and_never_runs_commands() {
    let (_d, _p, mut m) = demo(Mode::Normal);
    handle_paste(&mut m, "sq");
    assert!(matches!(m.screen, Screen::Main));
    assert!(!m.should_quit());
    find(&mut m, "conteneur1_tag");
    key(&mut m, KeyCode::Enter);
    ctrl(&mut m, 'u');
    handle_paste(&mut m, "7.0.1\nrest");
    assert_eq!(m.edit().unwrap().value(), "7.0.1");
    key(&mut m, KeyCode::Esc);
    key(&mut m, KeyCode::Char('/'));
    handle_paste(&mut m, "port_out");
    assert_eq!(
        m.search_results("port_out"),
        ["conteneur1_port_out", "conteneur2_port_out"]
    );
    match &m.screen {
        Screen::Search(s) => assert_eq!(s.query, "port_out"),
        s => panic!("{s:?}"),
    }
}
