"""Choosing the main content's root and pruning its edges: each rule on a small page."""

from selectolax.lexbor import LexborHTMLParser

from scraper.parse.content import main_content

SENTENCE = "The committee met on Tuesday and agreed to publish the full budget before the vote. "
PROSE = SENTENCE * 5  # one paragraph of prose, about 430 characters


def _text(html: str) -> str:
    return main_content(LexborHTMLParser(html), "https://site.example/").text


def _paragraphs(count: int, word: str = "") -> str:
    return "".join(f"<p>{word}{PROSE}</p>" for _ in range(count))


def _notices(count: int) -> str:
    return "".join(f"<p>Short notice number {i}, no link.</p>" for i in range(count))


def test_teaser_articles_do_not_outvote_the_article():
    """The one long <article> wins even when teaser <article>s together hold more text."""
    teasers = "".join(
        f"<article><p>Teaser {i}: {SENTENCE}</p><p>{SENTENCE}</p></article>" for i in range(12)
    )
    text = _text(
        f"<body><article><h1>Budget</h1>{_paragraphs(3)}</article>"
        f"<section><div><div>{teasers}</div></div></section></body>"
    )
    assert "Budget" in text
    assert "Teaser" not in text


def test_small_main_on_a_page_of_short_lines():
    """A <main> with a tenth of the page's text is the root, not the whole body."""
    lines = _notices(120)
    text = _text(f"<body><div>{lines}</div><main>{_paragraphs(2, 'Kept ')}</main></body>")
    assert "Kept" in text
    assert "Short notice" not in text


def test_content_named_block_is_the_root():
    """A block named as an article's body (article__body) is chosen over a wordier neighbour."""
    other = "".join(f"<p>Other {i}. {SENTENCE}</p>" for i in range(12))
    text = _text(
        f'<body><div class="article__body">{_paragraphs(2, "Kept ")}</div>'
        f'<div class="x">{other}</div></body>'
    )
    assert "Kept" in text
    assert "Other" not in text


def test_block_scoring_ignores_many_short_lines():
    """Without semantic containers, the div of long paragraphs wins over a div of short lines."""
    lines = "".join(f"<p>Photo number {i} of the long gallery</p>" for i in range(300))
    text = _text(f"<body><div>{lines}</div><div>{_paragraphs(3, 'Kept ')}</div></body>")
    assert "Kept" in text
    assert "Photo number 7" not in text


def test_tighter_root_inside_the_article():
    """Inside the chosen <article>, the block of prose is the root: its linky siblings go."""
    linky = (
        "<p>See <a href='/a'>the previous budget and its many annexes</a> and "
        "<a href='/b'>the opposition's counter proposal</a> for the whole story of it.</p>"
    )
    text = _text(f"<body><article>{linky}<div>{_paragraphs(3)}</div>{linky}</article></body>")
    assert SENTENCE.strip() in text
    assert "previous budget" not in text


def test_bylines_captions_and_credits_are_dropped():
    """Blocks named byline, caption, credit, meta, tags or copyright, and <figcaption>, go."""
    extras = (
        '<div class="byline">By Ann Writer</div><div class="post-meta">3 min read</div>'
        '<figure><img src="/p.jpg" alt=""><figcaption>The hall, in May</figcaption></figure>'
        '<span class="photo-credit">Photo: Agency</span><div class="tags">Budget, Vote</div>'
        '<p class="copyright">All rights reserved by the publisher of this page</p>'
    )
    text = _text(f"<body><article>{_paragraphs(2)}{extras}{_paragraphs(1)}</article></body>")
    for gone in ("Ann Writer", "3 min read", "The hall", "Agency", "Vote", "rights reserved"):
        assert gone not in text
    assert SENTENCE.strip() in text


def test_short_blocks_at_the_edges_go_and_between_prose_stay():
    """A date before the text and a label after it go; a short line between paragraphs stays."""
    text = _text(
        "<body><article><div>03.04.2020</div>"
        f"<p>{PROSE}</p><p>Short but inside</p><p>{PROSE}</p><div>Advertisement</div>"
        "</article></body>"
    )
    assert "03.04.2020" not in text
    assert "Advertisement" not in text
    assert "Short but inside" in text


def test_block_scoring_passes_over_a_block_of_comments():
    """A comments block with more prose than the article is not the root."""
    comments = "".join(f"<p>Reader {i} wrote: {SENTENCE * 3}</p>" for i in range(8))
    text = _text(
        f"<body><div><div>{_paragraphs(3, 'Kept ')}</div></div>"
        f'<div class="comment-list">{comments}</div></body>'
    )
    assert "Kept" in text
    assert "Reader 3" not in text


def test_page_builder_widgets_and_print_blocks_are_content():
    """Blocks named widget (page builders) or print-only hold the text: they are kept."""
    text = _text(
        '<body><article><div class="elementor-widget-text-editor">'
        f'{_paragraphs(1, "Widget ")}</div><div class="print-only">{_paragraphs(1, "Print ")}'
        f"</div>{_paragraphs(1)}</article></body>"
    )
    assert "Widget" in text
    assert "Print" in text


def test_clear_article_under_a_tenth_beats_a_smaller_block_holder():
    """An <article> of short lines (a recipe) with under a tenth of the page's text is the root
    when the block scorer's best element holds less text than it."""
    items = "".join(f"<li>{i * 10} g of ingredient number {i}</li>" for i in range(40))
    lines = _notices(500)
    text = _text(
        f"<body><div>{lines}</div><article><ul>{items}</ul></article>"
        f"<div><p>Other: {SENTENCE * 2}</p></div></body>"
    )
    assert "ingredient number 7" in text
    assert "Other" not in text
