//! `plan`: the desired state (launch plans) against the observed state, as
//! a list of actions. It computes and never acts.

pub mod launch;
