"""The `scraper` command line. Commands only: the work happens in the modules they call.

Heavy modules (httpx, dateparser, sqlite-utils, datasette, playwright) are imported inside
the commands so that `scraper --help` starts fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Scrape a podcast's listings on many platforms into one reconciled SQLite archive.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Sources file (TOML).")]
DbOpt = Annotated[
    Path | None, typer.Option("--db", help="Archive file (default: the sources file's db, "
                              "else data/archive.db).")
]
PodcastOpt = Annotated[str | None, typer.Option("--podcast", help="Only this podcast.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]

# Exit codes (README, "What sync promises"): 0 ok, 1 a source failed or is partial, 2 usage
# or sources-file error, 3 another sync holds the lock, 4 new drift (`diff --fail-on`),
# 5 the archive file cannot be used (not an archive, damaged, read-only, disk full).
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3
EXIT_ARCHIVE = 5

# Set by the global --debug flag: tracebacks are shown instead of one line.
DEBUG = False


def _err(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    # soft_wrap: one line, whatever the terminal width (cron logs, grep).
    Console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False,
                               soft_wrap=True, markup=True)


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


def _open_existing(db: Path):
    from scraper.dbfaults import check_archive_file
    from scraper.errors import ArchiveError
    from scraper.reads import open_for_reading

    if not db.exists():
        raise _fail(f"no archive at {db}: run `scraper sync` (or `scraper demo`) first")
    try:
        check_archive_file(db, writing=False)
    except ArchiveError as error:
        raise _fail(str(error), EXIT_ARCHIVE) from None
    return open_for_reading(db)


def _write_stream(value) -> None:
    """JSON as `json.dumps(indent=2)` writes it, item by item (see scraper.jsonstream)."""
    from scraper.jsonstream import write_json

    write_json(value, sys.stdout.write)
    sys.stdout.write("\n")
    sys.stdout.flush()


@app.command()
def sync(
    config: ConfigOpt = Path("scraper.toml"),
    db: DbOpt = None,
    podcast: PodcastOpt = None,
    platform: Annotated[str | None, typer.Option("--platform", help="Only this platform.")] = None,
    route: Annotated[list[str] | None, typer.Option(
        "--route", help="PREFIX=BASE: send requests for PREFIX to BASE (repeatable).")] = None,
    ignore_robots: Annotated[bool, typer.Option(
        "--ignore-robots", help="Do not obey robots.txt (warns; only for sites you may crawl).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Fetch every configured platform listing and archive it; exit 1 if any source failed."""
    from scraper.errors import ArchiveError, ConfigError, LockedError
    from scraper.routes import Routes

    settings = _load(config)
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

    from scraper.sync import sync as run_sync

    console = Console(stderr=True)
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
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"run {summary.run_id}: {summary.status}  ({summary.db})")
    for column in ("podcast", "platform", "status", "claimed", "listed", "pages", "new",
                   "changed", "removed"):
        table.add_column(column, justify="right" if column in (
            "claimed", "listed", "pages", "new", "changed", "removed") else "left")
    colours = {"ok": "green", "unchanged": "cyan", "partial": "yellow"}
    for s in summary.sources:
        colour = colours.get(s.status, "red")
        table.add_row(s.podcast, s.platform, f"[{colour}]{s.status}[/]",
                      *(str(v) if v is not None else "-" for v in (
                          s.claimed, s.listed, s.pages, s.new, s.changed, s.removed)))
    # Piped output (cron logs) gets a fixed, readable width instead of rich's 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=120)
    console.print(table)
    for s in summary.sources:
        if s.error:
            console.print(f"[red]{s.platform}[/] {s.url}: {s.error}", highlight=False)
        for warning in s.warnings:
            console.print(f"[yellow]{s.platform}[/] {s.url}: {warning}", highlight=False)
        if s.note:
            console.print(f"[cyan]{s.platform}[/] {s.url}: {s.note}", highlight=False,
                          soft_wrap=True)


@app.command()
def parse(
    file: Annotated[Path, typer.Argument(help="A saved page or API response.", exists=True,
                                         dir_okay=False)],
    platform: Annotated[str, typer.Option("--platform", help="Adapter to parse with.")],
    url: Annotated[str | None, typer.Option("--url", help="The URL the page came from.")] = None,
    fetched_at: Annotated[str | None, typer.Option(
        "--fetched-at", help="Capture time (ISO 8601); base for relative dates.")] = None,
) -> None:
    """Print an adapter's parse of one saved page as JSON (show, episodes, next)."""
    from datetime import UTC, datetime

    import adapters
    from scraper.errors import ScraperError
    from scraper.fixtures import case_for_file
    from scraper.models import Capture
    from scraper.parsing import parse_capture

    try:
        adapter = adapters.get(platform)
        moment = datetime.fromisoformat(fetched_at) if fetched_at else datetime.now(UTC)
    except (ScraperError, ValueError) as error:
        raise _fail(str(error), 2) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    suffix = file.suffix.lower()
    content_type = {".json": "application/json", ".xml": "application/xml",
                    ".rss": "application/rss+xml"}.get(suffix, "text/html; charset=utf-8")
    capture = Capture(url=url or file.resolve().as_uri(), status=200, body=file.read_bytes(),
                      fetched_at=moment, headers={"content-type": content_type})
    recorded = case_for_file(file)
    if recorded is not None and recorded.platform == adapter.name:
        # A recording: its index entry says which URL (and request: method, body) it answers.
        capture = recorded.capture()
        if url:
            capture.url = capture.final_url = url
        if fetched_at:
            capture.fetched_at = moment
    try:
        listing = parse_capture(adapter, capture)
    except ScraperError as error:
        raise _fail(f"{type(error).__name__}: {error}") from None
    typer.echo(json.dumps(listing.to_json(), indent=2, ensure_ascii=False))


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
    from scraper import inspect as inspecting
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
            as_json: JsonOpt = False) -> None:
    """List configured sources with their platform and last sync status."""
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
    from rich.console import Console
    from rich.table import Table

    table = Table(title=str(settings.path))
    for column in ("podcast", "platform", "url", "status", "listed", "claimed", "captured"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(row[c]) if row[c] is not None else "-" for c in (
            "podcast", "platform", "url", "status", "listed", "claimed", "captured")))
    console = Console()
    console.print(table)
    for row in rows:
        for warning in row["warnings"]:
            console.print(f"[yellow]{row['platform']}[/] {row['url']}: {warning}",
                          highlight=False)


@app.command()
def add(
    url: Annotated[str, typer.Argument(help="A platform page of the podcast.")],
    podcast: Annotated[str, typer.Option("--podcast", help="Podcast name to add it to.")],
    platform: Annotated[str | None, typer.Option(
        "--platform", help="Platform, when the URL is not a known platform's.")] = None,
    config: ConfigOpt = Path("scraper.toml"),
    route: Annotated[list[str] | None, typer.Option(
        "--route", help="PREFIX=BASE for the check (repeatable).")] = None,
    check: Annotated[bool, typer.Option(
        "--check/--no-check", help="Fetch and parse the page before adding it.")] = True,
    with_feed: Annotated[bool, typer.Option(
        "--with-feed", help="Also add the publisher's feed when the platform names it "
        "(Apple's feedUrl).")] = False,
) -> None:
    """Detect the platform of URL, check the page parses, and append it to the sources file.
    When the platform names the publisher's own feed, propose it (or add it: --with-feed)."""
    from scraper.config import add_source
    from scraper.errors import ConfigError, ScraperError
    from scraper.routes import Routes
    from scraper.sync import check_source

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
        raise _fail(str(error), 2) from None
    except ScraperError as error:
        raise _fail(f"{url} did not check out ({type(error).__name__}: {error}); "
                    f"fix the URL, or add it anyway with --no-check") from None
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
    platform: Annotated[str | None, typer.Option("--platform")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Re-run adapters over stored captures, without network (e.g. after an adapter fix)."""
    from scraper.errors import ArchiveError, LockedError
    from scraper.sync import reparse as run_reparse

    db_path = _db_path(db, config)
    _open_existing(db_path).close()
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
    db: Annotated[Path, typer.Option("--db", help="Where the demo archive goes.")] = Path(
        "data/demo.db"),
    fresh: Annotated[bool, typer.Option("--fresh", help="Start from an empty archive.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Offline demo: serve the recorded pages from a local replay server and sync them."""
    from scraper.demo import demo_config, serve_recordings

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
    _print_summary(summary, as_json)
    if not as_json:
        typer.echo(f"\nNext: scraper diff --db {db}   |   scraper episodes --db {db}   |   "
                   f"scraper serve --db {db}")
    raise typer.Exit(0 if summary.ok else EXIT_FAILED)


@app.command()
def episodes(
    db: DbOpt = None,
    config: ConfigOpt = Path("scraper.toml"),
    podcast: PodcastOpt = None,
    as_json: JsonOpt = False,
    limit: Annotated[int, typer.Option("--limit", help="Rows to show (table output).")] = 50,
) -> None:
    """Canonical episodes with their chosen fields and provenance."""
    from scraper.reads import canonical_episodes

    database = _open_existing(_db_path(db, config))
    if as_json:
        _write_stream(canonical_episodes(database, podcast))
        return
    rows = list(canonical_episodes(database, podcast))
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(rows)} canonical episodes")
    for column in ("id", "published", "title", "duration", "platforms"):
        table.add_column(column)
    for row in rows[:limit]:
        platforms = ", ".join(sorted({link["platform"] for link in row["links"]}))
        duration = row.get("duration_seconds")
        table.add_row(str(row["id"]), row.get("published") or "-", row.get("title") or "-",
                      f"{duration // 60} min" if duration else "-", platforms)
    Console().print(table)


@app.command()
def diff(
    db: DbOpt = None,
    config: ConfigOpt = Path("scraper.toml"),
    podcast: PodcastOpt = None,
    platform: Annotated[list[str] | None, typer.Option(
        "--platform", help="Compare only these platforms (repeatable).")] = None,
    as_json: JsonOpt = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Markdown report.")] = False,
) -> None:
    """Drift between platforms: counts, missing, not yet seen, extra, disagreements."""
    from scraper.drift import iter_diff_report, render_markdown

    database = _open_existing(_db_path(db, config))
    report = iter_diff_report(database, podcast=podcast, platforms=platform or None)
    if as_json:
        _write_stream(report)
    else:
        text = render_markdown(report)
        if markdown:
            typer.echo(text)
        else:
            from rich.console import Console
            from rich.markdown import Markdown

            Console().print(Markdown(text))


@app.command()
def changes(
    db: DbOpt = None,
    config: ConfigOpt = Path("scraper.toml"),
    since: Annotated[str | None, typer.Option(
        "--since", help="An ISO date or a run id (e.g. 3): changes after it.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """What appeared, disappeared or changed on each platform between syncs."""
    from scraper.drift import changes_report

    database = _open_existing(_db_path(db, config))
    items = changes_report(database, since)
    if as_json:
        typer.echo(json.dumps(items, indent=2, ensure_ascii=False, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(items)} changes" + (f" since {since}" if since else ""))
    for column in ("run", "seen", "platform", "change", "title", "fields"):
        table.add_column(column)
    for item in items:
        fields = ", ".join(sorted((item.get("changes") or {}).keys()))
        table.add_row(str(item["run_id"]), str(item["seen_at"])[:16], item["platform"],
                      item["change"], item.get("title") or item["episode_id"], fields)
    Console().print(table)


@app.command()
def feed(
    db: DbOpt = None,
    config: ConfigOpt = Path("scraper.toml"),
    podcast: Annotated[str | None, typer.Option(
        "--podcast", help="Podcast name or slug (default: the only one).")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the feed here (atomically) instead of stdout.")] = None,
    include_all: Annotated[bool, typer.Option(
        "--all", help="Also episodes no platform gives audio for (without enclosure).")] = False,
    self_url: Annotated[str | None, typer.Option(
        "--self-url", help="The URL the feed is published at (atom:link self, podcast:guid).")
    ] = None,
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
    from scraper.archive import Archive

    db_path = _db_path(db, config)
    _open_existing(db_path).close()
    archive = Archive(db_path)
    try:
        from scraper.reads import podcasts

        ids = [r["id"] for r in podcasts(archive.db, podcast)]
        results = notify_podcasts(archive.db, settings.notify, ids, db_name=db_path.stem)
    finally:
        archive.close()
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
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8001,
) -> None:
    """Browse the archive in Datasette, with facets, search and canned reports."""
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
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show tracebacks (and debug logs) instead of one-line errors.")] = False,
) -> None:
    """Scrape a podcast's listings on many platforms into one reconciled SQLite archive."""
    global DEBUG
    DEBUG = debug
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")


def main() -> None:
    app(prog_name="scraper")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
