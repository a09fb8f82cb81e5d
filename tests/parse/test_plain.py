"""The main content's plain text and blocks, collected by the Markdown writer as it writes: the
same as reading them back from the Markdown, on every construct where the two could part."""

import pytest
from selectolax.lexbor import LexborHTMLParser

from scraper.parse.chunks import _blocks, chunk_blocks, chunk_markdown
from scraper.parse.content import main_content
from scraper.parse.markdown import Writer
from scraper.parse.plain import markdown_text

BASE = "https://example.com/docs/page"
FILLER = "<p>" + "Enough plain words to be the page's main content for sure. " * 3 + "</p>"
CASES = [
    '<p><a href="/a">one</a><a href="/b">two</a> <a href="/c">three</a> and text</p>',
    '<p>Wow!<a href="/a">link</a> and ![x] <img src="/i.png" alt="a]b"> <img src="/j.png"></p>',
    '<p><em><a href="/a">in</a></em><a href="/b">out</a> <b> bold </b><i> </i>x<s>gone</s></p>',
    "<p>## not a heading</p><p># escaped</p><p>- dash</p><p>1. one</p><p>10) ten</p>",
    r"<p>back\slash and \*star\* a\</p><p>pipe | tilde ~ tick ` under_score [x](y)</p>",
    "<p>line<br>1. after a break<br></p><p>code <code>a*b [c]</code> and <kbd>``</kbd></p>",
    '<h2><a href="/h">Linked</a> heading!<a href="/g">x</a></h2><h3>*starred* <i>it</i></h3>',
    "<ul><li>a<ul><li>nested <b>b</b></li><li><h4>heading in item</h4>text</li></ul></li>"
    "<li><blockquote>quoted - item</blockquote></li><li>run<pre>code\n\nin item</pre></li></ul>",
    "<ol><li>first</li><li><p>para</p><p>two</p></li></ol><ul><li><hr></li></ul>",
    "<blockquote><p>quote</p><ul><li>listed</li></ul><h2>title</h2></blockquote>",
    "<blockquote><blockquote>deep > quote</blockquote></blockquote><hr>",
    '<pre><code class="language-py"># comment\n- item\n\n[a](b) *x*</code></pre>',
    "<table><tr><th>h|1</th><th>*h2*</th></tr><tr><td>a</td><td>b \\ c</td></tr></table>",
    "<table><tr><td><p>layout</p></td><td><div>cells</div></td></tr></table>",
    "<p>\u00a0nbsp\u2003em space\u00a0</p><p>entities &amp; &lt;tags&gt; &#42;</p>",
]


@pytest.mark.parametrize("html", CASES)
def test_collected_text_and_blocks_are_those_read_from_the_markdown(html: str) -> None:
    """The writer's plain text is markdown_text of its Markdown, its blocks the Markdown's
    (every block written: none skipped as boilerplate nor pruned)."""
    page = f"<html><body><main>{FILLER}{html}{FILLER}</main></body></html>"
    body = LexborHTMLParser(page).body
    assert body is not None
    writer = Writer(BASE, lambda node: False)
    writer.children(body)
    markdown = writer.markdown()
    assert writer.text() == markdown_text(markdown)
    assert [b for b in writer.blocks if b] == list(_blocks(markdown))
    assert len(writer.blocks) > 2


def test_chunks_of_blocks_are_the_chunks_of_their_markdown() -> None:
    """Chunking the writer's blocks gives what chunking the joined Markdown gives."""
    html = "".join(f"<h2>Part {n}</h2>{FILLER * 4}{case}" for n, case in enumerate(CASES))
    content = main_content(LexborHTMLParser(f"<html><body>{html}</body></html>"), BASE)
    chunks = chunk_blocks(content.blocks, 64)
    assert len(chunks) > len(CASES)
    assert chunks == chunk_markdown(content.markdown, 64)


def test_list_item_opening_with_code_does_not_swallow_what_follows() -> None:
    """A list item that opens with a code block ends at its list: the next paragraph is a block
    of its own (re-splitting the Markdown read the item's closing fence as an opening one)."""
    html = f"<main>{FILLER}<ul><li><pre>code\n\nin item</pre></li></ul>{FILLER}</main>"
    content = main_content(LexborHTMLParser(f"<html><body>{html}</body></html>"), BASE)
    assert content.blocks[1] == "- ```\n  code\n  in item\n  ```"
    chunks = chunk_blocks(content.blocks, 40)
    assert [c.markdown.startswith("Enough") for c in chunks] == [True, False, True]
