"""Running a rule natively, in tests: a host written in Python over a real
directory, refusing what checkrail's host refuses.

    from checkrail_rule.testing import check

    def test_a_missing_changelog_is_reported(tmp_path):
        outcome = check(Changelog(), {}, tmp_path)
        assert not outcome.passed
        assert outcome.findings[0].path == "CHANGELOG.md"

Programs run only when the rule declares ``exec:<program>`` *and* the test
grants it (``granted=["git"]``), as a workspace's ``checkrail.toml`` would.
The config is not validated against the schema here; checkrail does that
before a component sees it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

from . import Baseline, Context, Entry, Outcome, Output, Refused, Rule


class NativeHost:
    """:class:`checkrail_rule.Host` over the directory ``root``."""

    def __init__(self, root: Path, capabilities: Iterable[str], granted: Iterable[str]) -> None:
        self.root = Path(root).resolve()
        self.capabilities = set(capabilities)
        self.granted = set(granted)
        self.logs: list[tuple[str, str]] = []
        self._scratch: list[str] = []

    def _inside(self, path: str) -> Path | None:
        full = (self.root / path).resolve()
        return full if full == self.root or self.root in full.parents else None

    def log(self, level: str, message: str) -> None:
        self.logs.append((level, message))

    def stat_many(self, paths: list[str]) -> list[Entry | str]:
        out: list[Entry | str] = []
        for path in paths:
            link = self.root / path
            full = self._inside(path)
            if full is None:
                out.append("outside the workspace")
            elif not full.exists():
                out.append("not-found")
            else:
                kind = "file" if full.is_file() else "directory" if full.is_dir() else "other"
                out.append(Entry(kind, full.stat().st_size, link.is_symlink()))
        return out

    def glob(self, pattern: str, limit: int) -> list[str]:
        if pattern.startswith("/") or ".." in pattern.split("/"):
            raise ValueError(f"glob `{pattern}` reaches out of the workspace")
        found = sorted(
            p.relative_to(self.root).as_posix()
            for p in self.root.glob(pattern)
            if self._inside(p.relative_to(self.root).as_posix()) is not None
        )
        return found[:limit]

    def exec(self, program, args, cwd, env, timeout_ms) -> Output:
        if f"exec:{program}" not in self.capabilities:
            raise Refused(
                "not-declared",
                f"the rule does not declare `exec:{program}` among its capabilities",
            )
        if program not in self.granted:
            raise Refused(
                "not-granted",
                f"`{program}` is not granted to this rule; add `[exec] allow = [\"{program}\"]` to checkrail.toml",
            )
        path = shutil.which(program)
        if path is None:
            raise Refused("not-found", f"`{program}` is not installed (not on PATH)")
        workdir = self._inside(cwd or ".")
        if workdir is None:
            raise Refused("failed", f"cwd `{cwd}` is outside the workspace")
        began = time.monotonic()
        scrubbed = {"PATH": os.environ.get("PATH", ""), **dict(env)}
        try:
            done = subprocess.run(
                [path, *args],
                cwd=workdir,
                env=scrubbed,
                capture_output=True,
                text=True,
                timeout=None if timeout_ms is None else timeout_ms / 1000,
            )
        except subprocess.TimeoutExpired as expired:
            return Output(None, True, str(expired.stdout or ""), str(expired.stderr or ""),
                          duration_ms=int((time.monotonic() - began) * 1000))
        return Output(
            done.returncode if done.returncode >= 0 else None,
            False,
            done.stdout,
            done.stderr,
            duration_ms=int((time.monotonic() - began) * 1000),
        )

    def scratch_dir(self) -> str:
        made = tempfile.mkdtemp(prefix=".checkrail-scratch-", dir=self.root)
        self._scratch.append(made)
        return Path(made).relative_to(self.root).as_posix()

    def read_bytes(self, path: str) -> bytes | None:
        full = self._inside(path)
        if full is None:
            raise PermissionError(f"`{path}` is outside the workspace")
        try:
            return full.read_bytes()
        except FileNotFoundError:
            return None

    def clean(self) -> None:
        for made in self._scratch:
            shutil.rmtree(made, ignore_errors=True)


def check(
    rule: Rule,
    config: dict,
    workspace: str | os.PathLike,
    *,
    evidence: Any = None,
    baselines: Iterable[tuple[str, Any]] = (),
    granted: Iterable[str] = (),
    workflow: str | None = None,
    phase: str | None = None,
) -> Outcome:
    """Runs ``rule`` on the directory ``workspace`` as checkrail would."""
    rule.info()  # refuses a rule without an id, as describe would
    host = NativeHost(Path(workspace), rule.capabilities, granted)
    cx = Context(
        host,
        workflow=workflow,
        phase=phase,
        evidence=evidence,
        baselines=[Baseline(p, f) for p, f in baselines],
    )
    try:
        return rule.run(config, cx)
    finally:
        host.clean()
