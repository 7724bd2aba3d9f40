"""The rule as a component: the ``WitWorld`` class componentize-py exports,
and the host the component imports, adapted to :class:`checkrail_rule.Host`.

Imported only inside a component build, where componentize-py has
generated the ``wit_world`` bindings from the WIT this package carries.
"""

from __future__ import annotations

import json
import traceback

import wit_world  # type: ignore[import-not-found]
from componentize_py_types import Err  # type: ignore[import-not-found]
from wit_world.imports import host, types  # type: ignore[import-not-found]

from . import Baseline, Context, Entry, Output, Refused, Rule

_SEVERITY = {
    "error": types.Severity.ERROR,
    "warning": types.Severity.WARNING,
    "info": types.Severity.INFO,
}
_LEVEL = {
    "trace": host.LogLevel.TRACE,
    "debug": host.LogLevel.DEBUG,
    "info": host.LogLevel.INFO,
    "warn": host.LogLevel.WARN,
    "error": host.LogLevel.ERROR,
}
_KIND = {
    host.EntryKind.FILE: "file",
    host.EntryKind.DIRECTORY: "directory",
    host.EntryKind.SYMLINK: "symlink",
    host.EntryKind.OTHER: "other",
}
_REFUSAL = {
    host.ExecError_NotDeclared: "not-declared",
    host.ExecError_NotGranted: "not-granted",
    host.ExecError_NotFound: "not-found",
    host.ExecError_Failed: "failed",
}


class ComponentHost:
    """checkrail's host, as the component imports it."""

    def log(self, level: str, message: str) -> None:
        host.log(_LEVEL.get(level, host.LogLevel.INFO), message)

    def stat_many(self, paths: list[str]) -> list[Entry | str]:
        out: list[Entry | str] = []
        for result in host.stat_many(paths):
            value = result.value
            if isinstance(value, host.Entry):
                out.append(Entry(_KIND[value.kind], value.size, value.is_symlink))
            elif isinstance(value, host.PathError_NotFound):
                out.append("not-found")
            elif isinstance(value, host.PathError_OutsideWorkspace):
                out.append("outside the workspace")
            else:
                out.append(str(getattr(value, "value", value)))
        return out

    def glob(self, pattern: str, limit: int) -> list[str]:
        try:
            return list(host.glob(pattern, limit))
        except Err as e:
            raise ValueError(f"glob `{pattern}`: {e.value}") from None

    def exec(self, program, args, cwd, env, timeout_ms) -> Output:
        try:
            out = host.exec(host.Command(program, args, cwd, env, timeout_ms))
        except Err as e:
            raise Refused(_REFUSAL.get(type(e.value), "failed"), str(e.value.value)) from None
        return Output(
            out.exit_code,
            out.timed_out,
            out.stdout,
            out.stderr,
            out.stdout_truncated,
            out.stderr_truncated,
            out.duration_ms,
        )

    def scratch_dir(self) -> str:
        try:
            return host.scratch_dir()
        except Err as e:
            raise OSError(f"no scratch directory: {e.value}") from None

    def read_bytes(self, path: str) -> bytes | None:
        # The workspace is preopened read-only at `.`.
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None


def _parse(text: str | None):
    return None if text is None else json.loads(text)


def world_for(rule: Rule) -> type:
    info = rule.info()
    the_host = ComponentHost()

    class WitWorld(wit_world.WitWorld):
        def describe(self):
            return types.RuleInfo(**info)

        def inputs(self, config: str):
            return list(rule.inputs(json.loads(config)))

        def check(self, config: str, context):
            cx = Context(
                the_host,
                workflow=context.workflow,
                phase=context.phase,
                evidence=_parse(context.evidence),
                baselines=[Baseline(b.phase, _parse(b.facts)) for b in context.baselines],
            )
            try:
                outcome = rule.run(json.loads(config), cx)
            except Exception as error:  # the rule could not run at all
                tail = "".join(traceback.format_exception(error)[-3:]).strip()
                raise Err(f"{type(error).__name__}: {error}\n{tail}") from None
            return types.Outcome(
                outcome.passed,
                outcome.summary,
                [
                    types.Finding(
                        _SEVERITY[f.severity], f.message, f.path, f.line, f.column, f.fix_hint, f.code
                    )
                    for f in outcome.findings
                ],
                None if outcome.facts is None else json.dumps(outcome.facts),
            )

    return WitWorld
