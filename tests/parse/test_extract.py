"""Custom extraction ([extract] rules): CSS selectors, attributes, URL patterns, bad rules."""

import pytest

from scraper.config import load_settings
from scraper.errors import UsageError
from scraper.models import ExtractRule
from scraper.parse.extract import check_rules
from scraper.parse.html import parse_html
from tests.conftest import DEFAULT_TOML, FIXTURES


def test_default_rules_extract_quotes_from_a_quotes_page():
    """The shipped quote rules give every quote's text and author, in page order."""
    rules = load_settings(DEFAULT_TOML).extract
    body = (FIXTURES / "quotes_page.html").read_bytes()
    page = parse_html(body, "http://quotes.toscrape.com/page/1/", None, 1000, rules)
    assert page.data is not None
    assert set(page.data) == {"quote_text", "quote_author"}  # book rules do not match the URL
    assert page.data["quote_author"] == ["Albert Einstein", "J.K. Rowling", "Albert Einstein"]
    texts = page.data["quote_text"]
    assert isinstance(texts, list)
    assert texts[1] == (
        "“It is our choices, Harry, that show what we truly are, far more than our abilities.”"
    )


def test_rules_take_attributes_all_matches_or_the_first():
    """attr takes an attribute, all=true a list, otherwise the first match or null."""
    rules = (
        ExtractRule("titles", "article.product_pod h3 a", attr="title", all=True),
        ExtractRule("first_price", "p.price_color"),
        ExtractRule("missing", "div.nothing-like-this"),
        ExtractRule("none_listed", "div.nothing-like-this", all=True),
    )
    body = (FIXTURES / "books_catalogue.html").read_bytes()
    page = parse_html(body, "http://books.toscrape.com/", None, 1000, rules)
    assert page.data is not None
    titles = page.data["titles"]
    assert isinstance(titles, list)
    assert titles[:2] == ["In Her Wake", "How Music Works"]
    assert len(titles) == 20
    assert page.data["first_price"] == "£12.84"
    assert page.data["missing"] is None
    assert page.data["none_listed"] == []


def test_url_attributes_are_resolved_against_the_base_url():
    """href, src, data-src, poster and action values become absolute against <base href>;
    other schemes, other attributes and srcset stay as written."""
    rules = (
        ExtractRule("hrefs", "a.doc", attr="href", all=True),
        ExtractRule("titles", "a.doc", attr="title", all=True),
        ExtractRule("src", "img.logo", attr="src"),
        ExtractRule("data_src", "img.logo", attr="data-src"),
        ExtractRule("srcset", "img.logo", attr="srcset"),
        ExtractRule("poster", "video", attr="poster"),
        ExtractRule("action", "form", attr="action"),
    )
    body = (FIXTURES / "relative_urls.html").read_bytes()
    page = parse_html(body, "https://example.com/guide/intro/page.html", None, 1000, rules)
    assert page.data == {
        "hrefs": [
            "https://example.com/docs/reference/x.html",
            "https://example.com/docs/v2/guide.html#install",
            "https://example.com/about",
            "https://other.example/page",
            "mailto:docs@example.com",
        ],
        "titles": ["Reference", "Guide", "About", "Elsewhere", "Mail"],
        "src": "https://example.com/docs/v2/img/logo.png",
        "data_src": "https://example.com/docs/v2/img/logo@2x.png",
        "srcset": "img/a.png 1x, img/b.png 2x",
        "poster": "https://example.com/docs/v2/media/poster.jpg",
        "action": "https://example.com/docs/v2/search",
    }


def test_url_attributes_without_a_base_resolve_against_the_page():
    """Without <base>, a relative href resolves against the page's own URL."""
    rule = ExtractRule("link", "a", attr="href")
    body = b'<p><a href="../reference/x.html">x</a></p>'
    page = parse_html(body, "http://example.com/guide/intro/page.html", None, 1000, (rule,))
    assert page.data == {"link": "http://example.com/guide/reference/x.html"}


def test_no_applicable_rule_leaves_data_null():
    """A page whose URL matches no rule's pattern gets no data at all."""
    rules = (ExtractRule("x", "h1", url="^https://elsewhere/"),)
    page = parse_html(b"<h1>Hi</h1>", "http://books.toscrape.com/", None, 1000, rules)
    assert page.data is None


def test_bad_selector_is_a_usage_error():
    """A CSS selector lexbor cannot parse is refused before any crawl starts."""
    with pytest.raises(UsageError, match=r"\[extract.bad\]: bad CSS selector"):
        check_rules((ExtractRule("bad", "p:::nope"),))
