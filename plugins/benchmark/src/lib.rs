//! `benchmark`: a performance change keeps its numbers.
//!
//! Runs a granted benchmark command several times, reads one figure from
//! each run's output with a pattern, and takes the median, which a single
//! noisy run cannot move. The median is recorded as a fact, so a later
//! phase can require (`no_regression_since`) that it is no worse than it
//! was before the change, within a tolerance. The benchmark's sources are
//! the workflow's to freeze (`frozen.paths`), so the program printing the
//! figure cannot be rewritten to print a better one.

use checkrail_sdk::schemars::JsonSchema;
use checkrail_sdk::serde::Deserialize;
use checkrail_sdk::serde_json::{Value, json};
use checkrail_sdk::tool::{CustomCommand, Ran, Tool, WorkspaceDir, quoted};
use checkrail_sdk::{Context, Error, Finding, Outcome, Result, Rule, export_rule};
use regex_lite::Regex;

/// What to run, what to read, and what the figure must be.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The granted program and its arguments, e.g. `{"program": "cargo",
    /// "args": ["bench", "--bench", "parse"]}` or `{"program": "python3",
    /// "args": ["bench.py"]}`.
    pub command: CustomCommand,
    /// Workspace-relative directory to run in (default: the workspace root).
    #[serde(default)]
    pub cwd: WorkspaceDir,
    /// A regular expression with one capture group matching the figure in
    /// the command's standard output, e.g. `parse: ([0-9.]+) ms`. The last
    /// match of a run counts.
    pub pattern: String,
    /// What the figure measures, for messages (e.g. `ms`, `ops/s`).
    #[serde(default)]
    pub unit: Option<String>,
    /// `lower` (default: times, memory) or `higher` (throughput) is better.
    #[serde(default)]
    pub better: Better,
    /// How many times to run the command (default 3, at most 25); the
    /// median counts.
    #[serde(default = "default_runs")]
    pub runs: u32,
    /// Phase whose median this one must be no worse than (this rule must
    /// have run at that phase in this session).
    #[serde(default)]
    pub no_regression_since: Option<String>,
    /// How much worse than the earlier median still passes, in percent of
    /// it (default 5).
    #[serde(default = "default_tolerance")]
    pub tolerance_percent: f64,
    /// With `no_regression_since`: how much better the median must now be,
    /// in percent (for "make it faster" phases).
    #[serde(default)]
    pub min_improvement_percent: Option<f64>,
    /// An absolute bound the median must not pass: a maximum when lower is
    /// better, a minimum when higher is better.
    #[serde(default)]
    pub limit: Option<f64>,
}

/// Which direction is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(crate = "checkrail_sdk::serde")]
#[schemars(crate = "checkrail_sdk::schemars")]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Smaller figures are better (durations, bytes).
    #[default]
    Lower,
    /// Larger figures are better (throughput).
    Higher,
}

fn default_runs() -> u32 {
    3
}

fn default_tolerance() -> f64 {
    5.0
}

/// The rule.
pub struct Benchmark;

impl Rule for Benchmark {
    type Config = Config;
    const ID: &'static str = "benchmark";
    const DESCRIPTION: &'static str = "A granted benchmark command, run several times, reports a median figure no worse than at an earlier phase and within an optional bound.";
    const CAPABILITIES: &'static [&'static str] = &["exec:*"];

    fn check(config: Config, cx: &Context) -> Result<Outcome> {
        let pattern = validate(&config)?;
        let command = config.command.command(&[]);
        let runner = Tool::new(quoted(&command), &config.cwd).again("run the benchmark again");
        let mut figures = Vec::new();
        for run in 1..=config.runs {
            let ran = match runner.run(cx, command.clone()) {
                Ok(ran) => ran,
                Err(refused) => return Ok(refused),
            };
            match figure(&pattern, &ran) {
                Ok(value) => figures.push(value),
                Err(finding) => {
                    return Ok(Outcome::from_findings(vec![finding])
                        .with_summary(format!("run {run} of {} gave no figure", config.runs)));
                }
            }
        }
        Ok(judge(&config, cx, &figures))
    }
}

fn validate(config: &Config) -> Result<Regex> {
    if !(1..=25).contains(&config.runs) {
        return Err(Error::new(format!(
            "use `runs` between 1 and 25, not {}",
            config.runs
        )));
    }
    if config.tolerance_percent < 0.0 {
        return Err(Error::new("use a `tolerance_percent` of 0 or more"));
    }
    if config.min_improvement_percent.is_some() && config.no_regression_since.is_none() {
        return Err(Error::new(
            "use `min_improvement_percent` together with `no_regression_since`: the improvement is measured from that phase's median",
        ));
    }
    let pattern = Regex::new(&config.pattern)
        .map_err(|e| Error::new(format!("use a valid regular expression in `pattern`: {e}")))?;
    if pattern.captures_len() != 2 {
        return Err(Error::new(format!(
            "use a `pattern` with exactly one capture group around the number, e.g. `time: ([0-9.]+) ms`; `{}` has {}",
            config.pattern,
            pattern.captures_len() - 1
        )));
    }
    Ok(pattern)
}

/// The figure of one run: the last match of the pattern in its stdout.
fn figure(pattern: &Regex, ran: &Ran) -> std::result::Result<f64, Finding> {
    if let Some(timeout) = ran.timeout() {
        return Err(timeout);
    }
    if ran.output.exit_code.is_none() {
        return Err(ran.killed());
    }
    if !ran.output.success() {
        return Err(ran.failed("a figure: the benchmark must run cleanly"));
    }
    let output = &ran.output;
    let tail = ran.tail();
    let last = pattern
        .captures_iter(&output.stdout)
        .last()
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_owned());
    let Some(text) = last else {
        return Err(Finding::error(format!(
            "{} printed nothing matching `{}`{tail}",
            ran.name(),
            pattern.as_str()
        ))
        .fix_hint("check `pattern` against what the benchmark prints on stdout")
        .code("no-figure"));
    };
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            Finding::error(format!(
                "`{}` matched `{text}`, which is not a number",
                pattern.as_str()
            ))
            .fix_hint("capture only the digits, e.g. `([0-9.]+)`")
            .code("no-figure")
        })
}

fn median(figures: &[f64]) -> f64 {
    let mut sorted = figures.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

fn judge(config: &Config, cx: &Context, figures: &[f64]) -> Outcome {
    let value = median(figures);
    let unit = config
        .unit
        .as_deref()
        .map_or(String::new(), |u| format!(" {u}"));
    let shown = |v: f64| format!("{v:.4}{unit}");
    let lower = config.better == Better::Lower;
    let mut findings = Vec::new();
    let mut against = String::new();
    if let Some(limit) = config.limit
        && (if lower { value > limit } else { value < limit })
    {
        findings.push(
            Finding::error(format!(
                "the median is {}, past the limit of {}",
                shown(value),
                shown(limit)
            ))
            .fix_hint("make the change faster, or discuss the limit with whoever set it")
            .code("over-limit"),
        );
    }
    if let Some(phase) = &config.no_regression_since {
        match cx
            .baseline(phase)
            .and_then(|f| f.get("median").and_then(Value::as_f64))
        {
            None => findings.push(
                Finding::error(format!(
                    "no benchmark figure was recorded at phase `{phase}` of this session"
                ))
                .fix_hint(format!(
                    "run this rule at phase `{phase}` (before the change), or remove `no_regression_since`"
                ))
                .code("no-baseline"),
            ),
            Some(before) => {
                // Positive: worse than before, in percent of before.
                let worse = if before == 0.0 {
                    0.0
                } else if lower {
                    (value - before) / before.abs() * 100.0
                } else {
                    (before - value) / before.abs() * 100.0
                };
                against = format!(" ({} at `{phase}`, {:+.1}%)", shown(before), -worse);
                if worse > config.tolerance_percent {
                    findings.push(
                        Finding::error(format!(
                            "the benchmark regressed {worse:.1}% since `{phase}`: median {} against {}; at most {}% is tolerated",
                            shown(value),
                            shown(before),
                            config.tolerance_percent
                        ))
                        .fix_hint("find what made it slower (profile the change), and fix it")
                        .code("regressed"),
                    );
                }
                if let Some(wanted) = config.min_improvement_percent
                    && -worse < wanted
                {
                    findings.push(
                        Finding::error(format!(
                            "the benchmark improved {:.1}% since `{phase}`; at least {wanted}% is required",
                            -worse
                        ))
                        .fix_hint("keep optimizing, measuring with the same benchmark")
                        .code("not-improved"),
                    );
                }
            }
        }
    }
    let runs: Vec<String> = figures.iter().map(|f| format!("{f}")).collect();
    Outcome::from_findings(findings)
        .with_summary(format!(
            "median {}{against} over {} runs: {}",
            shown(value),
            figures.len(),
            runs.join(", ")
        ))
        .with_facts(json!({"median": value, "runs": figures}))
}

export_rule!(Benchmark);

#[cfg(test)]
mod tests {
    use super::*;
    use checkrail_sdk::testing::{TestWorkspace, run_with_context};

    /// A "benchmark" whose figure is read from a file the test controls,
    /// standing in for code that got faster or slower.
    fn workspace(ms: &str) -> TestWorkspace {
        let ws = TestWorkspace::new().unwrap();
        ws.write(
            "bench.sh",
            "echo warming up\necho \"parse: $(cat speed) ms\"\n",
        )
        .unwrap();
        ws.write("speed", ms).unwrap();
        ws
    }

    fn config(extra: Value) -> Value {
        let mut config = json!({
            "command": {"program": "sh", "args": ["bench.sh"]},
            "pattern": "parse: ([0-9.]+) ms",
            "unit": "ms",
        });
        config
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        config
    }

    fn after(ws: &TestWorkspace, extra: Value, before: &Outcome) -> Outcome {
        let cx = ws
            .context_granting::<Benchmark>(&["sh"])
            .unwrap()
            .with_baseline("before", before.facts_value().unwrap());
        run_with_context::<Benchmark>(config(extra), &cx).unwrap()
    }

    fn codes(outcome: &Outcome) -> Vec<&str> {
        outcome
            .findings
            .iter()
            .filter_map(|f| f.code.as_deref())
            .collect()
    }

    #[test]
    fn a_regression_fails_and_an_improvement_passes() {
        let ws = workspace("10.0");
        let before = ws
            .run_granting::<Benchmark>(config(json!({})), &["sh"])
            .unwrap();
        assert!(before.passed, "{before:#?}");
        assert_eq!(before.facts_value().unwrap()["median"], 10.0);

        ws.write("speed", "12.5").unwrap();
        let slower = after(&ws, json!({"no_regression_since": "before"}), &before);
        assert_eq!(codes(&slower), ["regressed"], "{slower:#?}");
        assert!(slower.findings[0].message.contains("25.0%"), "{slower:#?}");

        ws.write("speed", "10.3").unwrap();
        let noise = after(&ws, json!({"no_regression_since": "before"}), &before);
        assert!(noise.passed, "3% is within the default 5%: {noise:#?}");
        let demanding = after(
            &ws,
            json!({"no_regression_since": "before", "min_improvement_percent": 10}),
            &before,
        );
        assert_eq!(codes(&demanding), ["not-improved"], "{demanding:#?}");

        ws.write("speed", "8").unwrap();
        let faster = after(
            &ws,
            json!({"no_regression_since": "before", "min_improvement_percent": 10}),
            &before,
        );
        assert!(faster.passed, "{faster:#?}");
    }

    #[test]
    fn higher_is_better_and_limits() {
        let ws = workspace("900");
        let low = ws
            .run_granting::<Benchmark>(config(json!({"better": "higher", "limit": 1000})), &["sh"])
            .unwrap();
        assert_eq!(codes(&low), ["over-limit"], "{low:#?}");
        let ok = ws
            .run_granting::<Benchmark>(config(json!({"better": "higher", "limit": 800})), &["sh"])
            .unwrap();
        assert!(ok.passed, "{ok:#?}");
    }

    #[test]
    fn runs_that_give_no_figure_fail_and_bad_configs_are_refused() {
        let ws = workspace("fast");
        let outcome = ws
            .run_granting::<Benchmark>(config(json!({})), &["sh"])
            .unwrap();
        assert_eq!(codes(&outcome), ["no-figure"], "{outcome:#?}");
        let refused = ws
            .run_granting::<Benchmark>(config(json!({})), &[])
            .unwrap();
        assert_eq!(codes(&refused), ["exec-not-granted"], "{refused:#?}");
        let no_baseline = ws
            .run_granting::<Benchmark>(config(json!({"no_regression_since": "x"})), &["sh"])
            .unwrap();
        assert!(!no_baseline.passed);
        for (extra, words) in [
            (
                json!({"pattern": "([0-9]+) (ms)"}),
                "exactly one capture group",
            ),
            (json!({"pattern": "("}), "valid regular expression"),
            (json!({"runs": 0}), "between 1 and 25"),
            (json!({"min_improvement_percent": 5}), "together with"),
        ] {
            let err = ws
                .run_granting::<Benchmark>(config(extra.clone()), &["sh"])
                .expect_err(&extra.to_string());
            assert!(err.to_string().contains(words), "{extra}: {err}");
        }
    }

    #[test]
    fn the_median_ignores_one_outlier() {
        assert_eq!(median(&[10.0, 50.0, 11.0]), 11.0);
        assert_eq!(median(&[1.0, 3.0]), 2.0);
    }
}
