"""The Markdown writer, through main_content: structure checked by rendering with markdown-it."""

from markdown_it import MarkdownIt
from selectolax.lexbor import LexborHTMLParser

from scraper.parse.content import main_content

BASE = "https://example.com/docs/page"


def render(body: str) -> str:
    return main_content(LexborHTMLParser(f"<html><body>{body}</body></html>"), BASE).markdown


def html_of(markdown: str) -> str:
    rendered: str = MarkdownIt("commonmark").enable("table").render(markdown)
    return rendered


def test_nested_lists_render_as_nested_lists():
    """A list inside a list item stays nested, ordered items numbered."""
    md = render("<ol><li>one<ul><li>inner a</li><li>inner b</li></ul></li><li>two</li></ol>")
    assert "1. one" in md
    assert "2. two" in md
    out = html_of(md)
    assert out.count("<ol>") == 1
    assert out.count("<ul>") == 1
    assert out.index("<ul>") > out.index("one")
    assert "<li>inner a</li>" in out


def test_data_table_is_a_gfm_table():
    """A data table becomes a pipe table with a header row."""
    md = render("<table><tr><th>Name</th><th>Size</th></tr><tr><td>a|b</td><td>2</td></tr></table>")
    out = html_of(md)
    assert "<table>" in out
    assert "<th>Name</th>" in out
    assert "<td>a|b</td>" in out


def test_fenced_code_keeps_its_language_and_text():
    """A pre/code block is fenced with its language, its lines unchanged."""
    md = render('<pre><code class="language-python">def f():\n    return 1  # *x*</code></pre>')
    assert "```python\ndef f():\n    return 1  # *x*\n```" in md
    out = html_of(md)
    assert '<code class="language-python">' in out


def test_specials_are_escaped_so_text_reads_back():
    """Markdown specials in text are escaped: the rendered text is the source text."""
    md = render("<p>a *b* _c_ [d] 1. e</p><p># not a heading</p>")
    out = html_of(md)
    assert "<em>" not in out
    assert "<h1>" not in out
    assert "a *b* _c_ [d] 1. e" in out
    assert "# not a heading" in out


def test_links_and_images_are_absolute():
    """Relative hrefs and srcs are resolved against the base URL."""
    md = render('<p>See <a href="../guide">the guide</a> <img src="/i.png" alt="pic"></p>')
    assert "[the guide](https://example.com/guide)" in md
    assert "![pic](https://example.com/i.png)" in md
    out = html_of(md)
    assert '<a href="https://example.com/guide">' in out
    assert '<img src="https://example.com/i.png"' in out


def test_entities_are_decoded():
    """Character references come out as the characters."""
    md = render("<p>caf&eacute; &amp; cr&egrave;me &#8364;5 &lt;tag&gt;</p>")
    assert "café & crème €5" in md
    assert "&eacute;" not in md
    assert "&amp;" not in md


def test_blocks_one_blank_line_apart_no_trailing_spaces():
    """Blocks are separated by exactly one blank line and no line ends in a space."""
    md = render(
        "<h2>Title</h2>\n\n<p>First  para </p><div> <p>Second</p> </div><ul><li>x </li></ul>"
    )
    assert md == "## Title\n\nFirst para\n\nSecond\n\n- x"
    assert "\n\n\n" not in md
    assert all(line == line.rstrip() for line in md.split("\n"))


def test_heading_with_links_and_a_break_is_one_clean_line():
    """Links and a line break in a heading leave no control characters: spaces between them."""
    md = render('<h2><a href="/a">One</a><a href="/b">Two</a> and<br>more</h2><p>Body text.</p>')
    assert md.splitlines()[0] == (
        "## [One](https://example.com/a) [Two](https://example.com/b) and more"
    )
    assert not any(ch in md for ch in "\x00\x01\x02\x03")
