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
