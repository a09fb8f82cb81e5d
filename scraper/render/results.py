"""What the Renderer is given for a page (:class:`Site`), what it answers
(:class:`RenderResult`) and its figures (:class:`RenderStats`)."""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RenderResult:
    """What the browser made of one page: its DOM after scripts ran, and how it got there."""

    url: str
    final_url: str
    status: int | None
    html: str
    requests: int  # sub-requests the page let through
    refused: int  # sub-requests refused inside the browser
    timed_out: bool  # ready by the timeout rather than network idle or ``wait_for``
    content_type: str = "text/html"  # of the page's own response (its MIME type)
    headers: tuple[tuple[str, str], ...] = ()  # of the page's own response


@dataclass(frozen=True, slots=True)
class Site:
    """What a page's requests carry: the site's User-Agent, its other headers and its cookies
    (name, value) for the page's URL; ``on_sent(at)`` is told when the page's own request goes
    out (``time.monotonic()``); ``proxy``: the proxy URL its requests go through (credentials
    expanded; ``""``: direct)."""

    user_agent: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    cookies: tuple[tuple[str, str], ...] = ()
    on_sent: Callable[[float], None] | None = None
    proxy: str = ""


@dataclass(slots=True)
class RenderStats:
    """The renderer as ``scraper status`` shows it."""

    tabs: int
    pages: int = 0
    restarts: int = 0
    recycles: int = 0
    refused: int = 0
    memory: int = 0  # bytes, of the browser's process tree at the last page

    def line(self) -> str:
        mb = self.memory / 1e6
        return (
            f"renderer: {self.tabs} tabs, {self.pages} pages rendered, {mb:.0f} MB, "
            f"{self.restarts} restarts, {self.recycles} recycles"
        )
