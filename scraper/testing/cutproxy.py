"""A TCP proxy in front of a PostgreSQL server that can lose the answer to a COMMIT: the
"did my write commit?" fault of a crash, a power cut or a network cut, made deterministic.

Armed (:meth:`CommitCutter.arm`), it forwards the next client message holding ``COMMIT`` to the
server, waits for the server's answer that it committed, and then closes both
sides without passing that answer on: the client sees its connection die in the middle of the
COMMIT. The proxy serves every later connection normally. Use ``sslmode=disable`` in the URL.
"""

import asyncio
import contextlib
from typing import Self

COMMITTED = b"C\x00\x00\x00\x0bCOMMIT\x00"  # the server's CommandComplete of a COMMIT


class CommitCutter:
    """``async with CommitCutter(port) as cut:`` a proxy on ``cut.port`` (127.0.0.1) to the
    server on ``127.0.0.1:port``; ``cut.cuts``: how many COMMITs it cut."""

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._armed = False
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0
        self.cuts = 0

    def arm(self) -> None:
        """Cut the next COMMIT (one)."""
        self._armed = True

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self._target)
        except OSError:
            writer.close()
            return
        answered = asyncio.Event()  # the server spoke after the cut COMMIT was forwarded
        cutting = asyncio.Event()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._client_to_server(reader, up_w, cutting))
                tg.create_task(self._server_to_client(up_r, writer, cutting, answered))
                tg.create_task(self._cut_when(answered, writer, up_w))
        except* (OSError, ConnectionError, EOFError):
            pass
        finally:
            writer.close()
            up_w.close()
            self._tasks.discard(task)

    async def _client_to_server(
        self, reader: asyncio.StreamReader, up: asyncio.StreamWriter, cutting: asyncio.Event
    ) -> None:
        while data := await reader.read(65536):
            if self._armed and b"COMMIT" in data:
                self._armed = False
                cutting.set()
            up.write(data)
            await up.drain()
        up.close()

    async def _server_to_client(
        self,
        up: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        cutting: asyncio.Event,
        answered: asyncio.Event,
    ) -> None:
        held = b""
        while data := await up.read(65536):
            if cutting.is_set():  # held back from the client until the commit is done
                held += data
                if COMMITTED in held:
                    answered.set()  # the COMMIT's answer: dropped
                    return
                continue
            writer.write(data)
            await writer.drain()
        writer.close()

    async def _cut_when(
        self, answered: asyncio.Event, writer: asyncio.StreamWriter, up: asyncio.StreamWriter
    ) -> None:
        await answered.wait()
        self.cuts += 1
        writer.transport.abort()
        up.transport.abort()
        raise EOFError  # ends the connection's other tasks
