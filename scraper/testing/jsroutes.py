"""Test-site pages built by JavaScript: ``/js/{n}`` is an empty ``#root`` that
``/js/app.js`` fills (after a ``fetch()`` of ``/js/data/{n}.json``) with text and links, and
asks for an image, a font and ``/js/private.js?to=HOST`` (a script on ``?sub=HOST``, for the
private-address refusal); ``/js/static`` is an ordinary page; ``/js/many/{k}`` asks for ``k``
scripts at once (``/slow/300?i=...``)."""

from aiohttp import web

from scraper.testing.traffic import html

_SHELL = (
    "<!doctype html><html><head><title>App {n}</title>"
    "<style>@font-face{{font-family:F;src:url(/js/font.woff2)}} body{{font-family:F}}</style>"
    "</head><body><noscript>You need to enable JavaScript to run this app.</noscript>"
    '<div id="root"></div><img src="/js/pic.png">{sub}'
    '<script src="/js/app.js?n={n}"></script></body></html>'
)
APP_JS = """
const n = new URLSearchParams(document.currentScript.src.split('?')[1]).get('n');
fetch('/js/data/' + n + '.json').then(r => r.json()).then(d => {
  const root = document.getElementById('root');
  root.innerHTML = '<h1>' + d.title + '</h1><p>' + d.text + '</p>' +
    d.links.map(l => '<a href="' + l + '">' + l + '</a>').join(' ');
});
"""


async def shell(request: web.Request) -> web.Response:
    n = request.match_info["n"]
    sub = request.query.get("sub")
    script = f'<script src="http://{sub}/js/private.js"></script>' if sub else ""
    return web.Response(text=_SHELL.format(n=n, sub=script), content_type="text/html")


async def many(request: web.Request) -> web.Response:
    scripts = "".join(
        f'<script src="/slow/300?i={i}"></script>' for i in range(int(request.match_info["k"]))
    )
    return web.Response(
        text=f"<!doctype html><html><head>{scripts}</head><body><p>many</p></body></html>",
        content_type="text/html",
    )


async def app_js(request: web.Request) -> web.Response:
    return web.Response(text=APP_JS, content_type="application/javascript")


async def data(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    links = [f"/js/{n + 1}", "/js/static"]
    return web.json_response(
        {"title": f"Rendered {n}", "text": f"Text built by script for page {n}.", "links": links}
    )


async def static(request: web.Request) -> web.Response:
    return html(
        "Static", "<p>An ordinary page with plenty of text to read.</p><a href='/js/0'>app</a>"
    )


async def asset(request: web.Request) -> web.Response:
    return web.Response(body=b"\0" * 64, content_type="application/octet-stream")


def add_js_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/js/{n:\\d+}", shell)
    router.add_get("/js/app.js", app_js)
    router.add_get("/js/data/{n:\\d+}.json", data)
    router.add_get("/js/static", static)
    router.add_get("/js/many/{k:\\d+}", many)
    for path in ("/js/pic.png", "/js/font.woff2", "/js/private.js"):
        router.add_get(path, asset)
