"""The command line: with :mod:`scraper.cliread`, the only module that prints or exits.

Every user-facing failure is a ScraperError, printed by :func:`main` as one ``error:`` line on
stderr (no traceback unless ``SCRAPER_DEBUG=1``) with its exit code: 2 for usage and bad input,
1 for runtime failures. A finished crawl exits 0 even if some pages failed: failures are data.
"""

import asyncio
import functools
import logging
import os
import shlex
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from scraper import cliread, logs
from scraper.bench import report_lines, run_bench
from scraper.benchfrontier import report_lines as frontier_report
from scraper.benchfrontier import run_frontier_bench
from scraper.cliread import DbOpt, db_path, warn
from scraper.config import Settings, load_settings
from scraper.errors import InvalidURL, ScraperError, UsageError
from scraper.logs import LogFormat
from scraper.models import Scope
from scraper.orchestrator import (
    Crawl,
    CrawlStats,
    CrawlSummary,
    stored_settings,
)
from scraper.output import ProgressLine
from scraper.reparse import reparse_bodies
from scraper.urls import normalize_url

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Crawl sites into an SQLite database you can query.",
)
app.add_typer(cliread.app)  # query, search, export, stats, status: at the top level

EXIT_FOR_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}


@app.callback()
def _root() -> None:
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
    f = stats.frontier
    rate = f.new_pages / stats.elapsed_s if stats.elapsed_s > 0 else 0.0
    return (
        f"{f.failed} failed · {f.blocked} blocked · {stats.in_flight} in flight · "
        f"{f.buffered} queued · {stats.retried} retries · {rate:.1f} pages/s"
    )


def progress_notes(stats: CrawlStats) -> list[str]:
    """The live display's lines under the bar: busiest hosts, then the latest failures."""
    notes = [
        f"  {host}: {queued} queued, {in_flight} in flight, delay {delay:.2f}s"
        for host, queued, in_flight, delay in stats.busiest
    ]
    notes += [f"  ! {reason}: {url}" for url, reason in stats.frontier.recent_failures]
    return notes


def summary_line(summary: CrawlSummary) -> str:
    rate = summary.new_pages / summary.elapsed_s if summary.elapsed_s > 0 else 0.0
    pending = "?" if summary.pending is None else summary.pending
    earlier = summary.pages - summary.new_pages
    stored = f"{summary.pages} pages stored" + (f" ({earlier} before this run)" if earlier else "")
    return (
        f"{stored}, {summary.failed} failed, {summary.blocked} blocked, {pending} pending, "
        f"{summary.elapsed_s:.1f}s ({rate:.1f} pages/s) -> {summary.db}"
    )


# Options shared by `crawl` and `resume` (resume: they override the stored settings, this run).
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]
ConcurrencyOpt = Annotated[
    int | None, typer.Option("--concurrency", help="Requests in flight in all.")
]
PerHostOpt = Annotated[
    int | None, typer.Option("--per-host", help="Requests in flight to one host.")
]
DelayOpt = Annotated[
    float | None, typer.Option("--delay", help="Seconds between request starts to one host.")
]
MaxPagesOpt = Annotated[
    int | None, typer.Option("--max-pages", help="Stop after this many pages (0: no limit).")
]
MaxDepthOpt = Annotated[
    int | None, typer.Option("--max-depth", help="Follow links this deep from a seed.")
]
ScopeOpt = Annotated[Scope | None, typer.Option("--scope", help="Which links to follow.")]
AllowOpt = Annotated[
    list[str] | None, typer.Option("--allow", help="Only follow URLs matching REGEX.")
]
DenyOpt = Annotated[
    list[str] | None, typer.Option("--deny", help="Never follow URLs matching REGEX.")
]
UserAgentOpt = Annotated[str | None, typer.Option("--user-agent", help="User-Agent header.")]
TimeoutOpt = Annotated[float | None, typer.Option("--timeout", help="Seconds for one request.")]
RetriesOpt = Annotated[
    int | None, typer.Option("--retries", help="Retries after a transient failure.")
]
RobotsOpt = Annotated[
    bool | None,
    typer.Option("--robots/--no-robots", help="Obey robots.txt.", show_default=False),
]
StoreHtmlOpt = Annotated[
    bool | None,
    typer.Option(
        "--store-html/--no-store-html",
        help="Keep raw bodies (compressed) for `scraper reparse`.",
        show_default=False,
    ),
]
AllowPrivateOpt = Annotated[
    bool | None,
    typer.Option(
        "--allow-private/--no-allow-private",
        help="Follow links to loopback and private addresses.",
        show_default=False,
    ),
]


DebugOpt = Annotated[
    bool, typer.Option("--debug", help="asyncio debug mode, slow callbacks and full errors logged.")
]
LogFileOpt = Annotated[
    Path | None, typer.Option("--log-file", help="Write a record per page, retry and failure.")
]
LogFormatOpt = Annotated[LogFormat, typer.Option("--log-format", help="Format of --log-file.")]
PROGRESS_EVERY_S = 5.0  # without a terminal, a plain progress line this often


def flag_overrides(**flags: object) -> dict[str, object]:
    """CLI flag values under their Settings names (None: not given)."""
    renamed = {"delay": "delay_s", "timeout": "timeout_s"}
    values = {renamed.get(name, name): value for name, value in flags.items()}
    for name in ("allow", "deny"):
        values[name] = tuple(values[name]) if values.get(name) else None  # type: ignore[arg-type]
    return values


def run_crawl(
    settings: Settings,
    *,
    save_settings: bool = True,
    debug: bool = False,
    log_file: Path | None = None,
    log_format: LogFormat = LogFormat.TEXT,
) -> None:
    """Run a crawl with a progress display; print its summary; exit 130/143 after a signal."""
    logs.configure(debug=debug, log_file=log_file, log_format=log_format)
    with ProgressLine(settings.max_pages or None) as progress:
        shown_at = 0.0

        def on_progress(stats: CrawlStats) -> None:
            nonlocal shown_at
            if progress.enabled:
                progress.update(stats.frontier.pages, progress_detail(stats), progress_notes(stats))
            elif stats.elapsed_s - shown_at >= PROGRESS_EVERY_S:
                shown_at = stats.elapsed_s
                typer.echo(f"{stats.frontier.pages} pages · {progress_detail(stats)}", err=True)

        crawl = Crawl(settings, on_progress, save_settings=save_settings)
        summary = asyncio.run(crawl.run(), debug=debug)
    if summary.nothing_to_do:
        typer.echo(f"nothing to do: {summary.db} has no pending URL ({summary.pages} pages)")
        return
    typer.echo(summary_line(summary))
    if summary.interrupted_by is not None:
        typer.echo(
            f"interrupted by {summary.interrupted_by}; to continue, run: "
            f"scraper resume --db {shlex.quote(str(summary.db))}",
            err=True,
        )
        raise typer.Exit(EXIT_FOR_SIGNAL.get(summary.interrupted_by, 1))


@app.command()
def crawl(
    urls: Annotated[list[str] | None, typer.Argument(help="Seed URLs.", show_default=False)] = None,
    input_file: Annotated[
        str | None,
        typer.Option("--input", "-i", help="File of seed URLs, one per line ('-' for stdin)."),
    ] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
    concurrency: ConcurrencyOpt = None,
    per_host: PerHostOpt = None,
    delay: DelayOpt = None,
    max_pages: MaxPagesOpt = None,
    max_depth: MaxDepthOpt = None,
    scope: ScopeOpt = None,
    allow: AllowOpt = None,
    deny: DenyOpt = None,
    user_agent: UserAgentOpt = None,
    timeout: TimeoutOpt = None,
    retries: RetriesOpt = None,
    robots: RobotsOpt = None,
    allow_private: AllowPrivateOpt = None,
    store_html: StoreHtmlOpt = None,
    debug: DebugOpt = False,
    log_file: LogFileOpt = None,
    log_format: LogFormatOpt = LogFormat.TEXT,
) -> None:
    """Crawl from seed URLs into an SQLite database (an existing crawl there goes on too)."""
    seeds = collect_seeds(urls or [], input_file)
    flags = flag_overrides(**{k: v for k, v in locals().items() if k not in NOT_FLAGS})
    settings = load_settings(config, None, seeds=seeds, db=db, **flags)
    run_crawl(settings, debug=debug, log_file=log_file, log_format=log_format)


@app.command()
def resume(
    db: DbOpt = None,
    config: ConfigOpt = None,
    concurrency: ConcurrencyOpt = None,
    per_host: PerHostOpt = None,
    delay: DelayOpt = None,
    max_pages: MaxPagesOpt = None,
    max_depth: MaxDepthOpt = None,
    scope: ScopeOpt = None,
    allow: AllowOpt = None,
    deny: DenyOpt = None,
    user_agent: UserAgentOpt = None,
    timeout: TimeoutOpt = None,
    retries: RetriesOpt = None,
    robots: RobotsOpt = None,
    allow_private: AllowPrivateOpt = None,
    store_html: StoreHtmlOpt = None,
    debug: DebugOpt = False,
    log_file: LogFileOpt = None,
    log_format: LogFormatOpt = LogFormat.TEXT,
) -> None:
    """Continue the crawl stored in a database, with its settings (flags override them)."""
    flags = flag_overrides(**{k: v for k, v in locals().items() if k not in NOT_FLAGS})
    stored = asyncio.run(stored_settings(db_path(db)))
    settings = load_settings(config, base=stored, **flags)
    run_crawl(settings, save_settings=False, debug=debug, log_file=log_file, log_format=log_format)


@app.command()
def reparse(db: DbOpt = None, config: ConfigOpt = None) -> None:
    """Re-run parsing and extraction rules over stored bodies (--store-html); fetch nothing."""
    path = db_path(db)
    stored = asyncio.run(stored_settings(path))
    settings = load_settings(config, base=stored)
    summary = asyncio.run(reparse_bodies(settings))
    typer.echo(f"reparsed {summary.pages} pages ({summary.skipped} without a stored body)")


# -- reading what was scraped: query, search, export, stats ----------------------------------


@app.command()
def bench(
    pages: Annotated[
        int, typer.Option("--pages", min=1, help="Pages of the generated site.")
    ] = 2000,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Requests in flight, crawl and raw.")
    ] = 32,
    scrapy: Annotated[
        str | None,
        typer.Option(
            "--scrapy",
            metavar="PYTHON",
            help="Also crawl the site with Scrapy, "
            "run by this interpreter (one that can import scrapy).",
        ),
    ] = None,
    frontier_urls: Annotated[
        int | None,
        typer.Option(
            "--frontier-urls",
            min=2,
            help="Instead: peak RSS of two crawls of --pages "
            "pages, their frontiers ending at --pages URLs and at this many.",
        ),
    ] = None,
) -> None:
    """Crawl a generated local site and fetch its URLs raw; print pages/s, CPU and memory."""
    note = functools.partial(typer.echo, err=True)
    if frontier_urls is not None:
        lines = frontier_report(run_frontier_bench(pages, pages, frontier_urls, note))
    else:
        lines = report_lines(run_bench(pages, concurrency, note, scrapy_python=scrapy))
    for line in lines:
        typer.echo(line)


NOT_FLAGS = frozenset(
    {"urls", "input_file", "db", "config", "seeds", "flags", "debug", "log_file", "log_format"}
)


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
    raise SystemExit(code if isinstance(code, int) else 0)
