"""Per-site settings at work: each [site."PATTERN"] table's politeness, headers and link rules,
as the servers (one per loopback address) saw them, and kept by a resume."""

import itertools
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from scraper.config import load_settings
from scraper.sites import SiteRule
from scraper.testing import CONFIG, make_app
from tests.conftest import CrawlFn, run, traffic


@pytest.fixture
async def sites(aiohttp_server: Any) -> list[TestServer]:
    """Three test sites, on 127.0.0.1, 127.0.0.2 and 127.0.0.3."""
    return [await aiohttp_server(make_app(), host=f"127.0.0.{n}") for n in (1, 2, 3)]


def site_rules(tmp_path: Path, text: str) -> tuple[SiteRule, ...]:
    path = tmp_path / "sites.toml"
    path.write_text(text)
    return load_settings(path).sites


def seed(server: TestServer, path: str = "/gen/0") -> str:
    return str(server.make_url(path))


def gaps(server: TestServer) -> list[float]:
    starts = [t for t, _ in traffic(server).starts]
    return [b - a for a, b in itertools.pairwise(starts)]


async def test_each_site_keeps_its_own_delay(
    sites: list[TestServer], crawl: CrawlFn, tmp_path: Path
):
    """Hosts with different site delays are each spaced by their own delay, not another's."""
    for server in sites:
        server.app[CONFIG].gen_pages = 8
    rules = site_rules(
        tmp_path, '[site."127.0.0.2"]\ndelay_s = 0.25\n[site."127.0.0.3"]\ndelay_s = 0.1\n'
    )
    await crawl(*map(seed, sites), sites=rules, delay_s=0.02, autothrottle=False)
    fast, slow, middle = (gaps(server) for server in sites)
    assert all(len(g) == 8 for g in (fast, slow, middle))  # robots.txt and eight pages each
    assert min(slow) >= 0.25 - 0.01
    assert min(middle) >= 0.1 - 0.01
    assert min(fast) >= 0.02 - 0.01
    assert sorted(fast)[4] < 0.1  # the other sites' delays did not slow it down


async def test_site_user_agent_and_headers_reach_only_its_hosts(
    sites: list[TestServer], crawl: CrawlFn, tmp_path: Path
):
    """A site's User-Agent and headers, and the global ones, are on every request to its host
    (robots.txt included), and the site's on no other host's."""
    rules = site_rules(
        tmp_path,
        '[site."127.0.0.2"]\nuser_agent = "sitebot/2"\nheaders = { "X-Token" = "abc" }\n',
    )
    await crawl(seed(sites[0], "/"), seed(sites[1], "/"), sites=rules, headers=("X-All: 1",))
    plain, special = (traffic(server).headers for server in sites[:2])
    assert "/robots.txt" in special
    assert "/a" in special
    for headers in special.values():
        assert (headers["User-Agent"], headers["X-Token"], headers["X-All"]) == (
            "sitebot/2",
            "abc",
            "1",
        )
    for headers in plain.values():
        assert headers["User-Agent"].startswith("scraper/")
        assert headers["X-All"] == "1"
        assert "X-Token" not in headers


async def test_site_deny_and_allow_apply_to_its_hosts_only(
    sites: list[TestServer], crawl: CrawlFn, tmp_path: Path
):
    """A site's deny keeps its links out, another's allow lets only its links in, and a host
    without a table follows the global rules."""
    rules = site_rules(
        tmp_path, '[site."127.0.0.2"]\ndeny = ["/b"]\n[site."127.0.0.3"]\nallow = ["/c$"]\n'
    )
    await crawl(*(seed(server, "/") for server in sites), sites=rules, max_depth=1)
    seen = [set(traffic(server).hits) for server in sites]
    assert {"/a", "/b?x=1", "/c"} <= seen[0]
    assert "/a" in seen[1]
    assert "/b?x=1" not in seen[1]
    assert "/c" in seen[2]
    assert "/a" not in seen[2]
    assert "/b?x=1" not in seen[2]


async def test_the_most_specific_table_wins(
    sites: list[TestServer], crawl: CrawlFn, tmp_path: Path
):
    """A host:port table beats the host's table, which still gives the keys it alone sets."""
    port = sites[1].port
    rules = site_rules(
        tmp_path,
        f'[site."127.0.0.2:{port}"]\nuser_agent = "port/1"\n'
        '[site."127.0.0.2"]\nuser_agent = "host/1"\nheaders = { "X-Host" = "yes" }\n',
    )
    await crawl(seed(sites[1], "/"), sites=rules, max_depth=0)
    headers = traffic(sites[1]).headers["/"]
    assert (headers["User-Agent"], headers["X-Host"]) == ("port/1", "yes")


async def test_site_settings_survive_resume(sites: list[TestServer], tmp_path: Path):
    """A crawl's site tables are stored with it: a resume without the file still sends the
    site's header and keeps its deny."""
    server = sites[1]
    server.app[CONFIG].gen_pages = 30
    config = tmp_path / "sites.toml"
    config.write_text('[site."127.0.0.2"]\nheaders = { "X-Token" = "kept" }\ndeny = ["/gen/2"]\n')
    db = str(tmp_path / "crawl.db")
    fast = ["--delay", "0", "--retries", "0"]
    args = ["--db", db, *fast]
    code, _, err = await run(
        tmp_path, "crawl", seed(server), *args, "--config", str(config), "--max-pages", "5"
    )
    assert code == 0, err
    traffic(server).headers.clear()
    code, _, err = await run(tmp_path, "resume", *args, "--max-pages", "0")
    assert code == 0, err
    resumed = traffic(server).headers
    assert len(resumed) > 10
    assert all(h.get("X-Token") == "kept" for h in resumed.values())
    assert not any(path.startswith("/gen/2") for path in traffic(server).hits)


async def test_an_unknown_site_key_names_the_table(tmp_path: Path):
    """A misspelt key in a site table is a usage error naming the table and the key."""
    config = tmp_path / "bad.toml"
    config.write_text('[site."x.com"]\ndealy_s = 1\n')
    code, _, err = await run(tmp_path, "crawl", "http://x.com/", "--config", str(config))
    assert code == 2
    assert """[site."x.com"]: unknown key 'dealy_s'""" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["crawl", "resume", "recrawl"])
async def test_a_header_of_bad_form_is_a_usage_error(tmp_path: Path, command: str):
    """--header without 'Name: value' form exits 2 with one error line, for every crawl command."""
    args = ["http://x.com/"] if command == "crawl" else []
    code, _out, err = await run(tmp_path, command, *args, "--header", "no colon here")
    assert code == 2
    assert err.strip().splitlines() == [
        "error: --header must look like 'Name: value' (got 'no colon here')"
    ]


async def test_respect_robots_per_site(sites: list[TestServer], crawl: CrawlFn, tmp_path: Path):
    """A site with respect_robots = false is crawled without its robots.txt; others obey theirs."""
    for server in sites[:2]:
        server.app[CONFIG].robots_status = 200
        server.app[CONFIG].robots_body = "User-agent: *\nDisallow: /a\n"
    rules = site_rules(tmp_path, '[site."127.0.0.2"]\nrespect_robots = false\n')
    await crawl(seed(sites[0], "/"), seed(sites[1], "/"), sites=rules, max_depth=1)
    obeying, ignoring = (traffic(server).hits for server in sites[:2])
    assert "/robots.txt" in obeying
    assert "/a" not in obeying
    assert "/robots.txt" not in ignoring
    assert "/a" in ignoring
