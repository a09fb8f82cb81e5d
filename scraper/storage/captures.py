"""What both backends store the same way of ``--archive`` captures (schema 8): table ``captures``,
one row per hop of each fetch, what a WARC writer needs (:mod:`scraper.export.warc`).

Columns:
- ``id``: the capture's number, in the order written (export order).
- ``version_id``: ``versions.id`` of the content the fetch found: the version it made, or for a
  revisit found unchanged (a 304, the same content) the version it confirmed; NULL when it made
  none (a first visit answering 404).
- ``url``: the page's URL (the frontier's); ``hop``: 0, 1, ... in redirect order, the last
  being the page's own response; ``target_uri``: the URL this hop requested.
- ``fetched_at``: when the hop's request was sent (UTC, ISO 8601 with milliseconds, as text on
  both backends); ``peer``: the IP address connected to ("" unknown).
- ``request``: request line and headers as sent; ``response``: status line and raw headers as
  received (case, order, duplicates kept), each ending with the blank line, CRLF.
- ``status``: the response's status code.
- ``body``: the payload as received (content-coded, chunked framing removed), zlib-compressed
  (level 1: 5x faster than 6 for a 10 % larger file on the bench's pages); NULL when an
  earlier capture of the same ``target_uri`` and status holds the same bytes (``payload_digest``):
  an unchanged revisit keeps its heads only.
- ``body_length``: the payload's size in bytes; ``payload_digest``: ``sha1:`` and the SHA-1 of
  the payload in base32, as WARC writes it; ``truncated``: 1 when the body was cut at
  ``max_body_bytes``.
"""

import base64
import hashlib
import zlib
from collections.abc import Sequence

from scraper.models import CheckedRecord, PageRecord, SinkRecord

CAPTURES_SCHEMA = 10  # the version of both backends' schemas that adds the table

CaptureRow = tuple[str, int, str, str, str, bytes, bytes, int, bytes, int, str, int]


def captures_ddl(types: dict[str, str]) -> str:
    """The table and its indexes in a backend's ``types`` (``id``, ``bigint``, ``int``,
    ``text``, ``blob``)."""
    text, blob, bigint, num = types["text"], types["blob"], types["bigint"], types["int"]
    return f"""
CREATE TABLE captures (  -- each hop of each fetch as received (--archive), for WARC
    id             {types["id"]},
    version_id     {bigint},  -- versions.id of the content found (NULL: none)
    url            {text} NOT NULL,  -- the page's URL
    hop            {num} NOT NULL,  -- 0, 1, ... in redirect order
    target_uri     {text} NOT NULL,  -- the URL this hop requested
    fetched_at     {text} NOT NULL,  -- when its request was sent (UTC, ISO 8601)
    peer           {text} NOT NULL,  -- the IP address connected to
    request        {blob} NOT NULL,  -- request line and headers as sent
    response       {blob} NOT NULL,  -- status line and raw headers as received
    status         {num} NOT NULL,
    body           {blob},  -- payload as received, zlib; NULL: as an earlier capture's
    body_length    {bigint} NOT NULL,
    payload_digest {text} NOT NULL,  -- sha1:BASE32 of the payload
    truncated      {num} NOT NULL  -- 1: cut at max_body_bytes
);
CREATE INDEX captures_target ON captures (target_uri, payload_digest);
CREATE INDEX captures_version ON captures (version_id);
CREATE INDEX captures_fetched ON captures (fetched_at);
"""


def payload_digest(payload: bytes) -> str:
    """``sha1:`` and the payload's SHA-1 in base32 (WARC's ``WARC-Payload-Digest``)."""
    return "sha1:" + base64.b32encode(hashlib.sha1(payload).digest()).decode()


def capture_rows(records: Sequence[SinkRecord]) -> list[CaptureRow]:
    """(url, hop, target_uri, fetched_at, peer, request, response, status, body, body_length,
    payload_digest, truncated) of each capture of a batch's pages and checked revisits."""
    rows: list[CaptureRow] = []
    for record in records:
        if not isinstance(record, PageRecord | CheckedRecord):
            continue
        for hop, c in enumerate(record.captures):
            rows.append((
                record.url, hop, c.url, c.fetched_at, c.peer, c.request, c.response, c.status,
                zlib.compress(c.body, 1), len(c.body), payload_digest(c.body), int(c.truncated),
            ))  # fmt: skip
    return rows
