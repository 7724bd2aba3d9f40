//! `checkrail allow`: a human at a terminal looks at what changed in the
//! workspace's policy files since the last allow and records them (see
//! [`checkrail::allow`]).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Result;
use checkrail::Checkrail;
use checkrail::allow::{self, PolicyChange};
use checkrail::trusted::StateDir;
use checkrail::workspace::Workspace;

use super::Exit;

/// Arguments of `checkrail allow`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The workspace whose policy to allow.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub workspace: PathBuf,
    /// Only show what changed since the last allow; record nothing.
    #[arg(long)]
    pub show: bool,
}

/// Shows the changes and, when a human at a terminal types `allow`,
/// records the policy files as they are.
pub fn run(engine: &Checkrail, state: &StateDir, args: &Args) -> Result<Exit> {
    let ws = Workspace::open(&args.workspace, state)?;
    let changes = allow::changes(&ws);
    let globs = engine.all_judging_globs(ws.root());
    // Files that change how the tools judge: named, not shown (they are
    // the project's own, often long); a session judges them against this.
    let judging: Vec<_> = allow::judging_changes(&ws, &globs)
        .into_iter()
        .filter(|c| !changes.iter().any(|p| p.file == c.file))
        .collect();
    if changes.is_empty() && judging.is_empty() {
        println!(
            "nothing to allow: checkrail.toml, the workflows in {} and the files that change how the tools judge are as a human last allowed them",
            allow::WORKFLOWS_DIR
        );
        return Ok(Exit::Passed);
    }
    for change in &changes {
        print_change(change);
    }
    for change in &judging {
        println!(
            "`{}` {} (it changes how the tools judge)",
            change.file, change.what
        );
    }
    if args.show {
        return Ok(Exit::Passed);
    }
    // The agent has a shell, not the human's terminal: as for approvals,
    // only an interactive terminal can allow.
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        anyhow::bail!(
            "only a human at an interactive terminal can allow a workspace's policy: run `checkrail allow` yourself in a terminal, look at the changes above, and type `allow`"
        );
    }
    print!("type `allow` to put these files in effect as they are (anything else cancels): ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if answer.trim() != "allow" {
        println!("nothing recorded");
        return Ok(Exit::Failed);
    }
    allow::record(&ws, &globs)?;
    println!("allowed {} file(s)", changes.len() + judging.len());
    Ok(Exit::Passed)
}

/// One change, with the lines that differ.
fn print_change(change: &PolicyChange) {
    println!("`{}` {}:", change.file, change.what);
    let before: Vec<&str> = change
        .before
        .as_deref()
        .map_or(Vec::new(), |t| t.lines().collect());
    let after: Vec<&str> = change
        .after
        .as_deref()
        .map_or(Vec::new(), |t| t.lines().collect());
    for line in diff(&before, &after) {
        println!("  {line}");
    }
}

/// A line diff (`-` removed, `+` added, unchanged lines left out), by the
/// longest common subsequence; files over a few thousand lines are shown
/// whole as removed and added.
fn diff(before: &[&str], after: &[&str]) -> Vec<String> {
    const MAX: usize = 4_000;
    if before.len() > MAX || after.len() > MAX {
        return before
            .iter()
            .map(|l| format!("- {l}"))
            .chain(after.iter().map(|l| format!("+ {l}")))
            .collect();
    }
    let (n, m) = (before.len(), after.len());
    let mut common = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[i][j] = if before[i] == after[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut lines) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && before[i] == after[j] {
            i += 1;
            j += 1;
        } else if j < m && (i == n || common[i][j + 1] >= common[i + 1][j]) {
            lines.push(format!("+ {}", after[j]));
            j += 1;
        } else {
            lines.push(format!("- {}", before[i]));
            i += 1;
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::diff;

    #[test]
    fn the_diff_names_removed_and_added_lines_only() {
        let before = ["[exec]", "allow = [\"cargo\"]", "", "[enforce]"];
        let after = [
            "[exec]",
            "allow = [\"cargo\", \"sh\"]",
            "",
            "[enforce]",
            "on_stop = \"off\"",
        ];
        assert_eq!(
            diff(&before, &after),
            [
                "+ allow = [\"cargo\", \"sh\"]",
                "- allow = [\"cargo\"]",
                "+ on_stop = \"off\""
            ]
        );
    }
}
