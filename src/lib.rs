//! conteneur: EOLE-style declarative containers.
//!
//! The data flows through the modules in this order: [`dico`] reads the
//! dictionaries, [`config`] evaluates values, checks and conditions against
//! `config.eol`, [`template`] renders the files (the launch plans among
//! them), [`plan`] compares what is wanted with one snapshot of the engines
//! and decides the steps, [`converge`] carries them out on the engines
//! ([`backend`]) and nginx ([`proxy`]), and [`hooks`] runs EOLE's hook
//! folders. [`plan`] owns the vocabulary both sides speak (the launch
//! plans, the engines' snapshot, the labels): the backends import it, it
//! imports no backend. [`run`] is `instance`/`reconfigure`/`status` around
//! them; [`report`], [`audit`] and [`logs`] read what it reads; [`export`]
//! writes the same launch plans as compose and stack files; the command
//! line sits on top ([`cli`]). Every path is resolved through [`paths`], so
//! a whole server can live under a root, and every file replaced whole is
//! written through [`atomic`].
//!
//! The one-page map, with which module may import which and where a new
//! engine or plan step goes: `docs/architecture.md`.

pub mod atomic;
pub mod audit;
pub mod backend;
pub mod backup;
pub mod cli;
pub mod config;
pub mod converge;
pub mod dico;
pub mod exit;
pub mod export;
pub mod folders;
pub mod genconfig;
pub mod hooks;
pub mod label_key;
pub mod logs;
pub mod mounts;
pub mod paths;
pub mod plan;
pub mod proxy;
pub mod report;
pub mod run;
pub mod template;
pub mod timing;
pub mod userinfo;
