"""The ``--render auto`` trigger: which HTML pages are shells their scripts fill."""

import pytest

from scraper.parse import needs_render
from scraper.testing.jsroutes import _SHELL

TEXT = "<p>" + "Plenty of words written into the page itself, readable without scripts. " * 4
BUNDLE = '<script src="/static/bundle.js"></script>'


@pytest.mark.parametrize(
    "html",
    [
        _SHELL.format(n=1, sub=""),  # the test site's app: noscript, #root, a script
        f'<html><body><div id="__next"></div>{BUNDLE}</body></html>',
        f'<html><body><div id="app"> </div>{BUNDLE}</body></html>',
        '<html><body><app-root ng-version="17.0.0"></app-root><script>x()</script></body></html>',
        "<html><body><noscript>Please enable JavaScript.</noscript><script>x()</script></body>",
        f"<html><body><p>Loading...</p>{BUNDLE}</body></html>",  # script outweighs the text
    ],
)
def test_shells_need_rendering(html: str):
    """An app root with no text, a noscript asking for JavaScript, or scripts outweighing a
    tiny text: the page is rendered."""
    assert needs_render(html.encode())


@pytest.mark.parametrize(
    "html",
    [
        "<html><body><p>Short but plain.</p></body></html>",  # no script at all
        f'<html><body><div id="root">{TEXT}</div>{BUNDLE}</body></html>',  # server-rendered
        f"<html><body>{TEXT}<noscript>enable JavaScript</noscript>{BUNDLE}</body></html>",
        "<html><body><p>Hello there, a small page.</p><script>track()</script></body></html>",
    ],
)
def test_pages_with_their_text_are_not_rendered(html: str):
    """A page with its text in the HTML (even with an app root, a noscript or a bundle) is
    kept as fetched."""
    assert not needs_render(html.encode())
