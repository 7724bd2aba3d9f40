//! Rule packs through the real binary: build, keygen, sign, verify, install,
//! resolve rules and workflows by semver, pin in checkrail.lock, and every
//! refusal.

use std::path::{Path, PathBuf};
use std::process::Output;

use checkrail::pack::PackFile;

use crate::support::{Cli, Harness, Sessions, WASM_DIR, Workspace};

pub(crate) struct Env {
    _dirs: Vec<tempfile::TempDir>,
    /// The project.
    pub(crate) ws: PathBuf,
    /// Outside the project: where packs and keys are made.
    pub(crate) studio: PathBuf,
    /// The user data directory.
    pub(crate) data: PathBuf,
    /// `$DOCKER_CONFIG` for the commands run (empty unless a test writes
    /// `config.json` there), so the user's own never leaks in.
    pub(crate) docker: PathBuf,
}

pub(crate) fn env() -> Env {
    let ws = Workspace::new().file("README.md", "# x\n").build();
    let studio = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let docker = studio.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    Env {
        ws: ws.path().to_owned(),
        studio: studio.path().to_owned(),
        data: data.path().to_owned(),
        docker,
        _dirs: vec![ws, studio, data],
    }
}

impl Env {
    /// Another project that shares this one's studio (keys, pack files).
    pub(crate) fn second_project(&self) -> Env {
        let mut other = env();
        other.studio = self.studio.clone();
        other.docker = self.docker.clone();
        other
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        Cli::new(args)
            .current_dir(&self.ws)
            .env("CHECKRAIL_DATA_DIR", &self.data)
            .env("DOCKER_CONFIG", &self.docker)
            .output()
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    pub(crate) fn refused(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_ne!(
            out.status.code(),
            Some(0),
            "{args:?} should be refused: {}",
            text(&out.stdout)
        );
        format!("{}{}", text(&out.stdout), text(&out.stderr))
    }

    /// A pack directory in the studio with `components` (wasm file names
    /// from the build) and the given version.
    fn pack_dir(&self, name: &str, version: &str, components: &[&str]) -> PathBuf {
        let dir = self.studio.join(format!("{name}-{version}-src"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut rules = Vec::new();
        for c in components {
            std::fs::copy(Path::new(WASM_DIR).join(c), dir.join(c)).unwrap();
            rules.push(format!("\"{c}\""));
        }
        std::fs::write(
            dir.join("pack.toml"),
            format!(
                "name = \"{name}\"\nversion = \"{version}\"\ndescription = \"test pack\"\nlicense = \"MIT\"\nrules = [{}]\n",
                rules.join(", ")
            ),
        )
        .unwrap();
        dir
    }

    /// A pack with `components` and workflow files (name, YAML).
    pub(crate) fn build_with_workflows(
        &self,
        name: &str,
        version: &str,
        components: &[&str],
        workflows: &[(&str, &str)],
    ) -> PathBuf {
        let dir = self.pack_dir(name, version, components);
        let mut listed = Vec::new();
        for (file, yaml) in workflows {
            std::fs::write(dir.join(file), yaml).unwrap();
            listed.push(format!("\"{file}\""));
        }
        let toml = std::fs::read_to_string(dir.join("pack.toml")).unwrap();
        std::fs::write(
            dir.join("pack.toml"),
            format!("{toml}workflows = [{}]\n", listed.join(", ")),
        )
        .unwrap();
        self.ok(&["pack", "build", dir.to_str().unwrap()]);
        dir.join(format!("{name}-{version}.crpack"))
    }

    pub(crate) fn build(&self, name: &str, version: &str, components: &[&str]) -> PathBuf {
        let dir = self.pack_dir(name, version, components);
        self.ok(&["pack", "build", dir.to_str().unwrap()]);
        dir.join(format!("{name}-{version}.crpack"))
    }

    pub(crate) fn keygen(&self) -> (PathBuf, String) {
        let stem = self.studio.join("team");
        let out = self.ok(&["pack", "keygen", stem.to_str().unwrap()]);
        assert!(out.contains("[trust]"), "{out}");
        let public = std::fs::read_to_string(stem.with_extension("pub"))
            .unwrap()
            .trim()
            .to_owned();
        (stem.with_extension("key"), public)
    }

    pub(crate) fn trust(&self, public: &str, extra: &str) {
        std::fs::write(
            self.ws.join("checkrail.toml"),
            format!("{extra}[trust]\nkeys = [\"{public}\"]\n"),
        )
        .unwrap();
        crate::support::allow(&self.ws);
    }

    fn workflow(&self, reference: &str) -> String {
        let path = self.ws.join("flow.yaml");
        std::fs::write(
            &path,
            format!("id: f\nversion: 0.1.0\nname: F\ndescription: d\nphases:\n  - id: p\n    name: P\n    guidance: g\n    checkpoint:\n      rules:\n        - rule: {reference}\n"),
        )
        .unwrap();
        path.display().to_string()
    }

    /// Runs phase `p` of a workflow by id or path.
    pub(crate) fn check_workflow(&self, workflow: &str) -> Output {
        self.run(&[
            "check",
            "--workflow",
            workflow,
            "--phase",
            "p",
            "--workspace",
            self.ws.to_str().unwrap(),
            "--json",
        ])
    }

    fn check(&self, reference: &str) -> Output {
        let flow = self.workflow(reference);
        self.check_workflow(&flow)
    }
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A one-phase workflow `id@version` (phase `p`) whose checkpoint runs
/// `rule`.
pub(crate) fn flow(id: &str, version: &str, rule: &str) -> String {
    format!(
        "id: {id}\nversion: {version}\nname: Release\ndescription: ships it\nphases:\n  - id: p\n    name: P\n    guidance: g\n    checkpoint:\n      rules:\n        - rule: {rule}\n"
    )
}

pub(crate) fn file(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn signed_packs_install_lock_and_resolve_by_semver_side_by_side() {
    let e = env();
    let v1 = e.build("team", "1.0.0", &["fixture_greeter_v1.wasm"]);
    let v2 = e.build("team", "2.0.0", &["fixture_greeter_v2.wasm"]);
    let (key, public) = e.keygen();

    // Unsigned, from outside the project: refused, nothing installed.
    let why = e.refused(&["pack", "install", file(&v1)]);
    assert!(
        why.contains("is not signed") && why.contains("checkrail pack sign"),
        "{why}"
    );
    assert!(!e.ws.join(".checkrail/packs/team").exists());

    e.ok(&["pack", "sign", file(&v1), "--key", file(&key)]);
    e.ok(&["pack", "sign", file(&v2), "--key", file(&key)]);
    // Signed by a key the project does not trust: refused, naming the key and the line to add.
    let why = e.refused(&["pack", "install", file(&v1)]);
    assert!(
        why.contains("which this project does not trust") && why.contains(&public),
        "{why}"
    );

    e.trust(&public, "");
    assert!(
        e.ok(&["pack", "verify", file(&v1)])
            .contains("signed by trusted key")
    );
    e.ok(&["pack", "install", file(&v1)]);
    e.ok(&["pack", "install", file(&v2)]);
    let lock = std::fs::read_to_string(e.ws.join("checkrail.lock")).unwrap();
    assert!(
        lock.contains("version = \"1.0.0\"") && lock.contains("version = \"2.0.0\""),
        "{lock}"
    );
    let listed = e.ok(&["pack", "list"]);
    assert!(
        listed.contains("core")
            && listed.contains("team 2.0.0 (project)")
            && listed.contains("team 1.0.0"),
        "{listed}"
    );

    // Requirements choose between the two versions.
    let out = e.check("team/greeter@^1");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("greeter 1 ran"));
    let out = e.check("team/greeter@^2");
    assert!(
        text(&out.stdout).contains("greeter 2 ran"),
        "{}",
        text(&out.stderr)
    );
    let out = e.check("team/greeter");
    assert!(
        text(&out.stdout).contains("greeter 2 ran"),
        "highest match wins"
    );
    let out = e.check("team/greeter@^3");
    assert_eq!(out.status.code(), Some(2));
    let why = text(&out.stderr);
    assert!(
        why.contains("no installed pack `team` has rule `greeter` matching `^3`")
            && why.contains("team 2.0.0 (greeter@2.0.0)"),
        "{why}"
    );

    // A user-level install is found too (and pinned in this project's lock).
    let other = e.build("personal", "0.3.0", &["fixture_greeter_v1.wasm"]);
    e.ok(&["pack", "sign", file(&other), "--key", file(&key)]);
    e.ok(&["pack", "install", file(&other), "--user"]);
    assert!(e.data.join("packs/personal/0.3.0/manifest.json").exists());
    assert!(e.ok(&["pack", "list"]).contains("personal 0.3.0 (user)"));
    let out = e.check("personal/greeter@^1");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // Removing a version drops it and its lock entry; requirements fall back.
    e.ok(&["pack", "remove", "team", "2.0.0"]);
    assert!(!e.ws.join(".checkrail/packs/team/2.0.0").exists());
    assert!(
        !std::fs::read_to_string(e.ws.join("checkrail.lock"))
            .unwrap()
            .contains("version = \"2.0.0\"")
    );
    let out = e.check("team/greeter");
    assert!(
        text(&out.stdout).contains("greeter 1 ran"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        e.refused(&["pack", "remove", "team", "2.0.0"])
            .contains("is not installed here; installed: team 1.0.0")
    );

    // Lockfile drift: an installed component changed on disk is refused.
    let installed = e.ws.join(".checkrail/packs/team/1.0.0/rules/greeter.wasm");
    let mut bytes = std::fs::read(&installed).unwrap();
    bytes.push(0);
    std::fs::write(&installed, bytes).unwrap();
    let out = e.check("team/greeter@^1");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("but checkrail.lock pins"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn tampered_badly_signed_incompatible_and_overreaching_packs_are_refused() {
    let e = env();
    let (key, public) = e.keygen();
    e.trust(&public, "");
    let good = e.build("team", "1.0.0", &["fixture_greeter_v1.wasm"]);
    e.ok(&["pack", "sign", file(&good), "--key", file(&key)]);

    // Tampered component: digest mismatch.
    let mut pack = PackFile::read(&good).unwrap();
    let component = pack.entries.get_mut("rules/greeter.wasm").unwrap();
    let last = component.len() - 1;
    component[last] ^= 0x01;
    let tampered = e.studio.join("tampered.crpack");
    pack.write(&tampered).unwrap();
    let why = e.refused(&["pack", "install", file(&tampered)]);
    assert!(why.contains("does not match the manifest"), "{why}");

    // Manifest changed after signing: the signature no longer verifies.
    let mut pack = PackFile::read(&good).unwrap();
    let manifest = String::from_utf8(pack.entries["manifest.json"].clone())
        .unwrap()
        .replace("test pack", "changed");
    pack.entries
        .insert("manifest.json".into(), manifest.into_bytes());
    let resigned = e.studio.join("badsig.crpack");
    pack.write(&resigned).unwrap();
    let why = e.refused(&["pack", "install", file(&resigned)]);
    assert!(
        why.contains("signature of pack `team` does not verify"),
        "{why}"
    );

    // Incompatible API version (signed correctly): both versions named.
    let mut pack = PackFile::read(&good).unwrap();
    let manifest = String::from_utf8(pack.entries["manifest.json"].clone())
        .unwrap()
        .replace(
            &format!("\"api_version\": \"{}\"", checkrail_sdk::API_VERSION),
            "\"api_version\": \"9.0.0\"",
        );
    pack.entries
        .insert("manifest.json".into(), manifest.into_bytes());
    checkrail::pack::sign(&mut pack, &checkrail::pack::KeyPair::read(&key).unwrap()).unwrap();
    let future = e.studio.join("future.crpack");
    pack.write(&future).unwrap();
    let why = e.refused(&["pack", "install", file(&future)]);
    assert!(why.contains("API 9.0.0") && why.contains("^0.1"), "{why}");

    // Rules requesting capabilities the project has not granted: listed.
    let tools = e.build("tools", "1.0.0", &["fixture_greeter_v1.wasm"]);
    let compile_dir = e.pack_dir("builders", "1.0.0", &[]);
    std::fs::copy(
        Path::new(WASM_DIR).join("compile.wasm"),
        compile_dir.join("compile.wasm"),
    )
    .unwrap();
    std::fs::write(
        compile_dir.join("pack.toml"),
        "name = \"builders\"\nversion = \"1.0.0\"\ndescription = \"d\"\nlicense = \"MIT\"\nrules = [\"compile.wasm\"]\n",
    )
    .unwrap();
    e.ok(&["pack", "build", file(&compile_dir)]);
    let builders = compile_dir.join("builders-1.0.0.crpack");
    e.ok(&["pack", "sign", file(&builders), "--key", file(&key)]);
    let why = e.refused(&["pack", "install", file(&builders)]);
    assert!(
        why.contains("not granted") && why.contains("exec:cargo (rule `compile`)"),
        "{why}"
    );
    e.trust(
        &public,
        "[exec.rules.\"builders/*\"]\nallow = [\"cargo\", \"python3\", \"gcc\", \"clang\", \"go\", \"tsc\"]\n",
    );
    e.ok(&["pack", "install", file(&builders)]);

    // None of the refused packs left anything behind.
    let packs: Vec<String> = std::fs::read_dir(e.ws.join(".checkrail/packs"))
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(packs, ["builders"], "refused installs must leave nothing");
    let _ = tools;
}

#[test]
fn packs_carry_workflows_validated_resolved_by_semver_and_pinned() {
    let e = env();
    let (key, public) = e.keygen();
    e.trust(&public, "");

    // An invalid workflow refuses the build, naming the file and the problem.
    let dir = e.pack_dir("team", "0.9.0", &["fixture_greeter_v1.wasm"]);
    std::fs::write(
        dir.join("broken.yaml"),
        flow("release", "one", "team/greeter"),
    )
    .unwrap();
    let toml = std::fs::read_to_string(dir.join("pack.toml")).unwrap();
    std::fs::write(
        dir.join("pack.toml"),
        format!("{toml}workflows = [\"broken.yaml\"]\n"),
    )
    .unwrap();
    let why = e.refused(&["pack", "build", file(&dir)]);
    assert!(
        why.contains("broken.yaml") && why.contains("/version"),
        "{why}"
    );

    let v1 = e.build_with_workflows(
        "team",
        "1.0.0",
        &["fixture_greeter_v1.wasm"],
        &[("release.yaml", &flow("release", "1.0.0", "team/greeter@^1"))],
    );
    let v2 = e.build_with_workflows(
        "team",
        "2.0.0",
        &["fixture_greeter_v2.wasm"],
        &[("release.yaml", &flow("release", "2.0.0", "team/greeter@^2"))],
    );
    let manifest = PackFile::read(&v1).unwrap().manifest().unwrap();
    assert_eq!(manifest.workflows.len(), 1);
    assert_eq!(manifest.workflows[0].file, "workflows/release.yaml");
    for pack in [&v1, &v2] {
        e.ok(&["pack", "sign", file(pack), "--key", file(&key)]);
        e.ok(&["pack", "install", file(pack)]);
    }
    let lock = std::fs::read_to_string(e.ws.join("checkrail.lock")).unwrap();
    assert_eq!(lock.matches("[[pack.workflow]]").count(), 2, "{lock}");
    assert!(
        e.ok(&["pack", "list"])
            .contains("workflows: team/release@2.0.0")
    );

    // Listed as <pack>/<id>, the highest version, with the pack as source.
    let listed: serde_json::Value =
        serde_json::from_str(&e.ok(&["workflow", "list", "--json"])).unwrap();
    let release: Vec<&serde_json::Value> = listed["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["id"] == "team/release")
        .collect();
    assert_eq!(release.len(), 1, "{listed}");
    assert_eq!(release[0]["version"], "2.0.0");
    assert_eq!(release[0]["source"], "pack:team@2.0.0");

    // Requirements pick the version; its checkpoint runs its pack's rule.
    let out = e.check_workflow("team/release@^1");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("greeter 1 ran"));
    let out = e.check_workflow("team/release");
    assert!(
        text(&out.stdout).contains("greeter 2 ran"),
        "{}",
        text(&out.stderr)
    );
    let out = e.check_workflow("team/release@^3");
    assert_eq!(out.status.code(), Some(2));
    let why = text(&out.stderr);
    assert!(
        why.contains("no installed version of workflow `team/release` matches `^3`")
            && why.contains("2.0.0 (pack team 2.0.0)"),
        "{why}"
    );

    // Drift: an installed workflow file changed on disk is refused.
    let installed =
        e.ws.join(".checkrail/packs/team/1.0.0/workflows/release.yaml");
    let mut yaml = std::fs::read_to_string(&installed).unwrap();
    yaml.push_str("# edited\n");
    std::fs::write(&installed, yaml).unwrap();
    let out = e.check_workflow("team/release@^1");
    assert_eq!(out.status.code(), Some(2));
    let why = text(&out.stderr);
    assert!(
        why.contains("pack:team@1.0.0") && why.contains("but checkrail.lock pins"),
        "{why}"
    );

    // An invalid workflow smuggled into a signed pack is refused at install,
    // naming the file and the problem; nothing is installed.
    let mut pack = PackFile::read(&v1).unwrap();
    let bad = flow("release", "1.0.0", "team/greeter@^1").replace("name: P", "nam: P");
    let digest = sha256_hex(bad.as_bytes());
    let old = pack.manifest().unwrap().workflows[0].sha256.clone();
    let manifest = String::from_utf8(pack.entries["manifest.json"].clone())
        .unwrap()
        .replace(&old, &digest)
        .replace(
            "\"version\": \"1.0.0\",\n  \"min_host",
            "\"version\": \"1.5.0\",\n  \"min_host",
        );
    pack.entries
        .insert("manifest.json".into(), manifest.into_bytes());
    pack.entries
        .insert("workflows/release.yaml".into(), bad.into_bytes());
    checkrail::pack::sign(&mut pack, &checkrail::pack::KeyPair::read(&key).unwrap()).unwrap();
    let smuggled = e.studio.join("smuggled.crpack");
    pack.write(&smuggled).unwrap();
    let why = e.refused(&["pack", "install", file(&smuggled)]);
    assert!(
        why.contains("workflows/release.yaml") && why.contains("/phases/0"),
        "{why}"
    );
    assert!(!e.ws.join(".checkrail/packs/team/1.5.0").exists());
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test(flavor = "multi_thread")]
async fn pack_workflows_over_mcp_start_sessions_sourced_from_the_pack() {
    let e = env();
    let (key, public) = e.keygen();
    e.trust(&public, "");
    let v1 = e.build_with_workflows(
        "team",
        "1.0.0",
        &["fixture_greeter_v1.wasm"],
        &[("release.yaml", &flow("release", "1.0.0", "team/greeter@^1"))],
    );
    e.ok(&["pack", "sign", file(&v1), "--key", file(&key)]);
    e.ok(&["pack", "install", file(&v1)]);

    let h = Harness::over(Sessions::on(&e.ws).installed_packs()).await;
    let list = h.ok("workflow_list", serde_json::json!({})).await;
    let found = list["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == "team/release")
        .unwrap_or_else(|| panic!("team/release not listed: {list}"));
    assert_eq!(found["source"], "pack:team@1.0.0");
    let get = h
        .ok(
            "workflow_get",
            serde_json::json!({"workflow": "team/release@^1"}),
        )
        .await;
    assert_eq!(
        get["phases"][0]["checkpoint"]["rules"][0]["rule"], "team/greeter@^1",
        "{get}"
    );
    let start = h
        .ok(
            "workflow_start",
            serde_json::json!({"workflow": "team/release"}),
        )
        .await;
    let id = start["session"]["id"].as_str().unwrap().to_owned();
    let done = h
        .ok(
            "workflow_validate",
            serde_json::json!({"session": id, "phase": "p"}),
        )
        .await;
    assert!(done.to_string().contains("greeter 1 ran"), "{done}");
    let why = h
        .err(
            "workflow_start",
            serde_json::json!({"workflow": "team/release@^2"}),
        )
        .await;
    assert!(why.contains("installed: 1.0.0 (pack team 1.0.0)"), "{why}");

    let shown: serde_json::Value = serde_json::from_str(&e.ok(&[
        "session",
        "show",
        &id,
        "--workspace",
        file(&e.ws),
        "--json",
    ]))
    .unwrap();
    let provenance = shown.to_string();
    assert!(
        provenance.contains("\"source\":\"pack:team@1.0.0\"")
            && provenance.contains("\"kind\":\"pack\""),
        "{shown}"
    );
}
