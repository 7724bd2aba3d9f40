//! Parallel checkpoint benchmark: a compile + test + lint checkpoint on a
//! generated crate (real cargo, real clippy), after an edit that makes
//! every tool rebuild the crate. Measured in one run: each rule alone, the
//! three as one checkpoint with the rules at once (`[checks] parallel`
//! left to the cores), and the same checkpoint one rule after another
//! (`parallel = 1`). The baseline is the slowest rule alone (budget: the
//! checkpoint ≤ 1.2x it, given the cores); the checkpoint is also shown
//! against the sum of the rules and against the floor the machine's busy
//! CPU time sets. The compile and test rules run cargo in the same
//! directory and target dir, so they take turns; clippy has its own target
//! dir and runs alongside.
//!
//! Needs cargo and clippy. Prints figures; panics only on a wrong answer or
//! a missing tool.
//! Full: `cargo bench -p checkrail --bench parallel`.
//! Quick (CI, a smaller crate, one round): `cargo bench -p checkrail
//! --bench parallel -- --quick`, or with `CHECKRAIL_BENCH_QUICK=1`.

#[allow(
    dead_code,
    reason = "each benchmark uses its own part of the shared support"
)]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use checkrail::engine::{CheckpointRun, Guards, Hooks};
use checkrail::trusted::StateDir;
use checkrail::workspace::Workspace;
use checkrail::{Checkrail, Options};
use support::{Budget, Quantity, Samples, compare};

const COMPILE: &str = "        - rule: compile
          name: build
          config: { toolchain: cargo, args: [--all-targets] }
";
const TEST: &str = "        - rule: test
          name: tests
          config: { runner: cargo, min_passed: 1 }
";
const LINT: &str = "        - rule: lint
          name: clippy
          config: { linter: clippy, args: [--all-targets, --target-dir, target/clippy] }
";

fn workflow(rules: &[&str]) -> checkrail::workflow::Workflow {
    checkrail::workflow::parse(
        &format!(
            "id: bench\nversion: 0.1.0\nname: B\ndescription: d\nphases:\n  - id: check\n    name: Check\n    guidance: g\n    checkpoint:\n      rules:\n{}",
            rules.concat()
        ),
        "bench.yaml",
    )
    .expect("bench workflow parses")
}

/// A crate of `modules` modules of generic code and tests: at 96, building
/// it takes a few seconds.
fn populate(root: &Path, modules: usize) {
    std::fs::create_dir_all(root.join("src")).expect("mkdir");
    std::fs::write(
        root.join("Cargo.toml"),
        "[package]\nname = \"bench_crate\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .expect("write");
    std::fs::write(root.join(".gitignore"), "/target\n").expect("write");
    let mut lib = String::from("// edit 0\n");
    for m in 0..modules {
        lib.push_str(&format!("pub mod m{m};\n"));
        std::fs::write(root.join(format!("src/m{m}.rs")), module(m)).expect("write");
    }
    std::fs::write(root.join("src/lib.rs"), lib).expect("write");
}

fn module(m: usize) -> String {
    let step = 1 + m % 2;
    let twice = 2 * step;
    let mut text = String::from("use std::collections::BTreeMap;\n\n");
    for f in 0..12 {
        text.push_str(&format!(
            "pub fn tally{f}<T: Ord + Clone + std::fmt::Debug>(items: &[T]) -> BTreeMap<T, usize> {{
    let mut counts = BTreeMap::new();
    for item in items.iter().filter(|i| format!(\"{{i:?}}\").len() > {f} % 3) {{
        *counts.entry(item.clone()).or_insert(0) += {step};
    }}
    counts
}}

"
        ));
    }
    text.push_str("#[cfg(test)]\nmod tests {\n");
    for f in 0..12 {
        text.push_str(&format!(
            "    #[test]
    fn tally{f}_counts() {{
        let counts = super::tally{f}(&[\"aaaa\", \"bbbb\", \"aaaa\"]);
        assert_eq!(counts.get(\"aaaa\"), Some(&{twice}));
        let numbers = super::tally{f}(&[10_000u64, 10_000, 3]);
        assert!(numbers.len() <= 2);
    }}
"
        ));
    }
    text.push_str("}\n");
    text
}

/// Changes the crate so every tool has to rebuild it.
fn edit(root: &Path, n: usize) {
    let path = root.join("src/lib.rs");
    let text = std::fs::read_to_string(&path).expect("read");
    let (_, rest) = text.split_once('\n').expect("lib.rs has lines");
    std::fs::write(&path, format!("// edit {n}\n{rest}")).expect("write");
}

struct Bench {
    engine: Checkrail,
    state: StateDir,
    root: std::path::PathBuf,
    edits: usize,
}

impl Bench {
    /// Edits the crate, then runs the checkpoint with these rules and
    /// `parallel` rules at once (0: the cores), without the outcome cache.
    /// Returns the wall time and the CPU time of the programs it ran.
    fn time(&mut self, rules: &[&str], parallel: usize) -> (Duration, Duration) {
        self.edits += 1;
        edit(&self.root, self.edits);
        let toml = format!("[exec]\nallow = [\"cargo\"]\n[checks]\nparallel = {parallel}\n");
        std::fs::write(self.root.join("checkrail.toml"), toml).expect("write");
        let workspace = Workspace::open(&self.root, &self.state).expect("workspace");
        checkrail::allow::record(&workspace, &[]).expect("allow");
        let config = workspace.config().expect("config");
        let workflow = workflow(rules);
        let cpu = machine_cpu();
        let started = Instant::now();
        let report = self
            .engine
            .run_checkpoint(&CheckpointRun {
                workflow: &workflow,
                phase: "check",
                workspace: &workspace,
                evidence: None,
                config: &config,
                hooks: Hooks::default(),
                use_cache: false,
                baselines: &serde_json::Map::new(),
                guards: Guards::default(),
            })
            .expect("checkpoint runs");
        let took = started.elapsed();
        let cpu = machine_cpu().saturating_sub(cpu);
        assert!(
            report.passed,
            "the bench crate must pass: {}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        (took, cpu)
    }
}

/// Busy CPU time of the whole machine so far (user, nice, system, irq and
/// softirq of `/proc/stat`, in ticks of 1/100 s): on a quiet machine, what
/// the tools a checkpoint ran used.
fn machine_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let busy: u64 = [0, 1, 2, 5, 6].iter().filter_map(|&i| ticks.get(i)).sum();
    Duration::from_millis(busy * 10)
}

fn main() {
    let mode = support::begin("parallel");
    support::require("cargo", "install Rust with rustup (https://rustup.rs)");
    support::require("cargo-clippy", "`rustup component add clippy`");
    let modules = mode.pick(96, 8);
    let rounds = mode.pick(3, 1);

    let dir = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    populate(dir.path(), modules);
    let mut bench = Bench {
        engine: Checkrail::new(Options::default()).expect("engine"),
        state: StateDir::at(state.path()).expect("state dir"),
        root: dir.path().to_owned(),
        edits: 0,
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "compile + test + clippy on a generated crate ({modules} modules, {} tests), {cores} cores, median of {rounds} rounds, each after an edit",
        modules * 12
    );
    // Warm-up: dependencies of every profile and both target dirs built.
    let (warm, _) = bench.time(&[COMPILE, TEST, LINT], 1);
    println!("warm-up (cold build, one after another): {}", warm.show());

    let mut alone = [Vec::new(), Vec::new(), Vec::new()];
    let mut together = Vec::new();
    let mut serial = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..rounds {
        for (i, rule) in [COMPILE, TEST, LINT].into_iter().enumerate() {
            alone[i].push(bench.time(&[rule], 1).0);
        }
        let (wall, used) = bench.time(&[COMPILE, TEST, LINT], 0);
        together.push(wall);
        cpu.push(used);
        serial.push(bench.time(&[COMPILE, TEST, LINT], 1).0);
    }
    let cpu = Samples::new(cpu).p50();
    let [compile, test, lint] = alone.map(|times| Samples::new(times).p50());
    let together = Samples::new(together).p50();
    let serial = Samples::new(serial).p50();
    println!(
        "alone, median: compile {}, test {}, clippy {}",
        compile.show(),
        test.show(),
        lint.show()
    );
    let (slowest, slowest_name) = [(compile, "compile"), (test, "test"), (lint, "clippy")]
        .into_iter()
        .max()
        .expect("three rules");
    let slowest_label = format!("slowest rule alone ({slowest_name}) median");
    compare(
        ("checkpoint, rules at once median", together),
        (&slowest_label, slowest),
        Budget::Ratio(1.2),
    );
    compare(
        ("checkpoint, parallel = 1 median", serial),
        (&slowest_label, slowest),
        Budget::None,
    );
    compare(
        ("checkpoint, rules at once median", together),
        ("sum of the rules alone", compile + test + lint),
        Budget::None,
    );
    // No schedule beats the slowest rule, nor the CPU time the tools need
    // spread over every core.
    let floor = slowest.max(cpu / u32::try_from(cores).unwrap_or(1));
    compare(
        ("checkpoint, rules at once median", together),
        (
            &format!(
                "floor: slowest rule or busy CPU {} over {cores} cores",
                cpu.show()
            ),
            floor,
        ),
        Budget::None,
    );
}
