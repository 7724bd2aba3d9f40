#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs the wasm target the
# rule plugins build for, then checks formatting, lints, and runs every test
# (unit, doc, and integration tests against real wasm components).
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-wasip2
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
