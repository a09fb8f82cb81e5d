"""``scraper bench --import``: a WARC of the bench site, read, then imported with content on and
off."""

import re

from tests.conftest import run_cli


async def test_import_bench_imports_every_page_and_prints_its_figures():
    """`scraper bench --import --pages 30` exits 0 and prints the reader's and both imports'
    pages/s and CPU per page, every page imported each time."""
    status, out, err = await run_cli("bench", "--import", "--pages", "30", "--parse-workers", "0")
    assert status == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("WARC: 30 response records, ")
    assert [line.split(":")[0] for line in lines[1:]] == [
        "reader alone (warcio",
        "import, 0 parse workers, content on",
        "import, 0 parse workers, content off",
    ]
    for line in lines[1:]:
        assert re.search(
            r": 30 pages in [\d.]+ s, \d+ pages/s; [\d.]+ s CPU, [\d.]+ ms per page", line
        )
