"""Write checkrail validation rules in Python.

A rule is a subclass of :class:`Rule`: it says what it is (id, version,
config schema, the programs it may run, the files that change how it
judges) and checks a workspace through a :class:`Context`, returning an
:class:`Outcome` with :class:`Finding` s the agent can act on (file, line,
message, fix).

The same rule runs two ways:

- natively, in tests: :func:`checkrail_rule.testing.check` gives it a host
  written in Python over a real directory (refusing what checkrail refuses:
  paths out of the workspace, programs not declared or not granted);
- as a WebAssembly component in checkrail's sandbox:
  ``python -m checkrail_rule.build app -o my-rule.wasm`` runs componentize-py
  against the ``checkrail:rule`` WIT world this package carries and stamps
  the component with its API version. ``app.py`` holds one line:
  ``WitWorld = checkrail_rule.export(MyRule())``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol

#: The ``checkrail:rule`` API this SDK speaks (the WIT it carries).
API_VERSION = "0.2.0"

__all__ = [
    "API_VERSION",
    "Baseline",
    "Context",
    "Entry",
    "Finding",
    "Host",
    "Outcome",
    "Output",
    "Refused",
    "Rule",
    "codes",
    "export",
]


class codes:
    """Finding codes of a program run, the same in every rule (and in the
    Rust SDK's ``checkrail_sdk::tool::codes``)."""

    EXEC_NOT_DECLARED = "exec-not-declared"
    EXEC_NOT_GRANTED = "exec-not-granted"
    TOOL_NOT_FOUND = "tool-not-found"
    EXEC_FAILED = "exec-failed"
    TIMEOUT = "timeout"
    TOOL_KILLED = "tool-killed"
    OUTPUT_TRUNCATED = "output-truncated"


SEVERITIES = ("error", "warning", "info")


@dataclass
class Finding:
    """One thing a rule found, pointing at where it is and how to fix it."""

    severity: str
    message: str
    path: str | None = None
    line: int | None = None
    column: int | None = None
    fix_hint: str | None = None
    code: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r}: use one of {SEVERITIES}")
        for name in ("line", "column"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} is 1-based, got {value}")

    @classmethod
    def error(cls, message: str) -> Finding:
        """A finding that blocks the checkpoint."""
        return cls("error", message)

    @classmethod
    def warning(cls, message: str) -> Finding:
        """A finding reported without blocking on its own."""
        return cls("warning", message)

    @classmethod
    def info(cls, message: str) -> Finding:
        """A purely informative finding."""
        return cls("info", message)

    def at(self, path: str, line: int | None = None, column: int | None = None) -> Finding:
        """Places the finding at a workspace-relative path (and line)."""
        self.path, self.line, self.column = path, line, column
        self.__post_init__()
        return self

    def fix(self, hint: str) -> Finding:
        """What the agent should do about it."""
        self.fix_hint = hint
        return self

    def coded(self, code: str) -> Finding:
        """A short stable code for the kind of finding (``missing-entry``)."""
        self.code = code
        return self


@dataclass
class Outcome:
    """The result of one check."""

    passed: bool
    summary: str
    findings: list[Finding] = field(default_factory=list)
    #: Facts to record with the phase (any JSON value); handed back to this
    #: rule at later phases of the session as a :class:`Baseline`.
    facts: Any = None

    @classmethod
    def of(cls, findings: Iterable[Finding], summary: str | None = None, facts: Any = None) -> Outcome:
        """Passes unless a finding is an error; the summary defaults to a
        count of the findings."""
        findings = list(findings)
        errors = sum(1 for f in findings if f.severity == "error")
        if summary is None:
            summary = "all checks hold" if not findings else (
                f"{errors} error(s), {len(findings) - errors} other finding(s)"
            )
        return cls(errors == 0, summary, findings, facts)


@dataclass
class Baseline:
    """Facts this rule recorded at an earlier phase of the same session."""

    phase: str
    facts: Any


@dataclass
class Entry:
    """What the host learned about one path."""

    kind: str  # "file", "directory", "symlink" or "other"
    size: int
    is_symlink: bool


@dataclass
class Output:
    """What a finished program left behind."""

    exit_code: int | None
    timed_out: bool
    stdout: str
    stderr: str
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    duration_ms: int = 0

    @property
    def success(self) -> bool:
        """Exited with code 0, in time."""
        return self.exit_code == 0 and not self.timed_out

    def problems(self, program: str) -> list[Finding]:
        """Findings for a run that did not end well on its own: a timeout,
        a kill, output the host cut."""
        found = []
        if self.timed_out:
            found.append(
                Finding.error(f"`{program}` ran past its deadline and was stopped")
                .fix("make it faster, or raise the rule's timeout in the workflow")
                .coded(codes.TIMEOUT)
            )
        elif self.exit_code is None:
            found.append(
                Finding.error(f"`{program}` was killed before it finished").coded(codes.TOOL_KILLED)
            )
        if self.stdout_truncated or self.stderr_truncated:
            found.append(
                Finding.warning(f"`{program}` printed more than the host keeps; the rest was cut")
                .coded(codes.OUTPUT_TRUNCATED)
            )
        return found


class Refused(Exception):
    """A program the host would not run. Raised by :meth:`Context.exec`;
    a check that lets it escape fails with :meth:`finding`, which says how
    to fix it."""

    CODES = {
        "not-declared": (codes.EXEC_NOT_DECLARED, "the rule must list `exec:<program>` in its capabilities"),
        "not-granted": (codes.EXEC_NOT_GRANTED, "a human must grant it in checkrail.toml (see the message)"),
        "not-found": (codes.TOOL_NOT_FOUND, "install the program or put it on PATH"),
        "failed": (codes.EXEC_FAILED, "see the message"),
    }

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        if kind not in self.CODES:
            raise ValueError(f"refusal kind {kind!r}")
        self.kind = kind
        self.message = message

    def finding(self) -> Finding:
        code, hint = self.CODES[self.kind]
        if self.kind == "not-granted" and "add " in self.message:
            hint = "add " + self.message.split("add ", 1)[1]
        return Finding.error(self.message).fix(hint).coded(code)


class Host(Protocol):
    """The services a host offers a rule (the WIT ``host`` interface)."""

    def log(self, level: str, message: str) -> None: ...

    def stat_many(self, paths: list[str]) -> list[Entry | str]: ...

    def glob(self, pattern: str, limit: int) -> list[str]: ...

    def exec(
        self,
        program: str,
        args: list[str],
        cwd: str | None,
        env: list[tuple[str, str]],
        timeout_ms: int | None,
    ) -> Output: ...

    def scratch_dir(self) -> str: ...

    def read_bytes(self, path: str) -> bytes | None: ...


def _relative(path: str) -> str:
    """A workspace-relative path, refused when it is absolute or climbs out."""
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if path.startswith("/") or ".." in parts:
        raise ValueError(f"`{path}` is not a path inside the workspace")
    return "/".join(parts) or "."


class Context:
    """Where and why a check runs, and what it may do there."""

    def __init__(
        self,
        host: Host,
        *,
        workflow: str | None = None,
        phase: str | None = None,
        evidence: Any = None,
        baselines: Iterable[Baseline] = (),
    ) -> None:
        self.host = host
        self.workflow = workflow
        self.phase = phase
        #: The evidence submitted with the checkpoint (parsed JSON), if any.
        self.evidence = evidence
        #: Facts this rule recorded at earlier phases, oldest first.
        self.baselines = list(baselines)

    def baseline(self, phase: str | None = None) -> Any:
        """The facts of the latest baseline (or of ``phase``), or None."""
        for b in reversed(self.baselines):
            if phase is None or b.phase == phase:
                return b.facts
        return None

    def log(self, message: str, level: str = "info") -> None:
        """A line in the host's log (never shown to the agent)."""
        self.host.log(level, message)

    def stat(self, path: str) -> Entry | None:
        """What is at a workspace-relative path, or None when nothing is."""
        return self.stat_all([path])[0]

    def stat_all(self, paths: list[str]) -> list[Entry | None]:
        """:meth:`stat` of many paths in one call to the host."""
        found = self.host.stat_many([_relative(p) for p in paths])
        out: list[Entry | None] = []
        for path, entry in zip(paths, found):
            if isinstance(entry, Entry):
                out.append(entry)
            elif entry == "not-found":
                out.append(None)
            else:
                raise OSError(f"cannot look at `{path}`: {entry}")
        return out

    def exists(self, path: str) -> bool:
        return self.stat(path) is not None

    def glob(self, pattern: str, limit: int = 10_000) -> list[str]:
        """Workspace-relative paths matching a glob (``src/**/*.py``), sorted."""
        return self.host.glob(pattern, limit)

    def read_text(self, path: str) -> str | None:
        """A workspace file's text (UTF-8), or None when it does not exist."""
        data = self.host.read_bytes(_relative(path))
        return None if data is None else data.decode("utf-8", errors="replace")

    def exec(
        self,
        program: str,
        *args: str,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        timeout_ms: int | None = None,
    ) -> Output:
        """Runs a program the rule declared (``exec:<program>``) and the
        workspace granted. Raises :class:`Refused` when the host will not."""
        if "/" in program:
            raise Refused("not-declared", f"`{program}`: name a program, never a path")
        return self.host.exec(
            program,
            list(args),
            None if cwd is None else _relative(cwd),
            sorted((env or {}).items()),
            timeout_ms,
        )

    def scratch_dir(self) -> str:
        """A workspace-relative directory for this check only."""
        return self.host.scratch_dir()


class Rule:
    """A validation rule. Set the class attributes, implement :meth:`check`
    (and :meth:`inputs` to let the host reuse outcomes)."""

    id: str = ""
    version: str = "0.1.0"
    description: str = ""
    #: JSON Schema of the config (a dict); the host validates every config
    #: against it before :meth:`check` sees it.
    config_schema: dict = {"type": "object", "additionalProperties": False}
    #: Capabilities, e.g. ``["exec:git"]``.
    capabilities: list[str] = []
    #: Workspace globs of files that change how the rule judges.
    judging_files: list[str] = []

    def inputs(self, config: dict) -> list[str]:
        """Globs of the files a check with this config depends on; the host
        reuses an earlier outcome while they are unchanged. Empty: never."""
        return []

    def check(self, config: dict, cx: Context) -> Outcome:
        raise NotImplementedError

    def run(self, config: dict, cx: Context) -> Outcome:
        """:meth:`check`, with a refused program turned into the failing
        outcome that says how to fix it."""
        try:
            outcome = self.check(config, cx)
        except Refused as refused:
            return Outcome(False, f"could not run: {refused.message}", [refused.finding()])
        if not isinstance(outcome, Outcome):
            raise TypeError(f"{type(self).__name__}.check returned {type(outcome).__name__}, not an Outcome")
        return outcome

    def info(self) -> dict:
        """What the rule says about itself, checked."""
        if not self.id:
            raise ValueError(f"{type(self).__name__} sets no id")
        return {
            "id": self.id,
            "version": self.version,
            "description": self.description,
            "config_schema": json.dumps(self.config_schema),
            "capabilities": list(self.capabilities),
            "judging_files": list(self.judging_files),
        }


def export(rule: Rule) -> type:
    """The ``WitWorld`` class componentize-py exports for ``rule``. Only
    works inside a component build (it imports the generated bindings)."""
    from checkrail_rule._component import world_for

    return world_for(rule)
