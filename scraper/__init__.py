"""scraper: multi-platform podcast listing scraper and archive."""

__version__ = "0.1.0"
