"""A crawl on PostgreSQL as the README sets it up: a plain LOGIN role owning the database, on a
cluster where no superuser ever ran the scraper.

Roles are cluster-wide: the session's server has ``scraper_reader`` as soon as any test read a
database there as the superuser ``postgres``, and that hides what a plain role meets. Each test
here gets a cluster of its own, its roles made with the server's own ``psql``.
"""

import json
from collections.abc import Iterator

import pytest
from aiohttp.test_utils import TestServer

from scraper.testing import CONFIG, PostgresServer
from tests.conftest import assert_one_error_line, run_cli

PAGES = 12
FLAGS = ["--delay", "0", "--retries", "0", "--concurrency", "4"]


@pytest.fixture
def own_cluster() -> Iterator[PostgresServer]:
    """A new cluster, started for this test only (no superuser has read a crawl on it)."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def plain_role_database(pg: PostgresServer) -> str:
    """The README's setup: a LOGIN role ``crawler`` (no superuser, no CREATEROLE) owning the
    empty database ``crawl``; the URL a worker is given."""
    pg.psql("CREATE ROLE crawler LOGIN")
    pg.psql("CREATE DATABASE crawl OWNER crawler")
    return pg.url("crawl", user="crawler")


async def cli_out(*args: str) -> str:
    code, out, err = await run_cli(*args)
    assert code == 0, (args, code, err)
    return str(out)


async def test_a_plain_role_crawls_joins_and_reads_with_or_without_a_reader_role(
    site: TestServer, own_cluster: PostgresServer
):
    """With no ``scraper_reader`` on the cluster and a role that may not create one, a second
    worker and every read command work, as that role, read-only, creating no role; once an
    administrator grants ``scraper_reader`` (the README's optional step), reads run as it; a
    role without the right to read the crawl is the server's refusal, exit 1."""
    site.app[CONFIG].gen_pages = PAGES
    url = plain_role_database(own_cluster)
    await cli_out("crawl", str(site.make_url("/gen/0")), "--db", url, *FLAGS)
    await cli_out("resume", "--db", url, *FLAGS)  # a second worker: it reads the settings first
    status = (await cli_out("status", "--db", url)).splitlines()[0]
    assert status.endswith("not running; 2 workers, 0 alive, 2 finished"), status
    assert f"pages {PAGES}" in " ".join((await cli_out("stats", "--db", url)).split())
    assert "/gen/" in await cli_out("search", "--db", url, "generated")
    assert await reader(url) == {"current_user": "crawler", "count": PAGES}
    code, _out, err = await run_cli("query", "--db", url, "DELETE FROM pages")
    assert code == 2
    assert_one_error_line(err, "read-only")
    assert own_cluster.psql("SELECT count(*) FROM pg_roles WHERE rolname = 'scraper_reader'") == "0"
    assert own_cluster.psql("SELECT count(*) FROM pages", database="crawl") == str(PAGES)
    own_cluster.psql(
        "CREATE ROLE scraper_reader NOLOGIN; GRANT pg_read_all_data TO scraper_reader; "
        "GRANT scraper_reader TO crawler"
    )
    assert await reader(url) == {"current_user": "scraper_reader", "count": PAGES}
    own_cluster.psql("CREATE ROLE analyst LOGIN")  # no right to read the crawl: the server says
    code, _out, err = await run_cli("stats", "--db", own_cluster.url("crawl", user="analyst"))
    assert code == 1
    assert_one_error_line(err, "cannot read postgresql://analyst@")
    assert "permission denied for table meta" in err


async def reader(url: str) -> object:
    """Who the read commands' statements run as, and the pages they see."""
    found = await cli_out(
        "query", "--db", url, "-f", "jsonl", "SELECT current_user, count(*) FROM pages"
    )
    return json.loads(found)
