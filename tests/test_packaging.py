"""`pip install .` (not editable) demos and serves: a wheel built from a copy of the checkout,
installed into a fresh venv, runs `scraper demo` and `scraper serve` from its own files."""

from __future__ import annotations

import json
import os
import shutil
import signal
import site
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "scraper", "adapters", "data", "fixtures")


def _clean_env(tmp: Path | None = None) -> dict[str, str]:
    """No PYTHONPATH: the venv must import what was installed into it, not the checkout.
    With `tmp`, temporary files (serve's metadata folder) go there, removed with it."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    if tmp is not None:
        env["TMPDIR"] = str(tmp)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wheel, the venv it is installed in)."""
    tmp = tmp_path_factory.mktemp("packaging")
    source = tmp / "source"  # a copy: building writes build/ and *.egg-info beside the code
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.db", "*.db-*", "*.lock", "*.egg-info")
    for name in SOURCES:
        item = ROOT / name
        if item.is_dir():
            shutil.copytree(item, source / name, ignore=ignore)
        else:
            shutil.copy2(item, source / name)
    dist = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps",
                    "--no-build-isolation", "--no-index", "-q", "-w", str(dist)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("scraper-*.whl")
    venv = tmp / "venv"
    # System site-packages give the dependencies without a network; pip comes from there too.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True, timeout=120)
    if sys.prefix != sys.base_prefix:  # run from a venv: its packages are not the system's
        purelib = subprocess.run(
            [str(venv / "bin" / "python"), "-c",
             "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True, timeout=60).stdout.strip()
        Path(purelib, "_outer_site.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps",
                    "--no-index", "-q", str(wheel)], check=True, capture_output=True,
                   env=_clean_env(), cwd=tmp, timeout=300)
    return wheel, venv


def test_wheel_has_every_module_and_shipped_file(installed: tuple[Path, Path]) -> None:
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for pkg in ("scraper", "adapters")
               for p in (ROOT / pkg).rglob("*.py") if "__pycache__" not in p.parts}
    assert modules - names == set()
    assert "scraper/_data/metadata.json" in names
    served = {f"scraper/_data/{p.relative_to(ROOT / 'data').as_posix()}"
              for p in (ROOT / "data").rglob("*") if p.is_file() and "__pycache__" not in p.parts
              and p.suffix not in (".db", ".lock", ".toml") and "-wal" not in p.name
              and "-shm" not in p.name}
    assert served - names == set()  # metadata, plugins, templates, static files
    recorded = {f"scraper/_fixtures/{p.relative_to(ROOT / 'fixtures').as_posix()}"
                for p in (ROOT / "fixtures").rglob("*") if p.is_file() and p.suffix != ".py"}
    assert recorded - names == set()
    assert not [n for n in names if n.startswith("scraper/_fixtures/") and n.endswith(".py")]


def test_installed_package_finds_its_own_files(installed: tuple[Path, Path],
                                               tmp_path: Path) -> None:
    _, venv = installed
    probe = ("import json, scraper, scraper.datasette as d, scraper.fixtures as f; "
             "cases = f.load_cases(); print(json.dumps([scraper.__file__, str(f.FIXTURES_DIR), "
             "str(d.METADATA_PATH), len(cases), all(c.path.is_file() for c in cases)]))")
    result = subprocess.run([str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path,
                            env=_clean_env(), capture_output=True, text=True, check=True,
                            timeout=60)
    module, fixtures, metadata, count, all_there = json.loads(result.stdout)
    site = str(venv / "lib")
    assert module.startswith(site) and fixtures.startswith(site) and metadata.startswith(site)
    from scraper.fixtures import load_cases

    assert count == len(load_cases()) and all_there


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_installed_scraper_demos_and_serves(installed: tuple[Path, Path],
                                            tmp_path: Path) -> None:
    _, venv = installed
    scraper = str(venv / "bin" / "scraper")
    db = tmp_path / "demo.db"
    demo = subprocess.run([scraper, "demo", "--db", str(db), "--json"], cwd=tmp_path,
                          env=_clean_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stderr
    summary = json.loads(demo.stdout)
    assert summary["ok"] and sum(s["listed"] or 0 for s in summary["sources"]) > 0

    port = _free_port()
    server = subprocess.Popen([scraper, "serve", "--db", str(db), "--port", str(port)],
                              cwd=tmp_path, env=_clean_env(tmp_path), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        body, deadline = "", time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
                    assert page.status == 200
                    body = page.read().decode("utf-8")
                    break
            except OSError:
                time.sleep(0.2)
        assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
        assert "demo" in body  # the database, listed by its file name
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/demo/episodes.json?_shape=array",
                                    timeout=10) as page:
            assert len(json.loads(page.read())) > 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/metadata.json",
                                    timeout=10) as page:
            assert "demo" in json.loads(page.read())["databases"]  # from the shipped template
    finally:
        # Ctrl-C, as a user stops it: `scraper serve` then stops its Datasette child.
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=20)
        finally:
            if server.stdout:
                server.stdout.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(server.pid, 0)  # anything left in the server's process group?
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.killpg(server.pid, signal.SIGKILL)
        pytest.fail("`scraper serve` left a process behind")
