//! The dictionary model: what a set of Creole dictionaries declares once all
//! files are merged. It is plain data; values and their evaluation belong to
//! the `config` module.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;

use super::VarType;

/// Where something was declared: file, line and column (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: Arc<Path>,
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// Display modes of gen_config; a variable shows in its own mode and above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Mode {
    Basic,
    #[default]
    Normal,
    Expert,
}

impl Mode {
    pub fn from_name(s: &str) -> Option<Mode> {
        match s {
            "basic" => Some(Mode::Basic),
            "normal" | "" => Some(Mode::Normal),
            "expert" => Some(Mode::Expert),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Mode::Basic => "basic",
            Mode::Normal => "normal",
            Mode::Expert => "expert",
        }
    }
}

/// One declared variable.
#[derive(Debug, Clone)]
pub struct Variable {
    /// Full name. Variables of an extra namespace are named `ns.family.var`.
    pub name: String,
    pub ty: VarType,
    pub description: String,
    pub mode: Mode,
    pub mandatory: bool,
    pub hidden: bool,
    pub multi: bool,
    pub disabled: bool,
    pub auto_freeze: bool,
    pub auto_save: bool,
    /// `<value>` children: the dictionary default (one per value for a multi).
    pub defaults: Vec<String>,
    /// Name of the family it belongs to.
    pub family: String,
    /// Set for the variables of a dynamic family: their names hold `{X}`.
    pub dynamic: bool,
    /// For an instance of a dynamic variable: its template name and index.
    pub template: Option<(Arc<str>, usize)>,
    pub loc: Location,
}

/// A family: a tab of gen_config, grouping variables for display and for
/// conditions that target the whole family.
#[derive(Debug, Clone)]
pub struct Family {
    pub name: String,
    pub mode: Mode,
    pub hidden: bool,
    pub icon: Option<String>,
    /// Variable names in declaration order.
    pub variables: Vec<String>,
    /// `dynamic="VAR"`: conteneur's extension. The family and every variable
    /// in it are templates whose `{X}` is replaced by 1..=value of VAR.
    pub dynamic: Option<String>,
    pub loc: Location,
}

/// A file rendered from a template (`<file>`).
#[derive(Debug, Clone)]
pub struct FileDecl {
    /// Destination path (or, with `name_type="SymLinkOption"`, the variable
    /// holding it).
    pub name: String,
    /// Template name; defaults to the base name of `name`.
    pub source: String,
    pub mode: Option<u32>,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub mkdir: bool,
    pub rm: bool,
    pub filelist: Option<String>,
    pub name_from_variable: bool,
    /// The `<container>` it is declared in (`None`: `<files>`, the host;
    /// `Some("all")`: every container). It renders under that container's
    /// path (`container_path_NAME`).
    pub container: Option<String>,
    /// `instance_mode`: `when_container` (only with `mode_conteneur_actif`
    /// `oui`), `when_no_container` (only with `non`), or always.
    pub instance_mode: Option<String>,
    /// `del_comment`: the comment marker whose lines Creole strips from the
    /// rendered file.
    pub del_comment: Option<String>,
    pub loc: Location,
}

/// A service Creole manages (`<service>`), which a servicelist can disable.
#[derive(Debug, Clone)]
pub struct ServiceDecl {
    pub name: String,
    pub servicelist: Option<String>,
    pub method: Option<String>,
    /// The `<container>` it runs in (`None`: the host).
    pub container: Option<String>,
    pub loc: Location,
}

/// What a `<param>` carries.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// No type: a literal string.
    Text(String),
    /// `type="eole"`: the value of that variable.
    Variable(String),
    /// `type="number"`.
    Number(i64),
    /// `type="python"`: a Python expression conteneur does not evaluate.
    Python(String),
}

#[derive(Debug, Clone)]
pub struct Param {
    pub name: Option<String>,
    pub value: ParamValue,
    /// `optional="True"`: skip silently when the variable does not exist.
    pub optional: bool,
    /// `hidden="False"`: read the variable even when it is disabled.
    pub read_disabled: bool,
    pub loc: Location,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalcKind {
    /// A default the admin may override.
    Fill,
    /// A value that is always computed and wins.
    Auto,
}

impl CalcKind {
    /// The XML element that declares it.
    pub fn element(self) -> &'static str {
        match self {
            CalcKind::Fill => "fill",
            CalcKind::Auto => "auto",
        }
    }
}

/// A `<fill>` or `<auto>`.
#[derive(Debug, Clone)]
pub struct Calc {
    pub kind: CalcKind,
    pub func: String,
    pub target: String,
    pub params: Vec<Param>,
    pub loc: Location,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
}

/// A `<check>`.
#[derive(Debug, Clone)]
pub struct Check {
    pub func: String,
    pub target: String,
    pub params: Vec<Param>,
    pub level: Level,
    pub loc: Location,
}

/// The property a condition switches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Property {
    Disabled,
    Hidden,
    Frozen,
    Mandatory,
}

impl Property {
    pub fn name(self) -> &'static str {
        match self {
            Property::Disabled => "disabled",
            Property::Hidden => "hidden",
            Property::Frozen => "frozen",
            Property::Mandatory => "mandatory",
        }
    }
}

/// `<condition name="P_if_in|P_if_not_in">`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CondKind {
    pub property: Property,
    /// `_if_not_in` rather than `_if_in`.
    pub negate: bool,
}

impl CondKind {
    pub fn from_name(s: &str) -> Option<CondKind> {
        let (prop, rest) = s.split_once("_if_")?;
        let property = match prop {
            "disabled" => Property::Disabled,
            "hidden" => Property::Hidden,
            "frozen" => Property::Frozen,
            "mandatory" => Property::Mandatory,
            _ => return None,
        };
        let negate = match rest {
            "in" => false,
            "not_in" => true,
            _ => return None,
        };
        Some(CondKind { property, negate })
    }

    pub fn name(self) -> String {
        format!(
            "{}_if_{}",
            self.property.name(),
            if self.negate { "not_in" } else { "in" }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    Variable,
    Family,
    Filelist,
    Servicelist,
    /// Anything else real dictionaries use (`servicelist`-like groups of
    /// EOLE features conteneur has no use for); kept so lint can name it.
    Other(String),
}

#[derive(Debug, Clone)]
pub struct Target {
    pub kind: TargetKind,
    pub name: String,
    pub optional: bool,
    pub loc: Location,
}

#[derive(Debug, Clone)]
pub struct Condition {
    pub kind: CondKind,
    pub source: String,
    /// The OR-ed values; `None` is an empty `<param/>`, matching an unset value.
    pub values: Vec<Option<String>>,
    pub targets: Vec<Target>,
    /// Apply the condition when the source variable does not exist.
    pub fallback: bool,
    pub loc: Location,
}

/// `<group master=M>`: slaves hold one value per index of M.
#[derive(Debug, Clone)]
pub struct Group {
    pub master: String,
    pub slaves: Vec<String>,
    pub loc: Location,
}

/// Something the reader saw and deliberately does not act on (EOLE's
/// firewall and old container-mode declarations, unknown attributes): lint
/// shows these on request so nothing is ignored silently.
#[derive(Debug, Clone)]
pub struct Notice {
    pub loc: Location,
    pub message: String,
}

/// A declaration conteneur cannot make sense of (a constraint with an
/// unknown parameter type, two `<fill>` on one target, a variable of an
/// unknown type…). The declaration is left out of the model and the
/// variable it applies to cannot be read: `lint` names the declaration,
/// `get` names it when it refuses the variable, and everything else reads
/// as usual (docs/dictionaries.md, "Load errors").
#[derive(Debug, Clone)]
pub struct Broken {
    pub variable: String,
    /// Only the computed value is lost (a broken `<fill>`/`<auto>`): a
    /// value stored in config.eol still reads.
    pub value_only: bool,
    /// Where the broken declaration is.
    pub loc: Location,
    /// What is wrong with it.
    pub reason: String,
}

/// A map keyed by variable or family name, in declaration order. Looked up
/// for every variable of every computation, so hashed with foldhash rather
/// than SipHash (the names come from installed dictionaries).
pub type NameMap<V> = IndexMap<String, V, foldhash::fast::RandomState>;

/// A merged set of dictionaries.
#[derive(Debug, Clone, Default)]
pub struct Dictionaries {
    pub variables: NameMap<Variable>,
    pub families: NameMap<Family>,
    pub files: Vec<FileDecl>,
    pub services: Vec<ServiceDecl>,
    /// At most one fill or auto per target.
    pub calcs: NameMap<Calc>,
    pub checks: Vec<Check>,
    pub conditions: Vec<Condition>,
    /// Keyed by master.
    pub groups: NameMap<Group>,
    /// Variable name → heading shown above it.
    pub separators: IndexMap<String, String>,
    pub help_variables: IndexMap<String, String>,
    pub help_families: IndexMap<String, String>,
    /// `<container>`s by name, merged across dictionaries.
    pub containers: NameMap<super::Container>,
    /// Packages, hosts, interfaces, mounts, devices and firewall openings
    /// (`<files>` and `<container>` children), in declaration order.
    pub items: Vec<super::ContainerItem>,
    /// Files read, in load order.
    pub sources: Vec<Arc<Path>>,
    pub notices: Vec<Notice>,
    /// Variables left unreadable by a broken declaration.
    pub broken: Vec<Broken>,
}

impl Dictionaries {
    /// The master of a slave, if `name` is one.
    pub fn master_of(&self, name: &str) -> Option<&str> {
        self.groups
            .values()
            .find(|g| g.slaves.iter().any(|s| s == name))
            .map(|g| g.master.as_str())
    }
}

/// The placeholder a dynamic family's names carry.
pub const DYNAMIC_PLACEHOLDER: &str = "{X}";
