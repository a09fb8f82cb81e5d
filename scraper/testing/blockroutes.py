"""Test-site pages that a blocking site answers instead of its content: ``/block/challenge``
(503, Cloudflare's "Just a moment..." interstitial), ``/block/captcha`` (403, a reCAPTCHA form),
``/block/turnstile`` (200, a small page with a Turnstile widget), ``/block/denied`` (200, a small
"Access Denied" page), ``/block/big/{n}`` (large ordinary pages, 20 KB, linking to the next) and
``/block/tiny`` (200, a few bytes where the host's pages are large); ``/block/hub`` links to
them all. ``/block/contact`` is a large page with a reCAPTCHA contact form: not a block."""

from aiohttp import web

from scraper.testing.traffic import html

_FILLER = "<p>" + "Ordinary words of an ordinary article. " * 500 + "</p>"
_CHALLENGE = (
    "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    '<div id="cf-chl-widget"></div><script src="/cdn-cgi/challenge-platform/h/b/orchestrate/'
    'chl_page/v1"></script></body></html>'
)
_CAPTCHA = (
    "<html><head><title>Verify</title><script src='https://www.google.com/recaptcha/api.js'>"
    "</script></head><body><form method=post><div class='g-recaptcha' data-sitekey='k'></div>"
    "</form></body></html>"
)
_TURNSTILE = "<div class='cf-turnstile' data-sitekey='k'></div>"
_DENIED = "<p>You don't have permission to access this server.</p>"


async def challenge(request: web.Request) -> web.Response:
    return web.Response(text=_CHALLENGE, status=503, content_type="text/html")


async def captcha(request: web.Request) -> web.Response:
    return web.Response(text=_CAPTCHA, status=403, content_type="text/html")


async def turnstile(request: web.Request) -> web.Response:
    return html("One more step", _TURNSTILE)


async def denied(request: web.Request) -> web.Response:
    return html("Access Denied", _DENIED)


async def big(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    return html(f"Article {n}", f'<a href="/block/big/{n + 1}">next</a>{_FILLER}')


async def tiny(request: web.Request) -> web.Response:
    return web.Response(text="<html><body>.</body></html>", content_type="text/html")


async def contact(request: web.Request) -> web.Response:
    return html("Contact", f"{_FILLER}<form><div class='g-recaptcha'></div></form>")


async def hub(request: web.Request) -> web.Response:
    paths = ("challenge", "captcha", "turnstile", "denied", "contact", "big/0")
    links = "".join(f'<a href="/block/{p}">{p}</a>' for p in paths)
    return html("Block hub", links)


def add_block_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/block/hub", hub)
    router.add_get("/block/challenge", challenge)
    router.add_get("/block/captcha", captcha)
    router.add_get("/block/turnstile", turnstile)
    router.add_get("/block/denied", denied)
    router.add_get("/block/big/{n:\\d+}", big)
    router.add_get("/block/tiny", tiny)
    router.add_get("/block/contact", contact)
