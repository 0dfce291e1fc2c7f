"""`scraper demo`: the real sync, offline, against the recorded pages in `fixtures/`.

A replay server on 127.0.0.1 serves every recording at its real URL path; routes send each
recorded host there; the sample sources are the recordings marked `demo_source`.
"""

from __future__ import annotations

from pathlib import Path

from scraper.config import Config, PodcastConfig, SourceConfig
from scraper.fixtures import load_cases
from scraper.replay import ReplayServer
from scraper.routes import Routes

# The replay server is local: a short delay keeps politeness code exercised without waiting.
DEMO_FETCH = {"min_delay": 0.02, "retries": 1, "timeout": 20.0}


def serve_recordings() -> ReplayServer:
    return ReplayServer(load_cases())


def demo_config(server: ReplayServer, db: Path) -> Config:
    import adapters

    podcasts: dict[str, PodcastConfig] = {}
    for case in load_cases():
        if not case.demo_source:
            continue
        name = case.podcast or "AI Post Transformers"
        adapter = adapters.get(case.platform)
        podcast = podcasts.setdefault(name, PodcastConfig(name=name))
        podcast.sources.append(SourceConfig(podcast=name, url=adapter.canonical_url(case.url),
                                            platform=case.platform))
    return Config(
        podcasts=list(podcasts.values()),
        routes=Routes(server.routes_for([])),
        fetch=dict(DEMO_FETCH),
        db=db,
    )


# `scraper replay` listens here by default; data/demo.toml routes every recorded host to it.
REPLAY_PORT = 8123


def _toml_string(value: str) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def demo_sources_text(db: Path, config_path: Path, port: int = REPLAY_PORT) -> str:
    """A sources file for the demo's sources, routed to `scraper replay --port PORT`, so
    sync, sources and add can be tried offline."""
    server = ReplayServer(load_cases(), port=0)  # never started: only its recorded hosts
    try:
        routes = server.routes_for([])
        settings = demo_config(server, db)
    finally:
        server._server.server_close()
    base = f"http://127.0.0.1:{port}"
    try:
        db_text = str(db.resolve().relative_to(config_path.resolve().parent))
    except ValueError:
        db_text = str(db.resolve())
    lines = [
        "# Written by `scraper demo`: the demo's sources, served by `scraper replay`.",
        f"# Start `scraper replay --port {port}`, then e.g. "
        f"`scraper sync --config {config_path}`.",
        f"db = {_toml_string(db_text)}",
        "",
    ]
    for podcast in settings.podcasts:
        lines += ["[[podcasts]]", f"name = {_toml_string(podcast.name)}", "sources = ["]
        for source in podcast.sources:
            lines.append(f"  {{ url = {_toml_string(source.url)}, "
                         f"platform = {_toml_string(source.platform)} }},")
        lines += ["]", ""]
    lines.append("[routes]")
    for prefix, target in routes.items():
        host = target.rsplit("/", 1)[1]
        lines.append(f"{_toml_string(prefix)} = {_toml_string(f'{base}/{host}')}")
    lines += ["", "[fetch]"]
    lines += [f"{key} = {value}" for key, value in DEMO_FETCH.items()]
    return "\n".join(lines) + "\n"


def write_demo_sources(db: Path, port: int = REPLAY_PORT) -> Path:
    path = db.parent / "demo.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(demo_sources_text(db, path, port), "utf-8")
    return path
