"""The parse baseline: each HTML adapter's extraction written with BeautifulSoup.

One function per platform, reading the same things from the same places as the adapter's
`parse` (show title and, per episode, id, title, printed date and description; plus the
lookups the adapter makes on the way: JSON-LD, metadata scripts, counts, pagers). Every DOM
access goes through BeautifulSoup with the pure-Python `html.parser` and soupsieve
selectors. Where an adapter reads a JSON state held in a `<script>`, the script is found
through the soup and its JSON is decoded with the adapter's own JSON helpers: the HTML layer is
what is being compared, not the JSON walking. URL regexes are shared for the same reason.

`check_same` proves that a baseline extracts what its adapter does (same show title, same
episode ids and titles); the parse benchmark refuses to report a baseline that does not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from bs4 import BeautifulSoup, Tag

from adapters import audible as au
from adapters import castbox as cb
from adapters import podimo as pm
from adapters import podtail as pt
from adapters import radionet as rn
from scraper.models import Capture, Listing

Episode = tuple[str, str, str | None, str | None]  # id, title, printed date, description


@dataclass
class Extract:
    show_title: str | None
    episodes: list[Episode] = field(default_factory=list)


def _soup(capture: Capture) -> BeautifulSoup:
    return BeautifulSoup(capture.text, "html.parser")


def _text(node: Tag | None, sep: str = " ") -> str | None:
    if node is None:
        return None
    return " ".join(node.get_text(sep).split()) or None


def _first(node: Any, selectors: tuple[str, ...]) -> Tag | None:
    for selector in selectors:
        found = node.select_one(selector)
        if found is not None:
            return found
    return None


def _json_scripts(soup: BeautifulSoup, selector: str) -> list[Any]:
    out = []
    for script in soup.select(selector):
        try:
            out.append(json.loads(script.string or script.get_text() or ""))
        except ValueError:
            continue
    return out


# --- audible ---------------------------------------------------------------------------------


def audible(capture: Capture) -> Extract:
    url = au.ADAPTER().canonical_url(capture.url)
    match = au.PODCAST_URL.match(url)
    if match is None:
        raise ValueError(f"not an Audible URL: {url}")
    soup = _soup(capture)
    if match["list"]:
        episodes = _audible_rows(soup)
        soup.select_one(".nextButton")  # the pager, read like the adapter does
        soup.select(".pageNumberElement")
        return Extract(None, episodes)
    items: list[dict] = []
    for data in _json_scripts(soup, 'script[type="application/ld+json"]'):
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict):
                items.append(item)
                items.extend(g for g in item.get("@graph") or [] if isinstance(g, dict))
    series = next((i for i in items if i.get("@type") == "PodcastSeries"), None)
    rows = _audible_rows(soup)
    if series is not None or rows:
        metadata: dict = {}
        for data in _json_scripts(soup, 'adbl-product-metadata script[type="application/json"]'):
            if isinstance(data, dict):
                metadata.update(data)
        title = (series or {}).get("name")
        if not title:
            hero = _first(soup, au.HERO) or soup
            node = _first(hero, au.HERO_TITLE) or _first(soup, au.HERO_TITLE)
            title = node.get_text(strip=True) if node is not None else None
        if not (series or {}).get("author") and not metadata.get("authors"):
            [a.get_text(strip=True) for a in soup.select(".authorLabel a")]
        if not (series or {}).get("description"):
            summary = _first(soup, au.SUMMARY)
            _ = summary.decode_contents() if summary is not None else None
        soup.select_one('meta[property="og:image"]')
        return Extract(title, rows)
    # An episode page: the hero, the summary and the "View show details" link.
    hero = _first(soup, au.HERO) or soup
    node = _first(hero, au.HERO_TITLE) or _first(soup, au.HERO_TITLE)
    title = node.get_text(strip=True) if node is not None else None
    summary = _first(soup, au.SUMMARY)
    description = summary.decode_contents() if summary is not None else None
    for link in soup.select('a[href*="/podcast/"], adbl-button[href*="/podcast/"]'):
        if " ".join(link.get_text().split()).lower() in au.SHOW_LINK_LABELS:
            break
    return Extract(None, [(match["asin"].upper(), title or "", None, description)])


def _audible_rows(soup: BeautifulSoup) -> list[Episode]:
    episodes = []
    for row in soup.select(au.ROW):
        link = _first(row, ("h3 a[href]", 'a[href*="/podcast/"]'))
        href = link.get("href") if link is not None else None
        holder = row if row.get("data-asin") else row.select_one("[data-asin]")
        asin = str(holder.get("data-asin") or "").strip().upper() if holder is not None else ""
        if not re.fullmatch(au.ASIN, asin) and href:
            found = au._ASIN_AT_END.search(urlsplit(str(href)).path)
            asin = found["asin"].upper() if found else ""
        title_node = _first(row, au.ROW_TITLE)
        title = title_node.get_text(strip=True) if title_node is not None else None
        title = title or row.get("aria-label")
        date = _audible_value(row, au.ROW_DATE)
        _audible_value(row, au.ROW_DURATION)
        description_node = _first(row, au.ROW_DESCRIPTION)
        description = (
            description_node.decode_contents() if description_node is not None else None
        )
        if description_node is not None:
            description_node.get_text()  # the truncation check reads the text too
        episodes.append((asin, str(title or ""), date, description))
    return episodes


def _audible_value(row: Tag, selector: str) -> str | None:
    node = row.select_one(selector)
    if node is None:
        return None
    return au._LABEL_PREFIX.sub("", " ".join(node.get_text().split())) or None


# --- radio.net -------------------------------------------------------------------------------


def radionet(capture: Capture) -> Extract:
    soup = _soup(capture)
    match = rn.SHOW_URL.match(capture.url)
    slug = match.group("slug") if match else None
    state = _radionet_flight(soup) or _radionet_next_data(soup)
    for selector in rn.CONSENT_SELECTORS:
        for node in soup.select(selector):
            node.decompose()
    title = None
    episodes: list[Episode] = []
    if state is not None:
        podcast, container = rn.RadioNetAdapter()._find_in_state(state, slug)
        if podcast:
            title = podcast.get("title") or podcast.get("name")
        if container is not None:
            episodes = [
                (str(item["id"]), str(item["title"]), str(item.get("publishDate")),
                 item.get("description"))
                for item in container["episodes"]
            ]
    if not episodes:
        rows = soup.select('[data-testid="episode-item"]') or soup.select(
            'li[class*="EpisodeListItem_item"]'
        )
        for row in rows:
            row_title = _text(row.select_one('[data-testid="episode-title"]')
                              or row.select_one("h3"))
            if not row_title:
                continue
            date = row.select_one('[data-testid="episode-date"]') or row.select_one("time")
            description = row.select_one('[data-testid="episode-description"]')
            episodes.append((
                str(row.get("data-episode-id")), row_title, _text(date),
                description.decode_contents() if description is not None else None,
            ))
    # Show fields the state did not give: JSON-LD, then the DOM (as the adapter does).
    for data in _json_scripts(soup, 'script[type="application/ld+json"]'):
        for node in rn._walk(data):
            if node.get("@type") == "PodcastSeries":
                title = title or node.get("name")
    title = title or _text(soup.select_one("main h1") or soup.select_one("h1"))
    soup.select_one('[data-testid="podcast-author"]')
    soup.select_one('[data-testid="podcast-description"]')
    soup.select_one('[data-testid="episodes-count"]')
    return Extract(title, episodes)


def _radionet_flight(soup: BeautifulSoup) -> list[Any] | None:
    decoder = json.JSONDecoder()
    chunks = []
    for script in soup.find_all("script"):
        text = script.string or ""
        if "self.__next_f.push" not in text:
            continue
        for push in rn._FLIGHT_PUSH.finditer(text):
            try:
                value, _ = decoder.raw_decode(text, push.end())
            except ValueError:
                continue
            if isinstance(value, str):
                chunks.append(value)
    if not chunks:
        return None
    rows = []
    for line in "".join(chunks).split("\n"):
        row = rn._FLIGHT_ROW.match(line)
        if not row or row.group(2)[:1] not in ("[", "{"):
            continue
        try:
            rows.append(rn._unflight(json.loads(row.group(2))))
        except ValueError:
            continue
    return rows or None


def _radionet_next_data(soup: BeautifulSoup) -> Any:
    node = soup.find("script", id="__NEXT_DATA__")
    if node is None:
        return None
    try:
        data = json.loads(node.string or "")
    except ValueError:
        return None
    props = (data.get("props") or {}).get("pageProps") if isinstance(data, dict) else None
    if isinstance(props, dict) and props.get("data") is not None:
        return props["data"]
    return data


# --- castbox ---------------------------------------------------------------------------------


def castbox(capture: Capture) -> Extract:
    soup = _soup(capture)
    state = None
    for script in soup.find_all("script"):
        text = script.string or ""
        if "__INITIAL_STATE__" in text:
            found = cb.STATE_SCRIPT.search(text)
            if found:
                state = json.loads(unquote(found.group(1)))
            break
    ch = (state or {}).get("ch") or {}
    info = ch.get("chInfo") or {}
    header = soup.select_one(".ch_feed_info")
    page_text = _text(soup.body) or ""  # counts are searched in the page text
    cb.SUBSCRIBED_TEXT.search(page_text)
    cb.PLAYED_TEXT.search(page_text)
    for selector in ('link[rel="canonical"]', 'meta[property="og:url"]',
                     'meta[property="og:image"]'):
        soup.select_one(selector)
    title = info.get("title")
    if not title and header is not None:
        h1 = header.select_one("h1")
        title = (h1.get("title") or _text(h1)) if h1 is not None else None
    rows = soup.select("section.episodeRow .ep-item")
    soup.select_one("#LoadInline")
    episodes: list[Episode] = []
    if ch.get("eps"):
        episodes = [
            (str(item["eid"]), str(item["title"]), item.get("release_date"),
             item.get("description"))
            for item in ch["eps"] if isinstance(item, dict) and item.get("eid")
        ]
    else:
        for row in rows:
            link = next((a for a in row.select("a[href]")
                         if cb.EPISODE_HREF.search(str(a.get("href")))), None)
            title_node = row.select_one("p.ep-item-con-title")
            if link is None or title_node is None:
                continue
            found = cb.EPISODE_HREF.search(str(link.get("href")))
            assert found is not None
            description = row.select_one(".ep-item-des") or row.select_one(
                ".ep-item-con-description")
            episodes.append((
                found.group(2), str(title_node.get("title") or _text(title_node)),
                _text(row.select_one("span.item.icon.date")), _text(description),
            ))
    return Extract(title, episodes)


# --- podimo ----------------------------------------------------------------------------------


def podimo(capture: Capture) -> Extract:
    url = capture.final_url or capture.url
    match = pm.EPISODE_URL.match(url) or pm.SHOW_URL.match(url)
    if match is None:
        raise ValueError(f"not a podimo page: {url}")
    is_episode_page = "episode" in match.groupdict()
    soup = _soup(capture)
    props = None
    node = soup.select_one("script#__NEXT_DATA__")
    if node is not None:
        data = json.loads(node.string or "")
        props = data.get("props", {}).get("pageProps")
    title = None
    episodes: list[Episode] = []
    if isinstance(props, dict):
        podcast = props.get("podcast") or {}
        title = podcast.get("title")
        items = ([props.get("episode")] if is_episode_page else []) + list(
            props.get("episodes") or [])
        episodes = [
            (str(item["id"]), str(item["title"]), item.get("publishedLabel"),
             item.get("description"))
            for item in items if isinstance(item, dict) and item.get("id") and item.get("title")
        ]
    if not episodes:
        title = title or _text(soup.select_one('[data-cy="PodcastTitle"]'))
        rows = []
        for selector in pm.ROW_SELECTORS:
            rows = soup.select(selector)
            if rows:
                break
        for row in rows:
            link = row.select_one('a[href*="/episode/"]')
            href = urljoin(url, str(link.get("href"))) if link is not None else ""
            found = pm.EPISODE_URL.match(href)
            description = row.select_one('[data-cy="EpisodeDescription"]')
            episodes.append((
                found.group("episode") if found else "",
                _text(row.select_one('[data-cy="EpisodeTitle"]')) or "",
                _text(row.select_one('[data-cy="Datetime"]')),
                description.decode_contents() if description is not None else None,
            ))
    soup.select_one('link[rel="canonical"]')
    return Extract(title, episodes)


# --- podtail ---------------------------------------------------------------------------------


def podtail(capture: Capture) -> Extract:
    soup = _soup(capture)
    series: dict = {}
    for data in _json_scripts(soup, 'script[type="application/ld+json"]'):
        items = data.get("@graph", [data]) if isinstance(data, dict) else data
        series = next((i for i in items if isinstance(i, dict)
                       and i.get("@type") == "PodcastSeries"), {})
        if series:
            break
    title = series.get("name") or _text(soup.select_one("h1.podcast-title"))
    if not series.get("description"):
        soup.select_one(".podcast-description")
    container = soup.select_one("#episodes")
    rows = container.select("li.episode") if container is not None else []
    base = capture.final_url or capture.url
    episodes: list[Episode] = []
    for row in rows:
        link = row.select_one(".episode-title a[href]") or row.select_one(
            "a[href*='/podcast/']")
        episode_title = (link.get("title") or _text(link)) if link is not None else None
        for anchor in row.select("a[href]"):
            if pt.AUDIO_LINK.search(str(anchor.get("href"))):
                urljoin(base, str(anchor.get("href")))
                break
        description = row.select_one(".episode-description")
        _text(row.select_one(".episode-duration"))
        episodes.append((
            str(row.get("data-episode-id")), str(episode_title),
            _text(row.select_one(".episode-date")),
            description.decode_contents() if description is not None else None,
        ))
    return Extract(title, episodes)


EXTRACTORS: dict[str, Callable[[Capture], Extract]] = {
    "audible": audible,
    "castbox": castbox,
    "podimo": podimo,
    "podtail": podtail,
    "radionet": radionet,
}


def _squash(value: str | None) -> str:
    return " ".join((value or "").split())


def check_same(name: str, listing: Listing, extract: Extract) -> None:
    """Raise ValueError unless the baseline saw the adapter's show title and episodes."""
    ours = [(e.id, _squash(e.title)) for e in listing.episodes]
    theirs = [(i, _squash(t)) for i, t, _, _ in extract.episodes]
    problems = []
    if len(ours) != len(theirs):
        problems.append(f"{len(theirs)} episodes, the adapter {len(ours)}")
    elif ours != theirs:
        diff = next((a, b) for a, b in zip(ours, theirs, strict=True) if a != b)
        problems.append(f"episode differs: adapter {diff[0]!r}, bs4 {diff[1]!r}")
    show = listing.show.title if listing.show else None
    if show and _squash(show) != _squash(extract.show_title):
        problems.append(f"show title {extract.show_title!r}, the adapter {show!r}")
    if problems:
        raise ValueError(f"bs4 baseline for {name}: " + "; ".join(problems))
