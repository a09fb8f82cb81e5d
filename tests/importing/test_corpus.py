"""``scraper import`` over the WARC/ARC corpus written by real tools (../shared/corpora/warc):
every well-formed file gives the pages its own ``warcio index`` lists, the broken ones what
precedes their fault, with one line saying what was skipped."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scraper.config import Settings
from scraper.crawl import import_archives
from scraper.urls import try_normalize
from tests.conftest import assert_one_error_line, rows, run_cli

CORPUS = Path(__file__).parents[2] / ".." / "shared" / "corpora" / "warc"
CORPUS = CORPUS.resolve() if CORPUS.exists() else Path("/work/shared/corpora/warc")
WARCIO = Path(sys.executable).parent / "warcio"

# Revisits whose original response is in another file: imported together.
GROUPS = [
    ("pywb/iana.warc.gz", "pywb/dupes.warc.gz"),
    ("pywb/example-url-agnostic-orig.warc.gz", "pywb/example-url-agnostic-revisit.warc.gz"),
    (
        "warc-specifications/dedup/20130729-heritrix-original.warc.gz",
        "warc-specifications/dedup/20130729-heritrix-revisit-with-http-headers.warc.gz",
        "warc-specifications/dedup/20141124-heritrix-server-not-modified.warc.gz",
    ),
    (
        "warc-specifications/dedup/20141129-heritrix-original.warc.gz",
        "warc-specifications/dedup/"
        "20141129-heritrix-revisit-with-http-headers-and-new-warc-headers.warc.gz",
    ),
    (
        "webarchive-discovery/gov.uk-revisit-warcs/BL-20140325121225068-00000-32090~opera~8443.warc.gz",
        "webarchive-discovery/gov.uk-revisit-warcs/BL-20140325122341434-00000-32090~opera~8443.warc.gz",
    ),
]
# Broken on purpose (the corpus README): what they give is checked below, not by their index.
BROKEN = {
    "warcio/bad.arc",
    "warcio/example-bad-non-chunked.warc.gz",
    "warcio/example-bad.warc.gz.bad",
    "warcio/example-wrong-chunks.warc.gz",
}


def corpus_files() -> list[str]:
    if not CORPUS.is_dir():
        return []
    names = [
        str(p.relative_to(CORPUS))
        for p in sorted(CORPUS.rglob("*"))
        if p.is_file() and (".warc" in p.name or ".arc" in p.name) and p.suffix != ".cdx"
    ]
    return names


def cases() -> list[tuple[str, ...]]:
    grouped = {name for group in GROUPS for name in group}
    alone = [(n,) for n in corpus_files() if n not in grouped and n not in BROKEN]
    return alone + GROUPS if alone else []


def indexed_pages(names: tuple[str, ...]) -> set[str]:
    """The http(s) URLs of the response and revisit records ``warcio index`` lists."""
    urls: set[str] = set()
    for name in names:
        out = subprocess.run(
            [str(WARCIO), "index", "-f", "warc-type,warc-target-uri", str(CORPUS / name)],
            capture_output=True, check=True, timeout=50,
        ).stdout  # fmt: skip
        for line in out.decode().splitlines():
            entry = json.loads(line)
            uri = entry.get("warc-target-uri", "").strip("<>").replace(" ", "%20")
            url = try_normalize(uri) if uri.startswith("http") else None
            if entry.get("warc-type") in ("response", "revisit") and url is not None:
                urls.add(url)
    return urls


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared WARC corpus is not here")
@pytest.mark.parametrize("names", cases(), ids=lambda names: names[-1])
async def test_a_well_formed_file_gives_the_pages_its_index_lists(names, tmp_path: Path):
    """Importing a corpus file (with the files its revisits point into) stores one page per URL
    of its response and revisit records, as ``warcio index`` lists them."""
    settings = Settings(db=str(tmp_path / "crawl.db"), parse_workers=0)
    summary = await import_archives(settings, [CORPUS / n for n in names])
    expected = indexed_pages(names)
    stored = {url for (url,) in rows(tmp_path / "crawl.db", "SELECT url FROM pages")}
    assert stored == expected
    assert all(r.scan.fault is None and r.unresolved == 0 for r in summary.files)


BROKEN_CASES = [
    # (file, exit code, (captures, pages), what the file's warning line says)
    ("warcio/example-wrong-chunks.warc.gz", 0, (1, 1), "gzip members are not one per record"),
    ("warcio/example-bad-non-chunked.warc.gz", 0, (2, 1), "gzip members are not one per record"),
    ("warcio/example-bad.warc.gz.bad", 0, (3, 2), "gzip members are not one per record"),
    ("resiliparse/clipped.warc.gz", 0, (1, 1), "1 record(s) cut short"),
    ("solrwayback/example_warc/Evil-Warc-Headers.warc", 0, (1, 1), "1 record(s) cut short"),
    ("warcio/example-trunc.warc", 0, (1, 1), "1 record(s) failing their digest"),
    ("resiliparse/clueweb-quirk.warc.gz", 0, (29, 29), "29 record(s) failing their digest"),
    ("warcio/bad.arc", 0, (0, 0), "3 capture(s) without an HTTP status line skipped"),
    ("pywb/example-url-agnostic-revisit.warc.gz", 0, (0, 0), "1 revisit(s) skipped: the respon"),
]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared WARC corpus is not here")
@pytest.mark.parametrize(("name", "code", "counts", "said"), BROKEN_CASES, ids=lambda v: str(v))
async def test_a_broken_file_gives_what_precedes_its_fault_and_says_so(
    name: str, code: int, counts: tuple[int, int], said: str, tmp_path: Path
):
    """A broken or quirky file imports what can be read, and one warning line says what was
    skipped and why; no traceback."""
    db = tmp_path / "crawl.db"
    status, out, err = await run_cli("import", str(CORPUS / name), "--db", str(db))
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"warning: {CORPUS / name}: ")
    assert said in lines[0]
    assert status == code, err
    assert f"imported {counts[0]} captures from 1 file(s)" in out
    assert rows(db, "SELECT count(*) FROM pages") == [(counts[1],)]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared WARC corpus is not here")
async def test_a_file_that_is_no_archive_is_refused_in_one_line(tmp_path: Path):
    """A CDX index given as an archive is refused with one error line, exit 2."""
    cdx = CORPUS / "warc-specifications/primer/hello-world.warc.cdx"
    status, _, err = await run_cli("import", str(cdx), "--db", str(tmp_path / "c.db"))
    assert status == 2
    assert_one_error_line(err, "not a WARC, ARC or WACZ file")
