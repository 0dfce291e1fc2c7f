"""Benchmarks for scraper: `python -m bench [--quick] [--only NAME]` (see bench/RESULTS.md).

Every figure is compared with its baseline measured in the same run, on the same machine.
"""
