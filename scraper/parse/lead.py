"""The article's lead (standfirst, intro, excerpt) when it stands before the main content's root,
in the article's header rather than in its body (issue 26): news and blog templates put the
summary paragraph next to the title, outside the block that holds the text.

Found by class/id name tokens only ("article-lead", "entry-excerpt", "introText"), in the
elements before the root inside its article (at most a few levels up), and kept when it reads
as prose: long enough and not a list of links.
"""

from selectolax.lexbor import LexborNode

from scraper.parse.blocks import text_len
from scraper.parse.boilerplate import name_tokens

_LEADS = (
    "lead",
    "intro",
    "excerpt",
    "standfirst",
    "summary",
    "abstract",
    "teaser",
    "chapo",
    "deck",
)
_LEAD_TOKENS = frozenset(_LEADS)
# What the names above hold, matched by lexbor itself so that few elements reach the tokenizer.
_SELECTOR = ", ".join(f"[{attr}*={part} i]" for attr in ("class", "id") for part in _LEADS)
_UP = 4  # levels above the root searched
_STOP = frozenset(["article", "main", "body"])  # the lead is not looked for above these
MIN_LEAD = 40  # a lead shorter than this is a label, not a paragraph


def _lead(node: LexborNode) -> bool:
    attrs = node.attributes
    names = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
    if _LEAD_TOKENS.isdisjoint(name_tokens(names)):
        return False
    length = text_len(node)
    if length < MIN_LEAD:
        return False
    links = sum(len(a.text(deep=True, strip=True)) for a in node.css("a"))
    return links <= 0.3 * length


def _found(sibling: LexborNode) -> LexborNode | None:
    if _lead(sibling):
        return sibling
    return next((node for node in sibling.css(_SELECTOR) if _lead(node)), None)


def leads(root: LexborNode) -> list[LexborNode]:
    """The lead before ``root`` in its article, as a list of none (usually) or one element."""
    node = root
    for _ in range(_UP):
        parent = node.parent
        if parent is None or (node.tag or "") in _STOP:
            break
        sibling = node.prev
        while sibling is not None:
            if sibling.is_element_node:
                lead = _found(sibling)
                if lead is not None:
                    return [lead]
            sibling = sibling.prev
        node = parent
    return []
