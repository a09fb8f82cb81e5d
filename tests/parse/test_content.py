"""main_content: the article is kept, boilerplate dropped, the tree left alone, never a raise."""

from selectolax.lexbor import LexborHTMLParser

from scraper.parse.content import main_content
from scraper.parse.html import parse_html

ARTICLE = (
    "The river rose four metres overnight and the old bridge was closed to traffic at dawn. "
    "Engineers say the pillars held, but the deck will be inspected before it reopens."
)
PAGE = f"""<html><body>
<header><nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav></header>
<div class="cookie-banner"><p>We use cookies to improve your experience. Accept all?</p></div>
<main><article><h1>Flood closes bridge</h1><p>{ARTICLE}</p><p>{ARTICLE}</p>
<div class="related"><h3>Related</h3><ul><li><a href="/a">Storm warning issued</a></li>
<li><a href="/b">Rain record broken</a></li></ul></div></article></main>
<footer><p>Copyright 2026 Example News. All rights reserved.</p></footer>
</body></html>"""


def test_article_kept_and_boilerplate_dropped():
    """The article's heading and text stay; nav, cookie banner, related list and footer go."""
    content = main_content(LexborHTMLParser(PAGE), "https://news.example/")
    assert content.markdown.startswith("# Flood closes bridge")
    assert ARTICLE in content.text
    for gone in ("Sport", "cookies", "Storm warning", "Copyright"):
        assert gone not in content.text


def test_page_without_main_content_falls_back_to_its_text():
    """A page of a few words (no main block) still gives its whole text."""
    content = main_content(
        LexborHTMLParser("<body><div>Just <b>a</b> line</div></body>"), "http://x/"
    )
    assert content.text == "Just a line"


def test_never_raises_on_garbage():
    """Random bytes, empty documents and absurd nesting give a result, not an exception."""
    bodies = [b"", b"\x00\xff\xfe garbage \x80<<<>>>", b"<div>" * 5000 + b"deep", b"<html>"]
    for body in bodies:
        tree = LexborHTMLParser(body.decode("latin-1"))
        content = main_content(tree, "http://x/")
        assert isinstance(content.markdown, str)
        assert isinstance(content.text, str)


def test_tree_not_mutated_page_text_unchanged():
    """parse_html's whole visible text is the same with and without the main-content pass."""
    body = PAGE.encode()
    plain = parse_html(body, "https://news.example/", "utf-8")
    with_content = parse_html(body, "https://news.example/", "utf-8", markdown=True)
    assert with_content.text == plain.text
    assert "Copyright" in with_content.text
    assert "Sport" in with_content.text
    tree = LexborHTMLParser(PAGE)
    before = tree.html
    main_content(tree, "https://news.example/")
    assert tree.html == before


def test_plain_text_has_no_markdown_syntax():
    """The text drops fences with their language word, markers and link targets."""
    body = (
        '<h2>Use</h2><ul><li><a href="/x">link</a> *star*</li></ul>'
        '<pre><code class="language-python">print(1)</code></pre>'
    )
    content = main_content(LexborHTMLParser(f"<body>{body}</body>"), "http://x/")
    assert "```python" in content.markdown
    assert content.text == "Use link *star* print(1)"
