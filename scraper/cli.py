"""The command line: the only module that prints or exits.

Every user-facing failure is a ScraperError, printed by :func:`main` as one ``error:`` line on
stderr (no traceback unless ``SCRAPER_DEBUG=1``) with its exit code: 2 for usage and bad input,
1 for runtime failures. A finished crawl exits 0 even if some pages failed: failures are data.
"""

import asyncio
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from scraper.config import load_settings
from scraper.errors import InvalidURL, ScraperError, UsageError
from scraper.models import Scope
from scraper.orchestrator import Crawl, CrawlStats, CrawlSummary
from scraper.output import ProgressLine
from scraper.urls import normalize_url

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Crawl sites into an SQLite database you can query.",
)

EXIT_FOR_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}


@app.callback()
def _root() -> None:
    """Crawl sites into an SQLite database you can query."""


def warn(message: str) -> None:
    typer.echo(f"warning: {message}", err=True)


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
    rate = f.pages / stats.elapsed_s if stats.elapsed_s > 0 else 0.0
    return (
        f"{f.failed} failed · {f.blocked} blocked · {stats.in_flight} in flight · "
        f"{f.buffered} queued · {stats.retried} retries · {rate:.1f} pages/s"
    )


def summary_line(summary: CrawlSummary) -> str:
    rate = summary.pages / summary.elapsed_s if summary.elapsed_s > 0 else 0.0
    return (
        f"{summary.pages} pages stored, {summary.failed} failed, {summary.blocked} blocked, "
        f"{summary.pending} pending, "
        f"{summary.elapsed_s:.1f}s ({rate:.1f} pages/s) -> {summary.db}"
    )


@app.command()
def crawl(
    urls: Annotated[list[str] | None, typer.Argument(help="Seed URLs.", show_default=False)] = None,
    input_file: Annotated[
        str | None,
        typer.Option("--input", "-i", help="File of seed URLs, one per line ('-' for stdin)."),
    ] = None,
    db: Annotated[
        str | None, typer.Option(help="SQLite database [default: data/scraper.db].")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="TOML settings file.")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight in all.")] = None,
    per_host: Annotated[int | None, typer.Option(help="Requests in flight to one host.")] = None,
    delay: Annotated[
        float | None, typer.Option(help="Seconds between request starts to one host.")
    ] = None,
    max_pages: Annotated[
        int | None, typer.Option(help="Stop after this many pages (0: no limit).")
    ] = None,
    max_depth: Annotated[
        int | None, typer.Option(help="Follow links this deep from a seed.")
    ] = None,
    scope: Annotated[Scope | None, typer.Option(help="Which links to follow.")] = None,
    allow: Annotated[
        list[str] | None, typer.Option(help="Only follow URLs matching REGEX.")
    ] = None,
    deny: Annotated[
        list[str] | None, typer.Option(help="Never follow URLs matching REGEX.")
    ] = None,
    user_agent: Annotated[str | None, typer.Option(help="User-Agent header.")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds for one request.")] = None,
    retries: Annotated[int | None, typer.Option(help="Retries after a transient failure.")] = None,
    robots: Annotated[
        bool | None,
        typer.Option("--robots/--no-robots", help="Obey robots.txt.", show_default=False),
    ] = None,
    allow_private: Annotated[
        bool | None,
        typer.Option(
            "--allow-private/--no-allow-private",
            help="Follow links to loopback and private addresses.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Crawl from seed URLs into an SQLite database."""
    seeds = collect_seeds(urls or [], input_file)
    settings = load_settings(
        config,
        seeds=seeds,
        db=db,
        concurrency=concurrency,
        per_host=per_host,
        delay_s=delay,
        max_pages=max_pages,
        max_depth=max_depth,
        scope=scope,
        allow=tuple(allow) if allow else None,
        deny=tuple(deny) if deny else None,
        user_agent=user_agent,
        timeout_s=timeout,
        retries=retries,
        robots=robots,
        allow_private=allow_private,
    )
    with ProgressLine(settings.max_pages or None) as progress:

        def on_progress(stats: CrawlStats) -> None:
            progress.update(stats.frontier.pages, progress_detail(stats))

        summary = asyncio.run(Crawl(settings, on_progress if progress.enabled else None).run())
    typer.echo(summary_line(summary))
    if summary.interrupted_by is not None:
        typer.echo(
            f"interrupted by {summary.interrupted_by}; run the same command again to continue",
            err=True,
        )
        raise typer.Exit(EXIT_FOR_SIGNAL.get(summary.interrupted_by, 1))


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
    except typer.TyperException as exc:  # bad flags or arguments, from typer's own parser
        fail(exc.format_message(), 2 if exc.exit_code == 1 else exc.exit_code)
    raise SystemExit(code if isinstance(code, int) else 0)
