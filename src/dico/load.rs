//! Reading and merging dictionary files.
//!
//! Load order (documented in docs/dictionaries.md): every `*.xml` of a
//! dictionary folder and of its `variante/` and `local/` subfolders, sorted
//! together by file name; on equal names the folder order is main, variante,
//! local. A later file may `redefine` what an earlier one declared, so a
//! site's `variante/` or `local/` dictionary changes a packaged one by giving
//! itself a later name, as on EOLE.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::VarType;
use super::model::*;
use super::xml::{self, Element, LineIndex};

/// A folder of dictionaries, and the namespace its variables live in
/// (`None` for the main `creole` namespace, `Some(ns)` for an extra one).
#[derive(Debug, Clone)]
pub struct Source {
    pub dir: PathBuf,
    pub namespace: Option<String>,
}

/// One problem in a dictionary, with everything needed to fix it.
#[derive(Debug, Clone)]
pub struct DicoError {
    /// File:line:column, when the problem is inside a file.
    pub loc: Option<Location>,
    /// A file-level problem (unreadable file) without a position.
    pub file: Option<PathBuf>,
    /// The variable concerned, when there is one.
    pub variable: Option<String>,
    pub message: String,
}

impl DicoError {
    /// A problem at a place in a file.
    fn at(loc: &Location, variable: Option<&str>, message: String) -> DicoError {
        DicoError {
            loc: Some(loc.clone()),
            file: None,
            variable: variable.map(str::to_string),
            message,
        }
    }
}

impl fmt::Display for DicoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.loc, &self.file) {
            (Some(loc), _) => write!(f, "{loc}: ")?,
            (None, Some(file)) => write!(f, "{}: ", file.display())?,
            (None, None) => {}
        }
        if let Some(var) = &self.variable {
            write!(f, "variable '{var}': ")?;
        }
        f.write_str(&self.message)
    }
}

/// All the problems found in a set of dictionaries.
#[derive(Debug, Clone, thiserror::Error)]
pub struct DicoErrors(pub Vec<DicoError>);

impl fmt::Display for DicoErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} problem{} in the dictionaries:",
            if n == 1 { "" } else { "s" }
        )?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  {e}")?;
        }
        Ok(())
    }
}

/// The dictionaries read so far and every problem met; lint wants both.
///
/// `errors` are fatal: Creole refuses them too, and [`load`] fails. `warnings`
/// are inconsistencies Creole loads anyway (a constraint about a variable no
/// dictionary declares): the constraint is dropped, everything else works,
/// and `lint` shows them (docs/dictionaries.md lists both kinds).
pub struct Outcome {
    pub dicos: Dictionaries,
    pub errors: Vec<DicoError>,
    pub warnings: Vec<DicoError>,
}

/// Loads and merges every dictionary of `sources`; fails with every problem.
pub fn load(sources: &[Source]) -> Result<Dictionaries, DicoErrors> {
    let out = load_all(sources);
    if out.errors.is_empty() {
        Ok(out.dicos)
    } else {
        Err(DicoErrors(out.errors))
    }
}

/// The files of one source, in load order (see the module docs).
pub fn list_files(dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    let mut found: Vec<(String, usize, PathBuf)> = Vec::new();
    for (rank, sub) in ["", "variante", "local"].iter().enumerate() {
        let d = if sub.is_empty() {
            dir.to_path_buf()
        } else {
            dir.join(sub)
        };
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            // Only the main folder must exist; variante/ and local/ are optional.
            Err(e) if rank > 0 && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("xml") || !path.is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            found.push((name, rank, path));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, _, p)| p).collect())
}

/// Loads everything it can and collects every problem rather than stopping
/// at the first: an admin fixing a dictionary wants the whole list.
pub fn load_all(sources: &[Source]) -> Outcome {
    let mut loader = Loader::default();
    for source in sources {
        let files = match list_files(&source.dir) {
            Ok(f) => f,
            Err(e) => {
                loader.errors.push(DicoError {
                    loc: None,
                    file: Some(source.dir.clone()),
                    variable: None,
                    message: format!("cannot read the dictionary folder: {e}"),
                });
                continue;
            }
        };
        for path in files {
            loader.load_file(&path, source.namespace.as_deref());
        }
    }
    loader.finish()
}

/// Parses dictionaries given as (file name, text), in that order, as if they
/// were the only files (tests, fuzzing, benchmarks).
pub fn load_texts(texts: &[(&str, &str)]) -> Outcome {
    let mut loader = Loader::default();
    for (name, text) in texts {
        loader.load_text(text, Arc::from(Path::new(name)), None);
    }
    loader.finish()
}

/// [`load_texts`] for a single file.
pub fn load_str(text: &str, name: &str) -> Outcome {
    load_texts(&[(name, text)])
}

#[derive(Default)]
struct Loader {
    d: Dictionaries,
    errors: Vec<DicoError>,
    warnings: Vec<DicoError>,
}

/// Context while reading one file.
struct FileCtx<'a> {
    file: Arc<Path>,
    lines: LineIndex<'a>,
    ns: Option<&'a str>,
}

impl FileCtx<'_> {
    fn loc(&self, el: &Element) -> Location {
        let (line, col) = self.lines.line_col(el.offset);
        Location {
            file: self.file.clone(),
            line,
            col,
        }
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "True" | "true" | "TRUE" | "1" => Some(true),
        "False" | "false" | "FALSE" | "0" => Some(false),
        _ => None,
    }
}

impl Loader {
    fn err(&mut self, loc: Location, variable: Option<&str>, message: impl Into<String>) {
        self.errors.push(DicoError {
            loc: Some(loc),
            file: None,
            variable: variable.map(str::to_string),
            message: message.into(),
        });
    }

    fn notice(&mut self, loc: Location, message: impl Into<String>) {
        self.d.notices.push(Notice {
            loc,
            message: message.into(),
        });
    }

    fn load_file(&mut self, path: &Path, ns: Option<&str>) {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                self.errors.push(DicoError {
                    loc: None,
                    file: Some(path.to_path_buf()),
                    variable: None,
                    message: format!("cannot read the file: {e}"),
                });
                return;
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let off = e.utf8_error().valid_up_to();
                let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
                let (line, col) = LineIndex::new(&lossy).line_col(off);
                self.err(
                    Location {
                        file: Arc::from(path),
                        line,
                        col,
                    },
                    None,
                    "the file is not valid UTF-8 (dictionaries are UTF-8 XML)",
                );
                return;
            }
        };
        self.load_text(&text, Arc::from(path), ns);
    }

    fn load_text(&mut self, text: &str, file: Arc<Path>, ns: Option<&str>) {
        let ctx = FileCtx {
            file: file.clone(),
            lines: LineIndex::new(text),
            ns,
        };
        self.d.sources.push(file);
        let root = match xml::parse(text) {
            Ok(r) => r,
            Err(e) => {
                let (line, col) = ctx.lines.line_col(e.offset);
                self.err(
                    Location {
                        file: ctx.file.clone(),
                        line,
                        col,
                    },
                    None,
                    format!("malformed XML: {}", e.message),
                );
                return;
            }
        };
        if root.name != "creole" {
            self.err(
                ctx.loc(&root),
                None,
                format!("expected the root element <creole>, found <{}>", root.name),
            );
            return;
        }
        for child in &root.children {
            match child.name.as_str() {
                "files" => self.read_files(&ctx, child),
                "variables" => self.read_variables(&ctx, child),
                "constraints" => self.read_constraints(&ctx, child),
                "help" => self.read_help(&ctx, child),
                "containers" => self.notice(
                    ctx.loc(child),
                    "<containers> (EOLE's old container mode) is not used by conteneur",
                ),
                other => self.notice(
                    ctx.loc(child),
                    format!("unknown element <{other}> in <creole> is ignored"),
                ),
            }
        }
    }

    /// The full name of a variable declared in namespace `ns`.
    fn full_name(ns: Option<&str>, family: &str, name: &str) -> String {
        match ns {
            Some(ns) => format!("{ns}.{family}.{name}"),
            None => name.to_string(),
        }
    }

    fn unknown_attrs(&mut self, ctx: &FileCtx<'_>, el: &Element, known: &[&str]) {
        for (k, _) in &el.attrs {
            if !known.contains(&k.as_str()) {
                let loc = ctx.loc(el);
                self.notice(
                    loc,
                    format!("attribute '{k}' of <{}> is not used by conteneur", el.name),
                );
            }
        }
    }

    fn bool_attr(
        &mut self,
        ctx: &FileCtx<'_>,
        el: &Element,
        name: &str,
        var: Option<&str>,
    ) -> Option<bool> {
        let v = el.attr(name)?;
        match parse_bool(v) {
            Some(b) => Some(b),
            None => {
                self.err(
                    ctx.loc(el),
                    var,
                    format!("attribute '{name}' must be True or False, found '{v}'"),
                );
                None
            }
        }
    }

    fn read_files(&mut self, ctx: &FileCtx<'_>, el: &Element) {
        for child in &el.children {
            match child.name.as_str() {
                "file" => self.read_file_decl(ctx, child),
                "service" => {
                    self.unknown_attrs(
                        ctx,
                        child,
                        &[
                            "servicelist",
                            "method",
                            "redefine",
                            "startlevel",
                            "stoplevel",
                            "in_container",
                        ],
                    );
                    let name = child.text.trim().to_string();
                    let svc = ServiceDecl {
                        name: name.clone(),
                        servicelist: child.attr("servicelist").map(str::to_string),
                        method: child.attr("method").map(str::to_string),
                        loc: ctx.loc(child),
                    };
                    if name.is_empty() {
                        self.err(ctx.loc(child), None, "<service> has no service name");
                        continue;
                    }
                    let redefine = self
                        .bool_attr(ctx, child, "redefine", None)
                        .unwrap_or(false);
                    match self.d.services.iter_mut().find(|s| s.name == name) {
                        Some(old) if redefine => *old = svc,
                        _ => self.d.services.push(svc),
                    }
                }
                "service_access"
                | "service_restriction"
                | "host"
                | "fstab"
                | "package"
                | "interface" => self.notice(
                    ctx.loc(child),
                    format!(
                        "<{}> (EOLE firewall or system setting) is not used by conteneur",
                        child.name
                    ),
                ),
                other => self.notice(
                    ctx.loc(child),
                    format!("unknown element <{other}> in <files> is ignored"),
                ),
            }
        }
    }

    fn read_file_decl(&mut self, ctx: &FileCtx<'_>, el: &Element) {
        self.unknown_attrs(
            ctx,
            el,
            &[
                "name",
                "source",
                "mode",
                "owner",
                "group",
                "mkdir",
                "rm",
                "filelist",
                "name_type",
                "redefine",
                "instance_mode",
                "del_comment",
                "engine",
                "included",
            ],
        );
        let loc = ctx.loc(el);
        let Some(name) = el.attr("name").filter(|n| !n.trim().is_empty()) else {
            self.err(loc, None, "<file> has no 'name' (its destination)");
            return;
        };
        let source = match el.attr("source") {
            Some(s) if !s.trim().is_empty() => s.to_string(),
            _ => name.rsplit('/').next().unwrap_or(name).to_string(),
        };
        let mode = match el.attr("mode") {
            None => None,
            Some(m) => match u32::from_str_radix(m.trim(), 8) {
                Ok(v) if v <= 0o7777 => Some(v),
                _ => {
                    self.err(
                        loc.clone(),
                        None,
                        format!("<file name='{name}'>: mode must be octal like 0644, found '{m}'"),
                    );
                    None
                }
            },
        };
        let decl = FileDecl {
            name: name.to_string(),
            source,
            mode,
            owner: el.attr("owner").map(str::to_string),
            group: el.attr("group").map(str::to_string),
            mkdir: self.bool_attr(ctx, el, "mkdir", None).unwrap_or(false),
            rm: self.bool_attr(ctx, el, "rm", None).unwrap_or(false),
            filelist: el.attr("filelist").map(str::to_string),
            name_from_variable: el.attr("name_type") == Some("SymLinkOption"),
            loc,
        };
        let redefine = self.bool_attr(ctx, el, "redefine", None).unwrap_or(false);
        match self.d.files.iter_mut().find(|f| f.name == decl.name) {
            Some(old) if redefine => *old = decl,
            Some(old) => {
                let first = old.loc.clone();
                self.err(
                    decl.loc,
                    None,
                    format!(
                        "file '{}' is declared twice (first at {first}); use redefine=\"True\" to change it",
                        decl.name
                    ),
                );
            }
            None => self.d.files.push(decl),
        }
    }

    fn read_variables(&mut self, ctx: &FileCtx<'_>, el: &Element) {
        for child in &el.children {
            match child.name.as_str() {
                "family" => self.read_family(ctx, child),
                "separators" => {
                    for sep in &child.children {
                        if sep.name != "separator" {
                            continue;
                        }
                        match sep.attr("name") {
                            Some(var) => {
                                let full = self.resolve_ref(ctx.ns, var);
                                self.d.separators.insert(full, sep.text.trim().to_string());
                            }
                            None => self.err(ctx.loc(sep), None, "<separator> has no 'name'"),
                        }
                    }
                }
                other => self.notice(
                    ctx.loc(child),
                    format!("unknown element <{other}> in <variables> is ignored"),
                ),
            }
        }
    }

    fn read_family(&mut self, ctx: &FileCtx<'_>, el: &Element) {
        self.unknown_attrs(
            ctx,
            el,
            &["name", "mode", "hidden", "icon", "dynamic", "description"],
        );
        let loc = ctx.loc(el);
        let Some(raw_name) = el.attr("name").filter(|n| !n.trim().is_empty()) else {
            self.err(loc, None, "<family> has no 'name'");
            return;
        };
        let fname = match ctx.ns {
            Some(ns) => format!("{ns}.{raw_name}"),
            None => raw_name.to_string(),
        };
        let mode = match el.attr("mode").map(|m| (m, Mode::from_name(m))) {
            None => Mode::Normal,
            Some((_, Some(m))) => m,
            Some((m, None)) => {
                self.err(
                    loc.clone(),
                    None,
                    format!("family '{fname}': mode must be basic, normal or expert, found '{m}'"),
                );
                Mode::Normal
            }
        };
        let hidden = self.bool_attr(ctx, el, "hidden", None).unwrap_or(false);
        let dynamic = el.attr("dynamic").map(|v| self.resolve_ref(ctx.ns, v));
        if dynamic.is_some() && !fname.contains(DYNAMIC_PLACEHOLDER) {
            self.err(
                loc.clone(),
                None,
                format!("dynamic family '{fname}' must hold {DYNAMIC_PLACEHOLDER} in its name"),
            );
        }
        let fam = self
            .d
            .families
            .entry(fname.clone())
            .or_insert_with(|| Family {
                name: fname.clone(),
                mode,
                hidden,
                icon: el.attr("icon").map(str::to_string),
                variables: Vec::new(),
                dynamic: dynamic.clone(),
                loc: loc.clone(),
            });
        if fam.icon.is_none() {
            fam.icon = el.attr("icon").map(str::to_string);
        }
        if el.attr("mode").is_some() {
            fam.mode = mode;
        }
        if el.attr("hidden").is_some() {
            fam.hidden = hidden;
        }
        let is_dynamic = fam.dynamic.is_some();
        for child in &el.children {
            if child.name == "variable" {
                self.read_variable(ctx, child, &fname, raw_name, is_dynamic);
            } else {
                self.notice(
                    ctx.loc(child),
                    format!("unknown element <{}> in a family is ignored", child.name),
                );
            }
        }
    }

    fn read_variable(
        &mut self,
        ctx: &FileCtx<'_>,
        el: &Element,
        family: &str,
        raw_family: &str,
        dynamic: bool,
    ) {
        self.unknown_attrs(
            ctx,
            el,
            &[
                "name",
                "type",
                "description",
                "mode",
                "mandatory",
                "hidden",
                "multi",
                "redefine",
                "exists",
                "auto_freeze",
                "auto_save",
                "remove_condition",
                "remove_check",
                "disabled",
                "never_hidden",
                "submulti",
            ],
        );
        let loc = ctx.loc(el);
        let Some(raw) = el.attr("name").filter(|n| !n.trim().is_empty()) else {
            self.err(loc, None, "<variable> has no 'name'");
            return;
        };
        let name = Self::full_name(ctx.ns, raw_family, raw);
        let var = Some(name.as_str());
        if dynamic != name.contains(DYNAMIC_PLACEHOLDER) {
            let msg = if dynamic {
                format!(
                    "a variable of a dynamic family must hold {DYNAMIC_PLACEHOLDER} in its name"
                )
            } else {
                format!(
                    "{DYNAMIC_PLACEHOLDER} may only appear in the names of a dynamic family's variables"
                )
            };
            self.err(loc.clone(), var, msg);
            return;
        }
        let ty = match el.attr("type") {
            None => None,
            Some(t) => match VarType::from_name(t) {
                Some(ty) => Some(ty),
                None => {
                    let known: Vec<&str> = VarType::all().iter().map(|t| t.name()).collect();
                    self.err(
                        loc.clone(),
                        var,
                        format!("unknown type '{t}'; expected one of: {}", known.join(", ")),
                    );
                    return;
                }
            },
        };
        let mode = match el.attr("mode") {
            None => None,
            Some(m) => match Mode::from_name(m) {
                Some(m) => Some(m),
                None => {
                    self.err(
                        loc.clone(),
                        var,
                        format!("mode must be basic, normal or expert, found '{m}'"),
                    );
                    None
                }
            },
        };
        let b = |s: &mut Self, attr: &str| s.bool_attr(ctx, el, attr, var);
        let mandatory = b(self, "mandatory");
        let hidden = b(self, "hidden");
        let multi = b(self, "multi");
        let disabled = b(self, "disabled");
        let auto_freeze = b(self, "auto_freeze");
        let auto_save = b(self, "auto_save");
        let redefine = b(self, "redefine").unwrap_or(false);
        let exists = b(self, "exists").unwrap_or(true);
        let remove_condition = b(self, "remove_condition").unwrap_or(false);
        let remove_check = b(self, "remove_check").unwrap_or(false);
        let mut values = Vec::new();
        for child in &el.children {
            if child.name == "value" {
                values.push(child.text.clone());
            } else {
                self.notice(
                    ctx.loc(child),
                    format!(
                        "unknown element <{}> in variable '{name}' is ignored",
                        child.name
                    ),
                );
            }
        }

        let existing = self.d.variables.contains_key(&name);
        if redefine {
            if !existing {
                if !exists {
                    // redefine + exists="False": change it only if some
                    // package declared it; nothing to do otherwise.
                    return;
                }
                self.err(
                    loc,
                    var,
                    "redefine=\"True\" but no earlier dictionary declares this variable",
                );
                return;
            }
            if let Some(v) = self.d.variables.get_mut(&name) {
                if let Some(ty) = ty {
                    v.ty = ty;
                }
                if let Some(d) = el.attr("description") {
                    v.description = d.to_string();
                }
                if let Some(m) = mode {
                    v.mode = m;
                }
                if let Some(x) = mandatory {
                    v.mandatory = x;
                }
                if let Some(x) = hidden {
                    v.hidden = x;
                }
                if let Some(x) = multi {
                    v.multi = x;
                }
                if let Some(x) = disabled {
                    v.disabled = x;
                }
                if let Some(x) = auto_freeze {
                    v.auto_freeze = x;
                }
                if let Some(x) = auto_save {
                    v.auto_save = x;
                }
                if !values.is_empty() {
                    v.defaults = values;
                }
            }
            if remove_condition {
                self.remove_conditions_on(&name);
            }
            if remove_check {
                self.d.checks.retain(|c| c.target != name);
            }
            return;
        }
        if existing {
            if !exists {
                return;
            }
            let first = self
                .d
                .variables
                .get(&name)
                .map(|v| v.loc.to_string())
                .unwrap_or_default();
            self.err(
                loc,
                var,
                format!(
                    "declared twice (first at {first}); a later dictionary changes a variable with redefine=\"True\""
                ),
            );
            return;
        }
        if remove_condition || remove_check {
            self.notice(
                loc.clone(),
                format!("variable '{name}': remove_condition/remove_check only act with redefine=\"True\""),
            );
        }
        let v = Variable {
            name: name.clone(),
            ty: ty.unwrap_or(VarType::String),
            description: el.attr("description").unwrap_or_default().to_string(),
            mode: mode.unwrap_or_default(),
            mandatory: mandatory.unwrap_or(false),
            hidden: hidden.unwrap_or(false),
            multi: multi.unwrap_or(false),
            disabled: disabled.unwrap_or(false),
            auto_freeze: auto_freeze.unwrap_or(false),
            auto_save: auto_save.unwrap_or(false),
            defaults: values,
            family: family.to_string(),
            dynamic,
            template: None,
            loc,
        };
        self.d.variables.insert(name.clone(), v);
        if let Some(f) = self.d.families.get_mut(family) {
            f.variables.push(name);
        }
    }

    /// `remove_condition`: drop the target from every condition declared so
    /// far; a condition left with no target goes.
    fn remove_conditions_on(&mut self, name: &str) {
        for c in &mut self.d.conditions {
            c.targets
                .retain(|t| !(t.kind == TargetKind::Variable && t.name == name));
        }
        self.d.conditions.retain(|c| !c.targets.is_empty());
    }

    /// Resolves a variable reference made in namespace `ns`. A dotted name is
    /// already a full path (`schedule.fam.day`) and a bare name is a variable
    /// of the main namespace, as in EOLE's extra dictionaries, so `ns` only
    /// documents where the reference was made.
    fn resolve_ref(&self, _ns: Option<&str>, name: &str) -> String {
        name.trim().to_string()
    }

    fn read_params(&mut self, ctx: &FileCtx<'_>, el: &Element, owner: &str) -> Vec<Param> {
        let mut params = Vec::new();
        for p in &el.children {
            if p.name != "param" {
                self.notice(
                    ctx.loc(p),
                    format!("unknown element <{}> in {owner} is ignored", p.name),
                );
                continue;
            }
            self.unknown_attrs(ctx, p, &["type", "name", "optional", "hidden"]);
            let loc = ctx.loc(p);
            let text = p.text.trim();
            let value = match p.attr("type") {
                None | Some("string") => ParamValue::Text(p.text.clone()),
                Some("eole") => ParamValue::Variable(self.resolve_ref(ctx.ns, text)),
                Some("number") => {
                    match text.parse::<i64>() {
                        Ok(n) => ParamValue::Number(n),
                        Err(_) => {
                            self.err(
                            loc,
                            None,
                            format!("{owner}: a number parameter must be a whole number, found '{text}'"),
                        );
                            continue;
                        }
                    }
                }
                Some("python") => ParamValue::Python(text.to_string()),
                Some(other) => {
                    self.err(
                        loc,
                        None,
                        format!(
                            "{owner}: unknown parameter type '{other}'; expected eole, number, python or none"
                        ),
                    );
                    continue;
                }
            };
            let optional = self.bool_attr(ctx, p, "optional", None).unwrap_or(false);
            let read_disabled = self
                .bool_attr(ctx, p, "hidden", None)
                .map(|h| !h)
                .unwrap_or(false);
            params.push(Param {
                name: p.attr("name").map(str::to_string),
                value,
                optional,
                read_disabled,
                loc,
            });
        }
        params
    }

    fn read_constraints(&mut self, ctx: &FileCtx<'_>, el: &Element) {
        for c in &el.children {
            let loc = ctx.loc(c);
            match c.name.as_str() {
                "fill" | "auto" => {
                    self.unknown_attrs(ctx, c, &["name", "target"]);
                    let (Some(func), Some(target)) = (c.attr("name"), c.attr("target")) else {
                        self.err(
                            loc,
                            None,
                            format!("<{}> needs both 'name' and 'target'", c.name),
                        );
                        continue;
                    };
                    let target = self.resolve_ref(ctx.ns, target);
                    let kind = if c.name == "fill" {
                        CalcKind::Fill
                    } else {
                        CalcKind::Auto
                    };
                    let params = self.read_params(ctx, c, &format!("<{} name='{func}'>", c.name));
                    if let Some(old) = self.d.calcs.get(&target) {
                        let first = old.loc.clone();
                        self.err(
                            loc,
                            Some(&target),
                            format!("has a second <fill>/<auto> (the first is at {first})"),
                        );
                        continue;
                    }
                    self.d.calcs.insert(
                        target.clone(),
                        Calc {
                            kind,
                            func: func.to_string(),
                            target,
                            params,
                            loc,
                        },
                    );
                }
                "check" => {
                    self.unknown_attrs(ctx, c, &["name", "target", "level"]);
                    let (Some(func), Some(target)) = (c.attr("name"), c.attr("target")) else {
                        self.err(loc, None, "<check> needs both 'name' and 'target'");
                        continue;
                    };
                    let level = match c.attr("level") {
                        None | Some("error") => Level::Error,
                        Some("warning") => Level::Warning,
                        Some(other) => {
                            self.err(
                                loc,
                                Some(target),
                                format!("check level must be error or warning, found '{other}'"),
                            );
                            continue;
                        }
                    };
                    let target = self.resolve_ref(ctx.ns, target);
                    let params = self.read_params(ctx, c, &format!("<check name='{func}'>"));
                    self.d.checks.push(Check {
                        func: func.to_string(),
                        target,
                        params,
                        level,
                        loc,
                    });
                }
                "condition" => self.read_condition(ctx, c),
                "group" => {
                    self.unknown_attrs(ctx, c, &["master"]);
                    let Some(master) = c.attr("master") else {
                        self.err(loc, None, "<group> has no 'master'");
                        continue;
                    };
                    let master = self.resolve_ref(ctx.ns, master);
                    let slaves: Vec<String> = c
                        .children
                        .iter()
                        .filter(|s| s.name == "slave")
                        .map(|s| self.resolve_ref(ctx.ns, &s.text))
                        .collect();
                    if slaves.is_empty() {
                        self.err(loc, Some(&master), "<group> has no <slave>");
                        continue;
                    }
                    if let Some(old) = self.d.groups.get(&master) {
                        let first = old.loc.clone();
                        self.err(
                            loc,
                            Some(&master),
                            format!("is the master of a second <group> (the first is at {first})"),
                        );
                        continue;
                    }
                    self.d.groups.insert(
                        master.clone(),
                        Group {
                            master,
                            slaves,
                            loc,
                        },
                    );
                }
                other => self.notice(loc, format!("unknown constraint <{other}> is ignored")),
            }
        }
    }

    fn read_condition(&mut self, ctx: &FileCtx<'_>, c: &Element) {
        self.unknown_attrs(ctx, c, &["name", "source", "fallback"]);
        let loc = ctx.loc(c);
        let (Some(kind_name), Some(source)) = (c.attr("name"), c.attr("source")) else {
            self.err(loc, None, "<condition> needs both 'name' and 'source'");
            return;
        };
        let Some(kind) = CondKind::from_name(kind_name) else {
            self.err(
                loc,
                None,
                format!(
                    "unknown condition '{kind_name}'; expected disabled_if_in, disabled_if_not_in, \
                     hidden_if_in, hidden_if_not_in, frozen_if_in, frozen_if_not_in, \
                     mandatory_if_in or mandatory_if_not_in"
                ),
            );
            return;
        };
        let fallback = self.bool_attr(ctx, c, "fallback", None).unwrap_or(false);
        let mut values = Vec::new();
        let mut targets = Vec::new();
        for p in &c.children {
            match p.name.as_str() {
                "param" => {
                    // Condition values are literals; an empty param is None.
                    if p.attr("type").is_some_and(|t| t != "string") {
                        self.notice(
                            ctx.loc(p),
                            "a typed <param> in a condition is compared as text",
                        );
                    }
                    let t = p.text.trim();
                    values.push(if t.is_empty() {
                        None
                    } else {
                        Some(t.to_string())
                    });
                }
                "target" => {
                    self.unknown_attrs(ctx, p, &["type", "optional"]);
                    let kind = match p.attr("type").unwrap_or("variable") {
                        "variable" => TargetKind::Variable,
                        "family" => TargetKind::Family,
                        "filelist" => TargetKind::Filelist,
                        "servicelist" => TargetKind::Servicelist,
                        other => TargetKind::Other(other.to_string()),
                    };
                    let name = p.text.trim();
                    if name.is_empty() {
                        self.err(ctx.loc(p), None, "<target> is empty");
                        continue;
                    }
                    let name = match kind {
                        TargetKind::Variable => self.resolve_ref(ctx.ns, name),
                        TargetKind::Family => match ctx.ns {
                            Some(ns) if !name.contains('.') => format!("{ns}.{name}"),
                            _ => name.to_string(),
                        },
                        _ => name.to_string(),
                    };
                    let optional = self.bool_attr(ctx, p, "optional", None).unwrap_or(false);
                    targets.push(Target {
                        kind,
                        name,
                        optional,
                        loc: ctx.loc(p),
                    });
                }
                other => self.notice(
                    ctx.loc(p),
                    format!("unknown element <{other}> in a condition is ignored"),
                ),
            }
        }
        if targets.is_empty() {
            self.err(
                loc,
                None,
                format!("<condition name='{kind_name}' source='{source}'> has no <target>"),
            );
            return;
        }
        self.d.conditions.push(Condition {
            kind,
            source: self.resolve_ref(ctx.ns, source),
            values,
            targets,
            fallback,
            loc,
        });
    }

    fn read_help(&mut self, ctx: &FileCtx<'_>, el: &Element) {
        for h in &el.children {
            let Some(name) = h.attr("name") else {
                self.err(
                    ctx.loc(h),
                    None,
                    format!("<{}> in <help> has no 'name'", h.name),
                );
                continue;
            };
            let text = h.text.trim().to_string();
            match h.name.as_str() {
                "variable" => {
                    let full = self.resolve_ref(ctx.ns, name);
                    self.d.help_variables.insert(full, text);
                }
                "family" => {
                    let full = match ctx.ns {
                        Some(ns) => format!("{ns}.{name}"),
                        None => name.to_string(),
                    };
                    self.d.help_families.insert(full, text);
                }
                other => self.notice(
                    ctx.loc(h),
                    format!("unknown element <{other}> in <help> is ignored"),
                ),
            }
        }
    }

    /// Drops the constraints about variables (or families) that no
    /// dictionary declares, with a warning for each.
    ///
    /// Creole's loader keeps `<fill>`, `<auto>`, `<check>` and `<group>` by
    /// the variable they apply to, and builds them when it builds that
    /// variable: one about an undeclared variable is never built, and the
    /// server runs. A real module ships such leftovers (a `<group>` whose
    /// master and slaves another package used to declare), so refusing them
    /// would refuse a configuration Creole runs in production.
    fn drop_dangling(&mut self) {
        let mut warnings = Vec::new();
        let mut warn = |loc: &Location, var: Option<&str>, msg: String| {
            warnings.push(DicoError::at(loc, var, msg));
        };
        let d = &mut self.d;
        let vars = &d.variables;
        d.calcs.retain(|target, calc| {
            let keep = vars.contains_key(target);
            if !keep {
                warn(
                    &calc.loc,
                    Some(target),
                    format!(
                        "<{} name='{}'> is ignored: no dictionary declares its target",
                        calc.kind.element(),
                        calc.func
                    ),
                );
            }
            keep
        });
        d.checks.retain(|check| {
            let keep = vars.contains_key(&check.target);
            if !keep {
                warn(
                    &check.loc,
                    Some(&check.target),
                    format!(
                        "<check name='{}'> is ignored: no dictionary declares its target",
                        check.func
                    ),
                );
            }
            keep
        });
        let families = &d.families;
        d.conditions.retain_mut(|cond| {
            let what = format!(
                "<condition name='{}' source='{}'>",
                cond.kind.name(),
                cond.source
            );
            cond.targets.retain(|t| {
                let (known, kind) = match &t.kind {
                    TargetKind::Variable => (vars.contains_key(&t.name), "variable"),
                    TargetKind::Family => (families.contains_key(&t.name), "family"),
                    // A filelist or servicelist with no member is legal: the
                    // package that fills it may not be installed.
                    _ => (true, ""),
                };
                // An optional target is expected to be missing: no warning.
                if !known && !t.optional {
                    warn(
                        &t.loc,
                        (t.kind == TargetKind::Variable).then_some(t.name.as_str()),
                        format!(
                            "{what}: its target, the {kind} '{}', is ignored: no dictionary declares it",
                            t.name
                        ),
                    );
                }
                known || t.optional
            });
            !cond.targets.is_empty()
        });
        d.groups.retain(|master, g| {
            if !vars.contains_key(master) {
                warn(
                    &g.loc,
                    Some(master),
                    format!(
                        "<group> is ignored: no dictionary declares its master (its slaves: {})",
                        g.slaves.join(", ")
                    ),
                );
                return false;
            }
            g.slaves.retain(|s| {
                let known = vars.contains_key(s);
                if !known {
                    warn(
                        &g.loc,
                        Some(s),
                        format!("slave of group '{master}' is ignored: no dictionary declares it"),
                    );
                }
                known
            });
            if g.slaves.is_empty() {
                warn(
                    &g.loc,
                    Some(master),
                    "<group> is ignored: none of its slaves is declared".into(),
                );
            }
            !g.slaves.is_empty()
        });
        self.warnings.extend(warnings);
    }

    /// Cross-file consistency, once every file is merged.
    fn finish(mut self) -> Outcome {
        self.drop_dangling();
        let vars: HashSet<&str> = self.d.variables.keys().map(String::as_str).collect();
        let mut errors = Vec::new();
        let mut push = |loc: &Location, var: Option<&str>, msg: String| {
            errors.push(DicoError::at(loc, var, msg));
        };

        let check_params =
            |params: &[Param],
             what: &str,
             push: &mut dyn FnMut(&Location, Option<&str>, String)| {
                for p in params {
                    if let ParamValue::Variable(v) = &p.value
                        && !p.optional
                        && !vars.contains(v.as_str())
                    {
                        push(
                            &p.loc,
                            Some(v),
                            format!(
                                "{what} reads this variable, which no dictionary declares (mark the parameter optional=\"True\" if it may be absent)"
                            ),
                        );
                    }
                }
            };

        for calc in self.d.calcs.values() {
            let what = format!(
                "<{} name='{}' target='{}'>",
                calc.kind.element(),
                calc.func,
                calc.target
            );
            check_params(&calc.params, &what, &mut push);
        }
        for check in &self.d.checks {
            let what = format!("<check name='{}' target='{}'>", check.func, check.target);
            check_params(&check.params, &what, &mut push);
        }
        for cond in &self.d.conditions {
            let what = format!(
                "<condition name='{}' source='{}'>",
                cond.kind.name(),
                cond.source
            );
            if !cond.fallback && !vars.contains(cond.source.as_str()) {
                push(
                    &cond.loc,
                    Some(&cond.source),
                    format!(
                        "{what}: the source variable is not declared by any dictionary (add fallback=\"True\" if it may be absent)"
                    ),
                );
            }
        }
        let mut slave_of: HashMap<&str, &str> = HashMap::new();
        for g in self.d.groups.values() {
            match self.d.variables.get(&g.master) {
                None => {}
                Some(m) if !m.multi => push(
                    &g.loc,
                    Some(&g.master),
                    "<group> master must be a multi variable (multi=\"True\"), so that its slaves have one value per index".into(),
                ),
                Some(_) => {}
            }
            for s in &g.slaves {
                if s == &g.master {
                    push(&g.loc, Some(s), "a variable cannot be its own slave".into());
                }
                if let Some(other) = slave_of.insert(s.as_str(), g.master.as_str()) {
                    push(
                        &g.loc,
                        Some(s),
                        format!("is a slave of two groups ('{other}' and '{}')", g.master),
                    );
                }
                if self.d.groups.contains_key(s) {
                    push(
                        &g.loc,
                        Some(s),
                        "a slave cannot itself be the master of a group".into(),
                    );
                }
            }
        }
        for f in self.d.families.values() {
            if let Some(count) = &f.dynamic {
                match self.d.variables.get(count) {
                    None => push(
                        &f.loc,
                        Some(count),
                        format!(
                            "dynamic family '{}' counts its instances with this variable, which no dictionary declares",
                            f.name
                        ),
                    ),
                    Some(v) if v.dynamic || v.multi || !v.ty.is_number() => push(
                        &f.loc,
                        Some(count),
                        format!(
                            "dynamic family '{}' needs a single 'number' variable outside any dynamic family to count its instances",
                            f.name
                        ),
                    ),
                    Some(_) => {}
                }
            }
        }
        // A dynamic variable may only be referred to from a constraint that
        // is itself about dynamic variables: `{X}` needs a value.
        self.errors.extend(errors);
        Outcome {
            dicos: self.d,
            errors: self.errors,
            warnings: self.warnings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(xml: &str) -> Dictionaries {
        let out = load_str(xml, "t.xml");
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        out.dicos
    }

    fn errs(xml: &str) -> Vec<String> {
        load_str(xml, "t.xml")
            .errors
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn empty_creole_is_valid() {
        let d = ok("<creole/>");
        assert!(d.variables.is_empty());
        ok("<?xml version='1.0' encoding='utf-8'?>\n<creole></creole>");
    }

    #[test]
    fn reads_a_variable_with_defaults_and_family() {
        let d = ok(r#"<creole><variables><family name='général' mode='expert'>
            <variable name='v' type='number' description='D' mandatory='True' multi='True'>
              <value>1</value><value>2</value></variable></family></variables></creole>"#);
        let v = &d.variables["v"];
        assert_eq!(v.defaults, vec!["1", "2"]);
        assert!(v.multi && v.mandatory);
        assert_eq!(v.family, "général");
        assert_eq!(d.families["général"].mode, Mode::Expert);
        assert_eq!(v.loc.line, 2);
    }

    #[test]
    fn malformed_xml_points_at_line_and_column() {
        let e = errs("<creole>\n  <variables>\n    <family name='a'>\n  </variables>\n</creole>");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("t.xml:4:"), "{}", e[0]);
    }

    #[test]
    fn bad_type_names_the_variable_and_the_type() {
        let e = errs(
            "<creole><variables><family name='f'><variable name='v' type='ipv9'/></family></variables></creole>",
        );
        assert!(
            e[0].contains("variable 'v'") && e[0].contains("'ipv9'"),
            "{}",
            e[0]
        );
    }

    /// What a declared variable reads must exist (Creole's `fallback` and
    /// `optional` say when it may not); a constraint about an undeclared
    /// variable is dropped with a warning, as Creole never builds it.
    #[test]
    fn unknown_references_read_are_errors_unknown_targets_warnings() {
        let out = load_str(
            "<creole><variables><family name='f'><variable name='v'/></family></variables>
             <constraints>
               <check name='valid_enum' target='nope'><param>['a']</param></check>
               <condition name='disabled_if_in' source='ghost'><param>a</param><target>v</target></condition>
               <condition name='hidden_if_in' source='v'><param>a</param><target>w</target></condition>
               <fill name='calc_val' target='v'><param type='eole'>missing</param></fill>
               <fill name='calc_val' target='gone'><param type='eole'>missing_too</param></fill>
             </constraints></creole>",
            "t.xml",
        );
        let text = |v: &[DicoError]| v.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        let (e, w) = (text(&out.errors), text(&out.warnings));
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e.iter().any(|m| m.contains("'ghost'")));
        assert!(e.iter().any(|m| m.contains("'missing'")));
        assert_eq!(w.len(), 3, "{w:#?}");
        assert!(
            w.iter()
                .any(|m| m.starts_with("t.xml:3:16: variable 'nope'")),
            "{w:#?}"
        );
        assert!(w.iter().any(|m| m.contains("'w'")));
        assert!(w.iter().any(|m| m.contains("'gone'")));
        // The dropped constraints are gone from the model.
        assert!(out.dicos.checks.is_empty());
        assert_eq!(out.dicos.conditions.len(), 1);
        assert!(!out.dicos.calcs.contains_key("gone"));
    }

    /// The field case: a `<group>` whose master and slaves no dictionary
    /// declares loads, with a warning, and leaves no group behind.
    #[test]
    fn group_of_undeclared_variables_is_a_warning() {
        let out = load_str(
            "<creole><variables><family name='f'>
               <variable name='m' multi='True'/><variable name='s1'/></family></variables>
             <constraints>
               <group master='ghost_master'><slave>ghost_a</slave><slave>ghost_b</slave></group>
               <group master='m'><slave>s1</slave><slave>ghost_c</slave></group>
             </constraints></creole>",
            "t.xml",
        );
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let w: Vec<String> = out.warnings.iter().map(|e| e.to_string()).collect();
        assert_eq!(w.len(), 2, "{w:#?}");
        assert!(
            w[0].starts_with("t.xml:4:16: variable 'ghost_master': <group> is ignored"),
            "{w:?}"
        );
        assert!(w[0].contains("ghost_a, ghost_b"), "{w:?}");
        assert!(
            w[1].starts_with("t.xml:5:16: variable 'ghost_c': slave of group 'm'"),
            "{w:?}"
        );
        assert_eq!(out.dicos.groups.len(), 1);
        assert_eq!(out.dicos.groups["m"].slaves, ["s1"]);
    }

    #[test]
    fn fallback_and_optional_accept_missing_variables() {
        ok("<creole><variables><family name='f'><variable name='v'/></family></variables>
             <constraints>
               <condition name='disabled_if_in' source='ghost' fallback='True'><param>a</param><target>v</target></condition>
               <condition name='disabled_if_in' source='v'><param>a</param><target optional='True'>w</target></condition>
               <fill name='calc_val' target='v'><param type='eole' optional='True'>missing</param></fill>
             </constraints></creole>");
    }

    #[test]
    fn slave_of_a_non_multi_master_is_an_error() {
        let e = errs("<creole><variables><family name='f'><variable name='m'/><variable name='s'/></family></variables>
             <constraints><group master='m'><slave>s</slave></group></constraints></creole>");
        assert!(
            e[0].contains("variable 'm'") && e[0].contains("multi"),
            "{e:?}"
        );
    }

    #[test]
    fn unknown_condition_kind_is_an_error() {
        let e = errs("<creole><variables><family name='f'><variable name='v'/></family></variables>
             <constraints><condition name='vanish_if_in' source='v'><param>a</param><target>v</target></condition></constraints></creole>");
        assert!(e[0].contains("vanish_if_in"));
    }

    #[test]
    fn extra_namespace_prefixes_names() {
        let mut l = Loader::default();
        l.load_text(
            "<creole><variables><family name='fam'><variable name='day' type='string'/></family></variables>
             <constraints><fill name='calc_val' target='sched.fam.day'><param>x</param></fill></constraints></creole>",
            Arc::from(Path::new("e.xml")),
            Some("sched"),
        );
        let out = l.finish();
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert!(out.dicos.variables.contains_key("sched.fam.day"));
        assert!(out.dicos.families.contains_key("sched.fam"));
    }
}
