"""``scraper import``: web archives (WARC, ARC, WACZ) into a crawl database.

Exit status: 0 when every file was read to its end (notes about what was skipped in it are
``warning:`` lines), 1 when some file could not be read to its end (what precedes the fault is
imported, and a ``warning:`` line says where and why it stopped), 2 for a file that cannot be
opened or is no archive (nothing imported).
"""

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from scraper.cli.options import ConfigOpt, DbOpt, run_settings
from scraper.cli.read import warn
from scraper.crawl import ImportSummary, import_archives
from scraper.importing import FileReport

FilesArg = Annotated[
    list[Path],
    typer.Argument(metavar="FILE", help="WARC, WARC.gz, ARC or WACZ files.", show_default=False),
]


def import_command(
    files: FilesArg,
    db: DbOpt = None,
    config: ConfigOpt = None,
    store_html: Annotated[
        bool | None,
        typer.Option("--store-html", help="Keep each page's body, for `scraper reparse`."),
    ] = None,
) -> None:
    """Import the captures of web archives as pages, through the crawl's parse stage.

    Every response (and revisit, resolved to the response it points at) of an http(s) URL becomes
    a version of its page, fetched at its WARC-Date; links not captured are left pending, so
    `scraper resume` can fetch them and `scraper recrawl` revisit the pages. Exit status 1 when a
    file could not be read to its end (what precedes the fault is imported)."""
    settings, _ = run_settings(config, db, {"store_html": store_html})
    summary = asyncio.run(import_archives(settings, files))
    stopped = False
    for report in summary.files:
        note = file_note(report)
        if note:
            warn(f"{report.name}: {note}")
        stopped = stopped or report.scan.fault is not None
    typer.echo(summary_line(summary))
    if stopped:
        raise typer.Exit(1)


def file_note(r: FileReport) -> str:
    """What was skipped in one file and why, in one line ("" when nothing was)."""
    s = r.scan
    parts = []
    if r.whole_gzip:
        parts.append("its gzip members are not one per record: read as one stream")
    counted = (
        (s.cut_short, "record(s) cut short (imported as far as they go)"),
        (s.bad_digests, "record(s) failing their digest (imported as read)"),
        (s.bad_lengths, "record(s) with a wrong Content-Length"),
        (s.skipped_urls, "capture(s) without a usable target URI or WARC-Date skipped"),
        (r.unresolved, "revisit(s) skipped: the response they point at is in none of the files"),
        (r.not_http, "capture(s) without an HTTP status line skipped"),
        (r.undecoded, "bod(ies) whose Content-Encoding could not be undone, kept as stored"),
    )
    parts += [f"{n} {what}" for n, what in counted if n]
    if s.unread_bytes and s.fault is None:
        parts.append(f"its last {s.unread_bytes} bytes hold no whole record (cut?): skipped")
    if s.fault is not None:
        parts.append(f"stopped after record {s.records}: {s.fault}; the rest skipped")
    return "; ".join(parts)


def summary_line(summary: ImportSummary) -> str:
    captures = sum(r.imported for r in summary.files)
    pending = f"; {summary.pending} links pending (scraper resume fetches them)"
    return (
        f"imported {captures} captures from {len(summary.files)} file(s): "
        f"{summary.pages} page versions written" + (pending if summary.pending else "")
    )
