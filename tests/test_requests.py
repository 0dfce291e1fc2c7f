"""Requests with a body, end to end: a GraphQL POST sent by the fetcher, answered by a server
that enforces Apollo Server 4's CSRF rule, recorded with its method and body, reused and
reparsed by that body.

The Apollo stand-in (a real HTTP server on 127.0.0.1) refuses what Apollo Server 4 refuses
(research §9): a GET without `apollo-require-preflight` / `x-apollo-operation-name`, and a POST
whose content type is not JSON, both with 400 and Apollo's message. A POST with a JSON body is
answered from the Podimo recordings by its `variables`.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import zlib
from pathlib import Path

import httpx
import pytest
from httpserver import LocalServer

from adapters.podimo import graphql_request, graphql_url
from scraper.archive import Archive
from scraper.config import parse_config
from scraper.fetch import Fetcher, FetchPolicy
from scraper.fixtures import load_cases
from scraper.models import Request
from scraper.routes import Routes
from scraper.sync import reparse, sync

PODIMO = {c.name: c for c in load_cases() if c.platform == "podimo"}
SHOW = PODIMO["show-no"]
PODCAST_ID = json.loads(PODIMO["graphql-000"].request.body)["variables"]["podcastId"]
TOTAL = 662
CSRF_MESSAGE = (
    "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). Please "
    "either specify a 'content-type' header (with a type that is not one of "
    "application/x-www-form-urlencoded, multipart/form-data, text/plain) or provide a "
    "non-empty value for one of the following headers: x-apollo-operation-name, "
    "apollo-require-preflight"
)
FETCH = {"min_delay": 0.0, "retries": 1, "timeout": 10.0}


class ApolloPodimo:
    """podimo.com show pages and an Apollo-style graphql.podimo.com on one LocalServer."""

    def __init__(self, server: LocalServer, show_file: Path):
        self.server = server
        self.answers = {json.loads(c.request.body)["variables"]["offset"]: c.path.read_bytes()
                        for c in PODIMO.values() if c.name.startswith("graphql-")}
        self.page = show_file.read_bytes()
        server.on("/podimo.com/no/shows/ai-post-transformers", self.show)
        server.on("/graphql.podimo.com/graphql", self.graphql)

    def show(self, req) -> None:
        """The show page, with an ETag it honours (a GET can be revalidated; a POST not)."""
        etag = '"show-1"'
        if req.headers.get("if-none-match") == etag:
            return req.reply(304, b"", {"ETag": etag})
        return req.reply(200, self.page, {"Content-Type": "text/html; charset=utf-8",
                                          "ETag": etag})

    @property
    def routes(self) -> dict[str, str]:
        return {"https://podimo.com": self.server.url("/podimo.com"),
                "https://graphql.podimo.com": self.server.url("/graphql.podimo.com")}

    def graphql(self, req) -> None:
        headers = req.headers
        if req.hit.method == "GET" and not (headers.get("apollo-require-preflight")
                                            or headers.get("x-apollo-operation-name")):
            return self.error(req, CSRF_MESSAGE)
        if req.hit.method == "POST":
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            if kind != "application/json":
                return self.error(req, CSRF_MESSAGE if kind in (
                    "", "text/plain", "application/x-www-form-urlencoded",
                    "multipart/form-data") else "POST body missing, invalid Content-Type, "
                                               "or JSON object has no keys.")
            body = json.loads(req.hit.body)
            variables = body.get("variables") or {}
            answer = self.answers.get(variables.get("offset"))
            if variables.get("podcastId") != PODCAST_ID or answer is None:
                return req.reply(200, b'{"data":{"episodes":[]}}',
                                 {"Content-Type": "application/json"})
            return req.reply(200, answer, {"Content-Type": "application/json; charset=utf-8"})
        return self.error(req, "GET query missing.")

    @staticmethod
    def error(req, message: str) -> None:
        body = json.dumps({"errors": [{"message": message,
                                       "extensions": {"code": "BAD_REQUEST"}}]}).encode()
        req.reply(400, body, {"Content-Type": "application/json; charset=utf-8"})

    def posts(self) -> list:
        return [h for h in self.server.hits_for("/graphql.podimo.com/graphql")
                if h.method == "POST"]


def config(apollo: ApolloPodimo):
    return parse_config({"podcasts": [{"name": SHOW.podcast, "sources": [{"url": SHOW.url}]}],
                         "routes": apollo.routes, "fetch": FETCH})


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


# ---------------------------------------------------------------------------------------------
# Apollo's CSRF rule


def test_the_stand_in_enforces_apollos_csrf_rule():
    with LocalServer() as server:
        apollo = ApolloPodimo(server, SHOW.path)
        routes = Routes(apollo.routes)
        get = httpx.get(routes.apply(graphql_url(PODCAST_ID)), timeout=10.0)
        assert get.status_code == 400 and "Cross-Site Request Forgery" in get.text
        request = graphql_request(PODCAST_ID)
        as_text = httpx.post(routes.apply(request.url), content=request.body,
                             headers={"content-type": "text/plain"}, timeout=10.0)
        assert as_text.status_code == 400 and "Cross-Site Request Forgery" in as_text.text
        good = httpx.post(routes.apply(request.url), content=request.body,
                          headers=dict(request.headers), timeout=10.0)
        assert good.status_code == 200 and len(good.json()["data"]["episodes"]) == 100


@pytest.mark.parametrize("page", ["show-no", "show-no-nuxt2", "show-no-nuxt3", "drift-nl"])
def test_sync_through_apollo_gets_the_whole_list(tmp_path, page):
    db = tmp_path / "archive.db"
    with LocalServer() as server:
        apollo = ApolloPodimo(server, PODIMO[page].path)
        summary = sync(config(apollo), db)
        posts = apollo.posts()
    (report,) = summary.sources
    assert report.status == "ok", report.error
    assert report.listed == report.claimed == TOTAL
    assert len(posts) == 7  # offsets 0..600, each once, each a JSON POST
    assert all(h.headers["content-type"] == "application/json" for h in posts)
    assert sorted(json.loads(h.body)["variables"]["offset"] for h in posts) == list(
        range(0, 700, 100))
    drift = [w for w in report.warnings if w.startswith("layout_drift")]
    assert bool(drift) == (page == "drift-nl")
    assert rows(db, "select count(*) from platform_episodes where listed = 1") == [(TOTAL,)]


def test_page_rows_keep_the_whole_description_where_the_api_cuts_it(tmp_path):
    db = tmp_path / "archive.db"
    with LocalServer() as server:
        apollo = ApolloPodimo(server, SHOW.path)
        for offset, raw in list(apollo.answers.items()):
            data = json.loads(raw)
            for row in data["data"]["episodes"]:
                row["description"] = row["description"][:500]  # as the real API cuts it
            apollo.answers[offset] = json.dumps(data).encode()
        summary = sync(config(apollo), db)
    assert summary.sources[0].status == "ok" and summary.sources[0].listed == TOTAL
    page_rows = {e["id"]: e["description"] for e in SHOW.expected_json()["episodes"]}
    got = dict(rows(db, "select episode_id, description from platform_episodes"))
    for episode_id, whole in page_rows.items():
        assert len(whole) > 500 and got[episode_id] == whole
    cut = [d for i, d in got.items() if i not in page_rows and len(d) == 500]
    assert len(cut) > 20  # the rest are the API's cut texts


# ---------------------------------------------------------------------------------------------
# Captures keep the request; reuse and reparse look them up by it


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    db = tmp_path_factory.mktemp("requests") / "archive.db"
    with LocalServer() as server:
        apollo = ApolloPodimo(server, SHOW.path)
        first = sync(config(apollo), db)
        second = sync(config(apollo), db)
        # The platform changes its last page: the same request now has another answer.
        last = json.loads(apollo.answers[600])
        last["data"]["episodes"][-1]["title"] += " (remastered)"
        apollo.answers[600] = json.dumps(last).encode()
        third = sync(config(apollo), db)
    return db, first, second, third


def test_captures_record_method_and_body(synced):
    db, first, *_ = synced
    assert first.sources[0].status == "ok"
    got = rows(db, "select c.method, c.url, c.request_headers, b.compressed is not null "
                   "from captures c left join bodies b on b.sha256 = c.request_sha256 "
                   "where c.run_id = 1 order by c.id")
    assert got[0] == ("GET", SHOW.url, None, False)
    assert len(got) == 8 and {g[:2] for g in got[1:]} == {
        ("POST", "https://graphql.podimo.com/graphql")}
    assert all(json.loads(g[2]) == {"content-type": "application/json"} and g[3]
               for g in got[1:])
    # Datasette describes the new columns.
    metadata = json.loads((Path(__file__).parent.parent / "data" / "metadata.json").read_text())
    described = metadata["databases"]["archive"]["tables"]["captures"]["columns"]
    assert all(described.get(c) for c in ("method", "request_sha256", "request_headers"))


def test_latest_capture_is_keyed_on_the_body(synced):
    db, *_ = synced
    archive = Archive(db)
    try:
        for offset in (0, 100, 500):
            stored = archive.latest_capture(graphql_request(PODCAST_ID, offset))
            assert stored is not None and stored.method == "POST"
            assert stored.body == PODIMO[f"graphql-{offset:03d}"].path.read_bytes()
            assert stored.request == graphql_request(PODCAST_ID, offset)
        assert archive.latest_capture("https://graphql.podimo.com/graphql") is None  # no GET
        assert archive.latest_capture(graphql_request(PODCAST_ID, 700)) is None
    finally:
        archive.close()


def test_same_answer_to_the_same_body_is_unchanged_and_a_new_one_is_not(synced):
    db, _, second, third = synced
    assert second.sources[0].status == "unchanged"
    assert third.sources[0].status == "ok" and third.sources[0].changed == 1
    archive = Archive(db)
    try:
        changed = archive.latest_capture(graphql_request(PODCAST_ID, 600))
        same = archive.latest_capture(graphql_request(PODCAST_ID, 500))
        assert b"(remastered)" in changed.body
        assert same.body == PODIMO["graphql-500"].path.read_bytes()
    finally:
        archive.close()


def test_reparse_reads_the_post_captures_by_their_body(synced):
    db, *_ = synced
    summary = reparse(db)
    (report,) = summary.sources
    assert report.status == "ok", report.error
    assert report.listed == TOTAL
    titles = rows(db, "select title from platform_episodes where title like '%(remastered)'")
    assert len(titles) == 1


# ---------------------------------------------------------------------------------------------
# The fetcher


def fetch(server: LocalServer, target, **kwargs):
    async def run():
        async with Fetcher(FetchPolicy(min_delay=0.0, retries=2, backoff_base=0.01),
                           Routes({"https://api.example": server.url("")})) as fetcher:
            return await fetcher.fetch(target, **kwargs)

    return asyncio.run(run())


def test_fetcher_sends_method_headers_and_body_and_no_conditional_headers():
    request = Request.json_post("https://api.example/graphql", {"query": "{ a }"})
    with LocalServer() as server:
        server.static("/graphql", 200, b'{"data":{}}', {"Content-Type": "application/json"})
        capture = fetch(server, request, etag='"x"', last_modified="Fri, 29 May 2026 08:00 GMT")
        (hit,) = server.hits_for("/graphql")
    assert (hit.method, hit.body, hit.headers["content-type"]) == (
        "POST", request.body, "application/json")
    assert "if-none-match" not in hit.headers and "if-modified-since" not in hit.headers
    assert (capture.method, capture.request_body, capture.status) == ("POST", request.body, 200)
    assert capture.request == request


def test_fetcher_retries_a_post_with_its_body():
    request = Request.json_post("https://api.example/graphql", {"query": "{ b }"})
    answers = iter([503, 200])
    with LocalServer() as server:
        server.on("/graphql", lambda req: req.reply(next(answers), b"{}"))
        capture = fetch(server, request)
        hits = server.hits_for("/graphql")
    assert capture.status == 200
    assert [(h.method, h.body) for h in hits] == [("POST", request.body)] * 2


def test_a_303_after_a_post_is_followed_with_a_get():
    request = Request.json_post("https://api.example/submit", {"x": 1})
    with LocalServer() as server:
        server.static("/submit", 303, b"", {"Location": "/result"})
        server.static("/result", 200, b"done", {"Content-Type": "text/plain"})
        capture = fetch(server, request)
        (result,) = server.hits_for("/result")
    assert capture.body == b"done" and capture.final_url == "https://api.example/result"
    assert (result.method, result.body) == ("GET", b"")
    assert "content-type" not in result.headers


# ---------------------------------------------------------------------------------------------
# `scraper parse` of an API recording


def test_parse_of_a_post_recording_knows_its_request_from_the_index():
    import subprocess
    import sys

    case = PODIMO["graphql-100"]
    done = subprocess.run([sys.executable, "-m", "scraper", "parse", str(case.path),
                           "--platform", "podimo"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got == case.expected_json()
    (following,) = got["next"]
    assert following["method"] == "POST"
    assert json.loads(following["body"])["variables"]["offset"] == 200


def test_reparse_finds_captures_stored_in_the_older_get_form(tmp_path):
    """An archive from before the POST holds the GraphQL pages as GETs (`?query=&variables=`):
    reparse still reads them, through the adapter's older form of each request."""
    db = tmp_path / "archive.db"
    with LocalServer() as server:
        summary = sync(config(ApolloPodimo(server, SHOW.path)), db)
    assert summary.sources[0].status == "ok"
    with sqlite3.connect(db) as conn:
        for capture_id, body in conn.execute(
                "select c.id, b.compressed from captures c join bodies b "
                "on b.sha256 = c.request_sha256 where c.method = 'POST'").fetchall():
            variables = json.loads(zlib.decompress(body))["variables"]
            old_url = graphql_url(variables["podcastId"], variables["offset"])
            conn.execute("update captures set method = NULL, request_sha256 = NULL, "
                         "request_headers = NULL, url = ? where id = ?", [old_url, capture_id])
    report = reparse(db).sources[0]
    assert report.status == "ok", report.error
    assert report.listed == TOTAL
