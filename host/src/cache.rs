//! The outcome cache: a rule's result is reused while everything that could
//! change it is unchanged. What that covers, besides the rule component and
//! its config, the evidence, the facts of earlier phases and the grants:
//!
//! - **files**: the workspace's input files ([`fingerprints`]);
//! - **environment** and **toolchains**: what reaches the programs the rule
//!   may run from outside the workspace files ([`toolchains`]);
//! - **judging files**: the files that change how the rule judges, found
//!   whether or not the project ignores them ([`key`]).
//!
//! [`key`] assembles the key of one rule use; [`store`] keeps outcomes,
//! authenticated, in the workspace's state directory.

pub mod clock;
pub mod fingerprints;
pub mod key;
pub mod store;
pub mod toolchains;
