"""The archives an import reads: a WARC or ARC file (plain, or gzipped one member per record), or
a WACZ (a zip whose ``archive/`` folder holds WARCs). The kind is told by magic bytes, never by
the name: py-wacz writes gzip under ``.warc``.
"""

import contextlib
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from scraper.errors import UsageError

_ZIP = b"PK\x03\x04"
_GZIP = b"\x1f\x8b"
_RECORD_STARTS = (_GZIP, b"WARC", b"file")  # gzip, a WARC record, an ARC's filedesc://


@dataclass(frozen=True, slots=True)
class Source:
    """One stream of records: a file, or a WARC inside a WACZ (``member``); ``whole_gzip``: the
    stream is a gzip file of one member, read through its decompressed bytes."""

    path: Path
    member: str | None = None
    whole_gzip: bool = False

    @property
    def name(self) -> str:
        return f"{self.path}!{self.member}" if self.member else str(self.path)

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        """The stream, seekable (records are read again by offset)."""
        with contextlib.ExitStack() as stack:
            fh: IO[bytes] = stack.enter_context(self.path.open("rb"))
            if self.member is not None:
                fh = stack.enter_context(zipfile.ZipFile(fh).open(self.member))
            if self.whole_gzip:
                fh = stack.enter_context(_gunzipped(fh))
            yield fh


def _gunzipped(fh: IO[bytes]) -> IO[bytes]:
    """``fh``'s gzip members decompressed into a temporary file, as far as they go: a stream
    cut short or corrupt ends where it stops making sense (the records there read as cut)."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 -- the caller's ExitStack closes it
    member = zlib.decompressobj(wbits=31)
    try:
        while chunk := fh.read(1 << 20):
            while chunk:
                out.write(member.decompress(chunk))
                chunk = b""
                if member.eof:  # the next member follows
                    chunk, member = member.unused_data, zlib.decompressobj(wbits=31)
        out.write(member.flush())
    except zlib.error:
        pass  # corrupt from here on: what came before is kept
    out.seek(0)
    return out


def sources(path: Path) -> list[Source]:
    """The record streams of ``path``; UsageError when it cannot be read, or is a zip without
    WARCs."""
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not an archive file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if not magic.startswith(_ZIP):
        if not magic.startswith(_RECORD_STARTS):
            raise UsageError(f"{path}: not a WARC, ARC or WACZ file (it starts with {magic!r})")
        return [Source(path)]
    try:
        with zipfile.ZipFile(path) as wacz:
            names = [n for n in wacz.namelist() if _archived_warc(n)]
    except zipfile.BadZipFile as exc:
        raise UsageError(f"{path}: a broken zip file ({exc})") from None
    if not names:
        raise UsageError(f"{path}: a zip file without WARCs under archive/ (not a WACZ)")
    return [Source(path, name) for name in sorted(names)]


def _archived_warc(name: str) -> bool:
    return name.startswith("archive/") and not name.endswith("/")


def is_gzip(source: Source) -> bool:
    with source.open() as fh:
        return fh.read(2) == _GZIP
