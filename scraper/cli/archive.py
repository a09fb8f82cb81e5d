"""``scraper export -f warc -o FILE.warc.gz [--changed-since T] [--max-size 1GB]`` (issue 30):
the crawl's ``--archive`` captures as WARC 1.1 files, split at ``--max-size``."""

import asyncio
import re
import sys
from pathlib import Path

from scraper.errors import UsageError
from scraper.export import export_warc
from scraper.storage import is_postgres

DEFAULT_MAX_SIZE = "1GB"
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?", re.IGNORECASE)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


def parse_size(text: str) -> int:
    """Bytes in ``text``: ``1GB`` (10^9), ``500MB``, ``64MiB`` (2^20 each), ``1000000``."""
    match = _SIZE.fullmatch(text.strip())
    if match is None or float(match[1]) <= 0:
        raise UsageError(f"--max-size: {text!r} is not a size (1GB, 500MB, 64MiB)")
    base = 1024 if match[3] else 1000
    return max(1, int(float(match[1]) * base ** _POWERS[match[2].lower()]))


def export_archive(db: str | Path, output: str, since: str | None, max_size: str) -> None:
    """Write the WARC files; errors as UsageError or ScraperError."""
    if output == "-":
        raise UsageError("-f warc writes files: give one with -o FILE.warc.gz")
    if not is_postgres(db) and Path(output).resolve() == Path(db).resolve():
        raise UsageError(f"{output} is the database itself; choose another file")
    done = asyncio.run(export_warc(db, Path(output), since, parse_size(max_size)))
    names = ", ".join(str(p) for p in done.files) or "no file (nothing fetched since then)"
    print(f"wrote {done.captures} captures to {names}", file=sys.stderr)
