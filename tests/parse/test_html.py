"""scraper.parse.html on hand-written pages that look like real sites, hostile and broken input."""

import logging
import multiprocessing
import pickle
import time
from concurrent.futures import ProcessPoolExecutor

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from scraper.models import ParsedPage
from scraper.parse.html import collapse_whitespace, decode_html, parse_html
from scraper.urls import join_url
from tests.conftest import FIXTURES

BOOKS_URL = "http://books.toscrape.com/catalogue/page-2.html"
QUOTES_URL = "http://quotes.toscrape.com/"
NEWS_URL = "https://news.example.com/news/2024/bridges-rebuilt"
MESSY_URL = "http://bob.example.net/~bob/index.html"
ZOO_URL = "https://www.example.com/docs/guide/index.html?lang=en"
CAFE_URL = "http://cafe.example.fr/carte.html"

SCRIPT_AND_STYLE_MARKERS = [
    "trackPageview",
    "dataLayer",
    "JSONLD_HEADLINE_MARKER",
    "#c0ffee",
    "CSS generated text",
    "TEMPLATE_MARKER",
    "SVG_ICON_TITLE",
    "Please enable JavaScript",
    "SCRIPT_IN_BODY",
]


def parse_fixture(name: str, url: str, charset: str | None = None) -> ParsedPage:
    return parse_html((FIXTURES / name).read_bytes(), url, charset)


def test_catalogue_page_fields():
    """A books.toscrape-like catalogue page yields its title, no description and its text."""
    page = parse_fixture("books_catalogue.html", BOOKS_URL)
    assert page.title == "All products | Books to Scrape - Sandbox"
    assert page.description is None  # content=""
    assert page.text.startswith("Books to Scrape We love being scraped! Home All products Books")
    assert "In Her Wake £12.84 In stock Add to basket How Music Works £37.32" in page.text
    assert page.text.endswith("previous Page 2 of 50 next")
    assert "oscar" not in page.text
    assert "$(function" not in page.text


def test_catalogue_page_links():
    """Catalogue links resolve ("../index.html", "page-3.html"), each once, in document order."""
    page = parse_fixture("books_catalogue.html", BOOKS_URL)
    site = "http://books.toscrape.com/"
    categories = [
        "travel_2", "mystery_3", "historical-fiction_4", "sequential-art_5", "classics_6",
        "philosophy_7", "romance_8", "womens-fiction_9", "fiction_10", "childrens_11",
        "religion_12", "nonfiction_13", "music_14", "science-fiction_15", "sports-and-games_16",
        "fantasy_17",
    ]  # fmt: skip
    books = [
        "in-her-wake_980",
        "how-music-works_979",
        "foolproof-preserving-a-guide-to-small-batch-jams-jellies-pickles-condiments-and-more"
        "-a-foolproof-guide-to-making-small-batch-jams-jellies-pickles-condiments-and-more_978",
        "chase-me-paris-nights-2_977",
        "black-dust_976",
        "birdsong-a-story-in-pictures_975",
        "americas-cradle-of-quarterbacks-western-pennsylvanias-football-factory"
        "-from-johnny-unitas-to-joe-montana_974",
        "aladdin-and-his-wonderful-lamp_973",
        "worlds-elsewhere-journeys-around-shakespeares-globe_972",
        "wall-and-piece_971",
        "the-four-agreements-a-practical-guide-to-personal-freedom_970",
        "the-five-love-languages-how-to-express-heartfelt-commitment-to-your-mate_969",
        "the-elephant-tree_968",
        "the-bear-and-the-piano_967",
        "sophies-world_966",
        "penny-maybe_965",
        "maude-1883-1993she-grew-up-with-the-country_964",
        "in-a-dark-dark-wood_963",
        "behind-closed-doors_962",
        "you-cant-bury-them-all-poems_961",
    ]
    assert page.links == (
        f"{site}index.html",
        f"{site}catalogue/category/books_1/index.html",
        *(f"{site}catalogue/category/books/{c}/index.html" for c in categories),
        *(f"{site}catalogue/{b}/index.html" for b in books),
        f"{site}catalogue/page-1.html",
        f"{site}catalogue/page-3.html",
    )


def test_quotes_page():
    """A quotes.toscrape-like page: meta name="Description" matches, author links appear once."""
    page = parse_fixture("quotes_page.html", QUOTES_URL)
    assert page.title == "Quotes to Scrape"
    assert page.description == (
        "A site to practise scraping: famous quotes, their authors and tags."
    )
    assert "“It is our choices, Harry, that show what we truly are" in page.text
    assert "by Albert Einstein (about) Tags: change deep-thoughts thinking world" in page.text
    assert page.text.endswith("Made with ❤ by Zyte")
    assert "change,deep-thoughts" not in page.text  # <meta itemprop="keywords" content=...>
    site = "http://quotes.toscrape.com"
    assert page.links == (
        f"{site}/",
        f"{site}/login",
        f"{site}/author/Albert-Einstein",
        f"{site}/tag/change/page/1/",
        f"{site}/tag/deep-thoughts/page/1/",
        f"{site}/tag/thinking/page/1/",
        f"{site}/tag/world/page/1/",
        f"{site}/author/J-K-Rowling",
        f"{site}/tag/abilities/page/1/",
        f"{site}/tag/choices/page/1/",
        f"{site}/tag/inspirational/page/1/",
        f"{site}/tag/life/page/1/",
        f"{site}/tag/live/page/1/",
        f"{site}/tag/miracle/page/1/",
        f"{site}/tag/miracles/page/1/",
        f"{site}/page/2/",
        f"{site}/tag/love/",
        f"{site}/tag/inspirational/",
        f"{site}/tag/life/",
        "https://www.goodreads.com/quotes",
        "https://www.zyte.com/",
    )


def test_news_article_fields():
    """An article's title and description have entities decoded and whitespace collapsed."""
    page = parse_fixture("news_article.html", NEWS_URL)
    assert (
        page.title
        == "Rivers & Roads: how the valley\u2019s bridges were rebuilt | The Daily Example"
    )
    assert page.description == (
        "Engineers spent two winters replacing the valley\u2019s three oldest bridges. "
        "Here\u2019s how they did it."
    )


def test_news_article_text_skips_scripts_styles_and_hidden_markup():
    """Visible text keeps nav, body and footer, and drops script, JSON-LD, CSS, noscript, svg."""
    page = parse_fixture("news_article.html", NEWS_URL)
    assert page.text.startswith("The Daily Example News Sport Last year Weather Rivers & Roads")
    assert "Crews worked through the frost, often at night." in page.text
    assert "© 2024 The Daily Example. Privacy · Survey Back to top" in page.text
    for marker in SCRIPT_AND_STYLE_MARKERS:
        assert marker not in page.text


def test_news_article_links_resolve_against_base_href():
    """Relative links resolve against <base href="/news/2024/">, itself resolved against the URL."""
    page = parse_fixture("news_article.html", NEWS_URL)
    assert page.links == (
        "https://news.example.com/",
        "https://news.example.com/news/",
        "https://news.example.com/sport/",
        "https://news.example.com/news/2023/",
        "https://weather.example.com/",
        "https://news.example.com/people/jane-doe",
        "https://news.example.com/news/2024/bridges-survey.html",
        "https://ads.example.net/click?id=42&src=news",  # rel="nofollow" is kept
        "https://news.example.com/about/privacy",
    )


def test_messy_page():
    """Uppercase tags, unquoted attributes, stray end tags and unclosed elements still parse."""
    page = parse_fixture("messy_page.html", MESSY_URL)
    assert page.title == "Bob's Homepage"
    assert page.description == "Old page, hand-edited since 1999"
    assert page.text == (
        "Welcome to Bob's Homepage! My Links Sign my guestbook Counter Under construction "
        "Last updated January 2003 Photos Photos again Email me "
        "Best viewed in Netscape Navigator 4 Webring"
    )
    assert page.links == (
        "http://bob.example.net/~bob/links.html",
        "http://bob.example.net/~bob/guestbook.cgi?sign=1",
        "http://bob.example.net/cgi-bin/counter.pl?page=home&x=1",
        "http://bob.example.net/~bob/photos/index.html",
        "http://bob.example.net/~bob/area-left.html",
        "http://bob.example.net/~bob/webring.html",
    )


def test_every_kind_of_link():
    """Only http(s) links from <a>/<area> survive, resolved, normalized and each kept once."""
    page = parse_fixture("every_link_kind.html", ZOO_URL)
    assert page.title == "Link zoo"
    assert page.links == (
        "https://www.example.com/docs/guide/sibling.html",
        "https://www.example.com/root.html",
        "https://www.example.com/docs/up.html",
        "https://other.example/path",
        "https://cdn.example/lib.js",
        "https://www.example.com/docs/guide/index.html?page=2",
        "https://www.example.com/docs/guide/padded.html",
        "https://www.example.com/docs/guide/wrapped.html",
        "https://other.example/a%20b",
        "https://www.example.com/nofollow.html",
        "https://www.example.com/area-target.html",
    )


def test_meta_declared_latin1_page_decodes_as_windows_1252():
    """A page declaring iso-8859-1 in a meta tag is read as windows-1252, as browsers do."""
    page = parse_fixture("legacy_latin1.html", CAFE_URL)
    assert page.title == "Café «Chez Hélène» \u2013 Carte"
    assert page.description == "Crêpes, café crème et “gâteaux” à Besançon"
    assert "Café crème : 3,50 € — crêpe au sucre : 4 €" in page.text
    assert "\ufffd" not in page.text
    assert page.links == (
        "http://cafe.example.fr/menu-%C3%A9t%C3%A9.html",
        "http://cafe.example.fr/plan.html",
    )


def test_http_charset_overrides_meta_in_parse_html():
    """The HTTP charset wins over a meta declaration when parsing."""
    body = '<meta charset="koi8-r"><title>naïve</title>'.encode()
    assert parse_html(body, CAFE_URL, "utf-8").title == "naïve"
    assert parse_html(body, CAFE_URL, None).title != "naïve"


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>a</p><p>b</p>", "a b"),
        ("<div>one</div><div>two</div><h2>three</h2>", "one two three"),
        ("<table><tr><td>cell</td><td>next</td></tr></table>", "cell next"),
        ("<ul><li>first</li><li>second</li></ul>", "first second"),
        ("line<br>break", "line break"),
        ("<p>Hel<b>lo</b> <i>wor</i>ld</p>", "Hello world"),
        ("<p>Price: <span>£</span>12.<small>99</small></p>", "Price: £12.99"),
        ("<p>x&nbsp;&amp;\n\t y</p>", "x & y"),
    ],
)
def test_text_separates_blocks_but_not_inline_elements(html, text):
    """Block boundaries become one space; inline elements do not split words."""
    assert parse_html(html.encode(), ZOO_URL, None).text == text


def test_title_is_the_document_title_not_an_svg_tooltip():
    """An inline SVG <title> before the real one is neither the title nor part of the text."""
    html = b"<body><svg><title>icon</title></svg><title> Real \n title </title><p>body</p>"
    page = parse_html(html, ZOO_URL, None)
    assert page.title == "Real title"
    assert page.text == "body"


@pytest.mark.parametrize(
    "html",
    [
        b"<p>no head at all</p>",
        b"<title>   </title><meta name=description content='  '>",
        b"<meta name=description><meta name=keywords content=x>",
    ],
)
def test_missing_or_blank_title_and_description_are_none(html):
    """A missing or blank title or description is None, not an empty string."""
    page = parse_html(html, ZOO_URL, None)
    assert page.title is None
    assert page.description is None


def test_first_description_wins_whatever_the_case():
    """The first meta whose name is "description" in any case gives the description."""
    html = b"<meta name=DESCRIPTION content=first><meta name=description content=second>"
    assert parse_html(html, ZOO_URL, None).description == "first"


@pytest.mark.parametrize(
    ("base", "link"),
    [
        ("https://cdn.example/b/", "https://cdn.example/b/x.html"),
        ("//cdn.example/b/", "https://cdn.example/b/x.html"),
        ("../", "https://www.example.com/docs/x.html"),
        ("javascript:alert(1)", "https://www.example.com/docs/guide/x.html"),
        ("data:text/html,hi", "https://www.example.com/docs/guide/x.html"),
        ("", "https://www.example.com/docs/guide/x.html"),
    ],
)
def test_base_href(base, link):
    """<base href> is resolved against the page URL and ignored unless it is http(s)."""
    html = f"<head><base href='{base}'><base href='/second/'></head><a href='x.html'>x</a>"
    assert parse_html(html.encode(), ZOO_URL, None).links == (link,)


def test_max_links_keeps_the_first_distinct_links():
    """At most max_links links are returned: the first distinct ones in document order."""
    html = "".join(f"<a href='/p{n}'>p</a><a href='/p{n}'>again</a>" for n in range(50))
    page = parse_html(html.encode(), ZOO_URL, None, max_links=3)
    assert page.links == tuple(f"https://www.example.com/p{n}" for n in range(3))
    assert parse_html(html.encode(), ZOO_URL, None, max_links=0).links == ()


@pytest.mark.parametrize(
    ("body", "charset"),
    [
        (b"", None),
        (b"   \n", "utf-8"),
        (bytes(range(256)) * 10, None),
        (bytes(range(256)) * 10, "utf-16"),
        (bytes(range(256)) * 10, "utf-7"),
        (b"\xff\xfe<\x00p\x00>\x00\x00\xd8", None),  # UTF-16 BOM, then a lone surrogate
        (b"<p>\\ud800 surrogate</p>", "unicode_escape"),
        (b"<p>hi</p>", "base64"),
        (b"<p>hi</p>", "no-such-charset"),
        (b"<title>a\x00b</title><p>\x00<a href='/x\x00y'>\x00</a>", None),
        (b"<div><a href='/a'>" * 3000 + b"</p></div></td>" * 9000, None),
        (b"<!-- <a href='/x'>never closed", None),
        (b"<frameset><frame src=a.html></frameset>", None),
    ],
)
def test_never_raises_on_hostile_bytes(body, charset):
    """Garbage, NULs, lone surrogates and odd charsets give a page of clean, storable text."""
    page = parse_html(body, ZOO_URL, charset)
    for value in (page.title or "", page.description or "", page.text, *page.links):
        assert "\x00" not in value
        value.encode("utf-8")  # no lone surrogates


def test_nul_bytes_are_dropped():
    """NUL bytes vanish from the title and text instead of splitting or truncating them."""
    page = parse_html(b"<title>ti\x00tle</title><p>te\x00xt</p>", ZOO_URL, None)
    assert (page.title, page.text) == ("title", "text")


def test_deeply_nested_page_is_parsed_quickly_up_to_the_nesting_limit(caplog):
    """2 MB of unclosed <div> parses in well under a second, keeping what precedes the depth cut."""
    head = b"<title>Deep</title><a href='/before'>before</a>"
    body = head + b"<div>" * 400_000 + b"<a href='/after'>after</a>"
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="scraper.parse.html"):
        page = parse_html(body, ZOO_URL, None)
    assert time.perf_counter() - started < 2.0  # unguarded, lexbor takes minutes here
    assert len(body) > 2_000_000
    assert page.title == "Deep"
    assert page.links == ("https://www.example.com/before",)
    assert "nests elements over 1000 deep" in caplog.text


def test_big_well_formed_page_is_not_cut(caplog):
    """A 1 MB page of many shallow elements is parsed whole, without a depth warning."""
    one = (FIXTURES / "books_catalogue.html").read_bytes()
    body = one * 30
    with caplog.at_level(logging.WARNING, logger="scraper.parse.html"):
        page = parse_html(body, BOOKS_URL, None)
    assert body.count(b"<") > 20_000  # big enough for the depth check to run
    assert page.text.endswith("You can't bury them all: Poems £33.63 In stock Add to basket "
                              "previous Page 2 of 50 next")  # fmt: skip
    assert page.text.count("Page 2 of 50") == 30
    assert caplog.text == ""


def test_parse_html_runs_in_a_spawned_process_pool():
    """parse_html and its arguments and result cross a process boundary (pickling)."""
    body = (FIXTURES / "quotes_page.html").read_bytes()
    assert pickle.loads(pickle.dumps(parse_html)) is parse_html
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        remote = pool.submit(parse_html, body, QUOTES_URL, None, 5).result(timeout=30)
    assert remote == parse_html(body, QUOTES_URL, None, 5)
    assert len(remote.links) == 5


def test_decode_http_charset_wins_over_meta():
    """The HTTP charset is used even when a meta tag declares another one."""
    body = '<meta charset="utf-8"><p>Grüße</p>'.encode("cp1252")
    assert "Grüße" in decode_html(body, "windows-1252")
    assert "Gr\ufffd\ufffde" in decode_html(body, None)


def test_decode_bogus_http_charset_falls_back_to_meta():
    """An HTTP charset Python does not know (or a non-text codec) falls through to the meta tag."""
    body = '<meta charset="iso-8859-15"><p>prix : 5 €</p>'.encode("iso-8859-15")
    for charset in ("x-no-such-charset", "base64", "", "utf-8'; drop table"):
        assert "prix : 5 €" in decode_html(body, charset)


def test_decode_meta_http_equiv_form():
    """<meta http-equiv="Content-Type" content="text/html; charset=..."> is honoured."""
    body = (
        b'<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=Shift_JIS">'
        + "<TITLE>日本語のページ</TITLE>".encode("shift_jis")
    )
    assert "日本語のページ" in decode_html(body, None)


def test_decode_meta_after_2048_bytes_is_ignored():
    """A meta charset beyond the first 2048 bytes is not looked for; UTF-8 is assumed."""
    body = b"<!--" + b" " * 2100 + b'--><meta charset="cp1252"><p>caf\xc3\xa9</p>'
    assert "café" in decode_html(body, None)


def test_decode_bogus_meta_falls_back_to_utf8():
    """An unknown meta charset, or a UTF-16 one, means UTF-8."""
    for label in (b"no-such-charset", b"utf-16", b"UTF-16LE"):
        body = b'<meta charset="' + label + b'"><p>caf\xc3\xa9</p>'
        assert "café" in decode_html(body, None)


def test_decode_byte_order_mark_wins():
    """A byte-order mark decides the encoding, whatever the HTTP header or meta tag say."""
    text = '<meta charset="cp1252"><p>Zoë</p>'
    assert decode_html(b"\xef\xbb\xbf" + text.encode(), "iso-8859-2") == text
    assert decode_html(text.encode("utf-16"), None) == text


def test_decode_replaces_bad_bytes_and_drops_nuls():
    """Invalid UTF-8 becomes U+FFFD and NUL characters are removed."""
    assert decode_html(b"a\x00b\xffc", None) == "ab\ufffdc"
    assert decode_html("a\x00b".encode("utf-16-le"), "utf-16-le") == "ab"


def test_links_starting_with_one_slash_resolve_as_join_url_does():
    """The memoized path for "/..." hrefs gives what join_url gives, whatever the page's path."""
    hrefs = ["/", "/a/../b", "/%7Efoo/%41", "/a b/ü", "/x?y=1#z", "/x?", "/./c", "/d/"]
    html = "".join(f'<a href="{h}">l</a>' for h in [*hrefs, "//other.example/p", "rel"])
    for base in ("http://example.com/", "http://example.com/deep/dir/page?q=1"):
        links = parse_html(html.encode(), base, "utf-8").links
        expected = {join_url(base, h) for h in [*hrefs, "//other.example/p", "rel"]}
        assert set(links) == expected - {None}, base


_SPACES = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2003\u3000"


@given(st.text(alphabet=st.sampled_from(_SPACES + "ab\u00e9") | st.characters(), max_size=60))
@example(" a b ")
@example("a  b")
@example("a\x1fb")
@example("a\xa0 b")
def test_collapse_whitespace_is_split_and_join(text: str) -> None:
    # the ASCII path (scans and replaces) must agree with str.split() on every input
    assert collapse_whitespace(text) == " ".join(text.split())


def test_text_of_minified_and_indented_pages_is_the_same() -> None:
    words = "".join(f"<p>word{i} <b>bold{i}</b></p>" for i in range(50))
    minified = f"<html><body><nav><a href='/x'>Home</a></nav>{words}</body></html>"
    indented = minified.replace("<p>", "\n    <p>").replace("</nav>", "</nav>\n\t")
    a = parse_html(minified.encode(), "http://127.0.0.1/", None)
    b = parse_html(indented.encode(), "http://127.0.0.1/", None)
    assert a.text == b.text
    assert a.text.startswith("Home word0 bold0 word1 bold1")
    assert "  " not in a.text
