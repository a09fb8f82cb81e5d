"""Login pages: the fields a login form sends (its hidden ones, CSRF tokens included), and
whether a page has what a login's ``success`` selector asks for. Pure functions of the page's
bytes, like the rest of ``parse``."""

from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.parse.html import html_tree
from scraper.urls import join_url

_NOT_SENT = frozenset({"submit", "button", "image", "reset", "file"})


@dataclass(frozen=True, slots=True)
class LoginForm:
    """A form as the browser would send it untouched: where (``action``, absolute), how
    (``method``, upper case) and its fields' current values, in document order."""

    action: str
    method: str
    fields: tuple[tuple[str, str], ...]


def find_login_form(
    body: bytes, charset: str | None, base_url: str, selector: str = ""
) -> LoginForm | None:
    """The login form of a page: the one ``selector`` picks, else the first with a password
    field, else the first form; None if the page has none (or its action is no URL)."""
    tree = html_tree(body, charset)
    form = _pick(tree, selector)
    if form is None:
        return None
    action = join_url(base_url, form.attributes.get("action") or base_url)
    if action is None:
        return None
    method = (form.attributes.get("method") or "get").upper()
    return LoginForm(action, "POST" if method == "POST" else "GET", tuple(_fields(form)))


def has_selector(body: bytes, charset: str | None, selector: str) -> bool:
    """Whether the page has an element ``selector`` matches."""
    return html_tree(body, charset).css_first(selector) is not None


def _pick(tree: LexborHTMLParser, selector: str) -> LexborNode | None:
    if selector:
        return tree.css_first(selector)
    forms = tree.css("form")
    with_password = [f for f in forms if f.css_first('input[type="password" i]') is not None]
    candidates = with_password or forms
    return candidates[0] if candidates else None


def _fields(form: LexborNode) -> list[tuple[str, str]]:
    """The (name, value) pairs the form sends as it stands (checked boxes, selected options)."""
    found = []
    for node in form.css("input, textarea, select"):
        name = node.attributes.get("name")
        if not name:
            continue
        if node.tag == "textarea":
            found.append((name, node.text(deep=True)))
        elif node.tag == "select":
            option = node.css_first("option[selected]") or node.css_first("option")
            if option is not None:
                found.append((name, option.attributes.get("value") or option.text(deep=True)))
        else:
            kind = (node.attributes.get("type") or "text").lower()
            checkable = kind in ("checkbox", "radio")
            if kind in _NOT_SENT or (checkable and "checked" not in node.attributes):
                continue
            found.append((name, node.attributes.get("value") or ("on" if checkable else "")))
    return found
