//! Native tests: the secret scan against generated workspaces, the auditors'
//! refusals, and a real bandit run.

use checkrail_sdk::serde_json;
use checkrail_sdk::serde_json::json;
use checkrail_sdk::testing::{TestWorkspace, codes, config_schema_of, inputs_of, require_program};

use super::*;

// Every secret is assembled at run time, so this file holds none.
fn aws_key_id() -> String {
    format!("{}{}", "AKIA", "Q3EGRJ7XPL2M4NB5")
}

fn github_token() -> String {
    format!("{}{}", "ghp_", "x7Rk2Lq9Zt4Wm8Nc3Vb6Hs1Jd5Fg0Py2Ea7Q")
}

fn password() -> String {
    format!("{}{}", "S3cr3t-", "Pa55w0rd!x9")
}

fn random_token() -> String {
    format!("{}{}", "q8Zr2T7mXv9L4kP", "1wN3cB6yH0jF5gE")
}

fn pem_block() -> String {
    format!(
        "-----BEGIN {}-----\nMIIEpAIBAAKCAQEA1x2Zk9Lq8Wm3Nc7Vb4Hs\nQ2xL7vP4wN8cB1zR6yH0jF5gE2aT9mK3d\n-----END {}-----\n",
        "OPENSSH PRIVATE KEY", "OPENSSH PRIVATE KEY"
    )
}

/// (code, path, line, column) of each finding.
fn places(out: &Outcome) -> Vec<(String, String, u32, u32)> {
    out.findings
        .iter()
        .map(|f| {
            (
                f.code.clone().unwrap_or_default(),
                f.path.clone().unwrap_or_default(),
                f.line.unwrap_or(0),
                f.column.unwrap_or(0),
            )
        })
        .collect()
}

fn row(code: &str, path: &str, line: u32, column: u32) -> (String, String, u32, u32) {
    (code.to_owned(), path.to_owned(), line, column)
}

#[test]
fn secrets_are_reported_by_kind_and_place_and_never_echoed() {
    let ws = TestWorkspace::new().unwrap();
    ws.write(
        ".env",
        format!(
            "# deploy settings\nAWS_ACCESS_KEY_ID={}\nSERVICE_TOKEN={}\n",
            aws_key_id(),
            random_token()
        ),
    )
    .unwrap();
    ws.write(
        "app/settings.py",
        format!(
            "import os\n\nDB_PASSWORD = \"{}\"\nAPI_KEY = os.environ[\"API_KEY\"]\n",
            password()
        ),
    )
    .unwrap();
    ws.write(
        "deploy/ci.yml",
        format!(
            "steps:\n  - run: git clone https://x:{}@github.com/o/r\n",
            github_token()
        ),
    )
    .unwrap();
    ws.write("keys/id_ed25519", pem_block()).unwrap();
    ws.write(
        "README.md",
        "# demo\nSet `DB_PASSWORD` in the environment.\n",
    )
    .unwrap();

    let out = ws.run::<Security>(json!({})).unwrap();
    assert!(!out.passed);
    assert_eq!(
        places(&out),
        [
            row("secret-aws-access-key-id", ".env", 2, 19),
            row("secret-high-entropy-string", ".env", 3, 15),
            row("secret-hardcoded-secret", "app/settings.py", 3, 16),
            row("secret-github-token", "deploy/ci.yml", 2, 30),
            row("secret-private-key", "keys/id_ed25519", 1, 1),
        ]
    );
    assert_eq!(
        out.summary, "5 errors; 5 possible secrets in 5 files",
        "{out:#?}"
    );
    let f = &out.findings[0];
    assert!(
        f.message
            .starts_with("An AWS access key id in `.env` (sha256:"),
        "{}",
        f.message
    );
    assert_eq!(
        f.message,
        format!(
            "An AWS access key id in `.env` ({})",
            detect::fingerprint(&aws_key_id())
        )
    );
    assert!(
        f.fix_hint
            .as_deref()
            .unwrap()
            .contains(".checkrail/secrets-allow")
    );

    // Nothing the rule returns contains a secret, in any field.
    let text = serde_json::to_string(&out).unwrap();
    for secret in [
        aws_key_id(),
        random_token(),
        password(),
        github_token(),
        "MIIEpAIBAAKCAQEA1x2Zk9Lq8Wm3Nc7Vb4Hs".to_owned(),
    ] {
        assert!(
            !text.contains(&secret),
            "the outcome echoes a secret: {text}"
        );
        assert!(
            !text.contains(&secret[..12]),
            "the outcome echoes part of a secret: {text}"
        );
    }

    // Removed: clean.
    for path in [
        ".env",
        "app/settings.py",
        "deploy/ci.yml",
        "keys/id_ed25519",
    ] {
        std::fs::remove_file(ws.path().join(path)).unwrap();
    }
    let out = ws.run::<Security>(json!({})).unwrap();
    assert!(out.passed && out.findings.is_empty(), "{out:#?}");
    assert_eq!(out.summary, "no problems found; no secrets in 1 file");
}

#[test]
fn build_output_dependencies_vcs_binaries_and_large_files_are_skipped() {
    let ws = TestWorkspace::new().unwrap();
    let line = format!("key = \"{}\"\n", aws_key_id());
    for dir in [
        ".git",
        "target/debug",
        "node_modules/pkg",
        "web/node_modules/pkg",
        ".venv/lib",
        "py/__pycache__",
    ] {
        ws.write(&format!("{dir}/leak.txt"), &line).unwrap();
    }
    ws.write("blob.bin", format!("\0\u{1}{line}")).unwrap();
    ws.write("big.log", format!("{line}{}", "x".repeat(2_000)))
        .unwrap();
    ws.write("src/ok.rs", "fn main() {}\n").unwrap();
    std::os::unix::fs::symlink(ws.path().join("big.log"), ws.path().join("link.log")).unwrap();

    let out = ws
        .run::<Security>(json!({"max_file_bytes": 1_000}))
        .unwrap();
    assert!(out.passed, "{out:#?}");
    assert_eq!(codes(&out), ["file-too-large"]);
    assert_eq!(
        out.findings[0].message,
        "1 file over 1000 bytes was not scanned for secrets, e.g. `big.log`"
    );
    assert_eq!(out.summary, "no problems found; no secrets in 1 file");

    // With the default cap the large file is read, and its key reported.
    let out = ws.run::<Security>(json!({})).unwrap();
    assert_eq!(
        places(&out),
        [row("secret-aws-access-key-id", "big.log", 1, 8)]
    );
}

#[test]
fn the_allow_list_and_inline_markers_allow_secrets() {
    let ws = TestWorkspace::new().unwrap();
    let key = aws_key_id();
    ws.write(
        "src/a.py",
        format!(
            "A = \"{key}\"\nB = \"{}\"  # checkrail:allow-secret (fixture)\n# checkrail:allow-secret\nC_TOKEN = \"{}\"\n",
            github_token(),
            random_token(),
        ),
    )
    .unwrap();
    ws.write("src/b.py", format!("T = \"{}\"\n", github_token()))
        .unwrap();
    ws.write(
        "tests/fixtures/creds.json",
        format!("{{\"token\": \"{}\"}}\n", github_token()),
    )
    .unwrap();
    ws.write("docs/setup.md", format!("id {key}\nid {key}\n"))
        .unwrap();

    // Without the allow-list: every one but the inline-allowed.
    let out = ws.run::<Security>(json!({})).unwrap();
    assert_eq!(
        places(&out),
        [
            row("secret-aws-access-key-id", "docs/setup.md", 1, 4),
            row("secret-aws-access-key-id", "docs/setup.md", 2, 4),
            row("secret-aws-access-key-id", "src/a.py", 1, 6),
            row("secret-github-token", "src/b.py", 1, 6),
            row("secret-github-token", "tests/fixtures/creds.json", 1, 12),
        ],
        "{out:#?}"
    );
    assert!(out.summary.ends_with("(2 allowed)"), "{}", out.summary);

    // The AWS key by fingerprint (everywhere), `src/b.py:1` by place, the
    // fixtures by glob; a bad entry is a warning at its line.
    ws.write(
        ".checkrail/secrets-allow",
        format!(
            "# reviewed\n{}  # fake key from the docs\nsrc/b.py:1\ntests/fixtures/**\nsha256:nothex\n../outside\n",
            detect::fingerprint(&key)
        ),
    )
    .unwrap();
    let out = ws.run::<Security>(json!({})).unwrap();
    assert!(out.passed, "{out:#?}");
    assert_eq!(
        places(&out),
        [
            row("allow-entry-invalid", ".checkrail/secrets-allow", 5, 0),
            row("allow-entry-invalid", ".checkrail/secrets-allow", 6, 0),
        ]
    );
    assert_eq!(
        out.summary, "2 warnings; no secrets in 3 files (6 allowed)",
        "{out:#?}"
    );

    // Another allow-list file, by config; the default one is then ignored.
    ws.write("security/allow.txt", "src/**\n").unwrap();
    let out = ws
        .run::<Security>(json!({"allow_file": "security/allow.txt"}))
        .unwrap();
    assert_eq!(
        codes(&out),
        [
            "secret-aws-access-key-id",
            "secret-aws-access-key-id",
            "secret-github-token"
        ]
    );
}

#[test]
fn cwd_narrows_the_scan_and_paths_stay_workspace_relative() {
    let ws = TestWorkspace::new().unwrap();
    ws.write("svc/config.yaml", format!("token: {}\n", github_token()))
        .unwrap();
    ws.write("other/config.yaml", format!("token: {}\n", github_token()))
        .unwrap();
    let out = ws.run::<Security>(json!({"cwd": "./svc/"})).unwrap();
    assert_eq!(
        places(&out),
        [row("secret-github-token", "svc/config.yaml", 1, 8)]
    );

    let out = ws.run::<Security>(json!({"cwd": "nowhere"})).unwrap();
    assert_eq!(codes(&out), ["missing"]);
    assert!(!out.passed);

    let err = ws.run::<Security>(json!({"cwd": "../up"})).unwrap_err();
    assert!(
        err.to_string()
            .contains("`cwd` `../up` leads outside the workspace"),
        "{err}"
    );
    let err = ws.run::<Security>(json!({"secrets": false})).unwrap_err();
    assert!(err.to_string().contains("every mode is off"), "{err}");
    let err = ws.run::<Security>(json!({"audit": ["maven"]})).unwrap_err();
    assert!(err.to_string().contains("maven"), "{err}");
}

#[test]
fn auditors_need_their_lock_file_their_database_and_their_grant() {
    let ws = TestWorkspace::new().unwrap();
    let cfg =
        |audit: &str| json!({"secrets": false, "audit": [audit], "advisory_db": "advisory-db"});

    // No lock files.
    for (audit, lock) in [
        ("cargo", "Cargo.lock"),
        ("pip", "requirements.txt"),
        ("npm", "package-lock.json"),
    ] {
        let out = ws
            .run_granting::<Security>(cfg(audit), &["cargo", "pip-audit", "npm"])
            .unwrap();
        assert!(!out.passed);
        assert_eq!(
            places(&out),
            [row("lockfile-missing", lock, 0, 0)],
            "{audit}"
        );
    }

    // Unless unavailable tools are skipped.
    let mut skip =
        json!({"secrets": false, "audit": ["cargo", "pip", "npm"], "skip_unavailable": true});
    let out = ws.run_granting::<Security>(skip.clone(), &[]).unwrap();
    assert!(out.passed, "{out:#?}");
    assert!(
        out.findings
            .iter()
            .all(|f| f.severity == Severity::Info && f.message.starts_with("skipped: "))
    );
    assert_eq!(codes(&out), ["lockfile-missing"; 3]);
    skip["bandit"] = json!(true);
    let out = ws.run_granting::<Security>(skip, &[]).unwrap();
    assert!(out.passed, "{out:#?}");
    assert_eq!(codes(&out)[3], "exec-not-granted");

    ws.write("Cargo.lock", "version = 4\n").unwrap();
    ws.write("requirements.txt", "flask==0.5\n").unwrap();
    ws.write("package-lock.json", "{\"lockfileVersion\": 3}\n")
        .unwrap();

    // The advisory database is looked for before cargo runs.
    let out = ws
        .run_granting::<Security>(cfg("cargo"), &["cargo"])
        .unwrap();
    assert_eq!(codes(&out), ["advisory-db-missing"]);
    assert_eq!(out.summary, "1 error; cargo audit did not run");
    ws.mkdir("advisory-db").unwrap();

    // Not granted: refused with the line to add, before anything runs.
    for audit in ["cargo", "pip", "npm"] {
        let out = ws.run_granting::<Security>(cfg(audit), &[]).unwrap();
        assert_eq!(codes(&out), ["exec-not-granted"], "{audit}: {out:#?}");
        assert!(
            out.findings[0]
                .fix_hint
                .as_deref()
                .unwrap()
                .contains("checkrail.toml"),
            "{out:#?}"
        );
    }
}

#[test]
fn schema_capabilities_and_inputs() {
    let schema = config_schema_of::<Security>();
    let props = schema["properties"].as_object().unwrap();
    for key in [
        "secrets",
        "allow_file",
        "audit",
        "advisory_db",
        "bandit",
        "levels",
        "max_file_bytes",
    ] {
        assert!(props.contains_key(key), "{key} missing from {schema}");
    }
    assert_eq!(
        Security::CAPABILITIES,
        ["exec:cargo", "exec:pip-audit", "exec:npm", "exec:bandit"]
    );
    assert!(Security::JUDGING_FILES.contains(&".checkrail/secrets-allow"));
    assert_eq!(inputs_of::<Security>(json!({})), ["**"]);
    assert_eq!(inputs_of::<Security>(json!({"cwd": "svc/"})), ["svc/**"]);
    assert!(inputs_of::<Security>(json!({"audit": ["npm"]})).is_empty());
    assert_eq!(
        inputs_of::<Security>(json!({"audit": ["npm"], "inputs": ["package-lock.json"]})),
        ["package-lock.json"]
    );
}

/// Fails (never skips) when bandit is missing.
fn require_bandit() {
    require_program(
        "bandit",
        "install it (`pip install bandit`) and run the tests with it first on PATH (scripts/test.sh does this)",
    );
}

const INSECURE_PY: &str = "import subprocess\n\nPASSWORD = \"hunter2hunter2\"\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n\n\nexec(\"print(1)\")\n";

#[test]
fn bandit_reports_issues_at_their_line_with_mapped_severities() {
    require_bandit();
    let ws = TestWorkspace::new().unwrap();
    ws.write("py/app.py", INSECURE_PY).unwrap();
    // Dependencies' code is not the project's.
    ws.write("py/.venv/lib/site.py", INSECURE_PY).unwrap();
    let cfg = json!({"secrets": false, "bandit": true, "cwd": "py"});

    let out = ws
        .run_granting::<Security>(cfg.clone(), &["bandit"])
        .unwrap();
    assert!(!out.passed, "{out:#?}");
    let got: Vec<(&str, Option<&str>, Option<u32>, Severity)> = out
        .findings
        .iter()
        .map(|f| {
            (
                f.code.as_deref().unwrap(),
                f.path.as_deref(),
                f.line,
                f.severity,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("B404", Some("py/app.py"), Some(1), Severity::Info),
            ("B105", Some("py/app.py"), Some(3), Severity::Info),
            ("B602", Some("py/app.py"), Some(7), Severity::Error),
            ("B102", Some("py/app.py"), Some(10), Severity::Warning),
        ],
        "{out:#?}"
    );
    assert_eq!(out.findings[2].column, Some(12));
    assert!(
        !serde_json::to_string(&out).unwrap().contains("hunter2"),
        "bandit's quote of the password reached the outcome: {out:#?}"
    );
    assert_eq!(out.summary, "1 error, 1 warning; bandit: 4 issues");

    // Levels are configurable: nothing blocks when high is a warning.
    let mut relaxed = cfg.clone();
    relaxed["levels"] = json!({"high": "warning"});
    let out = ws.run_granting::<Security>(relaxed, &["bandit"]).unwrap();
    assert!(out.passed, "{out:#?}");

    // Fixed: clean.
    ws.write("py/app.py", "def add(a, b):\n    return a + b\n")
        .unwrap();
    let out = ws.run_granting::<Security>(cfg, &["bandit"]).unwrap();
    assert!(out.passed && out.findings.is_empty(), "{out:#?}");
    assert_eq!(out.summary, "no problems found; bandit: no issues");
}
