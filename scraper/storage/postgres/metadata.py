"""A page's metadata on PostgreSQL (schema 8, :mod:`scraper.storage.metadata`): the table, the
statement a sink batch adds for its pages' rows, and reparse's."""

from collections.abc import Sequence

from scraper.models import PageRecord, Reparsed
from scraper.storage.metadata import (
    METADATA_COLUMNS,
    MetadataRow,
    metadata_ddl,
    metadata_rows,
    reparsed_metadata,
)

METADATA = metadata_ddl({"bigint": "bigint", "int": "integer", "text": "text", "json": "jsonb"})
_ARRAYS = (
    "%s::text[], %s::jsonb[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
    "%s::bigint[], %s::int[], %s::int[], %s::int[], %s::int[]"
)
_AS = f"t(url, {METADATA_COLUMNS})"
_T_COLUMNS = ", ".join("t." + c for c in METADATA_COLUMNS.split(", "))
# Each page's row for its URL's latest version (after the batch's versions), one kept per
# version (a page written twice stays one); none for a URL without a version.
INSERT_METADATA = f"""
INSERT INTO metadata (version_id, url, {METADATA_COLUMNS})
SELECT (SELECT max(id) FROM versions v WHERE v.url = t.url), t.url, {_T_COLUMNS}
FROM unnest({_ARRAYS}) AS {_AS}
WHERE EXISTS (SELECT 1 FROM versions v WHERE v.url = t.url)
ON CONFLICT (version_id) DO NOTHING
"""
_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in METADATA_COLUMNS.split(", "))
REPARSED_METADATA = f"""
INSERT INTO metadata (version_id, url, {METADATA_COLUMNS})
SELECT * FROM unnest(%s::bigint[], {_ARRAYS})
ON CONFLICT (version_id) DO UPDATE SET {_UPDATES}
"""


def _clean(row: Sequence[object]) -> list[object]:
    return [v.replace("\x00", "") if isinstance(v, str) else v for v in row]  # text has no NUL


def _columns(rows: Sequence[MetadataRow]) -> list[list[object]]:
    clean = [_clean(row) for row in rows]
    return [[row[i] for row in clean] for i in range(len(clean[0]))]


def metadata_statements(pages: Sequence[PageRecord]) -> list[tuple[str, list[list[object]]]]:
    """The statement (and its column arrays) that stores a batch's metadata, if it has any."""
    rows = metadata_rows(pages)
    return [(INSERT_METADATA, _columns(rows))] if rows else []


def reparse_metadata_statements(
    pages: Sequence[Reparsed],
) -> list[tuple[str, list[list[object]]]]:
    """The statement that replaces the metadata of versions parsed again."""
    rows = reparsed_metadata(pages)
    return [(REPARSED_METADATA, _columns(rows))] if rows else []
