"""The parse pool: the processes that parse pages so parsing never stalls fetching.

Started with ``spawn``; each worker ignores the stop signals (the crawler stops it) and exits
with its parent. No asyncio here: the engine awaits the pool through ``run_in_executor``.
"""

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor

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
        pool.shutdown(wait=False, cancel_futures=True)
