"""The frontier's in-memory parts: the recent-URL fingerprints and the link filter."""

from scraper.frontier import LinkFilter, RecentUrls
from scraper.models import Scope


def test_recent_urls_knows_a_url_it_has_seen():
    """The first add of a URL is True, the next ones False; other URLs are not confused with it."""
    recent = RecentUrls(bits=16)
    urls = [f"http://example.com/p/{i}" for i in range(5_000)]
    assert all(recent.add(url) for url in urls[:100])
    assert not any(recent.add(url) for url in urls[:100])
    assert sum(recent.add(url) for url in urls) == 4_900


def test_recent_urls_forgets_within_a_fixed_size():
    """Past its table's size old URLs are forgotten (seen as new again), never memory grown."""
    recent = RecentUrls(bits=10)
    urls = [f"http://example.com/{i}" for i in range(20_000)]
    for url in urls:
        recent.add(url)
    forgotten = sum(recent.add(url) for url in urls[:1_000])
    assert forgotten > 900  # 1,024 slots, 20,000 URLs since: nearly all overwritten
    assert len(recent._table) == 1024


def test_link_filter_admits_each_in_scope_url_once():
    """Links met again on later pages are not admitted twice; out-of-scope ones never."""
    links = LinkFilter(["example.com"], Scope.HOST, [], [r"/private/"], max_depth=3)
    page = ["http://example.com/a", "http://other.org/x", "http://example.com/private/1"]
    assert links.admit(page, 0) == (("http://example.com/a", "example.com"),)
    assert links.admit([*page, "http://example.com/b"], 1) == (
        ("http://example.com/b", "example.com"),
    )
    assert links.admit(["http://example.com/c"], 3) == ()  # depth 4 is past max_depth
