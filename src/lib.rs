//! conteneur: EOLE-style declarative containers.
//!
//! The data flows through the modules in this order: [`dico`] reads the
//! dictionaries, [`config`] evaluates values, checks and conditions against
//! `config.eol`, and the command line sits on top ([`cli`]). The exit codes
//! sit below every command that returns them ([`exit`]). Every path is
//! resolved through [`paths`], so a whole server can live under a root.

pub mod backend;
pub mod backup;
pub mod cli;
pub mod config;
pub mod converge;
pub mod dico;
pub mod exit;
pub mod export;
pub mod export_stack;
pub mod folders;
pub mod genconfig;
pub mod hooks;
pub mod mounts;
pub mod paths;
pub mod plan;
pub mod proxy;
pub mod run;
pub mod template;
pub mod userinfo;
