//! The dashboard's credential: a password a human sets at a terminal,
//! kept as a bcrypt hash in the per-user state directory (never in the
//! workspace), and the browser sessions signed in with it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::trusted::{StateDir, write_private};
use crate::{Error, Result};

/// File name of the login hash in the state directory.
const LOGIN_FILE: &str = "dashboard-login";
/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 12;
/// How long a browser stays signed in.
const SIGNED_IN_FOR: Duration = Duration::from_secs(8 * 3600);

/// Where the login hash of `state` lives.
pub fn login_file(state: &StateDir) -> PathBuf {
    state.root().join(LOGIN_FILE)
}

/// Sets the dashboard password (a bcrypt hash, file mode 0600).
pub fn set_password(state: &StateDir, password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(Error::Refused(format!(
            "the dashboard password must be at least {MIN_PASSWORD} characters long"
        )));
    }
    let hash = bcrypt::hash(password, bcrypt::DEFAULT_COST)
        .map_err(|e| Error::Refused(format!("hash the dashboard password: {e}")))?;
    Ok(write_private(&login_file(state), hash.as_bytes())?)
}

/// Signed-in browsers, in memory: a restart signs everyone out.
pub struct Logins {
    file: PathBuf,
    sessions: Mutex<HashMap<String, Signed>>,
}

/// One signed-in browser.
#[derive(Clone)]
pub struct Signed {
    /// Token every form must echo (CSRF).
    pub csrf: String,
    until: Instant,
}

impl Logins {
    /// Logins checked against the hash in `file`.
    pub fn new(file: &Path) -> Self {
        Self {
            file: file.to_owned(),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a password has been set at all.
    pub fn configured(&self) -> bool {
        self.file.is_file()
    }

    /// Checks `password`; on success a new browser session id.
    pub fn sign_in(&self, password: &str) -> Option<String> {
        let hash = std::fs::read_to_string(&self.file).ok()?;
        if !bcrypt::verify(password, hash.trim()).unwrap_or(false) {
            return None;
        }
        let id = random_token();
        let signed = Signed {
            csrf: random_token(),
            until: Instant::now() + SIGNED_IN_FOR,
        };
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, s| s.until > Instant::now());
        sessions.insert(id.clone(), signed);
        Some(id)
    }

    /// The signed-in browser with session `id`, if still valid.
    pub fn get(&self, id: &str) -> Option<Signed> {
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions
            .get(id)
            .filter(|s| s.until > Instant::now())
            .cloned()
    }

    /// Signs a browser out.
    pub fn sign_out(&self, id: &str) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.remove(id);
    }
}

/// 32 random bytes, hex.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // The OS source does not fail on supported systems; a zero token would
    // only be a weaker one.
    let _ = getrandom::fill(&mut bytes);
    hex::encode(bytes)
}

/// Compares secrets without leaking where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_password_signs_in() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::at(dir.path()).unwrap();
        assert!(set_password(&state, "short").is_err());
        let logins = Logins::new(&login_file(&state));
        assert!(!logins.configured());
        assert!(logins.sign_in("anything at all").is_none());
        set_password(&state, "correct horse battery").unwrap();
        assert!(logins.configured());
        assert!(logins.sign_in("wrong horse battery").is_none());
        let id = logins.sign_in("correct horse battery").unwrap();
        let signed = logins.get(&id).unwrap();
        assert_eq!(signed.csrf.len(), 64);
        logins.sign_out(&id);
        assert!(logins.get(&id).is_none());
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("a", "ab"));
    }
}

/// Failed sign-ins allowed from one client before it must wait.
pub const FAILURES_ALLOWED: u32 = 5;
/// How long a client waits after [`FAILURES_ALLOWED`] failures; each
/// further failure doubles it, up to an hour.
const LOCKOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Failed sign-ins per client address, so that guessing the password from
/// one client stops after a few tries, whatever bcrypt costs.
#[derive(Default)]
pub struct Throttle {
    clients: Mutex<HashMap<std::net::IpAddr, Failures>>,
}

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    until: Option<Instant>,
}

impl Throttle {
    /// How long `client` must still wait before trying again, if at all.
    pub fn wait(&self, client: std::net::IpAddr) -> Option<std::time::Duration> {
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let until = clients.get(&client)?.until?;
        until.checked_duration_since(Instant::now())
    }

    /// Records a failed sign-in from `client`.
    pub fn failed(&self, client: std::net::IpAddr) {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if clients.len() > 4096 {
            let now = Instant::now();
            clients.retain(|_, f| f.until.is_some_and(|u| u > now));
        }
        let failures = clients.entry(client).or_insert(Failures {
            count: 0,
            until: None,
        });
        failures.count += 1;
        if failures.count >= FAILURES_ALLOWED {
            let doublings = (failures.count - FAILURES_ALLOWED).min(6);
            failures.until = Some(Instant::now() + LOCKOUT * 2u32.pow(doublings));
        }
    }

    /// Forgets `client`'s failures after it signed in.
    pub fn succeeded(&self, client: std::net::IpAddr) {
        self.clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&client);
    }
}
