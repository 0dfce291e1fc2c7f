"""Routes: send requests for a URL prefix to another base while the archive keeps the
original URL. This is how a mirror, a replay server or a test server stands in for a
platform: `"https://www.audible.in" = "http://127.0.0.1:8123/www.audible.in"`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from scraper.errors import ConfigError


class Routes:
    def __init__(self, mapping: Mapping[str, str] | Iterable[tuple[str, str]] = ()):
        pairs = mapping.items() if isinstance(mapping, Mapping) else mapping
        self._pairs: list[tuple[str, str]] = []
        for prefix, base in pairs:
            if not prefix.startswith(("http://", "https://")) or not base.startswith(
                ("http://", "https://")
            ):
                raise ConfigError(f"route {prefix!r} = {base!r}: both sides must be http(s) URLs")
            self._pairs.append((prefix.rstrip("/"), base.rstrip("/")))
        # Longest prefix wins, so a specific route beats a host-wide one.
        self._pairs.sort(key=lambda pair: len(pair[0]), reverse=True)

    @classmethod
    def parse_option(cls, values: Iterable[str]) -> list[tuple[str, str]]:
        """`--route PREFIX=REPLACEMENT` values as pairs."""
        pairs = []
        for value in values:
            prefix, sep, base = value.partition("=")
            if not sep or not prefix or not base:
                raise ConfigError(f"--route {value!r}: expected PREFIX=REPLACEMENT")
            pairs.append((prefix.strip(), base.strip()))
        return pairs

    def merged(self, extra: Iterable[tuple[str, str]]) -> Routes:
        return Routes([*self.items(), *extra])

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    @staticmethod
    def _matches(url: str, prefix: str) -> bool:
        return url == prefix or url.startswith(prefix) and url[len(prefix)] in "/?#"

    def apply(self, url: str) -> str:
        """The URL to actually request for `url`."""
        for prefix, base in self._pairs:
            if self._matches(url, prefix):
                return base + url[len(prefix):]
        return url

    def unapply(self, url: str) -> str:
        """The platform URL a routed URL stands for (for redirects and final URLs)."""
        for prefix, base in sorted(self._pairs, key=lambda p: len(p[1]), reverse=True):
            if self._matches(url, base):
                return prefix + url[len(base):]
        return url

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def __repr__(self) -> str:
        return f"Routes({self._pairs!r})"
