"""The crawl's signal handlers: SIGINT and SIGTERM go to the engine's stop, SIGUSR1 logs the
stacks of every task (``kill -USR1 PID``: where a stuck crawl waits)."""

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator

from scraper.crawl.tasks import task_stacks

log = logging.getLogger(__name__)


@contextlib.contextmanager
def crawl_signals(on_stop: Callable[[signal.Signals], None]) -> Iterator[None]:
    """While the block runs (main thread only: elsewhere no handler is installed),
    SIGINT and SIGTERM call ``on_stop(sig)`` and SIGUSR1 logs the task stacks."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []

    def on_usr1(sig: signal.Signals) -> None:
        log.warning("task stacks (%s):\n%s", sig.name, task_stacks(asyncio.all_tasks()))

    handlers = {signal.SIGINT: on_stop, signal.SIGTERM: on_stop, signal.SIGUSR1: on_usr1}
    for sig, handler in handlers.items():
        try:
            loop.add_signal_handler(sig, handler, sig)
            installed.append(sig)
        except (RuntimeError, ValueError):  # not the main thread
            break
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
