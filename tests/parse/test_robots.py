"""scraper.parse.robots on real-world robots.txt files, RFC 9309 status rules, hostile bodies."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scraper.parse.robots import MAX_ROBOTS_BYTES, RobotsPolicy, product_token

UA = "scraper/0.1.0 (polite crawler; respects robots.txt)"
SITE = "https://www.example.com"


def policy(text: str | bytes, user_agent: str = UA) -> RobotsPolicy:
    body = text.encode() if isinstance(text, str) else text
    return RobotsPolicy.from_response(200, body, user_agent)


GOOGLE_STYLE = """\
# robots.txt for www.example.com
User-agent: Googlebot
User-agent: Bingbot
Disallow: /nogoogle/

User-agent: *
Disallow: /private/
Disallow: /tmp # temporary files
Allow: /private/press/
Disallow: /*.php$
Disallow: /search?
Disallow: /*/edit
Disallow: /%7Ejoe/
Disallow: /café
Allow: /$

Sitemap: https://www.example.com/sitemap.xml
"""

OWN_GROUP = """\
User-agent: *
Disallow: /

User-agent: Scraper
Disallow: /admin
Allow: /admin/public
Crawl-delay: 3
"""

LONGEST_MATCH = """\
User-agent: *
Allow: /p
Disallow: /
Allow: /folder
Disallow: /folder
Allow: /page
Disallow: /*.htm
Allow: /$
"""

CASES = [
    # Google-style groups: the "*" group applies to us, the crawler-specific one does not.
    (GOOGLE_STYLE, "/nogoogle/page", True),
    (GOOGLE_STYLE, "/", True),
    (GOOGLE_STYLE, "/about", True),
    (GOOGLE_STYLE, "/private/", False),
    (GOOGLE_STYLE, "/private/x.html", False),
    (GOOGLE_STYLE, "/private/press/2024.html", True),
    (GOOGLE_STYLE, "/tmp", False),
    (GOOGLE_STYLE, "/tmp/a", False),
    (GOOGLE_STYLE, "/tmpl", False),
    (GOOGLE_STYLE, "/index.php", False),
    (GOOGLE_STYLE, "/index.php?id=1", True),
    (GOOGLE_STYLE, "/index.php5", True),
    (GOOGLE_STYLE, "/search?q=x", False),
    (GOOGLE_STYLE, "/search", True),
    (GOOGLE_STYLE, "/docs/edit", False),
    (GOOGLE_STYLE, "/docs/a/edit/b", False),
    (GOOGLE_STYLE, "/edit", True),
    (GOOGLE_STYLE, "/~joe/home", False),
    (GOOGLE_STYLE, "/caf%C3%A9/menu", False),
    (GOOGLE_STYLE, "/robots.txt", True),
    # A group for our product token replaces "*" entirely.
    (OWN_GROUP, "/", True),
    (OWN_GROUP, "/page", True),
    (OWN_GROUP, "/admin", False),
    (OWN_GROUP, "/admin/users", False),
    (OWN_GROUP, "/admin/public/a", True),
    # Longest match wins, Allow wins a tie (RFC 9309 2.2.2 and Google's examples).
    (LONGEST_MATCH, "/page", True),
    (LONGEST_MATCH, "/folder/a", True),
    (LONGEST_MATCH, "/page.htm", False),
    (LONGEST_MATCH, "/", True),
    (LONGEST_MATCH, "/other", False),
    (LONGEST_MATCH, "/robots.txt", True),
    # Empty Disallow allows all; a file of comments and blanks has no rules.
    ("User-agent: *\nDisallow:\n", "/anything", True),
    ("# nothing here\n\n   \n", "/anything", True),
    ("", "/anything", True),
    # Disallow everything, except robots.txt itself (RFC 9309 2.2.2).
    ("User-agent: *\nDisallow: /\n", "/", False),
    ("User-agent: *\nDisallow: /\n", "/a?b=c", False),
    ("User-agent: *\nDisallow: /\n", "/robots.txt", True),
    # CRLF, bare CR and a UTF-8 BOM.
    ("\ufeffUser-agent: *\r\nDisallow: /private\r\n", "/private/a", False),
    ("\ufeffUser-agent: *\r\nDisallow: /private\r\n", "/public", True),
    ("User-agent: *\rDisallow: /private\r", "/private", False),
    # Rules before any User-agent line belong to no group.
    ("Disallow: /\nUser-agent: *\nDisallow: /x\n", "/y", True),
    # Query strings are part of what rules match.
    ("User-agent: *\nDisallow: /*?sessionid=\n", "/a?sessionid=1", False),
    ("User-agent: *\nDisallow: /*?sessionid=\n", "/a?page=1", True),
]


@pytest.mark.parametrize(("robots", "path", "allowed"), CASES)
def test_rules_table(robots: str, path: str, allowed: bool):
    """Each URL of the table is allowed or not as RFC 9309 and Google's examples say."""
    assert policy(robots).allows(SITE + path) is allowed


@pytest.mark.parametrize(
    ("robots", "allowed"),
    [
        ("User-agent: scraper\nDisallow: /\n", False),
        ("User-agent: SCRAPER\nDisallow: /\n", False),
        ("User-agent: googlebot\nUser-agent: scraper\nDisallow: /\n", False),
        ("User-agent: scraperbot\nDisallow: /\n", True),
        ("User-agent: myscraper\nDisallow: /\n", True),
        ("User-agent: crawler\nDisallow: /\n", True),
        ("User-agent: robots\nDisallow: /\n", True),
        ("User-agent: polite\nDisallow: /\n", True),
        ("User-agent: *\nDisallow: /\n\nUser-agent: scraper\nAllow: /\n", True),
        ("User-agent: scraper\nAllow: /\n\nUser-agent: *\nDisallow: /\n", True),
    ],
)
def test_groups_match_the_product_token_only(robots: str, allowed: bool):
    """Groups match "scraper" case-insensitively, not other words of our User-Agent header."""
    assert policy(robots).allows(SITE + "/page") is allowed


def test_groups_for_the_same_agent_are_merged():
    """Two groups naming our product token are combined into one (RFC 9309 2.2.1)."""
    robots = "User-agent: scraper\nDisallow: /a\n\nUser-agent: *\nDisallow: /\n\n"
    robots += "User-agent: scraper\nDisallow: /b\n"
    rules = policy(robots)
    assert not rules.allows(SITE + "/a")
    assert not rules.allows(SITE + "/b")
    assert rules.allows(SITE + "/c")


@pytest.mark.parametrize(
    ("user_agent", "token"),
    [
        (UA, "scraper"),
        ("Scraper/2.0", "scraper"),
        ("scraper", "scraper"),
        ("  scraper (no version)", "scraper"),
        ("", ""),
    ],
)
def test_product_token(user_agent: str, token: str):
    """The product token is the User-Agent up to the first "/" or space, lower-cased."""
    assert product_token(user_agent) == token


@pytest.mark.parametrize(
    ("robots", "delay_s"),
    [
        ("User-agent: *\nCrawl-delay: 2\n", 2.0),
        ("User-agent: *\nCrawl-delay: 0.5\n", 0.5),
        ("User-agent: *\nCrawl-delay: 0\n", 0.0),
        ("User-agent: *\nCrawl-delay: soon\n", None),
        ("User-agent: *\nCrawl-delay: -3\n", None),
        ("User-agent: *\nCrawl-delay: nan\n", None),
        ("User-agent: *\nCrawl-delay: 1e999\n", None),
        ("User-agent: *\nDisallow: /x\n", None),
        ("User-agent: *\nRequest-rate: 1/10\n", 10.0),
        ("User-agent: *\nRequest-rate: 6/1m\n", 10.0),
        ("User-agent: *\nRequest-rate: 0/10\n", None),
        ("User-agent: *\nCrawl-delay: 5\nRequest-rate: 1/10s\n", 10.0),
        ("User-agent: *\nCrawl-delay: 5\nRequest-rate: 10/10s\n", 5.0),
        ("User-agent: *\nCrawl-delay: 9\n\nUser-agent: scraper\nCrawl-delay: 1\n", 1.0),
        ("User-agent: *\nCrawl-delay: 9\n\nUser-agent: scraper\nDisallow: /x\n", None),
        ("User-agent: googlebot\nCrawl-delay: 9\n", None),
        (OWN_GROUP, 3.0),
    ],
)
def test_crawl_delay(robots: str, delay_s: float | None):
    """Crawl-delay and Request-rate of the matched group give the larger delay; junk gives None."""
    assert policy(robots).crawl_delay_s == delay_s


def test_sitemap_lines():
    """Sitemap URLs anywhere in the file are normalized and kept once; relative or bad ones not."""
    robots = """\
Sitemap: https://WWW.Example.com:443/sitemap.xml
User-agent: *
Disallow: /private
Sitemap: /relative-sitemap.xml
Sitemap: sitemap2.xml
Sitemap: ftp://www.example.com/sitemap.xml
Sitemap: https://www.example.com/sitemap.xml
Sitemap:
Sitemap: http://cdn.example.net/news/sitemap.xml.gz # on another host
sitemap:https://www.example.com/sitemap-index.xml
"""
    assert policy(robots).sitemaps == (
        "https://www.example.com/sitemap.xml",
        "http://cdn.example.net/news/sitemap.xml.gz",
        "https://www.example.com/sitemap-index.xml",
    )


@pytest.mark.parametrize(
    ("status", "allows_page", "unreachable"),
    [
        (200, False, False),
        (204, False, False),
        (301, True, False),
        (304, True, False),
        (400, True, False),
        (401, True, False),
        (403, True, False),
        (404, True, False),
        (410, True, False),
        (429, False, True),
        (500, False, True),
        (503, False, True),
        (None, False, True),
        (199, False, True),
        (600, False, True),
    ],
)
def test_status_semantics(status: int | None, allows_page: bool, unreachable: bool):
    """2xx is parsed, 3xx/4xx allow all, 5xx/429/no response disallow all (RFC 9309 2.3.1)."""
    rules = RobotsPolicy.from_response(status, b"User-agent: *\nDisallow: /\n", UA)
    assert rules.allows(SITE + "/page") is allows_page
    assert rules.unreachable is unreachable
    assert rules.allows(SITE + "/robots.txt")
    assert rules.crawl_delay_s is None or status == 200


def test_unreachable_allows_only_robots_txt():
    """An unreachable robots.txt blocks every URL but /robots.txt itself, query or not."""
    rules = RobotsPolicy.from_response(None, b"", UA)
    assert not rules.allows("http://example.com/")
    assert not rules.allows("http://example.com/robots.txt/x")
    assert not rules.allows("http://example.com/a/robots.txt")
    assert rules.allows("http://example.com:8080/robots.txt")
    assert rules.allows("http://example.com/robots.txt?x=1")
    assert rules.sitemaps == ()


def test_allow_all():
    """allow_all allows everything and has no delay, no sitemaps and is reachable."""
    rules = RobotsPolicy.allow_all()
    assert rules.allows(SITE + "/private/x?y=1")
    assert (rules.crawl_delay_s, rules.sitemaps, rules.unreachable) == (None, (), False)


def test_only_the_first_500_kib_are_read():
    """A rule after the first 500 KiB is ignored, and a rule cut by the limit is dropped."""
    head = b"User-agent: *\nDisallow: /early\n"
    padding = b"# " + b"x" * (MAX_ROBOTS_BYTES - len(head) - 20) + b"\n"
    cut = b"Disallow: /abcdefghijklmnop\n"  # the limit falls after "/abcdef"
    assert len(head + padding) < MAX_ROBOTS_BYTES < len(head + padding + cut)
    rules = policy(head + padding + cut + b"Disallow: /late\n")
    assert not rules.allows(SITE + "/early")
    assert rules.allows(SITE + "/abcdefz")
    assert rules.allows(SITE + "/late")


@pytest.mark.parametrize(
    "body",
    [
        b"\x00" * 1000,
        bytes(range(256)) * 40,
        b"\xff\xfe\x00U\x00s\x00e\x00r",
        b"User-agent: *\x00\nDisallow: /\xff\xfe\n",
        b"<!DOCTYPE html><html><body><p>Disallow: not a robots file</p></body></html>",
        b"\x1f\x8b\x08\x00" + b"\x00" * 100,
        b"User-agent: *\n" + b"Disallow: /" + b"a" * 1_000_000 + b"\n",
        b"User-agent: *\nCrawl-delay: " + b"9" * 10_000 + b"\nRequest-rate: 1/" + b"9" * 5000,
        b"User-agent: *\nAllow: %\nDisallow: %zz%\nDisallow: /%C3%28\n",
    ],
)
def test_garbage_never_raises(body: bytes):
    """Binary, HTML, huge and malformed bodies give a policy that answers without raising."""
    rules = policy(body)
    assert isinstance(rules.allows(SITE + "/a%C3%A9?b=%FF"), bool)
    assert rules.allows(SITE + "/robots.txt")


@given(st.binary(max_size=2000))
def test_any_body_gives_a_policy(body: bytes):
    """No byte string makes from_response or allows raise."""
    rules = policy(body)
    assert isinstance(rules.allows(SITE + "/x/y?z=1"), bool)


@given(st.text(alphabet="UuSsEeRrAaGgNnTt*:/$#?=%-. \n\r\tDdIiLlOoWwCcYyPpMmXx0123456789"))
def test_any_text_gives_a_policy(text: str):
    """robots.txt-like text, however malformed, never makes parsing or allows raise."""
    rules = policy(text)
    assert isinstance(rules.allows(SITE + "/x/y?z=1"), bool)
