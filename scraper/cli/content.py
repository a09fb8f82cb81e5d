"""``scraper export``'s main-content forms (issue 26): ``-f markdown -o DIR`` (a file per page)
and ``-f llms-txt -o DIR`` (the same and an llms.txt per host), ``--chunks -f jsonl|csv`` (a row per
chunk), all with ``--changed-since``."""

import asyncio
import sys
from pathlib import Path

from scraper.errors import ScraperError, UsageError
from scraper.export import export_chunks, export_llms_txt, export_markdown
from scraper.query import ExportFormat, write_rows

DIRECTORY_FORMATS = frozenset({ExportFormat.MARKDOWN, ExportFormat.LLMS_TXT})


def export_content(
    db: str | Path, fmt: ExportFormat, output: str, since: str | None, chunks: bool
) -> None:
    """Run the export ``fmt`` and ``chunks`` name; errors as UsageError or ScraperError."""
    if chunks:
        if fmt in DIRECTORY_FORMATS:
            raise UsageError("--chunks writes rows: use -f jsonl or -f csv")
        asyncio.run(_chunks(db, fmt, None if output == "-" else Path(output), since))
    elif output == "-":
        raise UsageError(f"-f {fmt} writes a directory of files: give it with -o DIR")
    elif fmt == ExportFormat.LLMS_TXT:
        count = asyncio.run(export_llms_txt(db, Path(output), since))
        print(f"wrote the llms.txt of {count} hosts to {output}", file=sys.stderr)
    else:
        count = asyncio.run(export_markdown(db, Path(output), since))
        print(f"wrote {count} pages to {output}", file=sys.stderr)


async def _chunks(
    db: str | Path, fmt: ExportFormat, output: Path | None, since: str | None
) -> None:
    async with export_chunks(db, since) as rows:
        if output is None:
            await write_rows(rows, fmt, sys.stdout.buffer)
            return
        try:
            with output.open("wb") as out:
                await write_rows(rows, fmt, out)
        except OSError as exc:
            raise ScraperError(f"cannot write {output}: {exc.strerror or exc}") from None
