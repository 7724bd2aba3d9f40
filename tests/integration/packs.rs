//! Rule packs through the real binary: build, keygen, sign, verify, install,
//! resolve by semver, pin in checkrail.lock, and every refusal.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use checkrail::pack::PackFile;

use crate::support::{WASM_DIR, shared_cache, workspace};

const BIN: &str = env!("CARGO_BIN_EXE_checkrail");

struct Env {
    _dirs: Vec<tempfile::TempDir>,
    /// The project.
    ws: PathBuf,
    /// Outside the project: where packs and keys are made.
    studio: PathBuf,
    /// The user data directory.
    data: PathBuf,
}

fn env() -> Env {
    let ws = workspace(&[("README.md", "# x\n")]);
    let studio = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    Env {
        ws: ws.path().to_owned(),
        studio: studio.path().to_owned(),
        data: data.path().to_owned(),
        _dirs: vec![ws, studio, data],
    }
}

impl Env {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .current_dir(&self.ws)
            .env("CHECKRAIL_CACHE_DIR", shared_cache())
            .env("CHECKRAIL_STATE_DIR", crate::support::state_dir())
            .env("CHECKRAIL_DATA_DIR", &self.data)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
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

    fn refused(&self, args: &[&str]) -> String {
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

    fn build(&self, name: &str, version: &str, components: &[&str]) -> PathBuf {
        let dir = self.pack_dir(name, version, components);
        self.ok(&["pack", "build", dir.to_str().unwrap()]);
        dir.join(format!("{name}-{version}.crpack"))
    }

    fn keygen(&self) -> (PathBuf, String) {
        let stem = self.studio.join("team");
        let out = self.ok(&["pack", "keygen", stem.to_str().unwrap()]);
        assert!(out.contains("[trust]"), "{out}");
        let public = std::fs::read_to_string(stem.with_extension("pub"))
            .unwrap()
            .trim()
            .to_owned();
        (stem.with_extension("key"), public)
    }

    fn trust(&self, public: &str, extra: &str) {
        std::fs::write(
            self.ws.join("checkrail.toml"),
            format!("{extra}[trust]\nkeys = [\"{public}\"]\n"),
        )
        .unwrap();
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

    fn check(&self, reference: &str) -> Output {
        let flow = self.workflow(reference);
        self.run(&[
            "check",
            "--workflow",
            &flow,
            "--phase",
            "p",
            "--workspace",
            self.ws.to_str().unwrap(),
            "--json",
        ])
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn file(p: &Path) -> &str {
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
        "[exec.rules.\"builders/*\"]\nallow = [\"cargo\", \"python3\", \"gcc\", \"clang\", \"go\"]\n",
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
