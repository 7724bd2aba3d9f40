"""Builds a rule into a checkrail component:

    python -m checkrail_rule.build app -o my-rule.wasm

runs componentize-py (``pip install componentize-py==0.25.1``) on the module
``app`` (which holds ``WitWorld = checkrail_rule.export(MyRule())``) against
the ``checkrail:rule`` WIT this package carries, then stamps the component
with the API version, as checkrail requires of every rule.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from . import API_VERSION

#: The custom section checkrail reads before it compiles a component.
SECTION = "checkrail:api-version"
WIT = Path(__file__).parent / "wit"


def _leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def stamp(component: Path, version: str = API_VERSION) -> None:
    """Appends the API version stamp (a custom section) to a component."""
    data = component.read_bytes()
    if data[:8] != b"\0asm\x0d\0\x01\0":
        raise SystemExit(f"{component} is not a WebAssembly component")
    name = SECTION.encode()
    body = _leb128(len(name)) + name + version.encode()
    component.write_bytes(data + b"\0" + _leb128(len(body)) + body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m checkrail_rule.build", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("app", help="the module that defines WitWorld (e.g. app)")
    parser.add_argument("-o", "--output", required=True, type=Path, help="the component to write")
    parser.add_argument("-p", "--path", action="append", default=[], help="extra module search path")
    args = parser.parse_args(argv)
    # The one installed beside this Python (a venv's), else on PATH.
    beside = Path(sys.executable).parent / "componentize-py"
    tool = str(beside) if beside.is_file() else shutil.which("componentize-py")
    if tool is None:
        print("componentize-py is not installed: pip install componentize-py==0.25.1", file=sys.stderr)
        return 2
    sdk_root = Path(__file__).resolve().parent.parent
    command = [tool, "-d", str(WIT), "-w", "rule", "componentize", args.app,
               "-p", ".", "-p", str(sdk_root)]
    for extra in args.path:
        command += ["-p", extra]
    command += ["-o", str(args.output)]
    done = subprocess.run(command)
    if done.returncode != 0:
        return done.returncode
    stamp(args.output)
    print(f"built {args.output} (checkrail rule API {API_VERSION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
