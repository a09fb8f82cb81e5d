"""WARC files written with warcio for the import's tests and benchmark: pages as captured
responses, and revisits of them."""

import gzip
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


@dataclass(frozen=True, slots=True)
class Captured:
    """One capture: ``url`` fetched at ``date`` (WARC-Date), answering ``body``."""

    url: str
    date: str  # 2024-05-01T00:00:00Z
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: str = "200 OK"
    gzip_encoded: bool = False  # sent with Content-Encoding: gzip


def html_page(title: str, text: str, links: Iterable[str] = ()) -> bytes:
    anchors = "".join(f'<a href="{href}">{href}</a> ' for href in links)
    return (
        f"<html><head><title>{title}</title></head>"
        f"<body><main><h1>{title}</h1><p>{text}</p>{anchors}</main></body></html>"
    ).encode()


def write_warc(path: Path, captures: Iterable[Captured], *, gzip_records: bool = True) -> None:
    """A WARC of a response record per capture (one gzip member each when ``gzip_records``)."""
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=gzip_records)
        for c in captures:
            _write(writer, response_record(writer, c))


def _write(writer: WARCWriter, record: Any) -> None:
    """Write ``record`` and close the copy of its payload warcio made to digest it."""
    writer.write_record(record)
    record.raw_stream.close()


def response_record(writer: WARCWriter, c: Captured) -> Any:
    body = gzip.compress(c.body) if c.gzip_encoded else c.body
    headers = [("Content-Type", c.content_type), ("Content-Length", str(len(body)))]
    if c.gzip_encoded:
        headers.append(("Content-Encoding", "gzip"))
    http = StatusAndHeaders(c.status, headers, protocol="HTTP/1.1")
    return writer.create_warc_record(
        c.url,
        "response",
        payload=io.BytesIO(body),
        http_headers=http,
        warc_headers_dict={"WARC-Date": c.date},
    )


def write_revisit(path: Path, original: Captured, date: str) -> None:
    """A WARC of one identical-payload-digest revisit of ``original`` (no payload of its own)."""
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        record = response_record(writer, original)
        digest = record.rec_headers.get_header("WARC-Payload-Digest")
        record.raw_stream.close()
        http = StatusAndHeaders("200 OK", [("Content-Type", original.content_type)], "HTTP/1.1")
        revisit = writer.create_revisit_record(
            original.url, digest, original.url, original.date, http_headers=http,
            warc_headers_dict={"WARC-Date": date},
        )  # fmt: skip
        _write(writer, revisit)


def write_wacz(path: Path, warcs: dict[str, bytes]) -> None:
    """A WACZ (zip) holding ``warcs`` (name: bytes) under archive/, with a datapackage.json."""
    with zipfile.ZipFile(path, "w") as wacz:
        for name, data in warcs.items():
            wacz.writestr(f"archive/{name}", data, compress_type=zipfile.ZIP_STORED)
        wacz.writestr("datapackage.json", '{"profile": "data-package", "resources": []}')
