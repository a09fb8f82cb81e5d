"""The command line: with :mod:`scraper.cli.read`, the only module that prints or exits.

Every user-facing failure is a ScraperError, printed by :func:`main` as one ``error:`` line on
stderr (no traceback unless ``SCRAPER_DEBUG=1``) with its exit code: 2 for usage and bad input,
1 for runtime failures. A finished crawl exits 0 even if some pages failed: failures are data.
"""

import asyncio
import importlib.metadata
import logging
import os
import signal
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, NoReturn

import typer

from scraper import __version__, logs
from scraper.cli import read as cliread
from scraper.cli.benchcmd import bench
from scraper.cli.options import (
    HELP_OPTIONS,
    ConfigOpt,
    DbOpt,
    RunOptions,
    resume_settings,
    run_settings,
    with_run_options,
)
from scraper.cli.read import warn
from scraper.config import Settings
from scraper.crawl import (
    Crawl,
    CrawlStats,
    CrawlSummary,
    RevisitPlan,
    reparse_bodies,
    resume_command,
)
from scraper.errors import Interrupted, InvalidURL, ScraperError, UsageError
from scraper.output import ProgressLine
from scraper.timespec import iso, parse_duration
from scraper.urls import normalize_url

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings=HELP_OPTIONS,
    help="Crawl sites into an SQLite database you can query.",
)
app.add_typer(cliread.app)  # query, search, export, stats, status: at the top level

MOST_REASONS = 3  # failure reasons named in the summary; the rest are counted as "others"


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
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
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


def progress_detail(stats: CrawlStats) -> str:
    """Under the bar: what this run did (revisits of a recrawl; this worker's pages on a shared
    crawl), its failures, what is in flight, and its rate (pages fetched and written)."""
    f, sink = stats.frontier, stats.sink
    done = []
    if stats.revisits is not None:
        done.append(
            f"{stats.checked}/{stats.revisits} checked ({sink.unchanged_written} unchanged, "
            f"{sink.changed_written} changed) · {f.new_pages} new"
        )
    elif stats.crawl_pages is not None:
        done.append(f"{f.new_pages} stored by this worker")
    return " · ".join([
        *done,
        f"{f.failed} failed · {f.blocked} blocked · {stats.in_flight} in flight · "
        f"{f.buffered} queued · {stats.retried} retries · {stats.rate:.1f} pages/s",
    ])  # fmt: skip


def progress_notes(stats: CrawlStats) -> list[str]:
    """The live display's lines under the bar: busiest hosts, then the latest failures."""
    notes = [
        f"  {host}: {queued} queued, {in_flight} in flight, delay {delay:.2f}s"
        for host, queued, in_flight, delay in stats.busiest
    ]
    notes += [f"  ! {reason}: {url}" for url, reason in stats.frontier.recent_failures]
    return notes


def failure_reasons(failures: tuple[tuple[str, int], ...]) -> str:
    """`` (dns_error 3, timeout 2, others 4)``: the most frequent reasons first, or ``""``."""
    named = [f"{reason} {count}" for reason, count in failures[:MOST_REASONS]]
    others = sum(count for _reason, count in failures[MOST_REASONS:])
    return f" ({', '.join(named + ([f'others {others}'] if others else []))})" if named else ""


def summary_line(summary: CrawlSummary) -> str:
    """The crawl's totals (from the store), this run's time and rate (pages it fetched and
    wrote, revisits included); on a shared crawl, what this worker did comes first."""
    pending = "?" if summary.pending is None else summary.pending
    earlier = summary.earlier
    when = "when this worker started" if summary.shared else "before this run"
    stored = f"{summary.pages} pages stored" + (f" ({earlier} {when})" if earlier else "")
    failed = f"{summary.failed} failed{failure_reasons(summary.failures)}"
    timing = f"{summary.elapsed_s:.1f}s ({summary.rate:.1f} pages/s)"
    totals = f"{stored}, {failed}, {summary.blocked} blocked, {pending} pending"
    if not summary.shared:
        return f"{totals}, {timing} -> {summary.db}"
    return (
        f"this worker: {summary.new_pages} pages stored, {summary.run_failed} failed, "
        f"{summary.run_blocked} blocked, {timing}; the crawl: {totals} -> {summary.db}"
    )


def limit_note(summary: CrawlSummary) -> str | None:
    """How to go on when the page limit stopped the crawl with URLs pending (else None)."""
    if not (summary.max_pages and summary.pages >= summary.max_pages and summary.pending):
        return None
    more = summary.pages + summary.max_pages
    return (
        f"the page limit is reached ({summary.pages} pages stored, --max-pages "
        f"{summary.max_pages}) and {summary.pending} URLs are pending; to go on, run: "
        f"{resume_command(summary.db)} --max-pages {more} (0: no limit)"
    )


def progress_plain(stats: CrawlStats) -> str:
    """The progress line written every PROGRESS_EVERY_S without a terminal."""
    line = f"{stats.pages} pages · {progress_detail(stats)}"
    if stats.frontier.recent_failures:
        url, reason = stats.frontier.recent_failures[-1]
        line += f" · last failure: {reason} {url}"
    return line


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
    if note is not None:
        typer.echo(note, err=True)
    if summary.interrupted_by is not None:
        again = resume_command(summary.db) + (" --max-pages 0" if revisit is not None else "")
        raise Interrupted(
            f"interrupted by {summary.interrupted_by}; to continue, run: {again}",
            signal.Signals[summary.interrupted_by],
        )


def revisit_line(summary: CrawlSummary) -> str:
    """What a recrawl did: its revisits (unchanged, changed, removed) and the new pages."""
    changed = summary.changed - summary.removed
    new = f"{summary.new_pages} new page{'' if summary.new_pages == 1 else 's'}"
    return (
        f"recrawl: {summary.checked} of {summary.revisits} scheduled pages checked "
        f"({summary.unchanged} unchanged, {changed} changed, {summary.removed} removed), {new}"
    )


def no_pending(summary: CrawlSummary) -> str:
    return f"{summary.db} has no pending URL ({summary.pages} pages)"


@app.command()
@with_run_options
def crawl(
    urls: Annotated[list[str] | None, typer.Argument(help="Seed URLs.", show_default=False)] = None,
    input_file: Annotated[
        str | None,
        typer.Option("--input", "-i", help="File of seed URLs, one per line ('-' for stdin)."),
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


@app.command()
@with_run_options
def resume(*, run: RunOptions) -> None:
    """Continue the crawl stored in a database, with its stored settings.

    Flags and --config override them for this run only: the stored settings are kept."""
    settings = resume_settings(run.config, run.db, run.overrides)
    run_crawl(settings, run, save_settings=False)


@app.command()
@with_run_options
def recrawl(
    due: Annotated[
        bool, typer.Option("--due", help="Only the pages due for a revisit (their next_visit_at).")
    ] = False,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            metavar="DURATION",
            help="Only the pages last checked longer ago than this (90m, 6h, 2d, 1w).",
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


@app.command()
def reparse(db: DbOpt = None, config: ConfigOpt = None) -> None:
    """Re-run parsing and extraction rules over stored bodies (--store-html); fetch nothing.

    The rules become the crawl's own only if every stored page had a body to apply them to."""
    summary = asyncio.run(reparse_bodies(resume_settings(config, db, {})))
    typer.echo(reparse_line(summary.pages, summary.skipped))


def reparse_line(pages: int, skipped: int) -> str:
    """What reparse did; pages without a stored body name the flag that keeps bodies, and that
    the crawl's stored settings were kept for them."""
    if not skipped:
        return f"reparsed {pages} pages"
    kept = (
        "; the crawl's stored settings and [extract] rules are unchanged, since those pages "
        "keep the fields of the rules they were crawled with"
    )
    if not pages:
        return (
            f"reparsed 0 pages: {skipped} pages have no stored body "
            f"(crawl with --store-html to keep bodies){kept}"
        )
    return (
        f"reparsed {pages} pages with the new rules; {skipped} pages have no stored body "
        f"(crawled without --store-html){kept}"
    )


# -- reading what was scraped: query, search, export, stats ----------------------------------


app.command()(bench)


def fail(message: str, exit_code: int) -> NoReturn:
    """Print one ``error:`` line on stderr and exit."""
    first_line = " ".join(message.split())
    typer.echo(f"error: {first_line}", err=True)
    raise SystemExit(exit_code)


def main() -> None:
    """Console entry point: run the app, turn every user-facing error into one line."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    debug = os.environ.get("SCRAPER_DEBUG") == "1"
    try:
        code = app(standalone_mode=False)
    except ScraperError as exc:
        if debug:
            raise
        fail(str(exc), exc.exit_code)
    except typer.Abort:
        fail("aborted", 1)
    except KeyboardInterrupt:  # Ctrl-C before the crawl installed its own handler
        fail("interrupted", 130)
    except typer.TyperException as exc:  # bad flags or arguments, from typer's own parser
        fail(exc.format_message(), 2 if exc.exit_code == 1 else exc.exit_code)
    if code == 130:  # typer turns a KeyboardInterrupt (Ctrl-C before a command's own handler)
        fail("interrupted", 130)  # into a silent exit 130
    raise SystemExit(code if isinstance(code, int) else 0)
