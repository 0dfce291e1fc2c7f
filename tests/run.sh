#!/usr/bin/env bash
# Every test, from a fresh clone: installs the one system part the tests need (Debian's
# Chromium, for the browser tests; never `playwright install`), then lint, types and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

chromium="${SCRAPER_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's chromium for the browser tests" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y chromium >/dev/null || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }
  else
    echo "the browser tests need Chromium: run 'sudo apt-get install -y chromium'" \
         "or set SCRAPER_CHROMIUM to a Chromium binary" >&2
    exit 1
  fi
fi

ruff check .
mypy  # the modules and settings in pyproject.toml's [tool.mypy]
python -m pytest -q "$@"
