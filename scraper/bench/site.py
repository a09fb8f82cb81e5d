"""The bench's site: a deterministic set of static HTML pages, and a server for it.

:func:`generate_site` writes N pages that look like a real site's (markup, nav, cards, scripts,
about a quarter visible text; 10-40 KB, 20-60 links, some 404s and external links) to a
directory; :func:`serve` serves it on 127.0.0.1 from a separate process: nginx when it is
installed, else the standard library's threaded HTTP server (:mod:`scraper.bench.pyserver`).
"""

import contextlib
import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from scraper.errors import ScraperError
from scraper.testing import stop_process

SEED = 7
PAGE_BYTES = (10_000, 40_000)
LINKS = (20, 60)
SERVER_START_S = 10.0
NGINX_FILES = 20_000  # nginx's open files: one idle keep-alive connection per host crawled
LOG_FORMAT = "$host $msec $request_time $status"  # nginx variables; one access-log line each
_TEXT = (
    "crawler session frontier page link table index query market river garden station window "
    "letter morning history system network museum harbour engine volume summer council "
    "method theory animal forest number program island shadow silver bridge the a of and to "
    "in is for on with as by at from that this it be are was"
)
WORDS = _TEXT.split()


@dataclass(frozen=True, slots=True)
class Site:
    """A generated site: ``pages`` HTML files under ``directory``, and the 404 paths they link."""

    directory: Path
    pages: int
    missing: tuple[str, ...]  # in-site paths that are linked but do not exist (404)
    total_bytes: int

    def paths(self) -> list[str]:
        """Every in-site path a crawl from the root requests: pages first, then the 404s."""
        return [page_path(i) for i in range(self.pages)] + list(self.missing)


# -- the site ------------------------------------------------------------------------------------


def page_path(i: int) -> str:
    return "/" if i == 0 else f"/p/{i}.html"


def page_file(i: int) -> str:
    return "index.html" if i == 0 else f"p/{i}.html"


def paragraphs(rng: random.Random, count: int) -> list[str]:
    return [" ".join(rng.choices(WORDS, k=rng.randint(40, 90))).capitalize() for _ in range(count)]


def _href(i: int, here: int, rng: random.Random) -> str:
    """A link to page ``i`` written from page ``here``: absolute path, or relative like sites do."""
    if i == 0:
        return "/"
    if here != 0 and rng.random() < 0.3:
        return f"{i}.html"  # relative to /p/
    return f"/p/{i}.html"


def _links(i: int, pages: int, rng: random.Random, missing: set[str]) -> list[tuple[str, str]]:
    """(href, text) for page ``i``: next pages (so all are reachable), others, 404s, external."""
    count = rng.randint(*LINKS) - 1  # the header's logo links home too
    targets = [t for t in range(i + 1, i + 4) if t < pages]
    links = [(_href(t, i, rng), f"Page {t}") for t in targets]
    if rng.random() < 0.5:
        path = f"/missing/{rng.randrange(max(1, pages // 20))}.html"
        missing.add(path)
        links.append((path, "Archive"))
    for _ in range(rng.randint(1, 3)):
        links.append((f"http://external.invalid/{rng.randrange(10_000)}", "Elsewhere"))
    while len(links) < count:
        t = rng.randrange(pages)
        links.append((_href(t, i, rng), f"See page {t}"))
    rng.shuffle(links)
    return links[:count]


_CSS = (
    ":root{--fg:#1d2433;--muted:#5b6473;--accent:#0b5fff;--bg:#fff}*{box-sizing:border-box}"
    "body{margin:0;font:16px/1.6 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
    "color:var(--fg);background:var(--bg)}.container{max-width:72rem;margin:0 auto;"
    "padding:0 1rem}.site-header{display:flex;align-items:center;justify-content:space-between;"
    "border-bottom:1px solid #e3e6eb}.nav__list{display:flex;gap:1rem;list-style:none;margin:0;"
    "padding:0}.nav__link{color:var(--fg);text-decoration:none;font-weight:500}.nav__link:hover"
    "{color:var(--accent)}.article__meta{color:var(--muted);font-size:.875rem}.card{border:1px "
    "solid #e3e6eb;border-radius:.5rem;padding:1rem;display:grid;gap:.5rem}.card__title{font-"
    "size:1rem;margin:0}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,"
    "1fr));gap:1rem}.site-footer{margin-top:3rem;padding:2rem 0;background:#f6f7f9}"
    "@media (max-width:40rem){.nav__list{flex-direction:column}.grid{grid-template-columns:1fr}}"
)
_ICON = (
    '<svg class="icon" width="24" height="24" viewBox="0 0 24 24" aria-hidden="true" '
    'focusable="false"><path fill="currentColor" d="M12 2a10 10 0 1 0 10 10A10 10 0 0 0 12 '
    '2zm1 15h-2v-6h2zm0-8h-2V7h2z"/></svg>'
)
_SCRIPT = (
    "<script>(function(w,d){w.dataLayer=w.dataLayer||[];function g(){dataLayer.push(arguments)}"
    "g('js',new Date());g('config','UA-000000-1',{anonymize_ip:true});var s=d.createElement("
    "'script');s.async=1;s.src='/static/analytics.js';d.head.appendChild(s)})(window,document);"
    '</script><script src="/static/app.3f9c2b.js" defer></script>'
)
TEXT_SHARE = 0.22  # article text / page bytes: with nav and cards, ~30% of bytes are text


def _card(rng: random.Random, n: int) -> str:
    """A product-card-like block: markup and attributes, a few words of text, no link."""
    words = " ".join(rng.choices(WORDS, k=rng.randint(3, 7)))
    return (
        f'<div class="card" data-id="{rng.randrange(10**8)}" data-position="{n}">'
        f'<img class="card__img" src="/static/img/{rng.randrange(10**6)}.webp" width="320" '
        f'height="200" loading="lazy" decoding="async" alt="">'
        f'<h3 class="card__title">{words.capitalize()}</h3><span class="card__price" '
        f'itemprop="price" content="{rng.randint(1, 999)}.99">{rng.randint(1, 999)}.99</span>'
        f'<button class="btn btn--secondary" type="button" aria-label="Save">{_ICON}</button></div>'
    )


def _state(rng: random.Random, size: int) -> str:
    """An inline JSON state blob (as single-page-app frameworks embed) of about ``size`` bytes."""
    items: list[str] = []
    total = 0
    while total < size:
        items.append(
            f'{{"id":{rng.randrange(10**9)},"slug":"{"-".join(rng.choices(WORDS, k=3))}",'
            f'"score":{rng.random():.4f},"tags":["{rng.choice(WORDS)}","{rng.choice(WORDS)}"]}}'
        )
        total += len(items[-1]) + 1
    return (
        f'<script id="__STATE__" type="application/json">{{"items":[{",".join(items)}]}}</script>'
    )


def render_page(i: int, pages: int, rng: random.Random, pool: list[str], missing: set[str]) -> str:
    """Page ``i``: 10-40 KB of realistic markup, about a quarter of it visible text.

    Head (meta tags, stylesheet), header and nav, an article of paragraphs with links in them,
    a grid of cards, footer, inline scripts and a JSON state blob (markup the parser must walk
    but that is not text), like the pages of a real site.
    """
    links = _links(i, pages, rng, missing)
    target = rng.randint(PAGE_BYTES[0] + 500, PAGE_BYTES[1] - 2_000)
    return render_html(i, links, target, rng, pool)


def render_html(
    i: int, hrefs: list[tuple[str, str]], target: int, rng: random.Random, pool: list[str]
) -> str:
    """Page ``i`` of about ``target`` bytes linking to ``hrefs`` ((href, text) pairs): the first
    five in the nav, the rest spread through the article's text."""
    links = [f'<a href="{href}">{text}</a>' for href, text in hrefs]
    nav = "".join(f'<li class="nav__item">{a.replace("<a ", "<a class=nav__link ")}</li>'
                  for a in links[:5])  # fmt: skip
    inline = links[5:]
    head = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
        f'content="width=device-width,initial-scale=1"><title>Page {i} of the bench site</title>'
        f"<meta name=description content='Synthetic page {i}.'><link rel=canonical "
        f'href="/p/{i}.html"><meta property="og:title" content="Page {i}"><meta property='
        f'"og:type" content="article"><link rel=stylesheet href="/static/site.css"><style>'
        f"{_CSS}</style></head><body><header class=site-header><div class=container>"
        f'<a class=logo href="/" aria-label=Home>{_ICON}</a><nav class=nav aria-label=Main>'
        f"<ul class=nav__list>{nav}</ul></nav></div></header><main class=container><div class="
        f'"layout layout--article"><article class=article itemscope itemtype='
        f'"https://schema.org/Article"><h1 class=article__title itemprop=headline>Page {i}</h1>'
        f'<p class=article__meta><time datetime="2026-01-{1 + i % 28:02d}">January</time></p>'
        f"<div class=article__body itemprop=articleBody>"
    )
    body: list[str] = []
    text = 0
    while text < target * TEXT_SHARE:
        para = rng.choice(pool)
        body.append(para)
        text += len(para)
    for link in inline:  # spread the links through the text
        k = rng.randrange(len(body))
        body[k] = f"{body[k]} {link}"
    article = "".join(f'<p class="article__para">{p}</p>' for p in body)
    cards: list[str] = []
    size = len(head) + len(article) + 1_200
    while size < target * 0.6:
        cards.append(_card(rng, len(cards)))
        size += len(cards[-1])
    tail = (
        f"</div></article><aside class=related><h2>Related</h2><div class=grid>{''.join(cards)}"
        f"</div></aside></div></main><footer class=site-footer><div class=container><p>"
        f"Generated for scraper bench.</p></div></footer>{_SCRIPT}"
    )
    blob = _state(rng, target - len(head) - len(article) - len(tail))
    return head + article + tail + blob + "</body></html>"


def generate_site(directory: Path, pages: int, seed: int = SEED) -> Site:
    """Write a site of ``pages`` pages under ``directory``: the same files for the same seed."""
    rng = random.Random(seed)
    pool = paragraphs(rng, 500)
    missing: set[str] = set()
    (directory / "p").mkdir(parents=True, exist_ok=True)
    total = 0
    for i in range(pages):
        data = render_page(i, pages, rng, pool, missing).encode()
        (directory / page_file(i)).write_bytes(data)
        total += len(data)
    return Site(directory, pages, tuple(sorted(missing)), total)


# -- the server ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _nginx_conf(
    work: Path, site: Path, port: int, access_log: Path | None, validators: bool = True
) -> Path:
    temps = "".join(
        f"{kind}_temp_path {work}/nginx-{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = work / "nginx.conf"
    conf.write_text(
        f"daemon off;\nworker_processes 1;\nworker_rlimit_nofile {NGINX_FILES};\n"
        f"pid {work}/nginx.pid;\nerror_log {work}/nginx-error.log warn;\n"
        f"events {{ worker_connections {NGINX_FILES - 1000}; }}\n"
        f"http {{\n{_access_log(access_log)}types {{ text/html html; }}\ndefault_type text/plain;\n"
        f"sendfile on;\nkeepalive_requests 1000000;\n{temps}"
        + ("" if validators else "etag off;\nif_modified_since off;\n")
        + f"server {{ listen 127.0.0.1:{port}; root {site}; index index.html; }}\n}}\n"
    )
    return conf


def _wait_listening(proc: "subprocess.Popen[bytes]", port: int) -> bool:
    """True once the server accepts connections; False if it died or took too long."""
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        time.sleep(0.05)  # nothing to wait on: a port opening has no event
    return False


@contextlib.contextmanager
def _process(argv: list[str], port: int, log: Path) -> Iterator[bool]:
    with log.open("wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    try:
        yield _wait_listening(proc, port)
    finally:
        stop_process(proc)


def _access_log(path: Path | None) -> str:
    if path is None:
        return "access_log off;\n"
    return f"log_format bench '{LOG_FORMAT}';\naccess_log {path} bench;\n"


@contextlib.contextmanager
def serve(
    site: Path,
    work: Path,
    access_log: Path | None = None,
    *,
    validators: bool = True,
    port: int | None = None,
) -> Iterator[tuple[str, str]]:
    """Serve ``site`` from a separate process; yields (root URL, server name). Without
    ``validators`` the server answers conditional requests (``If-None-Match``,
    ``If-Modified-Since``) with the whole page, as a server without them does. ``port``: that
    one (a site served again where it was crawled), else a free one.

    With ``access_log``, the server writes a line per request there, unbuffered: the fields of
    :data:`LOG_FORMAT` (host, end time and duration in seconds with milliseconds, status).
    """
    nginx = shutil.which("nginx")
    chosen = port
    if nginx is not None:
        port = chosen or _free_port()
        argv = [nginx, "-p", str(work), "-e", str(work / "nginx-error.log")]
        with _process(
            [*argv, "-c", str(_nginx_conf(work, site, port, access_log, validators))],
            port,
            work / "nginx.log",
        ) as up:
            if up:
                yield f"http://127.0.0.1:{port}/", "nginx"
                return
    port = chosen or _free_port()
    argv = [sys.executable, "-m", "scraper.bench.pyserver", "serve", str(site), str(port)]
    argv += [str(access_log) if access_log is not None else "-"]
    argv += [] if validators else ["novalidators"]
    with _process(argv, port, work / "server.log") as up:
        if not up:
            raise ScraperError(f"bench: the server did not start (see {work / 'server.log'})")
        yield f"http://127.0.0.1:{port}/", "python http.server (nginx not found or failed)"
