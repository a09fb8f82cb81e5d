"""What a fetch records about a page besides its content (:class:`~scraper.models.Visit`), and
whether a revisit found it unchanged.

A revisit is the fetch of a URL whose page is stored (``FrontierItem.previous``). It is
unchanged when the server answers ``304`` to the conditional request, when the raw body is the
same bytes (nothing to parse), or when the parsed content (title, text, extracted data: see
:mod:`scraper.digest`) hashes the same: then only a :class:`~scraper.models.CheckedRecord` is
written. The revisit interval halves when the page changed and doubles when it did not, between
``min_revisit_s`` and ``max_revisit_s``; a new page starts at ``min_revisit_s``.
"""

from dataclasses import dataclass

from scraper.config import Settings
from scraper.digest import body_hash, page_content_hash
from scraper.models import (
    CheckedRecord,
    FetchResult,
    FrontierItem,
    ParsedPage,
    PreviousVisit,
    Visit,
)
from scraper.timespec import later


@dataclass(frozen=True, slots=True)
class RevisitPlan:
    """Which stored pages a recrawl revisits: all; or those due by ``due_at``; or those last
    checked before ``checked_before`` (both: pages that are both). Times as stored."""

    due_at: str | None = None
    checked_before: str | None = None


def interval_s(settings: Settings, previous: PreviousVisit | None, changed: bool) -> float:
    """The page's next revisit interval."""
    low, high = settings.min_revisit_s, settings.max_revisit_s
    if previous is None or previous.revisit_s is None:
        return low
    step = previous.revisit_s / 2 if changed else previous.revisit_s * 2
    return min(high, max(low, step))


def raw_hash(r: FetchResult) -> str | None:
    """The hash of a successful response's body, None when it was not kept (only counted)."""
    if 200 <= r.status < 300 and (r.body or not r.size_bytes):
        return body_hash(r.body)
    return None


def page_hash(
    r: FetchResult, parsed: ParsedPage | None, data_json: str | None, raw: str | None
) -> str | None:
    """The hash of what the response says (:func:`scraper.digest.page_content_hash`), ``raw``
    being :func:`raw_hash`'s."""
    title, text = (parsed.title, parsed.text) if parsed is not None else (None, None)
    return page_content_hash(r.status, r.content_type, r.size_bytes, title, text, data_json, raw)


def visit(
    settings: Settings,
    item: FrontierItem,
    r: FetchResult,
    *,
    hashes: tuple[str | None, str | None],
    changed: bool,
) -> Visit:
    """The visit ``r`` records, ``hashes`` being (body hash, content hash); a 304 keeps the
    stored hashes, and validators the server did not send again."""
    previous = item.previous
    revisit = interval_s(settings, previous, changed)
    etag, modified = r.etag, r.last_modified
    if previous is not None and r.status == 304:
        etag, modified = etag or previous.etag, modified or previous.last_modified
    return Visit(
        checked_at=r.fetched_at,
        etag=etag,
        last_modified=modified,
        body_hash=hashes[0],
        content_hash=hashes[1],
        revisit_s=revisit,
        next_visit_at=later(r.fetched_at, revisit),
    )


def unchanged(settings: Settings, item: FrontierItem, r: FetchResult) -> CheckedRecord | None:
    """The check record of a revisit known unchanged without parsing it (a ``304``, or the same
    raw body as last time); None otherwise, and for a first visit."""
    previous = item.previous
    if previous is None:
        return None
    if r.status == 304:
        return checked(settings, item, r, None)
    raw = raw_hash(r)
    return (
        checked(settings, item, r, raw) if raw is not None and raw == previous.body_hash else None
    )


def checked(
    settings: Settings, item: FrontierItem, r: FetchResult, raw: str | None
) -> CheckedRecord:
    """The record of a revisit that found its page unchanged; ``raw``: its body's hash (None
    for a 304: the stored one is kept)."""
    previous = item.previous
    stored = (previous.body_hash, previous.content_hash) if previous is not None else (None, None)
    visited = visit(settings, item, r, hashes=(raw or stored[0], stored[1]), changed=False)
    return CheckedRecord(item.id, item.url, r.status, r.attempts, visited)
