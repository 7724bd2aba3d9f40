//! `checkrail rule new`: the scaffold builds, tests and runs without edits.
