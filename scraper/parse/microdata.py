"""HTML microdata (WHATWG "Microdata") from a lexbor tree: the top-level items, each
``{"type", "id"?, "properties"}`` as extruct gives them (a property with one value is a scalar,
with several a list; an item without properties has a ``value``). ``itemref`` is followed and
URL values are absolute (``urljoin``, unnormalized: what the page says). Pure: it reads the
tree and never changes it."""

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.parse.plain import collapse_whitespace

JsonValue = object  # what json.dumps takes: str, list, dict

_SRC = frozenset({"audio", "embed", "iframe", "img", "source", "track", "video"})
_HREF = frozenset({"a", "area", "link"})
_HTML_SPACE = " \t\n\r\x0c"


def microdata(tree: LexborHTMLParser, base: str) -> list[dict[str, JsonValue]]:
    """Every top-level item (an ``itemscope`` that is not an ``itemprop``), in document order."""
    return items_of(tree, tree.css("[itemscope]"), base, tree.css("script, style"))


def items_of(
    tree: LexborHTMLParser, scopes: list[LexborNode], base: str, hidden: list[LexborNode]
) -> list[dict[str, JsonValue]]:
    """:func:`microdata` given the tree's ``itemscope`` elements (in document order) and its
    ``script`` and ``style`` elements (whose text no value has)."""
    if not scopes:
        return []
    ids: dict[str, LexborNode] = {}
    if any("itemref" in node.attributes for node in scopes):
        ids = {n.attributes.get("id") or "": n for n in tree.css("[id]")}
    nested = frozenset(n.mem_id for n in scopes) if len(scopes) > 1 else frozenset[int]()
    doc = _Doc(base, ids, nested, _ancestors(hidden))
    return [_item(node, doc, 0) for node in scopes if "itemprop" not in node.attributes]


@dataclass(frozen=True, slots=True)
class _Doc:
    """What every item of a document reads: the base URL, elements by id (for ``itemref``),
    the mem_ids of its ``itemscope`` elements (none when there is only one)."""

    base: str
    ids: dict[str, LexborNode]
    scopes: frozenset[int]
    hiding: frozenset[int]  # mem_ids of the elements that hold a script or style


def _ancestors(nodes: list[LexborNode]) -> frozenset[int]:
    """The mem_ids of every ancestor of ``nodes`` (a few climbs, once per document: instead of
    a css query in each text value's subtree)."""
    found: set[int] = set()
    for node in nodes:
        up = node.parent
        while up is not None and up.mem_id not in found:
            found.add(up.mem_id)
            up = up.parent
    return frozenset(found)


def _item(node: LexborNode, doc: _Doc, depth: int) -> dict[str, JsonValue]:
    attrs = node.attributes
    item: dict[str, JsonValue] = {}
    types = (attrs.get("itemtype") or "").split()
    if types:
        item["type"] = types[0] if len(types) == 1 else types
    itemid = (attrs.get("itemid") or "").strip(_HTML_SPACE)
    if itemid:
        item["id"] = itemid
    props: dict[str, list[JsonValue]] = {}
    for prop in _property_nodes(node, doc):
        value = _value(prop, doc, depth)
        for name in (prop.attributes.get("itemprop") or "").split():
            props.setdefault(name, []).append(_action(name, prop, value))
    if props:
        item["properties"] = {k: v[0] if len(v) == 1 else v for k, v in props.items()}
    else:
        item["value"] = _value(node, doc, depth, nested=False)
    return item


def _action(name: str, node: LexborNode, value: JsonValue) -> JsonValue:
    """schema.org ``*-input`` / ``*-output`` action properties, as extruct reads them: from
    the element's ``required`` and ``name`` attributes (``<input>``), or its text."""
    if not name.endswith(("-input", "-output")):
        return value
    attrs = node.attributes
    spec: dict[str, JsonValue] = {}
    if node.tag == "input" or not isinstance(value, str):
        if "required" in attrs:
            spec["valueRequired"] = True
        if attrs.get("name"):
            spec["valueName"] = attrs.get("name")
        return spec
    for part in value.split():
        key, _, val = part.partition("=")
        if key == "required":
            spec["valueRequired"] = True
        elif key == "name" and val:
            spec["valueName"] = val
    return spec


def _property_nodes(item: LexborNode, doc: _Doc) -> Iterator[LexborNode]:
    """The elements whose ``itemprop`` belongs to ``item``: its descendants outside nested
    items, then those of the elements its ``itemref`` names."""
    yield from _walk(item, doc.scopes)
    for ref in (item.attributes.get("itemref") or "").split():
        target = doc.ids.get(ref)
        if target is None or target.mem_id == item.mem_id:
            continue
        if "itemprop" in target.attributes:
            yield target
            if "itemscope" in target.attributes:
                continue
        yield from _walk(
            target, doc.scopes
        )  # an itemscope alone lends its properties (as extruct does)


def _walk(node: LexborNode, scopes: frozenset[int]) -> Iterator[LexborNode]:
    """The ``itemprop`` descendants of ``node`` not inside a nested ``itemscope``: one css walk
    in lexbor; a climb towards ``node`` from each only when the page has other items
    (``scopes``: the mem_ids of all its ``itemscope`` elements)."""
    own = node.mem_id  # (== on nodes compares their serialized HTML: slow)
    nested = scopes - {own}
    for prop in node.css("[itemprop]"):
        if prop.mem_id == own:  # lexbor's css() may match the node itself
            continue
        if nested and _inside(prop, own, nested):
            continue
        yield prop


def _inside(prop: LexborNode, item: int, nested: frozenset[int]) -> bool:
    """Is ``prop`` inside one of the ``nested`` items below ``item`` (mem_ids)?"""
    up = prop.parent
    while up is not None and up.mem_id != item:
        if up.mem_id in nested:
            return True
        up = up.parent
    return False


def _url(base: str, value: str | None) -> str:
    value = (value or "").strip(_HTML_SPACE)
    try:
        return urljoin(base, value)
    except ValueError:  # an invalid IPv6 host, say
        return value


def _value(node: LexborNode, doc: _Doc, depth: int, *, nested: bool = True) -> JsonValue:
    attrs = node.attributes
    tag = node.tag or ""
    if nested and "itemscope" in attrs and depth < 32:
        return _item(node, doc, depth + 1)
    if tag == "meta":
        return attrs.get("content") or ""
    if tag in _SRC:
        return _url(doc.base, attrs.get("src"))
    if tag in _HREF:
        return _url(doc.base, attrs.get("href"))
    if tag == "object":
        return _url(doc.base, attrs.get("data"))
    if tag in ("data", "meter"):
        return attrs.get("value") or ""
    if tag == "time" and attrs.get("datetime"):
        return attrs.get("datetime") or ""
    if attrs.get("content"):
        return attrs.get("content") or ""
    return collapse_whitespace(_text(node, doc))


def _text(node: LexborNode, doc: _Doc) -> str:
    """The element's text without its scripts and styles (a copy is stripped, not the tree)."""
    if node.mem_id not in doc.hiding:
        return node.text(separator=" ", strip=True, skip_empty=True)
    copy = LexborHTMLParser(node.html or "")
    copy.strip_tags(["script", "style"], recursive=True)
    root = copy.body or copy.root
    return root.text(separator=" ") if root is not None else ""
