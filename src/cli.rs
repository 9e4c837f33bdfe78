//! The command line: `conteneur SUBCOMMAND`, and the EOLE command names
//! (`CreoleGet`, `CreoleSet`, `CreoleLint`) when called through a symlink.
//!
//! Exit codes: see [`crate::exit`] (also in `conteneur --help`).

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, EolLock, Problem, ProblemKind, Severity, ValueError};
use crate::dico;
use crate::exit::{EXIT_CODES_HELP, EXIT_PROBLEMS, EXIT_REFUSED, EXIT_USAGE, Failure};
use crate::paths::Paths;

pub mod generate;

/// Declarative containers the EOLE way: Creole dictionaries and config.eol.
#[derive(Debug, Parser)]
#[command(name = "conteneur", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args, Clone, Default)]
pub struct Global {
    /// Prefix for every path conteneur uses (EOLE's defaults below it).
    #[arg(long, global = true, env = "CONTENEUR_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Dictionary folder (repeatable); its local/ and variante/ subfolders
    /// are read too. Default: ROOT/usr/share/eole/creole/dicos.
    #[arg(long = "dicos", global = true, value_name = "DIR")]
    pub dicos: Vec<PathBuf>,
    /// The value file. Default: ROOT/etc/eole/config.eol.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Folder of extra dictionaries (one subfolder per namespace).
    /// Default: ROOT/usr/share/eole/creole/extra.
    #[arg(long, global = true, value_name = "DIR")]
    pub extra: Option<PathBuf>,
    /// Templates folder. Default: ROOT/usr/share/eole/creole/distrib.
    #[arg(long, global = true, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

impl Global {
    pub fn paths(&self) -> Paths {
        let mut p = Paths::new(self.root.as_deref().unwrap_or(Path::new("/")));
        if !self.dicos.is_empty() {
            p.dicos = self.dicos.clone();
        }
        if let Some(c) = &self.config {
            p.config = c.clone();
        }
        if let Some(e) = &self.extra {
            p.extra_dicos = e.clone();
        }
        if let Some(t) = &self.templates {
            p.templates = t.clone();
        }
        p
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a variable's value (a list: one value per line), as CreoleGet.
    Get(GetArgs),
    /// Set a variable, as CreoleSet. The value is checked before anything is written.
    Set(SetArgs),
    /// Check the dictionaries and the values; list every problem.
    Lint(LintArgs),
    /// Render the templates of the active <file>s (CreoleCat -t NAME: one, to stdout).
    Render(crate::template::cli::RenderArgs),
    /// The web front (nginx): start, stop, status, apply the staged site.
    Proxy(crate::proxy::cli::ProxyArgs),
    /// Show what instance/reconfigure would do (pull, create, replace, remove,
    /// leave), and why. Changes nothing.
    Plan(crate::run::cli::PlanArgs),
    /// First configuration of the server: hooks, templates, containers, nginx.
    Instance(crate::run::cli::RunArgs),
    /// Re-apply config.eol: hooks, templates, containers, nginx.
    Reconfigure(crate::run::cli::ReconfigureArgs),
    /// Per container: desired and actual state, image, health, route; and the proxy.
    Status(crate::run::cli::StatusArgs),
    /// Edit config.eol in a terminal, as EOLE's gen_config (also `gen_config`).
    Genconfig(crate::genconfig::GenconfigArgs),
    /// Write the configuration in another tool's format (compose file).
    Export(crate::export::ExportArgs),
    /// Report the containers' state to Redis and node_exporter's textfile
    /// collector, every conteneur_report_interval seconds (the
    /// conteneur-watch service).
    Watch(crate::report::cli::WatchArgs),
    /// Print the containers' state as Prometheus metrics.
    Metrics,
    /// Print the audit trail: who changed what, when.
    Audit(crate::report::cli::AuditArgs),
    /// Print a container's logs, whatever its engine.
    Logs(crate::logs::LogsArgs),
    /// Save each container's volumes and folders into an archive
    /// (conteneur_backup_dir); --list shows the archives.
    Backup(crate::backup::cli::BackupArgs),
    /// Put a container's data back from an archive (checked first).
    Restore(crate::backup::cli::RestoreArgs),
    /// Port forwarding of an LXC container, run by its hooks (internal).
    #[command(hide = true)]
    LxcForward(crate::backend::lxc::ForwardArgs),
    /// Stops and removes the replaced containers whose drain is over (the
    /// drain journal); what conteneur-drain.timer runs every 15 s.
    Drain(DrainArgs),
}

#[derive(Debug, Args)]
pub struct DrainArgs {
    /// A job file of an older conteneur's detached drainer: ignored (its
    /// jobs are read with the journal).
    #[arg(hide = true)]
    pub job: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The variable.
    #[arg(required_unless_present = "list")]
    pub var: Option<String>,
    /// Printed when the variable is unknown or disabled (not when its value
    /// is invalid: that is an error either way).
    pub default: Option<String>,
    /// Print every active variable as name=value.
    #[arg(long, conflicts_with = "var")]
    pub list: bool,
    /// With --list: print one JSON object.
    #[arg(long, requires = "list")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// The variable.
    pub var: String,
    /// The value; several for a multi variable; for a slave, one per index
    /// of its master, in order. An empty string unsets the variable.
    #[arg(required_unless_present = "default", allow_hyphen_values = true)]
    pub values: Vec<String>,
    /// Put the variable back to its default value.
    #[arg(long, conflicts_with = "values")]
    pub default: bool,
    /// The owner recorded in config.eol.
    #[arg(long, default_value = "creoleset")]
    pub owner: String,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Also list what conteneur reads but deliberately does not use.
    #[arg(long, short)]
    pub verbose: bool,
}

/// The EOLE command names the binary answers to when called through a link
/// (argv[0]), and the subcommand each runs. The Debian package installs one
/// link per name (packaging/debian/postinst lists the same names).
pub const EOLE_NAMES: [(&str, &str); 7] = [
    ("CreoleGet", "get"),
    ("CreoleSet", "set"),
    ("CreoleLint", "lint"),
    // CreoleCat -t NAME: render one template to stdout.
    ("CreoleCat", "render"),
    ("instance", "instance"),
    ("reconfigure", "reconfigure"),
    ("gen_config", "genconfig"),
];

/// Rewrites the argument list for the EOLE command names (argv[0]).
pub fn eole_alias(args: Vec<OsString>) -> Vec<OsString> {
    let Some(first) = args.first() else {
        return args;
    };
    let name = Path::new(first)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(&(_, sub)) = EOLE_NAMES.iter().find(|(n, _)| *n == name) else {
        return args;
    };
    let mut out = vec![OsString::from("conteneur"), OsString::from(sub)];
    if sub == "render" {
        out.push(OsString::from("--stdout"));
    }
    out.extend(args.into_iter().skip(1));
    out
}

/// The binary's entry point.
pub fn main() -> ExitCode {
    crate::timing::mark("started");
    let args = eole_alias(std::env::args_os().collect());
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let code = run(cli);
    crate::timing::mark("exit");
    ExitCode::from(code)
}

/// Runs a parsed command and returns its exit code.
pub fn run(cli: Cli) -> u8 {
    let paths = cli.global.paths();
    let audit = audited(&cli.command);
    // A refused `set` may quote the value it refused: its message stays
    // out of the trail.
    let quote_errors = !matches!(cli.command, Command::Set(_));
    let r = match cli.command {
        Command::Get(a) => cmd_get(&paths, a),
        Command::Set(a) => cmd_set(&paths, a),
        Command::Lint(a) => cmd_lint(&paths, a),
        Command::Render(a) => crate::template::cli::run(&paths, a),
        Command::Proxy(a) => crate::proxy::cli::run(&paths, a),
        Command::Plan(a) => crate::run::cli::cmd_plan(&paths, a),
        Command::Instance(a) => crate::run::cli::cmd_run(&paths, crate::run::Mode::Instance, a),
        Command::Reconfigure(a) => crate::run::cli::cmd_reconfigure(&paths, a),
        Command::Status(a) => crate::run::cli::cmd_status(&paths, a),
        Command::Genconfig(a) => crate::genconfig::cmd(&paths, a),
        Command::Export(a) => crate::export::cmd(&paths, a),
        Command::Backup(a) => crate::backup::cli::cmd_backup(&paths, a),
        Command::Restore(a) => crate::backup::cli::cmd_restore(&paths, a),
        Command::LxcForward(a) => Ok(crate::backend::lxc::forward_main(a)),
        Command::Drain(_) => crate::run::cli::cmd_drain(&paths),
        Command::Watch(a) => crate::report::cli::cmd_watch(&paths, a),
        Command::Metrics => crate::report::cli::cmd_metrics(&paths),
        Command::Audit(a) => crate::report::cli::cmd_audit(&paths, a),
        Command::Logs(a) => crate::logs::cmd_logs(&paths, a),
    };
    let code = match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("conteneur: {}", e.message);
            if quote_errors {
                // The first line only: what follows is what a hook or a
                // backup command printed, which may quote anything (a
                // password a hook traced with `set -x`).
                let first = e.message.lines().next().unwrap_or_default();
                crate::audit::note("error", first.to_string());
            }
            e.code
        }
    };
    if let Some(session) = audit {
        session.finish(&paths, code);
    }
    code
}

/// The audit session of a command that changes the server (None for the
/// others), with what is known before it runs: the variable a `set`
/// changes (its name only, never its value).
fn audited(command: &Command) -> Option<crate::audit::Session> {
    let mut changed = serde_json::Map::new();
    let name = match command {
        Command::Set(a) => {
            changed.insert("variables".into(), serde_json::json!([a.var]));
            if a.default {
                changed.insert("reset".into(), serde_json::json!(true));
            }
            "set"
        }
        Command::Instance(_) => "instance",
        Command::Reconfigure(_) => "reconfigure",
        // Listing the archives changes nothing.
        Command::Backup(a) if a.list => return None,
        Command::Backup(a) => {
            changed.insert("containers".into(), serde_json::json!(a.names));
            "backup"
        }
        // A dry run changes nothing.
        Command::Restore(a) if a.dry_run => return None,
        Command::Restore(a) => {
            changed.insert("containers".into(), serde_json::json!([a.name]));
            if let Some(archive) = &a.archive {
                changed.insert("archive".into(), serde_json::json!(archive));
            }
            "restore"
        }
        _ => return None,
    };
    Some(crate::audit::Session::begin(name, changed))
}

fn out(s: &str) {
    // A closed pipe (`CreoleGet --list | head`) is not an error worth a panic.
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
}

fn cmd_get(paths: &Paths, a: GetArgs) -> Result<u8, Failure> {
    let cfg = Config::load(paths)?;
    if a.list {
        let mut text = String::new();
        let mut json = serde_json::Map::new();
        // Variables that need an unsupported function are summed up in one
        // line: one root cause often hides dozens of dependent variables.
        let mut unsupported: Vec<String> = Vec::new();
        let mut skipped = 0usize;
        for (name, v) in cfg.list() {
            // A value Creole would refuse to read is named on stderr, not
            // printed; the others still are.
            let v = v.and_then(|v| cfg.check_value(name, &v).map(|()| v));
            match v {
                Ok(v) => {
                    if a.json {
                        let ty = cfg
                            .variable(name)
                            .map(|v| v.ty)
                            .unwrap_or(dico::VarType::String);
                        json.insert(name.to_string(), v.to_json(ty));
                    } else {
                        text.push_str(&format!("{name}={v}\n"));
                    }
                }
                Err(ValueError::Unsupported { func, .. })
                | Err(ValueError::Python { expr: func, .. }) => {
                    skipped += 1;
                    if !unsupported.contains(&func) {
                        unsupported.push(func);
                    }
                }
                Err(e) => eprintln!("conteneur: {}", unreadable(name, &e)),
            }
        }
        if skipped > 0 {
            eprintln!(
                "conteneur: {skipped} variable(s) not listed: they depend on functions conteneur does not support ({}); `conteneur lint` says where",
                unsupported.join(", ")
            );
        }
        if a.json {
            text = serde_json::to_string_pretty(&json).unwrap_or_default();
            text.push('\n');
        }
        out(&text);
        return Ok(0);
    }
    let Some(var) = a.var else {
        return Err(Failure {
            code: EXIT_USAGE,
            message: "get needs a variable name or --list".into(),
        });
    };
    // DEFAULT stands for a value that is absent (unknown, disabled), not for
    // one that is there but invalid: that one is an error either way, so a
    // script never runs on a value nobody chose without being told.
    match cfg.read(&var) {
        Ok(v) => {
            let mut text = v.to_lines().join("\n");
            text.push('\n');
            out(&text);
            Ok(0)
        }
        Err(
            e @ (ValueError::Unknown { .. }
            | ValueError::NoSuchInstance { .. }
            | ValueError::Disabled { .. }),
        ) => match a.default {
            Some(d) => {
                out(&format!("{d}\n"));
                Ok(0)
            }
            None => {
                eprintln!("conteneur: {e}");
                Ok(EXIT_PROBLEMS)
            }
        },
        Err(e) => {
            eprintln!("conteneur: {}", unreadable(&var, &e));
            Ok(EXIT_PROBLEMS)
        }
    }
}

/// Why `name` cannot be read, naming it when the cause is a variable it
/// reads (a broken declaration leaves its dependents unreadable too).
fn unreadable(name: &str, e: &ValueError) -> String {
    if e.variable() == name {
        e.to_string()
    } else {
        format!("variable '{name}' cannot be read, as it reads another: {e}")
    }
}

fn cmd_set(paths: &Paths, a: SetArgs) -> Result<u8, Failure> {
    // The lock is held from reading to writing, so two concurrent `set`s
    // cannot lose each other's change.
    let lock = EolLock::acquire(&paths.config, true)?;
    let mut cfg = Config::load(paths)?;
    let warnings = if a.default {
        cfg.reset(&a.var)?;
        Vec::new()
    } else {
        cfg.set(&a.var, &a.values, &a.owner)?
    };
    // Dependencies name containers and may not loop: refused here as
    // `lint` and `plan` refuse them.
    if let Some(p) = crate::plan::apps::lint(&cfg)
        .into_iter()
        .chain(crate::backup::lint(&cfg))
        .find(|p| p.variable.as_deref() == Some(a.var.as_str()))
    {
        return Err(Failure {
            code: EXIT_REFUSED,
            message: format!("{}; config.eol was not changed", p.message),
        });
    }
    for w in warnings {
        eprintln!("conteneur: {w}");
    }
    cfg.save(paths, Some(&lock))?;
    Ok(0)
}

fn cmd_lint(paths: &Paths, a: LintArgs) -> Result<u8, Failure> {
    let outcome = dico::load_all(&crate::config::sources(paths));
    let errors = outcome.errors.iter().map(|e| (Severity::Error, e));
    let warnings = outcome.warnings.iter().map(|e| (Severity::Warning, e));
    let mut problems: Vec<Problem> = errors
        .chain(warnings)
        .map(|(severity, e)| Problem {
            severity,
            kind: ProblemKind::Dictionary,
            variable: e.variable.clone(),
            loc: e.loc.clone(),
            message: match (&e.loc, &e.file) {
                (None, Some(f)) => format!("{}: {}", f.display(), e.message),
                _ => e.message.clone(),
            },
        })
        .collect();
    let notices = outcome.dicos.notices.clone();
    match Config::load_values(std::sync::Arc::new(outcome.dicos), paths) {
        Ok(cfg) => {
            problems.extend(cfg.problems());
            problems.extend(crate::template::lint(&cfg, paths));
            problems.extend(crate::plan::lint_types(&cfg));
            problems.extend(crate::plan::lint_nested_mounts(&cfg));
            problems.extend(crate::plan::apps::lint(&cfg));
            problems.extend(crate::backup::lint(&cfg));
        }
        Err(e) => problems.push(Problem {
            severity: Severity::Error,
            kind: ProblemKind::Value,
            variable: None,
            loc: None,
            message: e.to_string(),
        }),
    }
    let mut text = String::new();
    let sections = [
        (ProblemKind::Dictionary, "Dictionaries"),
        (ProblemKind::Unsupported, "Not supported by conteneur"),
        (ProblemKind::Value, "Values"),
        (ProblemKind::Template, "Templates"),
    ];
    for (kind, title) in sections {
        let these: Vec<&Problem> = problems.iter().filter(|p| p.kind == kind).collect();
        if these.is_empty() {
            continue;
        }
        text.push_str(&format!("{title}:\n"));
        for p in these {
            text.push_str(&format!("  {p}\n"));
        }
    }
    if a.verbose && !notices.is_empty() {
        text.push_str("Read but not used:\n");
        for n in &notices {
            text.push_str(&format!("  note: {}: {}\n", n.loc, n.message));
        }
    }
    let errors = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let warnings = problems.len() - errors;
    text.push_str(&format!(
        "lint: {errors} error(s), {warnings} warning(s){}\n",
        if a.verbose || notices.is_empty() {
            String::new()
        } else {
            format!(", {} note(s) (see --verbose)", notices.len())
        }
    ));
    out(&text);
    Ok(if errors > 0 { EXIT_PROBLEMS } else { 0 })
}
