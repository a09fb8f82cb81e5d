"""HTML microdata (WHATWG "Microdata") from a lexbor tree: the top-level items, each
``{"type", "id"?, "properties"}`` as extruct gives them (a property with one value is a scalar,
with several a list; an item without properties has a ``value``). ``itemref`` is followed and
URL values are absolute (``urljoin``, unnormalized: what the page says). Pure: it reads the
tree and never changes it."""

from collections.abc import Iterator
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

JsonValue = object  # what json.dumps takes: str, list, dict

_SRC = frozenset({"audio", "embed", "iframe", "img", "source", "track", "video"})
_HREF = frozenset({"a", "area", "link"})
_HTML_SPACE = " \t\n\r\x0c"


def microdata(tree: LexborHTMLParser, base: str) -> list[dict[str, JsonValue]]:
    """Every top-level item (an ``itemscope`` that is not an ``itemprop``), in document order."""
    scopes = tree.css("[itemscope]")
    if not scopes:
        return []
    ids: dict[str, LexborNode] | None = None
    if any("itemref" in node.attributes for node in scopes):
        ids = {n.attributes.get("id") or "": n for n in tree.css("[id]")}
    return [_item(node, base, ids or {}, 0) for node in scopes if "itemprop" not in node.attributes]


def _item(
    node: LexborNode, base: str, ids: dict[str, LexborNode], depth: int
) -> dict[str, JsonValue]:
    attrs = node.attributes
    item: dict[str, JsonValue] = {}
    types = (attrs.get("itemtype") or "").split()
    if types:
        item["type"] = types[0] if len(types) == 1 else types
    itemid = (attrs.get("itemid") or "").strip(_HTML_SPACE)
    if itemid:
        item["id"] = itemid
    props: dict[str, list[JsonValue]] = {}
    for prop in _property_nodes(node, ids):
        value = _value(prop, base, ids, depth)
        for name in (prop.attributes.get("itemprop") or "").split():
            props.setdefault(name, []).append(_action(name, prop, value))
    if props:
        item["properties"] = {k: v[0] if len(v) == 1 else v for k, v in props.items()}
    else:
        item["value"] = _value(node, base, ids, depth, nested=False)
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


def _property_nodes(item: LexborNode, ids: dict[str, LexborNode]) -> Iterator[LexborNode]:
    """The elements whose ``itemprop`` belongs to ``item``: its descendants outside nested
    items, then those of the elements its ``itemref`` names."""
    yield from _walk(item)
    for ref in (item.attributes.get("itemref") or "").split():
        target = ids.get(ref)
        if target is None or target is item:
            continue
        if "itemprop" in target.attributes:
            yield target
            if "itemscope" in target.attributes:
                continue
        yield from _walk(target)  # an itemscope alone lends its properties (as extruct does)


def _walk(node: LexborNode) -> Iterator[LexborNode]:
    for child in node.iter():
        attrs = child.attributes
        if "itemprop" in attrs:
            yield child
        if "itemscope" not in attrs:
            yield from _walk(child)


def _url(base: str, value: str | None) -> str:
    value = (value or "").strip(_HTML_SPACE)
    try:
        return urljoin(base, value)
    except ValueError:  # an invalid IPv6 host, say
        return value


def _value(
    node: LexborNode, base: str, ids: dict[str, LexborNode], depth: int, *, nested: bool = True
) -> JsonValue:
    attrs = node.attributes
    tag = node.tag or ""
    if nested and "itemscope" in attrs and depth < 32:
        return _item(node, base, ids, depth + 1)
    if tag == "meta":
        return attrs.get("content") or ""
    if tag in _SRC:
        return _url(base, attrs.get("src"))
    if tag in _HREF:
        return _url(base, attrs.get("href"))
    if tag == "object":
        return _url(base, attrs.get("data"))
    if tag in ("data", "meter"):
        return attrs.get("value") or ""
    if tag == "time" and attrs.get("datetime"):
        return attrs.get("datetime") or ""
    if attrs.get("content"):
        return attrs.get("content") or ""
    return " ".join(_text(node).split())


def _text(node: LexborNode) -> str:
    """The element's text without its scripts and styles (a copy is stripped, not the tree)."""
    if node.css_first("script, style") is None:
        return node.text(separator=" ")
    copy = LexborHTMLParser(node.html or "")
    copy.strip_tags(["script", "style"], recursive=True)
    root = copy.body or copy.root
    return root.text(separator=" ") if root is not None else ""
