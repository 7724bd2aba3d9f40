"""The SDK itself: findings, outcomes, the native host's refusals, the stamp."""

import pytest

from checkrail_rule import Finding, Outcome, Rule, codes
from checkrail_rule.build import SECTION, stamp
from checkrail_rule.testing import check


class Runs(Rule):
    id = "runs"
    capabilities = ["exec:git", "exec:no-such-program-here"]

    def __init__(self, program, *args):
        self.program, self.args = program, args

    def check(self, config, cx):
        out = cx.exec(self.program, *self.args, timeout_ms=5_000)
        return Outcome.of(out.problems(self.program), summary=out.stdout.strip())


class Reads(Rule):
    id = "reads"

    def __init__(self, path):
        self.path = path

    def check(self, config, cx):
        return Outcome(True, cx.read_text(self.path) or "")


def test_findings_are_checked_and_chained():
    f = Finding.error("x").at("a.py", 3, 1).fix("do y").coded("c")
    assert (f.path, f.line, f.column, f.fix_hint, f.code) == ("a.py", 3, 1, "do y", "c")
    with pytest.raises(ValueError):
        Finding("fatal", "x")
    with pytest.raises(ValueError):
        Finding.error("x").at("a.py", 0)


def test_an_outcome_fails_on_errors_only():
    assert Outcome.of([Finding.warning("w")]).passed
    assert not Outcome.of([Finding.error("e")]).passed
    assert Outcome.of([]).summary == "all checks hold"


def test_a_program_runs_only_when_declared_granted_and_installed(tmp_path):
    undeclared = check(Runs("ls"), {}, tmp_path, granted=["ls"])
    assert [f.code for f in undeclared.findings] == [codes.EXEC_NOT_DECLARED]
    ungranted = check(Runs("git", "--version"), {}, tmp_path)
    assert [f.code for f in ungranted.findings] == [codes.EXEC_NOT_GRANTED]
    assert ungranted.findings[0].fix_hint.startswith("add `[exec] allow")
    missing = check(Runs("no-such-program-here"), {}, tmp_path, granted=["no-such-program-here"])
    assert [f.code for f in missing.findings] == [codes.TOOL_NOT_FOUND]
    ran = check(Runs("git", "--version"), {}, tmp_path, granted=["git"])
    assert ran.passed and ran.summary.startswith("git version")


def test_a_path_out_of_the_workspace_is_refused(tmp_path):
    (tmp_path / "inside.txt").write_text("in")
    assert check(Reads("inside.txt"), {}, tmp_path).summary == "in"
    for path in ("../outside.txt", "/etc/passwd"):
        with pytest.raises(ValueError):
            check(Reads(path), {}, tmp_path)


def test_the_stamp_is_a_custom_section_at_the_end(tmp_path):
    component = tmp_path / "c.wasm"
    component.write_bytes(b"\0asm\x0d\0\x01\0")
    stamp(component, "0.2.0")
    data = component.read_bytes()
    name = SECTION.encode()
    assert data[8:] == b"\0" + bytes([1 + len(name) + 5, len(name)]) + name + b"0.2.0"
    core = tmp_path / "core.wasm"
    core.write_bytes(b"\0asm\x01\0\0\0")
    with pytest.raises(SystemExit):
        stamp(core)
