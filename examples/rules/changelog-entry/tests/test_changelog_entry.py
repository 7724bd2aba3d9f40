"""The rule's logic, run natively against real directories."""

from changelog_entry import ChangelogEntry
from checkrail_rule.testing import check

GOOD = """# Changelog

## [Unreleased]

### Added
- attestations for pull requests

## [0.1.0] - 2026-11-30

### Fixed
- a crash
"""


def write(tmp_path, text):
    (tmp_path / "CHANGELOG.md").write_text(text)
    return tmp_path


def test_a_changelog_with_an_entry_passes_and_records_the_count(tmp_path):
    outcome = check(ChangelogEntry(), {}, write(tmp_path, GOOD))
    assert outcome.passed, outcome
    assert outcome.summary == "1 entries under [Unreleased]"
    assert outcome.facts == {"entries": 1}


def test_a_missing_changelog_says_what_to_write(tmp_path):
    outcome = check(ChangelogEntry(), {}, tmp_path)
    assert not outcome.passed
    [finding] = outcome.findings
    assert (finding.path, finding.code) == ("CHANGELOG.md", "missing-changelog")
    assert "## [Unreleased]" in finding.fix_hint


def test_bad_headings_kinds_and_dates_are_found_at_their_lines(tmp_path):
    text = GOOD.replace("### Added", "### Improvements").replace("[0.1.0] - 2026-11-30", "[0.1] - 30.11.2026")
    outcome = check(ChangelogEntry(), {}, write(tmp_path, text))
    assert not outcome.passed
    assert [(f.code, f.line) for f in outcome.findings] == [
        ("unknown-kind", 5),
        ("bad-version", 8),
        ("bad-date", 8),
    ]


def test_an_empty_unreleased_section_fails(tmp_path):
    outcome = check(ChangelogEntry(), {"min_entries": 1}, write(tmp_path, "# Changelog\n\n## [Unreleased]\n"))
    assert [(f.code, f.line) for f in outcome.findings] == [("too-few-entries", 3)]


def test_more_than_before_compares_with_the_baseline(tmp_path):
    config = {"more_than_before": True}
    ws = write(tmp_path, GOOD)
    held = check(ChangelogEntry(), config, ws, baselines=[("plan", {"entries": 1})])
    assert [f.code for f in held.findings] == ["no-new-entry"]
    grown = check(ChangelogEntry(), config, ws, baselines=[("plan", {"entries": 0})])
    assert grown.passed
