//! Temporary workspaces: the files a test's project holds, the programs its
//! `checkrail.toml` grants, and the workflows it keeps in
//! `.checkrail/workflows/`.

use std::path::Path;

/// A temporary workspace to build:
/// `Workspace::new().file("src/lib.rs", LIB).grant("cargo").build()`.
#[derive(Default)]
pub struct Workspace {
    files: Vec<(String, String)>,
    grants: Vec<String>,
    config: String,
}

impl Workspace {
    /// An empty workspace.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the file `path` (its directories too) holding `text`.
    pub fn file(mut self, path: &str, text: impl Into<String>) -> Self {
        self.files.push((path.to_owned(), text.into()));
        self
    }

    /// Grants the rules the right to run `program` (`[exec] allow` in
    /// `checkrail.toml`).
    pub fn grant(mut self, program: &str) -> Self {
        self.grants.push(program.to_owned());
        self
    }

    /// Adds `toml` to `checkrail.toml`, after the grants.
    pub fn config(mut self, toml: &str) -> Self {
        self.config.push_str(toml);
        self
    }

    /// Adds a workspace workflow: `.checkrail/workflows/<id>.yaml`, named by
    /// the `id:` line of `yaml`.
    pub fn workflow(self, yaml: &str) -> Self {
        let id = yaml
            .lines()
            .find_map(|l| l.strip_prefix("id: "))
            .unwrap_or_else(|| panic!("a workflow without an `id:` line: {yaml}"))
            .trim();
        self.file(&format!(".checkrail/workflows/{id}.yaml"), yaml)
    }

    /// Writes it all into a new temporary directory.
    pub fn build(self) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = self.config;
        if !self.grants.is_empty() {
            config = format!("{}{config}", exec_allow(&self.grants));
        }
        if !config.is_empty() {
            assert!(
                self.files.iter().all(|(path, _)| path != "checkrail.toml"),
                "checkrail.toml given both as a file and as grants or config"
            );
            std::fs::write(dir.path().join("checkrail.toml"), config).unwrap();
        }
        for (path, text) in &self.files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, text).unwrap();
        }
        allow(dir.path());
        dir
    }
}

/// Records the workspace's policy files (`checkrail.toml`, its workflows)
/// as they are now as allowed, as its owner does with `checkrail allow`.
pub fn allow(dir: &Path) {
    let ws = checkrail::workspace::Workspace::open(dir, &super::state()).unwrap();
    checkrail::allow::record(&ws, &[]).unwrap();
}

/// Grants `programs` in the `checkrail.toml` of an existing workspace,
/// replacing what it said: the owner's edit after the fact.
pub fn grant(dir: &Path, programs: &[&str]) {
    std::fs::write(dir.join("checkrail.toml"), exec_allow(programs)).unwrap();
    allow(dir);
}

/// The `[exec]` table that allows `programs`.
fn exec_allow(programs: &[impl AsRef<str>]) -> String {
    let quoted: Vec<String> = programs
        .iter()
        .map(|p| format!("\"{}\"", p.as_ref()))
        .collect();
    format!("[exec]\nallow = [{}]\n", quoted.join(", "))
}
