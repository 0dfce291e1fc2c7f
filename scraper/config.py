"""The sources file (`scraper.toml`): podcasts, their platform URLs, routes and settings.

```toml
db = "data/archive.db"            # optional; relative to this file

[[podcasts]]
name = "AI Post Transformers"
sources = [
  { url = "https://podcast.do-not-panic.com/feed.xml" },                  # platform detected
  { url = "https://www.radio.net/podcast/ai-post-transformers" },
  { url = "http://127.0.0.1:8123/podcast/x", platform = "radionet" },     # a route's target
  { url = "https://podimo.com/no/shows/x", fetch = "browser" },          # real Chromium
]

[routes]   # requests for a URL prefix go to another base; the archive keeps original URLs
"https://www.radio.net" = "http://127.0.0.1:8123"

[fetch]    # politeness and limits (defaults shown)
min_delay = 1.0
timeout = 20.0             # each connect / read
retries = 3
max_retry_after = 120.0    # a longer Retry-After is clamped
retry_budget = 120.0       # seconds of retry waiting per source
request_deadline = 60.0    # one request, connect to last byte
source_deadline = 600.0    # all pages of one source
run_deadline = 3600.0      # the whole run
max_bytes = 52428800
obey_robots = true
allow_private = false      # loopback/private/link-local addresses (routes are trusted)

[browser]
executable_path = "/usr/bin/chromium"

[notify]   # alerts on new drift after each sync (scraper.notify); Apprise URLs
urls = ["json://127.0.0.1:9000/hook", "mailto://user:pass@example.org"]
on = ["missing", "date", "title", "new", "failed", "partial"]   # the default: all
serve_url = "http://127.0.0.1:8001"   # optional: link alerts to `scraper serve`
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scraper.errors import ConfigError
from scraper.routes import Routes
from scraper.settings import BrowserOptions, FetchPolicy, check_table

DEFAULT_CONFIG = Path("scraper.toml")
DEFAULT_DB = "data/archive.db"
FETCH_MODES = ("http", "browser")


@dataclass
class SourceConfig:
    podcast: str
    url: str
    platform: str
    # None: the adapter's own choice ("http" for most, "browser" where a platform needs it).
    fetch: str | None = None


@dataclass
class PodcastConfig:
    name: str
    sources: list[SourceConfig] = field(default_factory=list)


NOTIFY_KINDS = ("missing", "date", "title", "new", "failed", "partial")


@dataclass
class NotifyConfig:
    """`[notify]`: where alerts go (Apprise URLs), on which kinds of drift, and the base URL
    of a running `scraper serve` to link the report from."""

    urls: list[str]
    on: tuple[str, ...] = NOTIFY_KINDS
    serve_url: str | None = None


@dataclass
class Config:
    podcasts: list[PodcastConfig] = field(default_factory=list)
    routes: Routes = field(default_factory=Routes)
    fetch: dict[str, Any] = field(default_factory=dict)
    browser: dict[str, Any] = field(default_factory=dict)
    db: Path = Path(DEFAULT_DB)
    path: Path | None = None
    notify: NotifyConfig | None = None

    def sources(
        self, podcast: str | None = None, platform: str | None = None
    ) -> list[SourceConfig]:
        chosen: list[SourceConfig] = []
        for item in self.podcasts:
            if podcast and item.name != podcast:
                continue
            chosen.extend(s for s in item.sources if not platform or s.platform == platform)
        return chosen


def _check_url(url: Any, where: str) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: url must be an http(s) URL, got {url!r}")
    return url


def parse_notify(table: Any) -> NotifyConfig | None:
    """The `[notify]` table; None when absent. Apprise itself checks each URL when sending."""
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError("[notify] must be a table (urls = [...], on = [...], serve_url = ...)")
    unknown = set(table) - {"urls", "on", "serve_url"}
    if unknown:
        raise ConfigError(f"[notify] unknown setting {sorted(unknown)[0]!r} "
                          "(known: urls, on, serve_url)")
    urls = table.get("urls")
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not urls or not all(
            isinstance(u, str) and "://" in u for u in urls):
        raise ConfigError("[notify] urls must be a list of Apprise URLs such as "
                          "\"json://host:port/path\" or \"mailto://user:pass@host\"")
    kinds = table.get("on", list(NOTIFY_KINDS))
    if not isinstance(kinds, list) or not kinds or any(k not in NOTIFY_KINDS for k in kinds):
        raise ConfigError(f"[notify] on must list some of {', '.join(NOTIFY_KINDS)}; "
                          f"got {kinds!r}")
    serve_url = table.get("serve_url")
    if serve_url is not None:
        serve_url = _check_url(serve_url, "[notify] serve_url").rstrip("/")
    return NotifyConfig(urls=list(urls), on=tuple(k for k in NOTIFY_KINDS if k in kinds),
                        serve_url=serve_url)


def parse_config(data: dict[str, Any], path: Path | None = None) -> Config:
    import adapters  # the registry decides platforms; imported lazily to keep --help fast

    podcasts: list[PodcastConfig] = []
    seen: set[str] = set()
    for index, raw in enumerate(data.get("podcasts", [])):
        where = f"podcasts[{index}]"
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}: every podcast needs a name")
        if name in seen:
            raise ConfigError(f"{where}: podcast {name!r} is listed twice")
        seen.add(name)
        podcast = PodcastConfig(name=name)
        for number, source in enumerate(raw.get("sources", [])):
            spot = f"{where} ({name}) sources[{number}]"
            if isinstance(source, str):
                source = {"url": source}
            url = _check_url(source.get("url"), spot)
            fetch = source.get("fetch")
            if fetch is not None and fetch not in FETCH_MODES:
                raise ConfigError(f"{spot}: fetch must be one of {FETCH_MODES}, got {fetch!r}")
            try:
                adapter = adapters.for_source(url, source.get("platform"))
            except ConfigError as error:
                raise ConfigError(f"{spot}: {error}") from None
            podcast.sources.append(
                SourceConfig(podcast=name, url=adapter.canonical_url(url), platform=adapter.name,
                             fetch=fetch)
            )
        podcasts.append(podcast)
    routes_table = data.get("routes", {})
    if not isinstance(routes_table, dict):
        raise ConfigError("[routes] must be a table of PREFIX = BASE")
    fetch = check_table(data.get("fetch"), FetchPolicy, "fetch")
    browser = check_table(data.get("browser"), BrowserOptions, "browser")
    base = path.parent if path else Path.cwd()
    db = Path(data.get("db", DEFAULT_DB))
    return Config(
        podcasts=podcasts,
        routes=Routes(routes_table),
        fetch=fetch,
        browser=browser,
        db=db if db.is_absolute() else base / db,
        path=path,
        notify=parse_notify(data.get("notify")),
    )


def load_config(path: Path | str = DEFAULT_CONFIG) -> Config:
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            f"no sources file at {path}: create one (see README) or add a source with "
            f"`scraper add URL --podcast NAME`"
        )
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from None
    return parse_config(data, path)


def add_source(
    path: Path | str, url: str, podcast: str, platform: str | None = None
) -> SourceConfig:
    """Append a source to the sources file, keeping its comments and layout (tomlkit)."""
    import tomlkit

    import adapters

    path = Path(path)
    _check_url(url, "add")
    adapter = adapters.for_source(url, platform)
    url = adapter.canonical_url(url)
    document = tomlkit.parse(path.read_text("utf-8")) if path.exists() else tomlkit.document()
    podcasts = document.setdefault("podcasts", tomlkit.aot())
    entry = next((p for p in podcasts if p.get("name") == podcast), None)
    if entry is None:
        entry = tomlkit.table()
        entry["name"] = podcast
        entry["sources"] = tomlkit.array()
        podcasts.append(entry)
    sources = entry.setdefault("sources", tomlkit.array())
    for existing in sources:
        existing_url = existing if isinstance(existing, str) else existing.get("url")
        if existing_url and adapter.canonical_url(str(existing_url)) == url:
            raise ConfigError(f"{url} is already a source of {podcast!r}")
    item = tomlkit.inline_table()
    item["url"] = url
    if platform:
        item["platform"] = adapter.name
    sources.append(item)
    sources.multiline(True)
    text = tomlkit.dumps(document)
    parse_config(tomllib.loads(text), path)  # never write a file we could not read back
    path.write_text(text, "utf-8")
    return SourceConfig(podcast=podcast, url=url, platform=adapter.name)
