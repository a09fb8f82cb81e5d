"""Reading web archives for ``scraper import``: WARC (1.0, 1.1, 0.17, 0.18) and ARC files, plain
or gzipped one member per record, and WACZ; captures listed first (``reader``), then read back
in fetch-time order as the crawl's fetch results (``archive``, ``captures``). The only user of
warcio. The crawl feeds what it reads to its parse stage and sink (``crawl.imports``)."""

from scraper.importing.archive import CaptureReader, FileReport, Survey, survey
from scraper.importing.reader import Entry

__all__ = ["CaptureReader", "Entry", "FileReport", "Survey", "survey"]
