"""``export -f warc -o FILE.warc.gz``: the crawl's captures (``--archive``) as WARC 1.1 files.

Each file opens with a warcinfo record; then, per captured hop in the order fetched, a
request record and its response (or revisit) record (:mod:`.warc_records`). Streamed in flat
memory: captures are planned by id and read in groups of at most :data:`GROUP_BYTES` of
payload (or one capture); a file past ``max_size`` bytes is closed after its record and the next
one opened: ``FILE.warc.gz``, ``FILE-00001.warc.gz``, ``FILE-00002.warc.gz``...
"""

import asyncio
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from scraper.errors import ScraperError, UsageError
from scraper.export.markdown import sql_literal
from scraper.export.warc_records import (
    Refers,
    StoredCapture,
    capture_records,
    record_id,
    warcinfo,
)
from scraper.storage import open_read_store
from scraper.storage.reading import CrawlReader, Row
from scraper.timespec import now_iso

GROUP_BYTES = 32 << 20  # payload bytes read from the database at a time
GROUP_ROWS = 500
_PLAN = "SELECT id, body_length FROM captures WHERE id > {last}{since} ORDER BY id LIMIT 2000"
_GROUP = """
SELECT c.target_uri, c.fetched_at, c.peer, c.request, c.response, c.status, c.body,
       c.body_length, c.payload_digest, c.truncated, r.target_uri, r.fetched_at
FROM (SELECT c.*, CASE
        WHEN c.status = 304 THEN (SELECT max(o.id) FROM captures o WHERE o.id < c.id
            AND o.target_uri = c.target_uri AND o.status = 200 AND o.body IS NOT NULL)
        WHEN c.body IS NULL THEN (SELECT min(o.id) FROM captures o
            WHERE o.target_uri = c.target_uri AND o.payload_digest = c.payload_digest
            AND o.status = c.status AND o.body IS NOT NULL)
      END AS ref
      FROM captures c WHERE c.id BETWEEN {low} AND {high}{since}) AS c
LEFT JOIN captures r ON r.id = c.ref
ORDER BY c.id
"""
_NO_CAPTURES = (
    "has no captures to export as WARC: crawl with --archive (the HTTP heads and bytes as "
    "received that WARC needs are kept only then)"
)


@dataclass(frozen=True, slots=True)
class WarcExport:
    """What an export wrote: captures (request/response pairs) and files."""

    captures: int
    files: tuple[Path, ...]


def split_name(path: Path, n: int) -> Path:
    """The ``n``-th file of a split export: ``crawl.warc.gz``, ``crawl-00001.warc.gz``..."""
    if n == 0:
        return path
    name = path.name
    stem, dot, ext = name.partition(".warc") if ".warc" in name else (name, "", "")
    return path.with_name(f"{stem}-{n:05d}{dot}{ext}")


@dataclass(slots=True)
class _Files:
    """The export's files: opened as needed, each starting with a warcinfo record."""

    path: Path
    max_size: int
    written: list[Path] = field(default_factory=list)
    _out: BinaryIO | None = None
    _info: str = ""

    def write(self, captures: Sequence[StoredCapture]) -> None:
        for c in captures:
            out = self._current()
            out.write(capture_records(c, self._info))
            if out.tell() >= self.max_size:
                self.close()

    def _current(self) -> BinaryIO:
        if self._out is not None:
            return self._out
        path = split_name(self.path, len(self.written))
        try:
            self._out = path.open("wb")
        except OSError as exc:
            raise ScraperError(f"cannot write {path}: {exc.strerror or exc}") from None
        self.written.append(path)
        at = now_iso()
        self._info = record_id("warcinfo", at, path.name)
        self._out.write(warcinfo(path.name, self._info, at))
        return self._out

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def _capture(row: Row) -> StoredCapture:
    uri, at, peer, request, response, status, body, length, digest, cut, ref_uri, ref_at = row
    refers = None if ref_uri is None else Refers(str(ref_uri), str(ref_at))
    return StoredCapture(
        str(uri), str(at), str(peer or ""), _bytes(request), _bytes(response), _int(status),
        None if body is None else zlib.decompress(_bytes(body)), _int(length), str(digest),
        bool(cut), refers,
    )  # fmt: skip


def _bytes(value: object) -> bytes:
    """A BLOB (SQLite) or bytea (PostgreSQL) value."""
    if not isinstance(value, bytes | memoryview):
        raise ScraperError(f"captures: a blob column holds {type(value).__name__}")
    return bytes(value)


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise ScraperError(f"captures: an integer column holds {type(value).__name__}")
    return value


async def _groups(store: CrawlReader, since: str) -> list[tuple[int, int]]:
    """(first id, last id) of each group of captures: GROUP_BYTES of payload or GROUP_ROWS
    captures at most (a larger capture alone)."""
    groups: list[tuple[int, int]] = []
    low = high = size = count = 0
    while True:
        plan: list[Row] = []
        async with store.rows(_PLAN.format(last=high, since=since)) as rows:
            while batch := await rows.fetch():
                plan.extend(batch)
        for capture_id, length in ((_int(i), _int(n)) for i, n in plan):
            if count and (size + length > GROUP_BYTES or count >= GROUP_ROWS):
                groups.append((low, high))
                size = count = 0
            if not count:
                low = capture_id
            size, count, high = size + length, count + 1, capture_id
        if not plan:
            if count:
                groups.append((low, high))
            return groups


async def export_warc(
    db: str | Path, output: Path, changed_since: str | None, max_size: int
) -> WarcExport:
    """Write the captures (``changed_since``: those fetched since then) as WARC files."""
    when = None if changed_since is None else sql_literal(changed_since)
    since = "" if when is None else f" AND fetched_at >= {when}"
    files = _Files(output, max_size)
    total = 0
    try:
        async with open_read_store(db) as store:
            for low, high in await _plan(store, since):
                sql = _GROUP.format(low=low, high=high, since=since.replace(" f", " c.f"))
                async with store.rows(sql) as rows:
                    while batch := await rows.fetch():
                        captures = [_capture(r) for r in batch]
                        await asyncio.to_thread(files.write, captures)
                        total += len(captures)
    finally:
        files.close()
    if not total and changed_since is None:
        raise ScraperError(f"{db} {_NO_CAPTURES}")
    return WarcExport(total, tuple(files.written))


async def _plan(store: CrawlReader, since: str) -> list[tuple[int, int]]:
    try:
        return await _groups(store, since)
    except UsageError as exc:  # a database from before captures (schema 8)
        if "captures" in str(exc):
            raise ScraperError(_NO_CAPTURES) from None
        raise
