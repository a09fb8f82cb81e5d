"""Structured data: extruct's own samples give the same JSON-LD, OpenGraph and microdata items;
handwritten edge cases (broken JSON-LD beside a good one, itemref, relative URLs)."""

import json
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

import scraper
from scraper.parse.html import parse_html
from scraper.parse.metadata import json_ld, meta_pairs
from scraper.parse.microdata import microdata
from scraper.parse.simhash import distance, simhash

CORPUS = Path(scraper.__file__).parents[1].parent / "shared/corpora/structured-extruct"
CASES = json.loads((CORPUS / "manifest.json").read_text())["cases"] if CORPUS.exists() else []


def _norm(value: object) -> object:
    """Order-insensitive, whitespace-collapsed, scalars as one-item lists (extruct's strict)."""
    if isinstance(value, dict):
        return tuple(
            sorted((k, _norm(v if isinstance(v, list) else [v])) for k, v in value.items())
        )
    if isinstance(value, list):
        return tuple(sorted((_norm(v) for v in value), key=repr))
    return "".join(str(value).split()) if isinstance(value, str) else value


def _tree(case: dict[str, object]) -> LexborHTMLParser:
    return LexborHTMLParser((CORPUS / str(case["html"])).read_bytes())


def _expected(case: dict[str, object], key: str) -> object:
    value = json.loads((CORPUS / str(case["expected"])).read_text())
    return value[key] if case["syntax"] == "all" else value


@pytest.mark.parametrize(
    "case", [c for c in CASES if c["syntax"] in ("json-ld", "all")], ids=lambda c: c["id"]
)
def test_json_ld_matches_extruct(case: dict[str, object]) -> None:
    """Every JSON-LD sample gives extruct's items."""
    expected = _expected(case, "json-ld")
    if case["form"] == "raw-legacy-items":
        assert isinstance(expected, dict)
        expected = [i for v in expected["items"] for i in (v if isinstance(v, list) else [v])]
    assert _norm(json_ld(_tree(case))) == _norm(expected)


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c["syntax"] in ("microdata", "all") and c["form"] != "uniform"],
    ids=lambda c: c["id"],
)
def test_microdata_matches_extruct(case: dict[str, object]) -> None:
    """Every raw microdata sample gives extruct's top-level items."""
    base = str(case["base_url"] or "")
    assert _norm(microdata(_tree(case), base)) == _norm(_expected(case, "microdata"))


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c["syntax"] in ("opengraph", "all") and c["form"] != "uniform"],
    ids=lambda c: c["id"],
)
def test_opengraph_matches_extruct(case: dict[str, object]) -> None:
    """Every raw OpenGraph sample gives extruct's (property, content) pairs."""
    expected = _expected(case, "opengraph")
    assert isinstance(expected, list)
    pairs = [p for head in expected for p in head["properties"]]
    assert _norm(meta_pairs(_tree(case))[0]) == _norm(pairs)


def test_broken_json_ld_beside_a_good_one() -> None:
    """An unreadable script is skipped; a commented one with a trailing comma is read."""
    html = """<script type="application/ld+json">{"@type": oops</script>
    <script type="application/ld+json">// a comment
    [{"@type": "Product", "name": "A\tB",}, {}]</script>"""
    assert json_ld(LexborHTMLParser(html)) == [{"@type": "Product", "name": "A\tB"}]


def test_itemref_and_relative_urls() -> None:
    """itemref pulls a property from elsewhere; an img src is made absolute."""
    html = """<div itemscope itemtype="http://schema.org/Product" itemref="x">
    <img itemprop="image" src="/a.png"><span itemprop="name">Lamp</span></div>
    <p id="x" itemprop="color">red</p>"""
    items = microdata(LexborHTMLParser(html), "https://shop.example/p/1")
    assert items == [
        {
            "type": "http://schema.org/Product",
            "properties": {"image": "https://shop.example/a.png", "name": "Lamp", "color": "red"},
        }
    ]


def test_page_metadata_columns() -> None:
    """parse_html fills canonical, lang, dates, author and a simhash."""
    html = b"""<html lang="en-GB"><head><link rel="canonical" href="/story">
    <meta property="article:published_time" content="2026-01-02T10:00:00+01:00">
    <script type="application/ld+json">{"@type":"NewsArticle","author":{"name":"Ann Lee"}}
    </script></head><body><p>The river rose overnight and the bridge closed.</p></body></html>"""
    meta = parse_html(html, "https://news.example/story?utm=1", None).metadata
    assert meta is not None
    assert meta.canonical_url == "https://news.example/story"
    assert (meta.lang, meta.author) == ("en-gb", "Ann Lee")
    assert meta.published_at == "2026-01-02T09:00:00Z"
    assert meta.simhash != 0


def test_simhash_near_texts_are_close() -> None:
    """One changed word moves a few bits; an unrelated text is far."""
    words = " ".join(f"word{i}" for i in range(300))
    assert distance(simhash(words), simhash(words.replace("word7 ", "other "))) <= 3
    assert distance(simhash(words), simhash("completely different text about cats")) > 10


def test_short_texts_get_distinct_simhashes() -> None:
    """A text of a few words (too few for the word sample) still gets its own simhash."""
    assert simhash("hello") != 0
    assert distance(simhash("Page not found"), simhash("Welcome to our shop")) > 10


def test_lang_from_content_language_when_html_has_none() -> None:
    """Without <html lang>, the first language of Content-Language is the page's; html wins."""
    body = b"<html><body><p>Der Fluss stieg und die Bruecke wurde gesperrt.</p></body></html>"
    page = parse_html(body, "https://x.example/", None, content_language="de-DE, en")
    assert page.metadata is not None
    assert page.metadata.lang == "de-de"
    declared = parse_html(b"<html lang=fr>" + body[6:], "https://x.example/", None,
                          content_language="de")  # fmt: skip
    assert declared.metadata is not None
    assert declared.metadata.lang == "fr"
