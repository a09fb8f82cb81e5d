"""Whether an HTML page is a shell that JavaScript fills (``--render auto``): pure, picklable.

A page needs rendering when its visible text is tiny, under :data:`TINY_TEXT` characters
(whitespace collapsed; ``script``, ``style``, ``noscript`` and ``template`` left out), and at
least one of these holds:

- an application root: an element ``id="root"``, ``"app"``, ``"__next"``, ``"__nuxt"``,
  ``"___gatsby"`` or ``"svelte"``, or one carrying ``data-reactroot`` or ``ng-version``, with
  less than :data:`EMPTY_ROOT` characters of text;
- a ``<noscript>`` whose text mentions JavaScript ("You need to enable JavaScript...");
- the script outweighs the text: inline script characters plus :data:`EXTERNAL_SCRIPT` per
  ``<script src>`` reach :data:`SCRIPT_WEIGHT` and :data:`SCRIPT_RATIO` times the text.

A page without any ``<script`` is never rendered, and costs only that byte search.
"""

from selectolax.lexbor import LexborHTMLParser

TINY_TEXT = 200
EMPTY_ROOT = 20
EXTERNAL_SCRIPT = 2048
SCRIPT_WEIGHT = 2048
SCRIPT_RATIO = 5
_ROOTS = ("root", "app", "__next", "__nuxt", "___gatsby", "svelte")
_ROOT_SELECTOR = ", ".join(
    [*(f'[id="{name}"]' for name in _ROOTS), "[data-reactroot]", "[ng-version]"]
)
_HIDDEN = ("script", "style", "noscript", "template")


def needs_render(body: bytes) -> bool:
    """Whether the HTML ``body`` is a page its scripts build (see the module's rules)."""
    if b"<script" not in body and b"<SCRIPT" not in body:
        return False
    tree = LexborHTMLParser(body)
    scripts = tree.css("script")
    weight = sum(EXTERNAL_SCRIPT if s.attributes.get("src") else len(s.text()) for s in scripts)
    noscripts = [n.text() for n in tree.css("noscript")]
    roots = [len(_words(r.text())) for r in tree.css(_ROOT_SELECTOR)]
    root = tree.body or tree.root
    if root is None:
        return False
    for tag in _HIDDEN:
        for node in root.css(tag):
            node.decompose()
    text = len(_words(root.text(separator=" ")))
    if text >= TINY_TEXT:
        return False
    if any(n < EMPTY_ROOT for n in roots):
        return True
    if any("javascript" in n.lower() for n in noscripts):
        return True
    return weight >= SCRIPT_WEIGHT and weight >= SCRIPT_RATIO * text


def _words(text: str) -> str:
    return " ".join(text.split())
