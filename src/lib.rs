//! conteneur: EOLE-style declarative containers.
//!
//! The data flows through the modules in this order: [`dico`] reads the
//! dictionaries, [`config`] evaluates values, checks and conditions against
//! `config.eol`, and the command line sits on top ([`cli`]).

pub mod dico;
