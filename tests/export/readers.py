"""The real WARC readers the export tests check files with: warcio and FastWARC (dev
dependencies, in the test's venv) and pywb (in its own venv, ``.venv-pywb``: it pulls in
brotlipy, which would shadow Brotli's ``brotli`` module here; ``.ci/run`` makes it)."""

import asyncio
import contextlib
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from warcio.archiveiterator import ArchiveIterator

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PYWB = ROOT / ".venv-pywb" / "bin"
START_S = 30.0


async def tool(program: Path, *args: str, cwd: Path | None = None) -> tuple[int, str]:
    """Run a reader to its end (bounded): (exit code, stdout and stderr)."""
    proc = await asyncio.create_subprocess_exec(
        str(program), *args, cwd=cwd, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        async with asyncio.timeout(50):
            out, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


async def check_with_every_reader(*files: Path, payloads: bool = True) -> None:
    """warcio check and fastwarc check (``payloads``: payload digests too) pass on each file.

    ``fastwarc check -p`` checks a revisit's payload digest against its empty payload, so
    it fails on any identical-payload-digest revisit that WARC 1.1 (6.7.2) asks for: files
    with revisits are checked without ``-p`` (warcio checks their payloads)."""
    for path in files:
        code, out = await tool(BIN / "warcio", "check", "-v", str(path))
        assert code == 0, out
        assert "digest pass" in out
        code, out = await tool(BIN / "fastwarc", "check", *(["-p"] if payloads else []), str(path))
        assert code == 0, out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def pywb(tmp_path: Path, *files: Path) -> AsyncIterator[str]:
    """A pywb collection of ``files`` (wb-manager init + add), replayed on loopback: yields the
    collection's base URL; the server is stopped after."""
    assert (PYWB / "wayback").exists(), f"pywb is not installed in {PYWB} (see .ci/run)"
    home = tmp_path / "pywb"
    home.mkdir()
    code, out = await tool(PYWB / "wb-manager", "init", "crawl", cwd=home)
    assert code == 0, out
    code, out = await tool(PYWB / "wb-manager", "add", "crawl", *map(str, files), cwd=home)
    assert code == 0, out
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        str(PYWB / "wayback"), "-p", str(port), "-b", "127.0.0.1", cwd=home,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await _listening(port)
        yield f"http://127.0.0.1:{port}/crawl"
    finally:
        proc.terminate()
        try:
            async with asyncio.timeout(5):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _listening(port: int) -> None:
    async with asyncio.timeout(START_S):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            await writer.wait_closed()
            return


async def replay(base: str, url: str, at: str = "") -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body bytes) pywb replays for ``url`` (at timestamp ``at``, 14 digits:
    the closest capture), as received: no redirect followed, no decoding."""
    headers = {"Accept-Encoding": "gzip, deflate, br"}
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.get(f"{base}/{at}id_/{url}", headers=headers, allow_redirects=False) as resp,
    ):
        pairs = [(k.decode(), v.decode()) for k, v in resp.raw_headers]
        return resp.status, pairs, await resp.read()


def records(path: Path) -> list[Any]:
    """Every record of a WARC file, its payload read (warcio)."""
    found = []
    with path.open("rb") as f:
        for record in ArchiveIterator(f):
            record.body = record.raw_stream.read()  # the payload as stored, not decoded
            found.append(record)
    return found
