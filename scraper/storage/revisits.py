"""What both backends write and read the same way for revisits: a record's revisit columns,
the frontier rows a batch finishes, the claimed URLs' previous visits, which pages a recrawl
schedules."""

from collections.abc import Iterable, Sequence
from typing import Any

from scraper.models import (
    CheckedRecord,
    FailureRecord,
    FrontierItem,
    FrontierState,
    PageRecord,
    PreviousVisit,
    SinkRecord,
    Visit,
)

# The revisit columns of pages (schema 6), with a kind each backend names in its own types:
# the validators of the last answer, the hashes a revisit compares (raw body; title, text and
# data), when the URL was last asked and when its content last changed, its revisit interval
# and when it is due again.
REVISIT_COLUMNS = (
    ("etag", "text"),
    ("last_modified", "text"),
    ("body_hash", "text"),
    ("content_hash", "text"),
    ("checked_at", "time"),
    ("changed_at", "time"),
    ("revisit_s", "seconds"),
    ("next_visit_at", "time"),
)


def revisit_columns(types: dict[str, str]) -> list[tuple[str, str]]:
    """:data:`REVISIT_COLUMNS` in a backend's ``types``."""
    return [(name, types[kind]) for name, kind in REVISIT_COLUMNS]


def versions_ddl(types: dict[str, str]) -> str:
    """The ``versions`` table and the revisit indexes of pages, in a backend's ``types`` (the
    kinds of :data:`REVISIT_COLUMNS`, and ``id``, ``int``, ``json``).

    One row per distinct content a URL ever had (the latest is also in pages): what a page said
    at any time is the last version fetched before it. change: new (its first content),
    changed, removed (it answered 404 or 410; no content)."""
    text = types["text"]
    return f"""
CREATE TABLE versions (
    id           {types["id"]},
    url          {text} NOT NULL,
    fetched_at   {types["time"]} NOT NULL,
    status       {types["int"]} NOT NULL,
    change       {text} NOT NULL CHECK (change IN ('new', 'changed', 'removed')),
    content_type {text},
    content_hash {text},
    title        {text},
    description  {text},
    text         {text},
    data         {types["json"]}
);
CREATE INDEX versions_url ON versions (url, id);
CREATE INDEX versions_fetched ON versions (fetched_at);
CREATE INDEX pages_next_visit ON pages (next_visit_at);
CREATE INDEX pages_changed ON pages (changed_at);
"""


# Schema 5 to 6, after the pages' content hashes are set and the versions table made: every
# page its first version (none for a page gone), then each body of the old bodies table (by URL,
# renamed bodies_5) the body of its URL's version (the new bodies table made before).
FIRST_VERSIONS = """
INSERT INTO versions (url, fetched_at, status, change, content_type, content_hash, title,
    description, text, data)
SELECT url, fetched_at, status, 'new', content_type, content_hash, title, description, text,
    data FROM pages
WHERE status NOT IN (404, 410) ORDER BY id;
"""
BODIES_OF_VERSIONS = """
INSERT INTO bodies (version_id, url, charset, body)
SELECT v.id, b.url, b.charset, b.body FROM bodies_5 b JOIN versions v USING (url);
DROP TABLE bodies_5;
"""


def visit_columns(p: PageRecord) -> tuple[object, ...]:
    """A page row's revisit columns: etag, last_modified, body_hash, content_hash,
    checked_at, revisit_s, next_visit_at (checked when fetched without a visit)."""
    v = p.visit
    if v is None:
        return (None, None, None, None, p.fetched_at, None, None)
    return (v.etag, v.last_modified, v.body_hash, v.content_hash, v.checked_at, v.revisit_s,
            v.next_visit_at)  # fmt: skip


def checked_columns(r: CheckedRecord) -> tuple[object, ...]:
    """(url, checked_at, etag, last_modified, body_hash, revisit_s, next_visit_at)."""
    v: Visit = r.visit
    return (r.url, v.checked_at, v.etag, v.last_modified, v.body_hash, v.revisit_s,
            v.next_visit_at)  # fmt: skip


def finished_rows(records: Iterable[SinkRecord]) -> list[tuple[int, str, int, str | None]]:
    """(frontier id, state, attempts, last_error) of every record of a batch: a page, stored
    or found unchanged, is done."""
    done = FrontierState.DONE.value
    rows: list[tuple[int, str, int, str | None]] = []
    for r in records:
        if isinstance(r, FailureRecord):
            rows.append((r.frontier_id, r.state.value, r.attempts, r.reason))
        else:
            rows.append((r.frontier_id, done, r.attempts, None))
    return rows


def with_previous(
    items: list[FrontierItem], rows: Iterable[Sequence[object]]
) -> list[FrontierItem]:
    """``items`` with ``previous`` set from (url, etag, last_modified, body_hash,
    content_hash, revisit_s) rows of their stored pages."""
    found = {str(row[0]): _previous(row[1:]) for row in rows}
    if not found:
        return items
    return [
        FrontierItem(i.id, i.url, i.host, i.depth, i.attempts, found[i.url])
        if i.url in found
        else i
        for i in items
    ]


def claimed_item(row: Sequence[Any]) -> FrontierItem:
    """A claimed URL from [id, url, host, depth, attempts, page id, etag, last_modified,
    body_hash, content_hash, revisit_s], the page's columns NULL when none is stored."""
    previous = None if row[5] is None else _previous(row[6:])
    return FrontierItem(row[0], row[1], row[2], row[3], row[4], previous)


def _previous(values: Sequence[object]) -> PreviousVisit:
    """(etag, last_modified, body_hash, content_hash, revisit_s) as a :class:`PreviousVisit`."""
    etag, modified, body, content, revisit_s = values
    return PreviousVisit(
        _text(etag), _text(modified), _text(body), _text(content), _number(revisit_s)
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def revisit_filter(
    due_at: str | None, checked_before: str | None, mark: str
) -> tuple[str, list[object]]:
    """The WHERE clause (over pages) of a recrawl's pages, and its parameters (``mark``: the
    backend's placeholder): all pages; or due by ``due_at`` (never scheduled: due); or last
    checked before ``checked_before``; both given: both."""
    terms: list[str] = []
    params: list[object] = []
    if due_at is not None:
        terms.append(f"(next_visit_at IS NULL OR next_visit_at <= {mark})")
        params.append(due_at)
    if checked_before is not None:
        terms.append(f"coalesce(checked_at, fetched_at) < {mark}")
        params.append(checked_before)
    return (" AND ".join(terms) or "true"), params
