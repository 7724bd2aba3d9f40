//! Packs through a real OCI registry: Debian's `docker-registry`
//! (distribution), started on loopback for each test with its storage in a
//! temporary directory (`scripts/test.sh` installs it).

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::packs::{Env, env, file, flow, text};

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// A registry process on 127.0.0.1; killed on drop.
pub(crate) struct Registry {
    child: Child,
    /// `127.0.0.1:<port>`.
    host: String,
    /// Its storage root.
    storage: PathBuf,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry on 127.0.0.1; with `user`, it requires that user's
    /// basic auth.
    pub(crate) fn start(user: Option<(&str, &str)>) -> Self {
        Self::start_on("127.0.0.1", user)
    }

    /// Starts a registry on `ip` (a loopback address).
    fn start_on(ip: &str, user: Option<(&str, &str)>) -> Self {
        assert!(
            Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} is missing: install Debian's docker-registry package (scripts/test.sh does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("storage");
        let port = {
            let listener = TcpListener::bind((ip, 0)).unwrap();
            listener.local_addr().unwrap().port()
        };
        let host = format!("{ip}:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {host}\n",
            storage.display()
        );
        if let Some((name, password)) = user {
            let hash = bcrypt::hash(password, 5).unwrap();
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{name}:{hash}\n")).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: checkrail-tests\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut registry = Self {
            child,
            host,
            storage,
            _dir: dir,
        };
        registry.wait_until_serving();
        registry
    }

    /// Polls `GET /v2/` until the registry answers (200, or 401 when it
    /// wants credentials).
    fn wait_until_serving(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("docker-registry exited at start: {status}");
            }
            if let Ok(mut stream) = TcpStream::connect(&self.host) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let request = format!("GET /v2/ HTTP/1.0\r\nHost: {}\r\n\r\n", self.host);
                let mut answer = String::new();
                if stream.write_all(request.as_bytes()).is_ok()
                    && stream.read_to_string(&mut answer).is_ok()
                    && (answer.starts_with("HTTP/1.0 200")
                        || answer.starts_with("HTTP/1.0 401")
                        || answer.starts_with("HTTP/1.1 200")
                        || answer.starts_with("HTTP/1.1 401"))
                {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not answer GET /v2/ within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn reference(&self, repository_and_tag: &str) -> String {
        format!("oci://{}/{repository_and_tag}", self.host)
    }

    /// The stored file of blob `sha256:<hex>`.
    fn blob(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A signed pack `team` at `version` with the greeter rule of that major
/// version and a `release` workflow that runs it; the project trusts the key.
fn signed_pack(e: &Env, key: &Path, version: &str, greeter: &str) -> PathBuf {
    let major = version.split('.').next().unwrap();
    let pack = e.build_with_workflows(
        "team",
        version,
        &[greeter],
        &[(
            "release.yaml",
            &flow("release", version, &format!("team/greeter@^{major}")),
        )],
    );
    e.ok(&["pack", "sign", file(&pack), "--key", file(key)]);
    pack
}

/// The manifest digest `pack push` printed.
fn pushed_digest(out: &str) -> String {
    let at = out
        .find("digest sha256:")
        .unwrap_or_else(|| panic!("{out}"));
    out[at + "digest ".len()..]
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == ':'))
        .next()
        .unwrap()
        .to_owned()
}

/// The README's sharing flow: a rule and a workflow become a signed pack in
/// a registry, and another project installs it and runs its checkpoint.
#[test]
fn a_signed_pack_goes_through_a_registry_into_another_project() {
    let registry = Registry::start(None);
    let author = env();
    let (key, public) = author.keygen();
    let pack = signed_pack(&author, &key, "1.0.0", "fixture_greeter_v1.wasm");
    let tag = registry.reference("team/rules:1.0.0");
    let out = author.ok(&["pack", "push", file(&pack), &tag]);
    let digest = pushed_digest(&out);

    // Another project, which trusts the author's key, checks it in the
    // registry, then installs it by tag.
    let project = author.second_project();
    project.trust(&public, "");
    let out = project.ok(&["pack", "verify", &tag]);
    assert!(
        out.contains("ok: team 1.0.0 — 1 rule(s), 1 workflow(s)")
            && out.contains("signed by trusted key"),
        "{out}"
    );
    assert!(
        !project.ws.join(".checkrail/packs/team").exists(),
        "verify installs nothing"
    );
    let out = project.ok(&["pack", "install", &tag]);
    assert!(out.contains("installed team 1.0.0"), "{out}");
    let lock = std::fs::read_to_string(project.ws.join("checkrail.lock")).unwrap();
    assert!(
        lock.contains(&format!("manifest_digest = \"{digest}\"")) && lock.contains(&tag),
        "{lock}"
    );
    let listed = project.ok(&["workflow", "list"]);
    assert!(listed.contains("team/release"), "{listed}");
    let out = project.check_workflow("team/release");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("greeter 1 ran"));

    // A clone of that project installs what its lock pins, exactly.
    let clone = author.second_project();
    for name in ["checkrail.lock", "checkrail.toml"] {
        std::fs::copy(project.ws.join(name), clone.ws.join(name)).unwrap();
    }
    // Its owner allows the cloned policy, as on any new checkout.
    crate::support::allow(&clone.ws);
    let out = clone.ok(&["pack", "install"]);
    assert!(out.contains("installed team 1.0.0"), "{out}");
    assert_eq!(
        std::fs::read_to_string(clone.ws.join("checkrail.lock")).unwrap(),
        lock,
        "installing what the lock pins leaves the lock as it was"
    );
    assert!(
        clone
            .ok(&["pack", "install"])
            .contains("team 1.0.0: installed as locked")
    );
    let out = clone.check_workflow("team/release");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // A lock that pins other pack content than the registry holds: refused.
    let drifted = author.second_project();
    std::fs::copy(
        project.ws.join("checkrail.toml"),
        drifted.ws.join("checkrail.toml"),
    )
    .unwrap();
    crate::support::allow(&drifted.ws);
    let manifest_sha = lock
        .lines()
        .find_map(|l| l.strip_prefix("manifest_sha256 = "))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    std::fs::write(
        drifted.ws.join("checkrail.lock"),
        lock.replace(&manifest_sha, &"0".repeat(64)),
    )
    .unwrap();
    let why = drifted.refused(&["pack", "install"]);
    assert!(
        why.contains("checkrail.lock pins pack `team` 1.0.0 with manifest sha256 0000"),
        "{why}"
    );
    assert!(!drifted.ws.join(".checkrail/packs/team").exists());

    // A third installs exactly that manifest, by digest.
    let pinned = project.second_project();
    pinned.trust(&public, "");
    let by_digest = registry.reference(&format!("team/rules@{digest}"));
    pinned.ok(&["pack", "install", &by_digest]);
    let listed = pinned.ok(&["pack", "list"]);
    assert!(
        listed.contains("team 1.0.0 (project)") && listed.contains(&format!("; from {by_digest}")),
        "{listed}"
    );

    // Without the key in its trust list, a project refuses the pack.
    let stranger = author.second_project();
    let why = stranger.refused(&["pack", "install", &tag]);
    assert!(why.contains("does not trust"), "{why}");
    assert!(!stranger.ws.join(".checkrail/packs/team").exists());
}

#[test]
fn a_tampered_blob_or_a_wrong_digest_is_refused_and_the_installed_version_stays() {
    let registry = Registry::start(None);
    let e = env();
    let (key, public) = e.keygen();
    e.trust(&public, "");
    let v1 = signed_pack(&e, &key, "1.0.0", "fixture_greeter_v1.wasm");
    let v2 = signed_pack(&e, &key, "2.0.0", "fixture_greeter_v2.wasm");
    e.ok(&[
        "pack",
        "push",
        file(&v1),
        &registry.reference("team/rules:1.0.0"),
    ]);
    e.ok(&[
        "pack",
        "push",
        file(&v2),
        &registry.reference("team/rules:2.0.0"),
    ]);
    e.ok(&["pack", "install", &registry.reference("team/rules:1.0.0")]);
    let lock_before = std::fs::read_to_string(e.ws.join("checkrail.lock")).unwrap();

    // The registry's copy of v2's pack layer is changed in place.
    let layer = format!("sha256:{}", sha256_hex(&std::fs::read(&v2).unwrap()));
    let blob = registry.blob(&layer);
    let mut bytes = std::fs::read(&blob).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();
    let why = e.refused(&["pack", "install", &registry.reference("team/rules:2.0.0")]);
    assert!(
        why.contains("does not match its digest") && why.contains(&layer),
        "{why}"
    );

    // A digest the registry does not hold.
    let wrong = registry.reference(&format!("team/rules@sha256:{}", "0".repeat(64)));
    let why = e.refused(&["pack", "install", &wrong]);
    assert!(why.contains("registry has no"), "{why}");

    // v1 is still what resolves, and the lock is as it was.
    assert!(!e.ws.join(".checkrail/packs/team/2.0.0").exists());
    assert_eq!(
        std::fs::read_to_string(e.ws.join("checkrail.lock")).unwrap(),
        lock_before
    );
    let out = e.check_workflow("team/release");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("greeter 1 ran"));
}

#[test]
fn registry_credentials_come_from_the_docker_config() {
    let registry = Registry::start(Some(("alice", "correct horse")));
    let e = env();
    let (key, public) = e.keygen();
    e.trust(&public, "");
    let pack = signed_pack(&e, &key, "1.0.0", "fixture_greeter_v1.wasm");
    let tag = registry.reference("team/rules:1.0.0");

    // No credentials: refused, saying how to provide them.
    let why = e.refused(&["pack", "push", file(&pack), &tag]);
    assert!(
        why.contains("wants credentials") && why.contains("docker login"),
        "{why}"
    );

    let config = |password: &str| {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("alice:{password}"));
        std::fs::write(
            e.docker.join("config.json"),
            format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.host),
        )
        .unwrap();
    };
    config("wrong");
    let why = e.refused(&["pack", "push", file(&pack), &tag]);
    assert!(
        why.contains("refused the credentials of user `alice`") && why.contains("config.json"),
        "{why}"
    );

    config("correct horse");
    e.ok(&["pack", "push", file(&pack), &tag]);
    e.ok(&["pack", "install", &tag]);
    assert!(e.ok(&["workflow", "list"]).contains("team/release"));

    config("wrong");
    let other = e.second_project();
    other.trust(&public, "");
    let why = other.refused(&["pack", "install", &tag]);
    assert!(why.contains("refused the credentials"), "{why}");
    assert!(!other.ws.join(".checkrail/packs/team").exists());
}

/// 127.0.0.2 is on this machine but is not one of the loopback names that
/// get plain HTTP: the client speaks TLS to it (which this registry does not
/// answer) until `--insecure` says otherwise.
#[test]
fn plain_http_only_for_loopback_names_or_with_insecure() {
    let registry = Registry::start_on("127.0.0.2", None);
    let e = env();
    let pack = e.build("team", "1.0.0", &["fixture_greeter_v1.wasm"]);
    let tag = registry.reference("team/rules:1.0.0");
    let why = e.refused(&["pack", "push", file(&pack), &tag]);
    assert!(why.contains("pushing to") && why.contains(&tag), "{why}");
    let out = e.run(&["pack", "push", file(&pack), &tag, "--insecure"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("is not signed") && text(&out.stdout).contains("digest sha256:"),
        "an unsigned push warns: {}",
        text(&out.stderr)
    );
    std::fs::write(
        e.ws.join("checkrail.toml"),
        "[trust]\nrequire_signatures = false\n",
    )
    .unwrap();
    crate::support::allow(&e.ws);
    let why = e.refused(&["pack", "install", &tag]);
    assert!(why.contains("pulling"), "{why}");
    e.ok(&["pack", "install", &tag, "--insecure"]);

    let why = e.refused(&["pack", "install", "oci://localhost:5000/team/rules"]);
    assert!(why.contains("no tag or digest"), "{why}");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A registry that lies: its pack manifest declares a 4 KiB layer, and the
/// layer it then streams is 64 MiB. Counts the bytes it managed to send.
struct LyingRegistry {
    port: u16,
    sent: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl LyingRegistry {
    const STREAMED: usize = 64 << 20;

    /// One whose pack manifest is itself 64 MiB, streamed.
    fn with_a_huge_manifest() -> Self {
        Self::serve(true)
    }

    fn start() -> Self {
        Self::serve(false)
    }

    fn serve(huge_manifest: bool) -> Self {
        use sha2::Digest as _;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let config = b"{}";
        let sha = |bytes: &[u8]| format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)));
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": checkrail::pack::oci::CONFIG_MEDIA_TYPE,
                "digest": sha(config),
                "size": config.len(),
            },
            "layers": [{
                "mediaType": checkrail::pack::oci::PACK_MEDIA_TYPE,
                "digest": sha(b"a small pack"),
                "size": 4096,
            }],
        })
        .to_string();
        let counter = sent.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (manifest, counter) = (manifest.clone(), counter.clone());
                std::thread::spawn(move || {
                    serve_lies(stream, (&manifest, huge_manifest), &counter)
                });
            }
        });
        Self { port, sent }
    }
}

/// Answers one request of [`LyingRegistry`].
fn serve_lies(
    mut stream: TcpStream,
    (manifest, huge_manifest): (&str, bool),
    sent: &std::sync::atomic::AtomicUsize,
) {
    use sha2::Digest as _;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let answer = |stream: &mut TcpStream, kind: &str, extra: &str, body: &str| {
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
            body.len()
        );
    };
    if path.contains("/manifests/") && huge_manifest {
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            LyingRegistry::STREAMED
        );
        let chunk = vec![b' '; 64 << 10];
        for _ in 0..LyingRegistry::STREAMED / chunk.len() {
            if stream.write_all(&chunk).is_err() {
                break;
            }
            sent.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
        }
    } else if path.contains("/manifests/") {
        let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(manifest)));
        answer(
            &mut stream,
            "application/vnd.oci.image.manifest.v1+json",
            &format!("Docker-Content-Digest: {digest}\r\n"),
            manifest,
        );
    } else if path.contains("/blobs/") {
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            LyingRegistry::STREAMED
        );
        let chunk = vec![0u8; 64 << 10];
        for _ in 0..LyingRegistry::STREAMED / chunk.len() {
            if stream.write_all(&chunk).is_err() {
                break;
            }
            sent.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
        }
    } else {
        answer(&mut stream, "application/json", "", "{}");
    }
}

impl LyingRegistry {
    /// Installs its pack; the refusal, and how many bytes had left the
    /// server by then (checked to be well under what it meant to stream,
    /// within the patience), after printing `what` with the figures.
    fn install_refused(&self, what: &str) -> String {
        let e = env();
        let tag = format!("oci://127.0.0.1:{}/team/rules:1.0.0", self.port);
        let started = Instant::now();
        let why = e.refused(&["pack", "install", &tag]);
        // Stopped at the cap, not read whole: what left the server is the
        // cap plus what the sockets buffer.
        let sent = self.sent.load(std::sync::atomic::Ordering::Relaxed);
        println!(
            "{what} streamed as {} MiB: stopped after {sent} bytes had left the server, in {:?}",
            Self::STREAMED >> 20,
            started.elapsed()
        );
        assert!(
            sent < Self::STREAMED / 4,
            "{sent} of {} bytes were sent before the download stopped",
            Self::STREAMED
        );
        assert!(
            started.elapsed() < crate::support::PATIENCE,
            "{:?}",
            started.elapsed()
        );
        why
    }
}

#[test]
fn a_registry_that_streams_more_than_it_declared_is_stopped_at_the_declared_size() {
    let why = LyingRegistry::start().install_refused("a 4096-byte layer");
    assert!(
        why.contains("sent more than the 4096 bytes its manifest declares"),
        "{why}"
    );
}

#[test]
fn a_registry_that_streams_a_huge_manifest_is_stopped_at_the_manifest_cap() {
    let why = LyingRegistry::with_a_huge_manifest().install_refused("a manifest");
    assert!(
        why.contains("its manifest is larger than 4194304 bytes"),
        "{why}"
    );
}
