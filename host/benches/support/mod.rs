//! What every benchmark shares: the quick-mode switch, timing samples and
//! their percentiles, and the one line that prints a figure next to its
//! baseline measured in the same run, their ratio and the budget from
//! DESIGN.md's "Performance budget" table.
//!
//! Benchmarks print figures and never fail on timing: shared machines are
//! noisy. A figure over its budget is marked `OVER BUDGET` (in a release
//! build; a debug build, as CI's short run uses, judges no budget); only a
//! wrong answer or a missing tool panics.
//!
//! `support/mod.rs` rather than `support.rs`: cargo takes every file
//! directly under `benches/` for a benchmark target of its own.

pub mod checkpoint;
pub mod server;

use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

/// The variable that asks for a quick run, as `--quick` does.
const QUICK_ENV: &str = "CHECKRAIL_BENCH_QUICK";

/// How much work a run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The iteration counts and workspace sizes the budgets are stated for.
    Full,
    /// Fewer iterations and smaller workspaces, for CI: every benchmark
    /// together in well under three minutes.
    Quick,
}

impl Mode {
    /// `full` in a full run, `quick` in a quick one.
    pub fn pick<T>(self, full: T, quick: T) -> T {
        match self {
            Mode::Full => full,
            Mode::Quick => quick,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Full => "full",
            Mode::Quick => "quick",
        })
    }
}

/// The mode this run was asked for, after printing which: quick with
/// `--quick` among the arguments or `CHECKRAIL_BENCH_QUICK` set to anything
/// but empty or `0`. Other arguments are ignored (`cargo bench` passes
/// `--bench`).
pub fn begin(bench: &str) -> Mode {
    let by_arg = std::env::args().skip(1).any(|arg| arg == "--quick");
    let by_env = std::env::var(QUICK_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
    let mode = if by_arg || by_env {
        Mode::Quick
    } else {
        Mode::Full
    };
    let build = if cfg!(debug_assertions) {
        "debug build: budgets are for release builds and are not judged"
    } else {
        "release build"
    };
    println!("\n== {bench} benchmark ({mode} mode, {build}) ==");
    mode
}

/// Records the policy files of `workspace` (`checkrail.toml`, its
/// workflows) as allowed in the state directory `state`, as its owner does
/// with `checkrail allow`.
pub fn allow(workspace: &Path, state: &Path) {
    let state = checkrail::trusted::StateDir::at(state).expect("state");
    let ws = checkrail::workspace::Workspace::open(workspace, &state).expect("workspace");
    checkrail::allow::record(&ws, &[]).expect("allow");
}

/// A session service on a fresh workspace holding the workflow `yaml`
/// (file `<id>.yaml` in `.checkrail/workflows/`), `files` and, when given,
/// `checkrail.toml`, all allowed; with the temporary workspace and state
/// directories, which must outlive it.
pub fn service_with(
    (id, yaml): (&str, &str),
    config: Option<&str>,
    files: &[(&str, &str)],
) -> (
    checkrail::service::Service,
    tempfile::TempDir,
    tempfile::TempDir,
) {
    let ws = tempfile::tempdir().expect("workspace");
    let state = tempfile::tempdir().expect("state");
    let root = ws.path();
    let flows = root.join(".checkrail/workflows");
    std::fs::create_dir_all(&flows).expect("dirs");
    std::fs::write(flows.join(format!("{id}.yaml")), yaml).expect("workflow");
    for (path, text) in files {
        std::fs::write(root.join(path), text).expect("file");
    }
    if let Some(config) = config {
        std::fs::write(root.join("checkrail.toml"), config).expect("config");
    }
    allow(root, state.path());
    let engine = checkrail::Checkrail::new(checkrail::Options {
        workspace: Some(root.to_owned()),
        workflow_dirs: vec![flows],
        ..checkrail::Options::default()
    })
    .expect("engine");
    let dir = checkrail::trusted::StateDir::at(state.path()).expect("state");
    let service = checkrail::service::Service::open(std::sync::Arc::new(engine), root, &dir)
        .expect("service");
    (service, ws, state)
}

/// Panics unless `program` is on `PATH`: a benchmark that needs a tool says
/// which and how to get it rather than skipping.
pub fn require(program: &str, install: &str) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)));
    assert!(found, "`{program}` is not on PATH: {install}");
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The baseline of the benchmarks that walk a workspace: every entry's
/// metadata, recursively (checkrail's own `.checkrail/` aside), nothing
/// else; the number of files.
pub fn stat_walk(dir: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).expect("stat");
        if meta.is_dir() {
            if entry.file_name() != ".checkrail" {
                n += stat_walk(&path);
            }
        } else {
            n += 1;
        }
    }
    n
}

/// Timings of one operation, sorted.
pub struct Samples(Vec<Duration>);

impl Samples {
    /// Timings measured elsewhere.
    pub fn new(mut times: Vec<Duration>) -> Self {
        assert!(!times.is_empty(), "a figure needs at least one sample");
        times.sort();
        Samples(times)
    }

    /// The median.
    pub fn p50(&self) -> Duration {
        self.percentile(0.5)
    }

    /// The 99th percentile.
    pub fn p99(&self) -> Duration {
        self.percentile(0.99)
    }

    /// The smallest sample at or above fraction `p` of them.
    pub fn percentile(&self, p: f64) -> Duration {
        let n = self.0.len();
        let rank = (n as f64 * p).ceil() as usize;
        self.0[rank.clamp(1, n) - 1]
    }

    /// How many samples there are.
    pub fn count(&self) -> usize {
        self.0.len()
    }
}

/// How many untimed calls warm caches and lazy initialisation first.
fn warm_ups(n: usize) -> usize {
    (n / 10).clamp(1, 200)
}

/// `n` timings of `f`, after a few untimed calls.
pub fn sample(n: usize, mut f: impl FnMut()) -> Samples {
    for _ in 0..warm_ups(n) {
        f();
    }
    Samples::new(
        (0..n)
            .map(|_| {
                let began = Instant::now();
                f();
                began.elapsed()
            })
            .collect(),
    )
}

/// `n` timings of the future `f` returns, after a few untimed calls.
pub async fn sample_async(n: usize, mut f: impl AsyncFnMut()) -> Samples {
    for _ in 0..warm_ups(n) {
        f().await;
    }
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let began = Instant::now();
        f().await;
        times.push(began.elapsed());
    }
    Samples::new(times)
}

/// A measured amount: a time or a memory size.
pub trait Quantity: Copy + PartialOrd {
    /// The amount in the unit ratios and differences are taken in.
    fn amount(self) -> f64;
    /// An amount in that unit, printed with a readable one.
    fn show_amount(amount: f64) -> String;
    /// The amount, printed with its unit.
    fn show(self) -> String {
        Self::show_amount(self.amount())
    }
}

impl Quantity for Duration {
    fn amount(self) -> f64 {
        self.as_secs_f64()
    }

    fn show_amount(secs: f64) -> String {
        if secs.abs() < 1e-3 {
            format!("{:.1} µs", secs * 1e6)
        } else if secs.abs() < 1.0 {
            format!("{:.2} ms", secs * 1e3)
        } else {
            format!("{secs:.2} s")
        }
    }
}

/// A memory size in KiB, as `/proc` and `getrusage` report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Kib(pub u64);

impl Quantity for Kib {
    fn amount(self) -> f64 {
        self.0 as f64
    }

    fn show_amount(kib: f64) -> String {
        format!("{:.1} MB", kib / 1024.0)
    }
}

/// What a figure must stay within.
pub enum Budget<Q> {
    /// At most this many times its baseline.
    Ratio(f64),
    /// At most this much.
    AtMost(Q),
    /// At most this much more than its baseline.
    Over(Q),
    /// No budget: the figure is for reading.
    None,
}

/// Prints `figure` next to its `baseline` measured in the same run, their
/// ratio, and `budget`, marked when the figure is over it. Each is a label
/// (naming the statistic, e.g. "p50") and its value.
pub fn compare<Q: Quantity>(figure: (&str, Q), baseline: (&str, Q), budget: Budget<Q>) {
    let (what, value) = figure;
    let (base_what, base) = baseline;
    let ratio = value.amount() / base.amount();
    let (limit, over) = match budget {
        Budget::Ratio(max) => (format!("budget ≤ {max:.2}x"), ratio > max),
        Budget::AtMost(max) => (format!("budget ≤ {}", max.show()), value > max),
        Budget::Over(max) => {
            let more = value.amount() - base.amount();
            let sign = if more < 0.0 { "" } else { "+" };
            (
                format!(
                    "difference {sign}{}, budget ≤ +{}",
                    Q::show_amount(more),
                    max.show()
                ),
                more > max.amount(),
            )
        }
        Budget::None => ("no budget".to_owned(), false),
    };
    // A debug build (CI's short run shares the test build) is far slower
    // than the release build the budgets speak of: its ratios are for
    // reading, and no budget is judged against it.
    let mark = if over && !cfg!(debug_assertions) {
        "  OVER BUDGET"
    } else {
        ""
    };
    println!(
        "{what} {} | baseline {base_what} {} | ratio {ratio:.2}x ({limit}){mark}",
        value.show(),
        base.show()
    );
}

/// A Python project to check: `files` copies of `source` as
/// `src/mNNN/fNNN.rs` (100 per directory), `app/main.py` holding
/// `main_py`, a `checkrail.toml` that grants `python3`, a `.gitignore` and
/// the workflow `name` (`.checkrail/workflows/<name>.yaml`).
pub fn python_project(
    root: &Path,
    (files, source): (usize, &str),
    main_py: &str,
    (name, yaml): (&str, &str),
) {
    for i in 0..files {
        let dir = root.join(format!("src/m{:03}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&dir).expect("mkdir");
        }
        std::fs::write(dir.join(format!("f{:03}.rs", i % 100)), source).expect("write");
    }
    std::fs::create_dir_all(root.join("app")).expect("mkdir");
    std::fs::write(root.join("app/main.py"), main_py).expect("write");
    std::fs::write(
        root.join("checkrail.toml"),
        "[exec]\nallow = [\"python3\"]\n",
    )
    .expect("write");
    std::fs::write(root.join(".gitignore"), "/target\n").expect("write");
    let flows = root.join(".checkrail/workflows");
    std::fs::create_dir_all(&flows).expect("mkdir");
    std::fs::write(flows.join(format!("{name}.yaml")), yaml).expect("write");
}
