#!/usr/bin/env python3
"""One entry point for a fresh machine with only python3.

    python3 dev.py up      # venv + install + migrate SQLite + demo district + API, WeChat sandbox, scheduler
    python3 dev.py test    # venv + install + the test suite (extra args go to pytest)
    python3 dev.py check   # ruff (lint, format), import-linter layers, no import cycles

Uses only the standard library until the virtualenv exists.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".requirements.sha256"


def ensure_env() -> None:
    """Create .venv and install requirements.txt whenever it changed."""
    if not PY.exists():
        print("creating virtualenv .venv …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "requirements.txt").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text().strip() != wanted:
        print("installing requirements …", flush=True)
        subprocess.run(
            [
                str(PY),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "-r",
                str(ROOT / "requirements.txt"),
            ],
            check=True,
        )
        STAMP.write_text(wanted)


def flask(*args: str, env: dict) -> None:
    subprocess.run([str(PY), "-m", "flask", "--app", "wsgi", *args], check=True, cwd=ROOT, env=env)


def venv_env() -> dict:
    """The environment of an activated .venv: the Procfile's ``gunicorn`` and ``python`` (run by
    honcho through /bin/sh) must be the virtualenv's, not whatever else is on PATH."""
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.pop("PYTHONHOME", None)
    return env


def up(extra: list[str]) -> int:
    ensure_env()
    env = venv_env()
    env.setdefault("WECHAT_API_BASE", "http://127.0.0.1:5001")
    env.setdefault("PYTHONUNBUFFERED", "1")
    flask("db", "upgrade", env=env)
    flask("seed-demo", "--scale", env.get("DEMO_SCALE", "0.01"), "--if-empty", env=env)
    print("\nAPI on http://127.0.0.1:5000 (docs at /api/docs), WeChat sandbox on http://127.0.0.1:5001\n", flush=True)
    return subprocess.call([str(BIN / "honcho"), "start", "-f", str(ROOT / "Procfile"), *extra], cwd=ROOT, env=env)


def test(extra: list[str]) -> int:
    ensure_env()
    return subprocess.call([str(PY), "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra], cwd=ROOT, env=venv_env())


def check(extra: list[str]) -> int:
    """The house rules CI enforces: lint and format (ruff), the layers (import-linter), no
    import cycle between files. Stops at the first that fails."""
    ensure_env()
    steps = [
        [str(BIN / "ruff"), "check", "."],
        [str(BIN / "ruff"), "format", "--check", "."],
        [str(BIN / "lint-imports")],
        [str(PY), str(ROOT / ".ci" / "import_cycles")],
    ]
    for step in steps:
        print("$", " ".join(Path(step[0]).name if i == 0 else a for i, a in enumerate(step)), flush=True)
        code = subprocess.call(step, cwd=ROOT, env=venv_env())
        if code:
            return code
    return 0


def main() -> int:
    commands = {"up": up, "test": test, "check": check}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
