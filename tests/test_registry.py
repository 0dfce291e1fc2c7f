"""The adapter registry: built-in platforms, URL detection, third-party entry points."""

from __future__ import annotations

import sys
import textwrap

import pytest

import adapters
from scraper.errors import ConfigError

EXAMPLES = {
    "rss": "https://podcast.do-not-panic.com/feed.xml",
    "audible": "https://www.audible.in/podcast/AI-Post-Transformers/B0DASOKD90",
    "radionet": "https://www.radio.net/podcast/ai-post-transformers",
    "castbox": "https://castbox.fm/channel/AI-Post-Transformers-id6571384",
    "podimo": "https://podimo.com/no/shows/ai-post-transformers",
    "podtail": "https://podtail.com/no/podcast/ai-post-transformers/",
    "apple": "https://podcasts.apple.com/us/podcast/ai-post-transformers/id1781640912",
}


def test_the_contract_platform_names_are_registered():
    assert set(adapters.names()) == set(EXAMPLES)
    assert adapters.names()[-1] == "rss", "the generic feed adapter is tried last"


@pytest.mark.parametrize(("platform", "url"), sorted(EXAMPLES.items()))
def test_each_platform_is_detected_from_its_url(platform, url):
    assert adapters.detect(url).name == platform
    assert adapters.for_source(url, None).name == platform


def test_unknown_urls_need_an_explicit_platform():
    assert adapters.detect("https://example.org/some/page") is None
    with pytest.raises(ConfigError, match="platform"):
        adapters.for_source("https://example.org/some/page", None)
    assert adapters.for_source("https://example.org/some/page", "rss").name == "rss"


def test_a_third_party_adapter_registers_through_an_entry_point(tmp_path, monkeypatch):
    package = tmp_path / "scraper_example_adapter"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent('''
        from adapters.base import Adapter
        from scraper.models import Episode, Listing

        class ExampleAdapter(Adapter):
            name = "example"
            url_patterns = (r"^https://listen\\.example/show/",)

            def parse(self, capture):
                return Listing(platform=self.name, url=capture.url,
                               episodes=[Episode(id="1", title="One")])
    '''), "utf-8")
    dist = tmp_path / "scraper_example_adapter-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: scraper-example-adapter\n"
                                   "Version: 1.0\n", "utf-8")
    (dist / "entry_points.txt").write_text(
        "[scraper.adapters]\nexample = scraper_example_adapter:ExampleAdapter\n", "utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    adapters._registry.cache_clear()
    try:
        assert "example" in adapters.names()
        assert adapters.detect("https://listen.example/show/42").name == "example"
        assert adapters.names()[-1] == "rss"
    finally:
        sys.modules.pop("scraper_example_adapter", None)
        monkeypatch.undo()
        adapters._registry.cache_clear()
    assert "example" not in adapters.names()
