//! `dico`: Creole dictionaries, from XML files to a merged model.
//!
//! This module only reads and checks what the dictionaries declare. Values,
//! calculations and conditions are evaluated by [`crate::config`].

pub mod containers;
mod depends;
mod expand;
mod load;
mod model;
mod vartype;
pub mod xml;

pub use containers::{Container, ContainerItem, ItemKind};
pub use expand::MAX_INSTANCES;
pub use load::{
    DicoError, DicoErrors, Outcome, Source, list_files, load, load_all, load_str, load_texts,
    load_texts_in,
};
pub use model::*;
pub use vartype::VarType;
