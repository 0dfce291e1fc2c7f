"""The sources file, routes and `scraper add`."""

from __future__ import annotations

import pytest

from scraper.config import add_source, load_config, parse_config
from scraper.errors import ConfigError
from scraper.routes import Routes

FEED = "https://podcast.do-not-panic.com/feed.xml"


def write(tmp_path, text: str):
    path = tmp_path / "scraper.toml"
    path.write_text(text, "utf-8")
    return path


def test_sources_file_with_detected_and_explicit_platforms(tmp_path):
    path = write(tmp_path, f'''
db = "archive.db"
[[podcasts]]
name = "AI Post Transformers"
sources = [
  {{ url = "{FEED}" }},
  {{ url = "http://127.0.0.1:8123/mirror/feed", platform = "rss", fetch = "browser" }},
]
[routes]
"https://podcast.do-not-panic.com" = "http://127.0.0.1:8123/podcast.do-not-panic.com"
[fetch]
min_delay = 0.5
retries = 2
''')
    config = load_config(path)
    sources = config.sources()
    assert [s.platform for s in sources] == ["rss", "rss"]
    assert sources[1].fetch == "browser"
    assert config.db == tmp_path / "archive.db"  # relative to the sources file
    assert config.fetch == {"min_delay": 0.5, "retries": 2}
    assert config.routes.apply(FEED) == "http://127.0.0.1:8123/podcast.do-not-panic.com/feed.xml"
    assert config.sources(podcast="nobody") == []
    assert len(config.sources(platform="rss")) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[podcasts]]\nsources = []', "needs a name"),
        ('[[podcasts]]\nname = "x"\nsources = [{ url = "ftp://x/feed.xml" }]', "http"),
        ('[[podcasts]]\nname = "x"\nsources = [{ url = "https://example.org/page" }]',
         "no platform recognises"),
        ('[[podcasts]]\nname = "x"\nsources = [{ url = "https://e.org/f", platform = "nope" }]',
         "unknown platform"),
        ('[[podcasts]]\nname = "x"\nsources = [{ url = "https://e.org/f", platform = "rss", '
         'fetch = "telepathy" }]', "fetch must be"),
        ('[[podcasts]]\nname = "x"\n[[podcasts]]\nname = "x"', "listed twice"),
        ('[fetch]\nspeed = 3', "unknown setting"),
        ('[fetch]\nmin_delay = "fast"', "min_delay must be"),
        ('[fetch]\nobey_robots = 1', r"\[fetch\] obey_robots must be bool, got 1"),
        ('[browser]\nexecutable = "/opt/chrome"',
         r"\[browser\] unknown setting 'executable' \(known: executable_path, timeout, "),
        ('[browser]\ntimeout = "30s"', r"\[browser\] timeout must be float, got '30s'"),
        ('browser = "chromium"', r"\[browser\] must be a table"),
        ('[routes]\n"https://a.org" = "file:///etc"', "http(s)"),
        ("this is not toml = = =", "scraper.toml"),
    ],
)
def test_bad_sources_files_give_clear_errors(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_missing_sources_file_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="scraper add"):
        load_config(tmp_path / "absent.toml")


def test_routes_longest_prefix_and_round_trip():
    routes = Routes({
        "https://www.radio.net": "http://127.0.0.1:9/radio",
        "https://www.radio.net/podcast/special": "http://127.0.0.1:9/special",
    })
    assert routes.apply("https://www.radio.net/podcast/x") == "http://127.0.0.1:9/radio/podcast/x"
    assert routes.apply("https://www.radio.net/podcast/special?a=1") == (
        "http://127.0.0.1:9/special?a=1")
    assert routes.apply("https://www.radio.network/x") == "https://www.radio.network/x"
    routed = routes.apply("https://www.radio.net/a?b=c")
    assert routes.unapply(routed) == "https://www.radio.net/a?b=c"
    assert Routes.parse_option(["https://a.org=http://127.0.0.1:1"]) == [
        ("https://a.org", "http://127.0.0.1:1")]
    with pytest.raises(ConfigError):
        Routes.parse_option(["no-equals-sign"])


def test_add_appends_keeps_comments_and_rejects_duplicates(tmp_path):
    path = write(tmp_path, '# my shows\n[[podcasts]]\nname = "Other"\nsources = []\n')
    added = add_source(path, FEED + "?utm_source=x", "AI Post Transformers")
    assert added.platform == "rss" and added.url == FEED
    text = path.read_text("utf-8")
    assert text.startswith("# my shows")
    config = load_config(path)
    assert [s.url for s in config.sources("AI Post Transformers")] == [FEED]
    add_source(path, "https://mirror.example/x.xml", "Other", platform="rss")
    assert len(load_config(path).sources("Other")) == 1
    with pytest.raises(ConfigError, match="already a source"):
        add_source(path, FEED, "AI Post Transformers")
    with pytest.raises(ConfigError, match="no platform recognises"):
        add_source(path, "https://example.org/page", "Other")


def test_parse_config_accepts_bare_url_strings():
    config = parse_config({"podcasts": [{"name": "x", "sources": [FEED]}]})
    assert config.sources()[0].url == FEED


def test_the_example_sources_file_is_valid():
    from pathlib import Path

    config = load_config(Path(__file__).resolve().parent.parent / "scraper.example.toml")
    assert sorted(s.platform for s in config.sources()) == [
        "audible", "castbox", "podimo", "podtail", "radionet", "rss"]
    assert {s.fetch for s in config.sources() if s.platform in ("podimo", "podtail")} == {
        "browser"}


def test_every_setting_of_the_policies_can_be_set(tmp_path):
    """The dataclasses are the one list: a field added there is a setting, with its type."""
    from dataclasses import fields

    from scraper.settings import BrowserOptions, FetchPolicy

    config = load_config(write(tmp_path, "[fetch]\nbackoff_max = 10\nmax_redirects = 2\n"
                                         "[browser]\nmax_clicks = 3\nuser_agent = \"ua\""))
    assert config.fetch == {"backoff_max": 10, "max_redirects": 2}
    assert config.browser == {"max_clicks": 3, "user_agent": "ua"}
    assert FetchPolicy(**config.fetch).backoff_max == 10
    assert BrowserOptions(**config.browser).max_clicks == 3
    assert {f.name for f in fields(FetchPolicy)} >= {"min_delay", "timeout", "retries"}


def test_a_typo_in_browser_is_one_line_from_the_cli(tmp_path):
    import subprocess
    import sys

    config = write(tmp_path, '[[podcasts]]\nname = "x"\nsources = [{ url = '
                             '"https://e.org/f.xml", platform = "rss" }]\n'
                             '[browser]\nexecutable = "/opt/chrome"\n')
    result = subprocess.run([sys.executable, "-m", "scraper", "sync", "--config", str(config),
                             "--db", str(tmp_path / "a.db")], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())  # rich may wrap a long line
    assert message.startswith("error: [browser] unknown setting 'executable' (known: "
                              "executable_path,")
    assert not (tmp_path / "a.db").exists()
