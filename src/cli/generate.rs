//! The man pages and the shell completions, written from the very clap
//! definitions of [`Cli`] when the Debian package is built, so they never
//! drift from the command line. The small build-time binary
//! `conteneur-generate man|completions DIR` (src/bin, not installed) calls
//! this; `packaging/build-deb.sh` runs it, so the installed command line
//! carries nothing that only packaging needs.
//!
//! - `man DIR`: one page per command, `conteneur.1`, `conteneur-get.1`, …,
//!   `conteneur-proxy-start.1`, with the exit codes, the EOLE name a command
//!   answers to, and where it reads and writes.
//! - `completions DIR`: `DIR/bash/NAME`, `DIR/zsh/_NAME`, `DIR/fish/NAME.fish`
//!   for `conteneur` and for each EOLE name (`CreoleGet`, `reconfigure`…),
//!   named as bash-completion, zsh and fish look them up.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Command, CommandFactory, Parser, Subcommand};
use clap_complete::Shell;
use roff::{Roff, bold, italic, roman};

use super::{Cli, EOLE_NAMES};
use crate::exit::{EXIT_CODES_HELP, EXIT_SYSTEM};

/// Writes conteneur's man pages or shell completions (for packaging).
#[derive(Debug, Parser)]
#[command(name = "conteneur-generate", version)]
pub struct GenerateCli {
    #[command(subcommand)]
    pub what: What,
}

#[derive(Debug, Subcommand)]
pub enum What {
    /// One man page per command (conteneur.1, conteneur-get.1, …).
    Man {
        /// Folder to write the pages to (created if missing).
        dir: PathBuf,
    },
    /// bash, zsh and fish completions for conteneur and its EOLE names,
    /// in DIR/bash, DIR/zsh and DIR/fish.
    Completions {
        /// Folder to write the completions to (created if missing).
        dir: PathBuf,
    },
}

/// A page or completion file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct GenerateError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// The entry point of `conteneur-generate`: prints each file written.
pub fn main() -> std::process::ExitCode {
    let cli = GenerateCli::parse();
    let written = match cli.what {
        What::Man { dir } => man_pages(&dir),
        What::Completions { dir } => completions(&dir),
    };
    match written {
        Ok(files) => {
            let mut o = std::io::stdout().lock();
            for p in files {
                let _ = writeln!(o, "{}", p.display());
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("conteneur-generate: {e}");
            std::process::ExitCode::from(EXIT_SYSTEM)
        }
    }
}

/// The whole command tree, built: global options propagated to every
/// subcommand, and each subcommand named `conteneur-SUB` for display.
fn built() -> Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

fn create_dir(dir: &Path) -> Result<(), GenerateError> {
    crate::folders::create_dir_all(dir, crate::folders::PUBLIC).map_err(|source| GenerateError {
        path: dir.to_path_buf(),
        source,
    })
}

fn write_file(path: PathBuf, bytes: &[u8]) -> Result<PathBuf, GenerateError> {
    std::fs::write(&path, bytes).map_err(|source| GenerateError {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Visible subcommands: not hidden, not `help`.
fn visible(cmd: &Command) -> impl Iterator<Item = &Command> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
}

/// Writes one man page per visible command into `dir`; returns their paths.
pub fn man_pages(dir: &Path) -> Result<Vec<PathBuf>, GenerateError> {
    create_dir(dir)?;
    let top = built();
    let mut pages = Vec::new();
    collect(&top, &mut Vec::new(), &mut pages);
    let mut written = Vec::new();
    for (path, cmd) in &pages {
        let page = render_page(&top, path, cmd);
        let file = dir.join(format!("{}.1", page_name(path)));
        written.push(write_file(file, page.as_bytes())?);
    }
    Ok(written)
}

/// Every visible command with the names leading to it (`[]` for the top).
fn collect<'a>(
    cmd: &'a Command,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, &'a Command)>,
) {
    out.push((path.clone(), cmd));
    for sub in visible(cmd) {
        path.push(sub.get_name().to_string());
        collect(sub, path, out);
        path.pop();
    }
}

/// `conteneur`, `conteneur-get`, `conteneur-proxy-start`.
fn page_name(path: &[String]) -> String {
    std::iter::once("conteneur")
        .chain(path.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("-")
}

fn render_page(top: &Command, path: &[String], cmd: &Command) -> String {
    let version = top.get_version().unwrap_or("unknown");
    let man = clap_mangen::Man::new(cmd.clone())
        .title(page_name(path).to_uppercase())
        .source(format!("conteneur {version}"))
        .manual("conteneur manual");
    type Part = fn(&clap_mangen::Man, &mut dyn Write) -> std::io::Result<()>;
    let mut parts: Vec<Part> = vec![
        clap_mangen::Man::render_title,
        clap_mangen::Man::render_name_section,
        clap_mangen::Man::render_synopsis_section,
        clap_mangen::Man::render_description_section,
    ];
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        parts.push(clap_mangen::Man::render_options_section);
    }
    if visible(cmd).next().is_some() {
        parts.push(clap_mangen::Man::render_subcommands_section);
    }
    let mut extra = Roff::new();
    eole_name_section(&mut extra, path);
    exit_status_section(&mut extra);
    if path.is_empty() {
        environment_section(&mut extra);
        files_section(&mut extra);
    }
    see_also_section(&mut extra, top, path);
    // Each part comes with roff's apostrophe preamble: keep the first only.
    let mut text = String::new();
    for part in parts {
        let mut buf: Vec<u8> = Vec::new();
        // Rendering into memory cannot fail.
        let _ = part(&man, &mut buf);
        push_part(&mut text, &String::from_utf8_lossy(&buf));
    }
    push_part(&mut text, &extra.render());
    text
}

/// Appends a rendered part, without its apostrophe preamble
/// (`.ie \n(.g .ds Aq \(aq` / `.el .ds Aq '`) once the page has one.
fn push_part(page: &mut String, part: &str) {
    let mut lines = part.lines().peekable();
    if !page.is_empty() {
        while lines
            .peek()
            .is_some_and(|l| l.starts_with(".ie \\n(.g .ds Aq") || l.starts_with(".el .ds Aq"))
        {
            lines.next();
        }
    }
    for l in lines {
        page.push_str(l);
        page.push('\n');
    }
}

/// For a command an EOLE name runs (`reconfigure`), says so; on the top
/// page, lists them all.
fn eole_name_section(r: &mut Roff, path: &[String]) {
    let names: Vec<(&str, &str)> = match path {
        [] => EOLE_NAMES.to_vec(),
        [sub] => EOLE_NAMES
            .iter()
            .copied()
            .filter(|(_, s)| s == sub)
            .collect(),
        _ => Vec::new(),
    };
    if names.is_empty() {
        return;
    }
    r.control("SH", ["EOLE NAMES"]);
    r.text([roman(
        "The binary looks at the name it was called by: a link named after an EOLE command \
         runs the matching subcommand, with the same arguments.",
    )]);
    for (name, sub) in names {
        r.control("TP", []);
        r.text([bold(name)]);
        let what = if sub == "render" {
            format!("conteneur {sub} --stdout (CreoleCat -t NAME prints one template)")
        } else {
            format!("conteneur {sub}")
        };
        r.text([roman(what)]);
    }
}

fn exit_status_section(r: &mut Roff) {
    r.control("SH", ["EXIT STATUS"]);
    // EXIT_CODES_HELP: "Exit codes:" then "  N  text" lines, continued by
    // indented lines.
    let mut first = true;
    for line in EXIT_CODES_HELP.lines().skip(1) {
        let trimmed = line.trim_start();
        let mut parts = trimmed.splitn(2, "  ");
        let head = parts.next().unwrap_or_default();
        if head.chars().all(|c| c.is_ascii_digit()) && !head.is_empty() {
            r.control("TP", []);
            r.text([bold(head)]);
            r.text([roman(parts.next().unwrap_or_default().trim())]);
            first = false;
        } else if !first {
            r.text([roman(trimmed)]);
        }
    }
}

fn environment_section(r: &mut Roff) {
    r.control("SH", ["ENVIRONMENT"]);
    r.control("TP", []);
    r.text([bold("CONTENEUR_ROOT")]);
    r.text([roman(
        "Prefix for every path conteneur uses, as --root. Tests and demos set it so that \
         nothing reaches the machine's /etc.",
    )]);
}

fn files_section(r: &mut Roff) {
    use crate::paths::eole;
    r.control("SH", ["FILES"]);
    let files = [
        (
            eole::DICOS,
            "dictionaries shipped by packages (local/ and variante/ beside them)",
        ),
        (
            eole::TEMPLATES,
            "templates, one per <file> of the dictionaries",
        ),
        (
            eole::CONFIG,
            "the admin's values; never written by the package itself",
        ),
        (eole::INSTANCE_MARKER, "present once instance has run"),
        (
            eole::HOOKS,
            "hook folders preservice, pretemplate, posttemplate, postservice",
        ),
        (
            eole::STATE,
            "conteneur's state: launch plan, staged nginx site, run lock",
        ),
    ];
    for (path, what) in files {
        r.control("TP", []);
        r.text([italic(format!("/{path}"))]);
        r.text([roman(what)]);
    }
}

fn see_also_section(r: &mut Roff, top: &Command, path: &[String]) {
    r.control("SH", ["SEE ALSO"]);
    let mut refs: Vec<String> = Vec::new();
    if path.is_empty() {
        for sub in visible(top) {
            refs.push(page_name(&[sub.get_name().to_string()]));
        }
    } else {
        refs.push("conteneur".to_string());
        if path.len() > 1 {
            refs.push(page_name(&path[..path.len() - 1]));
        }
    }
    let mut inlines = Vec::new();
    for (i, name) in refs.iter().enumerate() {
        if i > 0 {
            inlines.push(roman(", "));
        }
        inlines.push(bold(name.clone()));
        inlines.push(roman("(1)"));
    }
    r.text(inlines);
}

const SHELLS: [(Shell, &str); 3] = [
    (Shell::Bash, "bash"),
    (Shell::Zsh, "zsh"),
    (Shell::Fish, "fish"),
];

/// The file name each shell looks a completion up by.
fn completion_file(shell: Shell, name: &str) -> String {
    match shell {
        Shell::Zsh => format!("_{name}"),
        Shell::Fish => format!("{name}.fish"),
        _ => name.to_string(),
    }
}

/// Writes the completions of `conteneur` and of each EOLE name, for bash,
/// zsh and fish; returns their paths.
pub fn completions(dir: &Path) -> Result<Vec<PathBuf>, GenerateError> {
    // clap_complete offers hidden subcommands too (internal ones such as
    // lxc-forward): complete from a copy of the tree without them.
    let mut top = without_hidden(&Cli::command()).disable_help_subcommand(true);
    top.build();
    let mut commands: Vec<(String, Command)> = vec![("conteneur".to_string(), top.clone())];
    for (name, sub) in EOLE_NAMES {
        // After build(), a subcommand carries the global options too: it
        // is exactly what the EOLE name accepts.
        if let Some(cmd) = top.find_subcommand(sub) {
            commands.push((name.to_string(), cmd.clone().name(name)));
        }
    }
    let mut written = Vec::new();
    for (shell, folder) in SHELLS {
        let d = dir.join(folder);
        create_dir(&d)?;
        for (name, cmd) in &commands {
            let mut cmd = cmd.clone();
            let mut buf: Vec<u8> = Vec::new();
            clap_complete::generate(shell, &mut cmd, name.as_str(), &mut buf);
            written.push(write_file(d.join(completion_file(shell, name)), &buf)?);
        }
    }
    Ok(written)
}

/// A copy of `cmd` for completions: its name, about, version, options and
/// visible subcommands (recursively), nothing hidden.
fn without_hidden(cmd: &Command) -> Command {
    // clap (without its `string` feature) takes names as &'static str: a
    // build-time helper can leak these few bytes once.
    fn leak(s: &str) -> &'static str {
        Box::leak(s.to_owned().into_boxed_str())
    }
    let mut c = Command::new(leak(cmd.get_name()))
        .args(cmd.get_arguments().cloned())
        .groups(cmd.get_groups().cloned())
        .subcommands(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(without_hidden),
        );
    if let Some(about) = cmd.get_about() {
        c = c.about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        c = c.version(leak(version));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_per_visible_command() {
        let top = built();
        let mut pages = Vec::new();
        collect(&top, &mut Vec::new(), &mut pages);
        let names: Vec<String> = pages.iter().map(|(p, _)| page_name(p)).collect();
        for want in [
            "conteneur",
            "conteneur-get",
            "conteneur-reconfigure",
            "conteneur-proxy-start",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
        assert!(
            !names
                .iter()
                .any(|n| n.contains("generate") || n.ends_with("-help"))
        );
    }

    #[test]
    fn reconfigure_page_has_its_eole_name_and_exit_codes() {
        let top = built();
        let cmd = top.find_subcommand("reconfigure").expect("reconfigure");
        let page = render_page(&top, &["reconfigure".to_string()], cmd);
        assert!(page.contains(".TH CONTENEUR-RECONFIGURE 1"), "{page}");
        assert_eq!(page.matches(".ds Aq").count(), 2, "one preamble: {page}");
        assert!(page.contains("EOLE NAMES"));
        assert!(page.contains("EXIT STATUS"));
        assert!(
            page.contains("\\-\\-root"),
            "global options are listed: {page}"
        );
    }

    #[test]
    fn every_eole_name_runs_a_real_subcommand() {
        let top = built();
        for (name, sub) in EOLE_NAMES {
            assert!(top.find_subcommand(sub).is_some(), "{name} → {sub}");
        }
    }

    /// The maintainer scripts list the EOLE names in shell, as NAME:SUB:
    /// they must be the very names the binary answers to.
    #[test]
    fn maintainer_scripts_list_every_eole_name() {
        for (script, text) in [
            ("postinst", include_str!("../../packaging/debian/postinst")),
            ("prerm", include_str!("../../packaging/debian/prerm")),
        ] {
            let line = text
                .lines()
                .find(|l| l.starts_with("EOLE_NAMES="))
                .unwrap_or_else(|| panic!("no EOLE_NAMES= in {script}"));
            let listed: Vec<&str> = line
                .trim_start_matches("EOLE_NAMES=")
                .trim_matches('"')
                .split_whitespace()
                .collect();
            let want: Vec<String> = EOLE_NAMES.iter().map(|(n, s)| format!("{n}:{s}")).collect();
            assert_eq!(listed, want, "{script}'s EOLE_NAMES");
        }
    }
}
