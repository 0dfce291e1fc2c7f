"""The `scraper` command line. Commands only: the work happens in the modules they call.

Heavy modules (httpx, dateparser, sqlite-utils, datasette, playwright) are imported inside
the commands so that `scraper --help` starts fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Scrape a podcast's listings on many platforms into one reconciled SQLite archive.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", metavar="FILE",
                                         help="Sources file (TOML).")]
DbOpt = Annotated[
    Path | None, typer.Option("--db", metavar="FILE", help="Archive file (default: the "
                              "sources file's db, else data/archive.db).")
]
PodcastOpt = Annotated[str | None, typer.Option("--podcast", metavar="NAME",
                                                help="Only this podcast.")]
PlatformOpt = Annotated[list[str] | None, typer.Option(
    "--platform", metavar="PLATFORM", help="Only this platform.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="CSV output (a header row first).")]
RouteOpt = Annotated[list[str] | None, typer.Option(
    "--route", metavar="PREFIX=BASE",
    help="Send requests for PREFIX to BASE (repeatable).")]

# Exit codes (README, "Commands"): 0 ok, 1 a source failed or is partial, 2 usage or
# sources-file error, 3 another sync holds the lock, 4 new drift (`diff --fail-on`),
# 5 the archive file cannot be used (not an archive, damaged, read-only, disk full).
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3
EXIT_NEW_DRIFT = 4
EXIT_ARCHIVE = 5

# Set by the global --debug flag: tracebacks are shown instead of one line.
DEBUG = False


def _err(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    # soft_wrap: an error is one line however narrow the terminal (never cut mid-sentence)
    Console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False,
                               soft_wrap=True)


def _fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    if DEBUG and sys.exc_info()[0] is not None:
        import traceback

        traceback.print_exc()
    _err(message)
    return typer.Exit(code)


def _load(config: Path, required: bool = True):
    from scraper.config import Config, load_config
    from scraper.errors import ConfigError

    if not required and not config.exists():
        return Config()
    try:
        return load_config(config)
    except ConfigError as error:
        raise _fail(str(error), 2) from None


def _db_path(db: Path | None, config: Path) -> Path:
    if db is not None:
        return db
    return _load(config, required=False).db


@contextmanager
def _usage() -> Iterator[None]:
    """Bad option values (cli_checks.UsageProblem) become one line and exit 2."""
    from scraper.cli_checks import UsageProblem

    try:
        yield
    except UsageProblem as error:
        raise _fail(str(error), EXIT_USAGE) from None


def _open_existing(db: Path):
    from scraper.archive import open_existing
    from scraper.errors import ArchiveError

    if not db.exists():
        raise _fail(f"no archive at {db}: run `scraper sync` (or `scraper demo`) first")
    try:
        return open_existing(db)
    except ArchiveError as error:
        raise _fail(str(error), EXIT_ARCHIVE) from None


def _write_stream(value) -> None:
    """JSON as `json.dumps(indent=2)` writes it, item by item (see scraper.jsonstream)."""
    from scraper.jsonstream import write_json

    write_json(value, sys.stdout.write)
    sys.stdout.write("\n")
    sys.stdout.flush()


def _stdout():
    from scraper.tables import stdout_console

    return stdout_console()


def _err_line(text: str) -> None:
    from rich.console import Console

    Console(stderr=True).print(text, highlight=False, soft_wrap=True, markup=False)


@app.command()
def sync(
    config: ConfigOpt = Path("scraper.toml"),
    db: DbOpt = None,
    podcast: PodcastOpt = None,
    platforms: PlatformOpt = None,
    route: RouteOpt = None,
    ignore_robots: Annotated[bool, typer.Option(
        "--ignore-robots", help="Do not obey robots.txt (warns; only for sites you may crawl).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Fetch every configured platform listing and archive it; exit 1 if any source failed."""
    from scraper.cli_checks import ROBOTS_WARNING, one_platform
    from scraper.errors import ArchiveError, ConfigError, LockedError
    from scraper.routes import Routes

    with _usage():
        platform = one_platform(platforms)
    settings = _load(config)
    if ignore_robots:
        _err_line(ROBOTS_WARNING)
    try:
        routes = settings.routes.merged(Routes.parse_option(route or []))
    except ConfigError as error:
        raise _fail(str(error), 2) from None
    sources = settings.sources(podcast, platform)
    if not sources:
        raise _fail("no sources match (check --podcast/--platform and the sources file)", 2)
    try:
        summary = _run_with_progress(
            settings, db or settings.db, podcast=podcast, platform=platform, routes=routes,
            obey_robots=False if ignore_robots else None, quiet=as_json,
        )
    except LockedError as error:
        raise _fail(str(error), EXIT_LOCKED) from None
    except ArchiveError as error:
        raise _fail(str(error), EXIT_ARCHIVE) from None
    except Exception as error:  # noqa: BLE001 - a bug: one line, the traceback with --debug
        raise _fail(f"sync stopped by an internal error: {type(error).__name__}: {error}; "
                    f"run again with --debug for the traceback") from None
    _print_summary(summary, as_json)
    raise typer.Exit(0 if summary.ok else EXIT_FAILED)


def _run_with_progress(settings, db_path: Path, *, quiet: bool, **kwargs):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from scraper.cli_checks import Verbosity
    from scraper.sync import sync as run_sync

    console = Console(stderr=True)
    quiet = quiet or Verbosity.quiet
    if quiet or not console.is_terminal:
        def done(report) -> None:
            if not quiet:
                console.print(f"{report.platform:9} {report.status:9} {report.url}",
                              highlight=False, soft_wrap=True)
        return run_sync(settings, db_path, on_source_done=done, **kwargs)
    with Progress(TextColumn("[bold]sync"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"), console=console, transient=True) as bar:
        task = bar.add_task("", total=None)

        def start(total: int) -> None:
            bar.update(task, total=total)

        def done(report) -> None:
            bar.update(task, advance=1, description=f"{report.platform} {report.status}")

        return run_sync(settings, db_path, on_start=start, on_source_done=done, **kwargs)


def _print_summary(summary, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary.to_json(), indent=2, ensure_ascii=False))
        return
    from scraper.cli_checks import Verbosity
    from scraper.tables import Column, render

    if not Verbosity.quiet:
        columns = [Column("podcast", "podcast", priority=3, wrap=True),
                   Column("platform", "platform"), Column("status", "status"),
                   Column("claimed", "claimed", priority=2, right=True),
                   Column("listed", "listed", right=True),
                   Column("pages", "pages", priority=3, right=True),
                   Column("new", "new", priority=1, right=True),
                   Column("changed", "changed", priority=2, right=True),
                   Column("removed", "removed", priority=2, right=True)]
        render([_source_row(s) for s in summary.sources], columns, console=_stdout(),
               title=f"run {summary.run_id}: {summary.status}  ({summary.db})")
    out = _stdout()
    for s in summary.sources:
        lines = []
        if s.error:
            # Errors usually start with the URL already: say it once.
            lines.append(s.error.removeprefix(f"{s.url}: "))
        lines += list(s.warnings)
        if s.note and not Verbosity.quiet:
            lines.append(s.note)
        for line in lines:
            out.print(f"{s.platform} {s.url}: {line}", highlight=False, soft_wrap=True,
                      markup=False)


def _source_row(report) -> dict:
    return {name: getattr(report, name) for name in (
        "podcast", "platform", "status", "claimed", "listed", "pages", "new", "changed",
        "removed", "warnings")}


@app.command()
def parse(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A saved page or API response.",
                                         exists=True, dir_okay=False)],
    platform: Annotated[str, typer.Option("--platform", metavar="PLATFORM",
                                          help="Adapter to parse with.")],
    url: Annotated[str | None, typer.Option(
        "--url", metavar="URL", help="The URL the page came from (default: from the "
        "fixtures index.json that lists FILE, else the page's canonical link).")] = None,
    fetched_at: Annotated[str | None, typer.Option(
        "--fetched-at", metavar="ISO", help="Capture time (ISO 8601); base for relative "
        "dates (default: the recording's, else now).")] = None,
) -> None:
    """Print an adapter's parse of one saved page as JSON (show, episodes, next)."""
    from datetime import UTC, datetime

    import adapters
    from scraper.errors import ScraperError
    from scraper.fixtures import case_for_file
    from scraper.models import Capture
    from scraper.parse_source import url_in_page
    from scraper.parsing import parse_capture

    try:
        adapter = adapters.get(platform)
        moment = datetime.fromisoformat(fetched_at) if fetched_at else None
    except (ScraperError, ValueError) as error:
        raise _fail(str(error), EXIT_USAGE) from None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    recorded = case_for_file(file)
    if recorded is not None and recorded.platform == adapter.name:
        # A recording: its index entry says which URL (and request: method, body) it answers.
        capture = recorded.capture()
        if url:
            capture.url = capture.final_url = url
        if moment is not None:
            capture.fetched_at = moment
    else:
        body = file.read_bytes()
        url = url or url_in_page(body)
        if url is None:
            raise _fail(f"{file}: the page does not say its URL and no fixtures index.json "
                        "lists it; pass --url (the URL it was fetched from)", EXIT_USAGE)
        content_type = {".json": "application/json", ".xml": "application/xml",
                        ".rss": "application/rss+xml"}.get(file.suffix.lower(),
                                                           "text/html; charset=utf-8")
        capture = Capture(url=url, status=200, body=body,
                          fetched_at=moment or datetime.now(UTC),
                          headers={"content-type": content_type})
    try:
        listing = parse_capture(adapter, capture)
    except ScraperError as error:
        raise _fail(f"{type(error).__name__}: {error}") from None
    typer.echo(json.dumps(listing.to_json(), indent=2, ensure_ascii=False))


SOURCE_FIELDS = ("podcast", "platform", "url", "fetch", "status", "listed", "claimed",
                 "captured", "warnings")


@app.command()
def inspect(
    target: Annotated[str, typer.Argument(help="A page URL, or a saved page (FILE).")],
    platform: Annotated[str | None, typer.Option(
        "--platform", help="Adapter to use (default: detected).")] = None,
    url: Annotated[str | None, typer.Option(
        "--url", help="FILE mode: the URL the page came from.")] = None,
    save: Annotated[bool, typer.Option(
        "--save", help="Write the capture and its index entry into fixtures/<platform>/.")
    ] = False,
    fixtures: Annotated[Path | None, typer.Option(
        "--fixtures", help="Where --save writes (default: the repository's fixtures/).")
    ] = None,
    config: ConfigOpt = Path("scraper.toml"),
    as_json: JsonOpt = False,
) -> None:
    """What an adapter found on one page: state, page facts, rows, next requests, warnings."""
    from scraper import inspect_page as inspecting
    from scraper.errors import ScraperError

    try:
        path = Path(target)
        if path.is_file():
            adapter, capture = inspecting.capture_from_file(path, platform, url)
        elif "://" in target:
            settings = _load(config, required=False)
            adapter, capture = inspecting.capture_from_url(target, platform, settings.fetch,
                                                           settings.routes)
        else:
            raise _fail(f"{target}: no such file, and not a URL", EXIT_USAGE)
    except ScraperError as error:
        code = EXIT_USAGE if error.kind == "config" else EXIT_FAILED
        raise _fail(f"{target}: {type(error).__name__}: {error}", code) from None
    found = inspecting.inspect_capture(adapter, capture)
    if as_json:
        typer.echo(json.dumps(found.to_json(), indent=2, ensure_ascii=False, default=str))
    else:
        typer.echo(inspecting.render(found))
    if save:
        written = inspecting.save(found, fixtures or inspecting.FIXTURES_DIR)
        typer.echo(f"saved {written} and its entry in {written.parent / 'index.json'}",
                   err=as_json)
    if not found.ok:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def sources(config: ConfigOpt = Path("scraper.toml"), db: DbOpt = None,
            as_json: JsonOpt = False, as_csv: CsvOpt = False) -> None:
    """List configured sources with their platform and last sync status."""
    from scraper.cli_checks import one_format

    with _usage():
        one_format(json=as_json, csv=as_csv)
    settings = _load(config)
    db_path = db or settings.db
    last: dict[str, dict] = {}
    if db_path.exists():
        from scraper.reads import sources_status

        last = sources_status(_open_existing(db_path))
    rows = [{"podcast": s.podcast, "platform": s.platform, "url": s.url,
             "fetch": s.fetch or "auto",
             **last.get(s.url, {"status": "never synced", "listed": None, "claimed": None,
                                "captured": None, "warnings": []})}
            for s in settings.sources()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if as_csv:
        from scraper.csvout import write_csv

        write_csv(rows, SOURCE_FIELDS)
        return
    from scraper.tables import Column, render

    columns = [Column("podcast", "podcast", priority=4, wrap=True),
               Column("platform", "platform"), Column("status", "status"),
               Column("listed", "listed", right=True),
               Column("claimed", "claimed", priority=2, right=True),
               Column("captured", lambda r: (r["captured"] or "")[:10], priority=1),
               Column("fetch", "fetch", priority=5),
               Column("url", "url", priority=3, wrap=True)]
    console = _stdout()
    render(rows, columns, console=console, title=str(settings.path))
    for row in rows:
        for warning in row["warnings"]:
            console.print(f"{row['platform']} {row['url']}: {warning}", highlight=False,
                          soft_wrap=True, markup=False)


@app.command()
def add(
    url: Annotated[str, typer.Argument(metavar="URL", help="A platform page of the podcast.")],
    podcast: Annotated[str, typer.Option("--podcast", metavar="NAME",
                                         help="Podcast name to add it to.")],
    platform: Annotated[str | None, typer.Option(
        "--platform", metavar="PLATFORM",
        help="Platform, when the URL is not a known platform's.")] = None,
    config: ConfigOpt = Path("scraper.toml"),
    route: RouteOpt = None,
    check: Annotated[bool, typer.Option(
        "--check/--no-check", help="Fetch and parse the page before adding it.")] = True,
    with_feed: Annotated[bool, typer.Option(
        "--with-feed", help="Also add the publisher's feed when the platform names it "
        "(Apple's feedUrl).")] = False,
) -> None:
    """Detect the platform of URL, check the page parses, and append it to the sources file.
    When the platform names the publisher's own feed, propose it (or add it: --with-feed)."""
    from scraper.cli_checks import known_platforms
    from scraper.config import add_source
    from scraper.errors import ConfigError, ScraperError
    from scraper.routes import Routes
    from scraper.sync import check_source

    with _usage():
        known_platforms([platform] if platform else None)
    settings = _load(config, required=False)
    feed: str | None = None
    try:
        routes = settings.routes.merged(Routes.parse_option(route or []))
        if check:
            listing = check_source(settings, url, platform, routes)
            show = listing.show
            claimed = f", the platform claims {show.claimed_count}" if show and \
                show.claimed_count else ""
            typer.echo(f"checked: {show.title if show and show.title else '(untitled)'}: "
                       f"{len(listing.episodes)} episodes on the first page{claimed}")
            feed = show.feed_url if show else None
        added = add_source(config, url, podcast, platform)
    except ConfigError as error:
        raise _fail(str(error), EXIT_USAGE) from None
    except ScraperError as error:
        reason = str(error).removeprefix(f"{url}: ")
        raise _fail(f"{url} did not check out: {reason} ({error.kind}); fix the URL, or add "
                    "it anyway with --no-check") from None
    typer.echo(f"added {added.platform} source {added.url} to {podcast!r} in {config}")
    if feed and feed != added.url:
        _offer_feed(config, settings, feed, podcast, added.platform, with_feed)


def _offer_feed(config: Path, settings, feed: str, podcast: str, platform: str,
                add_it: bool) -> None:
    """The publisher's feed a platform names: added with --with-feed, else proposed."""
    import adapters
    from scraper.config import add_source
    from scraper.errors import ConfigError

    feed = adapters.get("rss").canonical_url(feed)
    if any(adapters.get("rss").canonical_url(s.url) == feed for s in settings.sources(podcast)):
        return
    if not add_it:
        typer.echo(f"{platform} names the publisher's feed {feed}: add it too with "
                   f"`scraper add {feed} --podcast {podcast!r}` (`scraper add --with-feed` "
                   "adds both at once)")
        return
    try:
        added = add_source(config, feed, podcast, "rss")
    except ConfigError as error:
        raise _fail(str(error), 2) from None
    typer.echo(f"added rss source {added.url} (the publisher's feed {platform} names) "
               f"to {podcast!r} in {config}")


@app.command()
def reparse(
    db: DbOpt = None,
    config: ConfigOpt = Path("scraper.toml"),
    podcast: PodcastOpt = None,
    platforms: PlatformOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-run adapters over stored captures, without network (e.g. after an adapter fix)."""
    from scraper.cli_checks import known_podcast, one_platform
    from scraper.errors import ArchiveError, LockedError
    from scraper.sync import reparse as run_reparse

    db_path = _db_path(db, config)
    database = _open_existing(db_path)
    with _usage():
        platform = one_platform(platforms)
        known_podcast(database, podcast)
    database.close()
    try:
        summary = run_reparse(db_path, podcast=podcast, platform=platform)
    except LockedError as error:
        raise _fail(str(error), EXIT_LOCKED) from None
    except ArchiveError as error:
        raise _fail(str(error), EXIT_ARCHIVE) from None
    _print_summary(summary, as_json)
    raise typer.Exit(0 if summary.ok else EXIT_FAILED)


@app.command()
def demo(
    db: Annotated[Path, typer.Option("--db", metavar="FILE",
                                     help="Where the demo archive goes.")] = Path("data/demo.db"),
    fresh: Annotated[bool, typer.Option("--fresh", help="Start from an empty archive.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Offline demo: serve the recorded pages from a local replay server and sync them.
    Also writes demo.toml beside the archive, for `scraper replay` + `scraper sync`."""
    from scraper.cli_checks import Verbosity
    from scraper.demo import demo_config, serve_recordings, write_demo_sources

    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    from scraper.errors import ArchiveError, LockedError

    with serve_recordings() as server:
        settings = demo_config(server, db)
        try:
            summary = _run_with_progress(settings, db, quiet=as_json)
        except LockedError as error:
            raise _fail(str(error), EXIT_LOCKED) from None
        except ArchiveError as error:
            raise _fail(f"{error} (or run `scraper demo --fresh`)", EXIT_ARCHIVE) from None
    sources_file = write_demo_sources(db)
    _print_summary(summary, as_json)
    if not as_json and not Verbosity.quiet:
        typer.echo(f"\nNext: scraper diff --db {db}   |   scraper episodes --db {db}   |   "
                   f"scraper serve --db {db}\nOffline sync: scraper replay (in another "
                   f"terminal), then scraper sync --config {sources_file}")
    raise typer.Exit(0 if summary.ok else EXIT_FAILED)


@app.command()
def replay(
    port: Annotated[int, typer.Option("--port", metavar="N", help="Port on 127.0.0.1 "
                                      "(data/demo.toml routes to 8123).")] = 8123,
) -> None:
    """Serve the recorded pages at their real URL paths until Ctrl-C or SIGTERM."""
    import signal
    import threading

    from scraper.fixtures import load_cases
    from scraper.replay import ReplayServer

    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    cases = load_cases()
    try:
        server = ReplayServer(cases, port=port).start()
    except OSError as error:
        raise _fail(f"cannot listen on 127.0.0.1:{port} ({error.strerror}); pick another "
                    "--port (and change the routes in the sources file)") from None
    _err_line(f"replaying {len(cases)} recordings on {server.base}; "
              "stop with Ctrl-C")
    stop.wait()
    server.stop()


EPISODE_FIELDS = ("id", "podcast", "title", "published", "duration_seconds", "platforms",
                  "description_truncated", "title_source", "published_source",
                  "duration_source", "description_source", "links", "conflicts")


@app.command()
def episodes(
    db: DbOpt = None,
    config: ConfigOpt = Path("scraper.toml"),
    podcast: PodcastOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    limit: Annotated[int, typer.Option("--limit", metavar="N",
                                       help="Rows to show (table output).")] = 50,
) -> None:
    """Canonical episodes with their chosen fields and provenance."""
    from scraper.cli_checks import known_podcast, non_negative, one_format
    from scraper.reads import canonical_episodes

    with _usage():
        one_format(json=as_json, csv=as_csv)
        non_negative("--limit", limit)
    database = _open_existing(_db_path(db, config))
    with _usage():
        known_podcast(database, podcast)
    if as_json:
        _write_stream(canonical_episodes(database, podcast))
        return
    rows = list(canonical_episodes(database, podcast))
    if as_csv:
        from scraper.csvout import write_csv

        write_csv(rows, EPISODE_FIELDS)
        return
    from scraper.tables import Column, render

    def duration(row: dict) -> str | None:
        seconds = row.get("duration_seconds")
        return f"{seconds // 60} min" if seconds else None

    columns = [Column("id", "id", right=True), Column("published", "published"),
               Column("title", "title", wrap=True),
               Column("duration", duration, priority=2, right=True),
               Column("platforms", lambda r: ", ".join(sorted(
                   {link["platform"] for link in r["links"]})), priority=1, wrap=True)]
    shown = f", newest {limit} shown (--limit)" if len(rows) > limit else ""
    render(rows[:limit], columns, console=_stdout(),
           title=f"{len(rows)} canonical episodes{shown}")


@app.command()
def episode(
    wanted: Annotated[str, typer.Argument(metavar="ID|TITLE",
                                          help="Canonical id, or (part of) its title.")],
    db: DbOpt = None,
    config: ConfigOpt = Path("scraper.toml"),
    as_json: JsonOpt = False,
) -> None:
    """One canonical episode: every platform's listing side by side, conflicts, history."""
    from scraper.episode_view import render_text, to_json
    from scraper.reads import EpisodeNotFound, episode_record, find_episode_id

    database = _open_existing(_db_path(db, config))
    try:
        episode_id = find_episode_id(database, wanted)
    except EpisodeNotFound as error:
        raise _fail(str(error), EXIT_USAGE) from None
    data = to_json(episode_record(database, episode_id))
    if as_json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
        return
    render_text(data, _stdout())


@app.command()
def diff(
    db: DbOpt = None,
    config: ConfigOpt = Path("scraper.toml"),
    podcast: PodcastOpt = None,
    platform: Annotated[list[str] | None, typer.Option(
        "--platform", metavar="PLATFORM", help="Compare only these platforms (repeatable).")
    ] = None,
    as_json: JsonOpt = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Markdown report.")] = False,
    as_csv: CsvOpt = False,
    expand: Annotated[bool, typer.Option(
        "--all", help="List every episode behind every number, not-yet-seen included.")
    ] = False,
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", metavar="KINDS", help="Comma-separated missing,date,title,new,failed,"
        "partial: exit 4 when such drift is new since the previous --fail-on check.")] = None,
) -> None:
    """Drift between platforms: missing and disagreements first, then counts."""
    from scraper.cli_checks import known_platforms, known_podcast, one_format
    from scraper.diff_view import csv_rows, render_markdown, render_text
    from scraper.drift import diff_report, iter_diff_report

    with _usage():
        one_format(json=as_json, markdown=markdown, csv=as_csv)
        known_platforms(platform)
    kinds: list[str] = []
    if fail_on is not None:
        from scraper.drift_alerts import parse_kinds

        try:
            kinds = parse_kinds(fail_on)
        except ValueError as error:
            raise _fail(str(error), EXIT_USAGE) from None
    db_path = _db_path(db, config)
    database = _open_existing(db_path)
    with _usage():
        known_podcast(database, podcast)
    if as_json and not kinds:
        _write_stream(iter_diff_report(database, podcast=podcast, platforms=platform or None))
        return
    report = diff_report(database, podcast=podcast, platforms=platform or None)
    if as_json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    elif markdown:
        typer.echo(render_markdown(report, expand), nl=False)
    elif as_csv:
        from scraper.csvout import write_csv
        from scraper.diff_view import CSV_FIELDS

        write_csv(csv_rows(report), CSV_FIELDS)
    else:
        render_text(report, _stdout(), expand)
    if kinds:
        _check_new_drift(db_path, report, kinds)


def _check_new_drift(db_path: Path, report: dict, kinds: list[str]) -> None:
    from scraper.archive import Archive
    from scraper.drift_alerts import describe, new_since_last_check

    archive = Archive(db_path)  # applies the migration holding drift_reported
    try:
        new = new_since_last_check(archive.db, report, kinds)
    finally:
        archive.close()
    if new:
        _err_line(f"new drift since the previous check ({len(new)}):")
        for item in new:
            _err_line(f"  {describe(item)}")
        raise typer.Exit(EXIT_NEW_DRIFT)


CHANGE_FIELDS = ("run_id", "seen_at", "podcast", "platform", "source_url", "episode_id",
                 "title", "change", "changes")


@app.command()
def changes(
    db: DbOpt = None,
    config: ConfigOpt = Path("scraper.toml"),
    since: Annotated[str | None, typer.Option(
        "--since", metavar="DATE|RUN",
        help="An ISO date or time, or a run id (3 or run:3): changes from it on.")] = None,
    podcast: PodcastOpt = None,
    platform: Annotated[list[str] | None, typer.Option(
        "--platform", metavar="PLATFORM", help="Only these platforms (repeatable).")] = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """What appeared, disappeared or changed on each platform between syncs."""
    from scraper.cli_checks import known_platforms, known_podcast, one_format, since_value
    from scraper.drift import changes_report, iter_changes

    with _usage():
        one_format(json=as_json, csv=as_csv)
        since = since_value(since)
        known_platforms(platform)
    database = _open_existing(_db_path(db, config))
    with _usage():
        known_podcast(database, podcast)
    if as_json or as_csv:  # written as read: a first sync's changes are the whole archive
        stream = iter_changes(database, since, podcast=podcast, platforms=platform or None)
        if as_json:
            _write_stream(stream)
        else:
            from scraper.csvout import write_csv

            write_csv(stream, CHANGE_FIELDS)
        return
    items = changes_report(database, since, podcast=podcast, platforms=platform or None)
    from scraper.tables import Column, render

    columns = [Column("run", "run_id", priority=2, right=True),
               Column("seen", lambda i: str(i["seen_at"])[:16], priority=1),
               Column("platform", "platform"), Column("change", "change"),
               Column("title", lambda i: i.get("title") or i["episode_id"], wrap=True),
               Column("fields", lambda i: ", ".join(sorted((i.get("changes") or {}).keys()))
                      if i["change"] == "changed" else None, priority=3, wrap=True)]
    render(items, columns, console=_stdout(),
           title=f"{len(items)} changes" + (f" since {since}" if since else ""))


@app.command()
def feed(
    db: DbOpt = None,
    config: ConfigOpt = Path("scraper.toml"),
    podcast: Annotated[str | None, typer.Option(
        "--podcast", metavar="NAME", help="Podcast name or slug (default: the only one).")
    ] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FILE",
        help="Write the feed here (atomically) instead of stdout.")] = None,
    include_all: Annotated[bool, typer.Option(
        "--all", help="Also episodes no platform gives audio for (without enclosure).")] = False,
    self_url: Annotated[str | None, typer.Option(
        "--self-url", metavar="URL",
        help="The URL the feed is published at (atom:link self, podcast:guid).")] = None,
) -> None:
    """Rebuild the podcast's RSS feed from the reconciled archive."""
    from scraper.feed import FeedError, feed_for

    database = _open_existing(_db_path(db, config))
    try:
        result = feed_for(database, podcast, include_all=include_all, self_url=self_url)
    except FeedError as error:
        raise _fail(str(error), 2) from None
    if output is None:
        sys.stdout.buffer.write(result.xml)
        sys.stdout.buffer.flush()
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".part")
    partial.write_bytes(result.xml)
    partial.replace(output)  # readers never see half a feed
    left = (f"; {result.without_audio} without audio left out (--all keeps them)"
            if result.without_audio and not include_all else "")
    typer.echo(f"wrote {result.items} episodes to {output}{left}", err=True)


@app.command()
def notify(
    config: ConfigOpt = Path("scraper.toml"),
    db: DbOpt = None,
    podcast: PodcastOpt = None,
    test: Annotated[bool, typer.Option(
        "--test", help="Send a sample alert to every [notify] URL, nothing else.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Send alerts for drift not alerted yet (sync does this after each run)."""
    settings = _load(config)
    if settings.notify is None:
        raise _fail(f"{config} has no [notify] table: add one with urls = [...] "
                    "(Apprise URLs, see README)", 2)
    from scraper.notify import notify_podcasts, send_test, summary_json

    if test:
        delivery = send_test(settings.notify)
        for error in delivery.errors:
            _err(f"test alert not delivered to {error}")
        typer.echo(f"test alert delivered to {delivery.delivered} of "
                   f"{len(settings.notify.urls)} URLs")
        raise typer.Exit(0 if not delivery.errors else EXIT_FAILED)
    from scraper.errors import ArchiveError, LockedError
    from scraper.sync import open_archive

    db_path = _db_path(db, config)
    _open_existing(db_path).close()
    try:
        # The sync lock: a sync alerts after its run, and the same drift must not be
        # alerted twice by two processes that both found it not alerted yet.
        lock, archive = open_archive(db_path)
    except LockedError as error:
        raise _fail(str(error), EXIT_LOCKED) from None
    except ArchiveError as error:
        raise _fail(str(error), EXIT_ARCHIVE) from None
    try:
        from scraper.reads import podcasts

        ids = [r["id"] for r in podcasts(archive.db, podcast)]
        results = notify_podcasts(archive, settings.notify, ids, db_name=db_path.stem)
    finally:
        archive.close()
        lock.release()
    rows = summary_json(results)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for row in rows:
            kinds = ", ".join(f"{n} {k}" for k, n in row["kinds"].items()) or "nothing new"
            typer.echo(f"{row['podcast']}: {kinds}; delivered to {row['delivered']} URL(s)")
    failed = any(row["errors"] for row in rows)
    raise typer.Exit(EXIT_FAILED if failed else 0)


@app.command()
def serve(
    db: DbOpt = None,
    config: ConfigOpt = Path("scraper.toml"),
    host: Annotated[str, typer.Option("--host", metavar="HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", metavar="N")] = 8001,
) -> None:
    """Browse the archive in Datasette, with facets, search, canned reports and a chart."""
    from scraper.datasette import exit_code, port_in_use
    from scraper.datasette import serve as run_datasette

    db_path = _db_path(db, config)
    _open_existing(db_path).close()
    if port_in_use(host, port):
        raise _fail(f"port {port} on {host} is in use (another `scraper serve`?): stop it or "
                    f"pick another --port")
    process = run_datasette(db_path, host=host, port=port)
    # Datasette's own exit code (a port taken in between is its error, non-zero).
    raise typer.Exit(exit_code(process.returncode))


def version_callback(value: bool) -> None:
    if value:
        from scraper import __version__

        typer.echo(f"scraper {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=version_callback,
                                          is_eager=True, help="Show the version.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and the output "
                                        "asked for (no progress, no summary tables).")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also log each request, "
                                          "retry and robots.txt decision to stderr.")] = False,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show tracebacks (and debug logs) instead of one-line errors.")] = False,
) -> None:
    """Scrape a podcast's listings on many platforms into one reconciled SQLite archive."""
    global DEBUG
    from scraper.cli_checks import configure_output

    DEBUG = debug
    with _usage():
        configure_output(quiet, verbose, debug)


def main() -> None:
    app(prog_name="scraper")


if __name__ == "__main__":  # pragma: no cover
    main()
