"""What a page says about itself, from the lexbor tree before its scripts are stripped: JSON-LD,
OpenGraph, Twitter cards and microdata (:mod:`scraper.parse.microdata`), and the columns derived
from them: canonical URL, language, publication dates, author. Pure; never raises on any tree."""

import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.models import PageMetadata
from scraper.parse.langdetect import detect_language
from scraper.parse.microdata import JsonValue, items_of
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


_LD = 'script[type="application/ld+json" i]'
# Everything the metadata reads, in one walk of the tree (a css query costs about the same for
# one selector as for six: the walk dominates, so one query instead of nine saves ~0.2 ms).
_ONE_WALK = (
    'script, style, meta, link[rel~="canonical" i][href], time[datetime], [itemscope], [prefix]'
)


def _ld_items(scripts: list[LexborNode]) -> list[JsonValue]:
    items: list[JsonValue] = []
    for node in scripts:
        value = _load(node.text(deep=True))
        for item in value if isinstance(value, list) else [value]:
            if item:
                items.append(item)
    return items


def json_ld(tree: LexborHTMLParser) -> list[JsonValue]:
    """Every top-level object of every JSON-LD script, in order; unreadable scripts skipped."""
    return _ld_items(tree.css(_LD))


def _prefixes(nodes: list[LexborNode]) -> set[str]:
    """The OpenGraph prefixes: the known ones, and those a ``prefix`` attribute of ``<html>`` or
    ``<head>`` declares."""
    known = set(_OG_PREFIXES)
    for node in nodes:
        if node.tag in ("html", "head"):
            words = (node.attributes.get("prefix") or "").split()
            known.update(w[:-1] for w in words if w.endswith(":"))
    return known


def meta_pairs(tree: LexborHTMLParser) -> tuple[list[list[str]], list[list[str]]]:
    """(OpenGraph, Twitter) (property, content) pairs in document order, repeats kept."""
    return _pairs(
        [n.attributes for n in tree.css("meta")], _prefixes(tree.css("html[prefix], head[prefix]"))
    )


def _pairs(
    metas: list[dict[str, str | None]], prefixes: set[str]
) -> tuple[list[list[str]], list[list[str]]]:
    opengraph: list[list[str]] = []
    twitter: list[list[str]] = []
    for attrs in metas:
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


def _first_date(*values: object) -> str | None:
    """The first of ``values`` that reads as a date (only those given are parsed)."""
    return next((d for d in (iso_date(v) for v in values if v) if d), None)


def _lang(tree: LexborHTMLParser) -> str | None:
    root = tree.root
    lang = (root.attributes.get("lang") or "").strip() if root is not None else ""
    return lang.replace("_", "-").lower() or None


@dataclass(slots=True)
class _Found:
    """The elements of the one walk, by what reads them."""

    scripts: list[LexborNode] = field(default_factory=list)  # JSON-LD
    hidden: list[LexborNode] = field(default_factory=list)  # every script and style
    metas: list[dict[str, str | None]] = field(default_factory=list)
    scopes: list[LexborNode] = field(default_factory=list)
    prefixed: list[LexborNode] = field(default_factory=list)
    canonical: str | None = None
    time: str | None = None


def _walk(tree: LexborHTMLParser) -> _Found:
    found = _Found()
    for node in tree.css(_ONE_WALK):
        tag = node.tag
        attrs = node.attributes
        if tag == "meta":
            found.metas.append(attrs)
        elif tag in ("script", "style"):
            found.hidden.append(node)
            if (attrs.get("type") or "").lower() == "application/ld+json":
                found.scripts.append(node)
        elif tag == "link" and found.canonical is None and attrs.get("href"):
            found.canonical = attrs.get("href")
        elif tag == "time" and found.time is None:
            found.time = attrs.get("datetime")
        if "itemscope" in attrs:
            found.scopes.append(node)
        if "prefix" in attrs:
            found.prefixed.append(node)
    return found


def _dates_author(
    nodes: list[dict[str, JsonValue]], og: dict[str, str], found: _Found
) -> tuple[object, object, object]:
    metas = {
        (a.get("name") or a.get("itemprop") or "").lower(): a.get("content") or ""
        for a in found.metas
        if a.get("content") and (a.get("name") or a.get("itemprop"))
    }
    published = _first_date(
        *(n.get("datePublished") for n in nodes),
        og.get("article:published_time"),
        *(metas.get(name) for name in ("datepublished", *_META_DATE_NAMES)),
        found.time,
    )
    modified = _first_date(
        *(n.get("dateModified") for n in nodes),
        og.get("article:modified_time"),
        og.get("og:updated_time"),
        metas.get("datemodified"),
    )
    author = _first(
        *(_name(n.get("author")) for n in nodes),
        _name(metas.get("author")),
        _name(og.get("article:author")),
    )
    return published, modified, author


def page_metadata(tree: LexborHTMLParser, base: str) -> PageMetadata:
    """The page's structured data and derived columns; ``text`` (lang, simhash) filled later."""
    found = _walk(tree)
    ld = _ld_items(found.scripts)
    opengraph, twitter = _pairs(found.metas, _prefixes(found.prefixed))
    og = {p.lower(): c for p, c in reversed(opengraph) if c}
    published, modified, author = _dates_author(_ld_nodes(ld), og, found)
    document: dict[str, JsonValue] = {
        "json_ld": ld,
        "opengraph": opengraph,
        "twitter": twitter,
        "microdata": items_of(tree, found.scopes, base, found.hidden),
    }
    return PageMetadata(
        document=document,
        canonical_url=join_url(base, found.canonical) if found.canonical else None,
        lang=_lang(tree),
        published_at=str(published) if published else None,
        modified_at=str(modified) if modified else None,
        author=str(author) if author else None,
    )


def with_text(meta: PageMetadata, text: str, content_language: str | None = None) -> PageMetadata:
    """``meta`` with what the main text gives: the language when neither the page nor its
    Content-Language header (the first language it names) declares one, and the simhash."""
    header = (content_language or "").split(",")[0].strip().replace("_", "-").lower()
    lang = meta.lang or header or detect_language(text)
    return replace(meta, lang=lang, simhash=simhash(text))
