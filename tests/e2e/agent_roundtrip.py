#!/usr/bin/env python3
"""End-to-end: an MCP agent walks the bundled `project-basics` workflow
against a real `checkrail serve` process over stdio, using the official
Python MCP SDK (2.x), including a server restart in the middle.

Usage:
    python tests/e2e/agent_roundtrip.py /path/to/checkrail

Prints a short transcript; exits 1 with a `FAIL:` line on the first broken
expectation. Compiled rule components are cached in $CHECKRAIL_CACHE_DIR
(default: <system temp>/checkrail-e2e-cache), shared across runs.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters, stdio_client
from mcp.client import stdio as sdk_stdio

WORKFLOW = "project-basics"
TOOLS = {
    "workflow_list",
    "workflow_get",
    "workflow_start",
    "workflow_next",
    "workflow_validate",
    "workflow_state",
    "workflow_control",
}
# Generous: the first run compiles the rule components (seconds); later runs hit the cache.
CALL_TIMEOUT_SECONDS = 120.0
# How long to wait for something bound to happen: a guard against hangs on a loaded machine,
# far above what anything needs; no claim rests on it.
PATIENCE_SECONDS = 60.0


class Failure(Exception):
    """A broken expectation."""


def expect(condition: object, message: str, detail: Any = None) -> None:
    if not condition:
        if detail is not None:
            message += "\n  got: " + json.dumps(detail, indent=2, default=str)[:4000]
        raise Failure(message)


def say(step: str, text: str) -> None:
    print(f"[{step}] {text}", flush=True)


# --- the server process ---------------------------------------------------


def server_children(binary: Path) -> list[int]:
    """Pids of our child processes running `binary` (Linux /proc), or [] when /proc is unavailable."""
    me = os.getpid()
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            # The command name is parenthesised and may contain spaces: the ppid follows the last ')'.
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == me and os.path.samefile(entry / "exe", binary):
                pids.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


@contextlib.asynccontextmanager
async def connect(binary: Path, workspace: Path, log: Path, label: str) -> AsyncIterator[Client]:
    """Spawns `checkrail serve --workspace <workspace>` and connects to it over stdio.

    On leaving, the SDK closes the server's stdin and waits up to
    PROCESS_TERMINATION_TIMEOUT for it to exit before it would SIGTERM it:
    this checks the server exited on its own within that grace period, which
    `main` raises from the SDK's 2 s to PATIENCE_SECONDS so that a slow exit
    on a loaded machine is not mistaken for a hang.
    """
    params = StdioServerParameters(
        command=str(binary),
        args=["serve", "--workspace", str(workspace)],
        env={"CHECKRAIL_CACHE_DIR": cache_dir()},
    )
    with log.open("a") as errlog:
        errlog.write(f"--- {label} ---\n")
        errlog.flush()
        # stdio_client(...) is the transport Client builds from StdioServerParameters itself;
        # built here only to send the server's stderr to a log file instead of ours.
        client = Client(
            stdio_client(params, errlog=errlog),
            # The initialize handshake (2025-11-25). The SDK's default, "auto", would negotiate
            # 2026-07-28 with this server instead (the round trip passes that way too).
            mode="legacy",
            read_timeout_seconds=CALL_TIMEOUT_SECONDS,
            cache=None,  # every read must reach the server: resources change between reads
        )
        async with client:
            pids = server_children(binary)
            expect(pids or not Path("/proc/self").exists(), f"{label}: cannot find the server process in /proc")
            yield client
            closing = time.monotonic()
        took = time.monotonic() - closing
    grace = sdk_stdio.PROCESS_TERMINATION_TIMEOUT
    expect(
        took < grace,
        f"{label}: the server did not exit within {grace}s of its stdin closing (closing took {took:.2f}s, "
        "so the SDK had to kill it)",
    )
    for pid in pids:
        expect(not Path(f"/proc/{pid}").exists(), f"{label}: server process {pid} still exists after the client closed")
    say("close", f"{label}: stdin closed, server exited by itself in {took:.2f}s" + (f" (pid {pids[0]} gone)" if pids else ""))


def cache_dir() -> str:
    return os.environ.get("CHECKRAIL_CACHE_DIR") or str(Path(tempfile.gettempdir()) / "checkrail-e2e-cache")


# --- tool calls -----------------------------------------------------------


async def call(client: Client, tool: str, args: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Calls a tool that must succeed; returns its structuredContent.

    The SDK itself validates structuredContent against the tool's outputSchema.
    """
    result = await client.call_tool(tool, args, **kwargs)
    text = " ".join(getattr(c, "text", "") for c in result.content)
    expect(not result.is_error, f"{tool} {json.dumps(args)} returned an error: {text}")
    expect(isinstance(result.structured_content, dict), f"{tool} returned no structuredContent object", text)
    return result.structured_content


async def call_error(client: Client, tool: str, args: dict[str, Any]) -> str:
    """Calls a tool that must fail as a tool result (isError); returns its text message."""
    result = await client.call_tool(tool, args)
    expect(result.is_error, f"{tool} {json.dumps(args)} was expected to fail", result.structured_content)
    text = " ".join(getattr(c, "text", "") for c in result.content)
    expect(text.strip(), f"{tool} failed without a text message")
    return text


def findings(validation: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for rule in validation.get("report", {}).get("rules", []) for f in rule.get("findings", [])]


def describe(validation: dict[str, Any]) -> str:
    report = validation.get("report") or {}
    return (
        f"passed={validation['passed']} advanced={validation['advanced']} "
        f"summary={report.get('summary')!r} -> phase {standing_phase(validation['standing'])!r}, "
        f"status {validation['standing']['session']['status']!r}"
    )


def standing_phase(standing: dict[str, Any]) -> str | None:
    return (standing.get("phase") or {}).get("id")


# --- the steps ------------------------------------------------------------


async def step_handshake(client: Client) -> None:
    info = client.server_info
    expect(info is not None and info.name == "checkrail", "serverInfo.name is not `checkrail`", str(info))
    say("2", f"initialized: {info.name} {info.version}, protocol {client.protocol_version}")

    tools = (await client.list_tools()).tools
    names = {t.name for t in tools}
    expect(TOOLS <= names, f"tools missing: {sorted(TOOLS - names)}", sorted(names))
    for tool in tools:
        if tool.name in TOOLS:
            schema = tool.output_schema
            expect(
                isinstance(schema, dict) and schema.get("type") == "object",
                f"tool {tool.name} has no outputSchema of type object",
                schema,
            )
    say("2", f"tools: {', '.join(sorted(names))} (each with an object outputSchema)")

    resources = (await client.list_resources()).resources
    uris = [str(r.uri) for r in resources]
    expect(f"checkrail://workflows/{WORKFLOW}" in uris, f"resource checkrail://workflows/{WORKFLOW} not listed", uris)
    say("2", f"resources: {', '.join(uris)}")


async def step_start(client: Client) -> str:
    started = await call(client, "workflow_start", {"workflow": WORKFLOW})
    session = started["session"]
    expect(session["workflow_id"] == WORKFLOW, "session is of the wrong workflow", session)
    expect(session["status"] == "active", "a new session is not active", session)
    expect(session["phase_id"] == "readme", "a new session is not at phase `readme`", session)
    expect(standing_phase(started) == "readme", "workflow_start did not return phase `readme`", started.get("phase"))
    expect(started.get("next_step"), "workflow_start returned no next_step", started)
    say("3", f"workflow_start {WORKFLOW} -> session {session['id']} at phase `readme`")
    return session["id"]


async def step_readme_fails(client: Client, session: str) -> None:
    result = await call(client, "workflow_validate", {"session": session, "phase": "readme"})
    say("4", f"validate readme (no README.md): {describe(result)}")
    expect(result["passed"] is False and result["advanced"] is False, "validate passed without a README.md", result)
    readme = [f for f in findings(result) if f.get("path") == "README.md"]
    expect(readme, "no finding names README.md", result.get("report"))
    expect(all((f.get("fix_hint") or "").strip() for f in readme), "a README.md finding has no fix_hint", readme)
    expect(result["standing"]["session"]["phase_id"] == "readme", "a failed validate moved the session", result["standing"])
    for f in readme:
        say("4", f"  finding {f['path']}: {f['message']} (fix: {f['fix_hint']})")


async def step_readme_passes(client: Client, session: str, workspace: Path) -> None:
    (workspace / "README.md").write_text(
        "# demo\n\nA demo project for the checkrail end-to-end test.\n\n## Usage\n\n```sh\ndemo --help\n```\n"
    )
    result = await call(client, "workflow_validate", {"session": session, "phase": "readme"})
    say("5", f"wrote README.md; validate readme: {describe(result)}")
    expect(result["passed"] is True, "validate still fails with a proper README.md", result.get("report"))
    expect(result["advanced"] is True, "a passing validate did not advance the session", result)
    expect(standing_phase(result["standing"]) == "legal-and-history", "not at `legal-and-history`", result["standing"])


async def step_resumed(client: Client, session: str) -> None:
    standing = await call(client, "workflow_next", {"session": session})
    say("6", f"new server: workflow_next -> phase {standing_phase(standing)!r}, status {standing['session']['status']!r}")
    expect(standing["session"]["id"] == session, "workflow_next answered for another session", standing["session"])
    expect(standing["session"]["status"] == "active", "the session is no longer active after a restart", standing)
    expect(standing_phase(standing) == "legal-and-history", "the session did not survive the restart", standing)
    schema = (standing["phase"].get("checkpoint") or {}).get("evidence_schema") or {}
    expect("license" in schema.get("required", []), "legal-and-history does not ask for `license` evidence", schema)


async def step_legal_fails(client: Client, session: str, workspace: Path) -> None:
    (workspace / "build.log").write_text("stray\n")  # for the "no stray files" rule
    result = await call(
        client,
        "workflow_validate",
        {"session": session, "phase": "legal-and-history", "evidence": {"license": "MIT License"}},
    )
    say("7", f"validate with license 'MIT License', no LICENSE/CHANGELOG, a build.log: {describe(result)}")
    expect(result["passed"] is False and result["advanced"] is False, "validate passed with bad evidence", result)
    violations = result["report"].get("evidence_violations", [])
    for v in violations:
        say("7", f"  evidence violation {v.get('pointer')!r}: {v.get('message')}")
    expect(any(v.get("pointer") == "/license" for v in violations), "no evidence violation at /license", violations)
    found = findings(result)
    for f in found:
        say("7", f"  finding {f.get('path') or '(no path)'}: {f.get('message')} (fix: {f.get('fix_hint')})")
    expect(any(f.get("path") == "CHANGELOG.md" for f in found), "no finding names CHANGELOG.md", found)
    expect(any("LICENSE" in f"{f.get('path')} {f.get('message')}" for f in found), "no finding mentions LICENSE", found)
    expect(any(f.get("path") == "build.log" for f in found), "no finding names the stray build.log", found)
    expect(standing_phase(result["standing"]) == "legal-and-history", "a failed validate moved the session", result)


async def step_legal_passes_and_completes(client: Client, session: str, workspace: Path) -> None:
    (workspace / "build.log").unlink()
    (workspace / "LICENSE").write_text("MIT License\n\nCopyright (c) the demo authors\n")
    (workspace / "CHANGELOG.md").write_text("# Changelog\n\n## 0.1.0\n\n- First release.\n")
    # Step 11 rides on this validate: two rules, so several progress notifications.
    result = await validate_with_progress(
        client, {"session": session, "phase": "legal-and-history", "evidence": {"license": "MIT"}}
    )
    say("8", f"added LICENSE + CHANGELOG.md, removed build.log; validate with license 'MIT': {describe(result)}")
    expect(result["passed"] is True, "validate still fails", result.get("report"))
    expect(result["advanced"] is True, "a passing validate did not advance the session", result)
    expect(standing_phase(result["standing"]) == "done", "not at phase `done`", result["standing"])

    result = await call(client, "workflow_validate", {"session": session, "phase": "done"})
    say("8", f"validate done: {describe(result)}")
    expect(result["passed"] is True and result["advanced"] is True, "the last phase did not pass and advance", result)
    expect(result["standing"]["session"]["status"] == "completed", "the session is not completed", result["standing"])


async def step_timeline(client: Client, session: str) -> None:
    contents = (await client.read_resource(f"checkrail://sessions/{session}")).contents
    expect(contents and hasattr(contents[0], "text"), "the session resource has no text content", str(contents))
    body = json.loads(contents[0].text)
    kinds = [e["kind"] for e in body.get("events", [])]
    say("9", f"resource checkrail://sessions/{session}: status {body['session']['status']!r}, events {kinds}")
    expect(body["session"]["status"] == "completed", "the session resource does not say completed", body["session"])
    expect("advanced" in kinds and "completed" in kinds, "the resource's events lack `advanced`/`completed`", kinds)

    state = await call(client, "workflow_state", {"session": session})
    sessions = state.get("sessions", [])
    expect(len(sessions) == 1 and sessions[0]["id"] == session, "workflow_state did not return the one session", sessions)
    expect(sessions[0]["status"] == "completed", "workflow_state does not say completed", sessions[0])
    events = state.get("events") or []
    seqs = [e["seq"] for e in events]
    expect(seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "event seq numbers are not increasing", seqs)
    timeline = [(e["kind"], e.get("phase")) for e in events]
    # The story so far, in order (other events may sit between these).
    story = [
        ("started", None),
        ("validation_failed", "readme"),
        ("validated", "readme"),
        ("advanced", "legal-and-history"),
        ("validation_failed", "legal-and-history"),
        ("validated", "legal-and-history"),
        ("advanced", "done"),
        ("validated", "done"),
        ("completed", "done"),
    ]
    rest = iter(timeline)
    missing = [
        (kind, phase)
        for kind, phase in story
        if not any(k == kind and (phase is None or p == phase) for k, p in rest)
    ]
    expect(not missing, f"the timeline lacks, in order: {missing}", timeline)
    expect(kinds == [k for k, _ in timeline], "the resource's events differ from workflow_state's", [kinds, timeline])
    say("9", "workflow_state timeline: " + ", ".join(f"{k}@{p}" if p else k for k, p in timeline))


async def step_errors(client: Client, session: str) -> None:
    message = await call_error(client, "workflow_next", {"session": "no-such-session"})
    say("10", f"workflow_next bogus session -> isError: {message}")
    expect("unknown session" in message, "the error does not mention `unknown session`", message)
    standing = await call(client, "workflow_next", {"session": session})
    expect(standing["session"]["id"] == session, "the server answered wrongly after an error", standing)
    say("10", f"server still works: workflow_next -> status {standing['session']['status']!r}")


async def validate_with_progress(client: Client, args: dict[str, Any]) -> dict[str, Any]:
    """workflow_validate with a progress callback, asserting progress arrived (step 11)."""
    expect(
        "progress_callback" in inspect.signature(client.call_tool).parameters,
        "this MCP SDK's call_tool takes no progress_callback; install the 2.x SDK that "
        "tests/requirements.txt pins (`pip install -r tests/requirements.txt`)",
    )
    notes: list[tuple[float, float | None, str | None]] = []
    finished = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append((progress, total, message))
        if total is not None and progress >= total:
            finished.set()

    result = await call(client, "workflow_validate", args, progress_callback=on_progress)
    # The SDK runs each progress callback as a task of its own, possibly after the answer: wait for
    # the last one (a hang guard only; never reaching it fails below).
    with anyio.move_on_after(PATIENCE_SECONDS):
        await finished.wait()
    for progress, total, message in notes:
        say("11", f"  progress {progress:g}{'' if total is None else f'/{total:g}'}: {message}")
    expect(notes, "no progress notification arrived for a validate call with a progress token")
    values = [progress for progress, _, _ in notes]
    expect(all(b > a for a, b in zip(values, values[1:])), "progress did not increase with every notification", notes)
    expect(finished.is_set(), f"progress never reached its total, {PATIENCE_SECONDS:g} s after the answer", notes)
    return result


# --- the run --------------------------------------------------------------


async def run(binary: Path) -> None:
    workspace = Path(tempfile.mkdtemp(prefix="checkrail-e2e-ws-"))
    log = workspace.parent / f"{workspace.name}.server.log"
    say("1", f"binary {binary}; workspace {workspace}; cache {cache_dir()}; server stderr -> {log}")
    try:
        async with connect(binary, workspace, log, "first server") as client:
            await step_handshake(client)
            session = await step_start(client)
            await step_readme_fails(client, session)
            await step_readme_passes(client, session, workspace)

        async with connect(binary, workspace, log, "second server") as client:
            await step_resumed(client, session)
            await step_legal_fails(client, session, workspace)
            await step_legal_passes_and_completes(client, session, workspace)
            await step_timeline(client, session)
            await step_errors(client, session)
    except BaseException:
        if log.exists():
            print(f"--- server stderr ({log}) ---\n{log.read_text()[-4000:]}", file=sys.stderr)
        print(f"(workspace kept for inspection: {workspace})", file=sys.stderr)
        raise
    shutil.rmtree(workspace)
    log.unlink(missing_ok=True)


def leaves(group: BaseExceptionGroup) -> list[BaseException]:
    return [e for x in group.exceptions for e in (leaves(x) if isinstance(x, BaseExceptionGroup) else [x])]


def main() -> int:
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} PATH/TO/checkrail", file=sys.stderr)
        return 2
    binary = Path(sys.argv[1]).resolve()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        print(f"FAIL: {binary} is not an executable file", file=sys.stderr)
        return 2
    # The SDK's grace for a server to exit after its stdin closes (see `connect`).
    sdk_stdio.PROCESS_TERMINATION_TIMEOUT = PATIENCE_SECONDS
    failures: list[BaseException] = []
    try:
        anyio.run(run, binary)
    except* Failure as group:  # anyio task groups may wrap it in an ExceptionGroup
        failures = leaves(group)
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    if failures:
        return 1
    print("PASS: agent round trip over stdio, restart and resume included")
    return 0


if __name__ == "__main__":
    sys.exit(main())
