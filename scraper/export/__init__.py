"""Exports of a crawl's main content (issue 26): one Markdown file per page with YAML front
matter (:mod:`.markdown`), and the chunks as rows, whole or as the delta since a time
(:mod:`.chunks`), and an llms.txt per host (:mod:`.llms`); the ``--archive`` captures as WARC
1.1 files (:mod:`.warc`, issue 30). Over the read store: they write
nothing to the database."""

from scraper.export.chunks import export_chunks
from scraper.export.llms import export_llms_txt
from scraper.export.markdown import export_markdown, markdown_path
from scraper.export.warc import WarcExport, export_warc

__all__ = [
    "WarcExport",
    "export_chunks",
    "export_llms_txt",
    "export_markdown",
    "export_warc",
    "markdown_path",
]
