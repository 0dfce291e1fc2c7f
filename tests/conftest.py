"""Suite-wide guard: no test leaves a process behind.

pytest makes itself a child subreaper (Linux), so a grandchild whose parent died (a
Datasette orphaned by a killed `scraper serve`) is re-parented here instead of to init, and
is seen. After each test module, processes that became our children during it and are
still running (after a short grace for ones already stopping) fail its last test, and are
killed. (Per module, not per test: a module-scoped fixture such as a shared browser may
start its processes lazily inside a test and rightly keep them until the module ends.)
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PR_SET_CHILD_SUBREAPER = 36
GRACE = 5.0  # seconds a child gets to finish exiting after its test


def _become_subreaper() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


_become_subreaper()


def _children() -> dict[int, tuple[str, str]]:
    """pid -> (state, command line) of our direct children."""
    me = os.getpid()
    found: dict[int, tuple[str, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # The command name is in parentheses and may hold spaces: split after it.
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) != me:
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace").strip()
        except (OSError, ValueError, IndexError):
            continue
        found[int(entry.name)] = (fields[0], command)
    return found


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


@pytest.fixture(autouse=True, scope="module")
def no_process_left_behind() -> Iterator[None]:
    if not Path("/proc").is_dir():
        yield
        return
    before = set(_children())
    yield
    deadline = time.monotonic() + GRACE
    while True:
        left = {pid: info for pid, info in _children().items() if pid not in before}
        for pid, (state, _) in list(left.items()):
            if state == "Z":  # exited; an orphan re-parented here is ours to reap
                _reap(pid)
                del left[pid]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        _reap(pid)
    if left:
        pytest.fail("tests in this module left processes running: " + "; ".join(
            f"{pid} {command[:120]}" for pid, (_, command) in left.items()), pytrace=False)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """The mutation suite's table of variants x outcomes, when it ran (tests/mutations.py)."""
    import sys

    mutations = sys.modules.get("mutations")
    if mutations is None or not mutations.RESULTS:
        return
    terminalreporter.section("mutation suite: page variants x sync outcome")
    terminalreporter.write_line(mutations.table(mutations.RESULTS))
    terminalreporter.write_line(mutations.LEGEND)
