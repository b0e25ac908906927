"""Signal definitions stand alone: other apps import them without pulling in
the revocation machinery, and no module imports its own importer."""

from __future__ import annotations

import ast
from pathlib import Path

import tokens_app

APP = Path(tokens_app.__file__).parent


def _app_imports(module: str) -> set[str]:
    tree = ast.parse((APP / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            found |= {node.module} if node.module else {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tokens_app"):
            found.add(node.module.removeprefix("tokens_app").lstrip(".") or "tokens_app")
    return found


def test_signal_definitions_import_nothing_from_the_app():
    assert _app_imports("signals") == set()


def test_revocation_and_the_receivers_do_not_import_each_other_in_a_cycle():
    assert "receivers" not in _app_imports("revocation")
    assert "revocation" in _app_imports("receivers")
