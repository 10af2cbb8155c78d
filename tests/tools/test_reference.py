"""The configuration and add-on references are generated from the code and kept current."""

from __future__ import annotations

import subprocess
import sys

from components.addons import ADDONS
from stacks.config import TOP_LEVEL_KEYS
from tools import reference


def test_the_committed_references_are_current():
    assert reference.stale() == [], "regenerate them: python tools/reference.py --write"


def test_the_references_cover_every_key_and_add_on():
    configuration, addons = reference.configuration(), reference.addons()
    for key in TOP_LEVEL_KEYS:
        assert f"`{key}" in configuration, key
    for addon in ADDONS:
        assert f"## {addon.name}\n" in addons
        if addon.section:
            assert f"`platform.{addon.section}." in addons, addon.name


def test_the_tool_reports_stale_pages(tmp_path, monkeypatch):
    page = tmp_path / "addons.md"
    page.write_text("old\n")
    monkeypatch.setattr(reference, "ADDONS_PAGE", page)
    assert page in reference.stale()
    result = subprocess.run(
        [sys.executable, "tools/reference.py"], cwd=reference.ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
