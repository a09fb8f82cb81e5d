"""Block pages in a crawl: recorded ``blocked`` with their reason, never stored as pages,
counted per host by ``stats``, and the host slowed down as for a 429."""

import itertools
import json

from aiohttp.test_utils import TestServer

from tests.conftest import CrawlFn, run_cli, traffic


async def test_block_pages_are_recorded_not_stored(site: TestServer, crawl: CrawlFn) -> None:
    """Challenge, captcha and access-denied pages end ``blocked`` with their reason and no
    pages row; the hub and an ordinary page with a captcha form are stored; stats counts the
    blocks per host."""
    result = await crawl(site.make_url("/block/hub"), max_depth=1, autothrottle=False)
    states = {
        url.rsplit("/block/", 1)[1]: (state, error)
        for url, state, error in result.rows("SELECT url, state, last_error FROM frontier")
        if "/block/" in url
    }
    assert states["challenge"] == ("blocked", "challenge")
    assert states["captcha"] == ("blocked", "captcha")
    assert states["turnstile"] == ("blocked", "captcha")
    assert states["denied"] == ("blocked", "denied")
    assert states["contact"] == ("done", None)
    stored = {url.rsplit("/block/", 1)[1] for (url,) in result.rows("SELECT url FROM pages")}
    assert stored == {"hub", "contact", "big/0"}
    code, out, err = await run_cli("stats", "--db", str(result.db), "--json")
    assert code == 0, err
    host = f"127.0.0.1:{site.port}"
    blocked = {(b["host"], b["reason"]): b["urls"] for b in json.loads(out)["blocked"]}
    assert blocked == {(host, "challenge"): 1, (host, "captcha"): 2, (host, "denied"): 1}
    code, out, _ = await run_cli("stats", "--db", str(result.db))
    assert "blocked:" in out
    assert "captcha" in out


async def test_a_block_slows_the_host_down(site: TestServer, crawl: CrawlFn) -> None:
    """After a 200 access-denied page the host's next request waits about a second (the
    delay doubled to at least 1 s, as after a 429), where ordinary pages came at once."""
    links = "&".join(f"u=/a%3Fn={n}" for n in range(3)) + "&u=/block/denied&u=/b&u=/c"
    await crawl(
        site.make_url(f"/hub?{links}"), max_depth=1, per_host=1, concurrency=1,
        autothrottle=True, max_delay_s=1.0,
    )  # fmt: skip
    starts = traffic(site).starts
    after = {a[1]: b[0] - a[0] for a, b in itertools.pairwise(starts)}
    assert after["/block/denied"] >= 0.9
    assert after["/block/denied"] < 3.0
    assert max(gap for path, gap in after.items() if path.startswith("/a")) < 0.5
