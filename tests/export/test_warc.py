"""``export -f warc``: the --archive captures as WARC 1.1, valid for warcio, FastWARC and pywb."""

import asyncio
import os
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from scraper.export import export_warc
from scraper.export.warc_records import http_head
from scraper.testing.archive import ARCHIVE_PAGES
from tests.conftest import CrawlFn, run
from tests.export.readers import check_with_every_reader, pywb, records, replay

CUT = 200_000  # max_body_bytes: /huge/1 (1 MiB) is cut


async def archived(site: TestServer, crawl: CrawlFn) -> Path:
    result = await crawl(site.make_url("/archive/"), max_depth=1, archive=True,
                         max_body_bytes=CUT)  # fmt: skip
    return result.db


async def test_the_export_is_valid_for_warcio_and_fastwarc(
    site: TestServer, crawl: CrawlFn, tmp_path: Path
):
    """The CLI writes warcinfo first, then a request/response pair per hop (redirects too),
    linked by WARC-Concurrent-To, the payload as served, chunked framing gone, a cut body
    marked; warcio and fastwarc check every digest."""
    db = await archived(site, crawl)
    out = tmp_path / "crawl.warc.gz"
    code, _, err = await run(tmp_path, "export", "-f", "warc", "-o", str(out), "--db", str(db))
    assert (code, err.strip()) == (0, f"wrote 10 captures to {out}")
    await check_with_every_reader(out)
    found = records(out)
    assert found[0].rec_type == "warcinfo"
    pairs = list(zip(found[1::2], found[2::2], strict=True))
    assert len(pairs) == 10
    base = str(site.make_url("")).rstrip("/")
    by_uri = {}
    for request, response in pairs:
        assert (request.rec_type, response.rec_type) == ("request", "response")
        head = request.rec_headers
        assert head.get_header("WARC-Concurrent-To") == response.rec_headers.get_header(
            "WARC-Record-ID"
        )
        assert head.get_header("WARC-Target-URI") == response.rec_headers.get_header(
            "WARC-Target-URI"
        )
        assert response.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"
        assert response.http_headers.get_header("Transfer-Encoding") is None
        uri = response.rec_headers.get_header("WARC-Target-URI").removeprefix(base)
        by_uri[uri] = (request, response)
    for path, page in ARCHIVE_PAGES.items():
        _, response = by_uri[path]
        assert response.body == page.payload  # content-coded, as served
        assert response.http_headers.get_header("Content-Length") == str(len(page.payload))
        names = [k for k, _ in response.http_headers.headers]
        assert names.count("X-Archive-Test") == names.count("x-archive-test") == 1
    assert [by_uri[f"/redirect/{n}"][1].http_headers.get_statuscode() for n in (2, 1, 0)] == [
        "302",
        "302",
        "200",
    ]
    cut = by_uri["/huge/1?mode=chunked"][1]
    assert cut.rec_headers.get_header("WARC-Truncated") == "length"
    assert CUT <= len(cut.body) < 1 << 20
    request_line = by_uri["/archive/gzip"][0].http_headers.protocol
    assert by_uri["/archive/gzip"][0].http_headers.statusline.startswith("/archive/gzip")
    assert request_line == "GET"


async def test_pywb_replays_what_the_site_served(site: TestServer, crawl: CrawlFn, tmp_path: Path):
    """pywb indexes the export and replays each page's status, headers and body bytes (gzip,
    brotli, chunked) and a redirect's status and Location as the site sent them."""
    db = await archived(site, crawl)
    out = tmp_path / "crawl.warc.gz"
    await export_warc(db, out, None, 1 << 30)
    base = str(site.make_url("")).rstrip("/")
    async with pywb(tmp_path, out) as replayed:
        for path, page in ARCHIVE_PAGES.items():
            status, headers, body = await replay(replayed, base + path)
            assert (status, body) == (200, page.payload), path
            for header in page.headers:
                assert header in headers, (path, header)
        status, headers, _ = await replay(replayed, base + "/redirect/2")
        assert status == 302
        assert ("Location", "/redirect/1") in headers


async def test_a_split_export_starts_each_file_with_warcinfo(
    site: TestServer, crawl: CrawlFn, tmp_path: Path
):
    """--max-size closes a file after the record that passes it: every file opens with
    warcinfo, all are valid, and together they hold every capture once."""
    db = await archived(site, crawl)
    out = tmp_path / "crawl.warc.gz"
    code, _, err = await run(tmp_path, "export", "-f", "warc", "-o", str(out), "--db", str(db),
                             "--max-size", "3KB")  # fmt: skip
    assert code == 0, err
    names = await asyncio.to_thread(os.listdir, tmp_path)
    split = sorted(name for name in names if name.startswith("crawl-"))
    assert split == [f"crawl-{n:05d}.warc.gz" for n in range(1, len(split) + 1)]
    assert len(split) >= 2
    files = [out, *(tmp_path / name for name in split)]
    await check_with_every_reader(*files)
    found = [records(f) for f in files]
    assert all(f[0].rec_type == "warcinfo" for f in found)
    assert sum(1 for f in found for r in f if r.rec_type == "response") == 10
    assert all(f.stat().st_size < 3000 + CUT for f in files)


async def test_a_crawl_without_captures_says_why(site: TestServer, crawl: CrawlFn, tmp_path: Path):
    """Without --archive there is nothing WARC can be made of: one error line, exit 1."""
    result = await crawl(site.make_url("/archive/plain"), max_depth=0)
    out = tmp_path / "x.warc.gz"
    code, _, err = await run(tmp_path, "export", "-f", "warc", "-o", str(out), "--db",
                             str(result.db))  # fmt: skip
    assert code == 1
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert "crawl with --archive" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-size", "lots"], "--max-size: 'lots' is not a size (1GB, 500MB, 64MiB)"),
        (["-o", "-"], "-f warc writes files: give one with -o FILE.warc.gz"),
        (["-o", "{db}"], "{db} is the database itself; choose another file"),
    ],
)
async def test_bad_export_options_are_usage_errors(tmp_path: Path, args: list[str], message: str):
    """A size that is not one, standard output or the database itself: exit 2, one line."""
    db = tmp_path / "c.db"
    args = [a.format(db=db) for a in args]
    argv = ["export", "-f", "warc", "--db", str(db), "-o", str(tmp_path / "a.warc.gz"), *args]
    code, _, err = await run(tmp_path, *argv)
    assert code == 2
    assert err == f"error: {message.format(db=db)}\n"


async def test_a_postgresql_crawl_exports_the_same_records(
    site: TestServer, crawl: CrawlFn, tmp_path: Path, pg_url: str
):
    """On PostgreSQL the captures and the export are the same: every reader accepts it and the
    payloads are the bytes the site served."""
    await crawl(site.make_url("/archive/"), max_depth=1, archive=True, max_body_bytes=CUT,
                db=pg_url)  # fmt: skip
    out = tmp_path / "pg.warc.gz"
    done = await export_warc(pg_url, out, None, 1 << 30)
    assert done.captures == 10
    await check_with_every_reader(out)
    base = str(site.make_url("")).rstrip("/")
    payloads = {
        r.rec_headers.get_header("WARC-Target-URI").removeprefix(base): r.body
        for r in records(out)
        if r.rec_type == "response"
    }
    assert {path: payloads[path] for path in ARCHIVE_PAGES} == {
        path: page.payload for path, page in ARCHIVE_PAGES.items()
    }


def test_a_head_is_rewritten_only_when_its_framing_is_not_the_payloads():
    """A true Content-Length (any case) is kept as sent; chunked or a cut body get one."""
    kept = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nX-A: 1\r\n\r\n"
    assert http_head(kept, 5) == kept
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
    assert http_head(chunked, 7) == b"HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 7\r\n\r\n"
    assert http_head(kept, 3) == b"HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 3\r\n\r\n"
    bare = b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n"
    assert http_head(bare, 0) == bare
