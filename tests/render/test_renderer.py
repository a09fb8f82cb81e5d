"""The Renderer against the local test site: a real headless Chromium over the DevTools pipe."""

import asyncio
import os
import signal
from typing import Any

import pytest

from scraper.fetch.guard import AddressPolicy
from scraper.render import Renderer, find_browser
from scraper.render.procs import tree_rss
from scraper.render.requests import RequestFilter
from tests.conftest import traffic

pytestmark = pytest.mark.skipif(
    find_browser() is None, reason="no headless Chromium (apt-get install chromium-headless-shell)"
)


def loopback_filter() -> RequestFilter:
    """Loopback trusted the way the fetcher's tests trust it: 127.0.0.1 is the seed's host."""
    return RequestFilter(AddressPolicy(frozenset({"127.0.0.1"}), False, {}))


async def test_js_page_is_stored_with_the_text_its_script_built(site: Any):
    """The DOM after scripts ran holds the text and links the script fetched as JSON."""
    async with Renderer(loopback_filter(), tabs=2) as renderer:
        result = await renderer.render(str(site.make_url("/js/3")))
    assert result.status == 200
    assert not result.timed_out
    assert "Text built by script for page 3." in result.html
    assert 'href="/js/4"' in result.html
    assert traffic(site).hits["/js/data/3.json"] == 1


async def test_images_and_fonts_are_not_downloaded(site: Any):
    """The browser never asks the server for the page's image or font."""
    async with Renderer(loopback_filter()) as renderer:
        result = await renderer.render(str(site.make_url("/js/1")))
    hits = traffic(site).hits
    assert hits["/js/app.js?n=1"] == 1
    assert hits["/js/pic.png"] == 0
    assert hits["/js/font.woff2"] == 0
    assert result.refused >= 1


async def test_subrequest_to_an_untrusted_private_address_is_refused(site: Any):
    """A script on 127.0.0.2 (not the seed's host, not public) is refused inside the browser."""
    port = site.port
    async with Renderer(loopback_filter()) as renderer:
        result = await renderer.render(str(site.make_url(f"/js/2?sub=127.0.0.2:{port}")))
    assert traffic(site).hits["/js/private.js"] == 0
    assert "Text built by script for page 2." in result.html


async def test_wait_for_selector_makes_the_page_ready(site: Any):
    """A ``wait_for`` selector that the script creates ends the wait before the timeout."""
    async with Renderer(loopback_filter(), timeout=10) as renderer:
        result = await renderer.render(str(site.make_url("/js/5")), wait_for="#root h1")
    assert not result.timed_out
    assert "Rendered 5" in result.html


async def test_recycling_keeps_memory_flat_over_60_pages(site: Any):
    """Recycled every 20 pages, the browser's memory after 60 pages stays near its first level."""
    async with Renderer(loopback_filter(), tabs=2, recycle_after=20) as renderer:
        urls = [str(site.make_url(f"/js/{n}")) for n in range(60)]
        first = await asyncio.gather(*(renderer.render(u) for u in urls[:20]))
        early = renderer.stats.memory
        rest = await asyncio.gather(*(renderer.render(u) for u in urls[20:]))
        late = renderer.stats.memory
        assert renderer.stats.recycles >= 2
    assert all("Text built by script" in r.html for r in [*first, *rest])
    assert late < early * 1.5 + 50e6


async def test_browser_killed_mid_page_is_restarted_and_the_page_retried(site: Any):
    """kill -9 of the browser while a page loads: a new browser renders that page."""
    async with Renderer(loopback_filter(), timeout=10) as renderer:
        pid = renderer.pid
        slow = str(site.make_url("/slow/1500"))
        task = asyncio.create_task(renderer.render(slow))
        await asyncio.sleep(0.5)
        os.kill(pid, signal.SIGKILL)
        result = await asyncio.wait_for(task, 20)
        assert renderer.stats.restarts == 1
        assert renderer.pid != pid
    assert result.status == 200
    assert "Slow" in result.html
    assert tree_rss(pid) == 0
