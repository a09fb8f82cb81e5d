"""Rendered pages through the proxy the pool chose: real tinyproxy, real headless Chromium."""

from pathlib import Path
from typing import Any

import pytest

from scraper.render import find_browser
from scraper.testing.proxies import Dante, Tinyproxy
from tests.conftest import ONE_BY_ONE, dead_proxy, rows, run, stored, traffic

pytestmark = pytest.mark.skipif(
    find_browser() is None, reason="no headless Chromium (apt-get install chromium-headless-shell)"
)


async def crawl_through(tmp_path: Path, site: Any, *proxies: str) -> tuple[Path, str]:
    """Crawl /js/0 rendered through ``proxies`` (without robots.txt: the page's request is the
    first through a proxy, in the browser); the database and the output."""
    db = tmp_path / "p.db"
    more = ["--no-robots", *(arg for proxy in proxies for arg in ("--proxy", proxy))]
    code, out, err = await run(
        tmp_path, "crawl", str(site.make_url("/js/0")), "--db", str(db), "--render", "always",
        "--max-depth", "0", *ONE_BY_ONE, *more,
    )  # fmt: skip
    assert code == 0, err
    return db, out + err


def proxy_health(db: Path) -> dict[str, tuple[int, str]]:
    """masked proxy -> (failures, last error) of ``proxy_health``."""
    found = rows(db, "SELECT proxy, failures, last_error FROM proxy_health")
    return {proxy: (failures, error) for proxy, failures, error in found}


async def test_rendered_page_goes_through_the_proxy(
    tmp_path: Path, site: Any, tinyproxy: Tinyproxy
):
    """With --proxy, the browser's page request and its script's fetch() go through the proxy,
    and the rendered text is stored."""
    db, _ = await crawl_through(tmp_path, site, tinyproxy.url)
    assert "Text built by script for page 0" in stored(db)["js/0"][1]
    log = tinyproxy.log()
    assert f"GET {site.make_url('/js/0')}" in log
    assert f"GET {site.make_url('/js/data/0.json')}" in log
    assert traffic(site).hits["/js/0"] == 1


async def test_rendered_page_answers_the_proxys_basic_auth(
    tmp_path: Path, site: Any, authproxy: Tinyproxy
):
    """Through a proxy with basic auth the browser answers its 407 with the URL's
    credentials: the page is rendered, the password is in neither the output nor the db."""
    db, out = await crawl_through(tmp_path, site, authproxy.url)
    assert "Text built by script for page 0" in stored(db)["js/0"][1]
    assert f"GET {site.make_url('/js/data/0.json')}" in authproxy.log()
    assert authproxy.password not in out
    assert authproxy.password.encode() not in db.read_bytes()


async def test_wrong_proxy_password_is_charged_to_the_proxy(
    tmp_path: Path, site: Any, authproxy: Tinyproxy
):
    """A proxy refusing the browser's credentials is charged to that proxy (proxy_auth in
    proxy_health), and the page goes through the other one."""
    wrong = authproxy.url.replace("crawler:" + authproxy.password, "intruder:not-the-pw")
    good = authproxy.url
    db, out = await crawl_through(tmp_path, site, wrong, good)
    assert "Text built by script for page 0" in stored(db)["js/0"][1]
    health = proxy_health(db)
    masked = wrong.replace("not-the-pw", "***")
    assert health[masked][0] >= 1
    assert health[good.replace(authproxy.password, "***")][0] == 0
    assert health[masked][1].startswith("proxy_auth")
    assert "not-the-pw" not in out


async def test_dead_proxy_is_charged_and_the_page_fails_over(
    tmp_path: Path, site: Any, tinyproxy: Tinyproxy
):
    """A proxy where nothing listens fails inside the browser: it is charged (proxy_error in
    proxy_health) and the page is rendered through the live one."""
    dead = dead_proxy()
    db, _ = await crawl_through(tmp_path, site, dead, tinyproxy.url)
    assert "Text built by script for page 0" in stored(db)["js/0"][1]
    health = proxy_health(db)
    assert health[dead][0] >= 1
    assert health[dead][1].startswith("proxy_error")
    assert f"GET {site.make_url('/js/0')}" in tinyproxy.log()


async def test_rendered_page_goes_through_a_socks5_proxy(tmp_path: Path, site: Any, dante: Dante):
    """A socks5:// proxy carries the browser's requests (dante logs the connection to the
    site) and the rendered text is stored."""
    db, _ = await crawl_through(tmp_path, site, dante.url)
    assert "Text built by script for page 0" in stored(db)["js/0"][1]
    assert f"127.0.0.1.{site.port}" in dante.log()


async def test_socks5_proxy_with_a_login_is_refused_for_rendering(
    tmp_path: Path, site: Any, dante: Dante
):
    """Chrome cannot log in to a SOCKS5 proxy: the page fails as render_failed (not rendered
    directly, around the proxy), nothing reaches the site, and the password is not shown."""
    db, out = await crawl_through(tmp_path, site, dante.url.replace("//", "//bot:socks-pw@"))
    (error,) = rows(db, "SELECT last_error FROM frontier")[0]
    assert error == "render_failed"
    assert traffic(site).hits["/js/0"] == 0
    assert "socks-pw" not in out
