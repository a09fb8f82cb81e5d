"""An import's archives as one list of captures in fetch-time order: a first pass over every
stream (:func:`survey`), then the captures read back by offset in that order
(:class:`CaptureReader`), so an older capture imported with a newer one never lands after it.

Blocking file reads: the crawl calls these in a thread.
"""

import contextlib
import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from scraper.importing.captures import Originals, Payload, fetch_result, payload
from scraper.importing.reader import Entry, NotPerRecordGzip, Scan, read_at, scan
from scraper.importing.sources import Source, is_gzip, sources
from scraper.models import FetchResult
from scraper.urls import url_host


@dataclass(slots=True)
class FileReport:
    """What an import read from one stream, and what it skipped."""

    name: str
    scan: Scan
    whole_gzip: bool = False  # gzipped as one member: read through its decompressed bytes
    unresolved: int = 0  # revisits whose original response is in none of the files
    not_http: int = 0  # captures without an HTTP status line
    undecoded: int = 0  # bodies whose Content-Encoding could not be undone (kept as they are)
    imported: int = 0


@dataclass(slots=True)
class Survey:
    sources: list[Source]
    reports: list[FileReport]
    entries: list[Entry] = field(default_factory=list)  # fetch-time order
    resources: list[Entry] = field(default_factory=list)  # originals of revisits, not pages

    @property
    def hosts(self) -> dict[str, str]:
        """The first URL captured of each host (seeds of the imported crawl)."""
        first: dict[str, str] = {}
        for entry in self.entries:
            first.setdefault(url_host(entry.url), entry.url)
        return first


def survey(paths: Sequence[Path]) -> Survey:
    """The captures of every archive in ``paths`` (UsageError for a file that cannot be read)."""
    streams = [s for path in paths for s in sources(path)]
    found = Survey([], [])
    for index, stream in enumerate(streams):
        source, result = _scan(index, stream)
        found.sources.append(source)
        found.reports.append(FileReport(source.name, result, whole_gzip=source.whole_gzip))
        found.entries.extend(result.entries)
        found.resources.extend(result.resources)
    found.entries.sort(key=lambda e: (e.fetched_at, e.source, e.offset))
    return found


def _scan(index: int, source: Source) -> tuple[Source, Scan]:
    """The first pass over one stream. A gzip stream whose members are not one per record
    (gzipped whole, or cut anywhere: warcio stops early, or silently) is read again as one
    decompressed stream, kept if that reads more of it."""
    try:
        with source.open() as fh:
            result = scan(index, source, fh)
        if (result.fault is None and not result.unread_bytes) or not is_gzip(source):
            return source, result
    except NotPerRecordGzip:
        result = Scan(fault="gzip members are not one per record")
    whole = dataclasses.replace(source, whole_gzip=True)
    with whole.open() as fh:
        again = scan(index, whole, fh)
    return (whole, again) if again.records > result.records else (source, result)


class CaptureReader:
    """Reads captures back by offset (each stream opened once), revisits resolved."""

    def __init__(self, found: Survey) -> None:
        self._survey = found
        self._originals = Originals(found.entries + found.resources)
        self._files = contextlib.ExitStack()
        self._open: dict[int, IO[bytes]] = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._files.close()

    def read(self, entries: Iterable[Entry]) -> list[FetchResult]:
        """The fetch results of ``entries``; those that cannot be read are counted, not given."""
        results = []
        for entry in entries:
            report = self._survey.reports[entry.source]
            result = self._result(entry, report)
            if result is not None:
                report.imported += 1
                results.append(result)
        return results

    def _result(self, entry: Entry, report: FileReport) -> FetchResult | None:
        own = self._payload(entry)
        original = None
        if entry.revisit:
            target = self._originals.original(entry)
            original = self._payload(target) if target is not None else None
            if original is None:
                report.unresolved += 1
                return None
        elif own is None:
            report.not_http += 1
            return None
        content = original or own
        report.undecoded += content is not None and not content.decoded
        return fetch_result(entry, own, original)

    def _payload(self, entry: Entry) -> Payload | None:
        fh = self._open.get(entry.source)
        if fh is None:
            fh = self._files.enter_context(self._survey.sources[entry.source].open())
            self._open[entry.source] = fh
        return payload(read_at(fh, entry.offset))
