//! The real `checkrail` binary, run as a user runs it: once for its output,
//! at a pseudo-terminal, or as a server it waits for.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use super::{shared_cache, state_dir};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_checkrail");

/// One run of `checkrail args…`, with the shared compile cache and, unless
/// told otherwise, the shared state directory:
/// `Cli::new(&["session", "show", &id]).workspace(dir).output()`.
pub struct Cli {
    command: Command,
}

impl Cli {
    /// The binary under test with `args`.
    pub fn new(args: &[&str]) -> Self {
        Self::binary(Path::new(BIN), args)
    }

    /// Another copy of the binary, at `bin`, with `args`.
    pub fn binary(bin: &Path, args: &[&str]) -> Self {
        let mut command = Command::new(bin);
        command
            .args(args)
            .env("CHECKRAIL_CACHE_DIR", shared_cache())
            .env("CHECKRAIL_STATE_DIR", state_dir());
        Self { command }
    }

    /// Adds `--workspace dir`.
    pub fn workspace(mut self, dir: &Path) -> Self {
        self.command.arg("--workspace").arg(dir);
        self
    }

    /// Adds one more argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.command.arg(arg);
        self
    }

    /// Adds more arguments.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.command.args(args);
        self
    }

    /// Runs in `dir`.
    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.command.current_dir(dir);
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    /// Leaves an environment variable unset.
    pub fn env_remove(mut self, key: &str) -> Self {
        self.command.env_remove(key);
        self
    }

    /// Keeps the state in `dir` instead of the shared state directory.
    pub fn state_dir(self, dir: &Path) -> Self {
        self.env("CHECKRAIL_STATE_DIR", dir)
    }

    /// Runs it to the end, stdin closed; what it printed and how it exited.
    pub fn output(mut self) -> Output {
        self.command
            .stdin(Stdio::null())
            .output()
            .expect("run checkrail")
    }

    /// Runs it to the end with `input` on stdin.
    pub fn output_with_input(mut self, input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = self
            .command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run checkrail");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input).expect("write stdin");
        drop(stdin);
        child.wait_with_output().expect("wait for checkrail")
    }

    /// Starts it as a server and waits for the line on stderr that starts
    /// with `ready`; the server and the rest of that line.
    pub fn listen(self, ready: &str) -> (Listening, String) {
        listen(self.command, ready)
    }
}

/// Starts `command` as a server and waits for the line on stderr that
/// starts with `ready`; the server and the rest of that line.
pub fn listen(mut command: Command, ready: &str) -> (Listening, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start checkrail");
    let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
    // Owned from the start, so it is killed and reaped on every path.
    let server = Listening(child);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "server exited before listening"
        );
        if let Some(rest) = line.trim().strip_prefix(ready) {
            let rest = rest.to_owned();
            std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
            return (server, rest);
        }
    }
}

/// A server process started by [`listen`], killed and reaped when
/// dropped.
pub struct Listening(Child);

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a run printed: stdout, then stderr.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs checkrail on a pseudo-terminal (Python's `pty`), answers its
/// prompt with `answer`, and returns everything it printed.
pub fn at_terminal(dir: &Path, args: &[&str], answer: &str) -> String {
    const DRIVER: &str = r#"
import os, pty, sys, json
argv = json.loads(sys.argv[1]); answer = sys.argv[2].encode() + b"\n"
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
out = b""; sent = False
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    if not sent and b"type `" in out:
        os.write(fd, answer); sent = True
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
"#;
    let mut argv = vec![BIN.to_owned()];
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    argv.extend(["--workspace".to_owned(), dir.display().to_string()]);
    let python = std::env::var("CHECKRAIL_E2E_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let out = Command::new(python)
        .args(["-c", DRIVER, &serde_json::to_string(&argv).unwrap(), answer])
        .env("CHECKRAIL_CACHE_DIR", shared_cache())
        .env("CHECKRAIL_STATE_DIR", state_dir())
        .output()
        .unwrap();
    text(&out)
}
