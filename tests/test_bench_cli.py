"""`python -m bench` without its extra installed says what to install, in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.without import without

ROOT = Path(__file__).resolve().parent.parent


def test_bench_without_numpy_says_what_to_install() -> None:
    with without(["numpy"], [ROOT]) as env:
        result = subprocess.run([sys.executable, "-m", "bench", "--only", "dates"], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "numpy" in lines[0] and ".[bench]" in lines[0]
    assert "beautifulsoup4" not in lines[0]  # installed: only what is missing is named


def test_blocker_makes_a_package_unimportable_only_in_the_child() -> None:
    probe = "try:\n import numpy\nexcept ImportError:\n print('absent')\nelse:\n print('here')"
    with without(["numpy"]) as env:
        blocked = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                                 text=True, check=True, timeout=30)
    free = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=30)
    assert blocked.stdout.strip() == "absent"
    assert free.stdout.strip() == "here"
