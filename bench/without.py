"""Run a Python process as if some packages were not installed (for honest comparisons).

`without(["numpy"])` yields environment variables whose `PYTHONPATH` starts with a folder
holding a `sitecustomize.py` that puts an import blocker first on `sys.meta_path`: importing
a blocked package raises `ModuleNotFoundError`, exactly as when it is absent, so code that
does `try: import numpy` takes its no-numpy path. The packages stay installed for the rest.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_BLOCKER = '''\
import sys

_BLOCKED = {blocked!r}


class _Absent:
    """Import blocker installed by bench/without.py."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] in _BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, _Absent)
'''


@contextmanager
def without(packages: list[str], extra_path: list[Path] | None = None) -> Iterator[dict[str, str]]:
    """Environment for a subprocess in which `packages` (top-level import names) are absent."""
    with tempfile.TemporaryDirectory(prefix="bench-without-") as folder:
        Path(folder, "sitecustomize.py").write_text(
            _BLOCKER.format(blocked=tuple(packages)), "utf-8")
        env = dict(os.environ)
        parts = [folder, *(str(p) for p in extra_path or [])]
        if env.get("PYTHONPATH"):
            parts.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(parts)
        yield env
