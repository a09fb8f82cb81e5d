"""The crawl lock of an SQLite crawl database: one crawl (one worker) writes a file at a time.

An exclusive ``flock`` on the database file itself, held for as long as the store is open and
released by the kernel when the process dies (kill -9 included). It is what lets the SQLite
store treat every claim it finds on opening as abandoned: no other worker can be alive.
"""

import fcntl
import os
from pathlib import Path

from scraper.errors import StoreError


def crawl_running(path: Path) -> bool:
    """Does a crawl hold this database's lock right now? (A probe: the lock is not kept.)"""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases the probe's shared lock
    return False


def take_crawl_lock(path: Path) -> int:
    """flock the database file (created if missing); a second crawl on it is refused at once.

    Returns the descriptor that holds the lock: closing it releases the lock.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreError(f"another crawl is running on {path}") from None
    return fd
