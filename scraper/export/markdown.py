"""``export -f markdown -o DIR``: each page's latest main content as ``DIR/HOST/PATH.md``, with
YAML front matter (url, title, fetched_at, changed_at)."""

import asyncio
import hashlib
import json
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from scraper.errors import ScraperError
from scraper.storage import open_read_store

_PAGES = (
    "SELECT p.url, p.title, p.fetched_at, p.changed_at, m.markdown "
    "FROM pages AS p JOIN pages_markdown AS m ON m.url = p.url"
)
_UNSAFE = str.maketrans(dict.fromkeys(':*?"<>|\\', "_"))


def sql_literal(text: str) -> str:
    """``text`` as an SQL string literal (both backends)."""
    return "'" + text.replace("'", "''") + "'"


def markdown_path(url: str) -> PurePosixPath:
    """Where a page's file goes under the export directory: its host (``:`` of a port as
    ``_``), then its path, ``index.md`` for a directory; a query adds a hash of it to the name
    so that ``?page=2`` is its own file."""
    parts = urlsplit(url)
    segments = [s.translate(_UNSAFE) for s in parts.path.split("/") if s not in ("", ".", "..")]
    name = segments.pop() if segments and not parts.path.endswith("/") else "index"
    name = name.removesuffix(".html").removesuffix(".htm") or "index"
    if parts.query:
        name += "_" + hashlib.blake2b(parts.query.encode(), digest_size=4).hexdigest()
    host = parts.netloc.rsplit("@", 1)[-1].translate(_UNSAFE) or "_"
    return PurePosixPath(host, *segments, name + ".md")


def front_matter(url: str, title: str | None, fetched_at: object, changed_at: object) -> str:
    """YAML front matter: each value a JSON string (valid YAML) or null; times in ISO-8601
    (PostgreSQL's rows hold datetimes)."""

    def when(moment: object) -> str | None:
        return None if moment is None else str(moment).replace(" ", "T", 1)

    fields = {"url": url, "title": title, "fetched_at": when(fetched_at),
              "changed_at": when(changed_at)}  # fmt: skip
    lines = [f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in fields.items()]
    return "---\n" + "\n".join(lines) + "\n---\n\n"


def _write(directory: Path, rows: list[tuple[object, ...]]) -> None:
    for url, title, fetched_at, changed_at, markdown in rows:
        path = directory / markdown_path(str(url))
        path.parent.mkdir(parents=True, exist_ok=True)
        head = front_matter(str(url), None if title is None else str(title), fetched_at, changed_at)
        path.write_text(head + str(markdown) + "\n", encoding="utf-8")


async def export_markdown(db: str | Path, directory: Path, changed_since: str | None) -> int:
    """Write the pages' files (``changed_since``: only the pages changed since then); returns
    how many were written."""
    sql = _PAGES + (f" WHERE p.changed_at >= {sql_literal(changed_since)}" if changed_since else "")
    written = 0
    async with open_read_store(db) as store, store.rows(sql + " ORDER BY p.url") as rows:
        while batch := await rows.fetch():
            try:
                await asyncio.to_thread(_write, directory, [tuple(r) for r in batch])
            except OSError as exc:
                raise ScraperError(f"cannot write in {directory}: {exc.strerror or exc}") from None
            written += len(batch)
    return written
