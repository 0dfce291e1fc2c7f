"""The import layers: `scraper.models`, `scraper.errors` and `scraper.normalize` are the base
that adapters sit on; adapters know their platform and that base, nothing of fetching,
storing or reporting; and the base knows nothing above it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = {"scraper.models", "scraper.errors", "scraper.normalize"}
# Outside the base, what an adapter may use: the registry reads adapter entry points and
# raises ConfigError (base), nothing more.
ADAPTERS_MAY_IMPORT = BASE


def imported(path: Path) -> set[str]:
    """Every module `path` imports (at the top, in functions or under TYPE_CHECKING)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def ours(names: set[str], package: str) -> set[str]:
    return {n for n in names if n == package or n.startswith(package + ".")}


def test_the_base_layer_imports_nothing_above_it() -> None:
    for module in sorted(BASE):
        path = ROOT / (module.replace(".", "/") + ".py")
        found = imported(path)
        above = {n for n in ours(found, "scraper") if n not in BASE
                 and not any(n.startswith(b + ".") for b in BASE)}
        assert not above, f"{module} imports {sorted(above)}: the base layer stands alone"
        assert not ours(found, "adapters"), f"{module} imports adapters"


def test_adapters_sit_on_the_base_layer_only() -> None:
    for path in sorted((ROOT / "adapters").glob("*.py")):
        found = ours(imported(path), "scraper")
        beyond = {n for n in found if n not in ADAPTERS_MAY_IMPORT
                  and not any(n.startswith(b + ".") for b in ADAPTERS_MAY_IMPORT)}
        assert not beyond, (f"adapters/{path.name} imports {sorted(beyond)}: adapters know "
                            "their platform and scraper.models/errors/normalize only")


def test_the_check_sees_imports_in_functions(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from scraper.archive import Archive\n", "utf-8")
    assert "scraper.archive" in imported(sample)


def test_no_layer_reads_or_writes_values_through_episode_extra() -> None:
    """guid, links, duration precision and flags are `Episode` fields; `extra` holds what only
    one platform has: the adapter writes it, the archive stores it (as JSON) without looking
    inside, and no other layer reads or writes a key of it."""
    import re
    from dataclasses import fields

    from scraper.models import Episode

    typed = "|".join(f.name for f in fields(Episode) if f.name != "extra")
    any_key = re.compile(r"\bextra(\[|\.get\(|\.setdefault\(|\.pop\()")
    typed_key = re.compile(rf"\bextra(\[|\.get\(|\.setdefault\(|\.pop\()[\"']({typed})[\"']")
    for path in sorted([*(ROOT / "scraper").glob("*.py"), *(ROOT / "adapters").glob("*.py")]):
        pattern = any_key if path.parent.name == "scraper" else typed_key
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            code = line.split("#", 1)[0]
            if "episode.extra" in code or "e.extra" in code:
                assert not pattern.search(code.replace("episode.extra", "extra")), (
                    f"{path.relative_to(ROOT)}:{number} uses an Episode.extra key: "
                    f"{line.strip()}")
