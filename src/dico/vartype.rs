//! TEMPORARY stub, replaced by the real module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VarType { OuiNon, String, Number }
impl VarType {
    pub fn from_name(s: &str) -> Option<VarType> { match s { "oui/non" => Some(Self::OuiNon), "string" => Some(Self::String), "number" => Some(Self::Number), _ => Some(Self::String) } }
    pub fn name(self) -> &'static str { match self { Self::OuiNon => "oui/non", Self::String => "string", Self::Number => "number" } }
    pub fn all() -> &'static [VarType] { &[VarType::OuiNon, VarType::String, VarType::Number] }
    pub fn choices(self) -> Option<&'static [&'static str]> { match self { Self::OuiNon => Some(&["oui", "non"]), _ => None } }
    pub fn is_number(self) -> bool { self == Self::Number }
    pub fn describe(self) -> &'static str { "a value" }
}
