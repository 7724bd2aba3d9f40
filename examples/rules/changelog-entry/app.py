"""The component's entry: componentize-py exports this module's WitWorld."""

import checkrail_rule
from changelog_entry import ChangelogEntry

WitWorld = checkrail_rule.export(ChangelogEntry())
