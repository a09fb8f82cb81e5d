"""What both backends store the same way of what a page says about itself (schema 8, issue 29):
a row per version in ``metadata`` (keyed by ``versions.id``, as ``contents`` is) with the page's
structured data as one JSON object (``json_ld``, ``opengraph``, ``twitter``, ``microdata``), the
columns derived from it (``canonical_url``, ``lang``, ``published_at``, ``modified_at``,
``author``), the 64-bit simhash of its main text (signed, as SQL stores 64 bits) and the
simhash's four 16-bit bands, each indexed: two pages within ``NEAR_BITS`` bits share a band,
so ``band0 = ? OR band1 = ? ...`` finds the candidates without a full scan. The view
``pages_metadata`` gives each page's latest row by URL. The ``pages`` row and its content hash
are untouched: a page does not read as changed after the upgrade."""

import json
from collections.abc import Sequence

import orjson

from scraper.digest import signed_simhash, simhash_bands
from scraper.models import PageMetadata, PageRecord, Reparsed
from scraper.storage.versionorder import latest_version

METADATA_SCHEMA = 8  # the version of both backends' schemas that adds these tables
# (url or version id, metadata JSON, canonical_url, lang, published_at, modified_at, author,
#  simhash, band0, band1, band2, band3)
MetadataRow = tuple[object, ...]
METADATA_COLUMNS = (
    "metadata, canonical_url, lang, published_at, modified_at, author, simhash, "
    "band0, band1, band2, band3"
)


def metadata_ddl(types: dict[str, str]) -> str:
    """The table, its indexes and the view, in a backend's ``types`` (``bigint``, ``int``,
    ``text``, ``json``)."""
    text, bigint, integer = types["text"], types["bigint"], types["int"]
    bands = "".join(f"    band{i} {integer} NOT NULL,\n" for i in range(4))
    indexes = "".join(f"CREATE INDEX metadata_band{i} ON metadata (band{i});\n" for i in range(4))
    return (
        f"""
CREATE TABLE metadata (  -- what a version says about itself (issue 29)
    version_id    {bigint} PRIMARY KEY,  -- versions.id
    url           {text} NOT NULL,
    metadata      {types["json"]} NOT NULL,  -- {{"json_ld", "opengraph", "twitter", "microdata"}}
    canonical_url {text},  -- link rel=canonical, resolved and normalized
    lang          {text},  -- html lang, else detected from the main text
    published_at  {text},  -- ISO 8601 (UTC Z when the page gave an offset)
    modified_at   {text},
    author        {text},
    simhash       {bigint} NOT NULL,  -- 64-bit simhash of the main text, signed
{bands.rstrip().rstrip(",")}  -- its 16-bit slices, lowest first
);
{indexes}CREATE INDEX metadata_canonical ON metadata (canonical_url);
"""
        + METADATA_VIEW
    )


# Each page's metadata of its latest version (by fetch time: storage.versionorder).
METADATA_VIEW = f"""
CREATE VIEW pages_metadata (url, version_id, {METADATA_COLUMNS}) AS
SELECT p.url, m.version_id, {", ".join("m." + c for c in METADATA_COLUMNS.split(", "))}
FROM pages AS p
JOIN metadata AS m ON m.version_id = {latest_version("p.url")};
"""


def document_json(document: dict[str, object]) -> str:
    """The structured data as JSON text (NULs dropped: PostgreSQL's jsonb has none)."""
    try:
        text = orjson.dumps(document).decode()
    except (orjson.JSONEncodeError, TypeError):  # an integer over 64 bits, say
        try:
            text = json.dumps(document, ensure_ascii=False, allow_nan=False, default=str)
        except ValueError:
            text = "{}"
    return text.replace("\\u0000", "")


def _row(key: object, meta: PageMetadata) -> MetadataRow:
    return (
        key, document_json(meta.document), meta.canonical_url, meta.lang, meta.published_at,
        meta.modified_at, meta.author, signed_simhash(meta.simhash), *simhash_bands(meta.simhash),
    )  # fmt: skip


def metadata_rows(pages: Sequence[PageRecord]) -> list[MetadataRow]:
    """(url, ...) of the pages of a batch that have metadata (parsed HTML)."""
    return [_row(p.url, p.metadata) for p in pages if p.metadata is not None]


def reparsed_metadata(pages: Sequence[Reparsed]) -> list[tuple[object, ...]]:
    """(version id, url, ...) of the versions parsed again that have metadata."""
    return [(p.version_id, *_row(p.url, p.metadata)) for p in pages if p.metadata is not None]
