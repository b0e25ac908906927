"""The reference docs say what the code does: the settings table and the system-check table."""

from __future__ import annotations

import re
from pathlib import Path

from tokens_app.checks import MESSAGES
from tokens_app.conf import reference_rows

ROOT = Path(__file__).resolve().parent.parent


def _between(text: str, begin: str, end: str) -> str:
    return text[text.index(begin) + len(begin) : text.index(end, text.index(begin))]


def test_the_settings_reference_is_the_table_of_defaults_in_conf():
    documented = _between(
        (ROOT / "docs" / "configuration.md").read_text(), "|---|---|---|\n", "<!-- settings table: end -->"
    )

    # When this fails: `python -m tokens_app.conf` prints the rows to paste.
    assert documented.splitlines() == reference_rows()


def test_the_settings_reference_names_each_setting_once():
    names = [row.split("|")[1].strip(" `") for row in reference_rows()]

    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"TOKENS_[A-Z0-9_]+", name) for name in names)


def test_the_readme_lists_every_system_check_the_app_has():
    section = _between((ROOT / "README.md").read_text(), "### System checks", "\n## ")
    listed = set(re.findall(r"`([EW]\d{3})`", section))

    assert listed == set(MESSAGES)
