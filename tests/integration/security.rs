//! The bundled `security` rule through the real host: planted secrets are
//! reported at their file and line by kind, an allow-listed one is not, and
//! no secret reaches the report.

use crate::support::{Workspace, check_phase, one_phase};

#[test]
fn planted_secrets_are_found_in_the_sandbox_and_never_echoed() {
    // Assembled at run time, so this file holds no secret.
    let key_id = format!("{}{}", "AKIA", "Z7QW3ERT5YUI9OPL");
    let password = format!("{}{}", "Gr33n-", "Ap9le!Tr33x");
    let fixture_token = format!("{}{}", "ghp_", "N4bV7cX1zL8kJ5hG2fD9sA6pO3iU0yT7rE4w");

    let env = format!("# local settings\nAWS_ACCESS_KEY_ID={key_id}\n");
    let settings = format!("import os\n\nDB_PASSWORD = \"{password}\"\n");
    let fixture = format!("{{\"token\": \"{fixture_token}\"}}\n");
    let ws = Workspace::new()
        .file("deploy/.env", env.as_str())
        .file("app/settings.py", settings)
        .file("tests/fixtures/login.json", fixture)
        .file(
            ".checkrail/secrets-allow",
            "# fake credentials for tests\ntests/fixtures/**\n",
        )
        // Never scanned: dependencies.
        .file("node_modules/pkg/index.js", env.as_str())
        .build();

    let workflow = one_phase("        - rule: security\n");
    let report = check_phase(ws.path(), &workflow);
    assert!(!report.passed);
    let rule = &report.rules[0];
    let got: Vec<(Option<&str>, Option<u32>, Option<&str>)> = rule
        .findings
        .iter()
        .map(|f| (f.path.as_deref(), f.line, f.code.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (
                Some("app/settings.py"),
                Some(3),
                Some("secret-hardcoded-secret")
            ),
            (
                Some("deploy/.env"),
                Some(2),
                Some("secret-aws-access-key-id")
            ),
        ],
        "{rule:#?}"
    );
    assert!(
        rule.findings[1]
            .message
            .starts_with("An AWS access key id in `deploy/.env` (sha256:"),
        "{rule:#?}"
    );

    let json = serde_json::to_string(&report).unwrap();
    for secret in [&key_id, &password, &fixture_token] {
        assert!(
            !json.contains(secret.as_str()),
            "a secret reached the report: {json}"
        );
    }

    // Removing the secrets makes the checkpoint pass.
    std::fs::write(ws.path().join("deploy/.env"), "AWS_ACCESS_KEY_ID=\n").unwrap();
    std::fs::write(
        ws.path().join("app/settings.py"),
        "import os\n\nDB_PASSWORD = os.environ[\"DB_PASSWORD\"]\n",
    )
    .unwrap();
    let report = check_phase(ws.path(), &workflow);
    assert!(report.passed, "{:#?}", report.rules[0]);
}
