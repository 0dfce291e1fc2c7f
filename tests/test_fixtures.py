"""Every recorded page parses to its expected JSON (or raises its expected error), through
the same path a sync uses."""

from __future__ import annotations

import json

import pytest

import adapters
from scraper import errors
from scraper.fixtures import load_cases
from scraper.parsing import parse_capture

CASES = load_cases()


def test_every_platform_has_recorded_cases():
    platforms = {case.platform for case in CASES}
    missing = set(adapters.names()) - platforms
    assert not missing, f"platforms without fixtures: {sorted(missing)}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.platform}/{c.name}")
def test_fixture_parses_as_expected(case):
    adapter = adapters.get(case.platform)
    assert adapter.suitable(case.url) or case.platform == "rss", f"{case.url} not detected"
    if case.error:
        error_type = getattr(errors, case.error["type"])
        with pytest.raises(error_type, match=case.error.get("match", "")):
            parse_capture(adapter, case.capture())
        return
    got = parse_capture(adapter, case.capture()).to_json()
    expected = case.expected_json()
    assert expected is not None, f"{case.name}: no expected parse"
    # Compare as JSON text per episode first so a failure names the episode that differs.
    assert got["show"] == expected["show"]
    assert [e["id"] for e in got["episodes"]] == [e["id"] for e in expected["episodes"]]
    for mine, theirs in zip(got["episodes"], expected["episodes"], strict=True):
        assert json.dumps(mine, sort_keys=True, indent=1) == json.dumps(
            theirs, sort_keys=True, indent=1
        )
    assert got == expected
