"""``python -m scraper`` and the ``scraper`` console script.

The CLI is imported inside :func:`run`, not at the top: a parse process (multiprocessing's
spawn) imports the console script's module again, and this way it does not load the CLI and
everything behind it (aiohttp, aiosqlite, typer, rich: about 25 MB more per parse process).
"""

import atexit
import contextlib
import gc
import os
import sys

# The collector's youngest generation is collected after this many allocations (net of frees)
# instead of CPython's 700. A crawl allocates in bursts (a claim's 256 URLs, a batch of 200
# records, 32 responses at once) that each went past 700: ~260 collections per 5,000 revisits,
# ~110 ms, 8 % of the event loop's time, and whatever was alive at that moment was promoted to
# the older generations, which the full passes walk again. At 10,000: no collection in such a
# round. Cyclic garbage waits a little longer (a few MB at most).
GC_YOUNG_THRESHOLD = 10_000


def run() -> None:
    """Run the command line; after a success, leave without the interpreter's teardown.

    By then the command has closed what it opened (the database, the HTTP session; its parse
    processes exit with their parent); what is left is freeing every object of the crawl one
    by one, about 0.15 s after a crawl, for nothing. The output is flushed and the exit
    handlers run (logging's, multiprocessing's, any a caller registered) before ``os._exit``.
    A failed or interrupted command exits the usual way: a parse process may still be
    starting, and needs its parent's semaphores until it has.
    """
    from scraper.cli.app import main  # late, on purpose: see the module docstring

    gc.freeze()  # the modules imported so far are never garbage: full passes skip them
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    try:
        main()
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise
    code = 0
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (`| head`): as scraper.cli.read does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 141
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(code)


if __name__ == "__main__":
    run()
