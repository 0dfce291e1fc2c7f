"""`python -m bench`: run the benchmarks, print a table, (re)write bench/RESULTS.md."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import ROOT, BenchError, Section, machine, md_table

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


def render(sections: list[Section], command: str, total: float) -> str:
    info = machine()
    out = [
        "# Benchmark results",
        "",
        "Written by `python -m bench`; every ratio compares two figures measured in the same "
        "run on this machine. Regenerate with the command below (`--quick` for a smaller, "
        "faster run, `--only NAME` for one benchmark; partial runs print their table and "
        "rewrite this file only with `--write`).",
        "",
        f"- **date**: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- **command**: `{command}` (from the repository root), {total:,.0f} s in all",
    ]
    out += [f"- **{key}**: {value}" for key, value in info.items()]
    out += ["", "## Summary", "", md_table(
        ["benchmark", "ours", "baseline", "ours vs baseline", "also measured"],
        [[r.case, r.ours, r.baseline, r.ratio, r.note] for s in sections for r in s.rows],
    )]
    slower = [line for s in sections for line in s.slower]
    out += ["", "## Where we are slower than the baseline", ""]
    out += [f"- {line}" for line in slower] if slower else ["Nowhere in this run."]
    hotspots = [line for s in sections for line in s.hotspots]
    if hotspots:
        out += ["", "## Hot spots in the product code", ""]
        out += [f"- {line}" for line in hotspots]
    for section in sections:
        out += ["", f"## {section.title}", "", f"_{section.seconds:,.1f} s_", ""]
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
        text = render(sections, command, total)
        if "scale" not in names:
            text = text.rstrip() + "\n" + _scale_block(_read_results())
        RESULTS.write_text(text, "utf-8")
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
