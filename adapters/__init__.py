"""The adapter registry.

Every module in this package except `base` defines one platform adapter as `ADAPTER` (a
subclass of `adapters.base.Adapter`). Third parties add adapters through the entry point
group `scraper.adapters`, whose values point at an Adapter subclass. Adding a platform means
adding one module here (plus its fixtures), nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from importlib.metadata import entry_points

from adapters.base import Adapter
from scraper.errors import ConfigError

ENTRY_POINT_GROUP = "scraper.adapters"
# Detection order: platform-specific adapters first, the generic feed adapter last.
_LAST = ("rss",)


@cache
def _registry() -> dict[str, type[Adapter]]:
    found: dict[str, type[Adapter]] = {}
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name.startswith("_") or module_info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        adapter = getattr(module, "ADAPTER", None)
        if adapter is None:
            raise ImportError(f"adapters.{module_info.name} defines no ADAPTER")
        found[adapter.name] = adapter
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        adapter = entry.load()
        if not (isinstance(adapter, type) and issubclass(adapter, Adapter)):
            raise ImportError(f"entry point {entry.name!r} is not an Adapter subclass")
        found.setdefault(adapter.name, adapter)
    ordered = sorted(found, key=lambda name: (name in _LAST, name))
    return {name: found[name] for name in ordered}


def names() -> list[str]:
    return list(_registry())


def get(name: str) -> Adapter:
    try:
        return _registry()[name]()
    except KeyError:
        known = ", ".join(names())
        raise ConfigError(f"unknown platform {name!r} (known: {known})") from None


def detect(url: str) -> Adapter | None:
    """The adapter whose URL patterns match, or None."""
    for adapter in _registry().values():
        if adapter.suitable(url):
            return adapter()
    return None


def for_source(url: str, platform: str | None) -> Adapter:
    if platform:
        return get(platform)
    adapter = detect(url)
    if adapter is None:
        raise ConfigError(
            f"no platform recognises {url}; give one with platform = \"...\" "
            f"(known: {', '.join(names())})"
        )
    return adapter
