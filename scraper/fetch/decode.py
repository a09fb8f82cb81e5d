"""The crawler's own decoding of content-coded bodies (gzip, deflate, br), incremental and bounded.

aiohttp runs with ``auto_decompress=False`` so that the bytes as received stay available (an
archive keeps them, RFC 9110 8.4); :class:`BodyDecoder` turns them into what the parser reads.
Each call inflates at most ``step`` bytes at a time, so a decompression bomb costs a few steps of
memory, never its size; the caller stops feeding once the decoded size passes its cap. An
undecodable body raises ``TransientFetchError("bad_encoding")``.
"""

import zlib
from collections.abc import Iterator
from typing import Protocol

import brotli  # type: ignore[import-untyped]

from scraper.errors import PermanentFetchError, TransientFetchError

STEP = 64 * 1024
# Content codings decoded here, the request's Accept-Encoding.
ACCEPT_ENCODING = "gzip, deflate, br"


class _Inflater(Protocol):
    def inflate(self, data: bytes, step: int) -> Iterator[bytes]: ...


class _Zlib:
    """gzip (``wbits`` 31) or deflate: zlib-wrapped as RFC 9110 says, or raw as some servers
    send it (told by the first byte). Members after the first (concatenated gzip) are read too."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._obj: zlib._Decompress | None = zlib.decompressobj(31) if gzip else None

    def _start(self, data: bytes) -> "zlib._Decompress":
        if self._obj is None:  # deflate: zlib header (CMF 0x?8) or raw
            raw = not data or (data[0] & 0x0F) != 8
            self._obj = zlib.decompressobj(-15 if raw else 15)
        return self._obj

    def inflate(self, data: bytes, step: int) -> Iterator[bytes]:
        obj = self._start(data)
        while data:
            out = obj.decompress(data, step)
            data = obj.unconsumed_tail
            if obj.eof:
                rest = obj.unused_data
                if not (self._gzip and rest.lstrip(b"\0")):
                    data = b""  # trailing padding, or deflate's end
                else:
                    self._obj = obj = zlib.decompressobj(31)
                    data = rest
            if out:
                yield out


class _Brotli:
    def __init__(self) -> None:
        self._obj = brotli.Decompressor()

    def inflate(self, data: bytes, step: int) -> Iterator[bytes]:
        out: bytes = self._obj.process(data, output_buffer_limit=step)
        while out:
            yield out
            if self._obj.can_accept_more_data() or self._obj.is_finished():
                return
            out = self._obj.process(b"", output_buffer_limit=step)


class _Identity:
    def inflate(self, data: bytes, step: int) -> Iterator[bytes]:
        if data:
            yield data


def _inflater(coding: str) -> _Inflater | None:
    if coding in {"", "identity"}:
        return _Identity()
    if coding in {"gzip", "x-gzip"}:
        return _Zlib(gzip=True)
    if coding == "deflate":
        return _Zlib(gzip=False)
    if coding == "br":
        return _Brotli()
    return None


class BodyDecoder:
    """Decodes one body given its ``Content-Encoding`` header (None: not coded).

    ``feed(raw)`` yields decoded pieces of at most ``step`` bytes each; a coding not known here
    (or several stacked) passes the bytes through as they are, as a browser would show them.
    """

    def __init__(self, content_encoding: str | None, step: int = STEP) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        known = _inflater(codings[0]) if len(codings) == 1 else None
        self._inflater: _Inflater = known or _Identity()
        self._step = step

    def feed(self, raw: bytes) -> Iterator[bytes]:
        """The decoded pieces of the next ``raw`` bytes; raises bad_encoding on bad data."""
        try:
            yield from self._inflater.inflate(raw, self._step)
        except (zlib.error, brotli.error) as exc:
            raise TransientFetchError("bad_encoding", f"cannot decode the body: {exc}") from None


class CappedBody:
    """A body read chunk by chunk: decoded (``content_encoding``), capped at ``limit`` decoded
    bytes, the decoded bytes kept if ``keep``, the bytes as received kept if ``raw``.

    Past the cap :meth:`add` raises ``PermanentFetchError("body_too_large")``, unless ``cut``
    (an archive keeps what came; an error page's head is enough): then the body is cut there,
    ``truncated`` set, and :meth:`add` answers False (read no more).
    """

    def __init__(
        self, content_encoding: str | None, limit: int, keep: bool, raw: bool, cut: bool = False
    ) -> None:
        self._decoder = BodyDecoder(content_encoding)
        self._limit = limit
        self._keep = keep
        self._cut = cut
        self._decoded: list[bytes] = []
        self._raw: list[bytes] | None = [] if raw else None
        self.size = 0
        self.truncated = False

    def add(self, chunk: bytes) -> bool:
        """Take the next chunk as received; False once the body is cut at the cap."""
        if self._raw is not None:
            self._raw.append(chunk)
        for piece in self._decoder.feed(chunk):
            room = self._limit - self.size
            if len(piece) > room:
                if not self._cut:
                    raise PermanentFetchError("body_too_large", f"more than {self._limit} bytes")
                piece, self.truncated = piece[:room], True
            self.size += len(piece)
            if self._keep:
                self._decoded.append(piece)
            if self.truncated:
                return False
        return True

    @property
    def body(self) -> bytes:
        """The decoded bytes kept (empty unless ``keep``)."""
        return b"".join(self._decoded)

    @property
    def raw(self) -> bytes | None:
        """The bytes as received (None unless ``raw``)."""
        return None if self._raw is None else b"".join(self._raw)
