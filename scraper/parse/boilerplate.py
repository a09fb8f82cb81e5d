"""Which elements inside the main content's root (:mod:`scraper.parse.root`) are boilerplate
(navigation, headers and footers, sidebars, banners, share bars, comments, "related" lists,
bylines, captions and credits).

General signals only: the elements' roles (``<nav>``, ``<aside>``, ``role="navigation"``...),
class and id name tokens, hidden elements, and link density (the share of a block's text that is
link text).
"""

import re
from functools import lru_cache
from itertools import pairwise

from selectolax.lexbor import LexborNode

from scraper.parse.blocks import text_len

# Elements that are never main content.
_DROP_TAGS = frozenset(["nav", "aside", "dialog", "menu", "figcaption"])
_ROLES = frozenset(
    [
        "navigation",
        "banner",
        "contentinfo",
        "complementary",
        "dialog",
        "alertdialog",
        "search",
        "menu",
        "menubar",
    ]
)
# Class/id name tokens that mark boilerplate (split at non-letters: "site-footer" -> site, footer).
_BAD_TOKENS = frozenset(
    [
        "nav",
        "navbar",
        "navigation",
        "navi",
        "menu",
        "menus",
        "submenu",
        "megamenu",
        "footer",
        "sidebar",
        "sidebars",
        "aside",
        "breadcrumb",
        "breadcrumbs",
        "crumbs",
        "cookie",
        "cookies",
        "consent",
        "gdpr",
        "banner",
        "share",
        "sharing",
        "social",
        "socials",
        "sharebar",
        "shariff",
        "comments",
        "comment",
        "respond",
        "related",
        "recommended",
        "recommendations",
        "newsletter",
        "subscribe",
        "subscription",
        "signup",
        "login",
        "popup",
        "modal",
        "overlay",
        "advert",
        "advertisement",
        "ads",
        "sponsored",
        "promo",
        "toolbar",
        "pagination",
        "pager",
        "skip",
        "skiplink",
        "masthead",
        "topbar",
        "sitemap",
        "tagcloud",
        "disqus",
        "outbrain",
        "taboola",
        "contact",
        "feedback",
        "rating",
        "ratings",
        "caption",
        "credit",
        "credits",
        "byline",
        "author",
        "meta",
        "tags",
        "timestamp",
        "copyright",
    ]
)
# Name tokens: words split at non-letters and at camelCase humps ("relatedPosts" -> related, posts).
# Names of boilerplate only when the element links elsewhere: a teaser card leads to another page,
# while a "teaser" without a link is the article's own lead.
_LINKING_TOKENS = frozenset(["teaser", "teasers"])
# Elements whose names are not read: an article is content by its tag, a heading titles it.
_NAMED_CONTENT = frozenset(["article", "h1", "h2", "h3", "h4", "h5", "h6"])
_TOKEN = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
# Stems that also mark boilerplate when a token starts with them ("sharedaddy", "newsletterbox").
_BAD_STEMS = (
    "share",
    "social",
    "newsletter",
    "subscri",
    "related",
    "sidebar",
    "footer",
    "cookie",
    "breadcrumb",
    "donat",
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_LINKY = frozenset(
    [
        "ul",
        "ol",
        "dl",
        "div",
        "section",
        "table",
        "td",
        "p",
        "span",
        "li",
        "header",
        "footer",
        "form",
    ]
)


def named_boilerplate(node: LexborNode, attrs: dict[str, str | None]) -> bool:
    """Whether the element's class or id names boilerplate (a footer, a menu, comments...)."""
    bad = _bad_name(f"{attrs.get('class') or ''} {attrs.get('id') or ''}")
    return bad == _BAD or (bad == _LINKING and node.css_first("a[href]") is not None)


_GOOD, _LINKING, _BAD = 0, 1, 2


@lru_cache(maxsize=8192)
def name_tokens(names: str) -> tuple[str, ...]:
    """The lowercased words of class or id names, split at non-letters and camelCase humps."""
    return tuple(token.lower() for token in _TOKEN.findall(names))


@lru_cache(maxsize=8192)
def _bad_name(names: str) -> int:
    """Whether a "class id" string names boilerplate (cached: sites repeat their names)."""
    tokens = name_tokens(names)
    if not _BAD_TOKENS.isdisjoint(tokens):
        return _BAD
    # compounds written in parts ("news-letter", "side_bar") or run together ("sharebox")
    joined = {a + b for a, b in pairwise(tokens)}
    if not _BAD_TOKENS.isdisjoint(joined) or any(t.startswith(_BAD_STEMS) for t in tokens):
        return _BAD
    return _GOOD if _LINKING_TOKENS.isdisjoint(tokens) else _LINKING


def _hidden(attrs: dict[str, str | None]) -> bool:
    if "hidden" in attrs or attrs.get("aria-hidden") == "true":
        return True
    style = attrs.get("style")
    return bool(style) and _HIDDEN_STYLE.search(style or "") is not None


class Skipper:
    """The predicate the Markdown walk asks of each element: leave this subtree out?"""

    __slots__ = ("keep_len",)

    def __init__(self, root_len: int) -> None:
        # A named block holding most of the content is a wrapper, not boilerplate.
        self.keep_len = max(root_len // 2, 400)

    def __call__(self, node: LexborNode) -> bool:
        tag = node.tag or ""
        if tag in _DROP_TAGS:
            return True
        attrs = node.attributes
        if attrs:
            if attrs.get("role") in _ROLES or _hidden(attrs):
                return True
            if (
                tag not in _NAMED_CONTENT
                and named_boilerplate(node, attrs)
                and text_len(node) < self.keep_len
            ):
                return True
        if tag in _LINKY:
            return self._linky(node, tag)
        return False

    def _linky(self, node: LexborNode, tag: str) -> bool:
        """Mostly links: a menu, a tag list, a "related" list."""
        anchors = node.css("a")
        if not anchors:
            return tag == "footer" or (tag == "header" and node.css_first("h1, h2, p") is None)
        length = text_len(node)
        if length == 0:
            return node.css_first("img") is None
        links = sum(len(a.text(deep=True, strip=True)) for a in anchors)
        limit = 0.8 if tag == "p" else 0.5
        return links > limit * length and (length < 2000 or links > 0.8 * length)
