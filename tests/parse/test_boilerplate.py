"""Boilerplate names: class and id tokens split at camelCase humps, written in parts or run on."""

import pytest
from selectolax.lexbor import LexborHTMLParser

from scraper.parse.content import main_content

ARTICLE = (
    "The river rose four metres overnight and the old bridge was closed to traffic at dawn. "
    "Engineers say the pillars held, but the deck will be inspected before it reopens."
)
BOX = (
    "Get the best of our reporting in your inbox every morning, free of charge, and never miss "
    "a story that matters to your town again."
)


@pytest.mark.parametrize("name", ["signupNewsletterBox", "news-letter", "sharedaddy", "donations"])
def test_named_box_of_prose_inside_the_article_is_dropped(name: str) -> None:
    """A prose box whose class is a camelCase, split or run-on boilerplate name is left out."""
    page = (
        f"<html><body><article><h1>Flood</h1><p>{ARTICLE}</p><p>{ARTICLE}</p>"
        f'<div class="{name}"><p>{BOX}</p></div><p>{ARTICLE}</p></article></body></html>'
    )
    content = main_content(LexborHTMLParser(page), "https://news.example/")
    assert ARTICLE in content.text
    assert "inbox" not in content.text


def test_teaser_without_a_link_is_the_articles_lead() -> None:
    """A "teaser" that links nowhere (the lead) stays; a teaser card linking elsewhere goes."""
    lead = "The old bridge is closed after a night of record rain, and no one knows for how long."
    page = (
        f'<html><body><article><h1>Flood</h1><div class="article-teaser"><p>{lead}</p></div>'
        f'<p>{ARTICLE}</p><p>{ARTICLE}</p><div class="teaser"><p>{BOX} '
        '<a href="/other">Read more</a></p></div><p>{ARTICLE}</p></article></body></html>'
    )
    content = main_content(LexborHTMLParser(page), "https://news.example/")
    assert lead in content.text
    assert "inbox" not in content.text


def test_lead_in_the_article_header_before_the_body_is_kept() -> None:
    """The standfirst next to the title, outside the block holding the text, opens the content."""
    lead = "The old bridge is closed after a night of record rain, and no one knows for how long."
    page = (
        '<html><body><nav><a href="/">Home</a></nav><article><header><h1>Flood</h1>'
        f'<p class="article-lead">{lead}</p></header><div class="article-body"><p>{ARTICLE}</p>'
        f"<p>{ARTICLE}</p><p>{ARTICLE}</p></div></article></body></html>"
    )
    content = main_content(LexborHTMLParser(page), "https://news.example/")
    assert content.text.startswith(lead)
    assert ARTICLE in content.text


def test_component_prefix_cmp_is_not_a_consent_banner() -> None:
    """Blocks named by a CMS's component prefix ("cmp-text") keep their prose."""
    page = (
        f'<html><body><main><p>{ARTICLE}</p><div class="cmp-text"><p>{ARTICLE}</p></div>'
        f'<div class="cmp-text"><p>{BOX}</p></div></main></body></html>'
    )
    content = main_content(LexborHTMLParser(page), "https://news.example/")
    assert "inbox" in content.text


def test_article_and_heading_names_are_not_read() -> None:
    """An <article> or a heading whose class happens to hold a boilerplate word stays."""
    page = (
        f'<html><body><main><h1>Flood</h1><p>{ARTICLE}</p><h2 class="nav-anchor">The deck</h2>'
        f'<p>{ARTICLE}</p><article class="author-article"><p>{BOX}</p></article>'
        f'<p>{ARTICLE}</p><article class="author-article"><p>{BOX}</p></article>'
        "</main></body></html>"
    )
    content = main_content(LexborHTMLParser(page), "https://news.example/")
    assert "The deck" in content.text
    assert "inbox" in content.text
