"""The command line: with :mod:`scraper.cli.read`, the only module that prints or exits.

Every user-facing failure is a ScraperError, printed by :func:`main` as one ``error:`` line on
stderr (no traceback unless ``SCRAPER_DEBUG=1``) with its exit code: 2 for usage and bad input,
1 for runtime failures. A finished crawl exits 0 even if some pages failed: failures are data.
"""

import asyncio
import importlib.metadata
import logging
import os
import re
import signal
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, NoReturn

import typer

from scraper import __version__, logs
from scraper.cli import dupes as clidupes
from scraper.cli import read as cliread
from scraper.cli.benchcmd import bench
from scraper.cli.importcmd import import_command
from scraper.cli.options import (
    HELP_OPTIONS,
    Command,
    ConfigOpt,
    DbOpt,
    RunOptions,
    resume_settings,
    run_settings,
    with_run_options,
)
from scraper.cli.read import warn
from scraper.cli.summary import (
    limit_note,
    network_hint,
    no_pending,
    progress_detail,
    progress_notes,
    progress_plain,
    reparse_line,
    revisit_line,
    summary_line,
)
from scraper.config import Settings
from scraper.crawl import (
    Crawl,
    CrawlStats,
    RevisitPlan,
    reparse_bodies,
    resume_command,
    retry_failed,
)
from scraper.errors import Interrupted, InvalidURL, ScraperError, UsageError
from scraper.output import ProgressLine
from scraper.timespec import DURATION_EXAMPLES, iso, parse_duration
from scraper.urls import normalize_url

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings=HELP_OPTIONS,
    help="Crawl sites into an SQLite database you can query.",
    rich_markup_mode=None,
)
app.add_typer(cliread.app)  # query, search, export, stats, status: at the top level
app.add_typer(clidupes.app)  # dupes


def _print_version(wanted: bool) -> None:
    if wanted:
        try:
            version = importlib.metadata.version("scraper")
        except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
            version = __version__
        typer.echo(f"scraper {version}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            metavar="",
            callback=_print_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Crawl sites into an SQLite database you can query."""


def read_seed_lines(lines: Iterable[str], source: str) -> list[str]:
    """URLs from a seed list: blank lines and ``#`` comments skipped, bad lines warned about."""
    seeds = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            seeds.append(normalize_url(line))
        except InvalidURL as exc:
            warn(f"{source}:{number}: {exc.reason}: {line[:200]!r}")
    return seeds


def read_seed_file(path: str) -> list[str]:
    if path == "-":
        return read_seed_lines(sys.stdin, "<stdin>")
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return read_seed_lines(fh, path)
    except FileNotFoundError:
        raise UsageError(f"seed file not found: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"seed file is a directory: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read seed file {path}: {exc.strerror}") from None


def collect_seeds(urls: list[str], input_file: str | None) -> tuple[str, ...]:
    seeds = read_seed_lines(urls, "argument") if urls else []
    if input_file is not None:
        seeds += read_seed_file(input_file)
    if not seeds:
        if not urls and input_file is None:
            raise UsageError("no seeds: give URLs as arguments or a file with -i FILE")
        raise UsageError("no valid seed URL to crawl")
    return tuple(dict.fromkeys(seeds))


PROGRESS_EVERY_S = 5.0  # without a terminal, a plain progress line this often


def run_crawl(
    settings: Settings,
    run: RunOptions,
    *,
    save_settings: bool = True,
    revisit: RevisitPlan | None = None,
) -> None:
    """Run a crawl with a progress display; print its summary; exit 130/143 after a signal."""
    logs.configure(debug=run.debug, log_file=run.log_file, log_format=run.log_format)
    with ProgressLine(settings.max_pages or None) as progress:
        shown_at = 0.0

        def on_progress(stats: CrawlStats) -> None:
            nonlocal shown_at
            if progress.enabled:
                progress.update(stats.pages, progress_detail(stats), progress_notes(stats))
            elif stats.elapsed_s - shown_at >= PROGRESS_EVERY_S:
                shown_at = stats.elapsed_s
                typer.echo(progress_plain(stats), err=True)

        crawl = Crawl(settings, on_progress, save_settings=save_settings, revisit=revisit)
        summary = asyncio.run(crawl.run(), debug=run.debug)
    note = limit_note(summary)
    if summary.nothing_to_do:
        nothing = "no stored page is due for a revisit" if summary.revisits == 0 else None
        typer.echo(f"nothing to do: {note or nothing or no_pending(summary)}")
        return
    if summary.revisits is not None:
        typer.echo(revisit_line(summary))
    typer.echo(summary_line(summary))
    if summary.renderer:
        typer.echo(summary.renderer)
    if note is not None:
        typer.echo(note, err=True)
    if (hint := network_hint(summary)) is not None:
        typer.echo(hint, err=True)
    if summary.interrupted_by is not None:
        again = resume_command(summary.db) + (" --max-pages 0" if revisit is not None else "")
        raise Interrupted(
            f"interrupted by {summary.interrupted_by}; to continue, run: {again}",
            signal.Signals[summary.interrupted_by],
        )


@app.command(cls=Command)
@with_run_options
def crawl(
    urls: Annotated[
        list[str] | None, typer.Argument(metavar="URL", help="Seed URLs.", show_default=False)
    ] = None,
    input_file: Annotated[
        str | None,
        typer.Option(
            "--input", "-i", metavar="FILE", help="File of seed URLs, one per line ('-' for stdin)."
        ),
    ] = None,
    *,
    run: RunOptions,
) -> None:
    """Crawl from seed URLs into a database (an SQLite file, or a PostgreSQL URL shared by workers).

    Into a database that holds a crawl already, the seeds are added to that crawl, which goes
    on with its stored settings; flags and --config then apply to this run only (as for
    `resume`)."""
    seeds = collect_seeds(urls or [], input_file)
    settings, new = run_settings(run.config, run.db, run.overrides, seeds)
    run_crawl(settings, run, save_settings=new)


RETRY_ALL = "all"  # `--retry-failed` given without a reason (see bare_retry_failed)


@app.command(cls=Command)
@with_run_options
def resume(
    retry: Annotated[
        list[str] | None,
        typer.Option(
            "--retry-failed",
            metavar="[REASON,...]",
            help="First put the failed URLs back to pending: all, or those whose last_error is "
            "one of the REASONs (dns_error,timeout; repeatable).",
            show_default=False,
        ),
    ] = None,
    *,
    run: RunOptions,
) -> None:
    """Continue the crawl stored in a database, with its stored settings.

    Flags and --config override them for this run only: the stored settings are kept."""
    settings = resume_settings(run.config, run.db, run.overrides)
    if retry is not None:
        reasons = {r.strip() for value in retry for r in value.split(",") if r.strip()}
        if RETRY_ALL in reasons:
            reasons = set()
        count = asyncio.run(retry_failed(settings, reasons))
        which = f" (last_error {', '.join(sorted(reasons))})" if reasons else ""
        typer.echo(f"retrying {count} failed URLs{which}", err=True)
    run_crawl(settings, run, save_settings=False)


def sql_starting_with_dashes(args: list[str]) -> list[str]:
    """``query "-- comment\nSELECT ..."``: an argument that starts with ``-`` and holds
    whitespace is no option (no option name has a space), so it goes after ``--``, as SQL."""
    if not args or args[0] != "query" or "--" in args:
        return args
    sql = [a for a in args[1:] if a.startswith("-") and any(c.isspace() for c in a)]
    if len(sql) != 1:
        return args
    return [a for a in args if a is not sql[0]] + ["--", sql[0]]


def bare_retry_failed(args: list[str]) -> list[str]:
    """``resume --retry-failed`` without a value (last, or before another option) means every
    reason: typer's options take a value or none, not an optional one."""
    out = list(args)
    if "resume" in out:
        for i in reversed(range(len(out))):
            if out[i] == "--retry-failed" and (i + 1 == len(out) or out[i + 1].startswith("-")):
                out.insert(i + 1, RETRY_ALL)
    return out


@app.command(cls=Command)
@with_run_options
def recrawl(
    due: Annotated[
        bool,
        typer.Option(
            "--due", metavar="", help="Only the pages due for a revisit (their next_visit_at)."
        ),
    ] = False,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            metavar="DURATION",
            help=f"Only the pages last checked longer ago than this ({DURATION_EXAMPLES}).",
        ),
    ] = None,
    *,
    run: RunOptions,
) -> None:
    """Revisit the stored pages (all, or --due, or --older-than) with conditional requests:
    unchanged pages are marked checked, changed ones get a new version, their new links are
    crawled, pages now answering 404/410 are recorded as removed. Interrupted: `resume`.

    Runs with the crawl's stored settings (flags override them for this run); no page limit
    unless --max-pages is given."""
    now = datetime.now(UTC)
    before = None
    if older_than is not None:
        before = iso(now - timedelta(seconds=parse_duration(older_than, "--older-than")))
    plan = RevisitPlan(due_at=iso(now) if due else None, checked_before=before)
    flags = dict(run.overrides)
    if flags.get("max_pages") is None:
        flags["max_pages"] = 0
    settings = resume_settings(run.config, run.db, flags)
    run_crawl(settings, run, save_settings=False, revisit=plan)


@app.command(cls=Command)
def reparse(db: DbOpt = None, config: ConfigOpt = None) -> None:
    """Re-run parsing and extraction rules over the bodies kept by --store-html; fetch nothing.

    The rules become the crawl's own only if every stored page had a body to apply them to."""
    summary = asyncio.run(reparse_bodies(resume_settings(config, db, {})))
    typer.echo(reparse_line(summary.pages, summary.skipped))


app.command(cls=Command, name="import")(import_command)

# -- reading what was scraped: query, search, export, stats ----------------------------------


app.command(cls=Command)(bench)


def fail(message: str, exit_code: int) -> NoReturn:
    """Print one ``error:`` line on stderr and exit."""
    first_line = " ".join(message.split())
    typer.echo(f"error: {first_line}", err=True)
    raise SystemExit(exit_code)


_NO_SUCH = re.compile(r"No such option: (\S+)(?: \(Possible options: (.*)\))?")
_INVALID = re.compile(r"Invalid value for '([^']+)'(?: / '[^']+')*: (?:Value error, )?(.*)")
_KINDS = {"integer": "a whole number", "number": "a number", "boolean": "true or false"}


def plain_usage(message: str) -> str:
    """typer's parser errors in plain words, naming the flag: ``--bogus is not an option (did
    you mean --robots?)``, ``--concurrency needs a whole number``."""
    if found := _NO_SUCH.fullmatch(message):
        guess = f" (did you mean {found[2].replace(', ', ' or ')}?)" if found[2] else ""
        return f"{found[1]} is not an option of this command{guess}; see --help"
    if found := _INVALID.fullmatch(message):
        flag, why = found[1], found[2].rstrip(".")
        if kind := re.match(r"Input should be a valid (\w+)", why):
            return f"{flag} needs {_KINDS.get(kind[1], 'a valid ' + kind[1])}"
        return f"{flag}: {why}"
    return message


def main() -> None:
    """Console entry point: run the app, turn every user-facing error into one line."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    debug = os.environ.get("SCRAPER_DEBUG") == "1"
    try:
        args = sql_starting_with_dashes(bare_retry_failed(sys.argv[1:]))
        code = app(args=args, standalone_mode=False)
    except ScraperError as exc:
        if debug:
            raise
        fail(str(exc), exc.exit_code)
    except typer.Abort:
        fail("aborted", 1)
    except KeyboardInterrupt:  # Ctrl-C before the crawl installed its own handler
        fail("interrupted", 130)
    except typer.TyperException as exc:  # bad flags or arguments, from typer's own parser
        fail(plain_usage(exc.format_message()), 2 if exc.exit_code == 1 else exc.exit_code)
    if code == 130:  # typer turns a KeyboardInterrupt (Ctrl-C before a command's own handler)
        fail("interrupted", 130)  # into a silent exit 130
    raise SystemExit(code if isinstance(code, int) else 0)
