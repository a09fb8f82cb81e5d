"""Custom extraction: ``[extract.NAME]`` rules evaluated with selectolax on a parsed page.

Each rule maps a field name to a CSS selector, taking the element's visible text (whitespace
collapsed) or one of its attributes, the first match or all of them, on every page or only on
pages whose URL matches a pattern. The result is the JSON object stored in ``pages.data``.
Attributes that hold a URL (``href``, ``src``, ``action``, ``poster``, ``data-src``) are resolved
against the document base URL (``<base href>``, else the page's URL), as a browser would.
"""

import functools
import re
import urllib.parse
from collections.abc import Iterable

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.errors import UsageError
from scraper.models import ExtractedValue, ExtractRule

_PROBE = "<html><body><p>probe</p></body></html>"
# Attributes whose value is one URL, resolved against the base URL (srcset, a list, is not).
URL_ATTRIBUTES = frozenset({"href", "src", "action", "poster", "data-src"})


def check_rules(rules: Iterable[ExtractRule]) -> None:
    """Raise UsageError naming the first rule whose CSS selector lexbor cannot parse."""
    probe = LexborHTMLParser(_PROBE)
    for rule in rules:
        try:
            probe.css(rule.selector)
        except Exception:  # selectolax raises its own SelectolaxError (no public base class)
            raise UsageError(f"[extract.{rule.name}]: bad CSS selector {rule.selector!r}") from None


@functools.lru_cache(maxsize=256)
def _pattern(url_regex: str) -> re.Pattern[str]:
    return re.compile(url_regex)


def _value(node: LexborNode, attr: str | None, base: str) -> str | None:
    if attr is None:
        return " ".join(node.text(separator=" ", strip=True).split())
    value = node.attributes.get(attr)
    if value is None or attr.lower() not in URL_ATTRIBUTES:
        return value
    return _absolute(base, value)


def _absolute(base: str, value: str) -> str:
    """``value`` resolved against ``base`` (mailto:, data: and other schemes kept as they are);
    an empty or unparsable value (``http://[oops``) is kept as written."""
    href = value.strip()
    if not href:
        return value
    try:
        return urllib.parse.urljoin(base, href)
    except ValueError:
        return value


def extract_fields(
    tree: LexborHTMLParser, url: str, rules: Iterable[ExtractRule], base: str | None = None
) -> dict[str, ExtractedValue] | None:
    """The fields of the rules that apply to ``url``; None when no rule applies.

    URL attributes are resolved against ``base``, the document base URL (default: ``url``).
    Call it before anything strips or unwraps elements of ``tree``.
    """
    base = base or url
    data: dict[str, ExtractedValue] = {}
    for rule in rules:
        if rule.url is not None and not _pattern(rule.url).search(url):
            continue
        if rule.all:
            values = (_value(node, rule.attr, base) for node in tree.css(rule.selector))
            data[rule.name] = [v for v in values if v is not None]
        else:
            node = tree.css_first(rule.selector)
            data[rule.name] = None if node is None else _value(node, rule.attr, base)
    return data or None
