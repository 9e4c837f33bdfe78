//! The keyboard: each key of each screen, mapped to a [`Model`] method.
//!
//! Keys are plain data ([`KeyEvent`]), so tests type at the editor without a
//! terminal. The same table feeds the key hints at the bottom of the
//! screen ([`hints`]), so what is shown is what works.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::model::{EditKind, Model, Screen};

/// Handles one key press.
pub fn handle_key(m: &mut Model, key: KeyEvent) {
    if key.kind == KeyEventKind::Release {
        return;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    // Ctrl-C always means "get me out", whatever is open.
    if ctrl && key.code == KeyCode::Char('c') {
        m.request_quit();
        return;
    }
    if m.edit().is_some() {
        edit_key(m, key.code, ctrl);
        return;
    }
    match &m.screen {
        Screen::Main => main_key(m, key.code),
        Screen::Edit(_) => {}
        Screen::Table(_) => table_key(m, key.code),
        Screen::Search(_) => search_key(m, key.code),
        Screen::Errors { .. } => errors_key(m, key.code),
        Screen::Diff { .. } => diff_key(m, key.code),
        Screen::ConfirmQuit => confirm_key(m, key.code),
    }
}

/// A pasted text: typed into the open text field or search box, one line
/// (a value never holds a line break). Elsewhere it is ignored, so a paste
/// into the list never runs commands.
pub fn handle_paste(m: &mut Model, text: &str) {
    let line: String = text
        .chars()
        .take_while(|c| *c != '\n' && *c != '\r')
        .filter(|c| !c.is_control())
        .collect();
    if matches!(m.edit().map(|e| &e.kind), Some(EditKind::Text { .. })) {
        m.with_edit(|e| {
            for c in line.chars() {
                e.insert(c);
            }
        });
    } else if matches!(m.screen, Screen::Search(_)) {
        m.with_search(|q| q.push_str(&line));
    }
}

/// Lines a page of the list moves by.
const PAGE: isize = 10;

fn main_key(m: &mut Model, code: KeyCode) {
    match code {
        KeyCode::Up | KeyCode::Char('k') => m.move_selection(-1),
        KeyCode::Down | KeyCode::Char('j') => m.move_selection(1),
        KeyCode::PageUp => m.move_selection(-PAGE),
        KeyCode::PageDown => m.move_selection(PAGE),
        KeyCode::Home | KeyCode::Char('g') => m.select_first(),
        KeyCode::End | KeyCode::Char('G') => m.select_last(),
        KeyCode::Right | KeyCode::Tab | KeyCode::Char('l') => m.switch_family(1),
        KeyCode::Left | KeyCode::BackTab | KeyCode::Char('h') => m.switch_family(-1),
        KeyCode::Enter => m.edit_selected(),
        KeyCode::Char('r') => m.reset_selected(),
        KeyCode::Char('m') => m.cycle_mode(),
        KeyCode::Char('/') => m.open_search(),
        KeyCode::Char('d') => m.open_diff(),
        KeyCode::Char('e') => m.open_errors(),
        // Ctrl-S as well: raw mode turns flow control off, so it arrives.
        KeyCode::Char('s') => m.request_save(),
        KeyCode::Char('q') | KeyCode::Esc => m.request_quit(),
        _ => {}
    }
}

fn edit_key(m: &mut Model, code: KeyCode, ctrl: bool) {
    let choice = matches!(m.edit().map(|e| &e.kind), Some(EditKind::Choice { .. }));
    match code {
        KeyCode::Enter => m.commit_edit(),
        KeyCode::Esc => m.cancel(),
        KeyCode::Char('u') if ctrl => m.with_edit(|e| e.clear()),
        KeyCode::Char('a') if ctrl => m.with_edit(|e| e.home()),
        KeyCode::Char('e') if ctrl => m.with_edit(|e| e.end()),
        KeyCode::Char(_) if ctrl => {}
        KeyCode::Char(c) => m.with_edit(|e| e.insert(c)),
        KeyCode::Backspace => m.with_edit(|e| e.backspace()),
        KeyCode::Delete => m.with_edit(|e| e.delete()),
        KeyCode::Home => m.with_edit(|e| e.home()),
        KeyCode::End => m.with_edit(|e| e.end()),
        KeyCode::Left if !choice => m.with_edit(|e| e.step(-1)),
        KeyCode::Right if !choice => m.with_edit(|e| e.step(1)),
        KeyCode::Up | KeyCode::Left if choice => m.with_edit(|e| e.step(-1)),
        KeyCode::Down | KeyCode::Right | KeyCode::Tab if choice => m.with_edit(|e| e.step(1)),
        _ => {}
    }
}

fn table_key(m: &mut Model, code: KeyCode) {
    match code {
        KeyCode::Up | KeyCode::Char('k') => m.table_move(-1, 0),
        KeyCode::Down | KeyCode::Char('j') => m.table_move(1, 0),
        KeyCode::Left | KeyCode::BackTab | KeyCode::Char('h') => m.table_move(0, -1),
        KeyCode::Right | KeyCode::Tab | KeyCode::Char('l') => m.table_move(0, 1),
        KeyCode::Enter => m.table_edit_cell(),
        KeyCode::Char('a') | KeyCode::Insert => m.table_add_row(),
        KeyCode::Char('x') | KeyCode::Delete => m.table_delete_row(),
        KeyCode::Char('r') => m.table_reset_column(),
        KeyCode::Esc | KeyCode::Char('q') => m.cancel(),
        _ => {}
    }
}

fn search_key(m: &mut Model, code: KeyCode) {
    match code {
        KeyCode::Enter => m.search_jump(),
        KeyCode::Esc => m.cancel(),
        KeyCode::Up => m.search_move(-1),
        KeyCode::Down | KeyCode::Tab => m.search_move(1),
        KeyCode::Backspace => m.with_search(|q| {
            q.pop();
        }),
        KeyCode::Char(c) => m.with_search(|q| q.push(c)),
        _ => {}
    }
}

fn errors_key(m: &mut Model, code: KeyCode) {
    match code {
        KeyCode::Up | KeyCode::Char('k') => m.errors_move(-1),
        KeyCode::Down | KeyCode::Char('j') => m.errors_move(1),
        KeyCode::Enter => m.errors_jump(),
        KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('e') => m.cancel(),
        _ => {}
    }
}

fn diff_key(m: &mut Model, code: KeyCode) {
    match code {
        KeyCode::Up | KeyCode::Char('k') => m.diff_scroll(-1),
        KeyCode::Down | KeyCode::Char('j') => m.diff_scroll(1),
        KeyCode::PageUp => m.diff_scroll(-PAGE),
        KeyCode::PageDown => m.diff_scroll(PAGE),
        KeyCode::Char('s') => m.request_save(),
        KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('d') => m.cancel(),
        _ => {}
    }
}

fn confirm_key(m: &mut Model, code: KeyCode) {
    match code {
        KeyCode::Char('y') | KeyCode::Char('q') => m.quit_now(),
        KeyCode::Char('s') => m.save_and_quit(),
        KeyCode::Char('n') | KeyCode::Esc => m.cancel(),
        _ => {}
    }
}

/// The keys of the current screen, as (key, what it does), for the bottom
/// lines.
pub fn hints(m: &Model) -> Vec<(&'static str, &'static str)> {
    if let Some(e) = m.edit() {
        return match e.kind {
            EditKind::Choice { .. } => vec![
                ("↑↓", "choose"),
                ("Enter", "set"),
                ("Esc", "cancel"),
                ("^C", "quit"),
            ],
            EditKind::Text { .. } => vec![
                ("Enter", "set"),
                ("Esc", "cancel"),
                ("←→", "move"),
                ("^U", "clear"),
                ("^C", "quit"),
            ],
        };
    }
    match &m.screen {
        Screen::Main | Screen::Edit(_) => vec![
            ("↑↓", "select"),
            ("←→", "family"),
            ("Enter", "edit"),
            ("r", "reset"),
            ("m", "mode"),
            ("/", "search"),
            ("d", "diff"),
            ("e", "errors"),
            ("s", "save"),
            ("q", "quit"),
        ],
        Screen::Table(_) => vec![
            ("↑↓←→", "cell"),
            ("Enter", "edit"),
            ("a", "add row"),
            ("x", "delete row"),
            ("r", "reset"),
            ("Esc", "back"),
        ],
        Screen::Search(_) => vec![
            ("type", "name or description"),
            ("↑↓", "choose"),
            ("Enter", "go"),
            ("Esc", "back"),
        ],
        Screen::Errors { .. } => vec![("↑↓", "choose"), ("Enter", "go to it"), ("Esc", "back")],
        Screen::Diff { .. } => vec![("↑↓", "scroll"), ("s", "save"), ("Esc", "back")],
        Screen::ConfirmQuit => vec![
            ("s", "save and quit"),
            ("y", "quit without saving"),
            ("Esc", "keep editing"),
        ],
    }
}
