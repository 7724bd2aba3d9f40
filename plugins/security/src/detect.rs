//! Finding credentials in text: known token formats, private key blocks,
//! hard-coded assignments to secret-like names, and random-looking strings
//! next to such names.
//!
//! A hit carries where the secret is and a fingerprint of it, never the
//! secret itself, so nothing downstream can echo it by mistake.

use regex_lite::Regex;
use sha2::{Digest, Sha256};

/// The kind of credential a hit looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    AwsAccessKeyId,
    AwsSecretAccessKey,
    GithubToken,
    GitlabToken,
    SlackToken,
    StripeKey,
    GoogleApiKey,
    PrivateKey,
    Jwt,
    Assignment,
    HighEntropy,
}

impl Kind {
    /// Stable id, used in the finding code `secret-<id>`.
    pub fn id(self) -> &'static str {
        match self {
            Kind::AwsAccessKeyId => "aws-access-key-id",
            Kind::AwsSecretAccessKey => "aws-secret-access-key",
            Kind::GithubToken => "github-token",
            Kind::GitlabToken => "gitlab-token",
            Kind::SlackToken => "slack-token",
            Kind::StripeKey => "stripe-live-key",
            Kind::GoogleApiKey => "google-api-key",
            Kind::PrivateKey => "private-key",
            Kind::Jwt => "jwt",
            Kind::Assignment => "hardcoded-secret",
            Kind::HighEntropy => "high-entropy-string",
        }
    }

    /// What the agent reads.
    pub fn label(self) -> &'static str {
        match self {
            Kind::AwsAccessKeyId => "an AWS access key id",
            Kind::AwsSecretAccessKey => "an AWS secret access key",
            Kind::GithubToken => "a GitHub token",
            Kind::GitlabToken => "a GitLab access token",
            Kind::SlackToken => "a Slack token",
            Kind::StripeKey => "a Stripe live key",
            Kind::GoogleApiKey => "a Google API key",
            Kind::PrivateKey => "a private key",
            Kind::Jwt => "a JSON Web Token",
            Kind::Assignment => "a hard-coded password, secret or token",
            Kind::HighEntropy => "a random-looking string next to a secret-like name",
        }
    }
}

/// One credential found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub kind: Kind,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// `sha256:` and the first 16 hex digits of the secret's SHA-256.
    pub fingerprint: String,
}

/// The fingerprint of a secret: `sha256:` and 16 hex digits.
pub fn fingerprint(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A token format: lines containing one of `triggers` are matched against
/// `regex`, whose first group is the secret.
struct Format {
    kind: Kind,
    triggers: &'static [&'static str],
    /// Whether `triggers` are looked for in the lowercased line.
    lowercase: bool,
    regex: Regex,
    /// Extra test on the secret.
    accept: fn(&str) -> bool,
}

/// Lowercase fragments of names that hold secrets; a line with none of them
/// is never checked for assignments or random-looking strings.
const SECRET_WORDS: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "credential",
    "auth",
];

/// What a value that is not a real secret looks like.
const PLACEHOLDERS: &[&str] = &[
    "example",
    "changeme",
    "change_me",
    "change-me",
    "placeholder",
    "dummy",
    "your",
    "xxxx",
    "****",
    "....",
    "redacted",
    "todo",
    "fixme",
    "<",
    ">",
    "${",
    "{{",
    "%(",
    "%s",
    "$(",
];

/// Every detector, compiled once per check.
pub struct Detector {
    formats: Vec<Format>,
    assignment: Regex,
    private_key: Regex,
}

impl Detector {
    pub fn new() -> Result<Self, regex_lite::Error> {
        let format = |kind, triggers, lowercase, pattern: &str, accept| {
            Ok::<_, regex_lite::Error>(Format {
                kind,
                triggers,
                lowercase,
                regex: Regex::new(pattern)?,
                accept,
            })
        };
        let any = |_: &str| true;
        let formats = vec![
            format(
                Kind::AwsAccessKeyId,
                &["AKIA", "ASIA"],
                false,
                r"\b((?:AKIA|ASIA)[A-Z0-9]{16})\b",
                any,
            )?,
            format(
                Kind::AwsSecretAccessKey,
                &["aws"],
                true,
                r#"(?i)aws[a-z0-9_.-]*(?:secret|private)[a-z0-9_.-]*["']?\s*(?::=|=>|=|:)\s*["']?([a-z0-9/+]{40})(?:[^a-z0-9/+=]|$)"#,
                |s| entropy(s) >= 3.5,
            )?,
            format(
                Kind::GithubToken,
                &["ghp_", "gho_", "ghs_", "ghu_", "ghr_", "github_pat_"],
                false,
                r"\b(gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{40,255})\b",
                any,
            )?,
            format(
                Kind::GitlabToken,
                &["glpat-"],
                false,
                r"\b(glpat-[A-Za-z0-9_-]{20,})",
                any,
            )?,
            format(
                Kind::SlackToken,
                &["xox"],
                false,
                r"\b(xox[abprs]-[A-Za-z0-9-]{10,})",
                any,
            )?,
            format(
                Kind::StripeKey,
                &["_live_"],
                false,
                r"\b([sr]k_live_[A-Za-z0-9]{16,})\b",
                any,
            )?,
            format(
                Kind::GoogleApiKey,
                &["AIza"],
                false,
                r"\b(AIza[0-9A-Za-z_-]{35})",
                any,
            )?,
            format(
                Kind::Jwt,
                &["eyJ"],
                false,
                r"\b(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})",
                any,
            )?,
        ];
        let assignment = Regex::new(
            r#"(?i)[a-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|auth[_-]?key|credentials?)[a-z0-9_.-]*["']?\s*(?::=|=>|==|=|:)\s*[bru]?["'`]([^"'`\s]{8,200})["'`]"#,
        )?;
        let private_key = Regex::new(r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----")?;
        Ok(Self {
            formats,
            assignment,
            private_key,
        })
    }

    /// Every credential in `text`, in order; at most one per place.
    pub fn scan(&self, text: &str) -> Vec<Hit> {
        let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
        let mut hits = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
            // Byte spans already reported on this line, with their hits.
            let mut spans: Vec<(usize, usize)> = Vec::new();
            let mut lower: Option<String> = None;
            let mut push =
                |kind, (start, end): (usize, usize), secret: &str, spans: &mut Vec<_>| {
                    if spans.iter().any(|&(s, e)| start < e && s < end) {
                        return;
                    }
                    spans.push((start, end));
                    hits.push(Hit {
                        kind,
                        line: number,
                        column: column(line, start),
                        fingerprint: fingerprint(secret),
                    });
                };

            if line.contains("PRIVATE KEY") && self.private_key.is_match(line) {
                let body = key_body(&lines[i + 1..]);
                if body.len() >= 32 {
                    // The hit is at the marker; the body lines below are
                    // part of it.
                    let start = line.find("-----BEGIN").unwrap_or(0);
                    push(Kind::PrivateKey, (start, line.len()), &body, &mut spans);
                }
            }
            for format in &self.formats {
                let haystack: &str = if format.lowercase {
                    lower
                        .get_or_insert_with(|| line.to_ascii_lowercase())
                        .as_str()
                } else {
                    line
                };
                if !format.triggers.iter().any(|t| haystack.contains(t)) {
                    continue;
                }
                for caps in format.regex.captures_iter(line) {
                    if let Some(m) = caps.get(1)
                        && (format.accept)(m.as_str())
                    {
                        push(format.kind, (m.start(), m.end()), m.as_str(), &mut spans);
                    }
                }
            }
            let lower = lower.get_or_insert_with(|| line.to_ascii_lowercase());
            if !SECRET_WORDS.iter().any(|w| lower.contains(w)) {
                continue;
            }
            for caps in self.assignment.captures_iter(line) {
                if let Some(m) = caps.get(1)
                    && looks_secret(m.as_str())
                {
                    push(
                        Kind::Assignment,
                        (m.start(), m.end()),
                        m.as_str(),
                        &mut spans,
                    );
                }
            }
            for (start, token) in tokens(line) {
                if random_looking(token) {
                    push(
                        Kind::HighEntropy,
                        (start, start + token.len()),
                        token,
                        &mut spans,
                    );
                }
            }
        }
        drop_key_bodies(hits, &lines)
    }
}

/// The base64 body of a PEM block starting after its BEGIN line: the lines up
/// to the END marker (or the end of the text), whitespace and headers
/// (`Proc-Type: …`) left out, quotes and string escapes of a key embedded in
/// source code stripped.
fn key_body(rest: &[&str]) -> String {
    let mut body = String::new();
    for line in rest {
        if line.contains("-----END") {
            break;
        }
        if line.contains(':') && !line.contains("\\n") {
            continue;
        }
        body.extend(
            line.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/' || *c == '='),
        );
        if body.len() > 64 * 1024 {
            break;
        }
    }
    body
}

/// Keeps hits inside a private key block's body out (the block is one hit).
fn drop_key_bodies(hits: Vec<Hit>, lines: &[&str]) -> Vec<Hit> {
    let mut inside: Vec<(u32, u32)> = Vec::new();
    for hit in hits.iter().filter(|h| h.kind == Kind::PrivateKey) {
        let first = hit.line as usize;
        let end = lines[first..]
            .iter()
            .position(|l| l.contains("-----END"))
            .map_or(lines.len(), |p| first + p + 1);
        inside.push((hit.line + 1, u32::try_from(end).unwrap_or(u32::MAX)));
    }
    hits.into_iter()
        .filter(|h| {
            h.kind == Kind::PrivateKey || !inside.iter().any(|&(a, b)| h.line >= a && h.line <= b)
        })
        .collect()
}

/// 1-based character column of byte offset `at` in `line`.
fn column(line: &str, at: usize) -> u32 {
    let chars = line.get(..at).map_or(at, |s| s.chars().count());
    u32::try_from(chars + 1).unwrap_or(u32::MAX)
}

/// Shannon entropy of `s`, in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
    }
    let len = s.len() as f64;
    if len == 0.0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|&&n| n > 0)
        .map(|&n| {
            let p = f64::from(n) / len;
            -p * p.log2()
        })
        .sum()
}

/// Whether a quoted value assigned to a secret-like name is a real secret
/// rather than a placeholder, a reference or a word.
fn looks_secret(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    if value.len() < 8
        || PLACEHOLDERS.iter().any(|p| lower.contains(p))
        || ["http://", "https://", "/", "./", "../", "~/"]
            .iter()
            .any(|p| lower.starts_with(p))
    {
        return false;
    }
    // An environment variable or constant name, not a value.
    if value
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && value.contains('_')
    {
        return false;
    }
    let classes = [
        value.chars().any(|c| c.is_ascii_lowercase()),
        value.chars().any(|c| c.is_ascii_uppercase()),
        value.chars().any(|c| c.is_ascii_digit()),
        value.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    classes.iter().filter(|&&c| c).count() >= 2 && entropy(value) >= 3.0
}

/// Runs of base64 or hex characters at least 20 long, with their byte
/// offsets.
fn tokens(line: &str) -> impl Iterator<Item = (usize, &str)> {
    // `=` only as base64 padding, so that `NAME=value` splits in two.
    let is_token = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'-');
    let bytes = line.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            while i < bytes.len() && !is_token(bytes[i]) {
                i += 1;
            }
            let start = i;
            while i < bytes.len() && is_token(bytes[i]) {
                i += 1;
            }
            let token = &line[start..i];
            while i < bytes.len() && bytes[i] == b'=' {
                i += 1;
            }
            if token.len() >= 20 {
                return Some((start, token));
            }
        }
        None
    })
}

/// Whether a token on a line that names a secret looks randomly generated:
/// letters and digits mixed, not itself a name, and close to the entropy of
/// random hex or base64 of its length.
fn random_looking(token: &str) -> bool {
    let lower = token.to_ascii_lowercase();
    if SECRET_WORDS.iter().any(|w| lower.contains(w))
        || !token.chars().any(|c| c.is_ascii_digit())
        || !token.chars().any(|c| c.is_ascii_alphabetic())
        || PLACEHOLDERS.iter().any(|p| lower.contains(p))
    {
        return false;
    }
    let bits = entropy(token);
    let ceiling = (token.len() as f64).log2();
    if token.chars().all(|c| c.is_ascii_hexdigit()) {
        token.len() >= 32 && bits >= (0.8 * ceiling).min(3.0)
    } else {
        bits >= (0.8 * ceiling).min(4.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Secrets are assembled at run time so that this file holds none.
    fn aws_key_id() -> String {
        format!("{}{}", "AKIA", "Q3EGRJ7XPL2M4NB5")
    }

    fn scan(text: &str) -> Vec<(Kind, u32, u32)> {
        Detector::new()
            .unwrap()
            .scan(text)
            .into_iter()
            .map(|h| (h.kind, h.line, h.column))
            .collect()
    }

    #[test]
    fn known_formats_are_found_at_their_column() {
        let gh = format!("ghp_{}", "x7Rk2Lq9Zt4Wm8Nc3Vb6Hs1Jd5Fg0Py2Ea7Q");
        let gl = format!("glpat-{}", "Zq8rT2mX9vL4kP7wN3cB");
        let slack = format!("xoxb-{}", "1234567890-ab12cd34ef56");
        let stripe = format!("sk_live_{}", "4eC39HqLyjWDarjtT1zdp7dc");
        let google = format!("AIza{}", "SyD3kT9mQ2xL7vP4wN8cB1zR6yH0jF5gE2a");
        let text = format!(
            "id = \"{}\"\nheader: Bearer {gh}\n  gitlab {gl}\nslack={slack}\n{stripe}\nkey: {google}\n",
            aws_key_id()
        );
        assert_eq!(
            scan(&text),
            [
                (Kind::AwsAccessKeyId, 1, 7),
                (Kind::GithubToken, 2, 16),
                (Kind::GitlabToken, 3, 10),
                (Kind::SlackToken, 4, 7),
                (Kind::StripeKey, 5, 1),
                (Kind::GoogleApiKey, 6, 6),
            ]
        );
    }

    #[test]
    fn a_token_is_reported_once_even_when_several_detectors_match() {
        let text = format!(
            "api_token = \"ghp_{}\"\n",
            "x7Rk2Lq9Zt4Wm8Nc3Vb6Hs1Jd5Fg0Py2Ea7Q"
        );
        assert_eq!(scan(&text), [(Kind::GithubToken, 1, 14)]);
    }

    #[test]
    fn aws_secret_keys_need_an_aws_name() {
        let value = format!("{}{}", "wJalrXUtnFEMI/K7MDENG/", "bPxRfiCYzQ8k3LmN2v");
        assert_eq!(value.len(), 40);
        assert_eq!(
            scan(&format!("AWS_SECRET_ACCESS_KEY={value}\n")),
            [(Kind::AwsSecretAccessKey, 1, 23)]
        );
        // Without a secret-like name next to it, a 40-character string is
        // nothing special.
        assert!(scan(&format!("checksum {value}\n")).is_empty());
    }

    #[test]
    fn private_key_blocks_need_a_body() {
        let begin = format!("-----BEGIN {}-----", "RSA PRIVATE KEY");
        let text = format!(
            "const KEY: &str = \"\n{begin}\nMIIEpAIBAAKCAQEA1x2Zk9Lq8Wm3Nc7Vb4Hs\nQ2xL7vP4wN8cB1zR6yH0jF5gE2aT9mK3d\n-----END RSA PRIVATE KEY-----\n\";\n"
        );
        assert_eq!(scan(&text), [(Kind::PrivateKey, 2, 1)]);
        // Code that only names the marker is not a key.
        assert!(scan(&format!("if line.starts_with(\"{begin}\") {{\n}}\n")).is_empty());
    }

    #[test]
    fn jwts_are_found() {
        let jwt = format!(
            "{}.{}.{}",
            "eyJhbGciOiJIUzI1NiJ9", "eyJzdWIiOiIxMjM0NTY3ODkwIn0", "dBjftJeZ4CVPmB92K27uhbUJU1p1r"
        );
        assert_eq!(scan(&format!("curl -H 'x: {jwt}'\n")), [(Kind::Jwt, 1, 13)]);
    }

    #[test]
    fn assignments_of_random_values_are_found_and_placeholders_are_not() {
        let real = format!("{}{}", "S3cr3t-", "Pa55w0rd!x9");
        assert_eq!(
            scan(&format!("DB_PASSWORD = \"{real}\"\n")),
            [(Kind::Assignment, 1, 16)]
        );
        assert_eq!(
            scan(&format!("    \"client_secret\": '{real}',\n")),
            [(Kind::Assignment, 1, 23)]
        );
        for quiet in [
            "password = \"changeme123\"",
            "password = \"${DB_PASSWORD}\"",
            "token = \"<your token here>\"",
            "api_key = os.environ[\"API_KEY\"]",
            "secret = \"API_SECRET_NAME\"",
            "password = \"aaaaaaaaaaaa\"",
            "password = \"short\"",
            "token_url = \"https://example.com/oauth/token\"",
            "let token = lexer.next_token();",
        ] {
            assert!(scan(quiet).is_empty(), "{quiet}: {:?}", scan(quiet));
        }
    }

    #[test]
    fn random_strings_near_secret_names_are_found() {
        let random = format!("{}{}", "q8Zr2T7mXv9L4kP", "1wN3cB6yH0jF5gE");
        assert_eq!(
            scan(&format!("export SERVICE_TOKEN={random}\n")),
            [(Kind::HighEntropy, 1, 22)]
        );
        let hex = format!(
            "{}{}",
            "9f86d081884c7d659a2feaa0", "c55ad015a3bf4f1b2b0b822c"
        );
        assert_eq!(scan(&format!("auth: {hex}\n")), [(Kind::HighEntropy, 1, 7)]);
        // The same string without a secret-like name, or a long name
        // without randomness, is not reported.
        assert!(scan(&format!("sha: {hex}\n")).is_empty());
        assert!(scan("let access_token_refresh_interval_seconds = 30;\n").is_empty());
        assert!(scan("MAX_TOKEN_LENGTH_FOR_DEFAULT_MODEL_2 = 4\n").is_empty());
    }

    #[test]
    fn fingerprints_are_stable_and_short() {
        let f = fingerprint("abc");
        assert_eq!(f, "sha256:ba7816bf8f01cfea");
        assert_ne!(fingerprint("abd"), f);
    }

    #[test]
    fn entropy_measures_randomness() {
        assert_eq!(entropy(""), 0.0);
        assert_eq!(entropy("aaaa"), 0.0);
        assert!((entropy("abcd") - 2.0).abs() < 1e-9);
    }
}
