"""``export -f llms-txt -o DIR``: the Markdown files of ``export -f markdown``, and per host an
``llms.txt`` (llmstxt.org): the site's title (its home page's, else the host), its home page's
description as the summary, and a list of its pages linking to their Markdown files."""

import asyncio
from collections import defaultdict
from pathlib import Path, PurePosixPath

from scraper.errors import ScraperError
from scraper.export.markdown import export_markdown, markdown_path, sql_literal
from scraper.storage import open_read_store

_PAGES = (
    "SELECT p.url, p.title, p.description FROM pages AS p JOIN pages_markdown AS m ON m.url = p.url"
)

Page = tuple[str, str | None, str | None]


def _line(text: str) -> str:
    return " ".join(text.split())


def llms_txt(host: str, pages: list[Page]) -> str:
    """The llms.txt of one host's ``pages`` (url, title, description), in URL order."""
    home = next((p for p in pages if markdown_path(p[0]).name == "index.md"
                 and len(markdown_path(p[0]).parts) == 2), None)  # fmt: skip
    title = _line(home[1]) if home and home[1] else host
    out = [f"# {title}", ""]
    if home and home[2]:
        out += [f"> {_line(home[2])}", ""]
    out += ["## Pages", ""]
    for url, page_title, description in pages:
        link = PurePosixPath(*markdown_path(url).parts[1:]).as_posix()
        text = _line(page_title).replace("]", "\\]") if page_title else url
        out.append(f"- [{text}]({link})" + (f": {_line(description)}" if description else ""))
    return "\n".join(out) + "\n"


def _write(directory: Path, by_host: dict[str, list[Page]]) -> None:
    for pages in by_host.values():
        host_dir = directory / markdown_path(pages[0][0]).parts[0]
        host_dir.mkdir(parents=True, exist_ok=True)
        (host_dir / "llms.txt").write_text(llms_txt(host_dir.name, pages), encoding="utf-8")


async def export_llms_txt(db: str | Path, directory: Path, changed_since: str | None) -> int:
    """Write the Markdown files and each host's llms.txt; returns how many hosts."""
    await export_markdown(db, directory, changed_since)
    by_host: dict[str, list[Page]] = defaultdict(list)
    sql = _PAGES + (f" WHERE p.changed_at >= {sql_literal(changed_since)}" if changed_since else "")
    async with open_read_store(db) as store, store.rows(sql + " ORDER BY p.url") as rows:
        while batch := await rows.fetch():
            for url, title, description in batch:
                page = (str(url), _text(title), _text(description))
                by_host[markdown_path(page[0]).parts[0]].append(page)
    try:
        await asyncio.to_thread(_write, directory, by_host)
    except OSError as exc:
        raise ScraperError(f"cannot write in {directory}: {exc.strerror or exc}") from None
    return len(by_host)


def _text(value: object) -> str | None:
    return None if value is None else str(value)
