"""An agent inside `checkrail run`: it tries every shortcut to the record
that judges it, then does honest work through the MCP server it is given.

Usage: confined_agent.py STATE_DIR CHECKRAIL [--only-read-key]

It prints one JSON object on stdout: each attack with whether it was
refused and what happened, the session it worked in, and the hook's
answer. The test that runs it decides what must hold.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import anyio
from mcp import Client, StdioServerParameters, stdio_client

STATE = Path(sys.argv[1])
CHECKRAIL = sys.argv[2]
ONLY_READ_KEY = "--only-read-key" in sys.argv
WORKSPACE = Path.cwd()


def attempt(name: str, action: Callable[[], Any]) -> dict[str, Any]:
    """Runs one attack; refused when it raises (the kernel said no)."""
    try:
        detail = action()
        return {"attack": name, "refused": False, "detail": str(detail)[:300]}
    except (OSError, RuntimeError) as e:
        return {"attack": name, "refused": True, "detail": str(e)[:300]}


def at_terminal(args: list[str], answers: list[str]) -> tuple[int, str]:
    """Runs checkrail at a pseudo-terminal the agent opened, answering
    each prompt: what a human's terminal looks like to a program."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(CHECKRAIL, [CHECKRAIL, *args])
    out = b""
    pending = list(answers)
    deadline = time.monotonic() + 120
    while True:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        prompt = out.rsplit(b"\n", 1)[-1].rstrip()
        if pending and (b"type `" in prompt or prompt.endswith(b":")):
            os.write(fd, pending.pop(0).encode() + b"\n")
            out += b"\n"
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def refused_at_terminal(args: list[str], answers: list[str]) -> str:
    code, out = at_terminal(args, answers)
    if code == 0:
        return f"exit 0: {out.strip()[-200:]}"
    raise RuntimeError(f"exit {code}: {out.strip()[-300:]}")


def sessions_db() -> Path:
    # Names are visible (listing is allowed); contents are not.
    for corner in (STATE / "workspaces").iterdir():
        db = corner / "sessions.db"
        if db.name in os.listdir(corner):
            return db
    raise RuntimeError("no sessions.db listed")


def attacks(session: str) -> list[dict[str, Any]]:
    supervisor = os.getppid()
    found = [
        attempt("read the key", lambda: (STATE / "key").read_bytes()),
        attempt("read the server's environment", lambda: Path(f"/proc/{supervisor}/environ").read_bytes()),
        attempt("read the server's memory", lambda: Path(f"/proc/{supervisor}/mem").open("rb").read(1)),
        attempt("write the store", lambda: sessions_db().open("ab").write(b"forged")),
        attempt("stop the server", lambda: os.kill(supervisor, signal.SIGTERM)),
        attempt("delete the state directory", lambda: shutil.rmtree(STATE)),
        attempt(
            "set the dashboard password",
            lambda: refused_at_terminal(["dashboard", "--set-password"], ["hunter2hunter2", "hunter2hunter2"]),
        ),
        attempt(
            "approve its own gate at a terminal",
            lambda: refused_at_terminal(["session", "approve", session, "--workspace", str(WORKSPACE)], ["approve"]),
        ),
        attempt(
            "allow its own policy at a terminal",
            lambda: refused_at_terminal(["allow", "--workspace", str(WORKSPACE)], ["allow"]),
        ),
    ]
    return found


async def call(client: Client, tool: str, args: dict[str, Any]) -> tuple[bool, Any]:
    result = await client.call_tool(tool, args)
    text = " ".join(getattr(c, "text", "") for c in result.content)
    return (not result.is_error, result.structured_content if not result.is_error else text)


async def main() -> None:
    report: dict[str, Any] = {}
    if ONLY_READ_KEY:
        report["attacks"] = [attempt("read the key", lambda: (STATE / "key").read_bytes())]
    # The SDK hands a server only a few variables unless told: pass ours,
    # as a client configured with `env` does, so `checkrail serve` finds
    # the supervisor.
    params = StdioServerParameters(
        command=CHECKRAIL, args=["serve", "--workspace", str(WORKSPACE)], env=dict(os.environ)
    )
    async with Client(stdio_client(params), mode="legacy", read_timeout_seconds=120, cache=None) as client:
        tools = await client.list_tools()
        report["tools"] = sorted(t.name for t in tools.tools)
        ok, started = await call(client, "workflow_start", {"workflow": "docs-flow"})
        if not ok:
            raise SystemExit(f"workflow_start failed: {started}")
        session = started["session"]["id"]
        report["session"] = session
        if ONLY_READ_KEY:
            print(json.dumps(report))
            return
        # Honest work: write what the phases ask for, and check it.
        (WORKSPACE / "README.md").write_text("# the project\n")
        # It runs the project's tests, as it would while it works.
        (WORKSPACE / "tests").mkdir(exist_ok=True)
        (WORKSPACE / "tests" / "test_ok.py").write_text("def test_ok():\n    assert 1 + 1 == 2\n")
        ran = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "tests"], cwd=WORKSPACE, capture_output=True, text=True, timeout=300
        )
        report["pytest"] = {"code": ran.returncode, "tail": ran.stdout[-300:] + ran.stderr[-300:]}
        ok, first = await call(client, "workflow_validate", {"session": session})
        report["readme"] = first if ok else {"error": first}
        # Every other tool answers too.
        calls = [
            ("workflow_list", {}),
            ("workflow_get", {"workflow": "docs-flow"}),
            ("workflow_next", {"session": session}),
            ("workflow_state", {"session": session}),
            ("workflow_control", {"session": session, "action": "pause"}),
            ("workflow_control", {"session": session, "action": "resume"}),
        ]
        report["calls"] = {}
        for tool, args in calls:
            ok, _ = await call(client, tool, args)
            report["calls"][f"{tool} {args.get('action', '')}".strip()] = ok
        (WORKSPACE / "CHANGELOG.md").write_text("## 0.1.0\n- first\n")
        ok, second = await call(client, "workflow_validate", {"session": session})
        report["changelog"] = second if ok else {"error": second}
        report["attacks"] = attacks(session)
        # Its own approval policy: written, never used without a human.
        config = WORKSPACE / "checkrail.toml"
        allowed = config.read_text() if config.exists() else ""
        config.write_text(allowed + '\n[approval]\nvia = ["terminal", "elicitation"]\n')
        ok, again = await call(client, "workflow_start", {"workflow": "docs-flow"})
        report["attacks"].append(
            {"attack": "edit the approval policy", "refused": not ok, "detail": str(again)[:300]}
        )
        if allowed:
            config.write_text(allowed)
        else:
            config.unlink()
    # The agent's own hook, as its harness runs it.
    hook_input = json.dumps({"session_id": "conversation-1", "cwd": str(WORKSPACE), "hook_event_name": "Stop"})
    hook = subprocess.run(
        [CHECKRAIL, "hook", "stop", "--agent", "claude"],
        input=hook_input, capture_output=True, text=True, timeout=300,
    )
    report["hook"] = {"code": hook.returncode, "stdout": hook.stdout, "stderr": hook.stderr}
    print(json.dumps(report))


anyio.run(main)
