//! The files a tool call writes, where they are plain to see: an edit
//! tool's path argument, the files of a patch, and the targets of a shell
//! command's redirections and of the usual writing commands (`rm`, `mv`,
//! `cp`, `tee`, `sed -i`, `touch`, `truncate`, `chmod`, `ln`). A command
//! that hides its target (a script, a variable, `python -c`) is not read:
//! the checkpoint stays the decisive check, the hook only stops the agent
//! early.

use serde_json::Value;

use super::ToolCall;

/// Tools that only read, by the names the agents give them.
const READERS: &[&str] = &[
    "Read",
    "Glob",
    "Grep",
    "LS",
    "WebFetch",
    "WebSearch",
    "read_file",
    "read_many_files",
    "list_directory",
    "glob",
    "grep",
    "search_file_content",
    "view",
    "web_fetch",
];

/// Argument names that hold the file an edit tool writes.
const PATH_ARGS: &[&str] = &[
    "file_path",
    "path",
    "notebook_path",
    "target_file",
    "filePath",
];

/// The paths `tool` writes, as written in the call (relative or absolute).
pub fn written(tool: &ToolCall) -> Vec<String> {
    if READERS.contains(&tool.name.as_str()) {
        return Vec::new();
    }
    let mut paths = Vec::new();
    for key in PATH_ARGS {
        if let Some(path) = tool.input.get(*key).and_then(Value::as_str) {
            paths.push(path.to_owned());
        }
    }
    // Claude Code's MultiEdit and some agents' batch edits.
    if let Some(edits) = tool.input.get("edits").and_then(Value::as_array) {
        for edit in edits {
            for key in PATH_ARGS {
                if let Some(path) = edit.get(*key).and_then(Value::as_str) {
                    paths.push(path.to_owned());
                }
            }
        }
    }
    let text = ["command", "patch", "input"]
        .iter()
        .find_map(|k| tool.input.get(*k).and_then(Value::as_str))
        .or_else(|| tool.input.as_str());
    if let Some(text) = text {
        if text.contains("*** Begin Patch") || tool.name == "apply_patch" {
            paths.extend(patched(text));
        } else {
            paths.extend(shell_targets(text));
        }
    }
    paths.sort();
    paths.dedup();
    paths
}

/// The files a patch in the `apply_patch` format adds, updates, deletes
/// or moves to.
fn patched(patch: &str) -> Vec<String> {
    const MARKERS: [&str; 4] = [
        "*** Update File: ",
        "*** Add File: ",
        "*** Delete File: ",
        "*** Move to: ",
    ];
    patch
        .lines()
        .filter_map(|line| {
            MARKERS
                .iter()
                .find_map(|m| line.trim_start().strip_prefix(m))
                .map(|p| p.trim().to_owned())
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// The plain targets of a shell command line.
fn shell_targets(command: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for simple in simple_commands(command) {
        let words = &simple;
        let mut i = 0;
        let mut args = Vec::new();
        while i < words.len() {
            let word = &words[i];
            // Redirections: `>f`, `> f`, `>>f`, `2>f`, `&>f`.
            let bare = word.trim_start_matches(|c: char| c.is_ascii_digit() || c == '&');
            if let Some(rest) = bare.strip_prefix(">>").or_else(|| bare.strip_prefix('>')) {
                let rest = rest.trim_start_matches('|');
                let target = if rest.is_empty() {
                    i += 1;
                    words.get(i).cloned()
                } else {
                    Some(rest.to_owned())
                };
                if let Some(t) = target.filter(|t| !t.starts_with('&') && t != "/dev/null") {
                    targets.push(t);
                }
            } else {
                args.push(word.clone());
            }
            i += 1;
        }
        targets.extend(command_targets(&args));
    }
    targets
}

/// What a writing command's arguments name.
fn command_targets(args: &[String]) -> Vec<String> {
    let Some((program, rest)) = args.split_first() else {
        return Vec::new();
    };
    let program = program.rsplit('/').next().unwrap_or(program);
    let operands: Vec<&String> = rest.iter().filter(|a| !a.starts_with('-')).collect();
    match program {
        "rm" | "rmdir" | "touch" | "truncate" | "tee" | "shred" | "unlink" => {
            operands.into_iter().cloned().collect()
        }
        // The last operand is written (and `mv` removes the others).
        "mv" => operands.into_iter().cloned().collect(),
        "cp" | "ln" | "install" => operands
            .last()
            .map(|t| vec![(*t).clone()])
            .unwrap_or_default(),
        "chmod" | "chown" => operands.into_iter().skip(1).cloned().collect(),
        "sed" | "perl"
            if rest
                .iter()
                .any(|a| a.starts_with("-i") || a == "--in-place") =>
        {
            // The script is the first operand unless given with -e.
            let scripted = rest.iter().any(|a| a == "-e");
            operands
                .into_iter()
                .skip(usize::from(!scripted))
                .cloned()
                .collect()
        }
        "git" => match rest.first().map(String::as_str) {
            Some("rm" | "mv" | "checkout" | "restore") => {
                operands.into_iter().skip(1).cloned().collect()
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// A command line split into simple commands (at `;`, `&&`, `||`, `|`,
/// newlines), each into words with quotes removed.
fn simple_commands(line: &str) -> Vec<Vec<String>> {
    let mut commands = vec![Vec::new()];
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let mut quote: Option<char> = None;
    let finish = |word: &mut String, in_word: &mut bool, commands: &mut Vec<Vec<String>>| {
        if *in_word {
            if let Some(last) = commands.last_mut() {
                last.push(std::mem::take(word));
            }
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(next) = chars.next() {
                    word.push(next);
                    in_word = true;
                }
            }
            (None, ';' | '\n' | '|' | '&') => {
                // `>&2`, `&>`, `>|` stay inside their word.
                let redirect = word.ends_with('>') || (c == '&' && chars.peek() == Some(&'>'));
                if redirect {
                    word.push(c);
                    in_word = true;
                    continue;
                }
                finish(&mut word, &mut in_word, &mut commands);
                if matches!(chars.peek(), Some('&' | '|')) {
                    chars.next();
                }
                commands.push(Vec::new());
            }
            (None, c) if c.is_whitespace() => finish(&mut word, &mut in_word, &mut commands),
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    finish(&mut word, &mut in_word, &mut commands);
    commands.retain(|c| !c.is_empty());
    commands
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(name: &str, input: Value) -> Vec<String> {
        written(&ToolCall {
            name: name.to_owned(),
            input,
        })
    }

    #[test]
    fn edit_tools_write_their_path_argument() {
        assert_eq!(
            call(
                "Edit",
                json!({"file_path": "/r/tests/t.py", "old_string": "a"})
            ),
            ["/r/tests/t.py"]
        );
        assert_eq!(call("write_file", json!({"file_path": "a.py"})), ["a.py"]);
        assert_eq!(call("edit", json!({"path": "b.py"})), ["b.py"]);
        assert!(call("Read", json!({"file_path": "a.py"})).is_empty());
        assert!(call("read_file", json!({"file_path": "a.py"})).is_empty());
    }

    #[test]
    fn patches_name_every_file_they_touch() {
        let patch = "*** Begin Patch\n*** Update File: src/a.rs\n@@\n-x\n+y\n*** Add File: tests/new.rs\n+z\n*** Delete File: conftest.py\n*** End Patch\n";
        assert_eq!(
            call("apply_patch", json!({"command": patch})),
            ["conftest.py", "src/a.rs", "tests/new.rs"]
        );
    }

    #[test]
    fn shell_commands_write_their_plain_targets() {
        let shell = |c: &str| call("Bash", json!({"command": c}));
        assert_eq!(shell("echo x > checkrail.toml"), ["checkrail.toml"]);
        assert_eq!(shell("echo x >>'a b.txt'"), ["a b.txt"]);
        assert_eq!(shell("cat a | tee -a out.log > /dev/null"), ["out.log"]);
        assert_eq!(
            shell("rm -f tests/test_a.py && git mv x y; sed -i 's/a/b/' conftest.py"),
            ["conftest.py", "tests/test_a.py", "x", "y"]
        );
        assert_eq!(shell("cp src/a.py tests/a.py"), ["tests/a.py"]);
        assert_eq!(shell("chmod +x run.sh"), ["run.sh"]);
        assert_eq!(shell("cargo test 2>&1"), Vec::<String>::new());
        assert_eq!(shell("ls -la && cat README.md"), Vec::<String>::new());
        assert_eq!(shell("printf '%s' \"a;b\" > \"c d\""), ["c d"]);
    }
}
