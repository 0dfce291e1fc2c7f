"""`python -m bench`: run the benchmarks, print a table, (re)write bench/RESULTS.md.

Every section written is also kept in bench/sections.json with when, how and at which commit
it was measured, so `--only NAME --write` replaces that benchmark's part of RESULTS.md and
keeps the others as they were measured."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import ROOT, BenchError, Row, Section, git_revision, machine, md_table

# Name -> module; each module has `run(quick: bool) -> Section`.
BENCHMARKS = {
    "parse": "bench.parse",
    "dates": "bench.dates",
    "reconcile": "bench.reconcile",
    "sync": "bench.sync",
    "startup": "bench.startup",
    "feed": "bench.feed",
    "scale": "bench.scale",
}
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTIONS = RESULTS.with_name("sections.json")
# What the benchmarks import beyond the runtime dependencies (the `bench` extra):
# import name -> distribution name.
EXTRA = {"numpy": "numpy", "bs4": "beautifulsoup4"}


def missing_extra() -> list[str]:
    """Distributions of the `bench` extra that cannot be imported here."""
    missing = []
    for module, dist in EXTRA.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:
            found = False
        if not found:
            missing.append(dist)
    return missing
# Run only when asked for (`--only scale`): it takes minutes at 10 x 50,000. Its section of
# RESULTS.md sits between these markers and survives runs that do not include it.
OPT_IN = {"scale"}
SCALE_START, SCALE_END = "<!-- scale: start -->", "<!-- scale: end -->"


def _print_table(sections: list[Section]) -> None:
    rows = [("benchmark", "ours", "baseline", "ours vs baseline")]
    rows += [(r.case, r.ours, r.baseline, r.ratio) for s in sections for r in s.rows]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


Stamp = dict[str, str]  # when ("date"), how ("command") and at which "commit" it was measured


def _word(text: str) -> str:
    """"6. Feed: rebuilding..." -> "feed"; "start-up: scraper --help" -> "start-up"."""
    text = text.lstrip("0123456789. -*`").lower()
    return text.split()[0].rstrip(":,`*") if text.split() else ""


def legacy_sections(markdown: str) -> dict[str, dict]:
    """Sections of a RESULTS.md written before sections.json existed (or by hand): each
    numbered "## N. Title" block, with the summary rows and the bold "slower" bullets whose
    first word is the title's ("## 6. Feed: ..." owns "feed: 4,740 episodes rebuilt")."""
    scale = _scale_block(markdown).strip()  # kept apart, between its markers
    if scale:
        markdown = markdown.replace(scale, "")
    blocks = re.split(r"^## ", markdown, flags=re.M)
    rows, bullets = [], []
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("| ") and len(cells) == 5 and cells[0] != "benchmark":
            rows.append(cells)
        elif line.startswith("- **"):
            bullets.append(line[2:])
    found: dict[str, dict] = {}
    for block in blocks:
        title, _, body = block.partition("\n")
        if not re.match(r"\d+\. ", title):
            continue
        word = _word(title)
        found[f"legacy:{word}"] = {
            "name": f"legacy:{word}", "title": title.strip(),
            "rows": [dict(zip(("case", "ours", "baseline", "ratio", "note"), r, strict=True))
                     for r in rows if _word(r[0]) == word],
            "details": [body.strip()], "hotspots": [], "seconds": 0.0,
            "slower": [b for b in bullets if _word(b) == word],
            "measured": {"date": "earlier", "command": "(kept from RESULTS.md)",
                         "commit": "unknown"},
        }
    return found


def keep(sections: list[Section], stamp: Stamp, partial: bool) -> list[tuple[Section, Stamp]]:
    """Store the sections just measured in sections.json (over the others' stored ones when
    `partial`) and return every stored section, in benchmark order. A partial run with no
    sections.json yet keeps the numbered sections of RESULTS.md it does not replace."""
    stored: dict[str, dict] = {}
    if partial:
        try:
            stored = json.loads(SECTIONS.read_text("utf-8"))
        except (OSError, ValueError):
            stored = {}
            if RESULTS.exists():
                stored = legacy_sections(RESULTS.read_text("utf-8"))
    replaced = {f"legacy:{_word(s.title)}" for s in sections}
    stored = {name: data for name, data in stored.items() if name not in replaced}
    for section in sections:
        stored[section.name] = {**dataclasses.asdict(section), "measured": stamp}
    def number(item: tuple[str, dict]) -> int:  # sections are numbered in their titles
        found = re.match(r"(\d+)\.", item[1]["title"])
        return int(found.group(1)) if found else 99

    stored = dict(sorted(stored.items(), key=number))
    SECTIONS.write_text(json.dumps(stored, indent=1, ensure_ascii=False) + "\n", "utf-8")
    kept = []
    for data in stored.values():
        measured = data.pop("measured")
        rows = [Row(**row) for row in data.pop("rows")]
        kept.append((Section(**data, rows=rows), measured))
    return kept


def render(kept: list[tuple[Section, Stamp]], stamp: Stamp, total: float) -> str:
    info = machine()
    sections = [section for section, _ in kept]
    out = [
        "# Benchmark results",
        "",
        "Written by `python -m bench`; every ratio compares two figures measured in the same "
        "run on this machine. Regenerate with the command below (`--quick` for a smaller, "
        "faster run, `--only NAME` for one benchmark; partial runs print their table and "
        "rewrite this file only with `--write`).",
        "",
        f"- **date**: {stamp['date']}",
        f"- **command**: `{stamp['command']}` (from the repository root), {total:,.0f} s in all"
        + ("; sections it did not run are kept as measured before (each says when)"
           if any(measured != stamp for _, measured in kept) else ""),
    ]
    out += [f"- **{key}**: {value}" for key, value in info.items()]
    out += ["", "## Summary", "", md_table(
        ["benchmark", "ours", "baseline", "ours vs baseline", "also measured"],
        [[r.case, r.ours, r.baseline, r.ratio, r.note] for s in sections for r in s.rows],
    )]
    slower = [line for s in sections for line in s.slower]
    out += ["", "## Where we are slower than the baseline", ""]
    out += [f"- {line}" for line in slower] if slower else ["Nowhere in these results."]
    hotspots = [line for s in sections for line in s.hotspots]
    if hotspots:
        out += ["", "## Hot spots in the product code", ""]
        out += [f"- {line}" for line in hotspots]
    for section, measured in kept:
        if measured["commit"] == "unknown":  # its body has its own timing line
            out += ["", f"## {section.title}", "",
                    "_kept as it was in RESULTS.md (written before bench/sections.json)_", ""]
        else:
            when = "" if measured == stamp else (
                f"; measured {measured['date']} by `{measured['command']}` at commit "
                f"{measured['commit']}")
            out += ["", f"## {section.title}", "", f"_{section.seconds:,.1f} s{when}_", ""]
        for block in section.details:
            out += [block, ""]
    return "\n".join(out).rstrip() + "\n"


def _read_results() -> str:
    return RESULTS.read_text("utf-8") if RESULTS.exists() else ""


def _scale_block(text: str) -> str:
    """The scale section of RESULTS.md text (markers included), or ""."""
    if SCALE_START not in text or SCALE_END not in text:
        return ""
    start, end = text.index(SCALE_START), text.index(SCALE_END) + len(SCALE_END)
    return "\n" + text[start:end] + "\n"


def _write_scale_block(section: Section, command: str, total: float) -> None:
    info = machine()
    lines = [SCALE_START, "", f"## {section.title}", "",
             f"_`{command}` on {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, "
             f"commit {info['commit']}, {info['cores']} cores, {total:,.0f} s in all_", "",
             md_table(["benchmark", "ours", "baseline", "ours vs baseline", "also measured"],
                      [[r.case, r.ours, r.baseline, r.ratio, r.note] for r in section.rows]),
             ""]
    for block in section.details:
        lines += [block, ""]
    lines += [f"- {line}" for line in section.slower] or ["Every scale goal met."]
    lines += ["", SCALE_END]
    block = "\n".join(lines)
    text = _read_results()
    old = _scale_block(text).strip()
    text = text.replace(old, block) if old else text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text, "utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="smaller inputs and shorter timings (well under 2 minutes)")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), metavar="NAME",
                        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)} "
                        "(scale runs only when named)")
    parser.add_argument("--write", action="store_true",
                        help="rewrite bench/RESULTS.md even for a --quick or --only run")
    parser.add_argument("--no-write", action="store_true", help="never write RESULTS.md")
    parser.add_argument("--scale-size", type=int, default=None, metavar="N",
                        help="episodes per platform for `scale` (default 50,000; --quick 5,000)")
    args = parser.parse_args(argv)
    missing = missing_extra()
    if missing:
        print(f"python -m bench needs {', '.join(missing)}: install the bench extra with "
              "`pip install -e '.[bench]'` (from the repository root)", file=sys.stderr)
        return 2
    names = [n for n in BENCHMARKS if (n in args.only if args.only else n not in OPT_IN)]
    command = "python -m bench" + (" --quick" if args.quick else "") + "".join(
        f" --only {n}" for n in args.only or [])
    sys.path.insert(0, str(ROOT))
    started = time.perf_counter()
    sections: list[Section] = []
    for name in names:
        print(f"== {name} ...", flush=True)
        module = importlib.import_module(BENCHMARKS[name])
        try:
            if name == "scale":
                section = module.run(quick=args.quick, per_platform=args.scale_size)
            else:
                section = module.run(quick=args.quick)
        except BenchError as error:
            print(f"BENCHMARK FAILED: {name}: {error}", file=sys.stderr)
            return 1
        print(f"   {section.seconds:,.1f} s", flush=True)
        sections.append(section)
    total = time.perf_counter() - started
    print()
    _print_table(sections)
    print(f"\n{total:,.0f} s in all")
    if args.only == ["scale"] and not args.no_write:
        _write_scale_block(sections[0], command, total)
        print(f"wrote the scale section of {RESULTS.relative_to(ROOT)} and bench/results.json")
        return 0
    partial = args.quick or bool(args.only)
    if args.no_write or (partial and not args.write):
        print("RESULTS.md not written (partial run; pass --write to write it)")
    else:
        stamp = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                 "command": command, "commit": git_revision()}
        kept = keep(sections, stamp, partial)
        text = render(kept, stamp, total)
        if "scale" not in names:  # its block, kept between its markers
            text = text.rstrip() + "\n" + _scale_block(_read_results())
        RESULTS.write_text(text, "utf-8")
        print(f"wrote {RESULTS.relative_to(ROOT)} and {SECTIONS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
