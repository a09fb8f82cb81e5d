"""Custom extraction: ``[extract.NAME]`` rules evaluated with selectolax on a parsed page.

Each rule maps a field name to a CSS selector, taking the element's visible text (whitespace
collapsed) or one of its attributes, the first match or all of them, on every page or only on
pages whose URL matches a pattern. The result is the JSON object stored in ``pages.data``.
"""

import functools
import re
from collections.abc import Iterable

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.errors import UsageError
from scraper.models import ExtractedValue, ExtractRule

_PROBE = "<html><body><p>probe</p></body></html>"


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


def _value(node: LexborNode, attr: str | None) -> str | None:
    if attr is not None:
        return node.attributes.get(attr)
    return " ".join(node.text(separator=" ", strip=True).split())


def extract_fields(
    tree: LexborHTMLParser, url: str, rules: Iterable[ExtractRule]
) -> dict[str, ExtractedValue] | None:
    """The fields of the rules that apply to ``url``; None when no rule applies.

    Call it before anything strips or unwraps elements of ``tree``.
    """
    data: dict[str, ExtractedValue] = {}
    for rule in rules:
        if rule.url is not None and not _pattern(rule.url).search(url):
            continue
        if rule.all:
            values = (_value(node, rule.attr) for node in tree.css(rule.selector))
            data[rule.name] = [v for v in values if v is not None]
        else:
            node = tree.css_first(rule.selector)
            data[rule.name] = None if node is None else _value(node, rule.attr)
    return data or None
