"""`[fetch]` and `[browser]` are checked against the dataclasses they configure."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from scraper.errors import ConfigError
from scraper.settings import check_table, settings_fields


@dataclass
class Options:
    timeout: float = 1.0
    retries: int = 3
    obey: bool = True
    agent: str | None = None
    names: list[str] = field(default_factory=list)


def test_known_settings_of_the_right_type_pass() -> None:
    table = {"timeout": 2, "retries": 0, "obey": False, "agent": "x", "names": ["a"]}
    assert check_table(table, Options, "fetch") == table
    assert Options(**check_table(table, Options, "fetch")).timeout == 2
    assert check_table(None, Options, "fetch") == {}


@pytest.mark.parametrize(("table", "message"), [
    ({"timout": 2.0}, "[fetch] unknown setting 'timout' (known: timeout, retries, obey, "
                      "agent, names)"),
    ({"timeout": "2"}, "[fetch] timeout must be float, got '2'"),
    ({"timeout": True}, "[fetch] timeout must be float, got True"),
    ({"retries": 1.5}, "[fetch] retries must be int, got 1.5"),
    ({"obey": 1}, "[fetch] obey must be bool, got 1"),
    ({"agent": 3}, "[fetch] agent must be str (or leave it out), got 3"),
    ({"names": "a"}, "[fetch] names must be list, got 'a'"),
])
def test_a_wrong_setting_is_one_clear_config_error(table, message) -> None:
    with pytest.raises(ConfigError) as error:
        check_table(table, Options, "fetch")
    assert str(error.value) == message


def test_a_table_that_is_not_a_table() -> None:
    with pytest.raises(ConfigError, match=r"\[browser\] must be a table"):
        check_table("chromium", Options, "browser")


def test_fields_are_the_dataclass_init_fields() -> None:
    assert list(settings_fields(Options)) == ["timeout", "retries", "obey", "agent", "names"]
