"""What a page says about itself, from the lexbor tree before its scripts are stripped: JSON-LD,
OpenGraph, Twitter cards and microdata (:mod:`scraper.parse.microdata`), and the columns derived
from them: canonical URL, language, publication dates, author. Pure; never raises on any tree."""

import json
import re
from dataclasses import replace
from datetime import UTC, datetime

from selectolax.lexbor import LexborHTMLParser

from scraper.models import PageMetadata
from scraper.parse.langdetect import detect_language
from scraper.parse.microdata import JsonValue, microdata
from scraper.parse.simhash import simhash
from scraper.urls import join_url

_OG_PREFIXES = frozenset(["og", "article", "book", "profile", "product", "music", "video"])
# Strings are kept; JS comments, HTML comment markers and trailing commas go (lenient reading).
_JSON_JUNK = re.compile(
    r'("(?:\\.|[^"\\])*")|/\*.*?\*/|//[^\n]*|<!--|-->|<!\[CDATA\[|\]\]>|,(?=\s*[\]}])', re.S
)
_HTML_COMMENT = re.compile(r'("(?:\\.|[^"\\])*")|<!--.*?-->|/\*.*?\*/|//[^\n]*|,(?=\s*[\]}])', re.S)
_DATE_METAS = (
    ("published", "article:published_time"),
    ("modified", "article:modified_time"),
    ("modified", "og:updated_time"),
)
_META_DATE_NAMES = (
    "date",
    "pubdate",
    "publishdate",
    "dc.date.issued",
    "dc.date",
    "dcterms.created",
)


def _keep_strings(match: re.Match[str]) -> str:
    return match.group(1) or ""


def _load(text: str) -> object:
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text, strict=False)
    except ValueError:
        pass
    for junk in (_HTML_COMMENT, _JSON_JUNK):  # whole <!-- notes -->, else just the markers
        try:
            cleaned = junk.sub(_keep_strings, junk.sub(_keep_strings, text))  # then the commas
            return json.loads(cleaned, strict=False)
        except ValueError:
            pass
    return None


def json_ld(tree: LexborHTMLParser) -> list[JsonValue]:
    """Every top-level object of every JSON-LD script, in order; unreadable scripts skipped."""
    items: list[JsonValue] = []
    for node in tree.css('script[type="application/ld+json" i]'):
        value = _load(node.text(deep=True))
        for item in value if isinstance(value, list) else [value]:
            if item:
                items.append(item)
    return items


def _prefixes(tree: LexborHTMLParser) -> set[str]:
    """The OpenGraph prefixes: the known ones, and those a ``prefix`` attribute declares."""
    known = set(_OG_PREFIXES)
    for node in tree.css("html[prefix], head[prefix]"):
        words = (node.attributes.get("prefix") or "").split()
        known.update(w[:-1] for w in words if w.endswith(":"))
    return known


def meta_pairs(tree: LexborHTMLParser) -> tuple[list[list[str]], list[list[str]]]:
    """(OpenGraph, Twitter) (property, content) pairs in document order, repeats kept."""
    prefixes = _prefixes(tree)
    opengraph: list[list[str]] = []
    twitter: list[list[str]] = []
    for node in tree.css("meta[property], meta[name]"):
        attrs = node.attributes
        content = attrs.get("content")
        prop = (attrs.get("property") or "").strip()
        name = prop or (attrs.get("name") or "").strip()
        if content is None or ":" not in name:
            continue
        prefix = name.split(":", 1)[0].lower()
        if prefix == "twitter":
            twitter.append([name, content])
        elif prop and prefix in prefixes:
            opengraph.append([prop, content])
    return opengraph, twitter


def iso_date(value: object) -> str | None:
    """An ISO 8601 date or date-time, normalized (UTC ``Z`` when it had an offset), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace(" ", "T", 1)
    try:
        when = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if len(text) <= 10 and "T" not in text:
        return when.date().isoformat()
    if when.tzinfo is not None:
        return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return when.isoformat()


def _ld_nodes(items: list[JsonValue]) -> list[dict[str, JsonValue]]:
    nodes: list[dict[str, JsonValue]] = []
    for item in items:
        if isinstance(item, dict):
            nodes.append(item)
            graph = item.get("@graph")
            nodes.extend(g for g in graph if isinstance(g, dict)) if isinstance(
                graph, list
            ) else None
    return nodes


def _name(value: object) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name")
    return " ".join(value.split()) or None if isinstance(value, str) else None


def _first(*values: object) -> object:
    return next((v for v in values if v), None)


def _canonical(tree: LexborHTMLParser, base: str) -> str | None:
    node = tree.css_first('link[rel~="canonical" i][href]')
    href = node.attributes.get("href") if node is not None else None
    return join_url(base, href) if href else None


def _lang(tree: LexborHTMLParser) -> str | None:
    node = tree.css_first("html[lang]")
    lang = (node.attributes.get("lang") or "").strip() if node is not None else ""
    return lang.replace("_", "-").lower() or None


def page_metadata(tree: LexborHTMLParser, base: str) -> PageMetadata:
    """The page's structured data and derived columns; ``text`` (lang, simhash) filled later."""
    ld = json_ld(tree)
    opengraph, twitter = meta_pairs(tree)
    items = microdata(tree, base)
    og = {p.lower(): c for p, c in reversed(opengraph) if c}
    nodes = _ld_nodes(ld)
    metas = {
        (n.attributes.get("name") or n.attributes.get("itemprop") or "").lower(): (
            n.attributes.get("content") or ""
        )
        for n in tree.css("meta[name][content], meta[itemprop][content]")
    }
    time = tree.css_first("time[datetime]")
    published = _first(
        *(iso_date(n.get("datePublished")) for n in nodes),
        iso_date(og.get("article:published_time")),
        *(iso_date(metas.get(name)) for name in ("datepublished", *_META_DATE_NAMES)),
        iso_date(time.attributes.get("datetime") if time is not None else None),
    )
    modified = _first(
        *(iso_date(n.get("dateModified")) for n in nodes),
        iso_date(og.get("article:modified_time")),
        iso_date(og.get("og:updated_time")),
        iso_date(metas.get("datemodified")),
    )
    author = _first(
        *(_name(n.get("author")) for n in nodes),
        _name(metas.get("author")),
        _name(og.get("article:author")),
    )
    document: dict[str, JsonValue] = {
        "json_ld": ld,
        "opengraph": opengraph,
        "twitter": twitter,
        "microdata": items,
    }
    return PageMetadata(
        document=document,
        canonical_url=_canonical(tree, base),
        lang=_lang(tree),
        published_at=str(published) if published else None,
        modified_at=str(modified) if modified else None,
        author=str(author) if author else None,
    )


def with_text(meta: PageMetadata, text: str) -> PageMetadata:
    """``meta`` with what the main text gives: the language when the page declares none, and
    the simhash."""
    lang = meta.lang or detect_language(text)
    return replace(meta, lang=lang, simhash=simhash(text))
