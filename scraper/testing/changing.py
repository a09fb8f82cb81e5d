"""A site whose pages change between rounds, for recrawl tests: ``make_changing_app(pages)``.

``app[ROUND]`` (a one-item list, the round number) is set by the test between crawls. Pages:
``/`` links to every other page of the round; ``/etag/{n}`` sends an ``ETag`` and answers
``If-None-Match`` with 304; ``/lm/{n}`` the same with ``Last-Modified``/``If-Modified-Since``;
``/plain/{n}`` sends neither; ``/noise`` changes only in markup (a token in an attribute) at
every request; ``/gone`` answers 404 from round 1; ``/fresh`` exists from round 1, linked only
from ``/etag/0``. Page 0 of each kind changes in round 1, the others never; ``/many/{n}``
(``pages`` of them, ETag, every tenth changing each round) make a bigger site. Every request is
logged in ``app[SEEN]``: (path, If-None-Match, If-Modified-Since, status, body bytes).
"""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from aiohttp import web

ROUND: web.AppKey[list[int]] = web.AppKey("round", list)
PAGES: web.AppKey[int] = web.AppKey("pages", int)


@dataclass(frozen=True, slots=True)
class Seen:
    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int
    body_bytes: int


SEEN: web.AppKey[list[Seen]] = web.AppKey("seen", list)
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _version(request: web.Request, changes: bool) -> int:
    return request.app[ROUND][0] if changes else 0


def _page(request: web.Request, title: str, body: str, headers: dict[str, str]) -> web.Response:
    text = f"<html><head><title>{title}</title></head><body>{body}</body></html>"
    return _log(request, web.Response(text=text, content_type="text/html", headers=headers))


def _log(request: web.Request, resp: web.Response) -> web.Response:
    size = len(resp.body) if isinstance(resp.body, bytes) else 0
    seen = Seen(request.path, request.headers.get("If-None-Match"),
                request.headers.get("If-Modified-Since"), resp.status, size)  # fmt: skip
    request.app[SEEN].append(seen)
    return resp


def _not_modified(request: web.Request, headers: dict[str, str]) -> web.Response:
    return _log(request, web.Response(status=304, headers=headers))


async def home(request: web.Request) -> web.Response:
    paths = ["/etag/0", "/etag/1", "/lm/0", "/lm/1", "/plain/0", "/plain/1", "/noise", "/gone"]
    paths += [f"/many/{n}" for n in range(request.app[PAGES])]
    links = "".join(f'<a href="{p}">{p}</a> ' for p in paths)
    return _page(request, "Home", f"<p>Everything here.</p>{links}", {})


async def etag(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    version = _version(request, n == 0)
    headers = {"ETag": f'"e{n}-v{version}"'}
    if request.headers.get("If-None-Match") == headers["ETag"]:
        return _not_modified(request, headers)
    extra = '<a href="/fresh">fresh</a>' if version else ""
    return _page(request, f"Etag {n}", f"<p>etag page {n} version {version}</p>{extra}", headers)


async def last_modified(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    version = _version(request, n == 0)
    modified = _EPOCH + timedelta(days=version)
    headers = {"Last-Modified": format_datetime(modified, usegmt=True)}
    since = request.headers.get("If-Modified-Since")
    if since == headers["Last-Modified"]:
        return _not_modified(request, headers)
    return _page(request, f"LM {n}", f"<p>dated page {n} version {version}</p>", headers)


async def plain(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    version = _version(request, n == 0)
    return _page(request, f"Plain {n}", f"<p>plain page {n} version {version}</p>", {})


async def noise(request: web.Request) -> web.Response:
    token = secrets.token_hex(8)
    body = f'<form data-csrf="{token}"><p>the same words every time</p></form>'
    return _page(request, "Noise", body, {})


async def gone(request: web.Request) -> web.Response:
    if request.app[ROUND][0] >= 1:
        return _log(request, web.Response(status=404, text="gone"))
    return _page(request, "Soon gone", "<p>here today</p>", {})


async def fresh(request: web.Request) -> web.Response:
    if request.app[ROUND][0] < 1:
        return _log(request, web.Response(status=404, text="not yet"))
    return _page(request, "Fresh", "<p>a new page</p>", {})


async def many(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    version = _version(request, n % 10 == 0)
    headers = {"ETag": f'"m{n}-v{version}"'}
    if request.headers.get("If-None-Match") == headers["ETag"]:
        return _not_modified(request, headers)
    return _page(request, f"Many {n}", f"<p>page {n} version {version}</p>", headers)


def make_changing_app(pages: int = 0) -> web.Application:
    app = web.Application()
    app[ROUND] = [0]
    app[PAGES] = pages
    app[SEEN] = []
    app.router.add_get("/", home)
    app.router.add_get("/etag/{n}", etag)
    app.router.add_get("/lm/{n}", last_modified)
    app.router.add_get("/plain/{n}", plain)
    app.router.add_get("/noise", noise)
    app.router.add_get("/gone", gone)
    app.router.add_get("/fresh", fresh)
    app.router.add_get("/many/{n}", many)
    return app
