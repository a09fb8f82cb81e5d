"""The parse pool: the processes that parse pages so parsing never stalls fetching.

Started with ``spawn``; each worker ignores the stop signals (the crawler stops it) and exits
with its parent. No asyncio here: the engine awaits the pool through ``run_in_executor``.
"""

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor

# Parse processes when ``parse_workers = "auto"``, with main content, Markdown and chunks on: a
# page costs the parse stage ~2-3x what it costs the crawler's own process (event loop, fetch,
# links, storage: ~0.5 ms), so this many keep up with it; on two cores two processes win
# (+45-55 % pages/s over one, measured), so the CPUs are shared rather than one left to the loop.
log = logging.getLogger(__name__)
_REAP_S = 10.0  # how long the pool's processes get to leave once told to (a spawn: ~1 s)
_CONTENT_PROCESSES = 3


def pool_size(workers: int | None, content: bool, cpus: int | None = None) -> int:
    """The parse processes for ``[parse] parse_workers = workers`` (None: "auto").

    Auto sizes the stage so that it is never what the fetchers wait on while a core is free:
    one process when only links and text are parsed (a fifth of the crawler's own CPU a page:
    one keeps up, and a second costs ~5 % on two cores); with main content on, one per CPU
    beside the crawler's, at least 2 (on two CPUs) and at most 3. ``cpus``: the CPUs this
    process may run on (default: its affinity mask).
    """
    if workers is not None:
        return workers
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = cpus or 1
    if not content or cpus == 1:
        return 1
    return max(2, min(_CONTENT_PROCESSES, cpus - 1))


# The signals a terminal sends to its whole process group (Ctrl-C) or a service manager to a
# service's: the crawler handles them (finish in-flight pages, report); a parse process must not.
STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


@contextlib.contextmanager
def stop_signals_blocked() -> Iterator[None]:
    """Block SIGINT and SIGTERM in this thread for the block: wrap a parse pool's ``submit``,
    which may start a worker process.

    A worker started inside inherits the blocked mask through spawn's exec, so a Ctrl-C in the
    instant before its initializer (:func:`exit_with_parent`) ignores them cannot reach it. The
    crawler loses nothing: a signal that arrives meanwhile is delivered to another thread, or to
    this one when the block ends.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def exit_with_parent() -> None:
    """Parse-pool worker initializer: this process lives exactly as long as the crawler needs it.

    - It ignores SIGINT and SIGTERM (then unblocks them: see :func:`stop_signals_blocked`).
      Ctrl-C in a terminal signals the whole process group; a worker that died of it would
      break the pool under the crawler, which is stopping gracefully and still parsing. The
      crawler stops its workers itself (the pool's shutdown).
    - It ends when the crawler dies (kill -9 too): a pool's workers otherwise outlive a killed
      parent, blocked on their task queue.
    """
    parent = multiprocessing.parent_process()
    if parent is None:  # not a pool's worker
        return
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


@contextlib.contextmanager
def parse_pool(workers: int) -> Iterator[Executor | None]:
    """Parsing runs in ``workers`` processes (0: inline on the event loop, for small crawls)."""
    if workers == 0:
        yield None
        return
    pool = ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=exit_with_parent
    )
    try:
        yield pool
    finally:
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        _reap(processes)


def _reap(processes: list[multiprocessing.process.BaseProcess]) -> None:
    """Wait for the pool's processes to leave (they do once told to), then kill those
    still there: a worker the stop never reached would otherwise keep the interpreter's exit
    waiting on it forever, while it waits on the parent (seen: ``reparse`` hung at its end)."""
    deadline = time.monotonic() + _REAP_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.exitcode is None:
            log.info("parse process %s did not stop: killed", process.pid)
            process.kill()
            process.join(1.0)
