"""The read commands of the command line: query, search, export, stats, status.

They open the database read-only (``scraper.query`` and the storage layer's reader); the app
adds them at the top level and runs them through its ``main`` (one-line errors, exit codes).
"""

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Annotated

import typer

from scraper.cli.archive import DEFAULT_MAX_SIZE, export_archive
from scraper.cli.content import DIRECTORY_FORMATS, export_content
from scraper.cli.options import HELP_OPTIONS, Command, DbOpt, shown_default
from scraper.config import Settings
from scraper.crawl import read_status, render_text
from scraper.output import HIGHLIGHT, clear_screen, print_table
from scraper.query import (
    SNIPPET_MARKERS,
    ExportFormat,
    OutputFormat,
    export_file,
    first_rows,
    page_changes,
    read_counts,
    search_pages,
    sections_text,
    select_rows,
    stats_json,
    stats_sections,
    write_rows,
)
from scraper.storage import Rows, is_postgres
from scraper.timespec import iso, parse_time

app = typer.Typer(context_settings=HELP_OPTIONS, rich_markup_mode=None)


def warn(message: str) -> None:
    typer.echo(f"warning: {message}", err=True)


TABLE_MAX_ROWS = 1000  # a terminal table shows at most this many rows (json/jsonl/csv: all)
FormatOpt = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format",
        "-f",
        help="Output format." + shown_default("table on a terminal, else jsonl"),
        show_default=False,
    ),
]


def db_address(db: str | None) -> str | Path:
    """--db (else the default): a PostgreSQL URL as given, else an SQLite file's path."""
    address = db or Settings().db
    return address if is_postgres(address) else Path(address)


def chosen_format(fmt: OutputFormat | None) -> OutputFormat:
    return fmt or (OutputFormat.TABLE if sys.stdout.isatty() else OutputFormat.JSONL)


@contextlib.contextmanager
def quiet_broken_pipe() -> Iterator[None]:
    """A reader that went away (`| head`) ends the output quietly, exit 141 like SIGPIPE."""
    try:
        yield
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
        raise typer.Exit(141) from None


async def show_rows(
    result: AbstractAsyncContextManager[Rows],
    fmt: OutputFormat,
    markers: tuple[str, str] | None = None,
) -> None:
    """Print a result as a table (the first TABLE_MAX_ROWS rows) or stream it in ``fmt``."""
    async with result as rows:
        if fmt != OutputFormat.TABLE:
            await write_rows(rows, fmt, sys.stdout.buffer)
            return
        shown, more = await first_rows(rows, TABLE_MAX_ROWS)
    print_table(rows.columns, shown, markers=markers)
    if more:
        warn(f"showing the first {TABLE_MAX_ROWS} rows; --format jsonl or csv writes them all")


@app.command(cls=Command)
def query(
    sql: Annotated[
        str, typer.Argument(metavar="SQL", help="One SQL statement.", show_default=False)
    ],
    db: DbOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Run one SQL statement on the database, read-only (writes are refused)."""
    with quiet_broken_pipe():
        asyncio.run(show_rows(select_rows(db_address(db), sql), chosen_format(fmt)))


@app.command(cls=Command)
def search(
    terms: Annotated[
        list[str], typer.Argument(metavar="WORDS", help="Words to find.", show_default=False)
    ],
    db: DbOpt = None,
    limit: Annotated[
        int,
        typer.Option("--limit", "-n", min=0, metavar="N", help="At most this many pages (0: all)."),
    ] = 20,
    raw: Annotated[
        bool,
        typer.Option(
            "--raw",
            metavar="",
            help="TERMS are the database's query syntax: FTS5 on SQLite (OR, NOT, title:...), "
            'websearch_to_tsquery on PostgreSQL ("a phrase", or, -word).',
        ),
    ] = False,
    fmt: FormatOpt = None,
) -> None:
    """Full-text search of titles and text: pages with all the words, best match first."""
    fmt = chosen_format(fmt)
    markers = HIGHLIGHT if fmt == OutputFormat.TABLE else SNIPPET_MARKERS
    found = search_pages(db_address(db), terms, limit=limit, raw=raw, markers=markers)
    with quiet_broken_pipe():
        asyncio.run(show_rows(found, fmt, markers))


@app.command(cls=Command)
def export(
    fmt: Annotated[
        ExportFormat,
        typer.Option(
            "--format", "-f", help="Output format." + shown_default("jsonl"), show_default=False
        ),
    ] = ExportFormat.JSONL,
    db: DbOpt = None,
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", metavar="FILE", help="File to write ('-': standard output)."
        ),
    ] = "-",
    changed_since: Annotated[
        str | None,
        typer.Option(
            "--changed-since",
            metavar="TIME",
            help="Only pages new or changed since TIME (2026-03-03, 2026-03-03T10:00, 6h, 2d).",
        ),
    ] = None,
    # -- main content (issue 26): -f markdown -o DIR, --chunks -----------------------------
    chunks: Annotated[
        bool,
        typer.Option(
            "--chunks",
            help="One row per chunk of the pages' main content (-f jsonl or csv); with "
            "--changed-since: the new or changed chunks and the ids of those gone.",
        ),
    ] = False,
    max_size: Annotated[
        str,
        typer.Option(
            "--max-size", metavar="SIZE", help="-f warc: start a new file past SIZE (500MB, 1GB)."
        ),
    ] = DEFAULT_MAX_SIZE,
) -> None:
    """Write every stored page, all columns, as JSON Lines or CSV (streamed); with -f markdown,
    one Markdown file per page in the directory -o (-f llms-txt: and an llms.txt per host); with
    --chunks, the chunks; with -f warc, the --archive captures as WARC files."""
    target = None if output == "-" else Path(output)
    since = None if changed_since is None else iso(parse_time(changed_since, "--changed-since"))
    if fmt == ExportFormat.WARC:
        export_archive(db_address(db), output, since, max_size)
        return
    if chunks or fmt in DIRECTORY_FORMATS:
        with quiet_broken_pipe():
            export_content(db_address(db), fmt, output, since, chunks)
        return
    with quiet_broken_pipe():
        asyncio.run(export_file(db_address(db), fmt, target, sys.stdout.buffer, since))


@app.command(cls=Command)
def changes(
    since: Annotated[
        str,
        typer.Option(
            "--since",
            metavar="TIME",
            help="From TIME on (2026-03-03, 2026-03-03T10:00, 6h, 2d).",
            show_default=False,
        ),
    ],
    db: DbOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Pages new, changed or removed since TIME (url, change, at), oldest first."""
    rows = page_changes(db_address(db), iso(parse_time(since, "--since")))
    with quiet_broken_pipe():
        asyncio.run(show_rows(rows, chosen_format(fmt)))


@app.command(cls=Command)
def stats(
    db: DbOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", metavar="", help="Print one JSON object.")
    ] = False,
) -> None:
    """The crawl in numbers: pages by status, host and type; frontier; failures; speed."""
    counts = asyncio.run(read_counts(db_address(db)))
    if as_json:
        typer.echo(json.dumps(stats_json(counts), indent=2))
    elif sys.stdout.isatty():
        for section in stats_sections(counts):
            print_table(section.columns, section.rows, title=section.title)
    else:
        typer.echo(sections_text(stats_sections(counts)), nl=False)


@app.command(cls=Command)
def status(
    db: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="One JSON object.")] = False,
    watch: Annotated[
        bool, typer.Option("--watch", metavar="", help="Refresh every second.")
    ] = False,
    tasks: Annotated[
        bool,
        typer.Option("--tasks", "-v", metavar="", help="Also list every task and where it waits."),
    ] = False,
) -> None:
    """Is a crawl running on the database, and what is it doing (from any other process)."""
    address = db_address(db)
    while True:
        report = asyncio.run(read_status(address))
        text = report.to_json() if as_json else render_text(report, tasks=tasks)
        if watch and not as_json:
            clear_screen()
        typer.echo(text)
        if not watch:
            return
        time.sleep(1.0)  # the CLI's own loop, outside any event loop; Ctrl-C ends it
