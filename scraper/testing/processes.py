"""Child processes for tests and the bench: stopping and reaping them, and their peak memory.

:func:`stop_process` and :func:`reap_within` always reap the child, even on Ctrl-C.
:func:`peak_rss_prelude` makes a ``python -c`` child record its own peak RSS at exit, for
:func:`read_peak_rss_kb`; :func:`cli_peak_rss_code` does so around the ``scraper`` command line.
Linux only (``pidfd_open``, ``/proc/self/status``).
"""

import os
import resource
import select
import signal
import subprocess
from pathlib import Path

from scraper.errors import ScraperError

STOP_S = 5.0  # stop_process: how long a terminated child has to exit before it is killed


def stop_process(proc: "subprocess.Popen[bytes]") -> None:
    """Terminate, then kill after STOP_S; always reaped."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def reap_within(
    proc: "subprocess.Popen[bytes]", limit_s: float
) -> tuple[bool, resource.struct_rusage]:
    """Wait up to ``limit_s`` for a child to exit, kill it if it has not, reap it.

    Returns (exited in time, its rusage: CPU and peak RSS, from ``os.wait4``); the exit code is
    set on ``proc``. The child is waited on through a pidfd and reaped only after any kill, so
    the kill can never hit a reused pid. Interrupted (Ctrl-C), it still kills and reaps. Linux.
    """
    exited = False
    fd = os.pidfd_open(proc.pid)
    try:
        exited = bool(select.select([fd], [], [], limit_s)[0])
    finally:
        os.close(fd)
        if not exited:
            os.kill(proc.pid, signal.SIGKILL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait again
    return exited, usage


def peak_rss_prelude(rss_file: Path) -> str:
    """Python code to put first in a child's ``python -c``: at exit, the child writes its own
    peak RSS (``VmHWM``, KiB) to ``rss_file``; read it with :func:`read_peak_rss_kb`.

    Not ``ru_maxrss`` (nor ``wait4``'s): Linux keeps the larger of it and the high-water mark of
    the memory a process had before ``exec``, which for a child that ``subprocess`` starts with
    vfork is its parent's, so the figure would be the parent's peak whenever that is higher.
    """
    return (
        "import atexit as _atexit, re as _re\n"
        "def _peak_rss():\n"
        "    with open('/proc/self/status') as _status:\n"
        "        return _re.search(r'VmHWM:\\s+(\\d+)', _status.read()).group(1)\n"
        f"_atexit.register(lambda: open({str(rss_file)!r}, 'w').write(_peak_rss()))\n"
    )


def cli_peak_rss_code(rss_file: Path) -> str:
    """``python -c`` code running the ``scraper`` command line (its arguments follow the code)
    that writes its peak RSS to ``rss_file`` at exit (:func:`peak_rss_prelude`)."""
    return (
        peak_rss_prelude(rss_file)
        + "import sys\nfrom scraper.__main__ import run\nsys.argv[0] = 'scraper'\nrun()\n"
    )


def read_peak_rss_kb(rss_file: Path) -> int:
    """What :func:`peak_rss_prelude` wrote; ScraperError if the child never got to write it."""
    try:
        return int(rss_file.read_text())
    except (OSError, ValueError):
        msg = f"bench: no peak RSS recorded in {rss_file} (the child did not exit normally)"
        raise ScraperError(msg) from None
