"""WARC 1.1 records (ISO 28500:2017) from stored captures, each its own gzip member.

"The WARC-Payload-Digest ... is computed on the payload of the record's content block: the
entity body of an HTTP response, after any transfer encoding is removed" (WARC 1.1, 5.9):
so the payload is the body as received, content-coded, and a chunked response's head says
``Content-Length`` instead of ``Transfer-Encoding: chunked`` (the one form every reader takes).
Revisits use the WARC 1.1 profiles: ``identical-payload-digest`` (a 2xx whose payload an
earlier capture holds, ``WARC-Refers-To*``) and ``server-not-modified`` (a 304).

Record ids are UUIDs derived from (kind, time, URI): the same capture gets the same id in
every export, so a revisit may refer to a record of an earlier file.
"""

import base64
import hashlib
import uuid
import zlib
from dataclasses import dataclass

from scraper import __version__

_NS = uuid.UUID("6f1c9b0e-7d55-4f3e-9a57-5c7a3a0e2b11")
_CRLF = b"\r\n"
PROFILE = "http://netpreserve.org/warc/1.1/revisit/"
_FRAMING = frozenset({b"transfer-encoding", b"content-length"})


@dataclass(frozen=True, slots=True)
class Refers:
    """The record a revisit points to: its target URI, time, payload digest."""

    uri: str
    fetched_at: str


@dataclass(frozen=True, slots=True)
class StoredCapture:
    """One row of ``captures`` (:mod:`scraper.storage.captures`), the body decompressed
    (None: the same payload as the record ``refers`` names)."""

    target_uri: str
    fetched_at: str
    peer: str
    request: bytes
    response: bytes
    status: int
    body: bytes | None
    body_length: int
    payload_digest: str
    truncated: bool
    refers: Refers | None = None


def record_id(kind: str, fetched_at: str, uri: str) -> str:
    """The ``<urn:uuid:...>`` of a record, the same in every export."""
    return f"<urn:uuid:{uuid.uuid5(_NS, f'{kind} {fetched_at} {uri}')}>"


def warc_date(fetched_at: str) -> str:
    """A stored time (ISO 8601, ``+00:00``) as WARC-Date (UTC, ``Z``, milliseconds kept)."""
    return fetched_at.replace(" ", "T", 1).removesuffix("+00:00") + "Z"


def sha1(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def http_head(response: bytes, payload_length: int) -> bytes:
    """The response head as received, its framing made ``Content-Length: <payload>`` when the
    server sent it chunked (or another length than the payload kept, a cut body); else as is."""
    lines = response.split(_CRLF)
    fields = [line for line in lines[1:] if line]
    framing = [(_name(line), line.split(b":", 1)[-1].strip()) for line in fields]
    framing = [(name, value) for name, value in framing if name in _FRAMING]
    length = str(payload_length).encode()
    if framing == [(b"content-length", length)] or (not framing and not payload_length):
        return response
    kept = [line for line in fields if _name(line) not in _FRAMING]
    kept.append(b"Content-Length: " + str(payload_length).encode())
    return _CRLF.join([lines[0], *kept, b"", b""])


def _name(line: bytes) -> bytes:
    return line.split(b":", 1)[0].strip().lower()


def member(headers: list[tuple[str, str]], block: bytes, level: int = 6) -> bytes:
    """One WARC record as its own gzip member: ``WARC/1.1``, the named fields, Content-Length
    and the block, then two CRLFs."""
    head = "WARC/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    head += f"Content-Length: {len(block)}\r\n\r\n"
    packer = zlib.compressobj(level, zlib.DEFLATED, 31)
    return packer.compress(head.encode()) + packer.compress(block) + packer.flush(zlib.Z_FINISH)


def warcinfo(filename: str, info_id: str, at: str) -> bytes:
    """The warcinfo record that opens each file."""
    fields = (
        f"software: scraper/{__version__}\r\nformat: WARC File Format 1.1\r\n"
        "conformsTo: http://iipc.github.io/warc-specifications/specifications/warc-format/"
        "warc-1.1/\r\n"
    ).encode()
    headers = [
        ("WARC-Type", "warcinfo"),
        ("WARC-Record-ID", info_id),
        ("WARC-Date", warc_date(at)),
        ("WARC-Filename", filename),
        ("Content-Type", "application/warc-fields"),
        ("WARC-Block-Digest", sha1(fields)),
    ]
    return member(headers, fields)


def capture_records(c: StoredCapture, info_id: str) -> bytes:
    """The request record and the response (or revisit) record of one capture, linked by
    WARC-Concurrent-To."""
    response_id = record_id("response", c.fetched_at, c.target_uri)
    common = [("WARC-Date", warc_date(c.fetched_at)), ("WARC-Target-URI", c.target_uri)]
    common.append(("WARC-Warcinfo-ID", info_id))
    if c.peer:
        common.append(("WARC-IP-Address", c.peer))
    request = [
        ("WARC-Type", "request"),
        ("WARC-Record-ID", record_id("request", c.fetched_at, c.target_uri)),
        *common,
        ("WARC-Concurrent-To", response_id),
        ("Content-Type", "application/http;msgtype=request"),
        ("WARC-Block-Digest", sha1(c.request)),
    ]
    head = http_head(c.response, c.body_length)
    kind, block, extra = _response(c, head)
    response = [
        ("WARC-Type", kind),
        ("WARC-Record-ID", response_id),
        *common,
        *extra,
        ("Content-Type", "application/http;msgtype=response"),
        ("WARC-Block-Digest", sha1(block)),
    ]
    return member(request, c.request) + member(response, block)


def _response(c: StoredCapture, head: bytes) -> tuple[str, bytes, list[tuple[str, str]]]:
    """(WARC-Type, block, fields) of a capture's response: whole, or a revisit's head only."""
    refers: list[tuple[str, str]] = []
    if c.refers is not None:
        refers = [
            ("WARC-Refers-To", record_id("response", c.refers.fetched_at, c.refers.uri)),
            ("WARC-Refers-To-Target-URI", c.refers.uri),
            ("WARC-Refers-To-Date", warc_date(c.refers.fetched_at)),
        ]
    if c.status == 304:
        return "revisit", head, [("WARC-Profile", PROFILE + "server-not-modified"), *refers]
    if c.body is None:
        profile = ("WARC-Profile", PROFILE + "identical-payload-digest")
        digest = ("WARC-Payload-Digest", c.payload_digest)
        return "revisit", head, [profile, digest, *refers]
    fields = [("WARC-Payload-Digest", c.payload_digest)]
    if c.truncated:
        fields.append(("WARC-Truncated", "length"))
    return "response", head + c.body, fields
