#!/usr/bin/env python3
"""The adoption test: install the app as a new user would, by docs/install.md.

Builds the wheel from this checkout, then for each user-model case of the
install guide, (a) an own ``accounts.User`` with the mixin, (b) Django's
default ``auth.User``, (c) ``tokens_app.User``:

1. a fresh virtualenv with the wheel (plus pytest-django), pinned to the
   versions of requirements*.txt so pip's cache serves it;
2. ``django-admin startproject project``;
3. every snippet docs/install.md marks for that case (an HTML comment
   ``<!-- adoption: CASES ACTION [PATH] -->`` before a fenced block), in the
   guide's order: ``append``/``write`` a file, ``run`` shell lines,
   ``secrets`` (run them and keep the printed NAME=value lines in the
   environment, as the guide says to);
4. a pytest-django suite inside the project (tests/adoption/project_tests.py):
   form login, API login and refresh, the admin's login page and its force
   logout, refresh refused afterwards.

It fails when a step needs something the guide does not say. Prints the
wheel's size and contents, and what a user writes (steps, lines).

    python tests/adoption/run.py [--cases a,b,c] [--wheel PATH] [--keep]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "install.md"
PROJECT_TESTS = Path(__file__).with_name("project_tests.py")
CASES = {"a": "own accounts.User + TokenVersionMixin", "b": "Django's auth.User", "c": "tokens_app.User"}
# What the guide's `pip install "django-cookie-jwt[drf,redis]"` stands for here.
EXTRAS = "drf,redis"
PROJECT_FILES = {"settings.py", "urls.py"}
MARKER = re.compile(r"<!--\s*adoption:\s*(?P<cases>\S+)\s+(?P<action>\w+)(?:\s+(?P<path>\S+))?\s*-->")
FENCE = re.compile(r"^```[\w-]*\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclass
class Step:
    cases: set[str]
    action: str
    path: str | None
    body: str


def guide_steps(text: str) -> list[Step]:
    """The marked snippets of the guide, in order."""
    steps = []
    for marker in MARKER.finditer(text):
        fence = FENCE.search(text, marker.end())
        between = text[marker.end() : fence.start()] if fence else ""
        if fence is None or between.strip():
            raise SystemExit(f"docs/install.md: {marker.group(0)} is not followed by a code block")
        cases = set(CASES) if marker["cases"] == "all" else set(marker["cases"].split(","))
        if not cases <= set(CASES) or marker["action"] not in {"append", "write", "run", "secrets"}:
            raise SystemExit(f"docs/install.md: bad marker {marker.group(0)}")
        steps.append(Step(cases, marker["action"], marker["path"], fence["body"]))
    return steps


def sh(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, quiet: bool = False) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"failed ({result.returncode}): {shlex.join(args)} in {cwd}")
    if not quiet and result.stdout.strip():
        print("    " + result.stdout.strip().replace("\n", "\n    "))
    return result.stdout


def build_wheel(out: Path) -> Path:
    sh([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)], cwd=ROOT, quiet=True)
    (wheel,) = out.glob("*.whl")
    return wheel


def describe_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top: dict[str, int] = {}
    for name in names:
        parts = name.split("/")
        key = "/".join(parts[: min(len(parts) - 1, 2)]) or parts[0]
        top[key] = top.get(key, 0) + 1
    print(f"wheel {wheel.name}: {wheel.stat().st_size / 1024:.1f} KiB, {len(names)} files")
    for key, count in sorted(top.items()):
        print(f"  {count:3d}  {key}")
    assert "tokens_app/py.typed" in names
    for needed in ("migrations/0001_initial.py", "templates/registration/login.html", "static/tokens_app/"):
        assert any(name.startswith(f"tokens_app/{needed}") for name in names), needed
    assert all(name.startswith(("tokens_app/", "django_cookie_jwt-")) for name in names), "only tokens_app"


def constraints(out: Path) -> Path:
    """This repository's pins, as constraints: the same versions CI tests, from pip's cache."""
    pins = []
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                pins.append(re.sub(r"\[[^\]]*\]", "", line))  # constraints take no extras
    # The running interpreter's Django wins (the Django 6 leg runs this too).
    import django

    pins = [pin for pin in pins if not pin.lower().startswith("django==")] + [f"Django=={django.__version__}"]
    path = out / "constraints.txt"
    path.write_text("\n".join(pins) + "\n")
    return path


def adopt(case: str, steps: list[Step], wheel: Path, pins: Path, base: Path) -> dict[str, int]:
    print(f"\n== case ({case}): {CASES[case]}")
    started = time.monotonic()
    site = base / f"case_{case}"
    venv = site / "venv"
    sh([sys.executable, "-m", "venv", str(venv)], cwd=base)
    python = venv / "bin" / "python"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("DJANGO_", "TOKENS_", "DATABASE_URL", "REDIS_URL", "PYTHONPATH", "VIRTUAL_ENV")
        )
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    pip = [str(python), "-m", "pip", "install", "--quiet", "-c", str(pins)]
    sh([*pip, f"{wheel}[{EXTRAS}]", "pytest", "pytest-django"], cwd=site, env=env)
    print(f"  installed in {time.monotonic() - started:.0f} s")
    project = site / "project"
    project.mkdir()
    sh([str(venv / "bin" / "django-admin"), "startproject", "project", "."], cwd=project, env=env)
    written = {"files": 0, "lines": 0, "commands": 0}
    for step in steps:
        if case not in step.cases:
            continue
        body = step.body
        if step.action in {"append", "write"}:
            # settings.py and urls.py are the project package's; other paths are from the top.
            target = project / ("project/" + step.path if step.path in PROJECT_FILES else step.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            if step.action == "append":
                with target.open("a") as fh:
                    fh.write("\n\n" + body)
            else:
                target.write_text(body)
            written["files"] += 1
            written["lines"] += sum(
                1 for line in body.splitlines() if line.strip() and not line.startswith("#")
            )
            print(f"  {step.action} {target.relative_to(project)} ({len(body.splitlines())} lines)")
        else:
            for line in body.splitlines():
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                print(f"  $ {line}")
                written["commands"] += 1
                output = sh(shlex.split(line), cwd=project, env=env, quiet=step.action == "secrets")
                if step.action == "secrets":
                    for printed in output.splitlines():
                        name, _, value = printed.partition("=")
                        if not (re.fullmatch(r"[A-Z_]+", name) and value):
                            raise SystemExit(f"generate_secrets printed {printed!r}, not NAME=value")
                        env[name] = value
                    print(f"    (kept {', '.join(line.partition('=')[0] for line in output.splitlines())})")
    env["DJANGO_SETTINGS_MODULE"] = "project.settings"
    shutil.copy(PROJECT_TESTS, project / "test_adoption.py")
    (project / "pytest.ini").write_text("[pytest]\nDJANGO_SETTINGS_MODULE = project.settings\n")
    print("  $ python -m pytest")
    sh([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project, env=env)
    print(f"  case ({case}) adopted in {time.monotonic() - started:.0f} s")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="a,b,c")
    parser.add_argument("--wheel", type=Path, help="use this wheel instead of building one")
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    args = parser.parse_args(argv)
    cases = args.cases.split(",")
    steps = guide_steps(GUIDE.read_text())
    base = Path(tempfile.mkdtemp(prefix="adoption-"))
    try:
        # Absolute: pip runs in each project's own directory.
        wheel = args.wheel.resolve() if args.wheel else build_wheel(base / "dist")
        describe_wheel(wheel)
        pins = constraints(base)
        for case in cases:
            written = adopt(case, steps, wheel, pins, base)
            print(
                f"  a user writes: {written['files']} file edits, {written['lines']} lines, "
                f"{written['commands']} commands (besides pip install)"
            )
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    print("\nadoption: every case passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
