"""``export -f warc`` of a recrawl: 304s and unchanged 200s as WARC 1.1 revisit records."""

from pathlib import Path
from typing import Any

from scraper.crawl import RevisitPlan
from scraper.export import export_warc
from scraper.testing.changing import ROUND, make_changing_app
from scraper.timespec import now_iso
from tests.conftest import crawl_changing
from tests.export.readers import check_with_every_reader, pywb, records, replay

PROFILE = "http://netpreserve.org/warc/1.1/revisit/"


async def test_a_recrawl_exports_its_304s_and_unchanged_pages_as_revisits(
    tmp_path: Path, aiohttp_server: Any
):
    """A 304 is a server-not-modified revisit, an unchanged 200 an identical-payload-digest
    revisit referring to the first response (id, URI, date); every reader accepts them and
    pywb replays the unchanged page at the recrawl's time with the first capture's bytes."""
    app = make_changing_app()
    server = await aiohttp_server(app)
    db = tmp_path / "crawl.db"
    await crawl_changing(db, server, archive=True)
    between = now_iso()
    app[ROUND][0] = 1
    await crawl_changing(db, server, RevisitPlan(), archive=True)
    out = tmp_path / "all.warc.gz"
    await export_warc(db, out, None, 1 << 30)
    await check_with_every_reader(out, payloads=False)
    base = str(server.make_url("")).rstrip("/")
    found: dict[str, list[Any]] = {}
    for record in records(out):
        if record.rec_type in ("response", "revisit"):
            uri = record.rec_headers.get_header("WARC-Target-URI").removeprefix(base)
            found.setdefault(uri, []).append(record)
    first, again = found["/etag/1"]
    assert first.rec_type == "response"
    assert again.rec_type == "revisit"
    assert again.rec_headers.get_header("WARC-Profile") == PROFILE + "server-not-modified"
    assert again.http_headers.get_statuscode() == "304"
    assert again.rec_headers.get_header("WARC-Refers-To-Target-URI") == base + "/etag/1"
    first, again = found["/plain/1"]
    head = again.rec_headers
    assert again.rec_type == "revisit"
    assert head.get_header("WARC-Profile") == PROFILE + "identical-payload-digest"
    assert head.get_header("WARC-Payload-Digest") == first.rec_headers.get_header(
        "WARC-Payload-Digest"
    )
    assert head.get_header("WARC-Refers-To") == first.rec_headers.get_header("WARC-Record-ID")
    assert head.get_header("WARC-Refers-To-Date") == first.rec_headers.get_header("WARC-Date")
    assert again.body == b""
    changed = found["/plain/0"]
    assert [r.rec_type for r in changed] == ["response", "response"]
    assert changed[0].body != changed[1].body
    since = tmp_path / "since.warc.gz"
    done = await export_warc(db, since, between, 1 << 30)
    assert done.captures == sum(len(v) for v in found.values()) - len(found) + 1  # + /fresh
    when = again.rec_headers.get_header("WARC-Date")
    stamp = "".join(ch for ch in when if ch.isdigit())[:14]
    async with pywb(tmp_path, out) as replayed:
        status, _, body = await replay(replayed, base + "/plain/1", stamp)
    assert (status, body) == (200, first.body)
