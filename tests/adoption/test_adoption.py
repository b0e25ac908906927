"""The adoption test (tests/adoption/run.py) from pytest, and the guide's markers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.adoption.run import CASES, GUIDE, guide_steps

RUN = Path(__file__).with_name("run.py")


def test_the_install_guide_marks_every_step_of_an_adoption_for_every_case():
    steps = guide_steps(GUIDE.read_text())
    for case in CASES:
        mine = [step for step in steps if case in step.cases]
        kinds = [(step.action, step.path) for step in mine]
        assert ("append", "settings.py") in kinds
        assert ("write", "urls.py") in kinds
        assert ("secrets", None) in kinds
        assert any("python manage.py migrate" in step.body for step in mine if step.action == "run")


@pytest.mark.adoption
@pytest.mark.skipif(
    os.environ.get("TOKENS_ADOPTION_TEST") != "1",
    reason="builds the wheel and three fresh virtualenvs (minutes): set TOKENS_ADOPTION_TEST=1 "
    "or run `make adoption`; CI runs it (.ci/run)",
)
def test_a_fresh_project_adopts_the_wheel_by_the_install_guide_for_every_user_model():
    result = subprocess.run([sys.executable, str(RUN)], capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "adoption: every case passed" in result.stdout
