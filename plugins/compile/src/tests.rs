//! Native tests: real toolchains on small projects in a temporary workspace,
//! one module per toolchain. A missing toolchain fails the test with what to
//! install.

use super::*;
use checkrail_sdk::serde_json::json;
use checkrail_sdk::testing::{
    TestWorkspace, codes, config_schema_of, finding as by_code, inputs_of, require_program,
};

mod auto;
mod cargo;
mod config;
mod custom;
mod gcc;
mod go;
mod python;
mod tsc;

fn require(program: &str, install: &str) {
    require_program(program, &format!("install {install} to run this test"));
}

const MANIFEST: &str =
    "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n";
