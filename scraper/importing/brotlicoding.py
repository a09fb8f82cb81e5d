"""Brotli for warcio's payload decoding: warcio undoes ``Content-Encoding: br`` only with
brotlicffi, so a capture of a brotli page imported as its compressed bytes. The ``brotli``
module the crawl already uses (aiohttp's decoding) is given to warcio in its place."""

import brotli  # type: ignore[import-untyped]
from warcio.bufferedreaders import BufferedReader


class BrotliDecompressor:
    """The decompressor interface warcio's reader calls (``decompress``, ``unused_data``)."""

    unused_data = None  # no bytes are ever left over: warcio reads on while this is empty

    def __init__(self) -> None:
        stream = brotli.Decompressor()
        # Brotli's module names the step ``process``; brotlipy's, which shadows it, ``decompress``
        self._step = getattr(stream, "process", None) or stream.decompress

    def decompress(self, data: bytes) -> bytes:
        out: bytes = self._step(data)
        return out


def register() -> None:
    """Make warcio decode ``br`` payloads (unless it has a decompressor of its own for it)."""
    BufferedReader.DECOMPRESSORS.setdefault("br", BrotliDecompressor)
