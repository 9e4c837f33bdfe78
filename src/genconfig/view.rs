//! Drawing: the model on a ratatui frame. Nothing here changes the model.
//!
//! The screen, from top to bottom: a title line (file, mode, pending
//! changes, errors), the families as tabs, the variables of the current
//! family, the selected variable's details and help, a message line, and
//! the keys of the current screen. Editors, tables, the search, the error
//! list, the diff and the quit question open as boxes over it.
//!
//! Everything is laid out from the frame's size, so 80×24 works and larger
//! terminals get more lines; below [`MIN_WIDTH`]×[`MIN_HEIGHT`] a message
//! asks for a larger window instead of drawing garbage.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row as TRow, Table, TableState, Wrap};

use super::input;
use super::model::{Edit, EditKind, Model, Row, Screen, StatusKind, Target};
use crate::config::Origin;

pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

/// Lines a list or a table shows at most for one variable.
const MAX_VALUE_LINES: usize = 4;

/// What the view keeps between frames: the list's scroll position.
#[derive(Debug, Default)]
pub struct ViewState {
    list: TableState,
}

fn bold() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

fn red() -> Style {
    Style::new().fg(Color::Red)
}

fn yellow() -> Style {
    Style::new().fg(Color::Yellow)
}

fn green() -> Style {
    Style::new().fg(Color::Green)
}

fn key_style() -> Style {
    Style::new()
        .fg(Color::Black)
        .bg(Color::Cyan)
        .add_modifier(Modifier::BOLD)
}

/// Draws the whole screen.
pub fn draw(f: &mut Frame, m: &Model, st: &mut ViewState) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "genconfig needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT} (this one is {}×{}). Ctrl-C quits.",
            area.width, area.height
        );
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let hints = hint_lines(m, area.width);
    let [title, tabs, list, detail, status, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(if area.height >= 30 { 9 } else { 7 }),
        Constraint::Length(1),
        Constraint::Length(hints.len() as u16),
    ])
    .areas(area);
    draw_title(f, m, title);
    draw_tabs(f, m, tabs);
    draw_list(f, m, st, list);
    draw_detail(f, m, detail);
    draw_status(f, m, status);
    f.render_widget(Paragraph::new(hints), keys);
    match &m.screen {
        Screen::Main => {}
        Screen::Edit(e) => draw_edit_box(f, m, e, area),
        Screen::Table(_) => draw_table(f, m, area),
        Screen::Search(_) => draw_search(f, m, area),
        Screen::Errors { .. } => draw_errors(f, m, area),
        Screen::Diff { .. } => draw_diff(f, m, area),
        Screen::ConfirmQuit => draw_confirm(f, m, area),
    }
}

/// Keeps the end of a text that is too long (paths: the file name matters).
fn tail(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    let keep: String = s.chars().skip(n + 1 - width.max(1)).collect();
    format!("…{keep}")
}

/// Cuts a text to `width` characters, marking the cut.
fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let keep: String = s.chars().take(width.saturating_sub(1)).collect();
    format!("{keep}…")
}

fn draw_title(f: &mut Frame, m: &Model, area: Rect) {
    let mut right = format!("mode: {}", m.mode().name());
    let changes = m.pending().len();
    if changes > 0 {
        right.push_str(&format!(" │ {changes} unsaved"));
    }
    let errors = m.blocking_errors();
    if errors > 0 {
        right.push_str(&format!(" │ {errors} error(s)"));
    }
    let left_room = (area.width as usize).saturating_sub(right.chars().count() + 22);
    let path = tail(&m.paths().config.display().to_string(), left_room);
    let left = format!(" genconfig  {path}");
    let pad =
        (area.width as usize).saturating_sub(left.chars().count() + right.chars().count() + 1);
    let line = Line::from(vec![
        Span::styled(left, bold()),
        Span::raw(" ".repeat(pad)),
        Span::styled(
            right,
            if errors > 0 {
                red().add_modifier(Modifier::BOLD)
            } else if changes > 0 {
                yellow()
            } else {
                Style::new()
            },
        ),
        Span::raw(" "),
    ]);
    f.render_widget(
        Paragraph::new(line).style(Style::new().add_modifier(Modifier::REVERSED)),
        area,
    );
}

/// The families as tabs; when they do not fit, a window around the
/// current one, with arrows saying more are on either side.
fn draw_tabs(f: &mut Frame, m: &Model, area: Rect) {
    let fams = m.families();
    let cur = m
        .current_family()
        .and_then(|c| fams.iter().position(|x| x == c))
        .unwrap_or(0);
    let width = area.width as usize;
    let w = |i: usize| fams[i].chars().count() + 3;
    let (mut lo, mut hi) = (cur, cur + 1);
    let mut used = if fams.is_empty() { 0 } else { w(cur) };
    loop {
        let mut grew = false;
        if hi < fams.len() && used + w(hi) + 4 <= width {
            used += w(hi);
            hi += 1;
            grew = true;
        }
        if lo > 0 && used + w(lo - 1) + 4 <= width {
            used += w(lo - 1);
            lo -= 1;
            grew = true;
        }
        if !grew {
            break;
        }
    }
    let mut spans = vec![Span::styled(if lo > 0 { "‹ " } else { "  " }, dim())];
    for (i, name) in fams.iter().enumerate().take(hi.min(fams.len())).skip(lo) {
        let style = if i == cur {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        spans.push(Span::styled(format!(" {name} "), style));
        spans.push(Span::styled("│", dim()));
    }
    if hi < fams.len() {
        spans.push(Span::styled(" ›", dim()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The value of a variable as lines: one per entry for a list, the
/// master's entry then its slaves' for a group.
fn value_lines(m: &Model, name: &str, width: usize) -> Vec<String> {
    if m.is_table(name) {
        let rows = m.table_rows(name);
        if rows.is_empty() {
            return vec!["(empty)".into()];
        }
        let mut out: Vec<String> = rows
            .iter()
            .take(MAX_VALUE_LINES)
            .map(|r| {
                let cells: Vec<&str> = r
                    .iter()
                    .map(|c| if c.is_empty() { "—" } else { c.as_str() })
                    .collect();
                cut(&cells.join(" → "), width)
            })
            .collect();
        if rows.len() > MAX_VALUE_LINES {
            out.pop();
            out.push(format!("… {} entries", rows.len()));
        }
        return out;
    }
    match m.config().get(name) {
        Ok(v) => match v.first() {
            Some(s) if !s.is_empty() => vec![cut(s, width)],
            _ => vec!["—".into()],
        },
        Err(_) => vec!["(cannot compute)".into()],
    }
}

fn origin_tag(m: &Model, name: &str) -> (&'static str, Style) {
    if m.read_only(name).is_some() {
        let auto = m
            .config()
            .dictionaries()
            .calcs
            .get(name)
            .is_some_and(|c| c.kind == crate::dico::CalcKind::Auto);
        return if auto {
            ("auto", dim())
        } else {
            ("frozen", yellow())
        };
    }
    match m.config().resolved(name).map(|r| r.origin) {
        Ok(Origin::Fill) => ("calc", Style::new().fg(Color::Cyan)),
        Ok(Origin::Stored(_)) if m.config().dictionaries().calcs.contains_key(name) => {
            ("set", Style::new().fg(Color::Cyan))
        }
        _ => ("", Style::new()),
    }
}

fn draw_list(f: &mut Frame, m: &Model, st: &mut ViewState, area: Rect) {
    let width = area.width as usize;
    let value_w = ((width.saturating_sub(10)) * 2 / 5).max(18);
    let selected = m.selected();
    let mut rows = Vec::new();
    let mut sel_row = None;
    for row in m.rows() {
        match row {
            Row::Heading(h) => rows.push(TRow::new(vec![Cell::from(Span::styled(
                format!("── {h} "),
                Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            ))])),
            Row::Var(name) => {
                if Some(name.as_str()) == selected {
                    sel_row = Some(rows.len());
                }
                // Highlight symbol, value, tag, spacing, mandatory mark.
                let desc_w = width.saturating_sub(2 + value_w + 7 + 2 + 2);
                rows.push(var_row(m, &name, desc_w, value_w));
            }
        }
    }
    if rows.is_empty() {
        f.render_widget(
            Paragraph::new("Nothing to show in this mode: press m for another mode.").style(dim()),
            area,
        );
        return;
    }
    let table = Table::new(
        rows,
        [
            Constraint::Fill(1),
            Constraint::Length(value_w as u16),
            Constraint::Length(7),
        ],
    )
    .column_spacing(1)
    .row_highlight_style(Style::new().bg(Color::Blue).fg(Color::White))
    .highlight_symbol("▶ ");
    st.list.select(sel_row);
    f.render_stateful_widget(table, area, &mut st.list);
}

fn var_row<'a>(m: &Model, name: &str, desc_w: usize, value_w: usize) -> TRow<'a> {
    let cfg = m.config();
    let (desc, mandatory) = match cfg.variable(name) {
        Ok(v) => (
            if v.description.is_empty() {
                name.to_string()
            } else {
                v.description.clone()
            },
            cfg.props(name).map_or(v.mandatory, |p| p.mandatory),
        ),
        Err(_) => (name.to_string(), false),
    };
    let problems = m.row_problems(name);
    let has_error = problems
        .iter()
        .any(|p| p.severity == crate::config::Severity::Error);
    let has_warning = !problems.is_empty();
    let lines = value_lines(m, name, value_w);
    let height = lines.len().max(1) as u16;
    let mut value_style = if m.is_changed(name) {
        yellow().add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    };
    if has_error {
        value_style = red().add_modifier(Modifier::BOLD);
    } else if has_warning {
        value_style = yellow();
    }
    let (tag, tag_style) = origin_tag(m, name);
    if matches!(cfg.resolved(name).map(|r| r.origin), Ok(Origin::Fill)) && !has_error {
        value_style = value_style.add_modifier(Modifier::ITALIC);
    }
    // The mandatory mark goes first: a long description is cut at the end.
    let d = vec![
        Span::styled(if mandatory { "* " } else { "  " }, red()),
        Span::raw(cut(&desc, desc_w)),
    ];
    let marker = if has_error {
        Span::styled("✗ ", red())
    } else if has_warning {
        Span::styled("! ", yellow())
    } else {
        Span::raw("")
    };
    let tag_cell = Line::from(vec![marker, Span::styled(tag, tag_style)]);
    TRow::new(vec![
        Cell::from(Line::from(d)),
        Cell::from(Text::from(
            lines
                .into_iter()
                .map(|l| Line::styled(l, value_style))
                .collect::<Vec<_>>(),
        )),
        Cell::from(tag_cell),
    ])
    .height(height)
}

/// Where a value comes from, in words.
fn origin_words(m: &Model, name: &str) -> String {
    if let Some(why) = m.read_only(name) {
        return format!("read-only ({why})");
    }
    let has_fill = m.config().dictionaries().calcs.contains_key(name);
    match m.config().resolved(name).map(|r| r.origin) {
        Ok(Origin::Stored(owner)) if has_fill => {
            format!("set by {owner}, over a calculated default (r resets)")
        }
        Ok(Origin::Stored(owner)) => format!("set by {owner} (r resets to the default)"),
        Ok(Origin::Fill) => "calculated default: Enter overrides it".into(),
        Ok(Origin::Auto) => "computed".into(),
        Ok(Origin::Default) => "dictionary default".into(),
        Ok(Origin::Unset) => "unset".into(),
        Err(e) => format!("cannot compute: {e}"),
    }
}

fn draw_detail(f: &mut Frame, m: &Model, area: Rect) {
    let Some(name) = m.selected() else {
        f.render_widget(Block::bordered().border_style(dim()), area);
        return;
    };
    let cfg = m.config();
    let mut lines: Vec<Line> = Vec::new();
    if let Ok(v) = cfg.variable(name) {
        // In full: the list cuts long descriptions.
        lines.push(Line::styled(v.description.clone(), bold()));
        let mut facts = vec![
            format!("type {}", v.ty.name()),
            format!("mode {}", v.mode.name()),
        ];
        if m.is_table(name) {
            let cols = m.columns(name);
            if cols.len() > 1 {
                facts.push(format!("table with {}", cols[1..].join(", ")));
            } else {
                facts.push("list".into());
            }
        }
        if cfg.props(name).is_ok_and(|p| p.mandatory) {
            facts.push("mandatory".into());
        }
        facts.push(origin_words(m, name));
        lines.push(Line::styled(facts.join(" · "), dim()));
    }
    for p in m.row_problems(name) {
        let style = if p.severity == crate::config::Severity::Error {
            red()
        } else {
            yellow()
        };
        let who = p.variable.as_deref().filter(|v| *v != name);
        let text = match who {
            Some(v) => format!("✗ {v}: {}", p.message),
            None => format!("✗ {}", p.message),
        };
        lines.push(Line::styled(text, style));
    }
    if let Some(h) = cfg.dictionaries().help_variables.get(name) {
        lines.push(Line::raw(h.clone()));
    }
    let block = Block::bordered()
        .title(Span::styled(format!(" {name} "), bold()))
        .border_style(dim());
    f.render_widget(
        Paragraph::new(lines).block(block).wrap(Wrap { trim: true }),
        area,
    );
}

fn draw_status(f: &mut Frame, m: &Model, area: Rect) {
    let Some(s) = m.status() else { return };
    let style = match s.kind {
        StatusKind::Info => green(),
        StatusKind::Warning => yellow(),
        StatusKind::Error => red().add_modifier(Modifier::BOLD),
    };
    f.render_widget(
        Paragraph::new(Line::styled(cut(&s.text, area.width as usize), style)),
        area,
    );
}

/// The key hints, packed on as many lines as the width needs.
fn hint_lines(m: &Model, width: u16) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let mut cur: Vec<Span> = Vec::new();
    let mut used = 0usize;
    for (key, what) in input::hints(m) {
        let w = key.chars().count() + what.chars().count() + 4;
        if used + w > width as usize && !cur.is_empty() {
            lines.push(Line::from(std::mem::take(&mut cur)));
            used = 0;
        }
        cur.push(Span::styled(format!(" {key} "), key_style()));
        cur.push(Span::raw(format!(" {what} ")));
        used += w;
    }
    if !cur.is_empty() {
        lines.push(Line::from(cur));
    }
    lines
}

/// A box of `w`×`h` (at most the area) in the middle of `area`.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn popup<'a>(f: &mut Frame, area: Rect, title: String) -> (Block<'a>, Rect) {
    f.render_widget(Clear, area);
    let block = Block::bordered()
        .title(Span::styled(title, bold()))
        .border_style(Style::new().fg(Color::Cyan));
    let inner = block.inner(area);
    (block, inner)
}

/// The lines under an input: the engine's verdict on what is typed.
fn verdict(e: &Edit) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    match &e.error {
        Some(err) => out.push(Line::styled(format!("✗ {err}"), red())),
        None => out.push(Line::styled("✓ valid", green())),
    }
    for w in &e.warnings {
        out.push(Line::styled(format!("! {w}"), yellow()));
    }
    out
}

/// The input itself: a text field (with the cursor placed) or a choice
/// list. Returns the lines and, for text, the cursor's column.
fn input_lines(e: &Edit) -> (Vec<Line<'static>>, Option<u16>) {
    match &e.kind {
        EditKind::Text { buffer, cursor } => (
            vec![Line::from(vec![
                Span::styled("> ", bold()),
                Span::styled(
                    buffer.clone(),
                    Style::new().add_modifier(Modifier::UNDERLINED),
                ),
            ])],
            Some(2 + *cursor as u16),
        ),
        EditKind::Choice { options, selected } => (
            options
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let label = if o.is_empty() { "(empty)" } else { o.as_str() };
                    if i == *selected {
                        Line::styled(
                            format!("▶ {label}"),
                            Style::new().bg(Color::Blue).fg(Color::White),
                        )
                    } else {
                        Line::raw(format!("  {label}"))
                    }
                })
                .collect(),
            None,
        ),
    }
}

fn draw_edit_box(f: &mut Frame, m: &Model, e: &Edit, area: Rect) {
    let name = e.target.var();
    let var = m.config().variable(name).ok();
    let mut lines: Vec<Line> = Vec::new();
    if let Some(v) = var {
        lines.push(Line::raw(v.description.clone()));
        let how = match e.kind {
            EditKind::Choice { .. } => "choose one: ↑↓, or the first letter".to_string(),
            EditKind::Text { .. } => format!("expected: {}", v.ty.describe()),
        };
        lines.push(Line::styled(how, dim()));
    }
    let top = lines.len() as u16;
    let (input, cursor) = input_lines(e);
    let n_input = input.len();
    lines.extend(input);
    lines.push(Line::raw(""));
    lines.extend(verdict(e));
    let w = area.width.saturating_sub(4).min(76);
    let h = (lines.len() as u16 + 4).min(area.height);
    let rect = centered(area, w, h);
    let (block, inner) = popup(f, rect, format!(" {name} "));
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
    if let Some(c) = cursor
        && n_input == 1
    {
        f.set_cursor_position(Position {
            x: (inner.x + c).min(inner.right().saturating_sub(1)),
            y: inner.y + top,
        });
    }
}

fn draw_table(f: &mut Frame, m: &Model, area: Rect) {
    let Screen::Table(t) = &m.screen else { return };
    let mut data = m.table_rows(&t.master);
    let adding = matches!(
        t.edit.as_ref().map(|e| &e.target),
        Some(Target::Cell { new_row: true, .. })
    );
    if adding {
        data.push(vec![String::new(); t.columns.len()]);
    }
    let problems = if t.edit.is_none() {
        m.row_problems(&t.master)
    } else {
        Vec::new()
    };
    let edit_h = match &t.edit {
        Some(e) => match &e.kind {
            EditKind::Text { .. } => 7,
            EditKind::Choice { options, .. } => options.len() as u16 + 5,
        },
        None => 3 + 2 * problems.len() as u16,
    };
    let wanted = 2 + 1 + data.len().max(2) as u16 + 1 + edit_h;
    let rect = centered(
        area,
        area.width.saturating_sub(4).min(100),
        wanted.min(area.height.saturating_sub(2)),
    );
    let desc = m
        .config()
        .variable(&t.master)
        .map(|v| v.description.clone())
        .unwrap_or_default();
    let (block, inner) = popup(
        f,
        rect,
        format!(" {} ", cut(&desc, (rect.width as usize).saturating_sub(4))),
    );
    f.render_widget(block, rect);
    let [tarea, below] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(edit_h)]).areas(inner);
    let read_only: Vec<bool> = t.columns.iter().map(|c| m.read_only(c).is_some()).collect();
    let rows: Vec<TRow> = data
        .iter()
        .enumerate()
        .map(|(r, cells)| {
            TRow::new(cells.iter().enumerate().map(|(c, v)| {
                let text = if v.is_empty() {
                    "—".to_string()
                } else {
                    v.clone()
                };
                let mut style = if read_only[c] { dim() } else { Style::new() };
                if r == t.row && c == t.col {
                    style = Style::new()
                        .bg(Color::Blue)
                        .fg(Color::White)
                        .add_modifier(Modifier::BOLD);
                }
                Cell::from(Span::styled(text, style))
            }))
        })
        .collect();
    let header = TRow::new(
        t.columns
            .iter()
            .map(|c| Cell::from(Span::styled(c.clone(), bold()))),
    )
    .style(Style::new().add_modifier(Modifier::UNDERLINED));
    let widths = vec![Constraint::Fill(1); t.columns.len()];
    let mut state =
        TableState::default().with_selected(if data.is_empty() { None } else { Some(t.row) });
    if data.is_empty() {
        f.render_widget(
            Paragraph::new(vec![
                Line::from(t.columns.join("  ")).style(bold()),
                Line::styled("(empty: press a to add a row)", dim()),
            ]),
            tarea,
        );
    } else {
        f.render_stateful_widget(
            Table::new(rows, widths).header(header).column_spacing(2),
            tarea,
            &mut state,
        );
    }
    let col_var = t.columns.get(t.col).cloned().unwrap_or_default();
    let mut lines: Vec<Line> = Vec::new();
    if let Ok(v) = m.config().variable(&col_var) {
        let mut info = format!(
            "{col_var}: {} (expected {})",
            v.description,
            v.ty.describe()
        );
        if let Some(why) = m.read_only(&col_var) {
            info = format!("{col_var}: read-only ({why})");
        }
        lines.push(Line::styled(info, dim()));
    }
    let mut cursor = None;
    if let Some(e) = &t.edit {
        let (input, c) = input_lines(e);
        let top = lines.len() as u16;
        if input.len() == 1 {
            cursor = c.map(|c| (c, top));
        }
        lines.extend(input);
        lines.extend(verdict(e));
    } else {
        for p in problems {
            lines.push(Line::styled(
                format!(
                    "✗ {}{}",
                    p.variable.map(|v| format!("{v}: ")).unwrap_or_default(),
                    p.message
                ),
                red(),
            ));
        }
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), below);
    if let Some((c, top)) = cursor {
        f.set_cursor_position(Position {
            x: (below.x + c).min(below.right().saturating_sub(1)),
            y: below.y + top,
        });
    }
}

fn draw_search(f: &mut Frame, m: &Model, area: Rect) {
    let Screen::Search(s) = &m.screen else { return };
    let rect = centered(
        area,
        area.width.saturating_sub(4).min(90),
        area.height.saturating_sub(4),
    );
    let (block, inner) = popup(f, rect, " Search: name or description ".into());
    f.render_widget(block, rect);
    let [input, list] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(inner);
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("/ ", bold()),
            Span::raw(s.query.clone()),
        ])),
        input,
    );
    f.set_cursor_position(Position {
        x: (input.x + 2 + s.query.chars().count() as u16).min(input.right().saturating_sub(1)),
        y: input.y,
    });
    let results = m.search_results(&s.query);
    let height = list.height as usize;
    let start = s.selected.saturating_sub(height.saturating_sub(1));
    let lines: Vec<Line> = results
        .iter()
        .enumerate()
        .skip(start)
        .take(height)
        .map(|(i, name)| {
            let desc = m
                .config()
                .variable(name)
                .map(|v| v.description.clone())
                .unwrap_or_default();
            let text = cut(&format!("{name} — {desc}"), list.width as usize);
            if i == s.selected {
                Line::styled(text, Style::new().bg(Color::Blue).fg(Color::White))
            } else {
                Line::raw(text)
            }
        })
        .collect();
    let lines = if lines.is_empty() && !s.query.trim().is_empty() {
        vec![Line::styled("no variable matches", dim())]
    } else {
        lines
    };
    f.render_widget(Paragraph::new(lines), list);
}

fn draw_errors(f: &mut Frame, m: &Model, area: Rect) {
    let Screen::Errors { selected, refused } = m.screen else {
        return;
    };
    let wanted = 2 + 2 * m.errors().len() as u16;
    let rect = centered(
        area,
        area.width.saturating_sub(4).min(100),
        wanted.min(area.height.saturating_sub(4)),
    );
    let title = if refused {
        format!(" Save refused: {} error(s) to fix ", m.blocking_errors())
    } else {
        format!(" {} problem(s) ", m.errors().len())
    };
    let (block, inner) = popup(f, rect, title);
    f.render_widget(block, rect);
    let mut lines = Vec::new();
    let mut sel_line = 0usize;
    for (i, e) in m.errors().iter().enumerate() {
        if i == selected {
            sel_line = lines.len();
        }
        let who = e.variable.clone().unwrap_or_else(|| "(no variable)".into());
        let mut style = if e.blocking { red() } else { dim() };
        if i == selected {
            style = style.bg(Color::Blue).fg(Color::White);
        }
        let note = if e.blocking {
            ""
        } else {
            " (cannot be fixed here)"
        };
        lines.push(Line::styled(
            format!("✗ {who}{note}"),
            style.add_modifier(Modifier::BOLD),
        ));
        lines.push(Line::styled(format!("  {}", e.message), style));
    }
    let scroll = sel_line.saturating_sub((inner.height as usize).saturating_sub(2));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll as u16, 0)),
        inner,
    );
}

fn draw_diff(f: &mut Frame, m: &Model, area: Rect) {
    let Screen::Diff { scroll } = m.screen else {
        return;
    };
    let wanted = 2 + 3 * m.pending().len() as u16;
    let rect = centered(
        area,
        area.width.saturating_sub(4).min(100),
        wanted.min(area.height.saturating_sub(4)),
    );
    let (block, inner) = popup(
        f,
        rect,
        format!(" {} pending change(s) — s saves ", m.pending().len()),
    );
    f.render_widget(block, rect);
    let mut lines = Vec::new();
    for d in m.pending().iter().skip(scroll) {
        lines.push(Line::styled(d.name.clone(), bold()));
        lines.push(Line::styled(format!("  - {}", d.before), red()));
        lines.push(Line::styled(format!("  + {}", d.after), green()));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn draw_confirm(f: &mut Frame, m: &Model, area: Rect) {
    let rect = centered(area, 56.min(area.width), 7);
    let (block, _) = popup(f, rect, " Quit? ".into());
    let lines = vec![
        Line::raw(format!("{} change(s) are not saved.", m.pending().len())),
        Line::raw(""),
        Line::from(vec![
            Span::styled(" s ", key_style()),
            Span::raw(" save and quit  "),
            Span::styled(" y ", key_style()),
            Span::raw(" quit without saving"),
        ]),
        Line::from(vec![
            Span::styled(" Esc ", key_style()),
            Span::raw(" keep editing"),
        ]),
    ];
    f.render_widget(Paragraph::new(lines).block(block), rect);
}
