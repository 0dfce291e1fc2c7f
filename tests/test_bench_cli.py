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


def test_a_partial_write_keeps_the_other_sections(tmp_path, monkeypatch) -> None:
    import bench.__main__ as runner
    from bench.common import Row, Section

    results, sections = tmp_path / "RESULTS.md", tmp_path / "sections.json"
    results.write_text(
        "# Benchmark results\n\n## Summary\n\n| benchmark | ours | baseline | ours vs baseline "
        "| also measured |\n|---|---|---|---|---|\n"
        "| dates: 10 strings | 1 s | 2 s | 2x faster | |\n"
        "| feed: 5 episodes rebuilt | 3 s | 2 s | 1.5x SLOWER | |\n\n"
        "## Where we are slower than the baseline\n\n- **feed**: slower, because.\n\n"
        "## 2. Dates: old\n\n_1 s_\n\nold dates text\n\n"
        "## 6. Feed: rebuilding\n\n_2 s_\n\nfeed text\n\n"
        "<!-- scale: start -->\n\n## Scale: 10 x 50,000\n\nscale text\n\n<!-- scale: end -->\n",
        "utf-8")
    monkeypatch.setattr(runner, "RESULTS", results)
    monkeypatch.setattr(runner, "SECTIONS", sections)
    new = Section("dates", "2. Dates: new", rows=[Row("dates: 20 strings", "1 s", "3 s", "3x")],
                  details=["new dates text"])
    stamp = {"date": "today", "command": "python -m bench --only dates", "commit": "abc"}
    kept = runner.keep([new], stamp, partial=True)
    assert [s.title for s, _ in kept] == ["2. Dates: new", "6. Feed: rebuilding"]
    text = runner.render(kept, stamp, 1.0)
    assert "dates: 20 strings" in text and "dates: 10 strings" not in text
    assert "feed: 5 episodes rebuilt" in text and "- **feed**: slower, because." in text
    assert "old dates text" not in text and "feed text" in text
    assert "scale" not in text  # the scale block is kept by its markers, not as a section
    # The next partial run reads sections.json: the feed section is still there.
    again = runner.keep([new], {**stamp, "date": "tomorrow"}, partial=True)
    assert [s.title for s, _ in again] == ["2. Dates: new", "6. Feed: rebuilding"]
