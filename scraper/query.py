"""Reading what was scraped: SQL, search, export and stats, rendered as JSON, JSON Lines or CSV.

The stage between the command line and the storage layer's readers (SQLite or PostgreSQL, by
the database's address; each builds its own search query from the user's words): it opens the
database read-only and turns rows into bytes a chunk at a time, so a result
of any size streams through in bounded memory. It writes only to the stream or file it is
given (``cli`` decides which, and ``output`` draws terminal tables).

CSV is written for spreadsheets (RFC 4180 via the ``csv`` module): UTF-8 with a byte order
mark, a header row, CRLF line ends, and text cells that start with ``= + - @``, a tab or a
carriage return prefixed with an apostrophe, so a scraped ``=HYPERLINK(...)`` stays text
(OWASP's advice against formula injection).
"""

import asyncio
import base64
import contextlib
import csv
import io
import json
import math
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

from scraper.errors import ScraperError, UsageError
from scraper.models import FrontierState
from scraper.storage import CrawlCounts, Row, Rows, is_postgres, open_read_store

SNIPPET_MARKERS = ("[", "]")  # around matched words in search snippets (json, jsonl, csv)
TOP_HOSTS = 20  # hosts listed by the human `stats` output (--json lists all)

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# What SQLite skips between statements: whitespace, `-- ...` and `/* ... */` comments, `;`.
_NO_STATEMENT = re.compile(r"(?:\s|;|--[^\n]*|/\*(?:[^*]|\*(?!/))*(?:\*/|\Z))*")


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    JSONL = "jsonl"
    CSV = "csv"


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"
    MARKDOWN = "markdown"  # a directory of files: scraper.export (issue 26)
    LLMS_TXT = "llms-txt"  # the same, and an llms.txt per host
    WARC = "warc"  # WARC 1.1 files of the --archive captures: scraper.export.warc (issue 30)


# -- opening results ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def select_rows(db: str | Path, sql: str) -> AsyncIterator[Rows]:
    """The rows of one read-only SQL statement (UsageError if the database refuses it, or if
    ``sql`` holds no statement at all: SQLite would run nothing and print nothing)."""
    if _NO_STATEMENT.fullmatch(sql):
        raise UsageError("no SQL statement given")
    async with open_read_store(db) as store, store.rows(sql) as rows:
        yield rows


@contextlib.asynccontextmanager
async def search_pages(
    db: str | Path,
    terms: Sequence[str],
    *,
    limit: int,
    raw: bool = False,
    markers: tuple[str, str] = SNIPPET_MARKERS,
) -> AsyncIterator[Rows]:
    """Pages matching ``terms`` (plain words, or the backend's query syntax if ``raw``: FTS5 on
    SQLite, websearch_to_tsquery's on PostgreSQL), best first."""
    async with (
        open_read_store(db) as store,
        store.search(terms, raw=raw, limit=limit, markers=markers) as rows,
    ):
        yield rows


@contextlib.asynccontextmanager
async def export_pages(db: str | Path, changed_since: str | None = None) -> AsyncIterator[Rows]:
    """Every stored page, all columns, oldest first (``changed_since``: only the pages new or
    changed since then, not removed: the delta to index again)."""
    async with open_read_store(db) as store, store.pages(changed_since) as rows:
        yield rows


@contextlib.asynccontextmanager
async def page_changes(db: str | Path, since: str) -> AsyncIterator[Rows]:
    """url, change (new, changed, removed), at: every change since ``since``, oldest first."""
    async with open_read_store(db) as store, store.changes(since) as rows:
        yield rows


async def first_rows(rows: Rows, limit: int) -> tuple[list[Row], bool]:
    """Up to ``limit`` rows, and whether there were more."""
    taken: list[Row] = []
    while len(taken) <= limit and (chunk := await rows.fetch()):
        taken.extend(chunk)
    return taken[:limit], len(taken) > limit


# -- rendering ----------------------------------------------------------------------------------


async def render(
    rows: Rows, fmt: OutputFormat | ExportFormat, json_columns: Iterable[str] = ()
) -> AsyncIterator[bytes]:
    """The rows as UTF-8 bytes in ``fmt`` (not table), a chunk of rows at a time.

    ``json_columns`` hold JSON text and are written as JSON values in json/jsonl.
    """
    chunks = _csv(rows) if fmt == OutputFormat.CSV else _json(rows, fmt, json_columns)
    async for data in chunks:
        yield data


async def _json(
    rows: Rows, fmt: OutputFormat | ExportFormat, json_columns: Iterable[str]
) -> AsyncIterator[bytes]:
    keys = _unique(rows.columns)
    parse = frozenset(i for i, name in enumerate(rows.columns) if name in set(json_columns))
    array = fmt == OutputFormat.JSON
    first = True
    while chunk := await rows.fetch():
        lines = []
        for row in chunk:
            obj = {
                key: _json_value(v, i in parse)
                for i, (key, v) in enumerate(zip(keys, row, strict=True))
            }
            text = json.dumps(obj, ensure_ascii=False)
            lines.append(("[\n" if first else ",\n") + text if array else text + "\n")
            first = False
        yield "".join(lines).encode()
    if array:
        yield b"[]\n" if first else b"\n]\n"


async def _csv(rows: Rows) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")  # Excel reads UTF-8 only with a BOM
    writer.writerow(_csv_cell(name) for name in rows.columns)
    while chunk := await rows.fetch():
        writer.writerows([_csv_cell(v) for v in row] for row in chunk)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def _csv_cell(value: object) -> object:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _json_value(value: object, parse: bool) -> Any:
    if isinstance(value, bytes):
        return {"$base64": True, "encoded": base64.b64encode(value).decode()}
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if parse and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _unique(columns: Sequence[str]) -> list[str]:
    """Column names as JSON keys: a repeated name gets a suffix (``id``, ``id_2``)."""
    keys: list[str] = []
    for name in columns:
        key, n = name, 1
        while key in keys:
            n += 1
            key = f"{name}_{n}"
        keys.append(key)
    return keys


# -- writing ------------------------------------------------------------------------------------


async def write_rows(
    rows: Rows, fmt: OutputFormat | ExportFormat, out: BinaryIO, json_columns: Iterable[str] = ()
) -> None:
    """Stream the rows to ``out`` in ``fmt``, a chunk at a time (OSError as raised)."""
    async for data in render(rows, fmt, json_columns):
        out.write(data)
    out.flush()


async def export_file(
    db: str | Path,
    fmt: ExportFormat,
    output: Path | None,
    stdout: BinaryIO,
    changed_since: str | None = None,
) -> None:
    """Write every page (or those changed since ``changed_since``) to ``output``, created once
    the database is known good, or ``stdout``.

    The ``data`` column (extracted fields) is written as a JSON object in JSON Lines, ``links``
    as a JSON array.
    """
    async with export_pages(db, changed_since) as rows:
        if output is None:
            await write_rows(rows, fmt, stdout, json_columns=("data", "links"))
            return
        if not is_postgres(db) and await asyncio.to_thread(_same_file, output, Path(db)):
            raise UsageError(f"{output} is the database itself; choose another file")
        try:
            out = await asyncio.to_thread(output.open, "wb")
        except OSError as exc:  # a directory, a missing directory, no permission
            raise ScraperError(f"cannot write {output}: {exc.strerror or exc}") from None
        with out:
            try:
                await write_rows(rows, fmt, out, json_columns=("data", "links"))
            except OSError as exc:  # disk full, quota
                raise ScraperError(f"cannot write {output}: {exc.strerror or exc}") from None


def _same_file(a: Path, b: Path) -> bool:
    return a.exists() and a.samefile(b)


# -- stats --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Section:
    """One table of the human ``stats`` output."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]


async def read_counts(db: str | Path) -> CrawlCounts:
    async with open_read_store(db) as store:
        return await store.counts()


def duration_s(counts: CrawlCounts) -> float | None:
    """Seconds from the first page fetched to the last (pauses between runs included)."""
    if counts.first_fetched_at is None or counts.last_fetched_at is None:
        return None
    first = datetime.fromisoformat(counts.first_fetched_at)
    last = datetime.fromisoformat(counts.last_fetched_at)
    return (last - first).total_seconds()


def pages_per_s(counts: CrawlCounts) -> float | None:
    seconds = duration_s(counts)
    return counts.pages / seconds if seconds else None


def frontier_states(counts: CrawlCounts) -> dict[str, int]:
    states = dict.fromkeys(FrontierState, 0)
    states.update({FrontierState(state): n for state, n in counts.frontier})
    return {str(state): n for state, n in states.items()}


def stats_json(counts: CrawlCounts) -> dict[str, object]:
    """The stats as one JSON object."""
    seconds = duration_s(counts)
    rate = pages_per_s(counts)
    return {
        "pages": counts.pages,
        "links": counts.links,
        "frontier": frontier_states(counts),
        "status": {str(status): n for status, n in counts.by_status},
        "content_types": dict(counts.by_content_type),
        "hosts": dict(counts.by_host),
        "failures": [
            {"state": state, "reason": reason, "urls": n} for state, reason, n in counts.failures
        ],
        "blocked": [
            {"host": host, "reason": reason, "urls": n}
            for host, reason, n in counts.blocked_by_host
        ],
        "proxies": [
            {"proxy": p, "requests": r, "failures": f, "last_error": e}
            for p, r, f, e in counts.proxies
        ],
        "first_fetched_at": counts.first_fetched_at,
        "last_fetched_at": counts.last_fetched_at,
        "duration_s": None if seconds is None else round(seconds, 3),
        "pages_per_s": None if rate is None else round(rate, 2),
    }


def stats_sections(counts: CrawlCounts) -> list[Section]:
    """The stats as titled tables, for people."""
    seconds = duration_s(counts)
    rate = pages_per_s(counts)
    hosts: list[Row] = list(counts.by_host[:TOP_HOSTS])
    if len(counts.by_host) > TOP_HOSTS:
        rest = counts.by_host[TOP_HOSTS:]
        hosts.append((f"({len(rest)} more hosts)", sum(n for _, n in rest)))
    summary: list[Row] = [
        ("pages", counts.pages),
        ("links", counts.links),
        ("first fetch", counts.first_fetched_at or "-"),
        ("last fetch", counts.last_fetched_at or "-"),
        ("duration", _duration_text(seconds)),
        ("pages/s", "-" if rate is None else f"{rate:.1f}"),
    ]
    sections = [
        Section("crawl", ("", ""), tuple(summary)),
        Section("frontier", ("state", "URLs"), tuple(frontier_states(counts).items())),
        Section("status", ("status", "pages"), counts.by_status),
        Section("content type", ("content type", "pages"), counts.by_content_type),
        Section("hosts", ("host", "pages"), tuple(hosts)),
        Section("failures", ("state", "reason", "URLs"), counts.failures),
    ]
    if counts.blocked_by_host:  # challenge, captcha and access-denied pages
        sections.append(Section("blocked", ("host", "reason", "URLs"), counts.blocked_by_host))
    if counts.proxies:
        columns = ("proxy", "requests", "failures", "last error")
        sections.append(Section("proxies", columns, counts.proxies))
    return sections


def _duration_text(seconds: float | None) -> str:
    """One style at every scale: ``5.0 s``, ``2 min 13 s``, ``1 h 02 min``."""
    if seconds is None:
        return "-"
    if round(seconds, 1) < 60:
        return f"{seconds:.1f} s"
    if round(seconds) < 3600:
        return f"{round(seconds) // 60} min {round(seconds) % 60:02d} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def sections_text(sections: Iterable[Section]) -> str:
    """Sections as plain aligned text (for pipes and files)."""
    blocks = []
    for section in sections:
        header = [section.columns] if any(section.columns) else []
        cells = [[str(v) for v in row] for row in [*header, *section.rows]]
        widths = [
            max((len(row[i]) for row in cells), default=0) for i in range(len(section.columns))
        ]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in cells
        ]
        lines += [] if section.rows else ["(none)"]
        blocks.append("\n".join([f"{section.title}:", *("  " + line for line in lines)]))
    return "\n\n".join(blocks) + "\n"
