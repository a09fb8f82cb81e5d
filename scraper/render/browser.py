"""One headless Chromium process and its DevTools connection over ``--remote-debugging-pipe``.

The browser reads commands on fd 3 and writes answers and events on fd 4, each a JSON message
ended by NUL. When the crawler dies its end of the pipe closes and the browser exits with it.
Every browser we start carries :data:`MARKER` on its command line, so tests (and people) can
count ours with ``ps``.
"""

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

MARKER = "--scraper-render"  # an unknown switch Chromium ignores: our browsers' mark
_CANDIDATES = ("chromium-headless-shell", "chrome-headless-shell", "chromium", "chromium-browser")
_FLAGS = (
    "--headless",
    "--no-sandbox",  # as root Chromium refuses to start sandboxed
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--mute-audio",
    "--hide-scrollbars",
    "--blink-settings=imagesEnabled=false",
)

Event = Callable[[str, dict[str, Any], str | None], None]


class BrowserCrashed(Exception):
    """The browser process went away (or stopped answering) while a page was in it."""


def find_browser() -> str | None:
    """The path of a headless Chromium on PATH (``SCRAPER_BROWSER`` first), or None."""
    named = os.environ.get("SCRAPER_BROWSER")
    if named:
        return shutil.which(named)
    for name in _CANDIDATES:
        real = f"/usr/lib/chromium/{name}"  # Debian's /usr/bin one is a shell wrapper around it
        found = real if os.access(real, os.X_OK) else shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """A running browser: ``send`` a command (to a session), ``on_event`` gets every event."""

    def __init__(self, on_event: Event, tasks: asyncio.TaskGroup) -> None:
        self._on_event = on_event
        self._tasks = tasks
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.WriteTransport | None = None
        self._read_transport: asyncio.BaseTransport | None = None
        self._reader_task: asyncio.Task[None] | None = None  # in the Renderer's TaskGroup
        self._profile = ""
        self.dead = False
        self.ended = asyncio.Event()  # set when the browser is gone

    @property
    def pid(self) -> int:
        return self._process.pid if self._process else 0

    async def start(self, binary: str) -> None:
        self._profile = tempfile.mkdtemp(prefix="scraper-render-")
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()

        def wire() -> None:  # in the child, before exec: the pipe ends on fds 3 and 4
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        try:
            self._process = await asyncio.create_subprocess_exec(
                binary,
                *_FLAGS,
                "--remote-debugging-pipe",
                f"--user-data-dir={self._profile}",
                MARKER,
                "about:blank",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                pass_fds=(3, 4),
                preexec_fn=wire,
                start_new_session=True,  # Ctrl-C's SIGINT is the crawler's to handle, not its
            )
        finally:
            os.close(to_browser_r)
            os.close(from_browser_w)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
        self._read_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(from_browser_r, "rb", 0)
        )
        self._writer, _ = await loop.connect_write_pipe(
            asyncio.Protocol, os.fdopen(to_browser_w, "wb", 0)
        )
        self._reader_task = self._tasks.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                raw = await reader.readuntil(b"\0")
                message = json.loads(raw[:-1])
                if "id" in message:
                    future = self._pending.pop(message["id"], None)
                    if future is not None and not future.done():
                        future.set_result(message)
                else:
                    self._on_event(
                        message.get("method", ""),
                        message.get("params", {}),
                        message.get("sessionId"),
                    )
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            self._fail_all()

    def _fail_all(self) -> None:
        self.dead = True
        self.ended.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(BrowserCrashed("the browser went away"))
        self._pending.clear()

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Send one command and return its result; raise BrowserCrashed if the browser is gone."""
        if self.dead or self._writer is None or self._writer.is_closing():
            raise BrowserCrashed("the browser is not running")
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = future
        self._writer.write(json.dumps(message).encode() + b"\0")
        answer = await future
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error'].get('message', answer['error'])}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    def post(self, method: str, params: dict[str, Any], session: str | None) -> None:
        """Send a command whose answer nobody waits for (interception verdicts)."""
        with contextlib.suppress(BrowserCrashed):
            if not self.dead and self._writer is not None and not self._writer.is_closing():
                self._next_id += 1
                message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
                if session:
                    message["sessionId"] = session
                self._writer.write(json.dumps(message).encode() + b"\0")

    async def close(self) -> None:
        """Ask the browser to quit, then kill it if it lingers; remove its profile."""
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.send("Browser.close"), 2)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(process.wait(), 5)
        if self._writer is not None:
            self._writer.close()
        if self._read_transport is not None:
            self._read_transport.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait({self._reader_task}, timeout=5)
        self._fail_all()
        shutil.rmtree(self._profile, ignore_errors=True)
