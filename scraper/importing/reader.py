"""Reading WARC/ARC records with warcio: a first pass that lists the captures of a stream (where
each one starts, its URL, time and digests) and says what it could not read, then each capture
read again by its offset, its payload decoded (chunked framing and Content-Encoding removed).

warcio reads WARC 1.0, 1.1, 0.17 and 0.18, ARC (as WARC), LF-only headers and per-record gzip;
a file gzipped as one member it refuses after the first record (:class:`NotPerRecordGzip`):
the caller then reads it through its decompressed stream.
"""

import io
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord

from scraper.importing.sources import Source
from scraper.urls import try_normalize

logging.getLogger("warcio").setLevel(logging.ERROR)  # "Replacing spaces in ...": ours to say

CAPTURE_TYPES = ("response", "revisit")
_TIME = re.compile(
    r"(\d{4})-?(\d\d)-?(\d\d)(?:\d(?=T))?(?:[T ]?(\d\d)(?::?(\d\d)(?::?(\d\d))?)?)?"
    r"(\.\d+)?(Z|[+-]\d\d:?\d\d)?"
)


class _QuietIterator(ArchiveIterator):  # type: ignore[misc]
    """warcio's iterator without its stderr warning per record whose length is off (counted in
    ``err_count``: the import says it in its one line per file)."""

    INC_RECORD = ""


class NotPerRecordGzip(Exception):
    """The stream is gzip of one member, not one member per record."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A capture found by the first pass: where its record starts, and what resolves revisits."""

    source: int  # index in the import's list of sources
    offset: int
    url: str  # normalized
    fetched_at: str  # ISO 8601, UTC, milliseconds: as the crawl stores fetch times
    revisit: bool
    digest: str | None
    refers_to: tuple[str, str] | None = None  # (normalized URL, fetched_at) of a revisit


@dataclass(slots=True)
class Scan:
    """What a first pass found in one stream."""

    entries: list[Entry] = field(default_factory=list)
    resources: list[Entry] = field(default_factory=list)  # not pages: what revisits may point at
    records: int = 0
    skipped_urls: int = 0  # captures of a target that is not an http(s) URL we can store
    bad_digests: int = 0
    bad_lengths: int = 0
    cut_short: int = 0  # records whose block ends before their Content-Length
    fault: str | None = None  # why reading stopped before the end
    unread_bytes: int = 0  # bytes after the last record read (a stream that ended early)


def scan(index: int, source: Source, fh: IO[bytes]) -> Scan:
    """The captures of ``fh`` (``source`` number ``index``), reading as far as it can."""
    found = Scan()
    end = 0
    it = _QuietIterator(fh, arc2warc=True, check_digests=True)
    try:
        for record in it:
            found.records += 1
            offset = it.get_record_offset()  # reads the record to its end (and its digests)
            end = offset + it.get_record_length()
            checker = record.digest_checker
            if checker is not None and checker.passed is False:
                found.bad_digests += 1
            found.cut_short += getattr(record.raw_stream, "limit", 0) > 0
            if record.rec_type == "resource" and (entry := _entry(index, offset, record)):
                found.resources.append(entry)  # warcit's revisits point at resource records
            if record.rec_type in CAPTURE_TYPES:
                entry = _entry(index, offset, record)
                if entry is not None:
                    found.entries.append(entry)
                elif _is_http(record.rec_headers.get_header("WARC-Target-URI")):
                    found.skipped_urls += 1  # dns:, file:... are no pages: not counted
    except ArchiveLoadFailed as exc:
        if "non-chunked gzip" in str(exc):
            raise NotPerRecordGzip from None
        found.fault = _first_line(str(exc))
    except Exception as exc:  # zlib.error, a header warcio cannot parse: stop, keep what was read
        found.fault = f"cannot read the next record ({type(exc).__name__}: {_first_line(str(exc))})"
    found.bad_lengths = it.err_count
    found.unread_bytes = max(0, fh.seek(0, io.SEEK_END) - end)
    return found


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return (lines[0] if lines else "unreadable record")[:160]


def _entry(index: int, offset: int, record: ArcWarcRecord) -> Entry | None:
    headers = record.rec_headers
    url = _target(headers.get_header("WARC-Target-URI"))
    at = warc_time(headers.get_header("WARC-Date"))
    if url is None or at is None:
        return None
    refers = None
    if record.rec_type == "revisit":
        to_url = _target(headers.get_header("WARC-Refers-To-Target-URI"))
        to_at = warc_time(headers.get_header("WARC-Refers-To-Date"))
        refers = (to_url, to_at) if to_url and to_at else None
    digest = headers.get_header("WARC-Payload-Digest")
    return Entry(index, offset, url, at, record.rec_type == "revisit", digest, refers)


def _is_http(uri: str | None) -> bool:
    return (uri or "").strip().lstrip("<").lower().startswith(("http://", "https://"))


def _target(uri: str | None) -> str | None:
    """The normalized http(s) URL of a target URI (wget 1.14 writes it in ``<...>``)."""
    if not uri:
        return None
    uri = uri.strip().removeprefix("<").removesuffix(">").replace(" ", "%20")
    return try_normalize(uri) if _is_http(uri) else None


def warc_time(value: str | None) -> str | None:
    """A WARC-Date as the crawl's ``fetched_at`` (UTC, milliseconds); None when it is no time.

    Lenient as archives need: a fraction or not, a zone offset (ClueWeb09's ``-0700``, and its
    three-digit days, ``2008-10-294``), minutes only (``2019-08-15T01:02``), and WARC/0.17's and
    ARC's ``20080430204825``."""
    found = _TIME.match((value or "").strip())
    if found is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = found.groups()
    try:
        at = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                      int(second or 0), tzinfo=UTC)  # fmt: skip
    except ValueError:
        return None
    if zone and zone != "Z":
        sign = -1 if zone[0] == "+" else 1
        at += sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[-2:]))
    millis = (fraction or "")[1:4].ljust(3, "0")
    return at.isoformat(timespec="seconds").replace("+00:00", f".{millis}+00:00")


def read_at(fh: IO[bytes], offset: int) -> ArcWarcRecord:
    """The record that starts at ``offset`` (its payload not yet read)."""
    fh.seek(offset)
    return next(iter(_QuietIterator(fh, arc2warc=True)))
