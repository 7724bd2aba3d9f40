"""`changelog-entry`: the change is written down in CHANGELOG.md, in the
Keep a Changelog format (https://keepachangelog.com/en/1.1.0/): an
`## [Unreleased]` section with entries under known kinds, and released
versions as `## [x.y.z] - YYYY-MM-DD`."""

from __future__ import annotations

import re

from checkrail_rule import Context, Finding, Outcome, Rule

KINDS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")
VERSION = re.compile(r"^## \[(?P<name>[^\]]+)\](?:\s+-\s+(?P<date>\S+))?\s*$")
SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
DATE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


class ChangelogEntry(Rule):
    id = "changelog-entry"
    version = "0.1.0"
    description = "CHANGELOG.md has entries for the change under [Unreleased], in the Keep a Changelog format"
    config_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "path": {"type": "string", "default": "CHANGELOG.md", "description": "the changelog"},
            "min_entries": {
                "type": "integer", "minimum": 0, "default": 1,
                "description": "entries [Unreleased] must hold",
            },
            "more_than_before": {
                "type": "boolean", "default": False,
                "description": "[Unreleased] must hold more entries than when an earlier phase of the session passed",
            },
        },
    }

    def inputs(self, config: dict) -> list[str]:
        return [config.get("path", "CHANGELOG.md")]

    def check(self, config: dict, cx: Context) -> Outcome:
        path = config.get("path", "CHANGELOG.md")
        text = cx.read_text(path)
        if text is None:
            return Outcome.of([
                Finding.error(f"`{path}` does not exist").at(path).coded("missing-changelog")
                .fix(f"create `{path}` with a `## [Unreleased]` section listing the change, e.g. `### Added` then `- what changed`")
            ])
        findings, unreleased = self._read(path, text.splitlines())
        if unreleased is None:
            findings.append(
                Finding.error("there is no `## [Unreleased]` section").at(path, 1).coded("no-unreleased")
                .fix("add `## [Unreleased]` above the latest release, with the change under `### Added`, `### Fixed`, …")
            )
            return Outcome.of(findings)
        line, entries = unreleased
        wanted = config.get("min_entries", 1)
        if entries < wanted:
            findings.append(
                Finding.error(f"[Unreleased] holds {entries} entries, at least {wanted} wanted").at(path, line)
                .coded("too-few-entries").fix("list the change as `- …` under a `### <kind>` heading in [Unreleased]")
            )
        before = cx.baseline()
        if config.get("more_than_before") and isinstance(before, dict) and entries <= before.get("entries", 0):
            findings.append(
                Finding.error(
                    f"[Unreleased] holds {entries} entries, as many as or fewer than the {before['entries']} "
                    "when an earlier phase passed: this change is not written down"
                ).at(path, line).coded("no-new-entry").fix("add an entry for this change under [Unreleased]")
            )
        summary = f"{entries} entries under [Unreleased]" if not findings else None
        return Outcome.of(findings, summary=summary, facts={"entries": entries})

    def _read(self, path: str, lines: list[str]):
        findings: list[Finding] = []
        unreleased = None
        in_unreleased = False
        for number, line in enumerate(lines, start=1):
            if line.startswith("## "):
                in_unreleased = False
                heading = VERSION.match(line)
                if heading is None:
                    findings.append(
                        Finding.error(f"`{line.strip()}` is not a version heading").at(path, number)
                        .coded("bad-heading").fix("write `## [Unreleased]` or `## [1.2.3] - 2026-12-07`")
                    )
                elif heading["name"] == "Unreleased":
                    in_unreleased = True
                    unreleased = (number, 0)
                else:
                    findings += self._release(path, number, heading)
            elif line.startswith("### ") and line[4:].strip() not in KINDS:
                findings.append(
                    Finding.error(f"`{line[4:].strip()}` is not a kind of change").at(path, number)
                    .coded("unknown-kind").fix(f"use one of: {', '.join(KINDS)}")
                )
            elif in_unreleased and re.match(r"^\s*[-*] \S", line) and unreleased is not None:
                unreleased = (unreleased[0], unreleased[1] + 1)
        return findings, unreleased

    @staticmethod
    def _release(path: str, number: int, heading: re.Match) -> list[Finding]:
        found = []
        if not SEMVER.match(heading["name"]):
            found.append(
                Finding.error(f"`{heading['name']}` is not a semantic version").at(path, number)
                .coded("bad-version").fix("write the version as MAJOR.MINOR.PATCH, e.g. `1.2.3`")
            )
        if heading["date"] is None or not DATE.match(heading["date"]):
            found.append(
                Finding.error(f"release `{heading['name']}` has no date as YYYY-MM-DD").at(path, number)
                .coded("bad-date").fix(f"write `## [{heading['name']}] - YYYY-MM-DD`")
            )
        return found
