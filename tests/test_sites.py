"""Site patterns: which [site."PATTERN"] tables apply to a host, and in which order."""

from pathlib import Path

import pytest

from scraper.config import load_settings

TABLES = """
[site."example.com"]
delay_s = 1.0
[site."*.example.com"]
delay_s = 2.0
per_host = 2
[site."shop.example.com"]
delay_s = 3.0
[site."*.example.com:8080"]
per_host = 1
"""


@pytest.mark.parametrize(
    ("host", "delay_s", "per_host"),
    [
        ("example.com", 1.0, 4),  # *.example.com is its subdomains only
        ("example.com:8080", 1.0, 4),
        ("www.example.com", 2.0, 2),
        ("shop.example.com", 3.0, 2),  # exact beats the wildcard, which still sets per_host
        ("shop.example.com:8080", 3.0, 1),  # a port beats no port
        ("notexample.com", 0.25, 4),  # no table: the globals
    ],
)
def test_the_most_specific_pattern_wins(tmp_path: Path, host: str, delay_s: float, per_host: int):
    """Every matching table applies, the most specific last; a host without one gets the globals."""
    path = tmp_path / "sites.toml"
    path.write_text(TABLES)
    site = load_settings(path).for_host(host)
    assert (site.delay_s, site.per_host) == (delay_s, per_host)
