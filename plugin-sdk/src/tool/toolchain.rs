//! The [`Toolchain`] trait: what a rule knows about one tool it can run,
//! so that a rule holds one module per toolchain and one dispatch.

use crate::tool::{Diag, Ran};
use crate::{Command, Finding, Result};

/// One toolchain a rule can run: how it builds its command line from what
/// the rule hands it (`C`: the rule's config, or the job the rule made of
/// it) and how it reads what the tool printed. A rule adds what only it
/// needs per toolchain (a default hint, what blocks) as a trait of its own
/// with this one as supertrait.
///
/// ```
/// use checkrail_sdk::tool::{Diag, Level, Location, Ran, Reading, Tool, Toolchain, WorkspaceDir};
/// use checkrail_sdk::{Command, Output, Result};
///
/// struct Config { args: Vec<String> }
///
/// /// `make check`, printing `file:line: message` lines.
/// struct Make;
///
/// impl Toolchain<Config> for Make {
///     fn program(&self) -> &'static str { "make" }
///     fn inputs(&self, _: &Config) -> Vec<String> { vec!["**".into()] }
///     fn command(&self, config: &Config) -> Result<Command> {
///         Ok(Command::new("make").arg("check").args(config.args.iter().cloned()))
///     }
///     fn read(&self, _: &Config, ran: &Ran) -> Result<Reading> {
///         let diags = ran.output.stdout.lines().filter_map(|l| {
///             let (path, rest) = l.split_once(':')?;
///             let (line, message) = rest.split_once(": ")?;
///             Some(Diag::new(Level::Error, message).at(Location::new(path, line.parse().ok(), None)))
///         });
///         Ok(Reading::of(diags.collect()))
///     }
/// }
///
/// let config = Config { args: vec![] };
/// assert_eq!(Make.label(&config), "make");
/// let tool = Tool::new(Make.label(&config), &WorkspaceDir::root());
/// let output = Output { exit_code: Some(2), stdout: "a.c:3: boom\n".into(), ..Output::default() };
/// let read = Make.read(&config, &Ran::of(&tool, output)).unwrap();
/// assert_eq!(read.diags[0].message, "boom");
/// ```
pub trait Toolchain<C: ?Sized>: Sync {
    /// The program it runs, which the rule declares as `exec:<program>`
    /// (`*` for a program the config names).
    fn program(&self) -> &'static str;

    /// How findings and summaries name it (`cargo clippy`); the program by
    /// default.
    fn label(&self, config: &C) -> String {
        let _ = config;
        self.program().to_owned()
    }

    /// Files that change what it reports without being sources (its own
    /// settings: `clippy.toml`, `tsconfig.json`), which the rule lists as
    /// judging files. None by default.
    fn judging_files(&self) -> &'static [&'static str] {
        &[]
    }

    /// The workspace globs whose contents decide its result, when the
    /// config names none.
    fn inputs(&self, config: &C) -> Vec<String>;

    /// Its command line.
    fn command(&self, config: &C) -> Result<Command>;

    /// What it printed, read.
    fn read(&self, config: &C, ran: &Ran) -> Result<Reading>;
}

/// What a [`Toolchain`] read from a run.
#[derive(Debug, Clone)]
pub struct Reading {
    /// Its diagnostics, with paths as printed.
    pub diags: Vec<Diag>,
    /// Paths it printed that lie in the workspace whatever they report
    /// (rustc's manifests, every file ESLint looked at): they tell the path
    /// resolver where the workspace root is.
    pub anchors: Vec<String>,
    /// The output covers everything the tool was given (see
    /// [`Judged::complete`](crate::tool::Judged::complete)).
    pub complete: bool,
    /// Findings about the output itself (`output-unreadable`).
    pub problems: Vec<Finding>,
    /// Diagnostics the tool reported as silenced by comments in the code.
    pub silenced: usize,
}

impl Reading {
    /// `diags`, complete, with nothing else to say.
    pub fn of(diags: Vec<Diag>) -> Self {
        Self {
            diags,
            anchors: Vec::new(),
            complete: true,
            problems: Vec::new(),
            silenced: 0,
        }
    }
}
