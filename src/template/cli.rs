//! `conteneur render [--only NAME] [--stdout]`, also `CreoleCat -t NAME`.

use std::io::Write;

use clap::Args;

use super::{Action, Rendered, TemplateError, render_all, render_all_everything, write_all};
use crate::config::Config;
use crate::exit::{EXIT_INVALID_CONFIG, EXIT_PROBLEMS, EXIT_TEMPLATE, EXIT_USAGE, Failure};
use crate::paths::Paths;

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Only this template (its name in the templates folder) or destination
    /// (as declared, e.g. /etc/eole/conteneur-vars.conf, or under --root).
    #[arg(long, short = 't', value_name = "NAME")]
    pub only: Option<String>,
    /// Print the rendered text instead of writing the files.
    #[arg(long)]
    pub stdout: bool,
}

fn out(s: &str) {
    // A closed pipe (`CreoleCat -t x | head`) is not an error worth a panic.
    let _ = std::io::stdout().lock().write_all(s.as_bytes());
}

/// Runs `render`; the exit code follows `crate::exit`'s list.
pub fn run(paths: &Paths, a: RenderArgs) -> Result<u8, Failure> {
    let cfg = Config::load(paths)?;
    // The checks instance makes before it writes anything. Printing
    // (`--stdout`, CreoleCat -t) writes nothing, and, as Creole's CreoleCat,
    // only fails where a template reads a value it cannot have.
    match cfg.check_values() {
        Err(e) if a.stdout => eprintln!(
            "conteneur: warning: {e}\n(printed only: instance and render refuse this configuration)"
        ),
        Err(e) => {
            return Err(Failure {
                code: EXIT_INVALID_CONFIG,
                message: format!("{e}\nnothing was rendered"),
            });
        }
        Ok(()) => {}
    }
    // Printing writes nothing: the files EOLE's Creole writes are shown too.
    let render = if a.stdout {
        render_all_everything
    } else {
        render_all
    };
    let rendered = match render(&cfg, paths, a.only.as_deref()) {
        Ok(r) => r,
        Err(errs) => {
            for e in &errs.0 {
                eprintln!("conteneur: {e}");
            }
            let usage = matches!(errs.0.as_slice(), [TemplateError::UnknownFile { .. }]);
            return Ok(if usage {
                EXIT_USAGE
            } else {
                eprintln!(
                    "conteneur: {} error(s) in the templates; nothing was written",
                    errs.0.len()
                );
                EXIT_TEMPLATE
            });
        }
    };
    if a.stdout {
        return Ok(print(&rendered, a.only.is_some()));
    }
    let (changes, failed) = match write_all(&rendered) {
        Ok(c) => (c, Vec::new()),
        Err(f) => (f.done, f.errors),
    };
    let mut text = String::new();
    for p in &changes.written {
        text.push_str(&format!("written: {}\n", p.display()));
    }
    for p in &changes.removed {
        text.push_str(&format!("removed: {}\n", p.display()));
    }
    text.push_str(&format!(
        "render: {} written, {} removed, {} unchanged\n",
        changes.written.len(),
        changes.removed.len(),
        changes.unchanged.len()
    ));
    out(&text);
    for e in &failed {
        eprintln!("conteneur: {e}");
    }
    Ok(if failed.is_empty() { 0 } else { EXIT_TEMPLATE })
}

/// `--stdout`: the text alone for one file (as CreoleCat prints it), each
/// under a `==> DESTINATION <==` heading for several.
fn print(rendered: &[Rendered], only: bool) -> u8 {
    let writes: Vec<(&Rendered, &str)> = rendered
        .iter()
        .filter_map(|r| match &r.action {
            Action::Write(c) => Some((r, c.as_str())),
            _ => None,
        })
        .collect();
    if only && writes.is_empty() {
        for r in rendered {
            let why = match &r.action {
                Action::Remove => "disabled by its filelist (its output is removed)".to_string(),
                Action::Keep(why) => why.clone(),
                Action::Write(_) => continue,
            };
            eprintln!(
                "conteneur: {} ({}) is not rendered: {why}",
                r.declared, r.source
            );
        }
        return EXIT_PROBLEMS;
    }
    let mut text = String::new();
    for (r, content) in &writes {
        if writes.len() > 1 {
            if !text.is_empty() && !text.ends_with("\n\n") {
                text.push('\n');
            }
            text.push_str(&format!("==> {} <==\n", r.declared));
        }
        text.push_str(content);
    }
    out(&text);
    0
}
