"""scraper.parse.sitemap: sitemaps.org XML, gzip and text sitemaps, plus hostile input."""

import gzip
import time
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scraper.parse.sitemap import Sitemap, looks_like_sitemap, parse_sitemap

BASE = "https://www.example.com/sitemap.xml"

URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"
        xmlns:xhtml="http://www.w3.org/1999/xhtml">
  <url>
    <loc>https://www.example.com/</loc>
    <lastmod>2024-05-01</lastmod>
    <changefreq>daily</changefreq>
    <priority>1.0</priority>
  </url>
  <url>
    <loc>
      https://www.example.com/catalog?item=12&amp;desc=vacation_hawaii
    </loc>
    <image:image><image:loc>https://cdn.example.com/hawaii.jpg</image:loc></image:image>
    <xhtml:link rel="alternate" hreflang="de" href="https://www.example.com/de/catalog"/>
  </url>
  <url><loc><![CDATA[https://www.example.com/search?q=a&b=c]]></loc></url>
  <url><loc>https://WWW.EXAMPLE.COM:443/./about/../about#team</loc></url>
  <url><loc>https://www.example.com/</loc></url>
  <url><loc>https://www.example.com/caf&#233;?x=&lt;1&gt;&quot;&apos;</loc></url>
  <url><loc>/relative/page</loc></url>
  <url><loc>javascript:alert(1)</loc></url>
  <url><loc>mailto:someone@example.com</loc></url>
  <url><loc>http://[::1/</loc></url>
  <url><loc></loc></url>
  <url><loc>   </loc></url>
</urlset>
"""

URLSET_URLS = (
    "https://www.example.com/",
    "https://www.example.com/catalog?item=12&desc=vacation_hawaii",
    "https://www.example.com/search?q=a&b=c",
    "https://www.example.com/about",
    "https://www.example.com/caf%C3%A9?x=%3C1%3E%22'",
    "https://www.example.com/relative/page",
)

SITEMAP_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
   <sitemap>
      <loc>https://www.example.com/sitemap1.xml.gz</loc>
      <lastmod>2004-10-01T18:23:17+00:00</lastmod>
   </sitemap>
   <sitemap>
      <loc>https://www.example.com/sitemap2.xml.gz</loc>
   </sitemap>
   <sitemap><loc>sitemap3.xml</loc></sitemap>
</sitemapindex>
"""

TEXT_SITEMAP = b"""\xef\xbb\xbfhttps://www.example.com/a
https://www.example.com/b\r
   http://www.example.com/c\t

not a url
https://www.example.com/with space
ftp://www.example.com/file
HTTPS://www.example.com/a
https://www.example.com/d
"""


def test_urlset():
    """A urlset gives its <loc> page URLs decoded, resolved, normalized and deduplicated."""
    assert parse_sitemap(URLSET, BASE) == Sitemap(urls=URLSET_URLS, sitemaps=())


def test_sitemap_index():
    """A sitemapindex gives child sitemap URLs and no page URLs."""
    assert parse_sitemap(SITEMAP_INDEX, BASE) == Sitemap(
        urls=(),
        sitemaps=(
            "https://www.example.com/sitemap1.xml.gz",
            "https://www.example.com/sitemap2.xml.gz",
            "https://www.example.com/sitemap3.xml",
        ),
    )


@pytest.mark.parametrize("url", [BASE + ".gz", BASE, "https://www.example.com/download?id=7"])
def test_gzip_is_detected_by_magic_bytes(url: str):
    """A gzip-compressed sitemap is inflated whatever its URL says."""
    assert parse_sitemap(gzip.compress(URLSET), url).urls == URLSET_URLS
    assert looks_like_sitemap(url, "application/octet-stream", gzip.compress(SITEMAP_INDEX))


def test_text_sitemap():
    """A text sitemap gives the lines that are one http(s) URL each, normalized, once."""
    assert parse_sitemap(TEXT_SITEMAP, "https://www.example.com/sitemap.txt").urls == (
        "https://www.example.com/a",
        "https://www.example.com/b",
        "http://www.example.com/c",
        "https://www.example.com/d",
    )


def test_gzipped_text_sitemap():
    """A gzip-compressed text sitemap is read like a plain one."""
    body = gzip.compress(b"https://www.example.com/a\nhttps://www.example.com/b\n")
    url = "https://www.example.com/sitemap.txt.gz"
    assert parse_sitemap(body, url).urls == (
        "https://www.example.com/a",
        "https://www.example.com/b",
    )


def test_namespace_prefixed_sitemap():
    """A prefixed root (<sm:urlset>) has prefixed <sm:loc>; other prefixes' locs are not pages."""
    body = b"""<?xml version="1.0"?>
<sm:urlset xmlns:sm="http://www.sitemaps.org/schemas/sitemap/0.9"
           xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <sm:url><sm:loc>https://www.example.com/p1</sm:loc>
    <image:image><image:loc>https://www.example.com/i.png</image:loc></image:image></sm:url>
  <sm:url><sm:loc >https://www.example.com/p2</sm:loc ></sm:url>
</sm:urlset>"""
    assert parse_sitemap(body, BASE).urls == (
        "https://www.example.com/p1",
        "https://www.example.com/p2",
    )


def test_max_urls_caps_the_result():
    """Only the first max_urls distinct valid URLs are kept."""
    locs = b"".join(b"<url><loc>https://e.com/p%d</loc></url>" % (i % 50) for i in range(500))
    result = parse_sitemap(b"<urlset>" + locs + b"</urlset>", "https://e.com/s.xml", max_urls=7)
    assert result.urls == tuple(f"https://e.com/p{i}" for i in range(7))
    assert parse_sitemap(URLSET, BASE, max_urls=0) == Sitemap(urls=(), sitemaps=())


def test_max_bytes_cuts_a_plain_document():
    """A plain document is read only up to max_bytes: a <loc> cut there is dropped."""
    body = b"<urlset><url><loc>https://e.com/a</loc></url><url><loc>https://e.com/b</loc></url>"
    result = parse_sitemap(body, "https://e.com/s.xml", max_bytes=body.index(b"/b<") + 1)
    assert result.urls == ("https://e.com/a",)


def test_gzip_bomb_stops_at_max_bytes():
    """10 MB of zeros gzipped to ~10 KB inflate only to max_bytes, fast, in bounded memory."""
    bomb = gzip.compress(b"\0" * 10_000_000, compresslevel=9)
    assert len(bomb) < 20_000
    tracemalloc.start()
    try:
        started = time.perf_counter()
        result = parse_sitemap(bomb, BASE, max_bytes=1_000_000)
        elapsed_s = time.perf_counter() - started
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result == Sitemap(urls=(), sitemaps=())
    assert 0 <= elapsed_s < 2
    assert peak_bytes < 4_000_000


def test_gzip_bomb_of_urls_keeps_what_fits():
    """A gzip sitemap inflating past max_bytes keeps the URLs that are whole within max_bytes."""
    locs = b"".join(b"<url><loc>https://e.com/p%d</loc></url>\n" % i for i in range(100_000))
    body = gzip.compress(b"<urlset>" + locs + b"</urlset>")
    result = parse_sitemap(body, "https://e.com/s.xml", max_bytes=40_000)
    assert 900 < len(result.urls) < 1100
    assert result.urls[0] == "https://e.com/p0"


def test_truncated_and_corrupt_gzip_keep_what_inflated():
    """A cut or damaged gzip stream yields the URLs inflated before the damage, without raising."""
    locs = b"".join(b"<url><loc>https://e.com/p%d</loc></url>\n" % i for i in range(50_000))
    body = gzip.compress(b"<urlset>" + locs + b"</urlset>")
    cut = parse_sitemap(body[: len(body) // 2], "https://e.com/s.xml")
    assert 0 < len(cut.urls) < 50_000
    damaged = body[: len(body) // 2] + b"\xff" * 1000 + body[len(body) // 2 :]
    assert len(parse_sitemap(damaged, "https://e.com/s.xml").urls) < 50_000
    assert parse_sitemap(b"\x1f\x8b", BASE) == Sitemap(urls=(), sitemaps=())


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00" * 10_000,
        bytes(range(256)) * 100,
        b"\x1f\x8b\x08\x00garbage" * 100,
        b"<!DOCTYPE html><html><body><a href='https://e.com/x'>x</a></body></html>",
        b"<rss><channel><item><link>https://e.com/x</link></item></channel></rss>",
        b"<urlset>" + b"<loc>" * 200_000,
        b"<urlset>" + b"<loc><![CDATA[" * 100_000,
        b"<urlset>" + b"<loc " * 200_000,
        b"<urlset><url><loc>https://e.com/&bogus;&#99999999;&#xD800;</loc></url></urlset>",
        b"<urlset><url><loc>https://e.com/\xff\xfe</loc></url></urlset>",
    ],
)
def test_garbage_never_raises(body: bytes):
    """Binary, HTML, unclosed and malformed documents give a (possibly empty) sitemap quickly."""
    started = time.perf_counter()
    result = parse_sitemap(body, BASE)
    assert time.perf_counter() - started < 2
    assert isinstance(result, Sitemap)
    assert all(url.startswith("https://") for url in result.urls)


def test_odd_characters_in_loc_are_normalized():
    """Bad entities stay literal and invalid UTF-8 becomes an escaped replacement character."""
    body = b"<urlset><url><loc>https://e.com/a&bogus;</loc></url>"
    body += b"<url><loc>https://e.com/\xff</loc></url></urlset>"
    assert parse_sitemap(body, BASE).urls == ("https://e.com/a&bogus;", "https://e.com/%EF%BF%BD")


@given(st.binary(max_size=3000))
def test_any_body_gives_a_sitemap(body: bytes):
    """No byte string makes parse_sitemap or looks_like_sitemap raise."""
    assert isinstance(parse_sitemap(body, BASE), Sitemap)
    assert isinstance(parse_sitemap(gzip.compress(body), BASE), Sitemap)
    assert isinstance(looks_like_sitemap(BASE, "application/xml", body), bool)
    assert isinstance(looks_like_sitemap(BASE, "text/plain", gzip.compress(body)), bool)


@pytest.mark.parametrize(
    ("url", "content_type", "body", "expected"),
    [
        (BASE, "application/xml", URLSET, True),
        (BASE, "text/xml; charset=utf-8", URLSET, True),
        (BASE, "Application/XML", SITEMAP_INDEX, True),
        ("https://e.com/feed?x=1", "text/xml", SITEMAP_INDEX, True),
        (BASE + ".gz", "application/x-gzip", gzip.compress(URLSET), True),
        (BASE + ".gz", "application/gzip", gzip.compress(SITEMAP_INDEX), True),
        (BASE, "", URLSET, True),
        ("https://e.com/sitemap.txt", "text/plain", TEXT_SITEMAP, False),
        ("https://e.com/sitemap.txt", "text/plain", b"https://e.com/a\nhttps://e.com/b\n", True),
        ("https://e.com/urls.txt", "text/plain; charset=utf-8", b"https://e.com/a\n", True),
        ("https://e.com/Sitemap-1", "text/plain", b"\xef\xbb\xbfhttps://e.com/a\r\n", True),
        ("https://e.com/robots.txt", "text/plain", b"User-agent: *\nDisallow: /\n", False),
        ("https://e.com/notes.md", "text/plain", b"https://e.com/a\n", False),
        ("https://e.com/sitemap.txt", "text/plain", b"", False),
        ("https://e.com/sitemap.html", "text/html", URLSET, False),
        (BASE, "application/xhtml+xml", URLSET, False),
        (BASE, "application/xml", b"<!DOCTYPE html><html><body>urlset</body></html>", False),
        (BASE, "text/xml", b"<html><body><pre>&lt;urlset&gt;</pre><urlset></body></html>", False),
        (BASE, "application/xml", b"<rss version='2.0'><channel></channel></rss>", False),
        (BASE, "application/json", b'{"urlset": "<urlset>"}', False),
        (BASE, "image/png", b"\x89PNG\r\n\x1a\n", False),
        (BASE, "application/gzip", gzip.compress(b"<html><body>hi</body></html>"), False),
        (BASE, "application/xml", b"\x00\xff" * 1000, False),
    ],
)
def test_looks_like_sitemap(url: str, content_type: str, body: bytes, expected: bool):
    """Sitemaps are recognised by media type and body; HTML and other documents are not."""
    assert looks_like_sitemap(url, content_type, body) is expected


def test_looks_like_sitemap_sees_a_root_after_a_long_prolog_only_within_2_kb():
    """The <urlset> root is looked for in the first 2 KB only (a comment can push it out)."""
    prolog = b'<?xml version="1.0"?>\n<!-- ' + b"x" * 3000 + b" -->\n"
    assert not looks_like_sitemap(BASE, "application/xml", prolog + URLSET)
    assert looks_like_sitemap(BASE, "application/xml", prolog[:1000] + b" -->\n" + URLSET)
    assert parse_sitemap(prolog + URLSET, BASE).urls == URLSET_URLS
